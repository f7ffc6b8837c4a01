/* `jpki ca <verb>`: the CA operator's commands. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "cli/cli.h"
#include "cli/office.h"

static void ca_usage(FILE *f)
{
	fputs("usage: jpki ca <verb> [options]\n"
	      "\n"
	      "  init [--public-url URL]\n"
	      "       [--pkcs11 MODULE --token LABEL [--pin-file FILE]]\n"
	      "      create both CAs (signing, user authentication) with their\n"
	      "      OCSP signers; URL is where `jpki serve` will be reached\n"
	      "      (default: config public_url or http://127.0.0.1:8080);\n"
	      "      with --pkcs11 the keys are made in that token and never\n"
	      "      leave it (PIN: FILE, config pkcs11_pin_file or\n"
	      "      $JPKI_PKCS11_PIN), else they are files (development)\n"
	      "  issue --csr FILE --type sign|auth --person ID\n"
	      "        --municipality-code NNNNNN --birth YYYY-MM-DD\n"
	      "        [--card mynumber|juki] [--card-expiry YYYY-MM-DD]\n"
	      "        signing only: --prefecture P --municipality M --name N\n"
	      "        --sex male|female|unknown --address A\n"
	      "        [--name-subst S] [--address-subst S]\n"
	      "        [--out FILE] [--json]\n"
	      "      issue a certificate for the key of a PKCS#10 request\n"
	      "  issue-batch FILE|- [--out-dir DIR] [--threads N] [--json]\n"
	      "      issue one certificate per line of FILE, a JSON object\n"
	      "      with \"csr\" (a file), \"type\" and the options of issue\n"
	      "      (\"municipality_code\", \"birth\", ...); signed on N\n"
	      "      threads (0: every core), committed in groups; each\n"
	      "      certificate to DIR/SERIAL.pem (a group's files right\n"
	      "      after its commit), each line's result printed; exit 1\n"
	      "      when a line was refused. Run again after a crash: a\n"
	      "      line already issued for the same key is written again\n"
	      "  renew SERIAL --csr FILE [--card-expiry DATE] [--out FILE] "
	      "[--json]\n"
	      "      renew (from 3 months before expiry); the old one is\n"
	      "      revoked as superseded\n"
	      "  revoke SERIAL --reason REASON\n"
	      "      REASON: unspecified, keyCompromise, affiliationChanged,\n"
	      "      superseded, cessationOfOperation\n"
	      "  hold SERIAL | release SERIAL\n"
	      "  status SERIAL [--json]\n"
	      "  list [--type sign|auth] [--status good|revoked|hold]\n"
	      "       [--person ID] [--municipality-code C] [--limit N] "
	      "[--json]\n"
	      "  links SERIAL [--json]     linking records of a certificate\n"
	      "  crl [--force] [--json]    regenerate due CRLs, list scopes\n"
	      "  show [--json]             both CAs: DN, fingerprint, URLs\n"
	      "  cert sign|auth [--ocsp]   print a CA (or OCSP) certificate\n"
	      "  rollover --type sign|auth|both --operator ID "
	      "[--password-file F]\n"
	      "      a new CA key and certificate under the same DN (a new\n"
	      "      generation), with link certificates old-with-new and\n"
	      "      new-with-old; new issues are under it from then on\n"
	      "      (restart every `jpki serve`). A CA officer's act, audited\n"
	      "  retire --operator ID [--password-file F]\n"
	      "      retire every earlier generation whose certificates have\n"
	      "      all expired: no more CRLs or OCSP answers for it\n",
	      f);
}

static const char *type_name(enum jpki_cert_type t)
{
	return jpki_codec_word(jpki_codec_type_words, (int)t);
}

/* The certificate's one JSON form (codec), as the API shows it. */
static json_t *info_json(const struct jpki_cert_info *info)
{
	return jpki_codec_certificate_encode(info);
}

/* Prints a freshly issued certificate: PEM to --out (or stdout), a summary
 * or JSON to stdout. */
static int print_issued(const struct jpki_cert_info *info, const char *out,
			int json)
{
	char *pem = NULL, na[32];
	int r;

	if ((r = jpki_cert_info_pem(&pem, info)) != 0)
		return cli_fail(r, "encode");
	if (out != NULL &&
	    (r = jpki_file_write_atomic(out, pem, strlen(pem), 0644)) != 0) {
		free(pem);
		return cli_fail(r, "write certificate");
	}
	if (json) {
		json_t *o = info_json(info);

		json_object_set_new(o, "pem", json_string(pem));
		cli_json_print(o);
	} else if (out != NULL) {
		cli_time(na, info->not_after);
		printf("issued %s certificate %s, valid until %s, written to "
		       "%s\n",
		       type_name(info->type), info->serial, na, out);
	} else {
		fputs(pem, stdout);
	}
	free(pem);
	return CLI_OK;
}

static int read_csr(EVP_PKEY **key, const char *path)
{
	*key = NULL;
	if (path == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "--csr FILE is required");
	return jpki_ca_csr_read(key, path);
}

static int verb_issue_batch(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
		{"out-dir", required_argument, NULL, 'o'},
		{"threads", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *dir = ".";
	struct jpki_ca_batch *b = NULL;
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	json_t *report = NULL;
	size_t n, issued = 0;
	unsigned threads = 0;
	int c, json = 0, r;
	FILE *in;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", o, NULL)) != -1) {
		switch (c) {
		case 'o':
			dir = optarg;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end != '\0' || v < 0 ||
			    v > JPKI_ISSUE_MAX_THREADS)
				return cli_usage("--threads takes 0 to %d",
						 JPKI_ISSUE_MAX_THREADS);
			threads = (unsigned)v;
			break;
		}
		case 'j':
			json = 1;
			break;
		case 'h':
			ca_usage(stdout);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (optind + 1 != argc)
		return cli_usage("ca issue-batch takes one FILE (- for "
				 "standard input)");
	in = strcmp(argv[optind], "-") == 0 ? stdin : fopen(argv[optind], "r");
	if (in == NULL)
		return cli_fail(jpki_err_set(JPKI_ERR_IO, "%s: %s",
					     argv[optind], strerror(errno)),
				"ca issue-batch");
	r = jpki_ca_batch_read(&b, in, threads);
	if (in != stdin)
		fclose(in);
	if (r != 0)
		return cli_fail(r, "ca issue-batch");
	if ((r = cli_ca_open(&ca, &st, cli)) != 0) {
		r = cli_fail(r, "open CA");
		goto out;
	}
	r = jpki_ca_batch_issue(b, ca, dir, threads);
	n = jpki_ca_batch_count(b);
	report = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct jpki_issue_result *res = jpki_ca_batch_result(b, i);
		const char *path = jpki_ca_batch_file(b, i);

		if (res->code == 0 && res->info != NULL) {
			issued++;
			if (json)
				json_array_append_new(
					report,
					json_pack("{s:I,s:s,s:s,s:s,s:b}",
						  "line", (json_int_t)(i + 1),
						  "serial", res->info->serial,
						  "type",
						  type_name(res->info->type),
						  "file", path, "again",
						  res->again));
			else
				printf("line %zu: %s %s certificate %s, "
				       "written to %s\n",
				       i + 1,
				       res->again ? "already issued" : "issued",
				       type_name(res->info->type),
				       res->info->serial, path);
		} else if (json) {
			json_array_append_new(
				report, json_pack("{s:I,s:s}", "line",
						  (json_int_t)(i + 1), "error",
						  res->message));
		} else {
			printf("line %zu: refused: %s\n", i + 1, res->message);
		}
	}
	if (json)
		cli_json_print(report);
	else
		json_decref(report);
	if (r != 0)
		r = cli_fail(r, "ca issue-batch");
	else {
		if (!json)
			fprintf(stderr, "%zu of %zu issued\n", issued, n);
		r = issued == n ? CLI_OK : CLI_FAILED;
	}
out:
	jpki_ca_batch_free(b);
	jpki_ca_free(ca);
	jpki_store_free(st);
	return r;
}

static int verb_init(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
		{"public-url", required_argument, NULL, 'u'},
		{"pkcs11", required_argument, NULL, 'm'},
		{"token", required_argument, NULL, 't'},
		{"pin-file", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct jpki_ca_init_options opts = JPKI_CA_INIT_OPTIONS_INIT;
	struct jpki_store *st = NULL;
	char *keys = NULL;
	int c, r;

	opts.public_url =
		jpki_config_get(cli->cfg, "public_url", "http://127.0.0.1:8080");
	opts.pkcs11_pin_file =
		jpki_config_get(cli->cfg, "pkcs11_pin_file", NULL);
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", o, NULL)) != -1) {
		if (c == 'u')
			opts.public_url = optarg;
		else if (c == 'm')
			opts.pkcs11_module = optarg;
		else if (c == 't')
			opts.pkcs11_token = optarg;
		else if (c == 'p')
			opts.pkcs11_pin_file = optarg;
		else if (c == 'h') {
			ca_usage(stdout);
			return CLI_OK;
		} else
			return CLI_USAGE;
	}
	if (optind != argc)
		return cli_usage("ca init takes no arguments");
	if ((opts.pkcs11_module == NULL) != (opts.pkcs11_token == NULL))
		return cli_usage("--pkcs11 and --token go together");
	if (asprintf(&keys, "%s/keys", cli->data_dir) < 0)
		return cli_fail(JPKI_ERR_NOMEM, "ca init");
	opts.key_dir = keys;
	if ((r = cli_store_open(&st, cli)) != 0) {
		free(keys);
		return cli_fail(r, "open store");
	}
	r = jpki_ca_init(st, &opts);
	jpki_store_free(st);
	if (r != 0) {
		free(keys);
		return cli_fail(r, "ca init");
	}
	printf("created the signing and user authentication CAs\n");
	/* the window's card-issuer key too, so that a server started now
	 * can issue onto cards at the counter (jpki card new uses it) */
	{
		EVP_PKEY *issuer = NULL;

		if ((r = cli_issuer_key(&issuer, cli, 1)) != 0) {
			free(keys);
			return cli_fail(r, "the card-issuer key");
		}
		EVP_PKEY_free(issuer);
		printf("  card-issuer key (the window's): "
		       "%s/card-issuer.key\n",
		       keys);
	}
	if (opts.pkcs11_module != NULL)
		printf("  keys: in PKCS#11 token '%s' (%s), labels sign-ca,\n"
		       "        sign-ocsp, auth-ca, auth-ocsp; not extractable\n",
		       opts.pkcs11_token, opts.pkcs11_module);
	else
		printf("  keys (development form, files): %s\n", keys);
	printf("  CA certificates: %s/sign-ca.pem, %s/auth-ca.pem\n"
	       "  public URL: %s\n",
	       keys, keys, opts.public_url);
	if (opts.pkcs11_module == NULL)
		jpki_log(JPKI_LOG_WARN,
			 "the CA keys are files under %s, for development: "
			 "use 'jpki ca init --pkcs11 MODULE --token LABEL' to "
			 "keep them in a token",
			 keys);
	free(keys);
	return CLI_OK;
}

static int verb_issue(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
		CLI_FACT_OPTIONS,
		{"csr", required_argument, NULL, 'r'},
		{"type", required_argument, NULL, 't'},
		{"out", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct jpki_issue_request req = JPKI_ISSUE_REQUEST_INIT;
	struct jpki_cert_info *info = NULL;
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	EVP_PKEY *key = NULL;
	const char *csr = NULL, *out = NULL, *type = NULL;
	int c, r = 0, json = 0, have_expiry = 0;

	req.card = JPKI_CARD_MYNUMBER;
	optind = 0;
	while (r == 0 && (c = getopt_long(argc, argv, "h", o, NULL)) != -1) {
		if ((r = cli_fact_option(&req, &have_expiry, c, optarg)) != 1)
			continue;
		r = 0;
		switch (c) {
		case 'r':
			csr = optarg;
			break;
		case 't':
			type = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			ca_usage(stdout);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (r != 0)
		return cli_fail(r, "ca issue");
	if (optind != argc)
		return cli_usage("ca issue takes options only");
	if (type == NULL)
		return cli_usage("ca issue needs --type sign|auth");
	if ((r = jpki_ca_type_parse(&req.type, type)) != 0)
		return cli_fail(r, "ca issue");
	if ((r = cli_fact_finish(&req, have_expiry)) != 0)
		return r;
	if ((r = read_csr(&key, csr)) != 0)
		return cli_fail(r, "certificate request");
	if ((r = cli_ca_open(&ca, &st, cli)) != 0) {
		EVP_PKEY_free(key);
		return cli_fail(r, "open CA");
	}
	r = jpki_ca_issue(&info, ca, &req, key);
	EVP_PKEY_free(key);
	if (r != 0) {
		r = cli_fail(r, "ca issue");
	} else {
		r = print_issued(info, out, json);
	}
	jpki_cert_info_free(info);
	jpki_ca_free(ca);
	jpki_store_free(st);
	return r;
}

static int verb_renew(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
		{"csr", required_argument, NULL, 'r'},
		{"card-expiry", required_argument, NULL, 'e'},
		{"out", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}};
	struct jpki_cert_info *info = NULL;
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	struct jpki_date expiry;
	EVP_PKEY *key = NULL;
	const char *csr = NULL, *out = NULL;
	int c, r = 0, json = 0, have_expiry = 0;

	optind = 0;
	while (r == 0 && (c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (c == 'r')
			csr = optarg;
		else if (c == 'e') {
			r = jpki_date_parse(&expiry, optarg);
			have_expiry = 1;
		} else if (c == 'o')
			out = optarg;
		else if (c == 'j')
			json = 1;
		else
			return CLI_USAGE;
	}
	if (r != 0)
		return cli_fail(r, "ca renew");
	if (optind != argc - 1)
		return cli_usage("ca renew needs exactly one SERIAL");
	if ((r = read_csr(&key, csr)) != 0)
		return cli_fail(r, "certificate request");
	if ((r = cli_ca_open(&ca, &st, cli)) != 0) {
		EVP_PKEY_free(key);
		return cli_fail(r, "open CA");
	}
	r = jpki_ca_renew(&info, ca, argv[optind], key,
			  have_expiry ? &expiry : NULL);
	EVP_PKEY_free(key);
	if (r != 0)
		r = cli_fail(r, "ca renew");
	else
		r = print_issued(info, out, json);
	jpki_cert_info_free(info);
	jpki_ca_free(ca);
	jpki_store_free(st);
	return r;
}

enum change_verb { VERB_REVOKE, VERB_HOLD, VERB_RELEASE };

static int verb_change(struct cli *cli, int argc, char **argv,
		       enum change_verb verb)
{
	static const struct option o[] = {
		{"reason", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0}};
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	const char *reason_text = NULL;
	enum jpki_reason reason = JPKI_REASON_UNSPECIFIED;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (c == 'r' && verb == VERB_REVOKE)
			reason_text = optarg;
		else
			return CLI_USAGE;
	}
	if (optind != argc - 1)
		return cli_usage("%s needs exactly one SERIAL", argv[0]);
	if (verb == VERB_REVOKE) {
		if (reason_text == NULL)
			return cli_usage("ca revoke needs --reason");
		if ((r = jpki_ca_reason_parse(&reason, reason_text)) != 0)
			return cli_fail(r, "--reason");
	}
	if ((r = cli_ca_open(&ca, &st, cli)) != 0)
		return cli_fail(r, "open CA");
	switch (verb) {
	case VERB_REVOKE:
		r = jpki_ca_revoke(ca, argv[optind], reason);
		break;
	case VERB_HOLD:
		r = jpki_ca_hold(ca, argv[optind]);
		break;
	case VERB_RELEASE:
		r = jpki_ca_release(ca, argv[optind]);
		break;
	}
	if (r != 0) {
		r = cli_fail(r, argv[0]);
	} else {
		printf("%s: %s\n", argv[optind],
		       verb == VERB_REVOKE ? "revoked"
		       : verb == VERB_HOLD ? "on hold"
					   : "hold released");
		r = CLI_OK;
	}
	jpki_ca_free(ca);
	jpki_store_free(st);
	return r;
}

static void print_info(const struct jpki_cert_info *info)
{
	char nb[32], na[32], rev[32];

	cli_time(nb, info->not_before);
	cli_time(na, info->not_after);
	printf("serial:       %s\n"
	       "type:         %s (%s card)\n"
	       "subject:      %s\n"
	       "person:       %s\n"
	       "municipality: %s\n"
	       "validity:     %s .. %s\n"
	       "status:       %s",
	       info->serial, type_name(info->type),
	       info->card == JPKI_CARD_JUKI ? "juki" : "mynumber",
	       info->subject, info->person, info->municipality_code, nb, na,
	       jpki_ca_status_name(info->status));
	if (info->status != JPKI_STATUS_GOOD) {
		cli_time(rev, info->revoked_at);
		printf(" since %s (%s)", rev, jpki_ca_reason_name(info->reason));
	}
	printf("\n");
}

static int verb_status(struct cli *cli, int argc, char **argv)
{
	struct jpki_cert_info *info = NULL;
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	int json = argc == 3 && strcmp(argv[2], "--json") == 0;
	int r;

	if (argc != 2 && !json)
		return cli_usage("usage: jpki ca status SERIAL [--json]");
	if ((r = cli_ca_open(&ca, &st, cli)) != 0)
		return cli_fail(r, "open CA");
	if ((r = jpki_ca_status(&info, ca, argv[1])) != 0) {
		r = cli_fail(r, "ca status");
	} else {
		if (json)
			cli_json_print(info_json(info));
		else
			print_info(info);
		r = CLI_OK;
	}
	jpki_cert_info_free(info);
	jpki_ca_free(ca);
	jpki_store_free(st);
	return r;
}

static int verb_list(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
		{"type", required_argument, NULL, 't'},
		{"status", required_argument, NULL, 's'},
		{"person", required_argument, NULL, 'p'},
		{"municipality-code", required_argument, NULL, 'C'},
		{"limit", required_argument, NULL, 'l'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0}};
	struct jpki_ca_filter filter = JPKI_CA_FILTER_INIT;
	struct jpki_cert_info **list = NULL;
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	size_t n = 0;
	int c, r = 0, json = 0;

	optind = 0;
	while (r == 0 && (c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (c) {
		case 't':
			r = jpki_ca_type_parse(&filter.type, optarg);
			break;
		case 's':
			if (strcmp(optarg, "good") == 0)
				filter.status = JPKI_STATUS_GOOD;
			else if (strcmp(optarg, "revoked") == 0)
				filter.status = JPKI_STATUS_REVOKED;
			else if (strcmp(optarg, "hold") == 0)
				filter.status = JPKI_STATUS_HOLD;
			else
				return cli_usage("--status is good, revoked "
						 "or hold");
			break;
		case 'p':
			filter.person = optarg;
			break;
		case 'C':
			filter.municipality_code = optarg;
			break;
		case 'l':
			filter.limit = strtoul(optarg, NULL, 10);
			break;
		case 'j':
			json = 1;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (r != 0)
		return cli_fail(r, "ca list");
	if (optind != argc)
		return cli_usage("ca list takes options only");
	if ((r = cli_ca_open(&ca, &st, cli)) != 0)
		return cli_fail(r, "open CA");
	if ((r = jpki_ca_list(&list, &n, ca, &filter)) != 0) {
		r = cli_fail(r, "ca list");
		goto out;
	}
	if (json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, info_json(list[i]));
		cli_json_print(arr);
	} else {
		printf("%-34s %-4s %-7s %-6s %-20s %s\n", "SERIAL", "TYPE",
		       "STATUS", "MUNI", "NOT AFTER", "PERSON");
		for (size_t i = 0; i < n; i++) {
			char na[32];

			cli_time(na, list[i]->not_after);
			printf("%-34s %-4s %-7s %-6s %-20s %s\n",
			       list[i]->serial, type_name(list[i]->type),
			       jpki_ca_status_name(list[i]->status),
			       list[i]->municipality_code, na,
			       list[i]->person);
		}
	}
	r = CLI_OK;
out:
	jpki_cert_info_list_free(list, n);
	jpki_ca_free(ca);
	jpki_store_free(st);
	return r;
}

static int verb_links(struct cli *cli, int argc, char **argv)
{
	struct jpki_link *links = NULL;
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	int json = argc == 3 && strcmp(argv[2], "--json") == 0;
	size_t n = 0;
	int r;

	if (argc != 2 && !json)
		return cli_usage("usage: jpki ca links SERIAL [--json]");
	if ((r = cli_ca_open(&ca, &st, cli)) != 0)
		return cli_fail(r, "open CA");
	if ((r = jpki_ca_links(&links, &n, ca, argv[1])) != 0) {
		r = cli_fail(r, "ca links");
		goto out;
	}
	if (json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++) {
			char at[32];

			cli_time(at, links[i].at);
			json_array_append_new(
				arr,
				json_pack("{s:s, s:s, s:s, s:s}", "kind",
					  jpki_ca_link_kind_name(links[i].kind),
					  "from", links[i].from, "to",
					  links[i].to, "at", at));
		}
		cli_json_print(arr);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%-8s %s -> %s\n",
			       jpki_ca_link_kind_name(links[i].kind),
			       links[i].from, links[i].to);
		if (n == 0)
			printf("no linking records for %s\n", argv[1]);
	}
	r = CLI_OK;
out:
	free(links);
	jpki_ca_free(ca);
	jpki_store_free(st);
	return r;
}

static int verb_crl(struct cli *cli, int argc, char **argv)
{
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	char **scopes = NULL;
	size_t n = 0, count = 0, deltas = 0;
	int force = 0, json = 0, r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else
			return cli_usage("usage: jpki ca crl [--force] "
					 "[--json]");
	}
	if ((r = cli_ca_open(&ca, &st, cli)) != 0)
		return cli_fail(r, "open CA");
	/* the deltas after the full CRLs: against the new ones (crl_delta) */
	if ((r = jpki_ca_crl_refresh(ca, force, &count)) != 0 ||
	    (r = jpki_ca_crl_delta_refresh(ca, &deltas)) != 0 ||
	    (r = jpki_ca_crl_scopes(&scopes, &n, ca)) != 0) {
		r = cli_fail(r, "ca crl");
		goto out;
	}
	if (json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++) {
			char *url = NULL;

			if (asprintf(&url, "%s/crl/%s.crl",
				     jpki_ca_public_url(ca), scopes[i]) < 0)
				url = NULL;
			json_array_append_new(arr,
					      json_pack("{s:s, s:s}", "scope",
							scopes[i], "url",
							url ? url : ""));
			free(url);
		}
		cli_json_print(json_pack("{s:i, s:i, s:o}", "regenerated",
					 (int)count, "deltas", (int)deltas,
					 "crls", arr));
	} else {
		printf("regenerated %zu CRL(s)\n", count);
		if (deltas > 0)
			printf("issued %zu delta CRL(s)\n", deltas);
		for (size_t i = 0; i < n; i++)
			printf("  %s/crl/%s.crl\n", jpki_ca_public_url(ca),
			       scopes[i]);
	}
	r = CLI_OK;
out:
	jpki_ca_scopes_free(scopes, n);
	jpki_ca_free(ca);
	jpki_store_free(st);
	return r;
}

static int verb_show(struct cli *cli, int argc, char **argv)
{
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	int json = argc == 2 && strcmp(argv[1], "--json") == 0;
	json_t *arr = json_array();
	int r;

	if (argc != 1 && !json)
		return cli_usage("usage: jpki ca show [--json]");
	if ((r = cli_ca_open(&ca, &st, cli)) != 0) {
		json_decref(arr);
		return cli_fail(r, "open CA");
	}
	for (int t = JPKI_CERT_SIGN; t <= JPKI_CERT_AUTH; t++) {
		X509 *cert = jpki_ca_cert(ca, (enum jpki_cert_type)t);
		char fp[96], *dn, nb[32], na[32], crl[40];
		int gen = jpki_ca_generation(ca, (enum jpki_cert_type)t);
		struct tm tm;

		/* the current generation's full CRL ("sign-2" after a
		 * rollover) */
		if (gen > 1)
			snprintf(crl, sizeof(crl), "/crl/%s-%d.crl",
				 type_name((enum jpki_cert_type)t), gen);
		else
			snprintf(crl, sizeof(crl), "/crl/%s.crl",
				 type_name((enum jpki_cert_type)t));

		jpki_profile_fingerprint(fp, cert);
		dn = X509_NAME_oneline(X509_get_subject_name(cert), NULL, 0);
		ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm);
		cli_time(nb, timegm(&tm));
		ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm);
		cli_time(na, timegm(&tm));
		if (json) {
			json_array_append_new(
				arr,
				json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s+, "
					  "s:s+}",
					  "type",
					  type_name((enum jpki_cert_type)t),
					  "generation", gen,
					  "subject", dn ? dn : "",
					  "sha256_fingerprint", fp,
					  "not_before", nb, "not_after", na,
					  "ocsp_url", jpki_ca_public_url(ca),
					  t == JPKI_CERT_SIGN ? "/ocsp/sign"
							      : "/ocsp/auth",
					  "crl_url", jpki_ca_public_url(ca),
					  crl));
		} else {
			printf("%s CA, generation %d\n  subject: %s\n"
			       "  SHA-256: %s\n"
			       "  valid:   %s .. %s\n"
			       "  OCSP:    %s/ocsp/%s\n"
			       "  CRL:     %s%s\n",
			       t == JPKI_CERT_SIGN ? "signing"
						   : "user authentication",
			       gen, dn ? dn : "", fp, nb, na,
			       jpki_ca_public_url(ca),
			       type_name((enum jpki_cert_type)t),
			       jpki_ca_public_url(ca), crl);
		}
		OPENSSL_free(dn);
	}
	if (json)
		cli_json_print(arr);
	else
		json_decref(arr);
	jpki_ca_free(ca);
	jpki_store_free(st);
	return CLI_OK;
}

static int verb_cert(struct cli *cli, int argc, char **argv)
{
	struct jpki_store *st = NULL;
	struct jpki_ca *ca = NULL;
	enum jpki_cert_type type;
	int ocsp = argc == 3 && strcmp(argv[2], "--ocsp") == 0;
	int r;

	if ((argc != 2 && !ocsp) || jpki_ca_type_parse(&type, argv[1]) != 0)
		return cli_usage("usage: jpki ca cert sign|auth [--ocsp]");
	if ((r = cli_ca_open(&ca, &st, cli)) != 0)
		return cli_fail(r, "open CA");
	PEM_write_X509(stdout, ocsp ? jpki_ca_ocsp_cert(ca, type)
				    : jpki_ca_cert(ca, type));
	jpki_ca_free(ca);
	jpki_store_free(st);
	return CLI_OK;
}

/* jpki ca rollover --type sign|auth|both: a CA officer's act. */
static int verb_rollover(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
		{"type", required_argument, NULL, 't'}, OFFICE_OPTIONS,
		{NULL, 0, NULL, 0}};
	struct office_login l = {0};
	struct jpki_ca_rollover_options opts = JPKI_CA_ROLLOVER_OPTIONS_INIT;
	struct office of;
	const char *type = NULL;
	char *keys = NULL;
	int c, r, both;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1) {
		if (c != 't')
			return CLI_USAGE;
		type = optarg;
	}
	if (optind != argc || type == NULL)
		return cli_usage("usage: jpki ca rollover --type "
				 "sign|auth|both --operator ID");
	both = strcmp(type, "both") == 0;
	if (!both && strcmp(type, "sign") != 0 && strcmp(type, "auth") != 0)
		return cli_usage("--type is sign, auth or both, not '%s'",
				 type);
	if ((r = office_open(&of, cli, &l, 1)) != CLI_OK)
		return r;
	if (asprintf(&keys, "%s/keys", cli->data_dir) < 0) {
		office_close(&of);
		return cli_fail(JPKI_ERR_NOMEM, "ca rollover");
	}
	opts.key_dir = keys;
	r = CLI_OK;
	for (int t = JPKI_CERT_SIGN; t <= JPKI_CERT_AUTH && r == CLI_OK;
	     t++) {
		enum jpki_cert_type ty = (enum jpki_cert_type)t;
		char fp[96];
		int e;

		if (!both && strcmp(type, type_name(ty)) != 0)
			continue;
		if ((e = jpki_ca_rollover(of.ca, &of.actor, ty, &opts)) != 0) {
			r = cli_fail(e, "ca rollover");
			break;
		}
		jpki_profile_fingerprint(fp, jpki_ca_cert(of.ca, ty));
		printf("the %s CA rolled over to generation %d\n"
		       "  SHA-256: %s\n"
		       "  published: %s/ca/%s-%d.crt, link certificates\n"
		       "    %s/ca/%s-link-%d-%d.crt (old key certifies new)\n"
		       "    %s/ca/%s-link-%d-%d.crt (new key certifies old)\n",
		       type_name(ty), jpki_ca_generation(of.ca, ty), fp,
		       jpki_ca_public_url(of.ca), type_name(ty),
		       jpki_ca_generation(of.ca, ty),
		       jpki_ca_public_url(of.ca), type_name(ty),
		       jpki_ca_generation(of.ca, ty) - 1,
		       jpki_ca_generation(of.ca, ty),
		       jpki_ca_public_url(of.ca), type_name(ty),
		       jpki_ca_generation(of.ca, ty),
		       jpki_ca_generation(of.ca, ty) - 1);
	}
	if (r == CLI_OK)
		printf("restart every `jpki serve` of this store: they issue "
		       "under the generation they opened\n");
	free(keys);
	office_close(&of);
	return r;
}

/* jpki ca retire: the earlier generations whose certificates expired. */
static int verb_retire(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {OFFICE_OPTIONS, {NULL, 0, NULL, 0}};
	struct office_login l = {0};
	struct office of;
	size_t n = 0;
	int r;

	optind = 0;
	if (office_getopt(&l, argc, argv, o) != -1 || optind != argc)
		return cli_usage("usage: jpki ca retire --operator ID");
	if ((r = office_open(&of, cli, &l, 1)) != CLI_OK)
		return r;
	if ((r = jpki_ca_retire(&n, of.ca, &of.actor)) != 0)
		r = cli_fail(r, "ca retire");
	else
		printf("retired %zu CA generation(s)\n", n);
	office_close(&of);
	return r;
}

int cli_ca(struct cli *cli, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (verb == NULL) {
		ca_usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 ||
	    strcmp(verb, "help") == 0) {
		ca_usage(stdout);
		return CLI_OK;
	}
	argc--;
	argv++;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			ca_usage(stdout);
			return CLI_OK;
		}
	if (strcmp(verb, "init") == 0)
		return verb_init(cli, argc, argv);
	if (strcmp(verb, "issue") == 0)
		return verb_issue(cli, argc, argv);
	if (strcmp(verb, "issue-batch") == 0)
		return verb_issue_batch(cli, argc, argv);
	if (strcmp(verb, "renew") == 0)
		return verb_renew(cli, argc, argv);
	if (strcmp(verb, "revoke") == 0)
		return verb_change(cli, argc, argv, VERB_REVOKE);
	if (strcmp(verb, "hold") == 0)
		return verb_change(cli, argc, argv, VERB_HOLD);
	if (strcmp(verb, "release") == 0)
		return verb_change(cli, argc, argv, VERB_RELEASE);
	if (strcmp(verb, "status") == 0)
		return verb_status(cli, argc, argv);
	if (strcmp(verb, "list") == 0)
		return verb_list(cli, argc, argv);
	if (strcmp(verb, "links") == 0)
		return verb_links(cli, argc, argv);
	if (strcmp(verb, "crl") == 0)
		return verb_crl(cli, argc, argv);
	if (strcmp(verb, "show") == 0)
		return verb_show(cli, argc, argv);
	if (strcmp(verb, "cert") == 0)
		return verb_cert(cli, argc, argv);
	if (strcmp(verb, "rollover") == 0)
		return verb_rollover(cli, argc, argv);
	if (strcmp(verb, "retire") == 0)
		return verb_retire(cli, argc, argv);
	return cli_usage("unknown verb 'ca %s'", verb);
}
