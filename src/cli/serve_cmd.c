/* `jpki serve`: the options of the server process and what it prints; the
 * process itself (store, migrations, keys, HTTP, periodic work) is the
 * serve module's (include/jpki/serve.h). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "jpki/serve.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	stopping = 1;
}

static void serve_usage(FILE *f)
{
	fputs("usage: jpki serve [--listen ADDR:PORT] [--roles LIST] "
	      "[--threads N]\n"
	      "                  [--pid-file FILE]\n"
	      "                  [--tls-cert FILE --tls-key FILE "
	      "[--tls-client-ca FILE]]\n"
	      "\n"
	      "  --listen    where to listen (default: config listen or\n"
	      "              127.0.0.1:8080; port 0 picks a free port)\n"
	      "  --roles     all (default), repository, ocsp, login,\n"
	      "              window, portal, kiosk; comma-separated\n"
	      "  --threads   worker threads (default: one per core)\n"
	      "  --pid-file  write the process id there once listening\n"
	      "  --tls-cert  HTTPS: the server's certificate (PEM, chain\n"
	      "              after it); config tls_cert\n"
	      "  --tls-key   its key (PEM, unencrypted); config tls_key\n"
	      "  --tls-client-ca  CA certificate(s) (PEM) of the terminals:\n"
	      "              every client is asked for a certificate, and\n"
	      "              the internal role (window: /window, /api) is\n"
	      "              refused (403) without one that verifies to\n"
	      "              them; the public roles (repository, ocsp,\n"
	      "              login, portal, kiosk) do not need one; config\n"
	      "              tls_client_ca\n"
	      "\n"
	      "Without --tls-cert the listener is plain HTTP and nothing\n"
	      "authenticates the terminals of the window but the clerks'\n"
	      "passwords (docs/ARCHITECTURE.md, \"Links between roles\").\n"
	      "\n"
	      "Periodic work, only where its role runs: with window, the\n"
	      "registry's changes become revocations within a second (one\n"
	      "server at a time on a shared database) and a card-issuer key\n"
	      "made after start (jpki card new) is picked up; with\n"
	      "repository, CRLs are regenerated whenever one comes within\n"
	      "half a period (config crl_period, seconds) of its nextUpdate.\n"
	      "\n"
	      "Log-in answers (docs/LOGIN.md) are bound to the origin of the\n"
	      "CA's public URL, or of config login_origin when it is set.\n",
	      f);
}

/* What the server answers where, for the person who started it. */
static void print_urls(const struct jpki_serve *sv, const char *listen,
		       const struct jpki_serve_options *o)
{
	struct jpki_ca *ca = jpki_serve_ca(sv);
	unsigned roles = jpki_serve_roles(sv);
	char base[64];

	snprintf(base, sizeof(base), "%s://%.*s:%u", jpki_serve_scheme(sv),
		 (int)(strrchr(listen, ':') - listen), listen,
		 jpki_serve_port(sv));
	printf("OpenJPKI is serving on %s (public URL in certificates: %s)\n",
	       base, jpki_ca_public_url(ca));
	if (roles & JPKI_ROLE_REPOSITORY)
		printf("  repository  %s/\n"
		       "  CA certs    %s/ca/sign.crt  %s/ca/auth.crt\n"
		       "  CRLs        %s/crl/sign.crl  %s/crl/auth.crl  "
		       "%s/crl/sign/<municipality>.crl\n",
		       base, base, base, base, base, base);
	if (roles & JPKI_ROLE_OCSP)
		printf("  OCSP        %s/ocsp/sign  %s/ocsp/auth\n", base,
		       base);
	if (roles & JPKI_ROLE_LOGIN)
		printf("  log-in      %s/login (answers bound to the origin "
		       "of %s)\n",
		       base,
		       o->login_origin ? o->login_origin
				       : jpki_ca_public_url(ca));
	if (roles & JPKI_ROLE_WINDOW) {
		printf("  window      %s/window (the clerk's pages), %s/api "
		       "(JSON)\n",
		       base, base);
		/* the internal role: say how its link is authenticated */
		if (o->tls_client_ca != NULL)
			printf("              internal: a client certificate "
			       "issued by %s is required\n",
			       o->tls_client_ca);
		else if (o->tls_cert != NULL)
			printf("              internal, but HTTPS without "
			       "client certificates (--tls-client-ca): any "
			       "terminal may try the clerks' passwords\n");
		else
			printf("              internal, but plain HTTP without "
			       "client certificates (--tls-cert, --tls-key, "
			       "--tls-client-ca): keep it off shared "
			       "networks\n");
	}
	if (roles & JPKI_ROLE_PORTAL)
		printf("  portal      %s/portal (online applications; "
		       "agency certificate %s/portal/agency.crt, inbox "
		       "%s/portal/inbox)\n",
		       base, base, base);
	if (roles & JPKI_ROLE_KIOSK)
		printf("  kiosk       %s/kiosk (コンビニ交付: a copy of the "
		       "residence certificate)\n",
		       base);
	printf("Stop with Ctrl-C.\n");
	fflush(stdout);
}

int cli_serve(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
		{"listen", required_argument, NULL, 'l'},
		{"roles", required_argument, NULL, 'r'},
		{"threads", required_argument, NULL, 't'},
		{"pid-file", required_argument, NULL, 'p'},
		{"tls-cert", required_argument, NULL, 'C'},
		{"tls-key", required_argument, NULL, 'K'},
		{"tls-client-ca", required_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct jpki_serve_options opts = JPKI_SERVE_OPTIONS_INIT;
	struct jpki_serve *sv = NULL;
	char *url = NULL, *issuer = NULL, *agency_key = NULL,
	     *agency_cert = NULL;
	const char *pid_file = NULL;
	struct sigaction sa;
	int c, r;

	opts.listen = jpki_config_get(cli->cfg, "listen", "127.0.0.1:8080");
	opts.login_origin = jpki_config_get(cli->cfg, "login_origin", NULL);
	opts.tls_cert = jpki_config_get(cli->cfg, "tls_cert", NULL);
	opts.tls_key = jpki_config_get(cli->cfg, "tls_key", NULL);
	opts.tls_client_ca = jpki_config_get(cli->cfg, "tls_client_ca", NULL);
	opts.counter_reader = jpki_config_get(cli->cfg, "window_reader", NULL);
	opts.kiosk_reader = jpki_config_get(cli->cfg, "kiosk_reader", NULL);
	opts.roles = JPKI_ROLE_ALL;
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", o, NULL)) != -1) {
		switch (c) {
		case 'l':
			opts.listen = optarg;
			break;
		case 'r':
			if ((r = jpki_http_roles_parse(&opts.roles, optarg)) !=
			    0)
				return cli_fail(r, "--roles");
			break;
		case 't':
			opts.threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			pid_file = optarg;
			break;
		case 'C':
			opts.tls_cert = optarg;
			break;
		case 'K':
			opts.tls_key = optarg;
			break;
		case 'A':
			opts.tls_client_ca = optarg;
			break;
		case 'h':
			serve_usage(stdout);
			return CLI_OK;
		default:
			serve_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage("serve takes options only");
	if ((opts.tls_cert == NULL) != (opts.tls_key == NULL))
		return cli_usage("--tls-cert and --tls-key go together");
	if (opts.tls_client_ca != NULL && opts.tls_cert == NULL)
		return cli_usage("--tls-client-ca needs --tls-cert and "
				 "--tls-key (HTTPS)");
	if (opts.tls_client_ca != NULL && !(opts.roles & JPKI_ROLE_WINDOW))
		jpki_log(JPKI_LOG_WARN,
			 "--tls-client-ca: none of these roles is internal "
			 "(window); client certificates are asked for but "
			 "not required");
	if ((r = cli_ca_options(&opts.ca, cli)) != 0 ||
	    (r = cli_store_url(&url, cli)) != 0) {
		r = cli_fail(r, "configuration");
		goto out;
	}
	if (asprintf(&issuer, "%s/keys/card-issuer.key", cli->data_dir) < 0 ||
	    asprintf(&agency_key, "%s/keys/agency.key", cli->data_dir) < 0 ||
	    asprintf(&agency_cert, "%s/keys/agency.crt", cli->data_dir) < 0) {
		r = cli_fail(JPKI_ERR_NOMEM, "serve");
		goto out;
	}
	opts.store_url = url;
	opts.card_issuer_key = issuer;
	opts.agency_key = agency_key;
	opts.agency_cert = agency_cert;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = jpki_serve_start(&sv, &opts)) != 0) {
		r = cli_fail(r, "serve");
		goto out;
	}
	if (!jpki_ca_keys_in_token(jpki_serve_ca(sv)))
		jpki_log(JPKI_LOG_WARN,
			 "the CA keys are files under %s/keys, for "
			 "development: a real service keeps them in a PKCS#11 "
			 "token (jpki ca init --pkcs11)",
			 cli->data_dir);
	print_urls(sv, opts.listen, &opts);
	if (pid_file != NULL) {
		char pid[32];

		snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if ((r = jpki_file_write_atomic(pid_file, pid, strlen(pid),
						0644)) != 0) {
			r = cli_fail(r, "--pid-file");
			goto out;
		}
	}
	/* The server and its periodic work run in their own threads; any
	 * of them may take the signal, so this one looks rather than
	 * pause()s. */
	while (!stopping)
		usleep(100 * 1000);
	printf("stopping\n");
	r = CLI_OK;
out:
	jpki_serve_stop(sv);
	if (pid_file != NULL)
		unlink(pid_file);
	free(url);
	free(issuer);
	free(agency_key);
	free(agency_cert);
	return r;
}
