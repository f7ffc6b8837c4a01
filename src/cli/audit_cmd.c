/* `jpki operator add` and `jpki audit verify`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/office.h"

int cli_operator(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    OFFICE_OPTIONS,
	    {"role", required_argument, NULL, 'r'},
	    {"municipality-code", required_argument, NULL, 'C'},
	    {"new-password-file", required_argument, NULL, 'N'},
	    {NULL, 0, NULL, 0}};
	struct office_login l = {0};
	const char *code = "", *new_file = NULL;
	enum jpki_role role = 0;
	char password[256];
	struct office of;
	int c, r, bootstrap;

	if (argc < 2 || strcmp(argv[1], "add") != 0) {
		fputs("usage: jpki operator add ID --role ROLE "
		      "[--municipality-code C]\n"
		      "        [--new-password-file F] --operator BY\n"
		      "  ROLE: registry-clerk, window-clerk, ca-officer, "
		      "auditor. The very first\n"
		      "  operator is added without --operator. The new "
		      "password: the file,\n"
		      "  $JPKI_NEW_OPERATOR_PASSWORD, or asked for (10 "
		      "characters or more).\n",
		      argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	argc--;
	argv++;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (office_option(&l, c, optarg) == 0)
			continue;
		if (c == 'r') {
			if ((r = jpki_audit_role_parse(&role, optarg)) != 0)
				return cli_fail(r, "--role");
		} else if (c == 'C') {
			code = optarg;
		} else if (c == 'N') {
			new_file = optarg;
		} else {
			return CLI_USAGE;
		}
	}
	if (optind != argc - 1 || role == 0)
		return cli_usage("usage: jpki operator add ID --role ROLE");
	bootstrap = l.operator_id == NULL && getenv("JPKI_OPERATOR") == NULL;
	if (bootstrap) {
		memset(&of, 0, sizeof(of));
		if ((r = cli_store_open(&of.st, cli)) != 0 ||
		    (r = jpki_window_migrate(of.st)) != 0) {
			office_close(&of);
			return cli_fail(r, "store");
		}
	} else if ((r = office_open(&of, cli, &l, 0)) != CLI_OK) {
		return r;
	}
	if ((r = cli_read_secret(password, sizeof(password), new_file,
				 "JPKI_NEW_OPERATOR_PASSWORD",
				 "the new operator's password")) == 0)
		r = jpki_audit_operator_add(of.st, bootstrap ? NULL : &of.actor,
					    argv[optind], role, code, password);
	jpki_wipe(password, sizeof(password));
	office_close(&of);
	if (r != 0)
		return cli_fail(r, "operator add");
	printf("operator %s added as %s%s%s\n", argv[optind],
	       jpki_audit_role_name(role), code[0] ? " of " : "", code);
	return CLI_OK;
}

int cli_audit(struct cli *cli, int argc, char **argv)
{
	struct jpki_audit_report rep;
	struct jpki_store *st = NULL;
	int json = argc == 3 && strcmp(argv[2], "--json") == 0, r;

	if (argc < 2 || strcmp(argv[1], "verify") != 0 ||
	    (argc == 3 && !json) || argc > 3)
		return cli_usage("usage: jpki audit verify [--json]");
	if ((r = cli_store_open(&st, cli)) != 0 ||
	    (r = jpki_window_migrate(st)) != 0 ||
	    (r = jpki_audit_verify(&rep, st)) != 0) {
		jpki_store_free(st);
		return cli_fail(r, "audit verify");
	}
	jpki_store_free(st);
	if (json)
		cli_json_print(json_pack("{s:b, s:I, s:I, s:s}", "ok", rep.ok,
					 "entries", (json_int_t)rep.entries,
					 "bad_entry", (json_int_t)rep.bad_seq,
					 "why", rep.why));
	else if (rep.ok)
		printf("the audit chain holds: %llu entries\n",
		       (unsigned long long)rep.entries);
	else
		fprintf(stderr, "jpki: audit verify: %s\n", rep.why);
	return rep.ok ? CLI_OK : CLI_FAILED;
}
