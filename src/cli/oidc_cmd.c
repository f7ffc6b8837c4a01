/*
 * `jpki oidc client add|list|remove`: the relying parties an operator (a CA
 * officer) registers with the OpenID Connect provider (docs/OIDC.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/office.h"
#include "jpki/oidc.h"

static const char oidc_usage[] =
    "usage: jpki oidc client VERB ... --operator BY [--password-file F]\n"
    "  add NAME --redirect-uri URI [--redirect-uri URI ...]\n"
    "          [--secret-file F | --jwks FILE]\n"
    "      registers a relying party; prints its client id. Without\n"
    "      --jwks a client secret is made: written to F (mode 0600), or\n"
    "      printed once. With --jwks (a JWK Set of its RSA public keys)\n"
    "      it authenticates by private_key_jwt.\n"
    "  list                      the clients and their redirect URIs\n"
    "  remove ID                 takes a client away\n"
    "  Each needs a CA officer; add and remove are on the audit chain.\n";

static int need_officer(const struct office *of)
{
	if (of->actor.role != JPKI_ROLE_CA_OFFICER) {
		fprintf(stderr, "jpki: oidc: only a CA officer registers "
				"clients\n");
		return CLI_FAILED;
	}
	return CLI_OK;
}

static int client_add(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    OFFICE_OPTIONS,
	    {"redirect-uri", required_argument, NULL, 'u'},
	    {"secret-file", required_argument, NULL, 'f'},
	    {"jwks", required_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0}};
	struct office_login l = {0};
	const char *uris[JPKI_OIDC_MAX_REDIRECTS];
	const char *secret_file = NULL, *jwks_file = NULL;
	unsigned char *jwks = NULL;
	char *id = NULL, *secret = NULL;
	size_t n = 0, jwks_len = 0;
	struct office of;
	int c, r;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1) {
		if (c == 'u') {
			if (n == JPKI_OIDC_MAX_REDIRECTS)
				return cli_usage("at most %d redirect URIs",
						 JPKI_OIDC_MAX_REDIRECTS);
			uris[n++] = optarg;
		} else if (c == 'f')
			secret_file = optarg;
		else if (c == 'j')
			jwks_file = optarg;
		else
			return cli_usage("%s", oidc_usage);
	}
	if (optind != argc - 1 || n == 0 || (secret_file && jwks_file))
		return cli_usage("%s", oidc_usage);
	if (jwks_file != NULL) {
		if ((r = jpki_file_read(&jwks, &jwks_len, jwks_file, 65536)) !=
		    0)
			return cli_fail(r, jwks_file);
		/* a C string for the JSON parser */
		unsigned char *z = realloc(jwks, jwks_len + 1);

		if (z == NULL) {
			free(jwks);
			return cli_fail(JPKI_ERR_NOMEM, "oidc");
		}
		jwks = z;
		jwks[jwks_len] = '\0';
		if (strlen((char *)jwks) != jwks_len) {
			free(jwks);
			return cli_fail(jpki_err_set(JPKI_ERR_PARSE,
						     "%s holds a NUL byte",
						     jwks_file),
					"oidc");
		}
	}
	if ((r = office_open(&of, cli, &l, 0)) != CLI_OK) {
		free(jwks);
		return r;
	}
	if ((r = need_officer(&of)) == CLI_OK &&
	    ((r = jpki_oidc_migrate(of.st)) != 0 ||
	     (r = jpki_oidc_client_add(&id, &secret, of.st, &of.actor,
				       argv[optind], uris, n,
				       (const char *)jwks)) != 0))
		r = cli_fail(r, "oidc client add");
	office_close(&of);
	free(jwks);
	if (r != CLI_OK)
		return r;
	if (secret != NULL && secret_file != NULL &&
	    (r = jpki_file_write_atomic(secret_file, secret, strlen(secret),
					0600)) != 0) {
		r = cli_fail(r, secret_file);
		printf("client %s registered, but its secret was not written: "
		       "remove it and add it again\n",
		       id);
		goto out;
	}
	printf("client_id %s\n", id);
	if (secret != NULL && secret_file == NULL)
		printf("client_secret %s\n", secret);
	else if (secret != NULL)
		printf("client_secret in %s\n", secret_file);
	r = CLI_OK;
out:
	if (secret != NULL)
		jpki_wipe(secret, strlen(secret));
	free(secret);
	free(id);
	return r;
}

static int client_list_remove(struct cli *cli, int argc, char **argv,
			      int remove)
{
	static const struct option o[] = {OFFICE_OPTIONS, {NULL, 0, NULL, 0}};
	struct office_login l = {0};
	struct jpki_oidc_client **list = NULL;
	size_t n = 0;
	struct office of;
	int c, r;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1)
		return cli_usage("%s", oidc_usage);
	if (optind != argc - (remove ? 1 : 0))
		return cli_usage("%s", oidc_usage);
	if ((r = office_open(&of, cli, &l, 0)) != CLI_OK)
		return r;
	if ((r = need_officer(&of)) != CLI_OK)
		goto out;
	if ((r = jpki_oidc_migrate(of.st)) != 0) {
		r = cli_fail(r, "oidc");
		goto out;
	}
	if (remove) {
		if ((r = jpki_oidc_client_remove(of.st, &of.actor,
						 argv[optind])) != 0)
			r = cli_fail(r, "oidc client remove");
		else
			printf("client %s removed\n", argv[optind]);
		goto out;
	}
	if ((r = jpki_oidc_client_list(&list, &n, of.st)) != 0) {
		r = cli_fail(r, "oidc client list");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		printf("%s\t%s\t%s", list[i]->id, list[i]->name,
		       list[i]->auth == JPKI_OIDC_AUTH_JWT ? "private_key_jwt"
							   : "client_secret");
		for (size_t k = 0; k < list[i]->n_redirect; k++)
			printf("\t%s", list[i]->redirect_uris[k]);
		printf("\n");
	}
	jpki_oidc_client_list_free(list, n);
	r = CLI_OK;
out:
	office_close(&of);
	return r;
}

int cli_oidc(struct cli *cli, int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[1], "client") != 0) {
		if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
			fputs(oidc_usage, stdout);
			return CLI_OK;
		}
		return cli_usage("%s", oidc_usage);
	}
	if (strcmp(argv[2], "add") == 0)
		return client_add(cli, argc - 2, argv + 2);
	if (strcmp(argv[2], "list") == 0)
		return client_list_remove(cli, argc - 2, argv + 2, 0);
	if (strcmp(argv[2], "remove") == 0)
		return client_list_remove(cli, argc - 2, argv + 2, 1);
	return cli_usage("%s", oidc_usage);
}
