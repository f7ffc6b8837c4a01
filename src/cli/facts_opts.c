/* Options that describe a resident, shared by the verbs that issue. */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"

static int parse_card(enum jpki_card_kind *out, const char *s)
{
	if (strcmp(s, "mynumber") == 0)
		*out = JPKI_CARD_MYNUMBER;
	else if (strcmp(s, "juki") == 0)
		*out = JPKI_CARD_JUKI;
	else
		return jpki_err_set(JPKI_ERR_INVALID,
				    "card must be mynumber or juki, not '%s'",
				    s);
	return 0;
}

static int parse_sex(enum jpki_sex *out, const char *s)
{
	/* the words of the API and of every --json (codec.h), no numbers */
	if (strcmp(s, "male") == 0)
		*out = JPKI_SEX_MALE;
	else if (strcmp(s, "female") == 0)
		*out = JPKI_SEX_FEMALE;
	else if (strcmp(s, "unknown") == 0)
		*out = JPKI_SEX_UNKNOWN;
	else
		return jpki_err_set(JPKI_ERR_INVALID,
				    "sex must be male, female or unknown, "
				    "not '%s'",
				    s);
	return 0;
}

static int copy_field(char *dst, size_t size, const char *src,
		      const char *what)
{
	if (strlen(src) >= size)
		return jpki_err_set(JPKI_ERR_TOO_LARGE, "%s is too long", what);
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

int cli_fact_option(struct jpki_issue_request *req, int *have_expiry, int c,
		    const char *arg)
{
	switch (c) {
	case 'k':
		return parse_card(&req->card, arg);
	case 'p':
		req->person = arg;
		return 0;
	case 'C':
		req->municipality_code = arg;
		return 0;
	case 'P':
		req->prefecture = arg;
		return 0;
	case 'M':
		req->municipality = arg;
		return 0;
	case 'n':
		return jpki_profile_name_normalize(req->facts.name,
						   sizeof(req->facts.name), arg);
	case 'N':
		return copy_field(req->facts.name_subst,
				  sizeof(req->facts.name_subst), arg,
				  "--name-subst");
	case 's':
		return parse_sex(&req->facts.sex, arg);
	case 'b':
		return jpki_date_parse(&req->facts.birth, arg);
	case 'a':
		return copy_field(req->facts.address, sizeof(req->facts.address),
				  arg, "--address");
	case 'A':
		return copy_field(req->facts.address_subst,
				  sizeof(req->facts.address_subst), arg,
				  "--address-subst");
	case 'e':
		*have_expiry = 1;
		return jpki_date_parse(&req->card_expiry, arg);
	}
	return 1;
}

int cli_fact_finish(struct jpki_issue_request *req, int have_expiry)
{
	if (req->person == NULL || req->municipality_code == NULL)
		return cli_usage("--person and --municipality-code are "
				 "needed");
	if (!jpki_date_valid(&req->facts.birth))
		return cli_usage("--birth YYYY-MM-DD is needed");
	if (!have_expiry && req->card == JPKI_CARD_MYNUMBER) {
		/* the card is being issued today */
		struct jpki_date today = jpki_date_today();

		req->card_expiry =
			jpki_profile_card_expiry(&today, &req->facts.birth);
	}
	return 0;
}

int cli_parse_type(enum jpki_cert_type *out, const char *s)
{
	if (s != NULL && strcmp(s, "sign") == 0)
		*out = JPKI_CERT_SIGN;
	else if (s != NULL && strcmp(s, "auth") == 0)
		*out = JPKI_CERT_AUTH;
	else
		return jpki_err_set(JPKI_ERR_INVALID,
				    "type must be sign or auth, not '%s'",
				    s ? s : "");
	return 0;
}

/* The keys of a batch line and the CLI_FACT_OPTIONS they stand for. */
static const struct {
	const char *key;
	int opt;
} json_keys[] = {
	{"card", 'k'},    {"person", 'p'},     {"municipality_code", 'C'},
	{"prefecture", 'P'}, {"municipality", 'M'}, {"name", 'n'},
	{"name_subst", 'N'}, {"sex", 's'},      {"birth", 'b'},
	{"address", 'a'}, {"address_subst", 'A'}, {"card_expiry", 'e'},
};

int cli_fact_json(struct jpki_issue_request *req, const char **csr,
		  json_t *line)
{
	const char *name;
	json_t *v;
	int have_expiry = 0, r;

	*req = (struct jpki_issue_request)JPKI_ISSUE_REQUEST_INIT;
	req->card = JPKI_CARD_MYNUMBER;
	req->type = 0;
	*csr = NULL;
	if (!json_is_object(line))
		return jpki_err_set(JPKI_ERR_PARSE,
				    "each line must be one JSON object");
	json_object_foreach(line, name, v)
	{
		size_t i;

		if (!json_is_string(v))
			return jpki_err_set(JPKI_ERR_PARSE,
					    "\"%s\" must be a string", name);
		if (strcmp(name, "csr") == 0) {
			*csr = json_string_value(v);
			continue;
		}
		if (strcmp(name, "type") == 0) {
			if ((r = cli_parse_type(&req->type,
						json_string_value(v))) != 0)
				return r;
			continue;
		}
		for (i = 0; i < sizeof(json_keys) / sizeof(json_keys[0]); i++)
			if (strcmp(name, json_keys[i].key) == 0)
				break;
		if (i == sizeof(json_keys) / sizeof(json_keys[0]))
			return jpki_err_set(JPKI_ERR_PARSE,
					    "unknown key \"%s\"", name);
		if ((r = cli_fact_option(req, &have_expiry, json_keys[i].opt,
					 json_string_value(v))) != 0)
			return r;
	}
	if (req->type == 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "\"type\" (sign or auth) is needed");
	if (req->person == NULL || req->municipality_code == NULL ||
	    !jpki_date_valid(&req->facts.birth))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "\"person\", \"municipality_code\" and "
				    "\"birth\" are needed");
	if (!have_expiry && req->card == JPKI_CARD_MYNUMBER) {
		struct jpki_date today = jpki_date_today();

		req->card_expiry =
			jpki_profile_card_expiry(&today, &req->facts.birth);
	}
	if (*csr == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "\"csr\" is needed");
	return 0;
}
