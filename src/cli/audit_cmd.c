/*
 * `jpki operator add | disable | enable | unlock | password | sessions` and
 * `jpki audit verify | show`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/office.h"

static int operator_add(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    OFFICE_OPTIONS,
	    {"role", required_argument, NULL, 'r'},
	    {"municipality-code", required_argument, NULL, 'C'},
	    {"office", required_argument, NULL, 'f'},
	    {"new-password-file", required_argument, NULL, 'N'},
	    {NULL, 0, NULL, 0}};
	struct office_login l = {0};
	const char *code = "", *new_file = NULL, *office = NULL;
	enum jpki_role role = 0;
	char password[256];
	struct office of;
	int c, r, bootstrap;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1) {
		if (c == 'r') {
			if ((r = jpki_audit_role_parse(&role, optarg)) != 0)
				return cli_fail(r, "--role");
		} else if (c == 'C') {
			code = optarg;
		} else if (c == 'N') {
			new_file = optarg;
		} else if (c == 'f') {
			office = optarg;
		} else {
			return CLI_USAGE;
		}
	}
	if (optind != argc - 1 || role == 0)
		return cli_usage("usage: jpki operator add ID --role ROLE");
	if (office != NULL && role != JPKI_ROLE_WINDOW_CLERK)
		return cli_usage("--office is a window clerk's");
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
	/* the office must be one of the operator's municipality, which
	 * only the window module knows */
	if (office != NULL && !bootstrap) {
		struct jpki_office where;

		if ((r = jpki_window_office_get(&where, of.st, office)) != 0 ||
		    (strcmp(where.municipality_code, code) != 0 &&
		     (r = jpki_err_set(JPKI_ERR_INVALID,
				       "office %s is not of municipality %s",
				       office, code)) != 0)) {
			office_close(&of);
			return cli_fail(r, "--office");
		}
	}
	if ((r = cli_read_secret(password, sizeof(password), new_file,
				 "JPKI_NEW_OPERATOR_PASSWORD",
				 "the new operator's password")) == 0)
		r = jpki_audit_operator_add(of.st, bootstrap ? NULL : &of.actor,
					    argv[optind], role, code, password);
	if (r == 0 && office != NULL)
		r = jpki_audit_operator_set_office(of.st, &of.actor,
						   argv[optind], office);
	jpki_wipe(password, sizeof(password));
	office_close(&of);
	if (r != 0)
		return cli_fail(r, "operator add");
	printf("operator %s added as %s%s%s%s%s\n", argv[optind],
	       jpki_audit_role_name(role), code[0] ? " of " : "", code,
	       office ? " at " : "", office ? office : "");
	return CLI_OK;
}

static const char operator_usage[] =
    "usage: jpki operator VERB ... --operator BY [--password-file F]\n"
    "  add ID --role ROLE [--municipality-code C] [--office CODE]\n"
    "      [--new-password-file F]   a window clerk works at --office (a\n"
    "      branch; left out: the municipality's main office)\n"
    "      ROLE: registry-clerk, window-clerk, ca-officer, auditor. The\n"
    "      very first operator is added without --operator.\n"
    "  disable ID | enable ID   refuse / allow its log-ins (disabling ends\n"
    "      its sessions)\n"
    "  unlock ID                lift the lock after too many failed log-ins\n"
    "  password ID [--new-password-file F]   a new password (ends its\n"
    "      sessions); an operator may set their own\n"
    "  sessions [ID]            list live sessions\n"
    "  sessions --end ID        end all of an operator's sessions\n"
    "  A new password: the file, $JPKI_NEW_OPERATOR_PASSWORD, or asked\n"
    "  for (10 characters or more). BY logs in with the file,\n"
    "  $JPKI_OPERATOR_PASSWORD, or asked for. Every verb but add and\n"
    "  sessions needs a CA officer; sessions, a CA officer or an auditor.\n";

/* The verbs after add: one operator ID (sessions: optional), office
 * options, --new-password-file for password, --end for sessions. */
static int operator_manage(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    OFFICE_OPTIONS,
	    {"new-password-file", required_argument, NULL, 'N'},
	    {"end", no_argument, NULL, 'E'},
	    {NULL, 0, NULL, 0}};
	struct office_login l = {0};
	const char *verb = argv[0], *new_file = NULL, *id;
	int c, r = 0, end = 0, sessions = strcmp(verb, "sessions") == 0;
	struct office of;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1) {
		if (c == 'N' && strcmp(verb, "password") == 0)
			new_file = optarg;
		else if (c == 'E' && sessions)
			end = 1;
		else
			return CLI_USAGE;
	}
	if (optind < argc - 1 || (optind == argc && (!sessions || end)))
		return cli_usage("usage: jpki operator %s%s", verb,
				 sessions ? " [ID] | sessions --end ID"
					  : " ID");
	id = optind < argc ? argv[optind] : NULL;
	if ((r = office_open(&of, cli, &l, 0)) != CLI_OK)
		return r;
	if (strcmp(verb, "disable") == 0 || strcmp(verb, "enable") == 0) {
		r = jpki_audit_operator_disable(of.st, &of.actor, id,
						verb[0] == 'd');
		if (r == 0)
			printf("operator %s %s\n", id,
			       verb[0] == 'd' ? "disabled; its sessions ended"
					      : "enabled");
	} else if (strcmp(verb, "unlock") == 0) {
		if ((r = jpki_audit_operator_unlock(of.st, &of.actor, id)) == 0)
			printf("operator %s unlocked\n", id);
	} else if (strcmp(verb, "password") == 0) {
		char password[256];

		if ((r = cli_read_secret(password, sizeof(password), new_file,
					 "JPKI_NEW_OPERATOR_PASSWORD",
					 "the new password")) == 0)
			r = jpki_audit_operator_password(of.st, &of.actor, id,
							 password);
		jpki_wipe(password, sizeof(password));
		if (r == 0)
			printf("operator %s has a new password; its sessions "
			       "ended\n",
			       id);
	} else if (end) {
		size_t ended = 0;

		if ((r = jpki_audit_sessions_end(&ended, of.st, &of.actor,
						 id)) == 0)
			printf("%zu session%s of %s ended\n", ended,
			       ended == 1 ? "" : "s", id);
	} else {
		struct jpki_audit_session_info *list = NULL;
		size_t n = 0;

		if ((r = jpki_audit_sessions(&list, &n, of.st, &of.actor,
					     id)) == 0) {
			for (size_t i = 0; i < n; i++) {
				char a[32], b[32];
				struct tm tm;

				strftime(a, sizeof(a), "%Y-%m-%dT%H:%M:%SZ",
					 gmtime_r(&list[i].created_at, &tm));
				strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ",
					 gmtime_r(&list[i].expires_at, &tm));
				printf("%s  %-20s  since %s  until %s\n",
				       list[i].id, list[i].operator_id, a, b);
			}
			printf("%zu session%s\n", n, n == 1 ? "" : "s");
		}
		free(list);
	}
	office_close(&of);
	return r != 0 ? cli_fail(r, verb) : CLI_OK;
}

int cli_operator(struct cli *cli, int argc, char **argv)
{
	static const char *const verbs[] = {"disable", "enable", "unlock",
					    "password", "sessions"};

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(operator_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(argv[1], "add") == 0)
		return operator_add(cli, argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i]) == 0)
			return operator_manage(cli, argc - 1, argv + 1);
	fputs(operator_usage, stderr);
	return CLI_USAGE;
}

static void iso_utc(char out[32], time_t t)
{
	struct tm tm;

	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

/* Text from the chain onto a terminal: control characters (an escape
 * sequence someone managed to get recorded) shown as '?'. */
static void put_plain(const char *s)
{
	for (; *s != '\0'; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static int show_text(void *ctx, const struct jpki_audit_entry *e)
{
	char at[32];

	(void)ctx;
	iso_utc(at, e->at);
	printf("%lld  %s  ", (long long)e->seq, at);
	put_plain(e->operator_id);
	printf(" (%s%s", jpki_audit_role_name(e->role),
	       e->municipality[0] ? " " : "");
	put_plain(e->municipality);
	fputs(")  ", stdout);
	put_plain(e->action);
	fputs("  ", stdout);
	put_plain(e->subject);
	if (e->detail != NULL) {
		fputs("  ", stdout);
		put_plain(e->detail);
	}
	putchar('\n');
	return 0;
}

static int show_json(void *ctx, const struct jpki_audit_entry *e)
{
	json_t *list = ctx, *o;
	char at[32];

	iso_utc(at, e->at);
	o = json_pack(
	    "{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:o?, s:s}", "seq",
	    (json_int_t)e->seq, "at", at, "operator", e->operator_id, "role",
	    jpki_audit_role_name(e->role), "municipality", e->municipality,
	    "action", e->action, "subject", e->subject, "detail",
	    e->detail ? json_loads(e->detail, 0, NULL) : NULL, "hash", e->hash);
	if (o == NULL || json_array_append_new(list, o) != 0)
		return JPKI_ERR_NOMEM;
	return 0;
}

/* jpki audit show: the entries, filtered, to an auditor. */
static int audit_show(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    {"by", required_argument, NULL, 'O'},
	    {"password-file", required_argument, NULL, 'W'},
	    {"operator", required_argument, NULL, 'o'},
	    {"municipality", required_argument, NULL, 'm'},
	    {"action", required_argument, NULL, 'a'},
	    {"since", required_argument, NULL, 's'},
	    {"until", required_argument, NULL, 'u'},
	    {"limit", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0}};
	struct jpki_audit_filter f = {0};
	struct office_login l = {0};
	json_t *list = NULL;
	struct office of;
	char *end;
	int c, r, json = 0;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1) {
		switch (c) {
		case 'o':
			f.operator_id = optarg;
			break;
		case 'm':
			f.municipality = optarg;
			break;
		case 'a':
			f.action = optarg;
			break;
		case 's':
		case 'u':
			if (jpki_clock_parse(c == 's' ? &f.since : &f.until,
					     optarg) != 0)
				return cli_usage(
				    "--%s takes a time: 2026-01-10, "
				    "2026-01-10T09:00:00 (Japan) or "
				    "2026-01-10T00:00:00Z",
				    c == 's' ? "since" : "until");
			break;
		case 'n':
			f.limit = strtoul(optarg, &end, 10);
			if (*end != '\0' || optarg[0] == '-' || f.limit == 0)
				return cli_usage("--limit takes a count");
			break;
		case 'j':
			json = 1;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage(
		    "usage: jpki audit show [--operator ID] [--municipality C]"
		    " [--action A|PREFIX*]\n"
		    "       [--since T] [--until T] [--limit N] [--json] --by "
		    "AUDITOR [--password-file F]");
	if ((r = office_open(&of, cli, &l, 0)) != CLI_OK)
		return r;
	if (json && (list = json_array()) == NULL) {
		office_close(&of);
		return cli_fail(JPKI_ERR_NOMEM, "audit show");
	}
	r = jpki_audit_show(of.st, &of.actor, &f, json ? show_json : show_text,
			    list);
	office_close(&of);
	if (r != 0) {
		json_decref(list);
		return cli_fail(r, "audit show");
	}
	if (json)
		cli_json_print(list);
	return CLI_OK;
}

int cli_audit(struct cli *cli, int argc, char **argv)
{
	struct jpki_audit_report rep;
	struct jpki_store *st = NULL;
	int json = argc == 3 && strcmp(argv[2], "--json") == 0, r;

	if (argc >= 2 && strcmp(argv[1], "show") == 0)
		return audit_show(cli, argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "verify") != 0 ||
	    (argc == 3 && !json) || argc > 3)
		return cli_usage(
		    "usage: jpki audit verify [--json]\n"
		    "       jpki audit show [filters] --by AUDITOR "
		    "(jpki audit show --help)");
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
