/* Options that describe a resident, shared by the verbs that issue. */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"

/* CLI_FACT_OPTIONS and the request fields they set (jpki_ca_request_set,
 * the names of a batch line). */
static const struct {
	int opt;
	const char *field;
} fact_fields[] = {
	{'k', "card"},    {'p', "person"},     {'C', "municipality_code"},
	{'P', "prefecture"}, {'M', "municipality"}, {'n', "name"},
	{'N', "name_subst"}, {'s', "sex"},      {'b', "birth"},
	{'a', "address"}, {'A', "address_subst"}, {'e', "card_expiry"},
};

int cli_fact_option(struct jpki_issue_request *req, int *have_expiry, int c,
		    const char *arg)
{
	for (size_t i = 0; i < sizeof(fact_fields) / sizeof(fact_fields[0]);
	     i++) {
		if (fact_fields[i].opt != c)
			continue;
		if (c == 'e')
			*have_expiry = 1;
		return jpki_ca_request_set(req, fact_fields[i].field, arg);
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
