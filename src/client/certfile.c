/*
 * A certificate from a file, as `jpki cert show FILE` reads it: the real
 * JPKI CA certificates (docs/CA.md) that a resident or a relying party is
 * asked to trust, or any certificate of the service. PEM or DER; a file
 * cut short is told as such, not as "bad certificate", since a truncated
 * download is the likely cause.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "jpki/client.h"

static const char pem_begin[] = "-----BEGIN CERTIFICATE-----";
static const char pem_end[] = "-----END CERTIFICATE-----";

/* The DER of exactly one certificate: its outer SEQUENCE must span all of
 * p[0..n), no less (cut short) and no more (bytes after it). */
static int parse_der(X509 **out, const uint8_t *p, size_t n)
{
	struct jpki_cursor cur;
	const uint8_t *q = p;
	uint8_t tag, b;
	size_t body = 0, total;

	jpki_cursor_init(&cur, p, n);
	if (jpki_cursor_u8(&cur, &tag) != 0 || tag != 0x30 ||
	    jpki_cursor_u8(&cur, &b) != 0)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "not a certificate: neither PEM nor DER "
				    "(no SEQUENCE at the start)");
	if (b < 0x80) {
		body = b;
	} else if (b == 0x81 || b == 0x82) {
		for (int i = 0x80; i < b; i++) {
			uint8_t x;

			if (jpki_cursor_u8(&cur, &x) != 0)
				return jpki_err_set(JPKI_ERR_PARSE,
						    "the certificate is cut "
						    "short: %zu bytes, not "
						    "even its DER header",
						    n);
			body = body << 8 | x;
		}
	} else {
		return jpki_err_set(JPKI_ERR_PARSE,
				    "not a certificate: its DER length "
				    "(%02X) is not one of a certificate",
				    b);
	}
	total = cur.pos + body;
	if (total > JPKI_MAX_CERT)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "the certificate claims %zu bytes, over "
				    "%d",
				    total, JPKI_MAX_CERT);
	if (body > jpki_cursor_left(&cur))
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the certificate is cut short: its DER "
				    "header claims %zu bytes, there are %zu",
				    total, n);
	if (total < n)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "%zu bytes follow the certificate's %zu",
				    n - total, total);
	*out = d2i_X509(NULL, &q, (long)total);
	if (*out == NULL || q != p + total) {
		unsigned long e = ERR_peek_last_error();
		const char *why = e ? ERR_reason_error_string(e) : NULL;

		X509_free(*out);
		*out = NULL;
		ERR_clear_error();
		return jpki_err_set(JPKI_ERR_PARSE,
				    "not a readable X.509 certificate (%s)",
				    why ? why : "malformed");
	}
	return 0;
}

int jpki_client_cert_parse(X509 **out, const uint8_t *buf, size_t len)
{
	const uint8_t *begin;
	unsigned char *der = NULL;
	long der_len = 0;
	BIO *in = NULL;
	int r;

	*out = NULL;
	if (len > JPKI_CLIENT_MAX_CERT_FILE)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "a certificate file of %zu bytes, over %d",
				    len, JPKI_CLIENT_MAX_CERT_FILE);
	if (len == 0)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "not a certificate: the file is empty");
	begin = memmem(buf, len, pem_begin, sizeof(pem_begin) - 1);
	if (begin == NULL)
		return parse_der(out, buf, len);
	if (memmem(begin, len - (size_t)(begin - buf), pem_end,
		   sizeof(pem_end) - 1) == NULL)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the PEM certificate is cut short: no "
				    "END CERTIFICATE line");
	r = JPKI_ERR_NOMEM;
	if ((in = BIO_new_mem_buf(begin, (int)(len - (size_t)(begin - buf)))) ==
	    NULL)
		goto out;
	if (!PEM_bytes_read_bio(&der, &der_len, NULL, PEM_STRING_X509, in, NULL,
				NULL)) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "the PEM certificate's base64 cannot be "
				 "read");
		goto out;
	}
	r = parse_der(out, der, (size_t)der_len);
out:
	ERR_clear_error();
	OPENSSL_free(der);
	BIO_free(in);
	return r;
}

/* One line of a name, UTF-8, "C=JP, O=JPKI, OU=...", in the certificate's
 * order. */
static void name_line(char *buf, size_t size, const X509_NAME *name)
{
	unsigned long flags =
	    (XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB & ~XN_FLAG_SPC_EQ) |
	    ASN1_STRFLGS_UTF8_CONVERT;
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	buf[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, flags) >= 0 &&
	    (n = BIO_read(b, buf, (int)size - 1)) > 0)
		buf[n] = '\0';
	BIO_free(b);
}

/* An IA5String name (URI, DNS name, e-mail) as text; control bytes and
 * bytes above ASCII become '?', so that a name cannot drive the terminal. */
static void ia5_text(char *buf, size_t size, const char *prefix,
		     const ASN1_IA5STRING *s)
{
	const unsigned char *d = ASN1_STRING_get0_data(s);
	size_t n = (size_t)ASN1_STRING_length(s),
	       used = (size_t)snprintf(buf, size, "%s", prefix);

	for (size_t i = 0; i < n && used + 1 < size; i++)
		buf[used++] = d[i] < 0x20 || d[i] > 0x7E ? '?' : (char)d[i];
	buf[used < size ? used : size - 1] = '\0';
}

/* Directory names and URIs of GENERAL_NAMES, "; " between them. */
static void general_names(char *buf, size_t size, const GENERAL_NAMES *gns)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < sk_GENERAL_NAME_num(gns); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gns, i);
		char one[512] = "";

		if (gn->type == GEN_DIRNAME)
			name_line(one, sizeof(one), gn->d.directoryName);
		else if (gn->type == GEN_URI)
			ia5_text(one, sizeof(one), "", gn->d.ia5);
		else if (gn->type == GEN_DNS)
			ia5_text(one, sizeof(one), "DNS:", gn->d.ia5);
		else if (gn->type == GEN_EMAIL)
			ia5_text(one, sizeof(one), "email:", gn->d.ia5);
		else
			snprintf(one, sizeof(one), "(a name of type %d)",
				 gn->type);
		if (used < size)
			used += (size_t)snprintf(buf + used, size - used,
						 "%s%s", used ? "; " : "", one);
	}
}

static void hex_id(char *buf, size_t size, const ASN1_OCTET_STRING *id)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; id != NULL && i < ASN1_STRING_length(id); i++)
		if (used + 3 < size)
			used += (size_t)snprintf(buf + used, size - used,
						 "%s%02X", i ? ":" : "",
						 ASN1_STRING_get0_data(id)[i]);
}

/* An extension that is there but does not decode is an error; one that
 * is absent is not. */
static int ext_d2i(void **out, X509 *cert, int nid)
{
	int crit = 0;

	*out = X509_get_ext_d2i(cert, nid, &crit, NULL);
	if (*out == NULL && crit != -1)
		return jpki_err_set(
		    JPKI_ERR_PARSE, "the certificate's %s extension %s",
		    OBJ_nid2ln(nid),
		    crit == -2 ? "appears twice" : "cannot be read");
	return 0;
}

static void key_usage(char *buf, size_t size, X509 *cert)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} bits[] = {{KU_DIGITAL_SIGNATURE, "digitalSignature"},
		    {KU_NON_REPUDIATION, "nonRepudiation"},
		    {KU_KEY_ENCIPHERMENT, "keyEncipherment"},
		    {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
		    {KU_KEY_AGREEMENT, "keyAgreement"},
		    {KU_KEY_CERT_SIGN, "keyCertSign"},
		    {KU_CRL_SIGN, "cRLSign"}};
	uint32_t ku = X509_get_key_usage(cert);
	size_t used = 0;

	buf[0] = '\0';
	if (!(X509_get_extension_flags(cert) & EXFLAG_KUSAGE))
		return;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if ((ku & bits[i].bit) && used < size)
			used +=
			    (size_t)snprintf(buf + used, size - used, "%s%s",
					     used ? ", " : "", bits[i].name);
}

int jpki_client_cert_summarize(struct jpki_client_cert_summary *out, X509 *cert)
{
	BASIC_CONSTRAINTS *bc = NULL;
	ASN1_OCTET_STRING *skid = NULL;
	AUTHORITY_KEYID *akid = NULL;
	GENERAL_NAMES *san = NULL;
	CRL_DIST_POINTS *dps = NULL;
	const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
	BIGNUM *bn = NULL;
	char *hex = NULL;
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	struct jpki_date today = jpki_date_today();
	time_t now = jpki_clock_now();
	struct tm tm;
	int r;

	memset(out, 0, sizeof(*out));
	out->path_len = -1;
	if ((r = ext_d2i((void **)&bc, cert, NID_basic_constraints)) != 0 ||
	    (r = ext_d2i((void **)&skid, cert, NID_subject_key_identifier)) !=
		0 ||
	    (r = ext_d2i((void **)&akid, cert, NID_authority_key_identifier)) !=
		0 ||
	    (r = ext_d2i((void **)&san, cert, NID_subject_alt_name)) != 0 ||
	    (r = ext_d2i((void **)&dps, cert, NID_crl_distribution_points)) !=
		0)
		goto out;
	name_line(out->subject, sizeof(out->subject),
		  X509_get_subject_name(cert));
	name_line(out->issuer, sizeof(out->issuer), X509_get_issuer_name(cert));
	general_names(out->alt_name, sizeof(out->alt_name), san);
	for (int i = 0; i < sk_DIST_POINT_num(dps); i++) {
		const DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
		size_t used = strlen(out->crl_dp);

		if (dp->distpoint != NULL && dp->distpoint->type == 0 &&
		    used + 2 < sizeof(out->crl_dp)) {
			if (used > 0)
				used += (size_t)snprintf(
				    out->crl_dp + used,
				    sizeof(out->crl_dp) - used, "; ");
			general_names(out->crl_dp + used,
				      sizeof(out->crl_dp) - used,
				      dp->distpoint->name.fullname);
		}
	}
	r = JPKI_ERR_NOMEM;
	if ((bn = ASN1_INTEGER_to_BN(sn, NULL)) == NULL ||
	    (hex = BN_bn2hex(bn)) == NULL)
		goto out;
	snprintf(out->serial, sizeof(out->serial), "%s", hex);
	jpki_client_day(out->not_before, X509_get0_notBefore(cert));
	jpki_client_day(out->not_after, X509_get0_notAfter(cert));
	if (pub != NULL && EVP_PKEY_is_a(pub, "RSA"))
		snprintf(out->key, sizeof(out->key), "RSA-%d",
			 EVP_PKEY_get_bits(pub));
	else if (pub != NULL && EVP_PKEY_is_a(pub, "EC")) {
		char group[24] = "";

		(void)EVP_PKEY_get_group_name(pub, group, sizeof(group), NULL);
		snprintf(out->key, sizeof(out->key), "EC %s", group);
	} else
		snprintf(out->key, sizeof(out->key), "%s",
			 pub ? EVP_PKEY_get0_type_name(pub) : "unreadable");
	hex_id(out->key_id, sizeof(out->key_id), skid);
	hex_id(out->authority_key_id, sizeof(out->authority_key_id),
	       akid ? akid->keyid : NULL);
	key_usage(out->key_usage, sizeof(out->key_usage), cert);
	out->is_ca = bc != NULL && bc->ca;
	if (out->is_ca && bc->pathlen != NULL)
		out->path_len = ASN1_INTEGER_get(bc->pathlen);
	out->self_signed = X509_NAME_cmp(X509_get_subject_name(cert),
					 X509_get_issuer_name(cert)) == 0 &&
			   pub != NULL && X509_verify(cert, pub) == 1;
	out->type = jpki_profile_cert_type(cert);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm)) {
		struct jpki_date last = jpki_date_of(timegm(&tm));

		out->days_left = jpki_date_days_between(&today, &last);
		out->expired =
		    X509_cmp_time(X509_get0_notAfter(cert), &now) < 0;
	}
	out->not_yet_valid = X509_cmp_time(X509_get0_notBefore(cert), &now) > 0;
	r = 0;
out:
	ERR_clear_error();
	OPENSSL_free(hex);
	BN_free(bn);
	BASIC_CONSTRAINTS_free(bc);
	ASN1_OCTET_STRING_free(skid);
	AUTHORITY_KEYID_free(akid);
	GENERAL_NAMES_free(san);
	CRL_DIST_POINTS_free(dps);
	return r;
}
