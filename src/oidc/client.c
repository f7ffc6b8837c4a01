/*
 * The relying parties the operator registered: each client's id, name,
 * exact redirect URIs, and how it proves itself at the token endpoint (the
 * SHA-256 of a secret we made, or its JWK Set for private_key_jwt). Every
 * change is on the audit chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jose/b64.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "jpki/oidc.h"
#include "oidc/oidc_internal.h"

int jpki_oidc_migrate(struct jpki_store *st)
{
	static const struct jpki_migration steps[] = {
	    {1, "CREATE TABLE oidc_client ("
		" id TEXT PRIMARY KEY,"
		" name TEXT NOT NULL,"
		" auth INTEGER NOT NULL,"
		" secret_sha256 TEXT,"
		" jwks TEXT,"
		" redirect_uris TEXT NOT NULL,"
		" created BIGINT NOT NULL)"},
	};
	int r;

	if ((r = jpki_audit_migrate(st)) != 0)
		return r;
	return jpki_store_migrate(st, "oidc", steps,
				  sizeof(steps) / sizeof(steps[0]));
}

char *oidc_b64url(const void *p, size_t n)
{
	size_t len = jose_b64_enc_buf(p, n, NULL, 0);
	char *out;

	if (len == SIZE_MAX || (out = malloc(len + 1)) == NULL)
		return NULL;
	if (jose_b64_enc_buf(p, n, out, len) != len) {
		free(out);
		return NULL;
	}
	out[len] = '\0';
	return out;
}

char *oidc_random(size_t n)
{
	unsigned char buf[64];
	char *out;

	if (n > sizeof(buf) || RAND_bytes(buf, (int)n) != 1)
		return NULL;
	out = oidc_b64url(buf, n);
	jpki_wipe(buf, sizeof(buf));
	return out;
}

int oidc_sha256_hex(char out[65], const char *text)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	char *hex;

	out[0] = '\0';
	if (!EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL))
		return jpki_err_set(JPKI_ERR_CRYPTO, "SHA-256 failed");
	if ((hex = jpki_hex(md, len)) == NULL)
		return JPKI_ERR_NOMEM;
	snprintf(out, 65, "%s", hex);
	free(hex);
	return 0;
}

/* scheme://host[:port]/path?query: https anywhere, http only on the
 * loopback (a developer's machine), no fragment (RFC 6749 3.1.2), no user
 * info, no whitespace or control characters. */
int oidc_uri_host(char *out, size_t size, const char *uri)
{
	const char *p, *end;
	size_t n;
	int http;

	out[0] = '\0';
	if (uri == NULL || uri[0] == '\0' || strlen(uri) > JPKI_OIDC_MAX_URI)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a redirect URI is empty or longer than "
				    "%d characters",
				    JPKI_OIDC_MAX_URI);
	for (p = uri; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return jpki_err_set(JPKI_ERR_INVALID,
					    "the redirect URI %s holds a space "
					    "or a character outside ASCII",
					    uri);
	if (strncmp(uri, "https://", 8) == 0) {
		p = uri + 8;
		http = 0;
	} else if (strncmp(uri, "http://", 7) == 0) {
		p = uri + 7;
		http = 1;
	} else
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the redirect URI %s is not https://", uri);
	if (strchr(uri, '#') != NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the redirect URI %s has a fragment", uri);
	end = p + strcspn(p, "/?");
	if (memchr(p, '@', (size_t)(end - p)) != NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the redirect URI %s has user info", uri);
	/* the host without the port */
	n = strcspn(p, ":/?");
	if (n == 0 || n >= size)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the redirect URI %s has no host", uri);
	memcpy(out, p, n);
	out[n] = '\0';
	if (http && strcmp(out, "127.0.0.1") != 0 &&
	    strcmp(out, "localhost") != 0) {
		out[0] = '\0';
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the redirect URI %s is http:// on a host "
				    "other than 127.0.0.1 or localhost",
				    uri);
	}
	return 0;
}

int jpki_oidc_redirect_match(const struct jpki_oidc_client *c, const char *uri)
{
	if (c == NULL || uri == NULL)
		return 0;
	for (size_t i = 0; i < c->n_redirect; i++)
		if (strcmp(c->redirect_uris[i], uri) == 0)
			return 1;
	return 0;
}

/* A JWK Set of RSA public keys, each one libjose can turn into a key. */
static int jwks_check(const char *text)
{
	json_error_t e;
	json_t *set = json_loads(text, JSON_REJECT_DUPLICATES, &e), *keys;
	size_t i;
	json_t *k;
	int r = JPKI_ERR_INVALID;

	if (set == NULL) {
		r = jpki_err_set(JPKI_ERR_PARSE, "the JWKS is not JSON: %s",
				 e.text);
		goto out;
	}
	keys = json_object_get(set, "keys");
	if (!json_is_array(keys) || json_array_size(keys) == 0) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "the JWKS has no \"keys\" array");
		goto out;
	}
	json_array_foreach(keys, i, k)
	{
		EVP_PKEY *pk;

		if (json_object_get(k, "d") != NULL) {
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "key %zu of the JWKS is private: "
					 "register the public keys only",
					 i);
			goto out;
		}
		if (!json_is_string(json_object_get(k, "kty")) ||
		    strcmp(json_string_value(json_object_get(k, "kty")),
			   "RSA") != 0 ||
		    (pk = jose_openssl_jwk_to_EVP_PKEY(NULL, k)) == NULL) {
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "key %zu of the JWKS is not an RSA "
					 "public key",
					 i);
			goto out;
		}
		EVP_PKEY_free(pk);
	}
	r = 0;
out:
	json_decref(set);
	return r;
}

int jpki_oidc_client_add(char **id, char **secret, struct jpki_store *st,
			 const struct jpki_actor *actor, const char *name,
			 const char *const *uris, size_t n, const char *jwks)
{
	json_t *arr = NULL;
	char *list = NULL, *cid = NULL, *sec = NULL, *detail = NULL;
	char host[256], hash[65];
	int r = JPKI_ERR_INTERNAL, began = 0;

	*id = NULL;
	*secret = NULL;
	if (name == NULL || name[0] == '\0' || strlen(name) >= 128)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a client needs a name of 1 to 127 bytes");
	if ((r = jpki_text_check(name, "the client's name")) != 0)
		return r;
	if (n == 0 || n > JPKI_OIDC_MAX_REDIRECTS)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a client needs 1 to %d redirect URIs",
				    JPKI_OIDC_MAX_REDIRECTS);
	if (jwks != NULL && (r = jwks_check(jwks)) != 0)
		return r;
	if ((arr = json_array()) == NULL)
		return JPKI_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if ((r = oidc_uri_host(host, sizeof(host), uris[i])) != 0)
			goto out;
		if (json_array_append_new(arr, json_string(uris[i])) != 0) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
	}
	r = JPKI_ERR_NOMEM;
	if ((list = json_dumps(arr, JSON_COMPACT)) == NULL ||
	    (cid = oidc_random(16)) == NULL)
		goto out;
	if (jwks == NULL) {
		if ((sec = oidc_random(32)) == NULL)
			goto out;
		if ((r = oidc_sha256_hex(hash, sec)) != 0)
			goto out;
	}
	{
		json_t *d =
		    json_pack("{s:s, s:s, s:O}", "name", name, "auth",
			      jwks ? "private_key_jwt" : "client_secret",
			      "redirect_uris", arr);

		detail =
		    d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(d);
		if (detail == NULL) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
	}
	{
		struct jpki_value v[] = {
		    JPKI_V_TEXT(cid),
		    JPKI_V_TEXT(name),
		    JPKI_V_INT(jwks ? JPKI_OIDC_AUTH_JWT
				    : JPKI_OIDC_AUTH_SECRET),
		    jwks ? JPKI_V_NULL : JPKI_V_TEXT(hash),
		    jwks ? JPKI_V_TEXT(jwks) : JPKI_V_NULL,
		    JPKI_V_TEXT(list),
		    JPKI_V_INT((int64_t)jpki_clock_now()),
		};

		if ((r = jpki_store_begin(st)) != 0)
			goto out;
		began = 1;
		if ((r = jpki_store_exec(st,
					 "INSERT INTO oidc_client (id, name, "
					 "auth, secret_sha256, jwks, "
					 "redirect_uris, created) VALUES ($1, "
					 "$2, $3, $4, $5, $6, $7)",
					 v, 7, NULL)) != 0 ||
		    (r = jpki_audit_append(st, actor, "oidc.client.add", cid,
					   detail)) != 0)
			goto out;
		began = 0;
		if ((r = jpki_store_commit(st)) != 0)
			goto out;
	}
	*id = cid;
	*secret = sec;
	cid = NULL;
	sec = NULL;
	r = 0;
out:
	if (began)
		jpki_store_rollback(st);
	json_decref(arr);
	free(list);
	free(cid);
	if (sec != NULL)
		jpki_wipe(sec, strlen(sec));
	free(sec);
	free(detail);
	return r;
}

void jpki_oidc_client_free(struct jpki_oidc_client *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_redirect; i++)
		free(c->redirect_uris[i]);
	free(c->redirect_uris);
	free(c->jwks);
	free(c);
}

void jpki_oidc_client_list_free(struct jpki_oidc_client **list, size_t n)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		jpki_oidc_client_free(list[i]);
	free(list);
}

#define CLIENT_COLUMNS "id, name, auth, jwks, redirect_uris, created"

static int client_of_row(struct jpki_oidc_client **out,
			 const struct jpki_rows *rows, size_t i)
{
	struct jpki_oidc_client *c = calloc(1, sizeof(*c));
	json_t *arr = NULL, *u;
	size_t k;
	int r = JPKI_ERR_NOMEM;

	*out = NULL;
	if (c == NULL)
		return JPKI_ERR_NOMEM;
	snprintf(c->id, sizeof(c->id), "%s", jpki_rows_text(rows, i, 0));
	snprintf(c->name, sizeof(c->name), "%s", jpki_rows_text(rows, i, 1));
	c->auth = (enum jpki_oidc_auth)jpki_rows_int(rows, i, 2);
	if (!jpki_rows_is_null(rows, i, 3) &&
	    (c->jwks = strdup(jpki_rows_text(rows, i, 3))) == NULL)
		goto out;
	c->created = (time_t)jpki_rows_int(rows, i, 5);
	if ((arr = json_loads(jpki_rows_text(rows, i, 4), 0, NULL)) == NULL ||
	    !json_is_array(arr)) {
		r = jpki_err_set(JPKI_ERR_STORE,
				 "client %s's redirect URIs are not a list",
				 c->id);
		goto out;
	}
	if ((c->redirect_uris =
		 calloc(json_array_size(arr) + 1, sizeof(char *))) == NULL)
		goto out;
	json_array_foreach(arr, k, u)
	{
		if (!json_is_string(u) ||
		    (c->redirect_uris[c->n_redirect] =
			 strdup(json_string_value(u))) == NULL)
			goto out;
		c->n_redirect++;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	json_decref(arr);
	jpki_oidc_client_free(c);
	return r;
}

int jpki_oidc_client_get(struct jpki_oidc_client **out, struct jpki_store *st,
			 const char *id)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value v[] = {JPKI_V_TEXT(id)};
	int r;

	*out = NULL;
	if (id == NULL)
		return jpki_err_set(JPKI_ERR_NOT_FOUND, "no client id");
	if ((r = jpki_store_query(&rows, st,
				  "SELECT " CLIENT_COLUMNS
				  " FROM oidc_client WHERE id = $1",
				  v, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) == 0)
		r = jpki_err_set(JPKI_ERR_NOT_FOUND, "no client %s", id);
	else
		r = client_of_row(out, rows, 0);
	jpki_rows_free(rows);
	return r;
}

int oidc_client_secret_hash(char out[65], struct jpki_store *st, const char *id)
{
	struct jpki_rows *rows = NULL;
	struct jpki_value v[] = {JPKI_V_TEXT(id)};
	int r;

	out[0] = '\0';
	if ((r = jpki_store_query(&rows, st,
				  "SELECT secret_sha256 FROM oidc_client "
				  "WHERE id = $1",
				  v, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) == 0)
		r = jpki_err_set(JPKI_ERR_NOT_FOUND, "no client %s", id);
	else if (!jpki_rows_is_null(rows, 0, 0))
		snprintf(out, 65, "%s", jpki_rows_text(rows, 0, 0));
	jpki_rows_free(rows);
	return r;
}

int jpki_oidc_client_list(struct jpki_oidc_client ***out, size_t *n,
			  struct jpki_store *st)
{
	struct jpki_rows *rows = NULL;
	struct jpki_oidc_client **list = NULL;
	size_t count, i;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = jpki_store_query(&rows, st,
				  "SELECT " CLIENT_COLUMNS " FROM oidc_client "
				  "ORDER BY created, id",
				  NULL, 0)) != 0)
		return r;
	count = jpki_rows_count(rows);
	if ((list = calloc(count + 1, sizeof(*list))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < count; i++)
		if ((r = client_of_row(&list[i], rows, i)) != 0) {
			jpki_oidc_client_list_free(list, i);
			goto out;
		}
	*out = list;
	*n = count;
	r = 0;
out:
	jpki_rows_free(rows);
	return r;
}

int jpki_oidc_client_remove(struct jpki_store *st,
			    const struct jpki_actor *actor, const char *id)
{
	struct jpki_value v[] = {JPKI_V_TEXT(id)};
	int64_t changes = 0;
	int r;

	if (id == NULL)
		return jpki_err_set(JPKI_ERR_NOT_FOUND, "no client id");
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = jpki_store_exec(st, "DELETE FROM oidc_client WHERE id = $1", v,
				 1, &changes)) != 0)
		goto fail;
	if (changes == 0) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND, "no client %s", id);
		goto fail;
	}
	if ((r = jpki_audit_append(st, actor, "oidc.client.remove", id,
				   NULL)) != 0)
		goto fail;
	return jpki_store_commit(st);
fail:
	jpki_store_rollback(st);
	return r;
}
