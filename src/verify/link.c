/*
 * The linking look-up from the verifier's side: ask the service which
 * certificate replaced a serial, with the verifier's client certificate,
 * and check the signed answer before believing it. The answer is kept as
 * it came (the CMS), so it can serve as evidence later.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "jpki/verify.h"

/* Hex without colons and leading zeros, in lower case, into out; 0 when
 * it does not fit. */
static int hex_norm(char *out, size_t size, const char *in)
{
	size_t k = 0;

	for (; *in; in++) {
		if (*in == ':' || (*in == '0' && k == 0))
			continue;
		if (k + 1 >= size)
			return 0;
		out[k++] = (char)tolower((unsigned char)*in);
	}
	out[k] = '\0';
	return 1;
}

/* Hex compared without case, colons and leading zeros: "0A:1b" == "a1B". */
static int hex_same(const char *a, const char *b)
{
	char x[160], y[160];

	return hex_norm(x, sizeof(x), a) && hex_norm(y, sizeof(y), b) &&
	       strcmp(x, y) == 0;
}

int jpki_verify_link_check(char **body, const unsigned char *der, size_t len,
			   X509 *ca, const char *serial,
			   const char *issuer_key_id)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;
	X509_STORE *store = NULL;
	STACK_OF(X509) *signers = NULL;
	BIO *content = NULL;
	json_t *o = NULL;
	const char *result, *s;
	char *data;
	long n;
	int r = JPKI_ERR_INTERNAL;

	*body = NULL;
	if (der == NULL || len == 0 || len > JPKI_MAX_LINK_ANSWER || ca == NULL)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "a linking answer is 1 byte to %d KiB of "
				    "CMS",
				    JPKI_MAX_LINK_ANSWER / 1024);
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
	    p != der + len ||
	    OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "the linking answer is not CMS SignedData");
		goto out;
	}
	if ((store = X509_STORE_new()) == NULL ||
	    !X509_STORE_add_cert(store, ca) ||
	    (content = BIO_new(BIO_s_mem())) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	/* the OCSP signer is no S/MIME signer: its key usage is checked
	 * below instead of CMS_verify's default purpose */
	X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
	if (CMS_verify(cms, NULL, store, NULL, content, CMS_BINARY) != 1) {
		unsigned long e = ERR_peek_last_error();
		char why[256];

		ERR_error_string_n(e, why, sizeof(why));
		r = jpki_err_set(JPKI_ERR_SIGNATURE,
				 "the linking answer's signature does not "
				 "verify with the CA certificate: %s",
				 why);
		goto out;
	}
	signers = CMS_get0_signers(cms);
	if (signers == NULL || sk_X509_num(signers) != 1 ||
	    !(X509_get_extension_flags(sk_X509_value(signers, 0)) &
	      EXFLAG_XKUSAGE) ||
	    !(X509_get_extended_key_usage(sk_X509_value(signers, 0)) &
	      XKU_OCSP_SIGN)) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the linking answer is not signed by the "
				 "CA's OCSP signer");
		goto out;
	}
	n = BIO_get_mem_data(content, &data);
	if (n <= 0 ||
	    (o = json_loadb(data, (size_t)n, JSON_REJECT_DUPLICATES, NULL)) ==
		NULL ||
	    !json_is_object(o) ||
	    (result = json_string_value(json_object_get(o, "result"))) ==
		NULL ||
	    (strcmp(result, "current") != 0 && strcmp(result, "none") != 0) ||
	    (s = json_string_value(json_object_get(o, "serial"))) == NULL) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "the linking answer's content is not a "
				 "linking answer");
		goto out;
	}
	/* an answer to another question, replayed, is no answer */
	if (serial != NULL && !hex_same(s, serial)) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the linking answer is about serial %s, not "
				 "%s",
				 s, serial);
		goto out;
	}
	s = json_string_value(json_object_get(o, "issuer_key_id"));
	if (issuer_key_id != NULL && (s == NULL || !hex_same(s, issuer_key_id))) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the linking answer is about another issuer");
		goto out;
	}
	if ((*body = strndup(data, (size_t)n)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	json_decref(o);
	sk_X509_free(signers);
	BIO_free(content);
	X509_STORE_free(store);
	CMS_ContentInfo_free(cms);
	return r;
}

struct answer {
	unsigned char *buf;
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t len = size * n;
	unsigned char *grown;

	if (len > JPKI_MAX_LINK_ANSWER - a->len)
		return 0; /* over the cap: curl fails the transfer */
	if ((grown = realloc(a->buf, a->len + len + 1)) == NULL)
		return 0;
	memcpy(grown + a->len, p, len);
	a->buf = grown;
	a->len += len;
	a->buf[a->len] = '\0';
	return len;
}

int jpki_verify_link_lookup(char **body, unsigned char **der, size_t *len,
			    const struct jpki_verify_link_options *o)
{
	char url[1024], err[CURL_ERROR_SIZE] = "";
	struct answer a = {NULL, 0};
	CURL *c = NULL;
	CURLcode rc;
	long code = 0;
	int r = JPKI_ERR_INTERNAL;

	*body = NULL;
	*der = NULL;
	*len = 0;
	if (o == NULL || o->version != JPKI_VERIFY_LINK_OPTIONS_VERSION ||
	    o->url == NULL || o->serial == NULL || o->issuer_key_id == NULL ||
	    o->ca == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a linking look-up needs the URL, the "
				    "serial, the issuer's key id and the CA "
				    "certificate");
	if (strspn(o->serial, "0123456789abcdefABCDEF") != strlen(o->serial) ||
	    strspn(o->issuer_key_id, "0123456789abcdefABCDEF:") !=
		strlen(o->issuer_key_id) ||
	    snprintf(url, sizeof(url), "%.*s/link/%s/%s",
		     /* "https://host/" names the same base as without */
		     (int)(strlen(o->url) -
			   (strlen(o->url) > 0 &&
			    o->url[strlen(o->url) - 1] == '/')),
		     o->url, o->issuer_key_id, o->serial) >= (int)sizeof(url))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the serial and the key id are hex");
	if ((c = curl_easy_init()) == NULL)
		return JPKI_ERR_NOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
			 o->timeout_ms > 0 ? o->timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	if (o->client_cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, o->client_cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, o->client_key != NULL
							? o->client_key
							: o->client_cert);
	}
	if (o->tls_ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->tls_ca);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK) {
		r = jpki_err_set(JPKI_ERR_IO, "%s is not reachable: %s", url,
				 err[0] ? err : curl_easy_strerror(rc));
		goto out;
	}
	if (code != 200) {
		/* the service's sentence, one line of it, printable only */
		char said[256] = "";
		size_t k = 0;

		for (size_t i = 0; a.buf != NULL && i < a.len &&
				   k + 1 < sizeof(said) && a.buf[i] != '\n';
		     i++)
			if (a.buf[i] >= 0x20 && a.buf[i] < 0x7f)
				said[k++] = (char)a.buf[i];
		said[k] = '\0';
		r = jpki_err_set(code == 403	? JPKI_ERR_POLICY
				 : code == 404 ? JPKI_ERR_NOT_FOUND
					       : JPKI_ERR_IO,
				 "%s answered HTTP %ld: %s", url, code, said);
		goto out;
	}
	if ((r = jpki_verify_link_check(body, a.buf, a.len, o->ca, o->serial,
					o->issuer_key_id)) != 0)
		goto out;
	*der = a.buf;
	*len = a.len;
	a.buf = NULL;
	r = 0;
out:
	free(a.buf);
	curl_easy_cleanup(c);
	return r;
}
