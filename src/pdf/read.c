/*
 * The last signature of a PDF, read through qpdf, and the checks a
 * verifier needs before it relies on a byte range (ISO 32000-1 12.8.1,
 * ETSI EN 319 142-1 5.1):
 *
 *   1. the signature fields of the AcroForm whose value is a signature
 *      dictionary; the last is the one whose /ByteRange reaches furthest;
 *   2. /ByteRange is [0 a b c]: it starts at the file's first byte, leaves
 *      out exactly [a, b), which holds the /Contents string qpdf read
 *      ("<" hex ">"), and ends inside the file;
 *   3. when bytes follow the signed revision (b + c < file length), the
 *      signed revision is opened on its own and every object reachable
 *      from its catalog is compared with the same object in the whole
 *      file: a later update that only adds a /DSS is B-LT validation
 *      data, anything else changed the signed document;
 *   4. the DSS's /OCSPs and /Certs streams, decoded by qpdf.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>

#include "pdf/pdf_internal.h"

#define MAX_FIELDS 1000    /* signature fields looked at */
#define MAX_DEPTH 8        /* /Kids levels, and nesting of direct objects */
#define MAX_OBJECTS 200000 /* objects compared between revisions */

/* ---- 1. the signature fields ------------------------------------------- */

/* b + c of a well-formed [0 a b c], or -1. */
static long long range_end(qpdf_data q, qpdf_oh sig, size_t r[4])
{
	qpdf_oh br = qpdf_oh_get_key(q, sig, "/ByteRange");

	if (!qpdf_oh_is_array(q, br) || qpdf_oh_get_array_n_items(q, br) != 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		qpdf_oh v = qpdf_oh_get_array_item(q, br, i);
		long long n;

		if (!qpdf_oh_is_integer(q, v) ||
		    (n = qpdf_oh_get_int_value(q, v)) < 0 || n > JPKI_MAX_PDF)
			return -1;
		r[i] = (size_t)n;
	}
	return (long long)(r[2] + r[3]);
}

struct found {
	int have;
	qpdf_oh sig;
	size_t end, n, seen;
};

static void visit_fields(qpdf_data q, qpdf_oh fields, int depth,
			 struct found *f)
{
	int n = qpdf_oh_is_array(q, fields)
		    ? qpdf_oh_get_array_n_items(q, fields)
		    : 0;

	for (int i = 0; i < n && f->seen < MAX_FIELDS; i++) {
		qpdf_oh field = qpdf_oh_get_array_item(q, fields, i);
		qpdf_oh v;
		size_t r[4];
		long long end;

		f->seen++;
		if (!qpdf_oh_is_dictionary(q, field))
			continue;
		v = qpdf_oh_get_key(q, field, "/V");
		if (qpdf_oh_is_name_and_equals(
			q, qpdf_oh_get_key(q, field, "/FT"), "/Sig") &&
		    qpdf_oh_is_dictionary(q, v)) {
			f->n++;
			end = range_end(q, v, r);
			/* a value without a usable range still counts, so a
			 * file with only a broken one is refused, not taken
			 * as unsigned */
			if (!f->have || (end >= 0 && (size_t)end > f->end)) {
				f->have = 1;
				f->sig = v;
				f->end = end < 0 ? 0 : (size_t)end;
			}
		}
		if (depth < MAX_DEPTH)
			visit_fields(q, qpdf_oh_get_key(q, field, "/Kids"),
				     depth + 1, f);
	}
}

/* ---- 2. the byte range ------------------------------------------------- */

static int take_range(struct jpki_pdf_signature *out, qpdf_data q, qpdf_oh sig,
		      const uint8_t *pdf, size_t len)
{
	qpdf_oh contents = qpdf_oh_get_key(q, sig, "/Contents");
	const char *value;
	size_t *r = out->range, clen = 0;
	const unsigned char *p;
	long body;
	int tag, cls;

	if (range_end(q, sig, r) < 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the signature's /ByteRange is not four "
				    "non-negative integers");
	if (r[0] != 0 || r[1] >= r[2] || r[2] > len || r[3] > len - r[2])
		return jpki_err_set(
		    JPKI_ERR_INVALID,
		    "the signature's /ByteRange [%zu %zu %zu %zu] is not two "
		    "ranges in order from the file's first byte, inside its "
		    "%zu bytes",
		    r[0], r[1], r[2], r[3], len);
	if (!qpdf_oh_is_string(q, contents) ||
	    (value = qpdf_oh_get_binary_string_value(q, contents, &clen)) ==
		NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the signature has no /Contents string");
	/* the hole must be exactly the hex string qpdf read, so no byte
	 * outside the signature value escapes the signed ranges */
	if (r[2] - r[1] < 2 || pdf[r[1]] != '<' || pdf[r[2] - 1] != '>' ||
	    (r[2] - r[1] - 2) != 2 * clen)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the signature's /ByteRange leaves out "
				    "more than its /Contents");
	if ((out->signed_data = malloc(r[1] + r[3] + 1)) == NULL ||
	    (out->cms = malloc(clen + 1)) == NULL)
		return JPKI_ERR_NOMEM;
	memcpy(out->signed_data, pdf, r[1]);
	memcpy(out->signed_data + r[1], pdf + r[2], r[3]);
	out->signed_len = r[1] + r[3];
	memcpy(out->cms, value, clen);
	/* /Contents is padded with zeros to its reserved size: the CMS is
	 * as long as its outer DER header says, when that can be read */
	out->cms_len = clen;
	p = out->cms;
	if (clen > 0 &&
	    !(ASN1_get_object(&p, &body, &tag, &cls, (long)clen) & 0x80) &&
	    body >= 0 && (size_t)(p - out->cms) + (size_t)body <= clen)
		out->cms_len = (size_t)(p - out->cms) + (size_t)body;
	ERR_clear_error();
	out->signed_end = r[2] + r[3];
	out->file_len = len;
	return 0;
}

/* ---- 3. what later updates changed -------------------------------------- */

struct walk {
	qpdf_data old, now;
	int now_root;        /* the catalog's id, compared without /DSS */
	unsigned char *seen; /* by object id, below `size` */
	size_t size;
	struct {
		int id, gen;
	} * queue;
	size_t n, head, cap;
	size_t compared, n_changed;
	char *changed;
	size_t changed_size;
};

static int enqueue(struct walk *w, int id, int gen)
{
	if (id <= 0 || (size_t)id >= w->size || w->seen[id])
		return 0;
	w->seen[id] = 1;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		void *q = realloc(w->queue, cap * sizeof(*w->queue));

		if (q == NULL)
			return JPKI_ERR_NOMEM;
		w->queue = q;
		w->cap = cap;
	}
	w->queue[w->n].id = id;
	w->queue[w->n].gen = gen;
	w->n++;
	return 0;
}

/* Queues the indirect objects an object of the signed revision refers to
 * (at depth 0 the object itself is looked into, not queued). */
static int references(struct walk *w, qpdf_oh oh, int depth)
{
	qpdf_data q = w->old;
	char **keys = NULL;
	size_t n_keys = 0;
	int r = 0;

	if (depth > 0 && qpdf_oh_is_indirect(q, oh))
		return enqueue(w, qpdf_oh_get_object_id(q, oh),
			       qpdf_oh_get_generation(q, oh));
	if (depth > MAX_DEPTH)
		return 0;
	if (qpdf_oh_is_stream(q, oh))
		return references(w, qpdf_oh_get_dict(q, oh), depth + 1);
	if (qpdf_oh_is_array(q, oh)) {
		int n = qpdf_oh_get_array_n_items(q, oh);

		for (int i = 0; r == 0 && i < n; i++)
			r = references(w, qpdf_oh_get_array_item(q, oh, i),
				       depth + 1);
		return r;
	}
	if (!qpdf_oh_is_dictionary(q, oh))
		return 0;
	/* qpdf iterates keys with one cursor per document: take them all
	 * before going deeper */
	qpdf_oh_begin_dict_key_iter(q, oh);
	while (qpdf_oh_dict_more_keys(q)) {
		char **k = realloc(keys, (n_keys + 1) * sizeof(*keys));

		if (k == NULL) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
		keys = k;
		if ((keys[n_keys] = strdup(qpdf_oh_dict_next_key(q))) == NULL) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
		n_keys++;
	}
	for (size_t i = 0; r == 0 && i < n_keys; i++)
		r = references(w, qpdf_oh_get_key(q, oh, keys[i]), depth + 1);
out:
	for (size_t i = 0; i < n_keys; i++)
		free(keys[i]);
	free(keys);
	return r;
}

/* 1 when the two objects read the same (streams: dictionary and raw
 * data), 0 when not, negative for memory. */
static int same_object(qpdf_data a, qpdf_oh x, qpdf_data b, qpdf_oh y)
{
	unsigned char *dx = NULL, *dy = NULL;
	size_t lx = 0, ly = 0;
	char *ux;
	int same;

	if (qpdf_oh_is_stream(a, x) != qpdf_oh_is_stream(b, y))
		return 0;
	if (qpdf_oh_is_stream(a, x)) {
		if ((same = same_object(a, qpdf_oh_get_dict(a, x), b,
					qpdf_oh_get_dict(b, y))) != 1)
			return same;
		if ((qpdf_oh_get_stream_data(a, x, qpdf_dl_none, NULL, &dx,
					     &lx) &
		     QPDF_ERRORS) != 0 ||
		    (qpdf_oh_get_stream_data(b, y, qpdf_dl_none, NULL, &dy,
					     &ly) &
		     QPDF_ERRORS) != 0)
			same = 0;
		else
			same = lx == ly && (lx == 0 || memcmp(dx, dy, lx) == 0);
		free(dx);
		free(dy);
		return same;
	}
	/* the text qpdf returns lives until its next call */
	if ((ux = strdup(qpdf_oh_unparse_resolved(a, x))) == NULL)
		return JPKI_ERR_NOMEM;
	same = strcmp(ux, qpdf_oh_unparse_resolved(b, y)) == 0;
	free(ux);
	return same;
}

static void note_changed(struct walk *w, int id, int gen)
{
	size_t used = strlen(w->changed);

	if (w->n_changed++ < 8 && used + 24 < w->changed_size)
		snprintf(w->changed + used, w->changed_size - used,
			 "%s%d %d obj", used ? ", " : "a later update changed ",
			 id, gen);
}

static int compare_revisions(struct jpki_pdf_signature *out, qpdf_data now,
			     const uint8_t *pdf)
{
	struct walk w = {.now = now,
			 .changed = out->changed,
			 .changed_size = sizeof(out->changed)};
	qpdf_oh old_root, now_root;
	long long size;
	int r;

	out->changed[0] = '\0';
	if ((r = pdf_open(&w.old, pdf, out->signed_end,
			  "the signed revision")) != 0) {
		snprintf(out->changed, sizeof(out->changed),
			 "the signed revision cannot be read on its own: %s",
			 jpki_err_detail());
		jpki_err_clear();
		return r == JPKI_ERR_NOMEM ? r : 0;
	}
	old_root = qpdf_get_root(w.old);
	now_root = qpdf_get_root(now);
	size = pdf_int(w.old, qpdf_get_trailer(w.old), "/Size");
	if (size <= 0 || size > MAX_OBJECTS) {
		snprintf(out->changed, sizeof(out->changed),
			 "the signed revision's trailer has no usable /Size");
		r = 0;
		goto out;
	}
	if (qpdf_oh_get_object_id(w.old, old_root) !=
		qpdf_oh_get_object_id(now, now_root) ||
	    qpdf_oh_get_generation(w.old, old_root) !=
		qpdf_oh_get_generation(now, now_root)) {
		snprintf(out->changed, sizeof(out->changed),
			 "a later update replaced the document's catalog");
		r = 0;
		goto out;
	}
	w.size = (size_t)size;
	r = JPKI_ERR_NOMEM;
	if ((w.seen = calloc(w.size, 1)) == NULL)
		goto out;
	/* the DSS is B-LT's own addition, which a later update may add or
	 * replace: compare the catalogs without it (the walk then never
	 * reaches its objects, which nothing else refers to) */
	qpdf_oh_remove_key(now, now_root, "/DSS");
	qpdf_oh_remove_key(w.old, old_root, "/DSS");
	if ((r = enqueue(&w, qpdf_oh_get_object_id(w.old, old_root),
			 qpdf_oh_get_generation(w.old, old_root))) != 0)
		goto out;
	while (w.head < w.n) {
		int id = w.queue[w.head].id, gen = w.queue[w.head].gen;
		qpdf_oh a = qpdf_get_object_by_id(w.old, id, gen);
		qpdf_oh b = qpdf_get_object_by_id(now, id, gen);
		int same;

		w.head++;
		if ((same = same_object(w.old, a, now, b)) < 0) {
			r = same;
			goto out;
		}
		if (!same)
			note_changed(&w, id, gen);
		if ((r = references(&w, a, 0)) != 0)
			goto out;
		if (++w.compared > MAX_OBJECTS)
			break;
		qpdf_oh_release_all(w.old);
		qpdf_oh_release_all(now);
		old_root = qpdf_get_root(w.old);
	}
	if (qpdf_has_error(w.old) || qpdf_has_error(now)) {
		snprintf(out->changed, sizeof(out->changed),
			 "the revisions could not be compared (qpdf failed "
			 "reading an object)");
		r = 0;
		goto out;
	}
	out->later_dss_only = w.n_changed == 0;
	r = 0;
out:
	free(w.seen);
	free(w.queue);
	qpdf_cleanup(&w.old);
	return r;
}

/* ---- 4. the DSS --------------------------------------------------------- */

static int take_streams(struct jpki_pdf_blob *items, size_t *n, qpdf_data q,
			qpdf_oh dss, const char *key)
{
	qpdf_oh list = qpdf_oh_get_key(q, dss, key);
	int count =
	    qpdf_oh_is_array(q, list) ? qpdf_oh_get_array_n_items(q, list) : 0;

	for (int i = 0; i < count && *n < JPKI_PDF_DSS_MAX_ITEMS; i++) {
		qpdf_oh s = qpdf_oh_get_array_item(q, list, i);
		unsigned char *data = NULL;
		size_t len = 0;
		QPDF_BOOL filtered = 0;

		if (!qpdf_oh_is_stream(q, s))
			continue;
		if ((qpdf_oh_get_stream_data(q, s, qpdf_dl_generalized,
					     &filtered, &data, &len) &
		     QPDF_ERRORS) != 0 ||
		    !filtered || len == 0 || len > JPKI_PDF_DSS_MAX_ITEM) {
			free(data);
			continue;
		}
		items[(*n)++] = (struct jpki_pdf_blob){data, len};
	}
	return 0;
}

/* ---- the whole read ------------------------------------------------------ */

static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src != NULL ? src : "");
}

int jpki_pdf_signature_read(struct jpki_pdf_signature *out, const uint8_t *pdf,
			    size_t len)
{
	struct found f = {0};
	qpdf_data q = NULL;
	qpdf_oh root, dss, v;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = pdf_open(&q, pdf, len, "the PDF")) != 0)
		return r;
	root = qpdf_get_root(q);
	/* get_key on a missing AcroForm would be a warning: _if_dict */
	visit_fields(q,
		     qpdf_oh_get_key_if_dict(
			 q, qpdf_oh_get_key(q, root, "/AcroForm"), "/Fields"),
		     0, &f);
	if ((r = pdf_check(q, "reading the signature fields")) != 0)
		goto out;
	if (!f.have) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "the PDF holds no signature");
		goto out;
	}
	out->n_signatures = f.n;
	if ((r = take_range(out, q, f.sig, pdf, len)) != 0)
		goto out;
	v = qpdf_oh_get_key(q, f.sig, "/SubFilter");
	if (qpdf_oh_is_name(q, v))
		copy_text(out->subfilter, sizeof(out->subfilter),
			  qpdf_oh_get_name(q, v) + 1);
	v = qpdf_oh_get_key(q, f.sig, "/M");
	if (qpdf_oh_is_string(q, v))
		copy_text(out->when, sizeof(out->when),
			  qpdf_oh_get_string_value(q, v));
	dss = qpdf_oh_get_key(q, root, "/DSS");
	if (qpdf_oh_is_dictionary(q, dss) &&
	    ((r = take_streams(out->ocsps, &out->n_ocsps, q, dss, "/OCSPs")) !=
		 0 ||
	     (r = take_streams(out->certs, &out->n_certs, q, dss, "/Certs")) !=
		 0))
		goto out;
	if ((r = pdf_check(q, "reading the signature")) != 0)
		goto out;
	out->later = out->signed_end < len;
	if (out->later && (r = compare_revisions(out, q, pdf)) != 0)
		goto out;
	r = 0;
out:
	qpdf_cleanup(&q);
	return r;
}

void jpki_pdf_signature_clear(struct jpki_pdf_signature *sig)
{
	if (sig == NULL)
		return;
	free(sig->cms);
	free(sig->signed_data);
	for (size_t i = 0; i < sig->n_ocsps; i++)
		free(sig->ocsps[i].data);
	for (size_t i = 0; i < sig->n_certs; i++)
		free(sig->certs[i].data);
	memset(sig, 0, sizeof(*sig));
}
