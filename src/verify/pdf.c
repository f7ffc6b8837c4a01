/*
 * A signed PDF, checked as an application (ETSI EN 319 142-1; docs/
 * RELYING_PARTY.md, "PDFs"):
 *
 *   1. the last signature and its byte range, read through qpdf by the
 *      pdf module, which refuses a range that starts elsewhere than the
 *      first byte, leaves out more than /Contents, or runs past the end;
 *   2. the CMS in /Contents over the bytes the ranges cover: the same check
 *      as a detached application (application.c), hence the same report;
 *   3. what follows the signed revision: nothing, or an update that only
 *      adds a DSS; anything else changed the document after it was signed;
 *   4. offline, the DSS's OCSP responses (B-LT) answer for revocation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "jpki/pdf.h"
#include "verify/verify_internal.h"

#define DEFAULT_SKEW 300

static void add_reason(struct jpki_verify_report *rep,
		       enum jpki_app_refusal why, const char *fmt, ...)
    JPKI_PRINTF(3, 4);

static void add_reason(struct jpki_verify_report *rep,
		       enum jpki_app_refusal why, const char *fmt, ...)
{
	va_list ap;

	if (rep->n_reasons == JPKI_VERIFY_MAX_REASONS)
		return;
	rep->reasons[rep->n_reasons].why = why;
	va_start(ap, fmt);
	vsnprintf(rep->reasons[rep->n_reasons].text,
		  sizeof(rep->reasons[0].text), fmt, ap);
	va_end(ap);
	rep->n_reasons++;
	rep->accepted = 0;
}

/* A PDF date "D:YYYYMMDDHHmmSS" with an optional Z or +HH'mm / -HH'mm,
 * as UTC; 0 when it has another shape. */
static time_t pdf_date(const char *s)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
	long off = 0;

	if (sscanf(s, "D:%4d%2d%2d%2d%2d%2d%n", &y, &mo, &d, &h, &mi, &sec,
		   &n) != 6 ||
	    n == 0)
		return 0;
	if ((s[n] == '+' || s[n] == '-') &&
	    sscanf(s + n + 1, "%2d'%2d", &oh, &om) >= 1)
		off = (s[n] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return timegm(&tm) - off;
}

static time_t asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

/* ---- 4. the DSS's OCSP responses ---------------------------------------- */

struct dss {
	const struct jpki_pdf_signature *sig;
	time_t signed_at;
	long skew;
	int used;
	char why[200];
};

/* One response's answer about `cert`: 1 answered, 0 not about it or not
 * usable (dss->why says why). */
static int dss_one(struct dss *d, const struct jpki_pdf_blob *b, X509 *cert,
		   X509 *issuer, enum jpki_verify_status *status, int *reason)
{
	const unsigned char *p = b->data;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)b->len);
	OCSP_BASICRESP *basic = NULL;
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, issuer);
	X509_STORE *store = X509_STORE_new();
	ASN1_GENERALIZEDTIME *this_upd = NULL;
	int st, why, answered = 0;
	time_t produced;

	if (resp == NULL || id == NULL || store == NULL ||
	    OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (basic = OCSP_response_get1_basic(resp)) == NULL) {
		snprintf(d->why, sizeof(d->why),
			 "an OCSP response in the DSS cannot be read");
		goto out;
	}
	if (!OCSP_resp_find_status(basic, id, &st, &why, NULL, &this_upd,
				   NULL)) {
		snprintf(d->why, sizeof(d->why),
			 "the DSS holds no OCSP response about the signing "
			 "certificate");
		goto out;
	}
	/* the responder's certificate is judged at the time it answered:
	 * a kept answer stays evidence after its signer expires */
	produced = asn1_time(OCSP_resp_get0_produced_at(basic));
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), produced);
	if (!X509_STORE_add_cert(store, issuer) ||
	    OCSP_basic_verify(basic, NULL, store, 0) != 1) {
		snprintf(d->why, sizeof(d->why),
			 "the DSS's OCSP response is not signed for the "
			 "certificate's CA");
		goto out;
	}
	if (d->signed_at == 0) {
		snprintf(d->why, sizeof(d->why),
			 "the signature has no readable time (/M) to judge "
			 "the DSS's OCSP response against");
		goto out;
	}
	if (asn1_time(this_upd) < d->signed_at - d->skew) {
		snprintf(d->why, sizeof(d->why),
			 "the DSS's OCSP response is older than the "
			 "signature's time (/M), so it says nothing about the "
			 "certificate when it signed");
		goto out;
	}
	*status = st == V_OCSP_CERTSTATUS_GOOD      ? JPKI_VERIFY_GOOD
		  : st == V_OCSP_CERTSTATUS_REVOKED ? JPKI_VERIFY_REVOKED
						    : JPKI_VERIFY_UNKNOWN;
	*reason = why < 0 ? 0 : why;
	answered = 1;
out:
	ERR_clear_error();
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(basic);
	OCSP_CERTID_free(id);
	X509_STORE_free(store);
	return answered;
}

static int dss_status(void *arg, X509 *cert, X509 *issuer, const char *serial,
		      enum jpki_verify_status *status, int *reason)
{
	struct dss *d = arg;

	*status = JPKI_VERIFY_UNKNOWN;
	*reason = -1;
	snprintf(d->why, sizeof(d->why),
		 "the DSS holds no OCSP response about the signing "
		 "certificate");
	for (size_t i = 0; i < d->sig->n_ocsps; i++)
		if (dss_one(d, &d->sig->ocsps[i], cert, issuer, status,
			    reason)) {
			d->used = 1;
			break;
		}
	return 0;
}

/* ---- the whole check ---------------------------------------------------- */

int jpki_verify_pdf(struct jpki_verify_report *out,
		    struct jpki_verify_pdf_info *info,
		    const struct jpki_verify_options *opts, const uint8_t *pdf,
		    size_t len)
{
	struct jpki_pdf_signature sig;
	struct jpki_verify_options o;
	struct dss dss = {0};
	int r;

	memset(out, 0, sizeof(*out));
	out->revocation_reason = -1;
	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (opts == NULL || opts->version != JPKI_VERIFY_OPTIONS_VERSION)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the options of the PDF check are not "
				    "usable");

	/* 1 */
	if ((r = jpki_pdf_signature_read(&sig, pdf, len)) != 0) {
		jpki_pdf_signature_clear(&sig);
		if (r == JPKI_ERR_NOMEM)
			return r;
		add_reason(out,
			   r == JPKI_ERR_TOO_LARGE ? JPKI_APP_TOO_LARGE
						   : JPKI_APP_MALFORMED,
			   "%s", jpki_err_detail());
		jpki_err_clear();
		return 0;
	}
	if (info != NULL) {
		info->n_signatures = sig.n_signatures;
		memcpy(info->subfilter, sig.subfilter, sizeof(info->subfilter));
		memcpy(info->when, sig.when, sizeof(info->when));
		info->signed_end = sig.signed_end;
		info->file_len = sig.file_len;
		info->later = sig.later;
		info->later_dss_only = sig.later_dss_only;
		memcpy(info->changed, sig.changed, sizeof(info->changed));
		info->n_dss_ocsps = sig.n_ocsps;
	}

	/* 2, with 4 as its revocation source when offline */
	o = *opts;
	o.content = sig.signed_data;
	o.content_len = sig.signed_len;
	if (opts->offline && opts->status == NULL && sig.n_ocsps > 0) {
		dss.sig = &sig;
		dss.signed_at = pdf_date(sig.when);
		dss.skew = opts->max_skew > 0 ? opts->max_skew : DEFAULT_SKEW;
		o.status = dss_status;
		o.status_arg = &dss;
	}
	if ((r = jpki_verify_application(out, &o, sig.cms, sig.cms_len)) != 0)
		goto out;
	if (o.status == dss_status) {
		if (dss.used) {
			snprintf(out->revocation_source,
				 sizeof(out->revocation_source), "dss");
		} else {
			/* name the evidence that failed, not "the CA" */
			for (size_t i = 0; i < out->n_reasons; i++)
				if (out->reasons[i].why ==
				    JPKI_APP_STATUS_UNKNOWN)
					snprintf(out->reasons[i].text,
						 sizeof(out->reasons[i].text),
						 "revocation status unknown "
						 "offline: %s",
						 dss.why);
			out->revocation_source[0] = '\0';
		}
		if (info != NULL)
			info->used_dss = dss.used;
	}
	if (strcmp(sig.subfilter, "ETSI.CAdES.detached") != 0 &&
	    strcmp(sig.subfilter, "adbe.pkcs7.detached") != 0)
		add_reason(out, JPKI_APP_MALFORMED,
			   "the PDF signature's /SubFilter is %s%s, not a "
			   "detached CMS signature (ETSI.CAdES.detached)",
			   sig.subfilter[0] ? "/" : "none", sig.subfilter);

	/* 3 */
	if (sig.later && !sig.later_dss_only)
		add_reason(out, JPKI_APP_PDF_CHANGED,
			   "the PDF was changed after it was signed (the "
			   "signature covers its first %zu of %zu bytes): %s",
			   sig.signed_end, sig.file_len, sig.changed);
	out->accepted = out->n_reasons == 0;
	r = 0;
out:
	if (r != 0)
		out->accepted = 0;
	jpki_pdf_signature_clear(&sig);
	return r;
}
