/*
 * jpki: one binary, `jpki <area> <verb>`. Global options come before the
 * area and apply to every verb.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cli/cli.h"

#define JPKI_VERSION "0.1.0"

static void usage(FILE *f)
{
	fputs("usage: jpki [global options] <area> <verb> [options]\n"
	      "\n"
	      "OpenJPKI: Japan's Public Personal Authentication Service\n"
	      "(公的個人認証サービス) as open software.\n"
	      "\n"
	      "areas:\n"
	      "  ca      the certification authority (init, issue, renew,\n"
	      "          revoke, hold, release, status, list, links, crl,\n"
	      "          show, cert); 'jpki ca --help' for details\n"
	      "  registry the resident register (register, move, name,\n"
	      "          death, ...); 'jpki registry --help'\n"
	      "  window  the municipality window (apply, issue, renew,\n"
	      "          pin-reset, report, ...); 'jpki window --help'\n"
	      "  services the registry's services: agencies and their\n"
	      "          look-ups; 'jpki services --help'\n"
	      "  operator operators and their roles (add, disable, enable, "
	      "unlock,\n"
	      "           password, sessions)\n"
	      "  audit   the audit chain (verify, show)\n"
	      "  oidc    OpenID Connect relying parties (client add, list,\n"
	      "          remove)\n"
	      "  card    virtual IC cards (new, serve, inspect, issue)\n"
	      "  reader  PC/SC card readers (list)\n"
	      "  cert    the certificates on your card (show)\n"
	      "  pin     your card's PINs (status, change)\n"
	      "  sign    sign a file with your card (CMS), optionally\n"
	      "          encrypted for the agency\n"
	      "  login   log in at a relying party with your card\n"
	      "  verify  check a signed application as the agency\n"
	      "  verifier registered relying parties (add, remove, list,\n"
	      "          usage) and the linking look-up (link)\n"
	      "  serve   run the HTTP services: repository (CA certificates,\n"
	      "          CRLs) and OCSP\n"
	      "  version print the version\n"
	      "\n"
	      "global options:\n"
	      "  --data DIR     data directory (default: $JPKI_DATA or ./var)\n"
	      "  --config FILE  configuration file (default: DIR/jpki.conf)\n"
	      "  --store URL    store: sqlite:/path/jpki.db or\n"
	      "                 postgres://user@host:port/db\n"
	      "                 [?sslmode=verify-full&sslrootcert=CA\n"
	      "                 &sslcert=CRT&sslkey=KEY] (mutual TLS)\n"
	      "                 (default: sqlite:DIR/jpki.db)\n"
	      "  --now TIME     act as if it were TIME (YYYY-MM-DD or\n"
	      "                 YYYY-MM-DDTHH:MM:SS[Z]); also $JPKI_NOW\n"
	      "  --log LEVEL    error, warn, info (default) or debug\n"
	      "  -h, --help     this text\n",
	      f);
}

int cli_fail(int r, const char *what)
{
	const char *detail = jpki_err_detail();

	if (detail[0] != '\0')
		fprintf(stderr, "jpki: %s: %s\n", what, detail);
	else
		fprintf(stderr, "jpki: %s: %s\n", what, jpki_strerror(r));
	return CLI_FAILED;
}

int cli_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("jpki: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try --help)\n", stderr);
	return CLI_USAGE;
}

int cli_store_url(char **out, struct cli *cli)
{
	int r;

	*out = NULL;
	if (cli->store_url != NULL)
		return (*out = strdup(cli->store_url)) ? 0 : JPKI_ERR_NOMEM;
	if ((r = jpki_mkdir_p(cli->data_dir)) != 0)
		return r;
	if (asprintf(out, "sqlite:%s/jpki.db", cli->data_dir) < 0) {
		*out = NULL;
		return JPKI_ERR_NOMEM;
	}
	return 0;
}

int cli_store_open(struct jpki_store **out, struct cli *cli)
{
	char *url = NULL;
	int r;

	*out = NULL;
	if ((r = cli_store_url(&url, cli)) != 0)
		return r;
	r = jpki_store_open(out, url);
	free(url);
	return r;
}

int cli_ca_options(struct jpki_ca_options *opts, struct cli *cli)
{
	int r;

	if ((r = jpki_config_get_int(cli->cfg, "crl_period", 86400,
				     &opts->crl_period)) != 0 ||
	    (r = jpki_config_get_int(cli->cfg, "ocsp_validity", 3600,
				     &opts->ocsp_validity)) != 0 ||
	    (r = jpki_config_get_int(cli->cfg, "crl_inline_max",
				     JPKI_CA_CRL_INLINE_MAX,
				     &opts->crl_inline_max)) != 0)
		return r;
	{
		long delta = 0;

		if ((r = jpki_config_get_int(cli->cfg, "crl_delta", 0,
					     &delta)) != 0)
			return r;
		opts->crl_delta = delta != 0;
	}
	opts->pkcs11_pin_file =
		jpki_config_get(cli->cfg, "pkcs11_pin_file", NULL);
	return jpki_ca_ocsp_signer_parse(
		&opts->ocsp_signer,
		jpki_config_get(cli->cfg, "ocsp_signer", "delegated"));
}

int cli_ca_open(struct jpki_ca **ca, struct jpki_store **st, struct cli *cli)
{
	struct jpki_ca_options opts = JPKI_CA_OPTIONS_INIT;
	int r;

	*ca = NULL;
	*st = NULL;
	if ((r = cli_ca_options(&opts, cli)) != 0)
		return r;
	if ((r = cli_store_open(st, cli)) != 0)
		return r;
	if ((r = jpki_ca_open(ca, *st, &opts)) != 0) {
		jpki_store_free(*st);
		*st = NULL;
	}
	return r;
}

void cli_json_print(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s != NULL)
		printf("%s\n", s);
	free(s);
	json_decref(v);
}

void cli_time(char buf[32], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"store", required_argument, NULL, 's'},
		{"now", required_argument, NULL, 'n'},
		{"log", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli cli = {0};
	const char *config_path = NULL, *now = NULL, *level = NULL;
	char *default_config = NULL;
	int c, r, rc = CLI_FAILED, from_config = 0;

	/* Stop at the first non-option: the area. */
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			cli.data_dir = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 's':
			cli.store_url = optarg;
			break;
		case 'n':
			now = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (cli.data_dir == NULL) {
		cli.data_dir = getenv("JPKI_DATA");
		if (cli.data_dir == NULL || *cli.data_dir == '\0')
			cli.data_dir = "var";
	}
	if (config_path == NULL) {
		if (asprintf(&default_config, "%s/jpki.conf", cli.data_dir) < 0)
			return cli_fail(JPKI_ERR_NOMEM, "config");
		r = jpki_config_load(&cli.cfg, default_config, 1);
	} else {
		r = jpki_config_load(&cli.cfg, config_path, 0);
	}
	free(default_config);
	if (r != 0)
		return cli_fail(r, "configuration");
	if (level == NULL)
		level = jpki_config_get(cli.cfg, "log", NULL);
	if (level != NULL) {
		enum jpki_log_level l;

		if ((r = jpki_log_level_parse(&l, level)) != 0) {
			rc = cli_fail(r, "--log");
			goto out;
		}
		jpki_log_set_level(l);
	}
	if (now == NULL) {
		now = jpki_config_get(cli.cfg, "now", NULL);
		from_config = now != NULL;
	}
	if (now != NULL) {
		const char *at = getenv("JPKI_NOW_AT");
		time_t t;

		if ((r = jpki_clock_parse(&t, now)) != 0) {
			rc = cli_fail(r, "--now");
			goto out;
		}
		/* $JPKI_NOW_AT anchors the configured date for every
		 * process alike; an explicit --now starts from here */
		if (from_config && at != NULL && atoll(at) > 0)
			jpki_clock_set_at(t, (time_t)atoll(at));
		else
			jpki_clock_set(t);
	}
	if (cli.store_url == NULL)
		cli.store_url = jpki_config_get(cli.cfg, "store", NULL);

	if (strcmp(argv[optind], "ca") == 0)
		rc = cli_ca(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "card") == 0)
		rc = cli_card(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "reader") == 0)
		rc = cli_reader(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "registry") == 0)
		rc = cli_registry(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "services") == 0)
		rc = cli_services(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "window") == 0)
		rc = cli_window(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "operator") == 0)
		rc = cli_operator(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "audit") == 0)
		rc = cli_audit(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "oidc") == 0)
		rc = cli_oidc(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "cert") == 0)
		rc = cli_cert(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "pin") == 0)
		rc = cli_pin(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "login") == 0)
		rc = cli_login(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "sign") == 0)
		rc = cli_sign(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "verify") == 0)
		rc = cli_verify(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "verifier") == 0)
		rc = cli_verifier(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "serve") == 0)
		rc = cli_serve(&cli, argc - optind, argv + optind);
	else if (strcmp(argv[optind], "version") == 0) {
		printf("jpki %s (%s)\n", JPKI_VERSION,
		       OpenSSL_version(OPENSSL_VERSION));
		rc = CLI_OK;
	} else if (strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		rc = CLI_OK;
	} else {
		rc = cli_usage("unknown area '%s'", argv[optind]);
	}
out:
	jpki_config_free(cli.cfg);
	return rc;
}
