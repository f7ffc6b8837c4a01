/* What the oidc module's files share. */
#ifndef JPKI_OIDC_INTERNAL_H
#define JPKI_OIDC_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include <jansson.h>

#include "jpki/oidc.h"

/* libjose's openssl.h names RSA and EC_KEY in prototypes we never call;
 * OPENSSL_NO_DEPRECATED hides those types, so they are declared opaque
 * here (C11 allows the same typedef twice) before it is included. */
typedef struct rsa_st RSA;
typedef struct ec_key_st EC_KEY;
#include <jose/openssl.h>

/* Which of the 4 facts a client asked for. */
enum {
	WANT_NAME = 1,
	WANT_BIRTHDATE = 2,
	WANT_GENDER = 4,
	WANT_ADDRESS = 8,
};

struct request {
	struct request *next;
	char id[44];
	char client_id[48];
	char client_name[128];
	char *redirect_uri, *state, *nonce;
	char code_challenge[44];
	unsigned want;
	time_t expires;
	char challenge[44]; /* the log-in challenge bound to it */
	int logged_in;
	char person[129];
	time_t auth_time;
	int consented;
	struct jpki_facts facts;
};

struct code {
	struct code *next;
	char code[44];
	char client_id[48];
	char *redirect_uri, *nonce;
	char code_challenge[44];
	char sub[44];
	unsigned want;
	struct jpki_facts facts;
	time_t auth_time, expires;
	int used;
	char access_token[44]; /* what it was exchanged for, "" before */
};

struct token {
	struct token *next;
	char token[44];
	char sub[44];
	unsigned want;
	struct jpki_facts facts;
	time_t expires;
	int revoked;
};

/* A private_key_jwt assertion's jti, kept until its exp so it is used
 * once. */
struct jti {
	struct jti *next;
	char *id;
	time_t expires;
};

struct jpki_oidc {
	struct jpki_store *st;
	struct jpki_ca *ca;
	char *issuer;
	json_t *jwk;  /* the private JWK libjose signs with */
	json_t *jwks; /* the public set */
	char kid[64];
	unsigned char secret[32];
	pthread_mutex_t lock;
	struct request *requests;
	struct code *codes;
	struct token *tokens;
	struct jti *jtis;
	size_t n_requests, n_codes, n_tokens, n_jtis;
};

void oidc_request_free(struct request *q);
void oidc_code_free(struct code *c);

/* BASE64URL without padding of n bytes into a new string (libjose's
 * encoder); NULL without memory. */
char *oidc_b64url(const void *p, size_t n);

/* `n` random bytes as BASE64URL; NULL on failure. */
char *oidc_random(size_t n);

/* Lower-case hex of SHA-256(text) into out (65 bytes). 0 or an error. */
int oidc_sha256_hex(char out[65], const char *text);

/* The host of an http(s) URI into out; 0, or JPKI_ERR_INVALID with a
 * sentence when it is not an acceptable redirect URI. */
int oidc_uri_host(char *out, size_t size, const char *uri);

/* The stored SHA-256 of the client's secret (hex), "" for a JWT client. */
struct jpki_store;
int oidc_client_secret_hash(char out[65], struct jpki_store *st,
			    const char *id);

#endif
