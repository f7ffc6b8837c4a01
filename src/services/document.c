/*
 * services: the documents the kiosk hands out (住民票の写し, 印鑑登録証明書)
 * under a serial printed on each, and the answer the municipality's public
 * page gives a third party who types that serial: issued on, kind, to whom
 * (masked), valid or not. Nothing else of the resident leaves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "services/services_internal.h"

const char *jpki_services_document_kind_name(enum jpki_document_kind kind)
{
	return kind == JPKI_DOC_RESIDENCE_COPY     ? "residence-copy"
	       : kind == JPKI_DOC_SEAL_CERTIFICATE ? "seal-certificate"
						   : "unknown";
}

/* "公的 未来" -> "公＊＊＊": the first character, then one ＊ for every
 * other character but spaces, so the holder recognises it and nobody
 * else learns the name. */
static void mask_name(char *out, size_t cap, const char *name)
{
	size_t o = 0, first = 1;

	out[0] = '\0';
	while (*name != '\0' && o + 4 < cap) {
		unsigned char c = (unsigned char)*name;
		size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;

		for (size_t i = 1; i < n; i++)
			if (name[i] == '\0')
				n = i;
		if (first) {
			memcpy(out + o, name, n);
			o += n;
			first = 0;
		} else if (c != ' ' &&
			   !(n == 3 && memcmp(name, "\xE3\x80\x80", 3) == 0)) {
			memcpy(out + o, "\xEF\xBC\x8A", 3); /* ＊ */
			o += 3;
		}
		name += n;
	}
	out[o] = '\0';
}

int jpki_services_document_issue(char serial[JPKI_DOCUMENT_SERIAL_LEN + 1],
				 struct jpki_store *st,
				 enum jpki_document_kind kind,
				 const struct jpki_resident *res,
				 const char *seal_number,
				 const char *login_serial)
{
	struct jpki_actor kiosk = {.operator_id = "kiosk",
				   .role = JPKI_ROLE_REGISTRY_CLERK};
	unsigned char rnd[8];
	char holder[192], place[192], detail[256];
	int r = JPKI_ERR_INTERNAL;

	serial[0] = '\0';
	if (res == NULL ||
	    (kind != JPKI_DOC_RESIDENCE_COPY &&
	     kind != JPKI_DOC_SEAL_CERTIFICATE) ||
	    (kind == JPKI_DOC_SEAL_CERTIFICATE && seal_number == NULL))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a document needs its kind, resident and, "
				    "for a seal certificate, the seal");
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return jpki_err_set(JPKI_ERR_CRYPTO, "no random serial");
	snprintf(serial, JPKI_DOCUMENT_SERIAL_LEN + 1,
		 "K%02X%02X%02X%02X%02X%02X%02X%02X", rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	mask_name(holder, sizeof(holder), res->facts.name);
	snprintf(place, sizeof(place), "%s%s", res->prefecture,
		 res->municipality);
	snprintf(kiosk.municipality_code, sizeof(kiosk.municipality_code), "%s",
		 res->municipality_code);
	if (kind == JPKI_DOC_SEAL_CERTIFICATE)
		snprintf(detail, sizeof(detail),
			 "{\"certificate\":\"%s\",\"number\":\"%s\","
			 "\"seal\":\"%s\"}",
			 login_serial ? login_serial : "", serial, seal_number);
	else
		snprintf(detail, sizeof(detail),
			 "{\"certificate\":\"%s\",\"number\":\"%s\"}",
			 login_serial ? login_serial : "", serial);
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if (kind == JPKI_DOC_SEAL_CERTIFICATE) {
		/* the seal still active in the transaction that issues */
		struct jpki_rows *rows = NULL;
		struct jpki_value p[] = {JPKI_V_TEXT(seal_number),
					 JPKI_V_TEXT(res->person)};

		if ((r = jpki_store_query(&rows, st,
					  "SELECT 1 FROM services_seal WHERE "
					  "number = $1 AND person = $2 AND "
					  "state = 1",
					  p, 2)) != 0)
			goto fail;
		if (jpki_rows_count(rows) != 1) {
			jpki_rows_free(rows);
			r = jpki_err_set(JPKI_ERR_STATE,
					 "the seal registration %s is not in "
					 "force",
					 seal_number);
			goto fail;
		}
		jpki_rows_free(rows);
	}
	{
		struct jpki_value p[] = {
		    JPKI_V_TEXT(serial),
		    JPKI_V_INT(kind),
		    JPKI_V_TEXT(res->person),
		    JPKI_V_TEXT(res->municipality_code),
		    JPKI_V_TEXT(holder),
		    JPKI_V_TEXT(place),
		    seal_number ? JPKI_V_TEXT(seal_number) : JPKI_V_NULL,
		    login_serial ? JPKI_V_TEXT(login_serial) : JPKI_V_NULL,
		    JPKI_V_INT((int64_t)jpki_clock_now()),
		};

		if ((r = jpki_store_exec(
			 st,
			 "INSERT INTO services_document (serial, kind, "
			 "person, municipality_code, holder, municipality, "
			 "seal_number, login_serial, issued_at) VALUES ($1, "
			 "$2, $3, $4, $5, $6, $7, $8, $9)",
			 p, sizeof(p) / sizeof(p[0]), NULL)) != 0)
			goto fail;
	}
	if ((r = jpki_audit_append(st, &kiosk,
				   kind == JPKI_DOC_SEAL_CERTIFICATE
				       ? "kiosk.seal_certificate"
				       : "kiosk.residence_copy",
				   res->person, detail)) != 0)
		goto fail;
	if ((r = jpki_store_commit(st)) != 0)
		serial[0] = '\0';
	return r;
fail:
	jpki_store_rollback(st);
	serial[0] = '\0';
	return r;
}

int jpki_services_document_check(struct jpki_document_check *out,
				 struct jpki_store *st, const char *serial)
{
	struct jpki_rows *rows = NULL;
	int r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	/* the form first: nothing else reaches the query */
	if (serial == NULL || strlen(serial) != JPKI_DOCUMENT_SERIAL_LEN ||
	    serial[0] != 'K' ||
	    strspn(serial + 1, "0123456789ABCDEF") !=
		JPKI_DOCUMENT_SERIAL_LEN - 1)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a serial is K and 16 digits 0-9, A-F, as "
				    "printed on the document");
	{
		struct jpki_value p[] = {JPKI_V_TEXT(serial)};

		if ((r = jpki_store_query(
			 &rows, st,
			 "SELECT d.kind, d.issued_at, d.holder, "
			 "d.municipality, s.state FROM services_document d "
			 "LEFT JOIN services_seal s ON s.number = "
			 "d.seal_number WHERE d.serial = $1",
			 p, 1)) != 0)
			return r;
	}
	if (jpki_rows_count(rows) == 0) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "no document with this serial was issued");
		goto out;
	}
	out->kind = (enum jpki_document_kind)jpki_rows_int(rows, 0, 0);
	out->issued_at = (time_t)jpki_rows_int(rows, 0, 1);
	snprintf(out->holder, sizeof(out->holder), "%s",
		 jpki_rows_text(rows, 0, 2));
	snprintf(out->municipality, sizeof(out->municipality), "%s",
		 jpki_rows_text(rows, 0, 3));
	out->valid = 1;
	if (jpki_clock_now() - out->issued_at >
	    (time_t)JPKI_DOCUMENT_VALID_DAYS * 86400) {
		out->valid = 0;
		out->why = "issued more than 90 days ago";
	} else if (out->kind == JPKI_DOC_SEAL_CERTIFICATE &&
		   (jpki_rows_is_null(rows, 0, 4) ||
		    jpki_rows_int(rows, 0, 4) != JPKI_SEAL_ACTIVE)) {
		out->valid = 0;
		out->why = "the seal registration has been cancelled since";
	}
	r = 0;
out:
	jpki_rows_free(rows);
	return r;
}
