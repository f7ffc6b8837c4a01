/*
 * The login role's verifier: docs/LOGIN.md checked by the verify module
 * against this installation's own CA, which it trusts, asks for revocation
 * status (the records OCSP answers from) and asks for the linking records
 * that keep a resident's account across renewals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "jpki/http.h"

/* How far back a chain of renewals and re-issues is followed; a person
 * renews every five years, so this is centuries of them. */
#define MAX_LINK_HOPS 64

static int ca_status(void *arg, X509 *cert, const char *serial,
		     enum jpki_verify_status *status, int *reason)
{
	struct jpki_ca *ca = arg;
	struct jpki_cert_info *info = NULL;
	unsigned char *der = NULL;
	int len, r = JPKI_ERR_INTERNAL;

	*status = JPKI_VERIFY_UNKNOWN;
	*reason = 0;
	if ((r = jpki_ca_status(&info, ca, serial)) != 0) {
		if (r == JPKI_ERR_NOT_FOUND || r == JPKI_ERR_INVALID)
			r = 0; /* not ours: unknown */
		goto out;
	}
	/* The record must be this very certificate, not another one that
	 * happens to carry the serial. */
	if ((len = i2d_X509(cert, &der)) <= 0) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if (info->type != JPKI_CERT_AUTH || info->der_len != (size_t)len ||
	    memcmp(info->der, der, (size_t)len) != 0) {
		r = 0;
		goto out;
	}
	switch (info->status) {
	case JPKI_STATUS_GOOD:
		*status = JPKI_VERIFY_GOOD;
		break;
	case JPKI_STATUS_HOLD:
		*status = JPKI_VERIFY_REVOKED;
		*reason = JPKI_REASON_CERTIFICATE_HOLD;
		break;
	default:
		*status = JPKI_VERIFY_REVOKED;
		*reason = (int)info->reason;
	}
	r = 0;
out:
	OPENSSL_free(der);
	jpki_cert_info_free(info);
	return r;
}

/*
 * A resident's account id at this relying party: the serial of the first
 * authentication certificate they were issued, found by following the CA's
 * linking records (renewal, and re-issue after a loss) back from the one
 * presented, hashed with the origin:
 *
 *   lower-case hex of the first 16 bytes of
 *   SHA-256("JPKI-LOGIN-ACCOUNT-1\n" origin "\n" first serial)
 *
 * It stays the same across renewals and new cards; it names neither a
 * certificate nor the CA's person id, and two relying parties see unrelated
 * ids for one person.
 */
static int ca_account(void *arg, X509 *cert, const char *serial,
		      const char *origin, char *out, size_t out_size)
{
	struct jpki_ca *ca = arg;
	char first[41], *hex = NULL, *text = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	int r = JPKI_ERR_INTERNAL, n;

	out[0] = '\0';
	snprintf(first, sizeof(first), "%s", serial);
	for (int hop = 0;; hop++) {
		struct jpki_link *links = NULL;
		size_t count = 0, i;

		if (hop == MAX_LINK_HOPS) {
			r = jpki_err_set(JPKI_ERR_STORE,
					 "the linking records of %s go back "
					 "more than %d certificates",
					 serial, MAX_LINK_HOPS);
			goto out;
		}
		if ((r = jpki_ca_links(&links, &count, ca, first)) != 0)
			goto out;
		for (i = 0; i < count; i++)
			if ((links[i].kind == JPKI_LINK_RENEWAL ||
			     links[i].kind == JPKI_LINK_REISSUE) &&
			    strcmp(links[i].to, first) == 0)
				break;
		if (i < count)
			snprintf(first, sizeof(first), "%s", links[i].from);
		free(links);
		if (i == count)
			break;
	}
	if ((n = asprintf(&text, "JPKI-LOGIN-ACCOUNT-1\n%s\n%s", origin,
			  first)) < 0) {
		text = NULL;
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if (!EVP_Digest(text, (size_t)n, md, &md_len, EVP_sha256(), NULL)) {
		r = jpki_err_set(JPKI_ERR_CRYPTO, "SHA-256 failed");
		goto out;
	}
	if ((hex = jpki_hex(md, 16)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if ((size_t)snprintf(out, out_size, "%s", hex) >= out_size) {
		r = jpki_err_set(JPKI_ERR_INTERNAL, "no room for the account");
		goto out;
	}
	r = 0;
out:
	free(hex);
	free(text);
	return r;
}

int jpki_http_login_new(struct jpki_verify_login **out, struct jpki_ca *ca,
			const char *origin)
{
	struct jpki_verify_login_options opts = JPKI_VERIFY_LOGIN_OPTIONS_INIT;
	/* every CA generation not yet retired: a card issued before a
	 * rollover carries a certificate of the earlier one */
	X509 *anchors[8];
	size_t n = jpki_ca_certs(anchors, 8, ca, JPKI_CERT_AUTH);
	char *own = NULL;
	int r;

	*out = NULL;
	if ((r = jpki_verify_origin(
		     &own, origin ? origin : jpki_ca_public_url(ca))) != 0)
		return r;
	opts.origin = own;
	opts.anchors = anchors;
	opts.n_anchors = n;
	opts.status = ca_status;
	opts.account = ca_account;
	opts.arg = ca;
	r = jpki_verify_login_new(out, &opts);
	free(own);
	return r;
}
