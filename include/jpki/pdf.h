/*
 * pdf: signatures in PDF files, PAdES baseline (ETSI EN 319 142-1).
 *
 * Reading goes through qpdf's C API only (the trailer, the catalog, the
 * pages, the AcroForm, the signature dictionary, the DSS): no PDF syntax is
 * parsed here. Signing appends incremental updates after the original
 * bytes, which stay untouched: the signature dictionary with its /ByteRange
 * and a /Contents hole of fixed size, the signature field's widget, the
 * objects that must point at them (catalog or AcroForm, the first page or
 * its /Annots), a cross-reference section and a trailer with /Prev. Those
 * few lines are written here, as every signing tool writes them; the
 * objects that change are serialised by qpdf. The CMS itself comes from
 * the caller (the client module builds it with the card's key).
 */
#ifndef JPKI_PDF_H
#define JPKI_PDF_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "jpki/base.h"

/* Bytes reserved in /Contents for the CMS (its hex form is twice that):
 * the signer's and its CA's certificates, the signed attributes and a
 * 2048-bit signature fit in a quarter of it. */
#define JPKI_PDF_CONTENTS_MAX 16384
/* Validation data a DSS may carry, and the size of each piece. */
#define JPKI_PDF_DSS_MAX_ITEMS 16
#define JPKI_PDF_DSS_MAX_ITEM (64 * 1024)

/* A byte string owned by whoever holds it. */
struct jpki_pdf_blob {
	uint8_t *data;
	size_t len;
};

/* The last signature of a PDF, as jpki_pdf_signature_read found it. */
struct jpki_pdf_signature {
	size_t n_signatures; /* signature fields with a value */
	size_t range[4];     /* its /ByteRange */
	uint8_t *cms;        /* /Contents without its zero padding, owned */
	size_t cms_len;
	uint8_t *signed_data; /* the bytes the ranges cover, owned */
	size_t signed_len;
	char subfilter[64]; /* "ETSI.CAdES.detached", "adbe.pkcs7.detached" */
	char when[64];      /* /M as written ("D:2026..."), "" if absent */
	size_t file_len;
	size_t signed_end; /* range[2] + range[3]: where the signed
			    * revision ends */
	/* After the signed revision: 0 when it is the last. Otherwise what
	 * the later updates changed, compared object by object with the
	 * signed revision: dss_only when they only add a /DSS to the catalog
	 * (and new objects only it can reach), else `changed` names the
	 * objects ("4 0 obj, 7 0 obj") or says why they could not be
	 * compared. */
	int later;
	int later_dss_only;
	char changed[256];
	/* The DSS of the whole file (B-LT validation data), owned. */
	struct jpki_pdf_blob ocsps[JPKI_PDF_DSS_MAX_ITEMS];
	size_t n_ocsps;
	struct jpki_pdf_blob certs[JPKI_PDF_DSS_MAX_ITEMS];
	size_t n_certs;
};

/*
 * Finds the last signature of `pdf` (the one whose byte range reaches
 * furthest) and checks its shape: the ranges start at 0, do not overlap,
 * stay inside the file, and leave out exactly the /Contents string qpdf
 * read. JPKI_ERR_PARSE with a sentence when qpdf cannot read the file,
 * JPKI_ERR_NOT_FOUND when it holds no signature, JPKI_ERR_INVALID for a
 * byte range of another shape, JPKI_ERR_TOO_LARGE over JPKI_MAX_PDF.
 * Release *out with jpki_pdf_signature_clear() in every case.
 */
int jpki_pdf_signature_read(struct jpki_pdf_signature *out, const uint8_t *pdf,
			    size_t len) JPKI_MUST_CHECK;

/* Frees what the signature owns and zeroes it. */
void jpki_pdf_signature_clear(struct jpki_pdf_signature *sig);

/* 1 when `data` starts as a PDF does ("%PDF-"). */
int jpki_pdf_is_pdf(const uint8_t *data, size_t len);

/*
 * Makes the CMS over `data` (the bytes the byte range covers) into *cms,
 * which the PDF module frees with OPENSSL_free(). 0 or a negative
 * jpki_err with its sentence set.
 */
typedef int (*jpki_pdf_signer)(void *arg, uint8_t **cms, size_t *cms_len,
			       const uint8_t *data, size_t len);

struct jpki_pdf_sign_options {
	int version;        /* JPKI_PDF_SIGN_OPTIONS_VERSION */
	time_t when;        /* /M, the claimed signing time; 0 = the clock's */
	const char *name;   /* /Name, UTF-8, or NULL */
	const char *reason; /* /Reason, or NULL */
	const char *location; /* /Location, or NULL */
};
#define JPKI_PDF_SIGN_OPTIONS_VERSION 1
/* clang-format off */
#define JPKI_PDF_SIGN_OPTIONS_INIT {.version = JPKI_PDF_SIGN_OPTIONS_VERSION}
/* clang-format on */

/*
 * Signs `pdf`: appends the incremental update described above (SubFilter
 * ETSI.CAdES.detached, an invisible signature field on the first page),
 * asks `sign` for the CMS over the byte ranges, and writes it into the
 * hole. *out (caller frees with free()) starts with the `len` original
 * bytes. Refuses encrypted or damaged PDFs (JPKI_ERR_INVALID,
 * JPKI_ERR_PARSE) and a CMS larger than JPKI_PDF_CONTENTS_MAX
 * (JPKI_ERR_TOO_LARGE); errors of `sign` come back as they are.
 */
int jpki_pdf_sign(uint8_t **out, size_t *out_len, const uint8_t *pdf,
		  size_t len, const struct jpki_pdf_sign_options *opts,
		  jpki_pdf_signer sign, void *arg) JPKI_MUST_CHECK;

/*
 * Appends a second incremental update holding a Document Security Store
 * (the catalog's /DSS: /Certs and /OCSPs, one stream each item, DER) for
 * PAdES B-LT. *out as for jpki_pdf_sign. JPKI_ERR_INVALID for no items or
 * more than JPKI_PDF_DSS_MAX_ITEMS of a kind.
 */
int jpki_pdf_add_dss(uint8_t **out, size_t *out_len, const uint8_t *pdf,
		     size_t len, const struct jpki_pdf_blob *certs,
		     size_t n_certs, const struct jpki_pdf_blob *ocsps,
		     size_t n_ocsps) JPKI_MUST_CHECK;

#endif
