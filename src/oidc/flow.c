/*
 * The authorization-code flow, OpenID Connect Core 1.0 section 3.1 with
 * RFC 7636 (S256 only): /authorize makes a request that waits for the card;
 * the log-in and, when the client asked for the 4 facts, the signed consent
 * complete it; it becomes a code good once for 60 seconds, exchanged at
 * /token by the authenticated client with its PKCE verifier for an ID
 * token and an access token to /userinfo.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jose/b64.h>
#include <jose/jws.h>
#include <openssl/crypto.h>

#include "jpki/oidc.h"
#include "oidc/oidc_internal.h"

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* ---- the in-memory lists (under op->lock) ------------------------------- */

/* Drops what expired; a spent code is kept until it expires so that its
 * reuse is recognised. */
static void sweep(struct jpki_oidc *op, time_t now)
{
	for (struct request **p = &op->requests; *p;) {
		struct request *q = *p;

		if (q->expires <= now) {
			*p = q->next;
			oidc_request_free(q);
			op->n_requests--;
		} else
			p = &q->next;
	}
	for (struct code **p = &op->codes; *p;) {
		struct code *c = *p;

		/* a used code is remembered a while longer than its life */
		if (c->expires + JPKI_OIDC_TOKEN_SECONDS <= now) {
			*p = c->next;
			oidc_code_free(c);
			op->n_codes--;
		} else
			p = &c->next;
	}
	for (struct token **p = &op->tokens; *p;) {
		struct token *t = *p;

		if (t->expires <= now) {
			*p = t->next;
			jpki_wipe(t, sizeof(*t));
			free(t);
			op->n_tokens--;
		} else
			p = &t->next;
	}
	for (struct jti **p = &op->jtis; *p;) {
		struct jti *j = *p;

		if (j->expires <= now) {
			*p = j->next;
			free(j->id);
			free(j);
			op->n_jtis--;
		} else
			p = &j->next;
	}
}

static struct request *request_find(struct jpki_oidc *op, const char *id)
{
	if (id == NULL)
		return NULL;
	for (struct request *q = op->requests; q; q = q->next)
		if (strcmp(q->id, id) == 0)
			return q;
	return NULL;
}

void jpki_oidc_authz_result_clear(struct jpki_oidc_authz_result *res)
{
	if (res == NULL)
		return;
	free(res->redirect);
	memset(res, 0, sizeof(*res));
}

/* uri + (? or &) + the pairs, each value percent-encoded. */
static char *redirect_with(const char *uri, const char *const *pairs)
{
	size_t cap = strlen(uri) + 2, len;
	char *out, *p;

	for (size_t i = 0; pairs[i]; i += 2)
		if (pairs[i + 1] != NULL)
			cap += strlen(pairs[i]) + 2 + 3 * strlen(pairs[i + 1]);
	if ((out = malloc(cap + 1)) == NULL)
		return NULL;
	len = (size_t)snprintf(out, cap + 1, "%s", uri);
	p = out + len;
	char sep = strchr(uri, '?') ? '&' : '?';
	for (size_t i = 0; pairs[i]; i += 2) {
		const unsigned char *v = (const unsigned char *)pairs[i + 1];

		if (v == NULL)
			continue;
		p += sprintf(p, "%c%s=", sep, pairs[i]);
		sep = '&';
		for (; *v; v++)
			if ((*v >= 'A' && *v <= 'Z') ||
			    (*v >= 'a' && *v <= 'z') ||
			    (*v >= '0' && *v <= '9') || *v == '-' ||
			    *v == '.' || *v == '_' || *v == '~')
				*p++ = (char)*v;
			else
				p += sprintf(p, "%%%02X", *v);
	}
	*p = '\0';
	return out;
}

static int refuse_back(struct jpki_oidc_authz_result *out, const char *uri,
		       const char *error, const char *why, const char *state)
{
	const char *pairs[] = {
	    "error", error, "error_description", why, "state", state, NULL};

	out->refused = 2;
	snprintf(out->reason, sizeof(out->reason), "%s", why);
	if ((out->redirect = redirect_with(uri, pairs)) == NULL)
		return JPKI_ERR_NOMEM;
	return 0;
}

/* 1 when the space-separated list holds `word`. */
static int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p;) {
		size_t k = strcspn(p, " ");

		if (k == n && strncmp(p, word, n) == 0)
			return 1;
		p += k;
		while (*p == ' ')
			p++;
	}
	return 0;
}

/* The facts a claims request (OIDC Core 5.5) names, in id_token or
 * userinfo. -1 when it is not such an object. */
static int claims_want(unsigned *want, const char *text)
{
	json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL), *part;
	static const char *const where[] = {"userinfo", "id_token"};
	int r = -1;

	if (!json_is_object(doc))
		goto out;
	for (size_t i = 0; i < 2; i++) {
		const char *k;
		json_t *v;

		if ((part = json_object_get(doc, where[i])) == NULL)
			continue;
		if (!json_is_object(part))
			goto out;
		json_object_foreach(part, k, v)
		{
			if (strcmp(k, "name") == 0)
				*want |= WANT_NAME;
			else if (strcmp(k, "birthdate") == 0)
				*want |= WANT_BIRTHDATE;
			else if (strcmp(k, "gender") == 0)
				*want |= WANT_GENDER;
			else if (strcmp(k, "address") == 0)
				*want |= WANT_ADDRESS;
		}
	}
	r = 0;
out:
	json_decref(doc);
	return r;
}

static int is_b64url(const char *s, size_t n)
{
	if (s == NULL || strlen(s) != n)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

int jpki_oidc_authorize(struct jpki_oidc_authz_result *out,
			struct jpki_oidc *op, const struct jpki_oidc_authz *a)
{
	struct jpki_oidc_client *c = NULL;
	struct request *q = NULL;
	char *id = NULL;
	unsigned want = 0;
	time_t now = jpki_clock_now();
	int r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	/* Until the redirect URI is known good, nothing goes back to it
	 * (RFC 6749 4.1.2.1): the page says why. */
	if (a->client_id == NULL ||
	    (r = jpki_oidc_client_get(&c, op->st, a->client_id)) ==
		JPKI_ERR_NOT_FOUND) {
		out->refused = 1;
		snprintf(out->reason, sizeof(out->reason),
			 "this service (client_id) is not registered with "
			 "the provider");
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	snprintf(out->client_name, sizeof(out->client_name), "%s", c->name);
	if (!jpki_oidc_redirect_match(c, a->redirect_uri)) {
		out->refused = 1;
		snprintf(out->reason, sizeof(out->reason),
			 "the redirect_uri is not one registered for %s",
			 c->name);
		r = 0;
		goto out;
	}
	if (a->response_type == NULL || strcmp(a->response_type, "code") != 0) {
		r = refuse_back(out, a->redirect_uri,
				"unsupported_response_type",
				"only response_type=code is served", a->state);
		goto out;
	}
	if (!has_word(a->scope, "openid")) {
		r = refuse_back(out, a->redirect_uri, "invalid_scope",
				"the scope must hold openid", a->state);
		goto out;
	}
	if (a->code_challenge_method == NULL ||
	    strcmp(a->code_challenge_method, "S256") != 0 ||
	    !is_b64url(a->code_challenge, 43)) {
		r = refuse_back(out, a->redirect_uri, "invalid_request",
				"PKCE is required: code_challenge of 43 "
				"characters with code_challenge_method=S256",
				a->state);
		goto out;
	}
	if (a->prompt != NULL && has_word(a->prompt, "none")) {
		/* there is no session to reuse: every log-in is the card's */
		r = refuse_back(out, a->redirect_uri, "login_required",
				"every log-in needs the card", a->state);
		goto out;
	}
	if ((a->state && strlen(a->state) > 512) ||
	    (a->nonce && strlen(a->nonce) > 512)) {
		r = refuse_back(out, a->redirect_uri, "invalid_request",
				"state and nonce are at most 512 characters",
				NULL);
		goto out;
	}
	if (has_word(a->scope, "profile"))
		want |= WANT_NAME | WANT_BIRTHDATE | WANT_GENDER;
	if (has_word(a->scope, "address"))
		want |= WANT_ADDRESS;
	if (a->claims != NULL && claims_want(&want, a->claims) != 0) {
		r = refuse_back(out, a->redirect_uri, "invalid_request",
				"the claims parameter is not a claims request",
				a->state);
		goto out;
	}
	r = JPKI_ERR_NOMEM;
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (id = oidc_random(32)) == NULL ||
	    (q->redirect_uri = strdup(a->redirect_uri)) == NULL ||
	    (a->state && (q->state = strdup(a->state)) == NULL) ||
	    (a->nonce && (q->nonce = strdup(a->nonce)) == NULL))
		goto out;
	snprintf(q->id, sizeof(q->id), "%s", id);
	snprintf(q->client_id, sizeof(q->client_id), "%s", c->id);
	snprintf(q->client_name, sizeof(q->client_name), "%s", c->name);
	snprintf(q->code_challenge, sizeof(q->code_challenge), "%s",
		 a->code_challenge);
	q->want = want;
	q->expires = now + JPKI_OIDC_REQUEST_SECONDS;
	pthread_mutex_lock(&op->lock);
	sweep(op, now);
	if (op->n_requests >= JPKI_OIDC_MAX_PENDING) {
		pthread_mutex_unlock(&op->lock);
		r = jpki_err_set(JPKI_ERR_TOO_LARGE,
				 "too many log-ins are under way; try again "
				 "in a minute");
		goto out;
	}
	q->next = op->requests;
	op->requests = q;
	op->n_requests++;
	pthread_mutex_unlock(&op->lock);
	q = NULL;
	snprintf(out->id, sizeof(out->id), "%s", id);
	out->wants_facts = want != 0;
	r = 0;
out:
	free(id);
	oidc_request_free(q);
	jpki_oidc_client_free(c);
	return r;
}

int jpki_oidc_request_bind(struct jpki_oidc *op, const char *id,
			   const char *challenge)
{
	struct request *q;
	int r = 0;

	pthread_mutex_lock(&op->lock);
	sweep(op, jpki_clock_now());
	if ((q = request_find(op, id)) == NULL)
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "this log-in expired; start again from the "
				 "service");
	else
		snprintf(q->challenge, sizeof(q->challenge), "%s", challenge);
	pthread_mutex_unlock(&op->lock);
	return r;
}

/* The text the resident signs to give the facts: it names the service and
 * the request, so a signature cannot be carried to another. */
static char *consent_text(const struct request *q, const char *issuer)
{
	char *t = NULL;

	if (asprintf(
		&t,
		"JPKI-OIDC-CONSENT-1\n"
		"%s (%s) "
		"に、氏名・生年月日・性別・住所を提供することに同意します。\n"
		"I consent to give %s my name, date of birth, sex and "
		"address.\n"
		"request %s\n"
		"provider %s",
		q->client_name, q->client_id, q->client_name, q->id,
		issuer) < 0)
		return NULL;
	return t;
}

int jpki_oidc_request_info(char **consent, char challenge[44],
			   struct jpki_oidc *op, const char *id)
{
	struct request *q;
	int r = 0;

	*consent = NULL;
	challenge[0] = '\0';
	pthread_mutex_lock(&op->lock);
	sweep(op, jpki_clock_now());
	if ((q = request_find(op, id)) == NULL)
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "this log-in expired; start again from the "
				 "service");
	else {
		snprintf(challenge, 44, "%s", q->challenge);
		if (q->want && (*consent = consent_text(q, op->issuer)) == NULL)
			r = JPKI_ERR_NOMEM;
	}
	pthread_mutex_unlock(&op->lock);
	return r;
}

/* The CA's record of `serial`: good, of `type`, and its person. */
static int holder(char person[129], struct jpki_oidc *op, const char *serial,
		  enum jpki_cert_type type)
{
	struct jpki_cert_info *info = NULL;
	int r;

	person[0] = '\0';
	if ((r = jpki_ca_status(&info, op->ca, serial)) != 0)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the certificate %s is not one of this "
				    "CA's",
				    serial);
	if (info->type != type)
		r = jpki_err_set(
		    JPKI_ERR_POLICY,
		    "the certificate %s is not a%s certificate", serial,
		    type == JPKI_CERT_AUTH ? "n authentication" : " signing");
	else if (info->status != JPKI_STATUS_GOOD)
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the certificate %s is revoked or suspended",
				 serial);
	else if (info->not_after <= jpki_clock_now())
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the certificate %s has expired", serial);
	else if (info->person[0] == '\0')
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the certificate %s names no person", serial);
	else
		snprintf(person, 129, "%s", info->person);
	jpki_cert_info_free(info);
	return r;
}

int jpki_oidc_request_login(struct jpki_oidc *op, const char *id,
			    const char *challenge, const char *serial)
{
	char person[129];
	struct request *q;
	int r;

	if ((r = holder(person, op, serial, JPKI_CERT_AUTH)) != 0)
		return r;
	pthread_mutex_lock(&op->lock);
	sweep(op, jpki_clock_now());
	if ((q = request_find(op, id)) == NULL)
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "this log-in expired; start again from the "
				 "service");
	else if (q->challenge[0] == '\0' || challenge == NULL ||
		 strcmp(q->challenge, challenge) != 0)
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the card answered a challenge of another "
				 "log-in");
	else if (q->logged_in)
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "this log-in was already answered");
	else {
		q->logged_in = 1;
		q->auth_time = jpki_clock_now();
		snprintf(q->person, sizeof(q->person), "%s", person);
	}
	pthread_mutex_unlock(&op->lock);
	jpki_wipe(person, sizeof(person));
	return r;
}

int jpki_oidc_request_consent(struct jpki_oidc *op, const char *id,
			      const char *serial,
			      const struct jpki_facts *facts)
{
	char person[129];
	struct request *q;
	int r;

	if ((r = holder(person, op, serial, JPKI_CERT_SIGN)) != 0)
		return r;
	pthread_mutex_lock(&op->lock);
	if ((q = request_find(op, id)) == NULL)
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "this log-in expired; start again from the "
				 "service");
	else if (!q->logged_in)
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "log in with the card before consenting");
	else if (!q->want)
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "this service asked for no facts");
	else if (strcmp(q->person, person) != 0)
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the consent was signed with another "
				 "person's card");
	else {
		q->consented = 1;
		q->facts = *facts;
	}
	pthread_mutex_unlock(&op->lock);
	jpki_wipe(person, sizeof(person));
	return r;
}

int jpki_oidc_request_finish(char **redirect, struct jpki_oidc *op,
			     const char *id)
{
	struct jpki_oidc_client *cl = NULL;
	struct request *q, **p;
	struct code *c = NULL;
	char *code = NULL, client_id[48];
	time_t now = jpki_clock_now();
	int r = JPKI_ERR_INTERNAL;

	*redirect = NULL;
	pthread_mutex_lock(&op->lock);
	q = request_find(op, id);
	snprintf(client_id, sizeof(client_id), "%s", q ? q->client_id : "");
	pthread_mutex_unlock(&op->lock);
	if (q == NULL)
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "this log-in expired; start again from "
				    "the service");
	/* the client now, not as it was: it may have been removed */
	if ((r = jpki_oidc_client_get(&cl, op->st, client_id)) != 0)
		return r;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (code = oidc_random(32)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	pthread_mutex_lock(&op->lock);
	sweep(op, now);
	for (p = &op->requests; *p && strcmp((*p)->id, id) != 0;
	     p = &(*p)->next)
		;
	if ((q = *p) == NULL)
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "this log-in expired; start again from the "
				 "service");
	else if (!q->logged_in)
		r = jpki_err_set(JPKI_ERR_POLICY, "log in with the card first");
	else if (q->want && !q->consented)
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "%s asked for your facts: sign the consent "
				 "first",
				 q->client_name);
	else if (op->n_codes >= JPKI_OIDC_MAX_PENDING)
		r = jpki_err_set(JPKI_ERR_TOO_LARGE,
				 "too many log-ins are under way; try again "
				 "in a minute");
	else if ((r = jpki_oidc_subject(c->sub, op, cl, q->person)) == 0) {
		const char *pairs[] = {"code", code, "state", q->state, NULL};

		snprintf(c->code, sizeof(c->code), "%s", code);
		snprintf(c->client_id, sizeof(c->client_id), "%s",
			 q->client_id);
		snprintf(c->code_challenge, sizeof(c->code_challenge), "%s",
			 q->code_challenge);
		c->want = q->want;
		c->facts = q->facts;
		c->auth_time = q->auth_time;
		c->expires = now + JPKI_OIDC_CODE_SECONDS;
		if ((*redirect = redirect_with(q->redirect_uri, pairs)) == NULL)
			r = JPKI_ERR_NOMEM;
		else {
			/* the request's strings move to the code */
			c->redirect_uri = q->redirect_uri;
			c->nonce = q->nonce;
			q->redirect_uri = NULL;
			q->nonce = NULL;
			*p = q->next;
			oidc_request_free(q);
			op->n_requests--;
			c->next = op->codes;
			op->codes = c;
			op->n_codes++;
			c = NULL;
		}
	}
	pthread_mutex_unlock(&op->lock);
out:
	oidc_code_free(c);
	free(code);
	jpki_oidc_client_free(cl);
	return r;
}

/* ---- the token endpoint ------------------------------------------------- */

static int oauth_error(char **out, unsigned *status, unsigned code,
		       const char *error, const char *why)
{
	json_t *doc =
	    json_pack("{s:s, s:s}", "error", error, "error_description", why);

	*status = code;
	*out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return *out ? 0 : JPKI_ERR_NOMEM;
}

/* The claims of the facts the client asked for. */
static int add_facts(json_t *obj, unsigned want, const struct jpki_facts *f)
{
	char birth[16];

	snprintf(birth, sizeof(birth), "%04d-%02d-%02d", f->birth.year,
		 f->birth.month, f->birth.day);
	if ((want & WANT_NAME) &&
	    json_object_set_new(obj, "name", json_string(f->name)) != 0)
		return JPKI_ERR_NOMEM;
	if ((want & WANT_BIRTHDATE) &&
	    json_object_set_new(obj, "birthdate", json_string(birth)) != 0)
		return JPKI_ERR_NOMEM;
	if ((want & WANT_GENDER) &&
	    json_object_set_new(obj, "gender",
				json_string(f->sex == JPKI_SEX_MALE ? "male"
					    : f->sex == JPKI_SEX_FEMALE
						? "female"
						: "unknown")) != 0)
		return JPKI_ERR_NOMEM;
	if ((want & WANT_ADDRESS) &&
	    json_object_set_new(obj, "address",
				json_pack("{s:s}", "formatted", f->address)) !=
		0)
		return JPKI_ERR_NOMEM;
	return 0;
}

/* The compact serialization of libjose's flattened JWS. */
static char *compact(const json_t *jws)
{
	const char *h = json_string_value(json_object_get(jws, "protected"));
	const char *p = json_string_value(json_object_get(jws, "payload"));
	const char *s = json_string_value(json_object_get(jws, "signature"));
	char *out = NULL;

	if (h == NULL || p == NULL || s == NULL ||
	    asprintf(&out, "%s.%s.%s", h, p, s) < 0)
		return NULL;
	return out;
}

static int id_token(char **out, struct jpki_oidc *op, const struct code *c,
		    time_t now)
{
	json_t *claims = NULL, *jws = NULL, *sig = NULL;
	char *payload = NULL;
	int r = JPKI_ERR_NOMEM;

	*out = NULL;
	claims = json_pack(
	    "{s:s, s:s, s:s, s:I, s:I, s:I, s:[s,s]}", "iss", op->issuer, "sub",
	    c->sub, "aud", c->client_id, "iat", (json_int_t)now, "exp",
	    (json_int_t)(now + JPKI_OIDC_ID_TOKEN_SECONDS), "auth_time",
	    (json_int_t)c->auth_time, "amr", "hwk", "pin");
	if (claims == NULL)
		goto out;
	if (c->nonce != NULL &&
	    json_object_set_new(claims, "nonce", json_string(c->nonce)) != 0)
		goto out;
	if ((r = add_facts(claims, c->want, &c->facts)) != 0)
		goto out;
	r = JPKI_ERR_NOMEM;
	if ((payload = json_dumps(claims, JSON_COMPACT)) == NULL ||
	    (jws = json_pack("{s:o}", "payload",
			     jose_b64_enc(payload, strlen(payload)))) == NULL ||
	    (sig = json_pack("{s:{s:s, s:s, s:s}}", "protected", "alg", "RS256",
			     "kid", op->kid, "typ", "JWT")) == NULL)
		goto out;
	if (!jose_jws_sig(NULL, jws, sig, op->jwk)) {
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "libjose cannot sign the ID token");
		goto out;
	}
	if ((*out = compact(jws)) == NULL) {
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "libjose's JWS has no compact form");
		goto out;
	}
	r = 0;
out:
	free(payload);
	json_decref(claims);
	json_decref(jws);
	json_decref(sig);
	return r;
}

/* A string piece of a compact JWS, as a JSON string. */
static json_t *piece(const char *p, size_t n)
{
	return json_stringn(p, n);
}

/*
 * private_key_jwt (OIDC Core 9): an assertion signed RS256 by one of the
 * client's registered keys, iss = sub = the client, aud = the token
 * endpoint or the issuer, not expired, and its jti used once. 0 with
 * *client_id set, or a sentence for invalid_client.
 */
static int assertion_check(char client_id[48], struct jpki_oidc *op,
			   const struct jpki_oidc_token_req *t, time_t now)
{
	const char *a = t->client_assertion, *d1, *d2;
	json_t *jws = NULL, *hdr = NULL, *claims = NULL, *keys = NULL;
	struct jpki_oidc_client *c = NULL;
	const char *iss, *sub, *jti;
	json_t *aud, *exp;
	char *text = NULL;
	size_t len;
	int r = JPKI_ERR_POLICY, aud_ok = 0;

	client_id[0] = '\0';
	if (t->client_assertion_type == NULL ||
	    strcmp(t->client_assertion_type, ASSERTION_TYPE) != 0)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "client_assertion_type must be %s",
				    ASSERTION_TYPE);
	if (strlen(a) > 16384 || (d1 = strchr(a, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL || strchr(d2 + 1, '.'))
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the client assertion is not a compact "
				    "JWS");
	jws = json_pack("{s:o, s:o, s:o}", "protected",
			piece(a, (size_t)(d1 - a)), "payload",
			piece(d1 + 1, (size_t)(d2 - d1 - 1)), "signature",
			piece(d2 + 1, strlen(d2 + 1)));
	if (jws == NULL ||
	    (hdr = jose_b64_dec_load(json_object_get(jws, "protected"))) ==
		NULL ||
	    (claims = jose_b64_dec_load(json_object_get(jws, "payload"))) ==
		NULL ||
	    !json_is_object(hdr) || !json_is_object(claims)) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the client assertion is not a JWS of JSON");
		goto out;
	}
	/* the algorithm is ours to say: RS256, never none nor HMAC */
	if (!json_is_string(json_object_get(hdr, "alg")) ||
	    strcmp(json_string_value(json_object_get(hdr, "alg")), "RS256")) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the client assertion is not RS256");
		goto out;
	}
	iss = json_string_value(json_object_get(claims, "iss"));
	sub = json_string_value(json_object_get(claims, "sub"));
	jti = json_string_value(json_object_get(claims, "jti"));
	exp = json_object_get(claims, "exp");
	aud = json_object_get(claims, "aud");
	if (iss == NULL || sub == NULL || strcmp(iss, sub) != 0 ||
	    (t->client_id && strcmp(t->client_id, iss) != 0)) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the client assertion's iss and sub are not "
				 "the client");
		goto out;
	}
	if ((r = jpki_oidc_client_get(&c, op->st, iss)) != 0 ||
	    c->auth != JPKI_OIDC_AUTH_JWT || c->jwks == NULL) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the client does not authenticate by "
				 "private_key_jwt");
		goto out;
	}
	if ((keys = json_loads(c->jwks, 0, NULL)) == NULL ||
	    !jose_jws_ver(NULL, jws, NULL, keys, false)) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the client assertion's signature is not by "
				 "the client's keys");
		goto out;
	}
	if (json_is_string(aud))
		aud_ok =
		    strcmp(json_string_value(aud), t->token_endpoint) == 0 ||
		    strcmp(json_string_value(aud), op->issuer) == 0;
	else if (json_is_array(aud)) {
		size_t i;
		json_t *v;

		json_array_foreach(aud, i,
				   v) if (json_is_string(v) &&
					  (strcmp(json_string_value(v),
						  t->token_endpoint) == 0 ||
					   strcmp(json_string_value(v),
						  op->issuer) == 0)) aud_ok = 1;
	}
	if (!aud_ok) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the client assertion is not for this token "
				 "endpoint");
		goto out;
	}
	if (!json_is_integer(exp) || json_integer_value(exp) <= now ||
	    json_integer_value(exp) > now + 3600) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the client assertion has expired or lives "
				 "longer than an hour");
		goto out;
	}
	if (jti == NULL || (len = strlen(jti)) == 0 || len > 256) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the client assertion has no jti");
		goto out;
	}
	pthread_mutex_lock(&op->lock);
	r = 0;
	for (struct jti *j = op->jtis; j; j = j->next)
		if (strcmp(j->id, jti) == 0)
			r = jpki_err_set(
			    JPKI_ERR_POLICY,
			    "the client assertion was used before");
	if (r == 0 && op->n_jtis >= JPKI_OIDC_MAX_PENDING)
		r = jpki_err_set(JPKI_ERR_POLICY, "too many assertions");
	if (r == 0) {
		struct jti *j = calloc(1, sizeof(*j));

		if (j == NULL || (j->id = strdup(jti)) == NULL) {
			free(j);
			r = JPKI_ERR_NOMEM;
		} else {
			j->expires = (time_t)json_integer_value(exp);
			j->next = op->jtis;
			op->jtis = j;
			op->n_jtis++;
		}
	}
	pthread_mutex_unlock(&op->lock);
	if (r == 0)
		snprintf(client_id, 48, "%s", iss);
out:
	free(text);
	json_decref(jws);
	json_decref(hdr);
	json_decref(claims);
	json_decref(keys);
	jpki_oidc_client_free(c);
	return r;
}

/* The client by its secret; 0 or a sentence for invalid_client. */
static int secret_check(char client_id[48], struct jpki_oidc *op,
			const struct jpki_oidc_token_req *t)
{
	char stored[65], given[65];
	int r;

	client_id[0] = '\0';
	if (t->client_id == NULL || t->client_secret == NULL)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the client did not authenticate");
	if ((r = oidc_client_secret_hash(stored, op->st, t->client_id)) != 0) {
		if (r == JPKI_ERR_NOT_FOUND)
			return jpki_err_set(JPKI_ERR_POLICY, "no such client");
		return r;
	}
	if (stored[0] == '\0')
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the client authenticates by "
				    "private_key_jwt");
	if ((r = oidc_sha256_hex(given, t->client_secret)) != 0)
		return r;
	if (!jpki_ct_equal(stored, given, 64))
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the client secret is wrong");
	snprintf(client_id, 48, "%s", t->client_id);
	return 0;
}

int jpki_oidc_token(char **out, unsigned *status, struct jpki_oidc *op,
		    const struct jpki_oidc_token_req *t)
{
	struct token *tok = NULL;
	struct code *c;
	char client_id[48], *at = NULL, *idt = NULL;
	const char *why = NULL;
	json_t *doc = NULL;
	time_t now = jpki_clock_now();
	int r;

	*out = NULL;
	*status = 500;
	if (t->grant_type == NULL ||
	    strcmp(t->grant_type, "authorization_code") != 0)
		return oauth_error(out, status, 400, "unsupported_grant_type",
				   "only authorization_code is served");
	if (t->client_assertion != NULL) {
		if (t->client_secret != NULL)
			return oauth_error(out, status, 400, "invalid_request",
					   "one way of client authentication "
					   "at a time");
		r = assertion_check(client_id, op, t, now);
	} else
		r = secret_check(client_id, op, t);
	if (r == JPKI_ERR_POLICY)
		return oauth_error(out, status, 401, "invalid_client",
				   jpki_err_detail());
	if (r != 0)
		return r;
	if (t->code == NULL || t->code_verifier == NULL)
		return oauth_error(out, status, 400, "invalid_request",
				   "code and code_verifier are required");
	if ((tok = calloc(1, sizeof(*tok))) == NULL ||
	    (at = oidc_random(32)) == NULL) {
		free(tok);
		return JPKI_ERR_NOMEM;
	}
	pthread_mutex_lock(&op->lock);
	sweep(op, now);
	for (c = op->codes; c; c = c->next)
		if (strlen(c->code) == strlen(t->code) &&
		    CRYPTO_memcmp(c->code, t->code, strlen(c->code)) == 0)
			break;
	if (c == NULL)
		why = "the code is unknown or expired";
	else if (strcmp(c->client_id, client_id) != 0)
		why = "the code was issued to another client";
	else if (c->used) {
		/* RFC 6749 4.1.2: a code used twice revokes what it gave */
		why = "the code was already used";
		for (struct token *k = op->tokens; k; k = k->next)
			if (strcmp(k->token, c->access_token) == 0)
				k->revoked = 1;
	} else {
		/* spent by the first try of its client, whatever the
		 * outcome: a guessed verifier gets one chance */
		c->used = 1;
		if (c->expires <= now)
			why = "the code has expired";
		else if (t->redirect_uri == NULL ||
			 strcmp(t->redirect_uri, c->redirect_uri) != 0)
			why = "the redirect_uri is not the one of the "
			      "authorization request";
		else if (!jpki_oidc_pkce_check(t->code_verifier,
					       c->code_challenge))
			why = "the code_verifier does not match the "
			      "code_challenge";
	}
	if (why == NULL) {
		r = id_token(&idt, op, c, now);
		if (r == 0) {
			snprintf(tok->token, sizeof(tok->token), "%s", at);
			snprintf(tok->sub, sizeof(tok->sub), "%s", c->sub);
			tok->want = c->want;
			tok->facts = c->facts;
			tok->expires = now + JPKI_OIDC_TOKEN_SECONDS;
			tok->next = op->tokens;
			op->tokens = tok;
			op->n_tokens++;
			snprintf(c->access_token, sizeof(c->access_token), "%s",
				 at);
			tok = NULL;
		}
	}
	pthread_mutex_unlock(&op->lock);
	free(tok);
	if (why != NULL) {
		r = oauth_error(out, status, 400, "invalid_grant", why);
		goto out;
	}
	if (r != 0)
		goto out;
	doc = json_pack("{s:s, s:s, s:i, s:s, s:s}", "access_token", at,
			"token_type", "Bearer", "expires_in",
			JPKI_OIDC_TOKEN_SECONDS, "id_token", idt, "scope",
			"openid");
	if (doc == NULL || (*out = json_dumps(doc, JSON_COMPACT)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	*status = 200;
	r = 0;
out:
	json_decref(doc);
	if (at != NULL)
		jpki_wipe(at, strlen(at));
	free(at);
	free(idt);
	return r;
}

int jpki_oidc_userinfo(char **out, unsigned *status, struct jpki_oidc *op,
		       const char *access_token)
{
	json_t *doc = NULL;
	struct token *k = NULL;
	time_t now = jpki_clock_now();
	int r = 0;

	*out = NULL;
	*status = 500;
	pthread_mutex_lock(&op->lock);
	sweep(op, now);
	if (access_token != NULL)
		for (k = op->tokens; k; k = k->next)
			if (strlen(k->token) == strlen(access_token) &&
			    CRYPTO_memcmp(k->token, access_token,
					  strlen(k->token)) == 0)
				break;
	if (k != NULL && !k->revoked) {
		if ((doc = json_pack("{s:s}", "sub", k->sub)) == NULL ||
		    add_facts(doc, k->want, &k->facts) != 0)
			r = JPKI_ERR_NOMEM;
	}
	pthread_mutex_unlock(&op->lock);
	if (r != 0)
		goto out;
	if (doc == NULL) {
		r = oauth_error(out, status, 401, "invalid_token",
				"the access token is unknown, expired or "
				"revoked");
		goto out;
	}
	if ((*out = json_dumps(doc, JSON_COMPACT)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	*status = 200;
out:
	json_decref(doc);
	return r;
}
