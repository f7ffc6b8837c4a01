/*
 * Receipt evidence (SPEC section 4: the agency decides at receipt and
 * keeps what it relied on). One directory per accepted application:
 *
 *   receipt.json     the index: format version, the receipt time, the
 *                    form's four facts, the revocation evidence's summary
 *   application.p7s  the SignedData as received (opened from the envelope)
 *   document         the signed bytes
 *   report.json      the verification report at receipt
 *   ocsp.der         the OCSP response relied on (when OCSP answered; a
 *                    CRL is kept by its number and SHA-256 in the index)
 *   SHA256SUMS       the SHA-256 of each file above, `sha256sum -c` form
 *
 * The directory is written under a temporary name, every file fsync'd,
 * then renamed into place once, so a reader sees all of it or nothing;
 * an existing directory is never replaced. Reading it back checks every
 * sum first, so a changed file is refused by its name before anything in
 * it is believed; the re-check then verifies the signature, the chain
 * and the kept OCSP response as of the receipt time.
 */
/* renameat2 and strptime need _GNU_SOURCE, which the build defines */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "verify/verify_internal.h"

#define RECEIPT_VERSION 1
#define INDEX_MAX (64 * 1024)
#define REPORT_MAX (256 * 1024)
#define OCSP_MAX (64 * 1024)

/* The files of a receipt directory, in the order SHA256SUMS lists them. */
enum { F_INDEX, F_APPLICATION, F_DOCUMENT, F_REPORT, F_OCSP, F_COUNT };
static const char *const file_names[F_COUNT] = {
    "receipt.json", "application.p7s", "document", "report.json", "ocsp.der",
};

static void hex_sha256(char out[65], const void *data, size_t len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void utc(char out[21], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "YYYY-MM-DDTHH:MM:SSZ" to a time; -1 for any other text. */
static time_t utc_parse(const char *s)
{
	struct tm tm = {0};
	char *end;

	if (s == NULL || strlen(s) != 20 ||
	    (end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL ||
	    *end != '\0')
		return -1;
	return timegm(&tm);
}

void jpki_verify_receipt_free(struct jpki_verify_receipt *rc)
{
	if (rc == NULL)
		return;
	free(rc->name);
	free(rc->birth);
	free(rc->sex);
	free(rc->address);
	free(rc->application);
	if (rc->document != NULL)
		jpki_wipe(rc->document, rc->document_len);
	free(rc->document);
	free(rc->report);
	free(rc->ocsp);
	free(rc);
}

/* ---- writing --------------------------------------------------------------
 */

static int put_str(json_t *o, const char *key, const char *v)
{
	if (v == NULL)
		return 0;
	return json_object_set_new(o, key, json_string(v)) == 0 ? 0 : -1;
}

/* The index for `rep` and `form`; caller frees. */
static char *index_json(const struct jpki_verify_report *rep,
			const struct jpki_verify_form *form)
{
	json_t *j = json_object(), *f = json_object(), *rv = json_object();
	char when[21], *out = NULL;
	int bad = j == NULL || f == NULL || rv == NULL;

	utc(when, rep->checked_at);
	bad =
	    bad ||
	    json_object_set_new(j, "version", json_integer(RECEIPT_VERSION)) ||
	    put_str(j, "received", when) || put_str(f, "name", form->name) ||
	    put_str(f, "birth", form->birth) || put_str(f, "sex", form->sex) ||
	    put_str(f, "address", form->address) ||
	    put_str(rv, "source", rep->revocation_source);
	if (!bad && rep->status_time != 0) {
		utc(when, rep->status_time);
		bad = put_str(rv, "status_time", when);
	}
	if (!bad && rep->ocsp_produced_at != 0) {
		utc(when, rep->ocsp_produced_at);
		bad = put_str(rv, "produced_at", when);
	}
	if (!bad && rep->crl_number[0] != '\0')
		bad = put_str(rv, "crl_number", rep->crl_number) ||
		      put_str(rv, "crl_sha256", rep->crl_sha256);
	if (!bad)
		bad = json_object_set(j, "form", f) ||
		      json_object_set(j, "revocation", rv);
	if (!bad)
		out = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(1));
	json_decref(f);
	json_decref(rv);
	json_decref(j);
	return out;
}

/* Removes a temporary receipt directory and what was written in it. */
static void remove_tmp(const char *tmp)
{
	char path[4200];

	for (int i = 0; i < F_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmp, file_names[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/SHA256SUMS", tmp);
	unlink(path);
	rmdir(tmp);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	int ok = fd >= 0 && fsync(fd) == 0;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

int jpki_verify_receipt_keep(const char *dir,
			     const struct jpki_verify_report *rep,
			     const struct jpki_verify_form *form)
{
	struct jpki_verify_form none = {0};
	const void *data[F_COUNT];
	size_t len[F_COUNT];
	char *index = NULL, *report = NULL, *tmp = NULL, *parent = NULL;
	char path[4200], sums[F_COUNT * 100], sum[65];
	size_t used = 0;
	struct stat st;
	int r = JPKI_ERR_NOMEM;

	if (dir == NULL || dir[0] == '\0' || strlen(dir) > 4000 || rep == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no receipt directory");
	if (!rep->accepted || rep->signed_data == NULL ||
	    rep->content == NULL || rep->checked_at == 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "only an accepted application checked "
				    "with its evidence kept can be kept");
	if (dir[strlen(dir) - 1] == '/')
		return jpki_err_set(JPKI_ERR_INVALID,
				    "name the receipt directory without a "
				    "trailing /");
	if (lstat(dir, &st) == 0)
		return jpki_err_set(JPKI_ERR_EXISTS,
				    "%s exists: a receipt is never written "
				    "over",
				    dir);
	if (errno != ENOENT)
		return jpki_err_set(JPKI_ERR_IO, "%s: %s", dir,
				    strerror(errno));
	if (form == NULL)
		form = &none;
	if ((index = index_json(rep, form)) == NULL ||
	    jpki_verify_report_json(&report, rep) != 0 ||
	    asprintf(&tmp, "%s.tmp-XXXXXX", dir) < 0) {
		tmp = NULL;
		goto out;
	}
	if (mkdtemp(tmp) == NULL) {
		r = jpki_err_set(JPKI_ERR_IO, "cannot make %s: %s", tmp,
				 strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	data[F_INDEX] = index;
	len[F_INDEX] = strlen(index);
	data[F_APPLICATION] = rep->signed_data;
	len[F_APPLICATION] = rep->signed_data_len;
	data[F_DOCUMENT] = rep->content;
	len[F_DOCUMENT] = rep->content_len;
	data[F_REPORT] = report;
	len[F_REPORT] = strlen(report);
	data[F_OCSP] = rep->ocsp_response;
	len[F_OCSP] = rep->ocsp_response_len;
	for (int i = 0; i < F_COUNT; i++) {
		if (data[i] == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmp, file_names[i]);
		if ((r = jpki_file_write_atomic(path, data[i], len[i], 0600)) !=
		    0)
			goto out;
		hex_sha256(sum, data[i], len[i]);
		used += (size_t)snprintf(sums + used, sizeof(sums) - used,
					 "%s  %s\n", sum, file_names[i]);
	}
	snprintf(path, sizeof(path), "%s/SHA256SUMS", tmp);
	if ((r = jpki_file_write_atomic(path, sums, used, 0600)) != 0)
		goto out;
	/* all of it or nothing, and never over another receipt */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_NOREPLACE) != 0) {
		r = errno == EEXIST
			? jpki_err_set(JPKI_ERR_EXISTS,
				       "%s exists: a receipt is never written "
				       "over",
				       dir)
			: jpki_err_set(JPKI_ERR_IO,
				       "cannot rename %s to %s: %s", tmp, dir,
				       strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if ((parent = strdup(dir)) == NULL)
		goto out;
	{
		char *slash = strrchr(parent, '/');

		if (slash == NULL)
			snprintf(parent, strlen(parent) + 1, ".");
		else if (slash == parent)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	if (fsync_dir(parent) != 0) {
		r = jpki_err_set(JPKI_ERR_IO, "cannot sync %s", parent);
		goto out;
	}
	r = 0;
out:
	if (tmp != NULL)
		remove_tmp(tmp);
	free(tmp);
	free(parent);
	free(index);
	free(report);
	return r;
}

/* ---- reading --------------------------------------------------------------
 */

int jpki_verify_receipt_sums(char sums[][65], const char *text, size_t len)
{
	size_t at = 0;

	for (int i = 0; i < F_COUNT; i++)
		sums[i][0] = '\0';
	while (at < len) {
		const char *line = text + at;
		const char *nl = memchr(line, '\n', len - at);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - at;
		int k;

		if (nl == NULL || n < 67 || line[64] != ' ' || line[65] != ' ')
			return jpki_err_set(JPKI_ERR_PARSE,
					    "SHA256SUMS: a line is not "
					    "\"SHA-256  NAME\"");
		for (int i = 0; i < 64; i++)
			if (!((line[i] >= '0' && line[i] <= '9') ||
			      (line[i] >= 'a' && line[i] <= 'f')))
				return jpki_err_set(JPKI_ERR_PARSE,
						    "SHA256SUMS: a sum is not "
						    "lower-case hex");
		for (k = 0; k < F_COUNT; k++)
			if (n - 66 == strlen(file_names[k]) &&
			    memcmp(line + 66, file_names[k], n - 66) == 0)
				break;
		if (k == F_COUNT)
			return jpki_err_set(JPKI_ERR_PARSE,
					    "SHA256SUMS names a file that is "
					    "no part of a receipt");
		if (sums[k][0] != '\0')
			return jpki_err_set(JPKI_ERR_PARSE,
					    "SHA256SUMS names %s twice",
					    file_names[k]);
		memcpy(sums[k], line, 64);
		sums[k][64] = '\0';
		at += n + 1;
	}
	for (int k = 0; k < F_OCSP; k++)
		if (sums[k][0] == '\0')
			return jpki_err_set(JPKI_ERR_PARSE,
					    "SHA256SUMS does not list %s",
					    file_names[k]);
	return 0;
}

/* A string member of `o`, copied; NULL when absent. -1 for another type
 * or memory. */
static int opt_string(char **out, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || (*out = strdup(json_string_value(v))) == NULL)
		return -1;
	return 0;
}

int jpki_verify_receipt_parse(struct jpki_verify_receipt **out,
			      const char *json, size_t len)
{
	struct jpki_verify_receipt *rc = NULL;
	json_t *j = NULL, *form, *rv, *v;
	json_error_t err;
	const char *src;
	int r = JPKI_ERR_PARSE;

	*out = NULL;
	if (len > INDEX_MAX)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "receipt.json is larger than %d bytes",
				    INDEX_MAX);
	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		return JPKI_ERR_NOMEM;
	if ((j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err)) == NULL ||
	    !json_is_object(j)) {
		r = jpki_err_set(JPKI_ERR_PARSE, "receipt.json is not a JSON "
						 "object");
		goto out;
	}
	v = json_object_get(j, "version");
	if (!json_is_integer(v) || json_integer_value(v) != RECEIPT_VERSION) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "receipt.json is not of version %d",
				 RECEIPT_VERSION);
		goto out;
	}
	if ((rc->received = utc_parse(
		 json_string_value(json_object_get(j, "received")))) <= 0) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "receipt.json has no receipt time");
		goto out;
	}
	form = json_object_get(j, "form");
	rv = json_object_get(j, "revocation");
	if (!json_is_object(form) || !json_is_object(rv) ||
	    opt_string(&rc->name, form, "name") != 0 ||
	    opt_string(&rc->birth, form, "birth") != 0 ||
	    opt_string(&rc->sex, form, "sex") != 0 ||
	    opt_string(&rc->address, form, "address") != 0) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "receipt.json's form or revocation is not "
				 "of the receipt's shape");
		goto out;
	}
	src = json_string_value(json_object_get(rv, "source"));
	if (src == NULL ||
	    (strcmp(src, "ocsp") != 0 && strcmp(src, "crl") != 0)) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "receipt.json names no revocation source "
				 "(ocsp or crl)");
		goto out;
	}
	snprintf(rc->source, sizeof(rc->source), "%s", src);
	if ((rc->status_time = utc_parse(
		 json_string_value(json_object_get(rv, "status_time")))) <= 0) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "receipt.json has no time of the revocation "
				 "status");
		goto out;
	}
	if (strcmp(src, "crl") == 0) {
		const char *num =
		    json_string_value(json_object_get(rv, "crl_number"));
		const char *sha =
		    json_string_value(json_object_get(rv, "crl_sha256"));

		if (num == NULL || sha == NULL || strlen(num) == 0 ||
		    strlen(num) >= sizeof(rc->crl_number) ||
		    strspn(num, "0123456789") != strlen(num) ||
		    strlen(sha) != 64 ||
		    strspn(sha, "0123456789abcdef") != 64) {
			r = jpki_err_set(JPKI_ERR_PARSE,
					 "receipt.json's CRL evidence needs "
					 "its number and SHA-256");
			goto out;
		}
		memcpy(rc->crl_number, num, strlen(num) + 1);
		memcpy(rc->crl_sha256, sha, 65);
	}
	*out = rc;
	rc = NULL;
	r = 0;
out:
	json_decref(j);
	jpki_verify_receipt_free(rc);
	return r;
}

/* Reads DIR/name into *data after checking it against `sum`. */
static int read_checked(unsigned char **data, size_t *len, const char *dir,
			const char *name, const char *sum, size_t max)
{
	char path[4200], got[65];
	int r;

	*data = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((r = jpki_file_read(data, len, path, max)) != 0)
		return jpki_err_set(r, "%s cannot be read: %s", name,
				    jpki_err_detail());
	hex_sha256(got, *data, *len);
	if (strcmp(got, sum) != 0) {
		free(*data);
		*data = NULL;
		return jpki_err_set(JPKI_ERR_SIGNATURE,
				    "%s was changed since receipt: its SHA-256 "
				    "is not the one SHA256SUMS recorded",
				    name);
	}
	return 0;
}

int jpki_verify_receipt_load(struct jpki_verify_receipt **out, const char *dir)
{
	struct jpki_verify_receipt *rc = NULL;
	unsigned char *text = NULL, *index = NULL;
	size_t len = 0, index_len = 0;
	char path[4200], sums[F_COUNT][65];
	int r;

	*out = NULL;
	if (dir == NULL || strlen(dir) > 4000)
		return jpki_err_set(JPKI_ERR_INVALID, "no receipt directory");
	snprintf(path, sizeof(path), "%s/SHA256SUMS", dir);
	if ((r = jpki_file_read(&text, &len, path, 4096)) != 0) {
		r = jpki_err_set(r,
				 "%s is no receipt: SHA256SUMS cannot be "
				 "read (%s)",
				 dir, jpki_err_detail());
		goto out;
	}
	if ((r = jpki_verify_receipt_sums(sums, (const char *)text, len)) != 0)
		goto out;
	if ((r = read_checked(&index, &index_len, dir, file_names[F_INDEX],
			      sums[F_INDEX], INDEX_MAX)) != 0 ||
	    (r = jpki_verify_receipt_parse(&rc, (const char *)index,
					   index_len)) != 0)
		goto out;
	if ((strcmp(rc->source, "ocsp") == 0) != (sums[F_OCSP][0] != '\0')) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "the receipt's revocation source is %s, and "
				 "ocsp.der is %s",
				 rc->source,
				 sums[F_OCSP][0] ? "there" : "missing");
		goto out;
	}
	if ((r = read_checked(&rc->application, &rc->application_len, dir,
			      file_names[F_APPLICATION], sums[F_APPLICATION],
			      JPKI_MAX_SIGNED_APP)) != 0 ||
	    (r = read_checked(&rc->document, &rc->document_len, dir,
			      file_names[F_DOCUMENT], sums[F_DOCUMENT],
			      JPKI_MAX_SIGNED_APP)) != 0 ||
	    (r = read_checked((unsigned char **)&rc->report, &len, dir,
			      file_names[F_REPORT], sums[F_REPORT],
			      REPORT_MAX)) != 0)
		goto out;
	if (sums[F_OCSP][0] != '\0' &&
	    (r = read_checked(&rc->ocsp, &rc->ocsp_len, dir, file_names[F_OCSP],
			      sums[F_OCSP], OCSP_MAX)) != 0)
		goto out;
	*out = rc;
	rc = NULL;
	r = 0;
out:
	free(text);
	free(index);
	jpki_verify_receipt_free(rc);
	return r;
}

/* ---- the re-check ------------------------------------------------------- */

/* A kept CRL answers by its record: it was verified at receipt, and only
 * its number and hash are kept (the CA archives CRLs by number). */
static int kept_crl_status(void *arg, X509 *cert, X509 *issuer,
			   const char *serial, enum jpki_verify_status *status,
			   int *reason)
{
	(void)arg;
	(void)cert;
	(void)issuer;
	(void)serial;
	*status = JPKI_VERIFY_GOOD;
	*reason = -1;
	return 0;
}

int jpki_verify_as_of_receipt(struct jpki_verify_report *out,
			      const struct jpki_verify_options *opts,
			      const struct jpki_verify_receipt *rc)
{
	struct jpki_verify_options o;
	int r;

	if (opts == NULL || rc == NULL) {
		memset(out, 0, sizeof(*out));
		out->revocation_reason = -1;
		return jpki_err_set(JPKI_ERR_INVALID, "no receipt to check");
	}
	o = *opts;
	o.at = rc->received;
	o.content = rc->document;
	o.content_len = rc->document_len;
	o.form_name = rc->name;
	o.form_birth = rc->birth;
	o.form_sex = rc->sex;
	o.form_address = rc->address;
	o.offline = 1;
	o.keep_evidence = 0;
	o.agency_key = NULL;
	o.agency_cert = NULL;
	if (strcmp(rc->source, "ocsp") == 0) {
		o.status = NULL;
		o.ocsp_response = rc->ocsp;
		o.ocsp_response_len = rc->ocsp_len;
	} else {
		o.status = kept_crl_status;
		o.ocsp_response = NULL;
	}
	r = jpki_verify_application(out, &o, rc->application,
				    rc->application_len);
	if (r == 0 && strcmp(rc->source, "crl") == 0 && out->accepted) {
		snprintf(out->revocation_source, sizeof(out->revocation_source),
			 "crl");
		memcpy(out->crl_number, rc->crl_number, sizeof(rc->crl_number));
		memcpy(out->crl_sha256, rc->crl_sha256, sizeof(rc->crl_sha256));
		out->status_time = rc->status_time;
	}
	return r;
}
