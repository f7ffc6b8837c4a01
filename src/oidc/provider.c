/*
 * The provider: its keys, its documents (discovery, JWKS), and the
 * authorization-code flow (OpenID Connect Core 1.0 section 3.1 with RFC
 * 7636's S256) whose state lives in this process's memory: requests
 * waiting for the card, codes (60 s, once), access tokens for userinfo.
 * Signatures are libjose's; no JWS is put together by hand.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jose/b64.h>
#include <jose/jwk.h>
#include <jose/jws.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "jpki/oidc.h"
#include "oidc/oidc_internal.h"

/* ---- keys ------------------------------------------------------------- */

static int key_load(EVP_PKEY **out, const char *path)
{
	BIO *in = BIO_new_file(path, "r"), *mem = NULL;
	EVP_PKEY *k = NULL;
	char *data;
	long n;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if (in != NULL) {
		k = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
		BIO_free(in);
		if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA ||
		    EVP_PKEY_get_bits(k) < 2048) {
			EVP_PKEY_free(k);
			return jpki_err_set(JPKI_ERR_PARSE,
					    "%s is not a PEM RSA key of 2048 "
					    "bits or more",
					    path);
		}
		*out = k;
		return 0;
	}
	ERR_clear_error();
	/* First start: a key of our own (a development installation; a
	 * real one puts its key there before) */
	if ((k = EVP_RSA_gen(2048)) == NULL ||
	    (mem = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_PrivateKey(mem, k, NULL, NULL, 0, NULL, NULL) ||
	    (n = BIO_get_mem_data(mem, &data)) <= 0) {
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "cannot make the ID-token key");
		goto out;
	}
	if ((r = jpki_file_write_atomic(path, data, (size_t)n, 0600)) != 0)
		goto out;
	jpki_log(JPKI_LOG_INFO, "made the ID-token key %s", path);
	*out = k;
	k = NULL;
	r = 0;
out:
	BIO_free(mem);
	EVP_PKEY_free(k);
	return r;
}

static int secret_load(unsigned char secret[32], const char *path)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int r;

	if ((r = jpki_file_read(&data, &len, path, 64)) == 0) {
		if (len != 32) {
			r = jpki_err_set(JPKI_ERR_PARSE,
					 "%s is not 32 bytes of secret", path);
		} else
			memcpy(secret, data, 32);
		jpki_wipe(data, len);
		free(data);
		return r;
	}
	if (r != JPKI_ERR_NOT_FOUND && r != JPKI_ERR_IO)
		return r;
	if (RAND_bytes(secret, 32) != 1)
		return jpki_err_set(JPKI_ERR_CRYPTO, "no random bytes");
	if ((r = jpki_file_write_atomic(path, secret, 32, 0600)) != 0)
		return r;
	jpki_log(JPKI_LOG_INFO, "made the pairwise-subject secret %s", path);
	return 0;
}

int jpki_oidc_new(struct jpki_oidc **out, const struct jpki_oidc_options *o)
{
	struct jpki_oidc *op = NULL;
	EVP_PKEY *key = NULL;
	json_t *pub = NULL, *thp = NULL;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if (o == NULL || o->version != JPKI_OIDC_OPTIONS_VERSION ||
	    o->st == NULL || o->ca == NULL || o->issuer == NULL ||
	    o->key_path == NULL || o->secret_path == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the provider needs a store, the CA, an "
				    "issuer and its key files");
	if (strncmp(o->issuer, "https://", 8) != 0 &&
	    strncmp(o->issuer, "http://127.0.0.1", 16) != 0 &&
	    strncmp(o->issuer, "http://localhost", 16) != 0)
		return jpki_err_set(JPKI_ERR_CONFIG,
				    "the issuer %s is not https:// (http:// "
				    "only on 127.0.0.1 or localhost)",
				    o->issuer);
	if ((op = calloc(1, sizeof(*op))) == NULL)
		return JPKI_ERR_NOMEM;
	pthread_mutex_init(&op->lock, NULL);
	op->st = o->st;
	op->ca = o->ca;
	if ((op->issuer = strdup(o->issuer)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto fail;
	}
	/* no final slash: "iss" is compared as a string by clients */
	{
		size_t n = strlen(op->issuer);

		while (n > 0 && op->issuer[n - 1] == '/')
			op->issuer[--n] = '\0';
	}
	if ((r = key_load(&key, o->key_path)) != 0 ||
	    (r = secret_load(op->secret, o->secret_path)) != 0)
		goto fail;
	r = jpki_err_set(JPKI_ERR_CRYPTO, "libjose cannot use the ID-token "
					  "key");
	if ((op->jwk = jose_openssl_jwk_from_EVP_PKEY(NULL, key)) == NULL ||
	    (thp = jose_jwk_thp(NULL, op->jwk, "S256")) == NULL ||
	    !json_is_string(thp))
		goto fail;
	snprintf(op->kid, sizeof(op->kid), "%s", json_string_value(thp));
	if (json_object_set_new(op->jwk, "kid", json_string(op->kid)) != 0 ||
	    json_object_set_new(op->jwk, "alg", json_string("RS256")) != 0 ||
	    (pub = json_deep_copy(op->jwk)) == NULL ||
	    !jose_jwk_pub(NULL, pub) ||
	    json_object_set_new(pub, "use", json_string("sig")) != 0 ||
	    (op->jwks = json_pack("{s:[O]}", "keys", pub)) == NULL)
		goto fail;
	*out = op;
	op = NULL;
	r = 0;
fail:
	json_decref(thp);
	json_decref(pub);
	EVP_PKEY_free(key);
	jpki_oidc_free(op);
	return r;
}

void oidc_request_free(struct request *q)
{
	if (q == NULL)
		return;
	free(q->redirect_uri);
	free(q->state);
	free(q->nonce);
	jpki_wipe(q, sizeof(*q));
	free(q);
}

void oidc_code_free(struct code *c)
{
	if (c == NULL)
		return;
	free(c->redirect_uri);
	free(c->nonce);
	jpki_wipe(c, sizeof(*c));
	free(c);
}

void jpki_oidc_free(struct jpki_oidc *op)
{
	if (op == NULL)
		return;
	while (op->requests) {
		struct request *q = op->requests;

		op->requests = q->next;
		oidc_request_free(q);
	}
	while (op->codes) {
		struct code *c = op->codes;

		op->codes = c->next;
		oidc_code_free(c);
	}
	while (op->tokens) {
		struct token *t = op->tokens;

		op->tokens = t->next;
		jpki_wipe(t, sizeof(*t));
		free(t);
	}
	while (op->jtis) {
		struct jti *j = op->jtis;

		op->jtis = j->next;
		free(j->id);
		free(j);
	}
	json_decref(op->jwk);
	json_decref(op->jwks);
	free(op->issuer);
	jpki_wipe(op->secret, sizeof(op->secret));
	pthread_mutex_destroy(&op->lock);
	free(op);
}

const char *jpki_oidc_issuer(const struct jpki_oidc *op)
{
	return op->issuer;
}

/* ---- documents ---------------------------------------------------------- */

int jpki_oidc_discovery(char **out, const struct jpki_oidc *op)
{
	const char *is = op->issuer;
	char *a = NULL, *t = NULL, *u = NULL, *j = NULL;
	json_t *doc = NULL;
	int r = JPKI_ERR_NOMEM;

	*out = NULL;
	if (asprintf(&a, "%s/oidc/authorize", is) < 0 ||
	    asprintf(&t, "%s/oidc/token", is) < 0 ||
	    asprintf(&u, "%s/oidc/userinfo", is) < 0 ||
	    asprintf(&j, "%s/oidc/jwks", is) < 0)
		goto out;
	doc = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s], s:[s], s:[s], "
	    "s:[s,s,s], s:[s], s:[s,s,s,s,s,s,s], s:[s,s,s], s:b, s:[s]}",
	    "issuer", is, "authorization_endpoint", a, "token_endpoint", t,
	    "userinfo_endpoint", u, "jwks_uri", j, "response_types_supported",
	    "code", "grant_types_supported", "authorization_code",
	    "subject_types_supported", "pairwise",
	    "id_token_signing_alg_values_supported", "RS256",
	    "code_challenge_methods_supported", "S256",
	    "token_endpoint_auth_methods_supported", "client_secret_basic",
	    "client_secret_post", "private_key_jwt",
	    "token_endpoint_auth_signing_alg_values_supported", "RS256",
	    "claims_supported", "sub", "iss", "aud", "name", "birthdate",
	    "gender", "address", "scopes_supported", "openid", "profile",
	    "address", "claims_parameter_supported", 1,
	    "response_modes_supported", "query");
	if (doc == NULL)
		goto out;
	if ((*out = json_dumps(doc, JSON_INDENT(2))) == NULL)
		goto out;
	r = 0;
out:
	json_decref(doc);
	free(a);
	free(t);
	free(u);
	free(j);
	return r;
}

int jpki_oidc_jwks(char **out, const struct jpki_oidc *op)
{
	*out = json_dumps(op->jwks, JSON_INDENT(2));
	return *out ? 0 : JPKI_ERR_NOMEM;
}

/* ---- the subject -------------------------------------------------------- */

int jpki_oidc_subject(char out[44], const struct jpki_oidc *op,
		      const struct jpki_oidc_client *client, const char *person)
{
	char host[256], other[256], *text = NULL, *b = NULL;
	const char *sector = client->id;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	int n, r = JPKI_ERR_INTERNAL;

	out[0] = '\0';
	if (person == NULL || person[0] == '\0')
		return jpki_err_set(JPKI_ERR_INVALID, "no person to name");
	/* the sector: the one host of every redirect URI (OIDC Core 8.1) */
	if (client->n_redirect > 0 &&
	    oidc_uri_host(host, sizeof(host), client->redirect_uris[0]) == 0) {
		size_t i;

		for (i = 1; i < client->n_redirect; i++)
			if (oidc_uri_host(other, sizeof(other),
					  client->redirect_uris[i]) != 0 ||
			    strcmp(host, other) != 0)
				break;
		if (i == client->n_redirect)
			sector = host;
	}
	if ((n = asprintf(&text, "JPKI-OIDC-SUB-1\n%s\n%s", sector, person)) <
	    0) {
		text = NULL;
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if (HMAC(EVP_sha256(), op->secret, sizeof(op->secret),
		 (unsigned char *)text, (size_t)n, md, &len) == NULL) {
		r = jpki_err_set(JPKI_ERR_CRYPTO, "HMAC-SHA-256 failed");
		goto out;
	}
	if ((b = oidc_b64url(md, len)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	snprintf(out, 44, "%s", b);
	r = 0;
out:
	free(b);
	free(text);
	return r;
}

/* ---- PKCE --------------------------------------------------------------- */

int jpki_oidc_pkce_check(const char *verifier, const char *challenge)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	size_t n;
	char *b;
	int ok;

	if (verifier == NULL || challenge == NULL)
		return 0;
	n = strlen(verifier);
	if (n < 43 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = verifier[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_' || c == '~'))
			return 0;
	}
	if (!EVP_Digest(verifier, n, md, &len, EVP_sha256(), NULL) ||
	    (b = oidc_b64url(md, len)) == NULL)
		return 0;
	ok = strlen(b) == strlen(challenge) &&
	     CRYPTO_memcmp(b, challenge, strlen(b)) == 0;
	free(b);
	return ok;
}
