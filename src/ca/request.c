/*
 * The request format of `jpki ca issue-batch`: one JSON object a line,
 * with "csr" (a file holding a PKCS#10 request), "type" and the facts
 * under the names of `jpki ca issue`'s options with _ for -. Beside the
 * CSR parser (csr.c), so that both halves of a request are read here.
 */
#include <string.h>

#include "ca/ca_internal.h"

int jpki_ca_type_parse(enum jpki_cert_type *out, const char *s)
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

int jpki_ca_request_set(struct jpki_issue_request *req, const char *field,
			const char *value)
{
	if (field == NULL || value == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no field or no value");
	if (strcmp(field, "card") == 0)
		return parse_card(&req->card, value);
	if (strcmp(field, "person") == 0)
		req->person = value;
	else if (strcmp(field, "municipality_code") == 0)
		req->municipality_code = value;
	else if (strcmp(field, "prefecture") == 0)
		req->prefecture = value;
	else if (strcmp(field, "municipality") == 0)
		req->municipality = value;
	else if (strcmp(field, "name") == 0)
		return jpki_profile_name_normalize(req->facts.name,
						   sizeof(req->facts.name),
						   value);
	else if (strcmp(field, "name_subst") == 0)
		return copy_field(req->facts.name_subst,
				  sizeof(req->facts.name_subst), value,
				  "name_subst");
	else if (strcmp(field, "sex") == 0)
		return parse_sex(&req->facts.sex, value);
	else if (strcmp(field, "birth") == 0)
		return jpki_date_parse(&req->facts.birth, value);
	else if (strcmp(field, "address") == 0)
		return copy_field(req->facts.address,
				  sizeof(req->facts.address), value, "address");
	else if (strcmp(field, "address_subst") == 0)
		return copy_field(req->facts.address_subst,
				  sizeof(req->facts.address_subst), value,
				  "address_subst");
	else if (strcmp(field, "card_expiry") == 0)
		return jpki_date_parse(&req->card_expiry, value);
	else
		return jpki_err_set(JPKI_ERR_PARSE, "unknown key \"%s\"",
				    field);
	return 0;
}

int jpki_ca_request_line(struct jpki_issue_request *req, const char **csr,
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
		if (!json_is_string(v))
			return jpki_err_set(JPKI_ERR_PARSE,
					    "\"%s\" must be a string", name);
		if (strcmp(name, "csr") == 0) {
			*csr = json_string_value(v);
			continue;
		}
		if (strcmp(name, "type") == 0) {
			if ((r = jpki_ca_type_parse(&req->type,
						    json_string_value(v))) != 0)
				return r;
			continue;
		}
		if (strcmp(name, "card_expiry") == 0)
			have_expiry = 1;
		if ((r = jpki_ca_request_set(req, name,
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
		/* the card is being issued today */
		struct jpki_date today = jpki_date_today();

		req->card_expiry =
			jpki_profile_card_expiry(&today, &req->facts.birth);
	}
	if (*csr == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "\"csr\" is needed");
	return 0;
}
