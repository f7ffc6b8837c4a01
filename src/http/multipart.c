/*
 * multipart/form-data, as an HTML form with a file input sends it (the
 * clerk's seal registration: the seal's scanned image beside the resident
 * code and the identity check). The bytes are parsed by libmicrohttpd's
 * post processor, as the portal's upload is; this file only keeps what it
 * hands over, with the caps of a clerk's form: at most
 * HTTP_MULTIPART_FIELDS text fields of one line and HTTP_FIELD_MAX bytes
 * each, each name once, and one file field of at most the caller's cap.
 * Anything else refuses the whole form (nothing reads as "").
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_internal.h"

int http_is_multipart(struct MHD_Connection *conn)
{
	const char *t =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	size_t n = strlen("multipart/form-data");

	return t != NULL && strncasecmp(t, "multipart/form-data", n) == 0 &&
	       (t[n] == '\0' || t[n] == ';');
}

/* The text field named key, or a new one; NULL when the form has too
 * many or names one twice (a field's chunks come with off > 0). */
static struct http_multipart_field *field_of(struct http_multipart *mp,
					     const char *key, uint64_t off)
{
	for (size_t i = 0; i < mp->nfields; i++)
		if (strcmp(mp->field[i].name, key) == 0) {
			if (off == 0) {
				mp->why = "names a field twice";
				return NULL;
			}
			return &mp->field[i];
		}
	if (off != 0 || mp->nfields == HTTP_MULTIPART_FIELDS ||
	    strlen(key) >= sizeof(mp->field[0].name)) {
		mp->why = "has too many or too long fields";
		return NULL;
	}
	snprintf(mp->field[mp->nfields].name, sizeof(mp->field[0].name), "%s",
		 key);
	return &mp->field[mp->nfields++];
}

static enum MHD_Result take(void *cls, enum MHD_ValueKind kind, const char *key,
			    const char *filename, const char *content_type,
			    const char *transfer_encoding, const char *data,
			    uint64_t off, size_t size)
{
	struct http_multipart *mp = cls;
	struct http_multipart_field *fd;

	(void)kind;
	(void)transfer_encoding;
	if (key == NULL)
		return MHD_NO;
	if (mp->file_key != NULL && strcmp(key, mp->file_key) == 0) {
		unsigned char *grown;

		/* the chunks come in order; a gap, an overlap or a second
		 * file under the name is refused */
		if (off != mp->file_len || (off == 0 && mp->file_seen)) {
			mp->why = "has the file twice";
			return MHD_NO;
		}
		mp->file_seen = 1;
		if (off == 0) {
			snprintf(mp->file_type, sizeof(mp->file_type), "%s",
				 content_type ? content_type : "");
			snprintf(mp->file_name, sizeof(mp->file_name), "%s",
				 filename ? filename : "");
		}
		if (size > mp->file_max - mp->file_len) {
			mp->file_too_large = 1;
			return MHD_NO;
		}
		if (size == 0)
			return MHD_YES;
		if ((grown = realloc(mp->file, mp->file_len + size)) == NULL) {
			mp->why = "could not be kept (out of memory)";
			return MHD_NO;
		}
		memcpy(grown + mp->file_len, data, size);
		mp->file = grown;
		mp->file_len += size;
		return MHD_YES;
	}
	/* a file under another name is not read, nor kept */
	if (filename != NULL)
		return MHD_YES;
	if ((fd = field_of(mp, key, off)) == NULL)
		return MHD_NO;
	if (off != fd->len || size > HTTP_FIELD_MAX - fd->len) {
		mp->why = "has a field longer than a line of the form takes";
		return MHD_NO;
	}
	for (size_t i = 0; i < size; i++) {
		unsigned char c = (unsigned char)data[i];

		/* single-line inputs: a control character is an attack */
		if (c < 0x20 || c == 0x7f) {
			mp->why = "has a field with a control character";
			return MHD_NO;
		}
	}
	memcpy(fd->value + fd->len, data, size);
	fd->len += size;
	fd->value[fd->len] = '\0';
	return MHD_YES;
}

int http_multipart_parse(struct http_multipart *mp, struct MHD_Connection *conn,
			 const struct upload *up, const char *file_key,
			 size_t file_max)
{
	struct MHD_PostProcessor *pp;
	int ok;

	memset(mp, 0, sizeof(*mp));
	mp->file_key = file_key;
	mp->file_max = file_max;
	if (!http_is_multipart(conn) ||
	    (pp = MHD_create_post_processor(conn, 16 * 1024, take, mp)) == NULL)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "the form is not multipart/form-data");
	ok = up->len == 0 ||
	     MHD_post_process(pp, (const char *)up->data, up->len) == MHD_YES;
	if (MHD_destroy_post_processor(pp) != MHD_YES)
		ok = 0;
	if (mp->file_too_large) {
		http_multipart_free(mp);
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "the file is larger than %zu KiB",
				    file_max / 1024);
	}
	if (!ok || mp->why != NULL) {
		const char *why = mp->why ? mp->why : "is not well formed";

		http_multipart_free(mp);
		return jpki_err_set(JPKI_ERR_PARSE, "the form %s", why);
	}
	return 0;
}

const char *http_multipart_value(const struct http_multipart *mp,
				 const char *key)
{
	for (size_t i = 0; i < mp->nfields; i++)
		if (strcmp(mp->field[i].name, key) == 0)
			return mp->field[i].value;
	return NULL;
}

void http_multipart_free(struct http_multipart *mp)
{
	if (mp == NULL)
		return;
	free(mp->file);
	mp->file = NULL;
	mp->file_len = 0;
}
