/*
 * The incremental updates that sign a PDF and add its validation data
 * (ISO 32000-1 7.5.6, 12.8; ETSI EN 319 142-1 5.3, 5.4). The original bytes
 * come first, untouched; after them:
 *
 *   N 0 obj  the signature dictionary: /Filter /Adobe.PPKLite, /SubFilter
 *            /ETSI.CAdES.detached, /M, /ByteRange [0 a b c] written as a
 *            fixed-width placeholder, /Contents <00...> of
 *            2 x JPKI_PDF_CONTENTS_MAX hex digits (the hole [a, b))
 *   N+1      the signature field and its widget in one dictionary
 *            (invisible: /Rect [0 0 0 0]) on the first page
 *   ...      the objects that must point at them, as qpdf serialises them
 *            after the change: the AcroForm (or the catalog holding it),
 *            the first page (or its /Annots array)
 *   xref     one subsection per run of object numbers
 *   trailer  /Size, /Root, /Prev (the previous cross-reference section),
 *            /Info and /ID carried over
 *
 * Every offset of the update is known while it is written, so the byte
 * range is filled in, the signer called over the ranges, and its CMS
 * written into the hole, without reading the result back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "pdf/pdf_internal.h"

#define MAX_REWRITE 4   /* existing objects one update may rewrite */
#define RANGE_DIGITS 10 /* width of each /ByteRange number */
#define STARTXREF_TAIL 1024
#define MAX_OBJECT_NUMBER 8388607

/* The offset of the last cross-reference section, for /Prev. qpdf's C API
 * does not give it; it is the number after the last "startxref", which
 * ISO 32000-1 7.5.5 puts in the file's last lines. */
static int last_startxref(size_t *out, const uint8_t *pdf, size_t len)
{
	size_t from = len > STARTXREF_TAIL ? len - STARTXREF_TAIL : 0, v = 0;
	const char *key = "startxref";
	size_t klen = strlen(key), i, digits = 0;
	int found = 0;

	for (i = len >= klen ? len - klen + 1 : 0; !found && i-- > from;)
		found = memcmp(pdf + i, key, klen) == 0;
	if (!found)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the PDF does not end with startxref");
	for (i += klen;
	     i < len && (pdf[i] == ' ' || pdf[i] == '\r' || pdf[i] == '\n');
	     i++)
		;
	for (; i < len && pdf[i] >= '0' && pdf[i] <= '9' && digits < 12;
	     i++, digits++)
		v = v * 10 + (size_t)(pdf[i] - '0');
	if (digits == 0 || v >= len)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the PDF's startxref is not an offset "
				    "inside it");
	*out = v;
	return 0;
}

/* One object of the update, for the cross-reference section. */
struct entry {
	int id, gen;
	size_t offset;
};

struct update {
	qpdf_data q;
	FILE *f; /* the update, in memory */
	char *buf;
	size_t buf_len;
	size_t base; /* the update's first byte in the output */
	int sep;     /* 1 when a newline goes between the two */
	struct entry e[MAX_REWRITE + 2 + 2 * JPKI_PDF_DSS_MAX_ITEMS + 1];
	size_t n;
	qpdf_oh rewrite[MAX_REWRITE];
	size_t n_rewrite;
	size_t prev;
	int size; /* the trailer's /Size before the update */
	int next; /* the /Size after it */
};

static int update_begin(struct update *u, const uint8_t *pdf, size_t len,
			const char *what)
{
	long long size;
	int r;

	memset(u, 0, sizeof(*u));
	if ((r = pdf_open(&u->q, pdf, len, what)) != 0)
		return r;
	if (qpdf_is_encrypted(u->q)) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "the PDF is encrypted: decrypt it first "
				 "(qpdf --decrypt)");
		goto fail;
	}
	if ((r = last_startxref(&u->prev, pdf, len)) != 0)
		goto fail;
	size = pdf_int(u->q, qpdf_get_trailer(u->q), "/Size");
	/* ISO 32000-1 C.2: at most 8,388,607 indirect objects */
	if (size <= 0 ||
	    size > MAX_OBJECT_NUMBER - 2 * JPKI_PDF_DSS_MAX_ITEMS) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "the PDF's trailer has no usable /Size");
		goto fail;
	}
	u->size = (int)size;
	u->next = u->size;
	u->sep = len > 0 && pdf[len - 1] != '\n' && pdf[len - 1] != '\r';
	u->base = len + (size_t)u->sep;
	if ((u->f = open_memstream(&u->buf, &u->buf_len)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto fail;
	}
	return 0;
fail:
	qpdf_cleanup(&u->q);
	return r;
}

static void update_free(struct update *u)
{
	if (u->f != NULL)
		fclose(u->f);
	free(u->buf);
	qpdf_cleanup(&u->q);
	memset(u, 0, sizeof(*u));
}

/* Starts object `id` of the update: its offset goes to the xref. */
static void begin_object(struct update *u, int id, int gen)
{
	u->e[u->n].id = id;
	u->e[u->n].gen = gen;
	u->e[u->n].offset = u->base + (size_t)ftell(u->f);
	u->n++;
	fprintf(u->f, "%d %d obj\n", id, gen);
}

/* Queues an existing indirect object to be written again after the
 * change (once, however often it is asked for). */
static int rewrite(struct update *u, qpdf_oh oh)
{
	int id = qpdf_oh_get_object_id(u->q, oh);

	if (id <= 0 || qpdf_oh_is_stream(u->q, oh))
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the PDF's catalog, AcroForm or page is "
				    "not a plain indirect dictionary");
	for (size_t i = 0; i < u->n_rewrite; i++)
		if (qpdf_oh_get_object_id(u->q, u->rewrite[i]) == id)
			return 0;
	if (u->n_rewrite == MAX_REWRITE)
		return jpki_err_set(JPKI_ERR_INTERNAL, "too many rewrites");
	u->rewrite[u->n_rewrite++] = oh;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* Writes the queued objects, the xref section and the trailer, and closes
 * the memory stream (u->buf, u->buf_len hold the update). */
static int update_end(struct update *u)
{
	qpdf_oh trailer = qpdf_get_trailer(u->q), root = qpdf_get_root(u->q);
	qpdf_oh info = qpdf_oh_get_key(u->q, trailer, "/Info");
	qpdf_oh id = qpdf_oh_get_key(u->q, trailer, "/ID");
	size_t xref;
	int r;

	for (size_t i = 0; i < u->n_rewrite; i++) {
		begin_object(u, qpdf_oh_get_object_id(u->q, u->rewrite[i]),
			     qpdf_oh_get_generation(u->q, u->rewrite[i]));
		fprintf(u->f, "%s\nendobj\n",
			qpdf_oh_unparse_resolved(u->q, u->rewrite[i]));
	}
	qsort(u->e, u->n, sizeof(u->e[0]), by_id);
	xref = u->base + (size_t)ftell(u->f);
	fprintf(u->f, "xref\n");
	for (size_t i = 0; i < u->n;) {
		size_t run = 1;

		while (i + run < u->n &&
		       u->e[i + run].id == u->e[i].id + (int)run)
			run++;
		fprintf(u->f, "%d %zu\n", u->e[i].id, run);
		for (size_t k = i; k < i + run; k++)
			/* 20 bytes an entry, the line end two of them */
			fprintf(u->f, "%010zu %05d n\r\n", u->e[k].offset,
				u->e[k].gen);
		i += run;
	}
	fprintf(u->f, "trailer\n<< /Size %d /Root %d %d R /Prev %zu", u->next,
		qpdf_oh_get_object_id(u->q, root),
		qpdf_oh_get_generation(u->q, root), u->prev);
	if (qpdf_oh_is_indirect(u->q, info))
		fprintf(u->f, " /Info %s", qpdf_oh_unparse(u->q, info));
	if (qpdf_oh_is_array(u->q, id))
		fprintf(u->f, " /ID %s", qpdf_oh_unparse_resolved(u->q, id));
	fprintf(u->f, " >>\nstartxref\n%zu\n%%%%EOF\n", xref);
	if ((r = pdf_check(u->q, "writing the update")) != 0)
		return r;
	if (fclose(u->f) != 0) {
		u->f = NULL;
		return JPKI_ERR_NOMEM;
	}
	u->f = NULL;
	return 0;
}

/* The original, then the update: *out of *out_len bytes. */
static int assemble(uint8_t **out, size_t *out_len, const struct update *u,
		    const uint8_t *pdf, size_t len)
{
	if ((*out = malloc(u->base + u->buf_len)) == NULL)
		return JPKI_ERR_NOMEM;
	memcpy(*out, pdf, len);
	if (u->sep)
		(*out)[len] = '\n';
	memcpy(*out + u->base, u->buf, u->buf_len);
	*out_len = u->base + u->buf_len;
	return 0;
}

/* A new object number, from qpdf (which knows every number in use), and
 * its reference in *oh; the object itself is written by the update. */
static int new_object(struct update *u, qpdf_oh *oh)
{
	int id;

	/* a dictionary: a reference to null would read as no value */
	*oh = qpdf_make_indirect_object(u->q, qpdf_oh_new_dictionary(u->q));
	id = qpdf_oh_get_object_id(u->q, *oh);
	if (id <= 0 || qpdf_has_error(u->q))
		return 0;
	/* numbers at or above the trailer's /Size, so no free entry of an
	 * earlier section is reused with the wrong generation */
	if (id < u->size)
		return 0;
	if (id >= u->next)
		u->next = id + 1;
	return id;
}

/* ---- the signature ------------------------------------------------------- */

/* Points the catalog's AcroForm at the new field, and the first page's
 * /Annots at its widget. */
static int link_field(struct update *u, qpdf_oh page, qpdf_oh field)
{
	qpdf_data q = u->q;
	qpdf_oh root = qpdf_get_root(q);
	qpdf_oh acro = qpdf_oh_get_key(q, root, "/AcroForm"), fields, annots;
	int r;

	if (qpdf_oh_is_dictionary(q, acro)) {
		fields = qpdf_oh_get_key(q, acro, "/Fields");
		if (!qpdf_oh_is_array(q, fields)) {
			fields = qpdf_oh_new_array(q);
			qpdf_oh_replace_key(q, acro, "/Fields", fields);
		} else if (qpdf_oh_is_indirect(q, fields) &&
			   (r = rewrite(u, fields)) != 0) {
			return r;
		}
		qpdf_oh_append_item(q, fields, field);
		qpdf_oh_replace_key(q, acro, "/SigFlags",
				    qpdf_oh_new_integer(q, 3));
		if ((r = rewrite(u, qpdf_oh_is_indirect(q, acro) ? acro
								 : root)) != 0)
			return r;
	} else {
		acro = qpdf_oh_parse(q, "<< /Fields [ ] /SigFlags 3 >>");
		qpdf_oh_append_item(q, qpdf_oh_get_key(q, acro, "/Fields"),
				    field);
		qpdf_oh_replace_key(q, root, "/AcroForm", acro);
		if ((r = rewrite(u, root)) != 0)
			return r;
	}
	annots = qpdf_oh_get_key(q, page, "/Annots");
	if (qpdf_oh_is_array(q, annots)) {
		qpdf_oh_append_item(q, annots, field);
		return rewrite(u,
			       qpdf_oh_is_indirect(q, annots) ? annots : page);
	}
	annots = qpdf_oh_new_array(q);
	qpdf_oh_append_item(q, annots, field);
	qpdf_oh_replace_key(q, page, "/Annots", annots);
	return rewrite(u, page);
}

/* " /Key (text)" in the encoding qpdf chooses for a text string. */
static void text_entry(struct update *u, const char *key, const char *utf8)
{
	if (utf8 != NULL && utf8[0] != '\0')
		fprintf(u->f, " %s %s", key,
			qpdf_oh_unparse(
			    u->q, qpdf_oh_new_unicode_string(u->q, utf8)));
}

int jpki_pdf_sign(uint8_t **out, size_t *out_len, const uint8_t *pdf,
		  size_t len, const struct jpki_pdf_sign_options *opts,
		  jpki_pdf_signer sign, void *arg)
{
	struct update u;
	qpdf_oh page, sig, field;
	time_t when;
	struct tm tm;
	char m[32], range[3 * (RANGE_DIGITS + 1)];
	size_t range_at, hole_at, a, b, total;
	uint8_t *data = NULL, *cms = NULL;
	size_t cms_len = 0;
	int r, sig_id, field_id;

	*out = NULL;
	*out_len = 0;
	if (opts == NULL || opts->version != JPKI_PDF_SIGN_OPTIONS_VERSION ||
	    sign == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the PDF signing options are not usable");
	if ((r = update_begin(&u, pdf, len, "the PDF")) != 0)
		return r;
	if (qpdf_get_num_pages(u.q) < 1 ||
	    !qpdf_oh_is_indirect(u.q, page = qpdf_get_page_n(u.q, 0))) {
		r = pdf_check(u.q, "reading the pages");
		if (r == 0)
			r = jpki_err_set(JPKI_ERR_PARSE,
					 "the PDF has no page to put the "
					 "signature on");
		goto out;
	}
	if ((sig_id = new_object(&u, &sig)) == 0 ||
	    (field_id = new_object(&u, &field)) == 0) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "qpdf gave no new object number");
		goto out;
	}
	if ((r = link_field(&u, page, field)) != 0)
		goto out;

	when = opts->when ? opts->when : jpki_clock_now();
	gmtime_r(&when, &tm);
	strftime(m, sizeof(m), "D:%Y%m%d%H%M%SZ", &tm);
	begin_object(&u, sig_id, 0);
	fprintf(u.f,
		"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter "
		"/ETSI.CAdES.detached /M (%s)",
		m);
	text_entry(&u, "/Name", opts->name);
	text_entry(&u, "/Reason", opts->reason);
	text_entry(&u, "/Location", opts->location);
	fprintf(u.f, " /ByteRange [0 ");
	range_at = (size_t)ftell(u.f);
	fprintf(u.f, "%*s]\n/Contents ", (int)sizeof(range) - 1, "");
	hole_at = (size_t)ftell(u.f);
	fputc('<', u.f);
	for (size_t i = 0; i < 2 * JPKI_PDF_CONTENTS_MAX; i++)
		fputc('0', u.f);
	fprintf(u.f, ">\n>>\nendobj\n");
	begin_object(&u, field_id, 0);
	fprintf(u.f,
		"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Signature%d) "
		"/V %d 0 R /P %d %d R /Rect [0 0 0 0] /F 132 >>\nendobj\n",
		sig_id, sig_id, qpdf_oh_get_object_id(u.q, page),
		qpdf_oh_get_generation(u.q, page));
	if ((r = update_end(&u)) != 0 ||
	    (r = assemble(out, out_len, &u, pdf, len)) != 0)
		goto out;

	/* the hole is [a, b): the hex string with its angle brackets */
	total = *out_len;
	a = u.base + hole_at;
	b = a + 2 + 2 * (size_t)JPKI_PDF_CONTENTS_MAX;
	snprintf(range, sizeof(range), "%*zu %*zu %*zu", RANGE_DIGITS, a,
		 RANGE_DIGITS, b, RANGE_DIGITS, total - b);
	memcpy(*out + u.base + range_at, range, sizeof(range) - 1);

	r = JPKI_ERR_NOMEM;
	if ((data = malloc(a + (total - b))) == NULL)
		goto out;
	memcpy(data, *out, a);
	memcpy(data + a, *out + b, total - b);
	if ((r = sign(arg, &cms, &cms_len, data, a + (total - b))) != 0)
		goto out;
	if (cms_len > JPKI_PDF_CONTENTS_MAX) {
		r = jpki_err_set(JPKI_ERR_TOO_LARGE,
				 "the signature is %zu bytes, more than the %d "
				 "reserved for it",
				 cms_len, JPKI_PDF_CONTENTS_MAX);
		goto out;
	}
	for (size_t i = 0; i < cms_len; i++) {
		static const char hex[] = "0123456789ABCDEF";

		(*out)[a + 1 + 2 * i] = (uint8_t)hex[cms[i] >> 4];
		(*out)[a + 2 + 2 * i] = (uint8_t)hex[cms[i] & 15];
	}
	r = 0;
out:
	if (r != 0) {
		free(*out);
		*out = NULL;
		*out_len = 0;
	}
	free(data);
	OPENSSL_free(cms);
	update_free(&u);
	return r;
}

/* ---- the DSS (B-LT) --------------------------------------------------------
 */

static void stream_object(struct update *u, int id,
			  const struct jpki_pdf_blob *item)
{
	begin_object(u, id, 0);
	fprintf(u->f, "<< /Length %zu >>\nstream\n", item->len);
	fwrite(item->data, 1, item->len, u->f);
	fprintf(u->f, "\nendstream\nendobj\n");
}

static void id_list(struct update *u, const char *key, int first, size_t n)
{
	if (n == 0)
		return;
	fprintf(u->f, " %s [", key);
	for (size_t i = 0; i < n; i++)
		fprintf(u->f, " %d 0 R", first + (int)i);
	fprintf(u->f, " ]");
}

int jpki_pdf_add_dss(uint8_t **out, size_t *out_len, const uint8_t *pdf,
		     size_t len, const struct jpki_pdf_blob *certs,
		     size_t n_certs, const struct jpki_pdf_blob *ocsps,
		     size_t n_ocsps)
{
	struct update u;
	int r, dss_id, first_cert, first_ocsp;

	*out = NULL;
	*out_len = 0;
	if (n_certs + n_ocsps == 0 || n_certs > JPKI_PDF_DSS_MAX_ITEMS ||
	    n_ocsps > JPKI_PDF_DSS_MAX_ITEMS)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a DSS holds 1 to %d certificates and "
				    "OCSP responses each",
				    JPKI_PDF_DSS_MAX_ITEMS);
	if ((r = update_begin(&u, pdf, len, "the signed PDF")) != 0)
		return r;
	{
		qpdf_oh dss, item;
		int ids[1 + 2 * JPKI_PDF_DSS_MAX_ITEMS];

		for (size_t i = 0; i < 1 + n_certs + n_ocsps; i++)
			if ((ids[i] = new_object(&u, i == 0 ? &dss : &item)) ==
				0 ||
			    (i > 0 && ids[i] != ids[i - 1] + 1)) {
				r = jpki_err_set(JPKI_ERR_PARSE,
						 "qpdf gave no new object "
						 "numbers in a row");
				goto out;
			}
		dss_id = ids[0];
		qpdf_oh_replace_key(u.q, qpdf_get_root(u.q), "/DSS", dss);
	}
	first_cert = dss_id + 1;
	first_ocsp = first_cert + (int)n_certs;
	if ((r = rewrite(&u, qpdf_get_root(u.q))) != 0)
		goto out;
	begin_object(&u, dss_id, 0);
	fprintf(u.f, "<< /Type /DSS");
	id_list(&u, "/Certs", first_cert, n_certs);
	id_list(&u, "/OCSPs", first_ocsp, n_ocsps);
	fprintf(u.f, " >>\nendobj\n");
	for (size_t i = 0; i < n_certs; i++)
		stream_object(&u, first_cert + (int)i, &certs[i]);
	for (size_t i = 0; i < n_ocsps; i++)
		stream_object(&u, first_ocsp + (int)i, &ocsps[i]);
	if ((r = update_end(&u)) != 0 ||
	    (r = assemble(out, out_len, &u, pdf, len)) != 0)
		goto out;
	r = 0;
out:
	update_free(&u);
	return r;
}
