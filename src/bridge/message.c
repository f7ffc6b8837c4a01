/*
 * The native-messaging wire (docs/BROWSER.md, "Extension <-> host"): the
 * framing, the strict parser of a request, the origin rule and the replies.
 * Everything here reads bytes the browser passed on from a web page, so
 * every field is checked by name and type and nothing unknown is let by.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "bridge/bridge_internal.h"
#include "jpki/verify.h"

/* Reads exactly n bytes; *got tells how many came before the end. */
static int read_full(int fd, void *buf, size_t n, size_t *got)
{
	unsigned char *p = buf;

	*got = 0;
	while (*got < n) {
		ssize_t k = read(fd, p + *got, n - *got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return jpki_err_set(JPKI_ERR_IO,
					    "cannot read from the browser: %s",
					    strerror(errno));
		if (k == 0)
			return 0;
		*got += (size_t)k;
	}
	return 0;
}

int jpki_bridge_read_message(char **out, size_t *len, int fd)
{
	uint32_t n;
	size_t got;
	char *buf;
	int r;

	*out = NULL;
	*len = 0;
	if ((r = read_full(fd, &n, sizeof(n), &got)) != 0)
		return r;
	if (got == 0)
		return 1;
	if (got < sizeof(n))
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the message's length is cut short (%zu "
				    "of 4 bytes)",
				    got);
	/* refused on the length alone: the body is never read */
	if (n > JPKI_BRIDGE_REQUEST_MAX)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "a request of %u bytes is over the limit of "
				    "%d",
				    (unsigned)n, JPKI_BRIDGE_REQUEST_MAX);
	if ((buf = malloc((size_t)n + 1)) == NULL)
		return JPKI_ERR_NOMEM;
	if ((r = read_full(fd, buf, n, &got)) != 0) {
		free(buf);
		return r;
	}
	if (got < n) {
		free(buf);
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the message is cut short (%zu of %u "
				    "bytes)",
				    got, (unsigned)n);
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int jpki_bridge_write_message(int fd, const char *msg, size_t len)
{
	uint32_t n = (uint32_t)len;
	const char *parts[2] = {(const char *)&n, msg};
	size_t sizes[2] = {sizeof(n), len};

	if (len > JPKI_BRIDGE_REPLY_MAX)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "a reply of %zu bytes is over the browser's "
				    "limit",
				    len);
	for (int i = 0; i < 2; i++) {
		size_t done = 0;

		while (done < sizes[i]) {
			ssize_t k = write(fd, parts[i] + done, sizes[i] - done);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return jpki_err_set(JPKI_ERR_IO,
						    "cannot write to the "
						    "browser: %s",
						    strerror(errno));
			done += (size_t)k;
		}
	}
	return 0;
}

int jpki_bridge_origin_check(const char *origin)
{
	char *canon = NULL;
	const char *host;
	size_t hlen;
	int r;

	if (origin == NULL || strlen(origin) >= 256)
		return jpki_err_set(JPKI_ERR_POLICY, "no origin, or too long");
	if ((r = jpki_verify_origin(&canon, origin)) != 0 ||
	    strcmp(canon, origin) != 0) {
		free(canon);
		return jpki_err_set(JPKI_ERR_POLICY,
				    "'%s' is not a web origin "
				    "(scheme://host[:port])",
				    origin);
	}
	free(canon);
	if (strncmp(origin, "https://", 8) == 0)
		return 0;
	/* plain http only on this machine, as browsers' secure contexts */
	host = origin + 7;
	hlen = strcspn(host, host[0] == '[' ? "]" : ":");
	if (host[0] == '[')
		hlen++;
	if ((hlen == 9 && strncmp(host, "127.0.0.1", 9) == 0) ||
	    (hlen == 9 && strncmp(host, "localhost", 9) == 0) ||
	    (hlen == 5 && strncmp(host, "[::1]", 5) == 0))
		return 0;
	return jpki_err_set(JPKI_ERR_POLICY,
			    "'%s' is plain http: only https pages, or http on "
			    "this machine, may use the card",
			    origin);
}

/* A string field of the request, its type checked. */
static int get_string(const char **out, const char **code, json_t *req,
		      const char *name)
{
	json_t *v = json_object_get(req, name);

	*out = NULL;
	if (v == NULL) {
		*code = "bad_request";
		return jpki_err_set(JPKI_ERR_INVALID, "no field \"%s\"", name);
	}
	if (!json_is_string(v)) {
		*code = "bad_request";
		return jpki_err_set(JPKI_ERR_INVALID,
				    "field \"%s\" must be a string", name);
	}
	*out = json_string_value(v);
	return 0;
}

/* Characters of UTF-8 text (jansson has checked it is UTF-8); -1 for a
 * control character. */
static long text_chars(const char *s)
{
	long n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7F)
			return -1;
		if ((*p & 0xC0) != 0x80)
			n++;
	}
	return n;
}

static int only(const char *s, const char *set)
{
	return s[strspn(s, set)] == '\0';
}

#define B64 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* The 32-byte hash in standard base64 with its padding, in the one form
 * that encodes those bytes (so no two texts stand for one hash). */
static int decode_hash(unsigned char out[32], const char *text)
{
	unsigned char buf[33];
	char again[45];

	if (strlen(text) != 44 || text[43] != '=' || text[42] == '=')
		return -1;
	char head[44];
	memcpy(head, text, 43);
	head[43] = '\0';
	if (!only(head, B64 "+/"))
		return -1;
	if (EVP_DecodeBlock(buf, (const unsigned char *)text, 44) != 33)
		return -1;
	EVP_EncodeBlock((unsigned char *)again, buf, 32);
	if (strcmp(again, text) != 0)
		return -1;
	memcpy(out, buf, 32);
	return 0;
}

/* A byte string of the seal in standard base64, padded, in its one
 * canonical form, 1 to max bytes once decoded; *out (caller frees). -2
 * when it would decode to more than max bytes, -1 when it is no such
 * base64. */
static int decode_bytes(unsigned char **out, size_t *out_len, const char *text,
			size_t max)
{
	size_t n = strlen(text), pad = 0, len;
	unsigned char *buf = NULL;
	char *again = NULL;
	int r = -1;

	*out = NULL;
	*out_len = 0;
	/* the length first, as a division: no overflow, nothing decoded */
	if (n / 4 > (max + 2) / 3)
		return -2;
	if (n == 0 || n % 4 != 0)
		return -1;
	if (text[n - 1] == '=')
		pad = text[n - 2] == '=' ? 2 : 1;
	if (strspn(text, B64 "+/") != n - pad)
		return -1;
	len = n / 4 * 3 - pad;
	if (len > max)
		return -2;
	if ((buf = malloc(n / 4 * 3 + 1)) == NULL ||
	    (again = malloc(n + 1)) == NULL)
		goto out;
	if (EVP_DecodeBlock(buf, (const unsigned char *)text, (int)n) !=
	    (int)(n / 4 * 3))
		goto out;
	EVP_EncodeBlock((unsigned char *)again, buf, (int)len);
	if (strcmp(again, text) != 0)
		goto out;
	*out = buf;
	*out_len = len;
	buf = NULL;
	r = 0;
out:
	free(buf);
	free(again);
	return r;
}

void jpki_bridge_request_clear(struct jpki_bridge_request *req)
{
	if (req == NULL)
		return;
	free(req->document);
	free(req->signature);
	free(req->recipient);
	memset(req, 0, sizeof(*req));
}

struct op_fields {
	const char *name;
	enum jpki_bridge_op op;
	const char *fields[4]; /* beyond id, op and origin */
};

static const struct op_fields ops[] = {
    {"certificates", JPKI_BRIDGE_CERTIFICATES, {NULL}},
    {"sign", JPKI_BRIDGE_SIGN, {"hash", "hashAlgorithm", "description", NULL}},
    {"login", JPKI_BRIDGE_LOGIN, {"challenge", NULL}},
    {"seal", JPKI_BRIDGE_SEAL, {"document", "signature", "recipient", NULL}},
};

/* The seal's three byte strings. */
static int parse_seal(struct jpki_bridge_request *out, const char **code,
		      json_t *req)
{
	static const struct {
		const char *name, *what;
		size_t max;
	} f[] = {
	    {"document", "the signed document", JPKI_BRIDGE_DOCUMENT_MAX},
	    {"signature", "the detached CMS signature",
	     JPKI_BRIDGE_SIGNATURE_MAX},
	    {"recipient", "the DER of the agency's certificate",
	     JPKI_BRIDGE_RECIPIENT_MAX},
	};
	unsigned char **bytes[] = {&out->document, &out->signature,
				   &out->recipient};
	size_t *lens[] = {&out->document_len, &out->signature_len,
			  &out->recipient_len};
	const char *s;
	int r;

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if ((r = get_string(&s, code, req, f[i].name)) != 0)
			return r;
		if ((r = decode_bytes(bytes[i], lens[i], s, f[i].max)) != 0) {
			/* over the cap is said apart: the page can tell the
			 * resident the document is too large */
			int big = r == -2;

			*code = big ? "too_large" : "bad_request";
			return jpki_err_set(
			    big ? JPKI_ERR_TOO_LARGE : JPKI_ERR_INVALID,
			    "field \"%s\" must be %s in base64, 1 to %zu "
			    "bytes",
			    f[i].name, f[i].what, f[i].max);
		}
	}
	return 0;
}

int jpki_bridge_parse(struct jpki_bridge_request *out, const char **code,
		      const char *msg, size_t len)
{
	const struct op_fields *of = NULL;
	const char *id, *op, *origin, *s, *key;
	json_error_t jerr;
	json_t *req = NULL, *v;
	int r;

	memset(out, 0, sizeof(*out));
	*code = "bad_request";
	if (len > JPKI_BRIDGE_REQUEST_MAX) {
		*code = "too_large";
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "a request of %zu bytes is over the limit "
				    "of %d",
				    len, JPKI_BRIDGE_REQUEST_MAX);
	}
	/* jansson refuses bad UTF-8 and \u0000 (no JSON_ALLOW_NUL) */
	req = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &jerr);
	if (req == NULL) {
		r = jpki_err_set(JPKI_ERR_PARSE, "the request is not JSON: %s",
				 jerr.text);
		goto out;
	}
	if (!json_is_object(req)) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "the request is not a JSON object");
		goto out;
	}
	if ((r = get_string(&id, code, req, "id")) != 0)
		goto out;
	if (id[0] == '\0' || strlen(id) > JPKI_BRIDGE_ID_MAX ||
	    text_chars(id) != (long)strlen(id)) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "field \"id\" must be 1 to %d printable ASCII "
				 "characters",
				 JPKI_BRIDGE_ID_MAX);
		goto out;
	}
	memcpy(out->id, id, strlen(id) + 1);
	if ((r = get_string(&op, code, req, "op")) != 0)
		goto out;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(op, ops[i].name) == 0)
			of = &ops[i];
	if (of == NULL) {
		*code = "unknown_op";
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "unknown op \"%.40s\" (certificates, sign, "
				 "login, seal)",
				 op);
		goto out;
	}
	out->op = of->op;
	json_object_foreach(req, key, v)
	{
		int known = strcmp(key, "id") == 0 || strcmp(key, "op") == 0 ||
			    strcmp(key, "origin") == 0;

		for (int i = 0; !known && of->fields[i] != NULL; i++)
			known = strcmp(key, of->fields[i]) == 0;
		if (!known) {
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "unknown field \"%.40s\" for op %s",
					 key, of->name);
			goto out;
		}
	}
	if ((r = get_string(&origin, code, req, "origin")) != 0)
		goto out;
	if ((r = jpki_bridge_origin_check(origin)) != 0) {
		*code = "origin_refused";
		goto out;
	}
	memcpy(out->origin, origin, strlen(origin) + 1);
	if (of->op == JPKI_BRIDGE_SIGN) {
		if ((r = get_string(&s, code, req, "hashAlgorithm")) != 0)
			goto out;
		if (strcmp(s, "SHA-256") != 0) {
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "field \"hashAlgorithm\" must be "
					 "\"SHA-256\"");
			goto out;
		}
		if ((r = get_string(&s, code, req, "hash")) != 0)
			goto out;
		if (decode_hash(out->hash, s) != 0) {
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "field \"hash\" must be the 32 bytes "
					 "of a SHA-256 hash in base64");
			goto out;
		}
		if ((r = get_string(&s, code, req, "description")) != 0)
			goto out;
		long n = text_chars(s);
		if (n < 1 || n > JPKI_BRIDGE_DESCRIPTION_MAX) {
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "field \"description\" must be 1 to "
					 "%d characters, no control "
					 "characters",
					 JPKI_BRIDGE_DESCRIPTION_MAX);
			goto out;
		}
		memcpy(out->description, s, strlen(s) + 1);
	} else if (of->op == JPKI_BRIDGE_LOGIN) {
		if ((r = get_string(&s, code, req, "challenge")) != 0)
			goto out;
		if (strlen(s) != 43 || !only(s, B64 "-_")) {
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "field \"challenge\" must be 43 "
					 "characters of base64url");
			goto out;
		}
		memcpy(out->challenge, s, 44);
	} else if (of->op == JPKI_BRIDGE_SEAL) {
		if ((r = parse_seal(out, code, req)) != 0)
			goto out;
	}
	r = 0;
out:
	if (r != 0) {
		/* the id still answers the refusal; the bytes go */
		char id_kept[sizeof(out->id)];

		memcpy(id_kept, out->id, sizeof(id_kept));
		jpki_bridge_request_clear(out);
		memcpy(out->id, id_kept, sizeof(id_kept));
	}
	json_decref(req);
	return r;
}

static char *dump_capped(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	if (s != NULL && strlen(s) > JPKI_BRIDGE_REPLY_MAX) {
		free(s);
		s = NULL;
	}
	return s;
}

char *bridge_reply_ok(const char *id, json_t *result)
{
	json_t *j = json_pack("{s:s, s:b, s:o}", "id", id ? id : "", "ok", 1,
			      "result", result);
	char *s = j ? dump_capped(j) : NULL;

	json_decref(j);
	return s;
}

char *bridge_reply_error(const char *id, const char *code, const char *message)
{
	json_t *j = json_pack("{s:s, s:b, s:{s:s, s:s}}", "id", id ? id : "",
			      "ok", 0, "error", "code", code, "message",
			      message ? message : "");
	char *s;

	/* a sentence that quoted a cut piece of the request may not be
	 * UTF-8 any more: the code alone still answers */
	if (j == NULL)
		j = json_pack("{s:s, s:b, s:{s:s, s:s}}", "id",
			      id ? id : "", "ok", 0, "error", "code", code,
			      "message", "the request was refused");
	s = j ? dump_capped(j) : NULL;

	json_decref(j);
	return s;
}
