/* `jpki card <verb>` (virtual cards) and `jpki reader list`. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "cli/cli.h"
#include "jpki/card.h"
#include "jpki/reader.h"
#include "jpki/window.h"

static void card_usage(FILE *f)
{
	fputs("usage: jpki card <verb> [options]\n"
	      "\n"
	      "  new --kind mynumber|juki FILE\n"
	      "      a blank virtual card that this installation's window may\n"
	      "      issue (its card-issuer key: DATA/keys/card-issuer.key)\n"
	      "  serve FILE [--vpcd HOST:PORT]\n"
	      "      put the card in the vpcd reader of pcscd (default\n"
	      "      127.0.0.1:35963), reconnecting if pcscd restarts\n"
	      "  inspect FILE [--json]\n"
	      "      what anyone may see: kind, serial, PIN tries, keys made,\n"
	      "      certificates (never a key or a PIN)\n"
	      "  issue FILE|--reader NAME --auth-pin PIN --sign-pin PIN\n"
	      "        --person ID --municipality-code NNNNNN --birth DATE\n"
	      "        [--prefecture P --municipality M --name N --sex S\n"
	      "         --address A ...as for `jpki ca issue`]\n"
	      "      issue certificates onto the card as the window does at\n"
	      "      the counter (leave out a PIN to decline that "
	      "certificate;\n"
	      "      $JPKI_AUTH_PIN / $JPKI_SIGN_PIN are read too)\n",
	      f);
}

static char *issuer_key_path(struct cli *cli)
{
	char *path = NULL;

	if (asprintf(&path, "%s/keys/card-issuer.key", cli->data_dir) < 0)
		return NULL;
	return path;
}

int cli_issuer_key(EVP_PKEY **out, struct cli *cli, int create)
{
	char *path = issuer_key_path(cli), *dir = NULL;
	int r;

	if (path == NULL)
		return JPKI_ERR_NOMEM;
	if (create) {
		if (asprintf(&dir, "%s/keys", cli->data_dir) < 0) {
			free(path);
			return JPKI_ERR_NOMEM;
		}
		r = jpki_mkdir_p(dir);
		free(dir);
		if (r != 0) {
			free(path);
			return r;
		}
	}
	r = jpki_window_issuer_key(out, path, create);
	free(path);
	return r;
}

static int verb_new(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
		{"kind", required_argument, NULL, 'k'}, {NULL, 0, NULL, 0}};
	enum jpki_card_kind kind = 0;
	EVP_PKEY *issuer = NULL;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (c != 'k')
			return CLI_USAGE;
		if (strcmp(optarg, "mynumber") == 0)
			kind = JPKI_CARD_MYNUMBER;
		else if (strcmp(optarg, "juki") == 0)
			kind = JPKI_CARD_JUKI;
		else
			return cli_usage("--kind is mynumber or juki");
	}
	if (kind == 0 || optind != argc - 1)
		return cli_usage("usage: jpki card new --kind mynumber|juki "
				 "FILE");
	if ((r = cli_issuer_key(&issuer, cli, 1)) != 0)
		return cli_fail(r, "card-issuer key");
	r = jpki_card_create(argv[optind], kind, issuer);
	EVP_PKEY_free(issuer);
	if (r != 0)
		return cli_fail(r, "card new");
	printf("created a blank %s card in %s\n",
	       kind == JPKI_CARD_JUKI ? "Juki" : "My Number", argv[optind]);
	return CLI_OK;
}

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	stopping = 1;
}

static int verb_serve(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
		{"vpcd", required_argument, NULL, 'v'}, {NULL, 0, NULL, 0}};
	const char *vpcd = "127.0.0.1:35963", *colon;
	struct jpki_card *card = NULL;
	struct sigaction sa;
	char host[64];
	long port;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (c != 'v')
			return CLI_USAGE;
		vpcd = optarg;
	}
	if (optind != argc - 1)
		return cli_usage("usage: jpki card serve FILE [--vpcd "
				 "HOST:PORT]");
	colon = strrchr(vpcd, ':');
	if (colon == NULL || (size_t)(colon - vpcd) >= sizeof(host) ||
	    (port = strtol(colon + 1, NULL, 10)) <= 0 || port > 65535)
		return cli_usage("--vpcd is HOST:PORT");
	memcpy(host, vpcd, (size_t)(colon - vpcd));
	host[colon - vpcd] = '\0';
	if ((r = jpki_card_open(&card, argv[optind])) != 0)
		return cli_fail(r, "card");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("serving card %s through vpcd at %s:%ld; stop with Ctrl-C\n",
	       argv[optind], host, port);
	fflush(stdout);
	r = jpki_reader_vpcd_serve(card, host, (uint16_t)port, &stopping);
	jpki_card_free(card);
	return r != 0 ? cli_fail(r, "card serve") : CLI_OK;
}

static json_t *cert_json(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *cert = d2i_X509(NULL, &p, (long)len);
	char *subject, *issuer, na[32];
	json_t *o;
	struct tm tm;

	if (cert == NULL)
		return json_pack("{s:s}", "error", "unreadable");
	subject = X509_NAME_oneline(X509_get_subject_name(cert), NULL, 0);
	issuer = X509_NAME_oneline(X509_get_issuer_name(cert), NULL, 0);
	ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm);
	cli_time(na, timegm(&tm));
	o = json_pack("{s:s, s:s, s:s}", "subject", subject ? subject : "",
		      "issuer", issuer ? issuer : "", "not_after", na);
	OPENSSL_free(subject);
	OPENSSL_free(issuer);
	X509_free(cert);
	return o;
}

static int verb_inspect(struct cli *cli, int argc, char **argv)
{
	static const struct {
		uint16_t fid;
		const char *name;
	} files[] = {
		{JPKI_EF_AUTH_CERT, "authentication certificate"},
		{JPKI_EF_AUTH_CA, "authentication CA certificate"},
		{JPKI_EF_SIGN_CA, "signing CA certificate"},
	};
	static const char *const pins[] = {"authentication", "signing"};
	int json = argc == 3 && strcmp(argv[2], "--json") == 0;
	struct jpki_card_info info;
	struct jpki_card *card = NULL;
	json_t *o;
	int r;

	if (argc != 2 && !json)
		return cli_usage("usage: jpki card inspect FILE [--json]");
	if ((r = jpki_card_open(&card, argv[1])) != 0)
		return cli_fail(r, "card");
	jpki_card_info(card, &info);
	o = json_pack("{s:s, s:s}", "kind",
		      info.kind == JPKI_CARD_JUKI ? "juki" : "mynumber",
		      "serial", info.serial);
	for (int i = 0; i < 2; i++) {
		if (info.tries[i] < 0)
			continue;
		json_object_set_new(
			o, i ? "signing_pin" : "authentication_pin",
			json_pack("{s:i, s:i, s:b, s:b}", "tries_left",
				  info.tries[i], "max_tries", info.max_tries[i],
				  "set", info.pin_set[i], "key_present",
				  info.key_present[i]));
	}
	json_object_set_new(o, "signing_certificate_present",
			    json_boolean(info.file_len[1] > 0));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len;
		const uint8_t *der =
			jpki_card_public_file(card, files[i].fid, &len);

		if (der != NULL)
			json_object_set_new(o, files[i].name,
					    cert_json(der, len));
	}
	if (json) {
		cli_json_print(o);
	} else {
		printf("%s card, serial %s\n",
		       info.kind == JPKI_CARD_JUKI ? "Juki" : "My Number",
		       info.serial);
		for (int i = 0; i < 2; i++)
			if (info.tries[i] >= 0)
				printf("  %s PIN: %s, %d of %d tries left; "
				       "key %s\n",
				       pins[i], info.pin_set[i] ? "set" : "not set",
				       info.tries[i], info.max_tries[i],
				       info.key_present[i] ? "made" : "none");
		printf("  signing certificate: %s (readable after the "
		       "signing PIN)\n",
		       info.file_len[1] > 0 ? "present" : "absent");
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			json_t *c = json_object_get(o, files[i].name);

			if (c != NULL)
				printf("  %s: %s, until %s\n", files[i].name,
				       json_string_value(
					       json_object_get(c, "subject")),
				       json_string_value(
					       json_object_get(c, "not_after")));
		}
		json_decref(o);
	}
	jpki_card_free(card);
	return CLI_OK;
}

static int verb_issue(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
		CLI_FACT_OPTIONS,
		{"auth-pin", required_argument, NULL, 'u'},
		{"sign-pin", required_argument, NULL, 'g'},
		{"reader", required_argument, NULL, 'R'},
		{NULL, 0, NULL, 0}};
	struct jpki_window_card_request req = {
		.version = JPKI_WINDOW_CARD_REQUEST_VERSION,
		.cert = JPKI_ISSUE_REQUEST_INIT};
	struct jpki_window_card_result res;
	struct jpki_card *card = NULL;
	struct jpki_reader *rd = NULL;
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	EVP_PKEY *issuer = NULL;
	const char *reader = NULL;
	int c, r = 0, have_expiry = 0;

	req.cert.card = JPKI_CARD_MYNUMBER;
	req.auth_pin = getenv("JPKI_AUTH_PIN");
	req.sign_pin = getenv("JPKI_SIGN_PIN");
	optind = 0;
	while (r == 0 && (c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if ((r = cli_fact_option(&req.cert, &have_expiry, c, optarg)) !=
		    1)
			continue;
		r = 0;
		if (c == 'u')
			req.auth_pin = optarg;
		else if (c == 'g')
			req.sign_pin = optarg;
		else if (c == 'R')
			reader = optarg;
		else
			return CLI_USAGE;
	}
	if (r != 0)
		return cli_fail(r, "card issue");
	if ((reader == NULL) == (optind == argc) || optind < argc - 1)
		return cli_usage("card issue takes a card FILE or --reader NAME");
	if ((r = cli_fact_finish(&req.cert, have_expiry)) != 0)
		return r;
	if ((r = cli_issuer_key(&issuer, cli, 0)) != 0)
		return cli_fail(r, "card-issuer key");
	if (reader != NULL)
		r = jpki_reader_pcsc(&rd, reader);
	else if ((r = jpki_card_open(&card, argv[optind])) == 0) {
		struct jpki_card_info info;

		jpki_card_info(card, &info);
		req.cert.card = info.kind;
		r = jpki_reader_local(&rd, card);
	}
	if (r != 0) {
		r = cli_fail(r, "card");
		goto out;
	}
	if ((r = cli_ca_open(&ca, &st, cli)) != 0) {
		r = cli_fail(r, "open CA");
		goto out;
	}
	if ((r = jpki_window_issue_card(&res, rd, ca, issuer, &req)) != 0) {
		r = cli_fail(r, "card issue");
		goto out;
	}
	if (res.auth_serial[0])
		printf("authentication certificate %s written to the card\n",
		       res.auth_serial);
	if (res.sign_serial[0])
		printf("signing certificate %s written to the card\n",
		       res.sign_serial);
	r = CLI_OK;
out:
	jpki_reader_free(rd);
	jpki_card_free(card);
	jpki_ca_free(ca);
	jpki_store_free(st);
	EVP_PKEY_free(issuer);
	return r;
}

int cli_card(struct cli *cli, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (verb == NULL) {
		card_usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 ||
	    strcmp(verb, "help") == 0) {
		card_usage(stdout);
		return CLI_OK;
	}
	argc--;
	argv++;
	if (strcmp(verb, "new") == 0)
		return verb_new(cli, argc, argv);
	if (strcmp(verb, "serve") == 0)
		return verb_serve(cli, argc, argv);
	if (strcmp(verb, "inspect") == 0)
		return verb_inspect(cli, argc, argv);
	if (strcmp(verb, "issue") == 0)
		return verb_issue(cli, argc, argv);
	return cli_usage("unknown verb 'card %s'", verb);
}

int cli_reader(struct cli *cli, int argc, char **argv)
{
	char **names = NULL;
	size_t n = 0;
	int r;

	if (argc != 2 || strcmp(argv[1], "list") != 0)
		return cli_usage("usage: jpki reader list");
	if ((r = jpki_reader_list(&names, &n)) != 0)
		return cli_fail(r, "reader list");
	for (size_t i = 0; i < n; i++)
		printf("%s\n", names[i]);
	jpki_reader_names_free(names, n);
	return CLI_OK;
}
