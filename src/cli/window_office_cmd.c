/*
 * `jpki window office add | list | hours | capacity | counters`: the
 * offices of a municipality's window (本庁, 支所・出張所).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/office.h"

static const char office_usage[] =
    "usage: jpki window office VERB ... --operator ID\n"
    "  add CODE --municipality-code C --name NAME [--issue]\n"
    "      CODE: C itself for the main office (本庁), or C-XXXX for a\n"
    "      branch (支所・出張所), which issues certificates only with\n"
    "      --issue\n"
    "  list CODE [--json]            the offices of municipality CODE\n"
    "  hours OFFICE HH:MM HH:MM      its reception hours\n"
    "  capacity OFFICE PER_DAY       its certificates a day (0: no limit)\n"
    "  counters OFFICE N             its counters\n";

static json_t *office_json(const struct jpki_office *o)
{
	char open[16], close[16];

	snprintf(open, sizeof(open), "%02d:%02d", o->open_minute / 60,
		 o->open_minute % 60);
	snprintf(close, sizeof(close), "%02d:%02d", o->close_minute / 60,
		 o->close_minute % 60);
	return json_pack("{s:s, s:s, s:s, s:b, s:b, s:i, s:s, s:s, s:i}",
			 "code", o->code, "municipality_code",
			 o->municipality_code, "name", o->name, "main", o->main,
			 "may_issue", o->may_issue, "counters", o->counters,
			 "open", open, "close", close, "per_day", o->per_day);
}

static int parse_count(int *out, const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0 || v > 1000000)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "'%s' is not a number from 0 to 1000000",
				    s);
	*out = (int)v;
	return 0;
}

static int parse_minute(int *out, const char *s)
{
	int h, m;
	char extra;

	if (sscanf(s, "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 24 ||
	    m < 0 || m > 59 || h * 60 + m > 24 * 60)
		return jpki_err_set(JPKI_ERR_INVALID, "hours are HH:MM");
	*out = h * 60 + m;
	return 0;
}

int cli_window_office(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    OFFICE_OPTIONS,
	    {"municipality-code", required_argument, NULL, 'C'},
	    {"name", required_argument, NULL, 'n'},
	    {"issue", no_argument, NULL, 'i'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0}};
	static const struct {
		const char *verb;
		int args;
	} verbs[] = {{"add", 1},
		     {"list", 1},
		     {"hours", 3},
		     {"capacity", 2},
		     {"counters", 2}};
	struct office_login l = {0};
	const char *verb = argc > 1 ? argv[1] : NULL, *code = NULL,
		   *name = NULL;
	int c, r = 0, issue = 0, json = 0, nargs, known = 0, a, b;
	struct office of;
	char **args;

	if (verb == NULL || strcmp(verb, "--help") == 0) {
		fputs(office_usage, verb ? stdout : stderr);
		return verb ? CLI_OK : CLI_USAGE;
	}
	optind = 0;
	while ((c = office_getopt(&l, argc - 1, argv + 1, o)) != -1) {
		if (c == 'C')
			code = optarg;
		else if (c == 'n')
			name = optarg;
		else if (c == 'i')
			issue = 1;
		else if (c == 'j')
			json = 1;
		else
			return CLI_USAGE;
	}
	nargs = argc - 1 - optind;
	args = argv + 1 + optind;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verb, verbs[i].verb) == 0)
			known = nargs == verbs[i].args ? 1 : -1;
	if (known == 0)
		return cli_usage("unknown verb 'window office %s'", verb);
	if (known < 0)
		return cli_usage("wrong arguments for 'window office %s' (try "
				 "jpki window office --help)",
				 verb);
	if (strcmp(verb, "add") == 0 && (code == NULL || name == NULL))
		return cli_usage("office add needs --municipality-code and "
				 "--name");
	if ((r = office_open(&of, cli, &l, 0)) != CLI_OK)
		return r;
	r = 0;
	if (strcmp(verb, "add") == 0) {
		if ((r = jpki_window_office_add(of.st, &of.actor, args[0], code,
						name, issue)) == 0)
			printf("office %s (%s) added\n", args[0], name);
	} else if (strcmp(verb, "list") == 0) {
		struct jpki_office *list = NULL;
		size_t n = 0;

		if ((r = jpki_window_offices(&list, &n, of.st, args[0])) == 0) {
			json_t *arr = json_array();

			for (size_t i = 0; i < n; i++) {
				json_array_append_new(arr,
						      office_json(&list[i]));
				if (!json)
					printf("%-16s %s%s %02d:%02d-%02d:%02d"
					       " counters %d, %d a day%s%s\n",
					       list[i].code, list[i].name,
					       list[i].main ? " (main)" : "",
					       list[i].open_minute / 60,
					       list[i].open_minute % 60,
					       list[i].close_minute / 60,
					       list[i].close_minute % 60,
					       list[i].counters,
					       list[i].per_day,
					       list[i].per_day ? ""
							       : " (no limit)",
					       list[i].may_issue
						   ? ""
						   : ", no certificate issue");
			}
			if (json)
				cli_json_print(arr);
			else
				json_decref(arr);
		}
		free(list);
	} else if (strcmp(verb, "hours") == 0) {
		if ((r = parse_minute(&a, args[1])) == 0 &&
		    (r = parse_minute(&b, args[2])) == 0 &&
		    (r = jpki_window_set_hours(of.st, &of.actor, args[0], a,
					       b)) == 0)
			printf("reception hours of %s: %s-%s\n", args[0],
			       args[1], args[2]);
	} else if (strcmp(verb, "capacity") == 0) {
		if ((r = parse_count(&a, args[1])) == 0 &&
		    (r = jpki_window_set_capacity(of.st, &of.actor, args[0],
						  a)) == 0)
			printf("capacity of %s: %d a day\n", args[0], a);
	} else {
		if ((r = parse_count(&a, args[1])) == 0 &&
		    (r = jpki_window_set_counters(of.st, &of.actor, args[0],
						  a)) == 0)
			printf("%s has %d counters\n", args[0], a);
	}
	office_close(&of);
	return r != 0 ? cli_fail(r, verb) : CLI_OK;
}
