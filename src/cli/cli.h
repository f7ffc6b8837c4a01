/* What the verbs of the `jpki` command share. */
#ifndef JPKI_CLI_H
#define JPKI_CLI_H

#include <jansson.h>

#include "jpki/base.h"
#include "jpki/ca.h"
#include "jpki/codec.h"
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

/* The store's URL: --store, or sqlite:<data>/jpki.db (the directory made);
 * caller frees *out. */
int cli_store_url(char **out, struct cli *cli) JPKI_MUST_CHECK;
int cli_store_open(struct jpki_store **out, struct cli *cli) JPKI_MUST_CHECK;
/* The CA's settings from the configuration (crl_period, ocsp_validity,
 * crl_inline_max, pkcs11_pin_file). */
int cli_ca_options(struct jpki_ca_options *opts,
		   struct cli *cli) JPKI_MUST_CHECK;
/* Opens the store and the CAs in it. */
int cli_ca_open(struct jpki_ca **ca, struct jpki_store **st,
		struct cli *cli) JPKI_MUST_CHECK;

/* Prints a JSON value followed by a newline, and frees it. */
void cli_json_print(json_t *v);
/* ISO 8601 UTC text of a time into buf (at least 21 bytes). */
void cli_time(char buf[32], time_t t);

/* The long options that describe a resident and a card (shared by
 * `ca issue` and `card issue`). */
#define CLI_FACT_OPTIONS                                                       \
	{"card", required_argument, NULL, 'k'},                                \
	    {"person", required_argument, NULL, 'p'},                          \
	    {"municipality-code", required_argument, NULL, 'C'},               \
	    {"prefecture", required_argument, NULL, 'P'},                      \
	    {"municipality", required_argument, NULL, 'M'},                    \
	    {"name", required_argument, NULL, 'n'},                            \
	    {"name-subst", required_argument, NULL, 'N'},                      \
	    {"sex", required_argument, NULL, 's'},                             \
	    {"birth", required_argument, NULL, 'b'},                           \
	    {"address", required_argument, NULL, 'a'},                         \
	    {"address-subst", required_argument, NULL, 'A'},                   \
	{                                                                      \
		"card-expiry", required_argument, NULL, 'e'                    \
	}

/* Applies one of CLI_FACT_OPTIONS: 0 done, 1 not one of them, <0 error. */
int cli_fact_option(struct jpki_issue_request *req, int *have_expiry, int c,
		    const char *arg);
/* Checks what every request needs and fills the default card expiry;
 * returns 0 or an exit code. */
int cli_fact_finish(struct jpki_issue_request *req, int have_expiry);
int cli_ca(struct cli *cli, int argc, char **argv);
int cli_card(struct cli *cli, int argc, char **argv);
int cli_reader(struct cli *cli, int argc, char **argv);
int cli_serve(struct cli *cli, int argc, char **argv);
/*
 * A PIN or password (at most size - 2 characters) from, in order: the
 * first line of `file`, $`env`, or the terminal with echo off after
 * `prompt`. Never logged; the caller wipes buf.
 */
int cli_read_secret(char *buf, size_t size, const char *file, const char *env,
		    const char *prompt) JPKI_MUST_CHECK;

/* This installation's card-issuer key, DATA/keys/card-issuer.key (made
 * when `create` is set and it does not exist). */
int cli_issuer_key(EVP_PKEY **out, struct cli *cli, int create) JPKI_MUST_CHECK;

int cli_cert(struct cli *cli, int argc, char **argv);
int cli_registry(struct cli *cli, int argc, char **argv);
int cli_window(struct cli *cli, int argc, char **argv);
/* `jpki window office ...` (window_office_cmd.c) */
int cli_window_office(struct cli *cli, int argc, char **argv);
/* residence-copy, move-out, move-in, move-status (window_move_cmd.c) */
int cli_window_services(struct cli *cli, int argc, char **argv);
int cli_window_seal(struct cli *cli, int argc, char **argv);
int cli_operator(struct cli *cli, int argc, char **argv);
int cli_audit(struct cli *cli, int argc, char **argv);
int cli_oidc(struct cli *cli, int argc, char **argv);
int cli_pin(struct cli *cli, int argc, char **argv);
int cli_sign(struct cli *cli, int argc, char **argv);
int cli_login(struct cli *cli, int argc, char **argv);
int cli_verify(struct cli *cli, int argc, char **argv);
int cli_verifier(struct cli *cli, int argc, char **argv);
/* `jpki services ...` and `jpki window disclosure` (services_cmd.c) */
int cli_services(struct cli *cli, int argc, char **argv);
int cli_window_disclosure(struct cli *cli, int argc, char **argv);

#endif
