/* `jpki registry <verb>`: the resident register, for registry clerks. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/office.h"

static void registry_usage(FILE *f)
{
	fputs("usage: jpki registry <verb> [options] --operator ID\n"
	      "\n"
	      "  register --municipality-code NNNNNN --prefecture P\n"
	      "           --municipality M --name N --sex male|female|unknown\n"
	      "           --birth YYYY-MM-DD --address A [--guardianship]\n"
	      "  show PERSON [--json]\n"
	      "  find [--municipality-code C] [--name N] [--json]\n"
	      "  move PERSON --address A [--municipality-code C\n"
	      "       --prefecture P --municipality M]   (転居 / 転入)\n"
	      "  name PERSON NAME | birth PERSON DATE | sex PERSON SEX\n"
	      "  guardianship PERSON on|off\n"
	      "  death PERSON | remove PERSON\n"
	      "  events [--after SEQ] [--json]   the outbox the CA consumes\n"
	      "\n"
	      "The operator's password: --password-file F, "
	      "$JPKI_OPERATOR_PASSWORD,\nor asked for.\n",
	      f);
}

/* The words of the API and of --json (codec.h). */
static const char *sex_name(enum jpki_sex s)
{
	return jpki_codec_word(jpki_codec_sex_words, (int)s);
}

static int parse_sex(enum jpki_sex *out, const char *s)
{
	int v, r;

	if ((r = jpki_codec_word_parse(&v, jpki_codec_sex_words, s,
				       "--sex")) != 0)
		return r;
	*out = (enum jpki_sex)v;
	return 0;
}

static const char *status_name(enum jpki_resident_status s)
{
	return jpki_codec_word(jpki_codec_status_words, (int)s);
}

/* The resident's one JSON form (codec), as the API shows it. */
static json_t *resident_json(const struct jpki_resident *r)
{
	return jpki_codec_resident_encode(r);
}

static void print_resident(const struct jpki_resident *r)
{
	char born[64];

	jpki_profile_birth_format(&r->facts.birth, born);
	printf("%s  %s  %s %s%s (%s)\n  born %s, %s; %s%s\n", r->person,
	       r->facts.name, r->prefecture, r->municipality, r->facts.address,
	       r->municipality_code, born, sex_name(r->facts.sex),
	       status_name(r->status),
	       r->guardianship ? ", under guardianship" : "");
}

static int copy(char *dst, size_t size, const char *src, const char *what)
{
	if (src == NULL || strlen(src) >= size)
		return jpki_err_set(JPKI_ERR_INVALID, "%s is %s", what,
				    src ? "too long" : "missing");
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static int verb_register(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    OFFICE_OPTIONS,
	    {"municipality-code", required_argument, NULL, 'C'},
	    {"prefecture", required_argument, NULL, 'P'},
	    {"municipality", required_argument, NULL, 'M'},
	    {"name", required_argument, NULL, 'n'},
	    {"sex", required_argument, NULL, 's'},
	    {"birth", required_argument, NULL, 'b'},
	    {"address", required_argument, NULL, 'a'},
	    {"guardianship", no_argument, NULL, 'g'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0}};
	struct office_login l = {0};
	struct jpki_resident res;
	const char *code = NULL, *pref = NULL, *muni = NULL, *name = NULL,
		   *addr = NULL;
	char person[64];
	struct office of;
	int c, r = 0, json = 0;

	memset(&res, 0, sizeof(res));
	optind = 0;
	while (r == 0 && (c = office_getopt(&l, argc, argv, o)) != -1) {
		switch (c) {
		case 'C':
			code = optarg;
			break;
		case 'P':
			pref = optarg;
			break;
		case 'M':
			muni = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 's':
			r = parse_sex(&res.facts.sex, optarg);
			break;
		case 'b':
			r = jpki_date_parse(&res.facts.birth, optarg);
			break;
		case 'a':
			addr = optarg;
			break;
		case 'g':
			res.guardianship = 1;
			break;
		case 'j':
			json = 1;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (r != 0)
		return cli_fail(r, "register");
	if (optind != argc || res.facts.sex == 0 || res.facts.birth.year == 0)
		return cli_usage("register needs --municipality-code, "
				 "--prefecture, --municipality, --name, --sex, "
				 "--birth and --address");
	if ((r = copy(res.municipality_code, sizeof(res.municipality_code),
		      code, "--municipality-code")) != 0 ||
	    (r = copy(res.prefecture, sizeof(res.prefecture), pref,
		      "--prefecture")) != 0 ||
	    (r = copy(res.municipality, sizeof(res.municipality), muni,
		      "--municipality")) != 0 ||
	    (r = jpki_profile_name_normalize(res.facts.name,
					     sizeof(res.facts.name),
					     name ? name : "")) != 0 ||
	    (r = copy(res.facts.address, sizeof(res.facts.address), addr,
		      "--address")) != 0)
		return cli_fail(r, "register");
	if ((r = office_open(&of, cli, &l, 0)) != CLI_OK)
		return r;
	if ((r = jpki_registry_register(person, of.st, &of.actor, &res)) != 0)
		r = cli_fail(r, "register");
	else if (json)
		cli_json_print(json_pack("{s:s}", "person", person));
	else
		printf("registered %s as %s\n", res.facts.name, person);
	office_close(&of);
	return r == 0 ? CLI_OK : r;
}

static int verb_show(struct cli *cli, int argc, char **argv, int find)
{
	static const struct option o[] = {
	    OFFICE_OPTIONS,
	    {"municipality-code", required_argument, NULL, 'C'},
	    {"name", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0}};
	struct office_login l = {0};
	const char *code = NULL, *name = NULL;
	struct jpki_resident one, *list = NULL;
	size_t n = 0;
	struct office of;
	int c, r, json = 0;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1) {
		if (c == 'C')
			code = optarg;
		else if (c == 'n')
			name = optarg;
		else if (c == 'j')
			json = 1;
		else
			return CLI_USAGE;
	}
	if (find ? optind != argc : optind != argc - 1)
		return cli_usage(find ? "usage: jpki registry find "
					"[--municipality-code C] [--name N]"
				      : "usage: jpki registry show PERSON");
	if ((r = office_open(&of, cli, &l, 0)) != CLI_OK)
		return r;
	/* an operator's reads are bound and recorded like changes */
	if (find && code != NULL && strcmp(code, of.actor.municipality_code))
		r = jpki_err_set(
		    JPKI_ERR_POLICY, "%s reads only the residents of %s",
		    of.actor.operator_id,
		    of.actor.municipality_code[0] ? of.actor.municipality_code
						  : "no municipality");
	else if (find)
		r = jpki_registry_search(&list, &n, of.st, &of.actor, name, 0);
	else if ((r = jpki_registry_read(&one, of.st, &of.actor,
					 argv[optind])) == 0)
		list = &one, n = 1;
	if (r != 0) {
		office_close(&of);
		return cli_fail(r, find ? "find" : "show");
	}
	if (json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, resident_json(&list[i]));
		cli_json_print(find ? a : json_incref(json_array_get(a, 0)));
		if (!find)
			json_decref(a);
	} else {
		for (size_t i = 0; i < n; i++)
			print_resident(&list[i]);
	}
	if (find)
		free(list);
	office_close(&of);
	return CLI_OK;
}

enum change {
	CH_MOVE,
	CH_NAME,
	CH_BIRTH,
	CH_SEX,
	CH_GUARD,
	CH_DEATH,
	CH_REMOVE
};

static int verb_change(struct cli *cli, int argc, char **argv, enum change ch)
{
	static const struct option o[] = {
	    OFFICE_OPTIONS,
	    {"municipality-code", required_argument, NULL, 'C'},
	    {"prefecture", required_argument, NULL, 'P'},
	    {"municipality", required_argument, NULL, 'M'},
	    {"address", required_argument, NULL, 'a'},
	    {NULL, 0, NULL, 0}};
	static const int args[] = {
	    [CH_MOVE] = 1,  [CH_NAME] = 2,  [CH_BIRTH] = 2, [CH_SEX] = 2,
	    [CH_GUARD] = 2, [CH_DEATH] = 1, [CH_REMOVE] = 1};
	struct office_login l = {0};
	const char *code = NULL, *pref = NULL, *muni = NULL, *addr = NULL;
	struct jpki_resident cur;
	struct office of;
	const char *person, *value;
	int c, r;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1) {
		if (ch != CH_MOVE)
			return CLI_USAGE;
		if (c == 'C')
			code = optarg;
		else if (c == 'P')
			pref = optarg;
		else if (c == 'M')
			muni = optarg;
		else if (c == 'a')
			addr = optarg;
		else
			return CLI_USAGE;
	}
	if (argc - optind != args[ch] || (ch == CH_MOVE && addr == NULL))
		return cli_usage("wrong arguments (try jpki registry --help)");
	person = argv[optind];
	value = args[ch] == 2 ? argv[optind + 1] : NULL;
	if ((r = office_open(&of, cli, &l, 0)) != CLI_OK)
		return r;
	switch (ch) {
	case CH_MOVE:
		/* within the municipality unless another one is named */
		if ((r = jpki_registry_get(&cur, of.st, person)) == 0)
			r = jpki_registry_move(
			    of.st, &of.actor, person,
			    code ? code : cur.municipality_code,
			    pref ? pref : cur.prefecture,
			    muni ? muni : cur.municipality, addr);
		break;
	case CH_NAME: {
		char name[JPKI_FACT_NAME_MAX];

		if ((r = jpki_profile_name_normalize(name, sizeof(name),
						     value)) == 0)
			r = jpki_registry_change_name(of.st, &of.actor, person,
						      name);
		break;
	}
	case CH_BIRTH: {
		struct jpki_date d;

		if ((r = jpki_date_parse(&d, value)) == 0)
			r = jpki_registry_correct_birth(of.st, &of.actor,
							person, &d);
		break;
	}
	case CH_SEX: {
		enum jpki_sex s;

		if ((r = parse_sex(&s, value)) == 0)
			r = jpki_registry_correct_sex(of.st, &of.actor, person,
						      s);
		break;
	}
	case CH_GUARD:
		if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "guardianship is on or off");
		else
			r = jpki_registry_set_guardianship(
			    of.st, &of.actor, person, strcmp(value, "on") == 0);
		break;
	case CH_DEATH:
		r = jpki_registry_death(of.st, &of.actor, person);
		break;
	case CH_REMOVE:
		r = jpki_registry_remove(of.st, &of.actor, person);
		break;
	}
	office_close(&of);
	if (r != 0)
		return cli_fail(r, argv[0]);
	printf("%s: %s recorded\n", person, argv[0]);
	return CLI_OK;
}

static int verb_events(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    OFFICE_OPTIONS,
	    {"after", required_argument, NULL, 'a'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0}};
	static const char *const kinds[] = {"", "facts-changed", "died",
					    "removed"};
	struct office_login l = {0};
	struct jpki_registry_event *ev = NULL;
	long long after = 0;
	struct office of;
	size_t n = 0;
	int c, r, json = 0;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1) {
		if (c == 'a')
			after = strtoll(optarg, NULL, 10);
		else if (c == 'j')
			json = 1;
		else
			return CLI_USAGE;
	}
	if ((r = office_open(&of, cli, &l, 0)) != CLI_OK)
		return r;
	r = jpki_registry_events(&ev, &n, of.st, after, 0);
	office_close(&of);
	if (r != 0)
		return cli_fail(r, "events");
	if (json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(
			    a, json_pack("{s:I, s:s, s:s, s:s}", "seq",
					 (json_int_t)ev[i].seq, "kind",
					 kinds[ev[i].kind], "person",
					 ev[i].person, "what", ev[i].what));
		cli_json_print(a);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%lld %s %s (%s)\n", (long long)ev[i].seq,
			       kinds[ev[i].kind], ev[i].person, ev[i].what);
	}
	free(ev);
	return CLI_OK;
}

int cli_registry(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		enum change ch;
	} changes[] = {{"move", CH_MOVE},          {"name", CH_NAME},
		       {"birth", CH_BIRTH},        {"sex", CH_SEX},
		       {"guardianship", CH_GUARD}, {"death", CH_DEATH},
		       {"remove", CH_REMOVE}};
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (verb == NULL || strcmp(verb, "--help") == 0 ||
	    strcmp(verb, "help") == 0) {
		registry_usage(verb ? stdout : stderr);
		return verb ? CLI_OK : CLI_USAGE;
	}
	argc--;
	argv++;
	if (strcmp(verb, "register") == 0)
		return verb_register(cli, argc, argv);
	if (strcmp(verb, "show") == 0)
		return verb_show(cli, argc, argv, 0);
	if (strcmp(verb, "find") == 0)
		return verb_show(cli, argc, argv, 1);
	if (strcmp(verb, "events") == 0)
		return verb_events(cli, argc, argv);
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
		if (strcmp(verb, changes[i].name) == 0)
			return verb_change(cli, argc, argv, changes[i].ch);
	return cli_usage("unknown verb 'registry %s'", verb);
}
