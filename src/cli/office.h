/*
 * What the operators' verbs (registry, window, audit) share: the store with
 * the window's, registry's and audit's tables, the CA when the verb needs
 * it, and the acting operator, authenticated by password for this one
 * command.
 */
#ifndef JPKI_CLI_OFFICE_H
#define JPKI_CLI_OFFICE_H

#include <getopt.h>

#include "cli/cli.h"
#include "jpki/audit.h"
#include "jpki/registry.h"
#include "jpki/window.h"

struct office {
	struct jpki_store *st;
	struct jpki_ca *ca; /* when opened with need_ca */
	struct jpki_actor actor;
	char *token;
};

/* The options every operator verb takes (getopt values 'O' and 'W'). */
#define OFFICE_OPTIONS                                                         \
	{"operator", required_argument, NULL, 'O'},                            \
	{                                                                      \
		"password-file", required_argument, NULL, 'W'                  \
	}

struct office_login {
	const char *operator_id; /* --operator, else $JPKI_OPERATOR */
	const char *password_file;
};

/* getopt_long() over a verb's options `o` (long ones only) that keeps the
 * OFFICE_OPTIONS in `l` itself: the next option that is the verb's own,
 * or -1 at the end. */
int office_getopt(struct office_login *l, int argc, char **argv,
		  const struct option *o);

/* Opens the store (migrated), the CA if asked, and logs the operator in
 * (password: the file, $JPKI_OPERATOR_PASSWORD, or asked for). Prints
 * the failure and returns an exit code, or CLI_OK. */
int office_open(struct office *o, struct cli *cli, const struct office_login *l,
		int need_ca);
void office_close(struct office *o);

#endif
