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
	if (strcmp(s, "male") == 0 || strcmp(s, "1") == 0)
		*out = JPKI_SEX_MALE;
	else if (strcmp(s, "female") == 0 || strcmp(s, "2") == 0)
		*out = JPKI_SEX_FEMALE;
	else if (strcmp(s, "unknown") == 0 || strcmp(s, "3") == 0)
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
