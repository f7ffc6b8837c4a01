/* What the verbs of the `jpki` command share. */
#ifndef JPKI_CLI_H
#define JPKI_CLI_H

#include <jansson.h>

#include "jpki/base.h"
#include "jpki/ca.h"
#include "jpki/http.h"
#include "jpki/store.h"

/* Exit codes of every verb. */
#define CLI_OK 0
#define CLI_FAILED 1 /* the operation failed or was refused */
#define CLI_USAGE 2  /* the command line is wrong */

struct cli {
	struct jpki_config *cfg;
	const char *data_dir;
	const char *store_url; /* NULL: sqlite:<data_dir>/jpki.db */
};

/* Prints "jpki: <what>: <detail>" for error `r`; returns CLI_FAILED. */
int cli_fail(int r, const char *what);
/* Prints a usage error; returns CLI_USAGE. */
int cli_usage(const char *fmt, ...) JPKI_PRINTF(1, 2);

int cli_store_open(struct jpki_store **out, struct cli *cli) JPKI_MUST_CHECK;
/* Opens the store and the CAs in it. */
int cli_ca_open(struct jpki_ca **ca, struct jpki_store **st,
		struct cli *cli) JPKI_MUST_CHECK;

/* Prints a JSON value followed by a newline, and frees it. */
void cli_json_print(json_t *v);
/* ISO 8601 UTC text of a time into buf (at least 21 bytes). */
void cli_time(char buf[32], time_t t);

int cli_ca(struct cli *cli, int argc, char **argv);
int cli_serve(struct cli *cli, int argc, char **argv);

#endif
