/*
 * The linking look-up a registered verifier makes (証明書新旧紐付け情報):
 * from a serial it received to the person's current certificate of the
 * same type, or "none", as a JSON body inside CMS SignedData signed by the
 * CA's OCSP signer, so the verifier can keep it as evidence and anyone can
 * check it with the CA certificate (`openssl cms -verify`).
 *
 * The body, one object:
 *   {"version":1, "type":"sign", "issuer_key_id":HEX, "serial":ASKED,
 *    "result":"current"|"none",
 *    "current":{"serial","status","not_before","not_after"} or null,
 *    "last":{"serial","status","reason","revoked_at"},
 *    "links":[{"from","to","kind","reason","at"}...],
 *    "produced_at":TIME}
 * Times are UTC, "YYYY-MM-DDTHH:MM:SSZ". "links" runs from the serial
 * asked to the last certificate, each link's reason being why `from` ended.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include "ca/ca_internal.h"

/* The longest chain followed: renewals every five years for centuries. */
#define LOOKUP_MAX_LINKS 64

static json_t *utc(time_t t)
{
	char buf[32];
	struct tm tm;

	if (t <= 0 || gmtime_r(&t, &tm) == NULL)
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

/* The renewal or reissue link out of `serial`, the newest if several;
 * *found 0 for none. */
static int next_link(struct jpki_link *out, int *found, struct jpki_ca *ca,
		     const char *serial)
{
	struct jpki_link *links = NULL;
	size_t n = 0;
	int r;

	*found = 0;
	if ((r = jpki_ca_links(&links, &n, ca, serial)) != 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (links[i].kind == JPKI_LINK_PAIR ||
		    strcmp(links[i].from, serial) != 0)
			continue;
		if (!*found || links[i].at >= out->at) {
			*out = links[i];
			*found = 1;
		}
	}
	free(links);
	return 0;
}

/* The JSON body of the answer; caller frees *out with free(). */
static int answer_body(char **out, struct jpki_ca *ca,
		       enum jpki_cert_type type, const char *serial)
{
	struct jpki_cert_info *cur = NULL, *next = NULL;
	json_t *body = NULL, *links = NULL, *current = NULL;
	const ASN1_OCTET_STRING *ski;
	char *keyid = NULL;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if ((r = jpki_ca_status(&cur, ca, serial)) != 0)
		goto out;
	if (cur->type != type) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "no %s certificate has serial %s",
				 ca_type_name(type), cur->serial);
		goto out;
	}
	ski = X509_get0_subject_key_id(ca_authority(ca, type)->cert);
	if (ski != NULL)
		keyid = jpki_hex(ASN1_STRING_get0_data(ski),
				 (size_t)ASN1_STRING_length(ski));
	if ((links = json_array()) == NULL ||
	    (body = json_pack("{s:i,s:s,s:s,s:s}", "version", 1, "type",
			      ca_type_name(type), "issuer_key_id",
			      keyid ? keyid : "", "serial", cur->serial)) ==
		NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (int steps = 0;; steps++) {
		struct jpki_link l;
		int found;

		if ((r = next_link(&l, &found, ca, cur->serial)) != 0)
			goto out;
		if (!found)
			break;
		if (steps == LOOKUP_MAX_LINKS) {
			r = jpki_err_set(JPKI_ERR_INTERNAL,
					 "the links from %s run past %d "
					 "certificates",
					 serial, LOOKUP_MAX_LINKS);
			goto out;
		}
		if ((r = jpki_ca_status(&next, ca, l.to)) != 0)
			goto out;
		if (json_array_append_new(
			links,
			json_pack("{s:s,s:s,s:s,s:s?,s:o}", "from", l.from, "to",
				  l.to, "kind", jpki_ca_link_kind_name(l.kind),
				  "reason",
				  cur->status != JPKI_STATUS_GOOD
				      ? jpki_ca_reason_name(cur->reason)
				      : NULL,
				  "at", utc(l.at))) != 0) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
		jpki_cert_info_free(cur);
		cur = next;
		next = NULL;
	}
	if (cur->status == JPKI_STATUS_REVOKED)
		current = json_null();
	else
		current = json_pack("{s:s,s:s,s:o,s:o}", "serial", cur->serial,
				    "status", jpki_ca_status_name(cur->status),
				    "not_before", utc(cur->not_before),
				    "not_after", utc(cur->not_after));
	if (current == NULL ||
	    json_object_set_new(body, "result",
				json_string(cur->status == JPKI_STATUS_REVOKED
						? "none"
						: "current")) != 0 ||
	    json_object_set_new(body, "current", current) != 0 ||
	    json_object_set_new(
		body, "last",
		json_pack("{s:s,s:s,s:s?,s:o}", "serial", cur->serial,
			  "status", jpki_ca_status_name(cur->status), "reason",
			  cur->status != JPKI_STATUS_GOOD
			      ? jpki_ca_reason_name(cur->reason)
			      : NULL,
			  "revoked_at",
			  cur->status != JPKI_STATUS_GOOD ? utc(cur->revoked_at)
							  : json_null())) !=
		0 ||
	    json_object_set(body, "links", links) != 0 ||
	    json_object_set_new(body, "produced_at", utc(jpki_clock_now())) !=
		0 ||
	    (*out = json_dumps(body, JSON_COMPACT)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	jpki_cert_info_free(cur);
	jpki_cert_info_free(next);
	json_decref(links);
	json_decref(body);
	free(keyid);
	return r;
}

int jpki_ca_link_answer(unsigned char **out, size_t *len, struct jpki_ca *ca,
			enum jpki_cert_type type, const char *serial)
{
	struct authority *a;
	char *body = NULL;
	BIO *in = NULL;
	CMS_ContentInfo *cms = NULL;
	unsigned char *der = NULL;
	int n, r = JPKI_ERR_INTERNAL;

	*out = NULL;
	*len = 0;
	if (type != JPKI_CERT_SIGN && type != JPKI_CERT_AUTH)
		return jpki_err_set(JPKI_ERR_INVALID, "no such CA");
	a = ca_authority(ca, type);
	if ((r = answer_body(&body, ca, type, serial)) != 0)
		goto out;
	if ((in = BIO_new_mem_buf(body, (int)strlen(body))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	/* binary: the JSON's bytes are signed as they are, no MIME
	 * canonicalisation; the signer's certificate goes inside */
	if ((cms = CMS_sign(a->ocsp_cert, a->ocsp_key, NULL, in, CMS_BINARY)) ==
		NULL ||
	    (n = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
		ERR_clear_error();
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "the linking answer cannot be signed");
		goto out;
	}
	if ((*out = malloc((size_t)n)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	memcpy(*out, der, (size_t)n);
	*len = (size_t)n;
	r = 0;
out:
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	free(body);
	return r;
}
