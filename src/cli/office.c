/* The operators' session for one command; see office.h. */
#include <stdlib.h>
#include <string.h>

#include "cli/office.h"
#include "jpki/services.h"

int office_getopt(struct office_login *l, int argc, char **argv,
		  const struct option *o)
{
	int c;

	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (c == 'O')
			l->operator_id = optarg;
		else if (c == 'W')
			l->password_file = optarg;
		else
			break;
	}
	return c;
}

int office_open(struct office *o, struct cli *cli, const struct office_login *l,
		int need_ca)
{
	const char *who =
	    l->operator_id ? l->operator_id : getenv("JPKI_OPERATOR");
	char password[256];
	int r;

	memset(o, 0, sizeof(*o));
	if (who == NULL || who[0] == '\0')
		return cli_usage("who is acting? give --operator ID (or "
				 "$JPKI_OPERATOR)");
	if (need_ca)
		r = cli_ca_open(&o->ca, &o->st, cli);
	else
		r = cli_store_open(&o->st, cli);
	if (r != 0 || (r = jpki_window_migrate(o->st)) != 0 ||
	    (r = jpki_services_migrate(o->st)) != 0) {
		office_close(o);
		return cli_fail(r, "store");
	}
	r = cli_read_secret(password, sizeof(password), l->password_file,
			    "JPKI_OPERATOR_PASSWORD", "operator password");
	if (r == 0)
		r = jpki_audit_login(&o->token, o->st, who, password, 0);
	jpki_wipe(password, sizeof(password));
	if (r == 0)
		r = jpki_audit_session(&o->actor, o->st, o->token);
	if (r != 0) {
		office_close(o);
		return cli_fail(r, "operator");
	}
	return CLI_OK;
}

void office_close(struct office *o)
{
	if (o->token != NULL && o->st != NULL &&
	    jpki_audit_logout(o->st, o->token) != 0)
		jpki_log(JPKI_LOG_WARN, "logout: %s", jpki_err_detail());
	free(o->token);
	jpki_ca_free(o->ca);
	jpki_store_free(o->st);
	memset(o, 0, sizeof(*o));
}
