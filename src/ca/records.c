/*
 * The CA's records read back: one certificate's status, lists by person,
 * type, status or municipality, and the linking records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca/ca_internal.h"

void jpki_cert_info_free(struct jpki_cert_info *info)
{
	if (info == NULL)
		return;
	free(info->der);
	free(info);
}

void jpki_cert_info_list_free(struct jpki_cert_info **list, size_t n)
{
	for (size_t i = 0; list != NULL && i < n; i++)
		jpki_cert_info_free(list[i]);
	free(list);
}

void ca_copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

int ca_info_from_row(struct jpki_cert_info **out,
			 const struct jpki_rows *rows, size_t i)
{
	struct jpki_cert_info *info = calloc(1, sizeof(*info));
	const unsigned char *der;
	size_t len;

	*out = NULL;
	if (info == NULL)
		return JPKI_ERR_NOMEM;
	ca_copy_text(info->serial, sizeof(info->serial),
		  jpki_rows_text(rows, i, 0));
	info->type = (enum jpki_cert_type)jpki_rows_int(rows, i, 1);
	info->card = (enum jpki_card_kind)jpki_rows_int(rows, i, 2);
	ca_copy_text(info->person, sizeof(info->person),
		  jpki_rows_text(rows, i, 3));
	ca_copy_text(info->municipality_code, sizeof(info->municipality_code),
		  jpki_rows_text(rows, i, 4));
	ca_copy_text(info->subject, sizeof(info->subject),
		  jpki_rows_text(rows, i, 5));
	info->status = (enum jpki_cert_status)jpki_rows_int(rows, i, 6);
	info->reason = (enum jpki_reason)jpki_rows_int(rows, i, 7);
	info->revoked_at = (time_t)jpki_rows_int(rows, i, 8);
	info->not_before = (time_t)jpki_rows_int(rows, i, 9);
	info->not_after = (time_t)jpki_rows_int(rows, i, 10);
	info->issued_at = (time_t)jpki_rows_int(rows, i, 11);
	der = jpki_rows_blob(rows, i, 12, &len);
	if (der != NULL && len > 0) {
		if ((info->der = malloc(len)) == NULL) {
			free(info);
			return JPKI_ERR_NOMEM;
		}
		memcpy(info->der, der, len);
		info->der_len = len;
	}
	*out = info;
	return 0;
}

int ca_serial_check(const char *serial)
{
	if (serial == NULL || *serial == '\0' || strlen(serial) > 40 ||
	    strspn(serial, "0123456789ABCDEFabcdef") != strlen(serial))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "'%s' is not a certificate serial number "
				    "(hexadecimal)",
				    serial ? serial : "");
	return 0;
}

/* Reads one certificate's row; NOT_FOUND with a clear message if absent. */
int ca_load_row(struct jpki_rows **out, struct jpki_ca *ca,
		    const char *serial)
{
	struct jpki_value p = JPKI_V_TEXT(serial);
	int r;

	*out = NULL;
	if ((r = ca_serial_check(serial)) != 0)
		return r;
	if ((r = jpki_store_query(out, ca->store,
				  "SELECT " CERT_COLUMNS
				  " FROM ca_cert WHERE serial = $1",
				  &p, 1)) != 0)
		return r;
	if (jpki_rows_count(*out) != 1) {
		jpki_rows_free(*out);
		*out = NULL;
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "no certificate with serial %s", serial);
	}
	return 0;
}

/* Serials are stored as BN_bn2hex writes them: upper case, no leading
 * zeros. Accept what a person types in any case. */
void ca_serial_canon(char out[41], const char *in)
{
	size_t i = 0;

	while (in[0] == '0' && in[1] != '\0')
		in++;
	for (; in[i] && i < 40; i++)
		out[i] = (char)(in[i] >= 'a' && in[i] <= 'f' ? in[i] - 32
							     : in[i]);
	out[i] = '\0';
}

int jpki_ca_status(struct jpki_cert_info **out, struct jpki_ca *ca,
		   const char *serial)
{
	struct jpki_rows *rows = NULL;
	char canon[41];
	int r;

	*out = NULL;
	ca_serial_canon(canon, serial ? serial : "");
	if ((r = ca_load_row(&rows, ca, canon)) != 0)
		return r;
	r = ca_info_from_row(out, rows, 0);
	jpki_rows_free(rows);
	return r;
}

int jpki_ca_list(struct jpki_cert_info ***out, size_t *n, struct jpki_ca *ca,
		 const struct jpki_ca_filter *filter)
{
	struct jpki_ca_filter all = JPKI_CA_FILTER_INIT;
	struct jpki_rows *rows = NULL;
	struct jpki_cert_info **list = NULL;
	size_t count, i;
	int r;

	*out = NULL;
	*n = 0;
	if (filter == NULL)
		filter = &all;
	{
		struct jpki_value p[] = {
			JPKI_V_INT(filter->type),
			JPKI_V_INT(filter->status),
			filter->person ? JPKI_V_TEXT(filter->person)
				       : JPKI_V_NULL,
			filter->municipality_code
				? JPKI_V_TEXT(filter->municipality_code)
				: JPKI_V_NULL,
			JPKI_V_INT(filter->limit ? (int64_t)filter->limit
						 : INT64_MAX),
		};

		if ((r = jpki_store_query(
			     &rows, ca->store,
			     "SELECT " CERT_COLUMNS " FROM ca_cert"
			     " WHERE ($1 = 0 OR type = $1)"
			     " AND ($2 < 0 OR status = $2)"
			     " AND (person = $3 OR $3 IS NULL)"
			     " AND (municipality = $4 OR $4 IS NULL)"
			     " ORDER BY issued_at DESC, serial LIMIT $5",
			     p, 5)) != 0)
			return r;
	}
	count = jpki_rows_count(rows);
	if ((list = calloc(count ? count : 1, sizeof(*list))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < count; i++)
		if ((r = ca_info_from_row(&list[i], rows, i)) != 0)
			goto out;
	*out = list;
	*n = count;
	list = NULL;
	r = 0;
out:
	jpki_cert_info_list_free(list, count);
	jpki_rows_free(rows);
	return r;
}

const char *jpki_ca_link_kind_name(enum jpki_link_kind kind)
{
	switch (kind) {
	case JPKI_LINK_PAIR:
		return "pair";
	case JPKI_LINK_RENEWAL:
		return "renewal";
	case JPKI_LINK_REISSUE:
		return "reissue";
	}
	return "unknown";
}

int jpki_ca_links(struct jpki_link **out, size_t *n, struct jpki_ca *ca,
		  const char *serial)
{
	struct jpki_rows *rows = NULL, *check = NULL;
	struct jpki_link *links;
	char canon[41];
	size_t count;
	int r;

	*out = NULL;
	*n = 0;
	ca_serial_canon(canon, serial ? serial : "");
	if ((r = ca_load_row(&check, ca, canon)) != 0)
		return r;
	jpki_rows_free(check);
	{
		struct jpki_value p = JPKI_V_TEXT(canon);

		if ((r = jpki_store_query(
			     &rows, ca->store,
			     "SELECT kind, from_serial, to_serial, at"
			     " FROM ca_link"
			     " WHERE from_serial = $1 OR to_serial = $1"
			     " ORDER BY at, kind",
			     &p, 1)) != 0)
			return r;
	}
	count = jpki_rows_count(rows);
	if ((links = calloc(count ? count : 1, sizeof(*links))) == NULL) {
		jpki_rows_free(rows);
		return JPKI_ERR_NOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		links[i].kind = (enum jpki_link_kind)jpki_rows_int(rows, i, 0);
		ca_copy_text(links[i].from, sizeof(links[i].from),
			  jpki_rows_text(rows, i, 1));
		ca_copy_text(links[i].to, sizeof(links[i].to),
			  jpki_rows_text(rows, i, 2));
		links[i].at = (time_t)jpki_rows_int(rows, i, 3);
	}
	jpki_rows_free(rows);
	*out = links;
	*n = count;
	return 0;
}

int jpki_cert_info_pem(char **out, const struct jpki_cert_info *info)
{
	const unsigned char *p = info->der;
	X509 *cert = d2i_X509(NULL, &p, (long)info->der_len);
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int r = JPKI_ERR_CRYPTO;

	*out = NULL;
	if (cert != NULL && mem != NULL && PEM_write_bio_X509(mem, cert) &&
	    (n = BIO_get_mem_data(mem, &data)) > 0) {
		if ((*out = malloc((size_t)n + 1)) == NULL) {
			r = JPKI_ERR_NOMEM;
		} else {
			memcpy(*out, data, (size_t)n);
			(*out)[n] = '\0';
			r = 0;
		}
	}
	if (r == JPKI_ERR_CRYPTO)
		jpki_err_set(r, "cannot encode certificate %s as PEM",
			     info->serial);
	ERR_clear_error();
	X509_free(cert);
	BIO_free(mem);
	return r;
}
