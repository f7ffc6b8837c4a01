/*
 * oidc: an OpenID Connect provider (docs/OIDC.md). "Log in with the My
 * Number card" for any relying party that speaks OpenID Connect: the
 * authorization-code flow with PKCE (S256 only), clients registered by the
 * operator (redirect URIs matched exactly; client_secret_basic,
 * client_secret_post or private_key_jwt), ID tokens signed RS256 by the
 * provider's key through libjose, a subject pairwise per relying party that
 * stays the same across the person's renewals, and the 4 facts as claims
 * only after the resident signed the consent with the signing certificate.
 *
 * The module checks no card answer itself: the caller verifies the log-in
 * answer (docs/LOGIN.md) and the consent's CMS with the verify module and
 * hands over the serial numbers they name; this module looks them up in the
 * CA's records (status, person) and keeps the flow's state in memory.
 */
#ifndef JPKI_OIDC_H
#define JPKI_OIDC_H

#include <stddef.h>

#include "jpki/audit.h"
#include "jpki/base.h"
#include "jpki/ca.h"
#include "jpki/profile.h"
#include "jpki/store.h"

/* A code is good for this many seconds, once. */
#define JPKI_OIDC_CODE_SECONDS 60
/* An authorization request waits this long for the resident's card. */
#define JPKI_OIDC_REQUEST_SECONDS 600
/* An access token (userinfo) lives this long. */
#define JPKI_OIDC_TOKEN_SECONDS 300
/* An ID token's lifetime. */
#define JPKI_OIDC_ID_TOKEN_SECONDS 300
/* Requests, codes and access tokens the provider holds at most, each. */
#define JPKI_OIDC_MAX_PENDING 10000
/* A client's redirect URIs at most, and each one's length. */
#define JPKI_OIDC_MAX_REDIRECTS 16
#define JPKI_OIDC_MAX_URI 512

/* ---- clients (the operator's registry) -------------------------------- */

/* Creates the oidc tables (oidc_client). Idempotent. */
int jpki_oidc_migrate(struct jpki_store *st) JPKI_MUST_CHECK;

/* How a client proves itself at the token endpoint. */
enum jpki_oidc_auth {
	JPKI_OIDC_AUTH_SECRET = 1, /* client_secret_basic or _post */
	JPKI_OIDC_AUTH_JWT = 2,    /* private_key_jwt, with its JWKS */
};

struct jpki_oidc_client {
	char id[48];
	char name[128];
	enum jpki_oidc_auth auth;
	char **redirect_uris; /* owned */
	size_t n_redirect;
	char *jwks; /* JSON text, JPKI_OIDC_AUTH_JWT only */
	time_t created;
};
void jpki_oidc_client_free(struct jpki_oidc_client *c);
void jpki_oidc_client_list_free(struct jpki_oidc_client **list, size_t n);

/*
 * Registers a client with its redirect URIs (absolute https:// URIs, or
 * http:// on 127.0.0.1 / localhost, without fragment; 1 to
 * JPKI_OIDC_MAX_REDIRECTS). With `jwks` (a JWK Set's JSON text of RSA
 * public keys) it authenticates by private_key_jwt; without, a fresh
 * secret is made and returned in *secret (the store keeps only its
 * SHA-256). Recorded on the audit chain as "oidc.client.add". Caller frees
 * *id and *secret.
 */
int jpki_oidc_client_add(char **id, char **secret, struct jpki_store *st,
			 const struct jpki_actor *actor, const char *name,
			 const char *const *redirect_uris, size_t n,
			 const char *jwks) JPKI_MUST_CHECK;
/* JPKI_ERR_NOT_FOUND when no such client. Caller frees *out. */
int jpki_oidc_client_get(struct jpki_oidc_client **out, struct jpki_store *st,
			 const char *id) JPKI_MUST_CHECK;
/* Every client, oldest first. Caller frees with _list_free. */
int jpki_oidc_client_list(struct jpki_oidc_client ***out, size_t *n,
			  struct jpki_store *st) JPKI_MUST_CHECK;
/* Removes a client ("oidc.client.remove" on the audit chain). */
int jpki_oidc_client_remove(struct jpki_store *st,
			    const struct jpki_actor *actor,
			    const char *id) JPKI_MUST_CHECK;

/* 1 when `uri` is, byte for byte, one of the client's redirect URIs. */
int jpki_oidc_redirect_match(const struct jpki_oidc_client *c, const char *uri);

/*
 * RFC 7636 S256: 1 when `verifier` is 43-128 characters of
 * [A-Za-z0-9-._~] and BASE64URL(SHA-256(verifier)) is `challenge`, else 0.
 */
int jpki_oidc_pkce_check(const char *verifier, const char *challenge);

/* ---- the provider ------------------------------------------------------ */

struct jpki_oidc_options {
	int version;           /* JPKI_OIDC_OPTIONS_VERSION */
	struct jpki_store *st; /* borrowed, with jpki_oidc_migrate() run */
	struct jpki_ca *ca;    /* borrowed: who holds which certificate */
	const char *issuer;    /* "https://id.example.jp" (no final '/') */
	/* The ID-token key, PEM RSA (a 2048-bit one is made on first start
	 * where it is missing, mode 0600), and the file of the secret that
	 * makes the subjects pairwise (32 random bytes, made likewise). */
	const char *key_path;
	const char *secret_path;
};
#define JPKI_OIDC_OPTIONS_VERSION 1
#define JPKI_OIDC_OPTIONS_INIT                                                 \
	{                                                                      \
		.version = JPKI_OIDC_OPTIONS_VERSION                           \
	}

struct jpki_oidc;

/* Loads (or makes) the keys. Caller frees with jpki_oidc_free(). */
int jpki_oidc_new(struct jpki_oidc **out,
		  const struct jpki_oidc_options *opts) JPKI_MUST_CHECK;
void jpki_oidc_free(struct jpki_oidc *op);
const char *jpki_oidc_issuer(const struct jpki_oidc *op);

/* /.well-known/openid-configuration and the JWKS, JSON. Caller frees. */
int jpki_oidc_discovery(char **out, const struct jpki_oidc *op) JPKI_MUST_CHECK;
int jpki_oidc_jwks(char **out, const struct jpki_oidc *op) JPKI_MUST_CHECK;

/*
 * The pairwise subject of `person` (the CA's person record) for `client`:
 * BASE64URL(HMAC-SHA-256(provider secret, "JPKI-OIDC-SUB-1\n" sector "\n"
 * person)), where the sector is the host all the client's redirect URIs
 * share, else the client id. out needs 44 bytes.
 */
int jpki_oidc_subject(char out[44], const struct jpki_oidc *op,
		      const struct jpki_oidc_client *client,
		      const char *person) JPKI_MUST_CHECK;

/* The authorization request's parameters as received (each may be NULL). */
struct jpki_oidc_authz {
	const char *response_type, *client_id, *redirect_uri, *scope, *state;
	const char *nonce, *code_challenge, *code_challenge_method, *claims;
	const char *prompt;
};

/* The outcome of /authorize. */
struct jpki_oidc_authz_result {
	/* 0: a request is waiting for the card (id below); 1: refused
	 * with a page (the redirect URI cannot be trusted: `reason`); 2:
	 * refused back to the client (`redirect` has error= and state=) */
	int refused;
	char id[44];      /* the request, when waiting */
	char *redirect;   /* owned, when refused back */
	char reason[256]; /* a sentence for the page */
	int wants_facts;  /* the client asked for the 4 facts */
	char client_name[128];
};
void jpki_oidc_authz_result_clear(struct jpki_oidc_authz_result *res);

/*
 * Checks an authorization request: the client, its redirect URI exactly,
 * response_type code, scope with openid, a code_challenge with method
 * S256, and the claims wanted (scope profile / address, or a claims
 * request naming name, birthdate, gender or address). Returns 0 with the
 * outcome in *out (release with _clear), or a negative jpki_err.
 */
int jpki_oidc_authorize(struct jpki_oidc_authz_result *out,
			struct jpki_oidc *op,
			const struct jpki_oidc_authz *a) JPKI_MUST_CHECK;

/* The log-in challenge bound to request `id` (the caller issued it from its
 * log-in verifier) and the consent text the resident is asked to sign
 * (NULL when no facts are wanted). Caller frees *consent. */
int jpki_oidc_request_bind(struct jpki_oidc *op, const char *id,
			   const char *challenge) JPKI_MUST_CHECK;
int jpki_oidc_request_info(char **consent, char challenge[44],
			   struct jpki_oidc *op,
			   const char *id) JPKI_MUST_CHECK;

/*
 * The resident logged in for request `id`: the caller's verifier accepted
 * an answer to `challenge` (which must be the one bound to the request)
 * with the authentication certificate `serial`. The CA must hold it, good,
 * of type auth. JPKI_ERR_POLICY with a sentence otherwise.
 */
int jpki_oidc_request_login(struct jpki_oidc *op, const char *id,
			    const char *challenge,
			    const char *serial) JPKI_MUST_CHECK;

/*
 * The resident signed the consent: the caller's verifier accepted a CMS
 * over the consent text by the signing certificate `serial` with `facts`.
 * The CA must hold it, good, of type sign, for the person who logged in
 * (JPKI_ERR_POLICY: a consent signed by another card).
 */
int jpki_oidc_request_consent(struct jpki_oidc *op, const char *id,
			      const char *serial,
			      const struct jpki_facts *facts) JPKI_MUST_CHECK;

/* When the request has all it needs, a code and the URI to send the
 * browser to (code=, state=). JPKI_ERR_POLICY while something is missing.
 * The request is spent. Caller frees *redirect. */
int jpki_oidc_request_finish(char **redirect, struct jpki_oidc *op,
			     const char *id) JPKI_MUST_CHECK;

/* The token request (form fields and the Basic header's pair). */
struct jpki_oidc_token_req {
	const char *grant_type, *code, *redirect_uri, *code_verifier;
	const char *client_id, *client_secret; /* _post, or Basic */
	int basic;                             /* came by Basic */
	const char *client_assertion_type, *client_assertion;
	const char *token_endpoint; /* the audience of an assertion */
};

/*
 * Answers /token: *status gets 200 with the tokens, 400 or 401 with an
 * OAuth error object; *out the JSON body (caller frees). A code is good
 * once within JPKI_OIDC_CODE_SECONDS: a second use is refused and revokes
 * the access token the first one got (RFC 6749 4.1.2). Returns 0, or a
 * negative jpki_err when the provider itself fails.
 */
int jpki_oidc_token(char **out, unsigned *status, struct jpki_oidc *op,
		    const struct jpki_oidc_token_req *t) JPKI_MUST_CHECK;

/* Answers /userinfo for a Bearer token: 200 with sub and the consented
 * claims, or 401. */
int jpki_oidc_userinfo(char **out, unsigned *status, struct jpki_oidc *op,
		       const char *access_token) JPKI_MUST_CHECK;

#endif
