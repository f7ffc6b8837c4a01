/*
 * `jpki verifier add | list | remove | usage`: the CA officer's register of
 * relying parties (docs/RELYING_PARTY.md, "Registration"); and
 * `jpki verifier link`, the look-up as a verifier makes it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "cli/office.h"
#include "jpki/verify.h"

static const char verifier_usage[] =
    "usage: jpki verifier VERB ...\n"
    "  add NAME --cert FILE --purpose sign|auth   register a relying\n"
    "      party by its TLS client certificate (PEM or DER); sign: a\n"
    "      signature verifier (署名検証者), revocation and linking of\n"
    "      signing certificates; auth: a user-authentication verifier\n"
    "      (利用者証明検証者), those of authentication certificates\n"
    "  remove NAME          refuse it from now on (its usage is kept)\n"
    "  list [--json]        every verifier\n"
    "  usage [--day YYYY-MM-DD] [--json]   answered queries per\n"
    "      verifier, day (Japan) and kind (ocsp, crl, link)\n"
    "  add, remove, list and usage act as a CA officer (list and usage:\n"
    "  also an auditor): --operator ID [--password-file F]\n"
    "  link SERIAL --issuer-key-id HEX --url URL --ca-cert FILE\n"
    "       [--cert FILE --key FILE] [--tls-ca FILE] [--out FILE] "
    "[--json]\n"
    "      ask the service which certificate replaced SERIAL, as a\n"
    "      registered verifier (--cert, --key: its client certificate);\n"
    "      the signed answer is checked against the CA certificate\n"
    "      FILE before it is printed, and kept in --out (CMS, DER)\n";

static json_t *verifier_json(const struct jpki_verifier *v)
{
	char added[32], na[32];

	cli_time(added, v->added_at);
	cli_time(na, v->not_after);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "name", v->name,
			 "purpose", v->purpose == JPKI_CERT_SIGN ? "sign" : "auth",
			 "fingerprint", v->fingerprint, "subject", v->subject,
			 "not_after", na, "added_at", added, "added_by",
			 v->added_by, "enabled", v->enabled);
}

/* Opens the store with the verifier tables and logs the operator in. */
static int open_office(struct office *of, struct cli *cli,
		       const struct office_login *l)
{
	int r;

	if ((r = office_open(of, cli, l, 0)) != CLI_OK)
		return r;
	if ((r = jpki_ca_verifier_migrate(of->st)) != 0) {
		office_close(of);
		return cli_fail(r, "store");
	}
	return CLI_OK;
}

static int verb_add(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    OFFICE_OPTIONS,
	    {"cert", required_argument, NULL, 'c'},
	    {"purpose", required_argument, NULL, 'p'},
	    {NULL, 0, NULL, 0}};
	struct office_login l = {0};
	const char *file = NULL;
	enum jpki_cert_type purpose = 0;
	unsigned char *data = NULL;
	size_t len = 0;
	struct office of;
	int c, r;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1) {
		if (c == 'c')
			file = optarg;
		else if (c == 'p') {
			if (jpki_ca_type_parse(&purpose, optarg) != 0)
				return cli_usage("--purpose is sign or auth");
		} else
			return CLI_USAGE;
	}
	if (optind != argc - 1 || file == NULL || purpose == 0)
		return cli_usage("usage: jpki verifier add NAME --cert FILE "
				 "--purpose sign|auth");
	if ((r = jpki_file_read(&data, &len, file, JPKI_MAX_CSR)) != 0)
		return cli_fail(r, "--cert");
	if ((r = open_office(&of, cli, &l)) != CLI_OK) {
		free(data);
		return r;
	}
	r = jpki_ca_verifier_add(of.st, &of.actor, argv[optind], purpose, data,
				 len);
	free(data);
	office_close(&of);
	if (r != 0)
		return cli_fail(r, "verifier add");
	printf("verifier %s registered for %s certificates\n", argv[optind],
	       purpose == JPKI_CERT_SIGN ? "signing" : "authentication");
	return CLI_OK;
}

static int verb_remove(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {OFFICE_OPTIONS, {NULL, 0, NULL, 0}};
	struct office_login l = {0};
	struct office of;
	int c, r;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1)
		return CLI_USAGE;
	if (optind != argc - 1)
		return cli_usage("usage: jpki verifier remove NAME");
	if ((r = open_office(&of, cli, &l)) != CLI_OK)
		return r;
	r = jpki_ca_verifier_remove(of.st, &of.actor, argv[optind]);
	office_close(&of);
	if (r != 0)
		return cli_fail(r, "verifier remove");
	printf("verifier %s removed\n", argv[optind]);
	return CLI_OK;
}

/* A read of the register: a CA officer's or an auditor's. */
static int may_read(const struct office *of)
{
	return jpki_audit_authorize_read(
	    &of->actor,
	    JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_CA_OFFICER) |
		JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_AUDITOR),
	    NULL);
}

static int verb_list(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {OFFICE_OPTIONS,
					  {"json", no_argument, NULL, 'j'},
					  {NULL, 0, NULL, 0}};
	struct office_login l = {0};
	struct jpki_verifier *v = NULL;
	struct office of;
	size_t n = 0;
	int c, r, json = 0;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1) {
		if (c == 'j')
			json = 1;
		else
			return CLI_USAGE;
	}
	if (optind != argc)
		return cli_usage("usage: jpki verifier list [--json]");
	if ((r = open_office(&of, cli, &l)) != CLI_OK)
		return r;
	if ((r = may_read(&of)) == 0)
		r = jpki_ca_verifier_list(&v, &n, of.st);
	office_close(&of);
	if (r != 0)
		return cli_fail(r, "verifier list");
	if (json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, verifier_json(&v[i]));
		cli_json_print(a);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%-20s %-4s %s  %s%s\n", v[i].name,
			       v[i].purpose == JPKI_CERT_SIGN ? "sign" : "auth",
			       v[i].fingerprint, v[i].subject,
			       v[i].enabled ? "" : "  (removed)");
		if (n == 0)
			printf("no verifier is registered\n");
	}
	free(v);
	return CLI_OK;
}

static int verb_usage(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {OFFICE_OPTIONS,
					  {"day", required_argument, NULL, 'd'},
					  {"json", no_argument, NULL, 'j'},
					  {NULL, 0, NULL, 0}};
	struct office_login l = {0};
	struct jpki_verifier_usage *u = NULL;
	struct jpki_date day;
	struct office of;
	size_t n = 0;
	int c, r, json = 0, have_day = 0;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 'd') {
			if (jpki_date_parse(&day, optarg) != 0)
				return cli_usage("--day is YYYY-MM-DD");
			have_day = 1;
		} else {
			return CLI_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage("usage: jpki verifier usage [--day DATE] "
				 "[--json]");
	if ((r = open_office(&of, cli, &l)) != CLI_OK)
		return r;
	if ((r = may_read(&of)) == 0)
		r = jpki_ca_verifier_usage(&u, &n, of.st,
					   have_day ? &day : NULL);
	office_close(&of);
	if (r != 0)
		return cli_fail(r, "verifier usage");
	if (json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(
			    a, json_pack("{s:s,s:s,s:s,s:I}", "verifier",
					 u[i].verifier, "day", u[i].day, "query",
					 jpki_ca_query_name(u[i].query), "count",
					 (json_int_t)u[i].count));
		cli_json_print(a);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%s  %-20s %-5s %lld\n", u[i].day,
			       u[i].verifier, jpki_ca_query_name(u[i].query),
			       (long long)u[i].count);
		if (n == 0)
			printf("no query was counted\n");
	}
	free(u);
	return CLI_OK;
}

static int verb_link(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    {"issuer-key-id", required_argument, NULL, 'i'},
	    {"url", required_argument, NULL, 'u'},
	    {"ca-cert", required_argument, NULL, 'a'},
	    {"cert", required_argument, NULL, 'c'},
	    {"key", required_argument, NULL, 'k'},
	    {"tls-ca", required_argument, NULL, 't'},
	    {"out", required_argument, NULL, 'o'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0}};
	struct jpki_verify_link_options lo = JPKI_VERIFY_LINK_OPTIONS_INIT;
	const char *ca_file = NULL, *out = NULL;
	unsigned char *der = NULL;
	char *body = NULL;
	size_t len = 0;
	json_t *a = NULL;
	X509 *ca = NULL;
	FILE *f;
	int c, r, json = 0;

	(void)cli;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (c) {
		case 'i':
			lo.issuer_key_id = optarg;
			break;
		case 'u':
			lo.url = optarg;
			break;
		case 'a':
			ca_file = optarg;
			break;
		case 'c':
			lo.client_cert = optarg;
			break;
		case 'k':
			lo.client_key = optarg;
			break;
		case 't':
			lo.tls_ca = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'j':
			json = 1;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc - 1 || lo.issuer_key_id == NULL || lo.url == NULL ||
	    ca_file == NULL)
		return cli_usage("usage: jpki verifier link SERIAL "
				 "--issuer-key-id HEX --url URL --ca-cert "
				 "FILE [--cert FILE --key FILE]");
	lo.serial = argv[optind];
	if ((f = fopen(ca_file, "r")) == NULL ||
	    (ca = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		if (f != NULL)
			fclose(f);
		return cli_fail(jpki_err_set(JPKI_ERR_INVALID,
					     "%s is not a PEM certificate",
					     ca_file),
				"--ca-cert");
	}
	fclose(f);
	lo.ca = ca;
	r = jpki_verify_link_lookup(&body, &der, &len, &lo);
	X509_free(ca);
	lo.ca = NULL;
	if (r != 0)
		return cli_fail(r, "verifier link");
	if (out != NULL &&
	    (r = jpki_file_write_atomic(out, der, len, 0644)) != 0) {
		free(body);
		free(der);
		return cli_fail(r, "--out");
	}
	free(der);
	if (json) {
		printf("%s\n", body);
	} else if ((a = json_loads(body, 0, NULL)) != NULL) {
		json_t *cur = json_object_get(a, "current");
		json_t *last = json_object_get(a, "last");
		size_t i;
		json_t *l;

		printf("%s certificate %s (signature verified with %s)\n",
		       json_string_value(json_object_get(a, "type")),
		       json_string_value(json_object_get(a, "serial")),
		       ca_file);
		json_array_foreach(json_object_get(a, "links"), i, l)
			printf("  %s -> %s  %s, %s, %s\n",
			       json_string_value(json_object_get(l, "from")),
			       json_string_value(json_object_get(l, "to")),
			       json_string_value(json_object_get(l, "kind")),
			       json_string_value(json_object_get(l, "reason"))
				   ?: "-",
			       json_string_value(json_object_get(l, "at")));
		if (json_is_object(cur))
			printf("current: %s (%s)\n",
			       json_string_value(json_object_get(cur, "serial")),
			       json_string_value(json_object_get(cur, "status")));
		else
			printf("current: none (%s revoked: %s, %s)\n",
			       json_string_value(json_object_get(last, "serial")),
			       json_string_value(json_object_get(last, "reason"))
				   ?: "-",
			       json_string_value(
				   json_object_get(last, "revoked_at"))
				   ?: "-");
		json_decref(a);
	}
	free(body);
	return CLI_OK;
}

int cli_verifier(struct cli *cli, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "";

	if (strcmp(verb, "add") == 0)
		return verb_add(cli, argc - 1, argv + 1);
	if (strcmp(verb, "remove") == 0)
		return verb_remove(cli, argc - 1, argv + 1);
	if (strcmp(verb, "list") == 0)
		return verb_list(cli, argc - 1, argv + 1);
	if (strcmp(verb, "usage") == 0)
		return verb_usage(cli, argc - 1, argv + 1);
	if (strcmp(verb, "link") == 0)
		return verb_link(cli, argc - 1, argv + 1);
	if (strcmp(verb, "help") == 0 || strcmp(verb, "--help") == 0) {
		fputs(verifier_usage, stdout);
		return CLI_OK;
	}
	fputs(verifier_usage, stderr);
	return CLI_USAGE;
}
