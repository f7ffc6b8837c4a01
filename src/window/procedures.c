/*
 * The window's procedures (SPEC section 3): an application with its
 * identity check, the inquiry letter's return, issue at the counter,
 * renewal, PIN unlock and loss reports. Each one is authorised for the
 * acting clerk against the resident's municipality, refuses with its own
 * sentence before changing anything, and records every change it makes
 * together with its audit entry in one transaction.
 *
 * The CA and the card keep their own transactions (the card is not in the
 * store at all), so a procedure that issues runs in steps: claim the
 * application and take the capacity (one transaction), have the card and
 * the CA do their part, then record the outcome (one transaction); a
 * failure in between gives the capacity back and revokes what was made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "window/window_internal.h"

/* An application claimed by a clerk who then vanished is free again after
 * this many seconds. */
#define CLAIM_SECONDS 600

#define LETTER_CODE_LEN WINDOW_LETTER_CODE_LEN
#define LETTER_HASH_LEN 64 /* SHA-256 in hex */

static const struct jpki_migration migrations[] = {
    {1, "CREATE TABLE window_application ("
	" id BIGINT PRIMARY KEY,"
	" person TEXT NOT NULL,"
	" municipality_code TEXT NOT NULL,"
	" card INTEGER NOT NULL,"
	" want_sign INTEGER NOT NULL,"
	" want_auth INTEGER NOT NULL,"
	" path INTEGER NOT NULL,"
	" state INTEGER NOT NULL,"
	" letter_code TEXT,"
	" applied_at BIGINT NOT NULL,"
	" letter_mailed_at BIGINT,"
	" ready_at BIGINT,"
	" sign_serial TEXT,"
	" auth_serial TEXT,"
	" special_circumstance TEXT,"
	" photo_id_kind TEXT,"
	" proxy_name TEXT,"
	" other_document TEXT,"
	" operator_id TEXT NOT NULL,"
	" claimed_at BIGINT);"
	"CREATE INDEX window_application_person ON window_application"
	" (person);"
	"CREATE INDEX window_application_municipality ON"
	" window_application (municipality_code, id);"
	"CREATE TABLE window_capacity ("
	" municipality_code TEXT PRIMARY KEY,"
	" per_day INTEGER NOT NULL);"
	"CREATE TABLE window_capacity_use ("
	" municipality_code TEXT NOT NULL,"
	" day TEXT NOT NULL,"
	" used INTEGER NOT NULL,"
	" PRIMARY KEY (municipality_code, day));"
	"CREATE TABLE window_hours ("
	" municipality_code TEXT PRIMARY KEY,"
	" open_minute INTEGER NOT NULL,"
	" close_minute INTEGER NOT NULL);"
	"CREATE TABLE window_fee ("
	" id BIGINT PRIMARY KEY,"
	" person TEXT NOT NULL,"
	" municipality_code TEXT NOT NULL,"
	" what TEXT NOT NULL,"
	" yen INTEGER NOT NULL,"
	" at BIGINT NOT NULL,"
	" operator_id TEXT NOT NULL);"
	"CREATE INDEX window_fee_municipality ON window_fee"
	" (municipality_code, id);"
	"CREATE TABLE window_report ("
	" id BIGINT PRIMARY KEY,"
	" person TEXT NOT NULL,"
	" municipality_code TEXT NOT NULL,"
	" kind INTEGER NOT NULL,"
	" at BIGINT NOT NULL,"
	" operator_id TEXT NOT NULL)"},
    /* letter codes kept only as SHA-256 (hex), made when the letter is
     * printed; the codes kept in clear before are dropped, so a letter
     * still out must be printed again */
    {2, "ALTER TABLE window_application ADD COLUMN letter_hash TEXT;"
	"UPDATE window_application SET letter_code = NULL"},
    /* what an application is for, the wrong letter codes since its
     * letter was printed, the photo IDs each municipality adds to the
     * national ones, and the cards the window issued onto */
    {3, "ALTER TABLE window_application ADD COLUMN kind INTEGER NOT NULL"
	" DEFAULT 1;"
	"ALTER TABLE window_application ADD COLUMN wrong_codes INTEGER NOT"
	" NULL DEFAULT 0;"
	"CREATE TABLE window_photo_id ("
	" municipality_code TEXT NOT NULL,"
	" word TEXT NOT NULL,"
	" label TEXT,"
	" added_at BIGINT NOT NULL,"
	" PRIMARY KEY (municipality_code, word));"
	"CREATE TABLE window_card ("
	" serial TEXT PRIMARY KEY,"
	" kind INTEGER NOT NULL,"
	" person TEXT NOT NULL,"
	" municipality_code TEXT NOT NULL,"
	" made_on TEXT NOT NULL,"
	" expires_on TEXT,"
	" state INTEGER NOT NULL,"
	" returned_at BIGINT);"
	"CREATE INDEX window_card_person ON window_card (person);"
	"CREATE TABLE window_juki_fee ("
	" municipality_code TEXT PRIMARY KEY,"
	" yen INTEGER NOT NULL)"},
};

int jpki_window_migrate(struct jpki_store *st)
{
	int r;

	if ((r = jpki_registry_migrate(st)) != 0)
		return r;
	if ((r = jpki_store_migrate(st, "window", migrations,
				   sizeof(migrations) / sizeof(migrations[0]))) !=
	    0)
		return r;
	return window_office_migrate(st);
}

/* ---- helpers ---------------------------------------------------------------
 */

/* A JSON string body for an audit detail ("..." without the quotes). */
static void json_escape(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	for (; s != NULL && *s != '\0' && o + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

static void copy_text(char *out, size_t cap, const char *s)
{
	snprintf(out, cap, "%s", s != NULL ? s : "");
}

/*
 * Addresses as a person reads them: the same characters, whatever ASCII or
 * ideographic spaces were typed between them. Nothing else is folded: a
 * licence printed with another address is another address.
 */
static int same_address(const char *a, const char *b)
{
	for (;;) {
		while (*a == ' ' || *a == '\t' ||
		       (a[0] == '\xE3' && a[1] == '\x80' && a[2] == '\x80'))
			a += *a == '\xE3' ? 3 : 1;
		while (*b == ' ' || *b == '\t' ||
		       (b[0] == '\xE3' && b[1] == '\x80' && b[2] == '\x80'))
			b += *b == '\xE3' ? 3 : 1;
		if (*a != *b)
			return 0;
		if (*a == '\0')
			return 1;
		a++;
		b++;
	}
}

/*
 * The resident's own photo ID for a same-day procedure: a kind the
 * municipality accepts, not expired, and printed with the registered
 * address (SPEC 3: an ID whose address was not updated is refused).
 */
static int own_photo_id(struct jpki_store *st, const struct jpki_resident *res,
			const char *kind, const char *expiry,
			const char *address)
{
	int r;

	if ((r = window_check_photo_id(st, res, kind, expiry)) != 0)
		return r;
	if (address == NULL || !same_address(address, res->facts.address))
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the address on the %s is not the "
				    "registered address: a photo ID counts "
				    "only once its address has been updated",
				    kind);
	return 0;
}

static int juki_ended(void)
{
	struct jpki_date today = jpki_date_today();
	struct jpki_date last = {JPKI_JUKI_LAST_ISSUE_YEAR,
				 JPKI_JUKI_LAST_ISSUE_MONTH,
				 JPKI_JUKI_LAST_ISSUE_DAY};

	return jpki_date_cmp(&today, &last) > 0;
}

static const char *juki_ended_sentence =
    "certificates on the Juki card (住民基本台帳カード) were issued and "
    "renewed until 22 December 2015 (平成27年12月22日); apply for a My "
    "Number card instead";

/*
 * The resident behind a procedure: known to the register, still
 * registered, and of a municipality the clerk may act for.
 */
static int resident_for(struct jpki_resident *res, struct jpki_store *st,
			const struct jpki_actor *by, const char *person,
			int must_be_registered)
{
	int r;

	if (by == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no acting clerk");
	if (person == NULL || *person == '\0')
		return jpki_err_set(JPKI_ERR_INVALID, "no resident named");
	if ((r = jpki_registry_get(res, st, person)) != 0) {
		if (r == JPKI_ERR_NOT_FOUND)
			return jpki_err_set(JPKI_ERR_POLICY,
					    "%s is not recorded in the "
					    "resident register: only its "
					    "residents can hold certificates",
					    person);
		return r;
	}
	/* a clerk reaching for another municipality's resident is on the
	 * chain, as a refused read is */
	if ((r = jpki_audit_authorize(by, JPKI_ROLE_WINDOW_CLERK,
				      res->municipality_code)) != 0)
		return window_read_refused(st, by, "window.refused", person,
					   r);
	if (must_be_registered && res->status != JPKI_RESIDENT_REGISTERED)
		return jpki_err_set(
		    JPKI_ERR_POLICY,
		    "%s is no longer in the resident register "
		    "(%s): only its residents can hold "
		    "certificates",
		    person,
		    res->status == JPKI_RESIDENT_DEAD ? "deceased" : "removed");
	return 0;
}

/* Who may have a signing certificate (SPEC section 3, eligibility). */
static int check_eligible(const struct jpki_resident *res, int want_sign,
			  const char *special_circumstance)
{
	struct jpki_date today = jpki_date_today();
	int age = jpki_profile_age(&res->facts.birth, &today);

	if (!want_sign ||
	    (special_circumstance != NULL && *special_circumstance != '\0'))
		return 0;
	if (age < 15)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "a signing certificate is not issued to a "
				    "person under 15 (%s is %d) unless the "
				    "window records a special circumstance; an "
				    "authentication certificate can be",
				    res->person, age);
	if (res->guardianship)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "a signing certificate is not issued to an "
				    "adult under guardianship (成年被後見人) "
				    "unless the window records a special "
				    "circumstance");
	return 0;
}

static int random_letter_code(char out[LETTER_CODE_LEN + 1])
{
	/* 32 letters and digits a person cannot confuse (no I, O, 0, 1):
	 * 80 bits, and a byte's low 5 bits pick one uniformly */
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char raw[LETTER_CODE_LEN];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return jpki_err_set(JPKI_ERR_CRYPTO,
				    "no random bytes for the letter code");
	for (size_t i = 0; i < LETTER_CODE_LEN; i++)
		out[i] = alphabet[raw[i] & 31];
	out[LETTER_CODE_LEN] = '\0';
	jpki_wipe(raw, sizeof(raw));
	return 0;
}

/* SHA-256 of a letter code, in hex: the code has 80 random bits, so a
 * plain hash keeps it from anyone who reads the table. */
static int letter_hash_of(char out[LETTER_HASH_LEN + 1], const char *code)
{
	unsigned char md[32];
	unsigned int n = 0;

	if (EVP_Digest(code, strlen(code), md, &n, EVP_sha256(), NULL) != 1 ||
	    n != sizeof(md))
		return jpki_err_set(JPKI_ERR_CRYPTO,
				    "the letter code cannot be hashed");
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

#define APP_COLUMNS                                                            \
	"id, person, municipality_code, card, want_sign, want_auth, path,"     \
	" state, letter_hash, applied_at, letter_mailed_at, ready_at,"         \
	" sign_serial, auth_serial, special_circumstance, kind, wrong_codes"

static void app_from_row(struct jpki_application *a,
			 const struct jpki_rows *rows, size_t i)
{
	memset(a, 0, sizeof(*a));
	a->id = jpki_rows_int(rows, i, 0);
	copy_text(a->person, sizeof(a->person), jpki_rows_text(rows, i, 1));
	copy_text(a->municipality_code, sizeof(a->municipality_code),
		  jpki_rows_text(rows, i, 2));
	a->card = (enum jpki_card_kind)jpki_rows_int(rows, i, 3);
	a->want_sign = (int)jpki_rows_int(rows, i, 4);
	a->want_auth = (int)jpki_rows_int(rows, i, 5);
	a->path = (enum jpki_identity_path)jpki_rows_int(rows, i, 6);
	a->state = (enum jpki_application_state)jpki_rows_int(rows, i, 7);
	a->applied_at = (time_t)jpki_rows_int(rows, i, 9);
	a->letter_mailed_at = (time_t)jpki_rows_int(rows, i, 10);
	a->ready_at = (time_t)jpki_rows_int(rows, i, 11);
	copy_text(a->sign_serial, sizeof(a->sign_serial),
		  jpki_rows_text(rows, i, 12));
	copy_text(a->auth_serial, sizeof(a->auth_serial),
		  jpki_rows_text(rows, i, 13));
	a->kind = (enum jpki_application_kind)jpki_rows_int(rows, i, 15);
	a->wrong_codes = (int)jpki_rows_int(rows, i, 16);
}

/* The application, its recorded special circumstance (may be NULL) and
 * the hash of its letter's code (may be NULL; "" when none was printed). */
static int load_app(struct jpki_application *out, char *special, size_t cap,
		    char *letter_hash, struct jpki_store *st, int64_t app_id)
{
	struct jpki_value p[] = {JPKI_V_INT(app_id)};
	struct jpki_rows *rows = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = jpki_store_query(&rows, st,
				  "SELECT " APP_COLUMNS " FROM "
				  "window_application WHERE id = $1",
				  p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) != 1) {
		jpki_rows_free(rows);
		return jpki_err_set(JPKI_ERR_NOT_FOUND, "no application %lld",
				    (long long)app_id);
	}
	app_from_row(out, rows, 0);
	if (special != NULL)
		copy_text(special, cap, jpki_rows_text(rows, 0, 14));
	if (letter_hash != NULL)
		copy_text(letter_hash, LETTER_HASH_LEN + 1,
			  jpki_rows_text(rows, 0, 8));
	jpki_rows_free(rows);
	return 0;
}

static const char *state_sentence(enum jpki_application_state s)
{
	switch (s) {
	case JPKI_APP_WAITING_LETTER:
		return "is waiting for its inquiry letter (照会書兼回答書) to "
		       "come back";
	case JPKI_APP_READY:
		return "is ready to be issued";
	case JPKI_APP_ISSUED:
		return "has been issued already";
	case JPKI_APP_CANCELLED:
		return "was cancelled";
	}
	return "is in an unknown state";
}

/* ---- application ------------------------------------------------------------
 */

static int check_request(const struct jpki_application_request *req)
{
	if (req == NULL || req->version != JPKI_APPLICATION_REQUEST_VERSION)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "application request of an unknown "
				    "version");
	if (req->card != JPKI_CARD_MYNUMBER && req->card != JPKI_CARD_JUKI)
		return jpki_err_set(JPKI_ERR_INVALID, "unknown card kind");
	if (req->kind != 0 && req->kind != JPKI_APP_KIND_ISSUE &&
	    req->kind != JPKI_APP_KIND_RENEWAL &&
	    req->kind != JPKI_APP_KIND_JUKI_CARD)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "unknown application kind");
	if (req->kind == JPKI_APP_KIND_JUKI_CARD) {
		if (req->card != JPKI_CARD_JUKI)
			return jpki_err_set(JPKI_ERR_INVALID,
					    "an application for the Juki card "
					    "itself is for a Juki card");
	} else if (!req->want_sign && !req->want_auth)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the application asks for no certificate");
	if (req->card == JPKI_CARD_JUKI && req->want_auth &&
	    req->kind != JPKI_APP_KIND_JUKI_CARD)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the Juki card carries a signing "
				    "certificate only");
	/* bounded, so that the audit entry holds them whole */
	if ((req->special_circumstance != NULL &&
	     strlen(req->special_circumstance) > 400) ||
	    (req->proxy_name != NULL && strlen(req->proxy_name) > 200) ||
	    (req->photo_id_kind != NULL && strlen(req->photo_id_kind) > 64) ||
	    (req->photo_id_expiry != NULL &&
	     strlen(req->photo_id_expiry) > 10) ||
	    (req->photo_id_address != NULL &&
	     strlen(req->photo_id_address) >= JPKI_FACT_ADDRESS_MAX))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a field of the application is too long");
	if (req->path != JPKI_ID_PHOTO && req->path != JPKI_ID_NO_PHOTO &&
	    req->path != JPKI_ID_PROXY)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "unknown identity check path");
	return 0;
}

/* The documents the identity path needs (SPEC section 3). */
static int check_documents(struct jpki_store *st,
			   const struct jpki_resident *res,
			   const struct jpki_application_request *req)
{
	int has_photo =
	    req->photo_id_kind != NULL && *req->photo_id_kind != '\0';
	int r;

	switch (req->path) {
	case JPKI_ID_PHOTO:
		if (!has_photo)
			return jpki_err_set(
			    JPKI_ERR_POLICY,
			    "a same-day issue needs a photo ID (driving "
			    "licence, passport, ...); without one the "
			    "inquiry letter is mailed instead");
		return own_photo_id(st, res, req->photo_id_kind,
				    req->photo_id_expiry,
				    req->photo_id_address);
	case JPKI_ID_NO_PHOTO:
		return 0;
	case JPKI_ID_PROXY:
		if (!req->power_of_attorney_sealed)
			return jpki_err_set(
			    JPKI_ERR_POLICY,
			    "a proxy needs a power of attorney signed by "
			    "the resident and sealed with the registered "
			    "seal (実印)");
		if (!req->seal_certificate)
			return jpki_err_set(
			    JPKI_ERR_POLICY,
			    "a proxy needs the resident's seal "
			    "registration certificate (印鑑登録証明書)");
		if (!has_photo)
			return jpki_err_set(JPKI_ERR_POLICY,
					    "a proxy must show their own "
					    "photo ID");
		/* the proxy's own ID: its kind and expiry count, its
		 * address is the proxy's */
		if ((r = window_check_photo_id(st, res, req->photo_id_kind,
					       req->photo_id_expiry)) != 0)
			return r;
		if (req->proxy_name == NULL || *req->proxy_name == '\0')
			return jpki_err_set(JPKI_ERR_POLICY,
					    "the proxy's name is needed");
		return 0;
	}
	return jpki_err_set(JPKI_ERR_INVALID, "unknown identity check path");
}

int jpki_window_apply(struct jpki_application *out, struct jpki_store *st,
		      const struct jpki_actor *by,
		      const struct jpki_application_request *req)
{
	struct jpki_resident res;
	struct jpki_application a;
	char detail[4096], special[2560], proxy[1280];
	time_t now = jpki_clock_now();
	int r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	if ((r = check_request(req)) != 0 ||
	    (r = resident_for(&res, st, by, req->person, 1)) != 0 ||
	    (r = window_check_hours(st, by, res.municipality_code)) != 0)
		return r;
	if (req->card == JPKI_CARD_JUKI && juki_ended())
		return jpki_err_set(JPKI_ERR_POLICY, "%s", juki_ended_sentence);
	if ((r = check_eligible(&res,
				req->kind == JPKI_APP_KIND_JUKI_CARD
				    ? 0
				    : req->want_sign,
				req->special_circumstance)) != 0 ||
	    (r = check_documents(st, &res, req)) != 0)
		return r;

	copy_text(a.person, sizeof(a.person), res.person);
	copy_text(a.municipality_code, sizeof(a.municipality_code),
		  res.municipality_code);
	a.card = req->card;
	a.kind = req->kind != 0 ? req->kind : JPKI_APP_KIND_ISSUE;
	a.want_sign = a.kind != JPKI_APP_KIND_JUKI_CARD && req->want_sign != 0;
	a.want_auth = a.kind != JPKI_APP_KIND_JUKI_CARD && req->want_auth != 0;
	a.path = req->path;
	a.applied_at = now;
	if (req->path == JPKI_ID_PHOTO) {
		a.state = JPKI_APP_READY;
		a.ready_at = now;
	} else {
		/* the letter goes to the registered address, so only the
		 * resident there can say the application is theirs */
		a.state = JPKI_APP_WAITING_LETTER;
		a.letter_mailed_at = now;
	}
	json_escape(special, sizeof(special), req->special_circumstance);
	json_escape(proxy, sizeof(proxy), req->proxy_name);

	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = window_next_id(&a.id, st, "window_application")) != 0)
		goto fail;
	{
		int letter = a.state == JPKI_APP_WAITING_LETTER;
		struct jpki_value p[] = {
		    JPKI_V_INT(a.id),
		    JPKI_V_TEXT(a.person),
		    JPKI_V_TEXT(a.municipality_code),
		    JPKI_V_INT(a.card),
		    JPKI_V_INT(a.want_sign),
		    JPKI_V_INT(a.want_auth),
		    JPKI_V_INT(a.path),
		    JPKI_V_INT(a.state),
		    JPKI_V_NULL, /* the code is made when the letter is
				    printed (window_letter_code) */
		    JPKI_V_INT((int64_t)now),
		    letter ? JPKI_V_INT((int64_t)now) : JPKI_V_NULL,
		    letter ? JPKI_V_NULL : JPKI_V_INT((int64_t)now),
		    req->special_circumstance && *req->special_circumstance
			? JPKI_V_TEXT(req->special_circumstance)
			: JPKI_V_NULL,
		    req->photo_id_kind ? JPKI_V_TEXT(req->photo_id_kind)
				       : JPKI_V_NULL,
		    req->path == JPKI_ID_PROXY ? JPKI_V_TEXT(req->proxy_name)
					       : JPKI_V_NULL,
		    JPKI_V_TEXT(by->operator_id),
		    JPKI_V_INT(a.kind),
		};

		if ((r = jpki_store_exec(
			 st,
			 "INSERT INTO window_application (id, person,"
			 " municipality_code, card, want_sign, want_auth,"
			 " path, state, letter_code, applied_at,"
			 " letter_mailed_at, ready_at,"
			 " special_circumstance, photo_id_kind,"
			 " proxy_name, operator_id, kind) VALUES ($1, $2,"
			 " $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
			 " $14, $15, $16, $17)",
			 p, 17, NULL)) != 0)
			goto fail;
	}
	/* the letter code stays out of the chain: it is the resident's
	 * proof of having received the letter */
	snprintf(detail, sizeof(detail),
		 "{\"application\":%lld,\"kind\":\"%s\",\"card\":\"%s\","
		 "\"sign\":%s,"
		 "\"auth\":%s,\"path\":\"%s\",\"letter_mailed\":%s,"
		 "\"special_circumstance\":\"%s\",\"proxy\":\"%s\"}",
		 (long long)a.id,
		 a.kind == JPKI_APP_KIND_RENEWAL     ? "renewal"
		 : a.kind == JPKI_APP_KIND_JUKI_CARD ? "juki-card"
						     : "issue",
		 a.card == JPKI_CARD_JUKI ? "juki" : "mynumber",
		 a.want_sign ? "true" : "false", a.want_auth ? "true" : "false",
		 a.path == JPKI_ID_PHOTO      ? "photo-id"
		 : a.path == JPKI_ID_NO_PHOTO ? "no-photo-id"
					      : "proxy",
		 a.state == JPKI_APP_WAITING_LETTER ? "true" : "false", special,
		 proxy);
	if ((r = jpki_audit_append(st, by, "window.apply", a.person, detail)) !=
	    0)
		goto fail;
	if ((r = jpki_store_commit(st)) != 0)
		return r;
	*out = a;
	return 0;
fail:
	jpki_store_rollback(st);
	return r;
}

/*
 * Moves application `app_id` on in one transaction: the UPDATE `sql` (of
 * that one row, guarded by its state) and the audit entry. A change by
 * another clerk in between leaves the row alone: JPKI_ERR_STATE, nothing
 * written.
 */
static int app_update_audited(struct jpki_store *st,
			      const struct jpki_actor *by, int64_t app_id,
			      const char *sql, const struct jpki_value *p,
			      size_t n, const char *action,
			      const char *subject, const char *detail)
{
	int64_t changes = 0;
	int r = JPKI_ERR_INTERNAL;

	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = jpki_store_exec(st, sql, p, n, &changes)) != 0)
		goto fail;
	if (changes != 1) {
		r = jpki_err_set(JPKI_ERR_STATE,
				 "application %lld changed meanwhile",
				 (long long)app_id);
		goto fail;
	}
	if ((r = jpki_audit_append(st, by, action, subject, detail)) != 0)
		goto fail;
	return jpki_store_commit(st);
fail:
	jpki_store_rollback(st);
	return r;
}

/*
 * A wrong letter code: counted and recorded, and the
 * JPKI_WINDOW_LETTER_TRIES-th locks the application until a new letter is
 * printed, so that the code cannot be guessed at the counter. Returns the
 * refusal (JPKI_ERR_POLICY), or the store's error.
 */
static int wrong_code(struct jpki_store *st, const struct jpki_actor *by,
		      const struct jpki_application *a)
{
	int n = a->wrong_codes + 1, r = JPKI_ERR_INTERNAL;
	struct jpki_value p[] = {JPKI_V_INT(a->id), JPKI_V_INT(n),
				 JPKI_V_INT(a->wrong_codes),
				 JPKI_V_INT(JPKI_APP_WAITING_LETTER)};
	char detail[96];

	snprintf(detail, sizeof(detail),
		 "{\"application\":%lld,\"wrong_codes\":%d}",
		 (long long)a->id, n);
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	/* guarded by the count read, so two counters cannot both count
	 * the same try */
	if ((r = jpki_store_exec(st,
				 "UPDATE window_application SET wrong_codes ="
				 " $2 WHERE id = $1 AND wrong_codes = $3 AND"
				 " state = $4",
				 p, 4, NULL)) != 0 ||
	    (r = jpki_audit_append(st, by, "window.letter.wrong_code",
				   a->person, detail)) != 0 ||
	    (n >= JPKI_WINDOW_LETTER_TRIES &&
	     (r = jpki_audit_append(st, by, "window.letter.locked", a->person,
				    detail)) != 0)) {
		jpki_store_rollback(st);
		return r;
	}
	if ((r = jpki_store_commit(st)) != 0)
		return r;
	if (n >= JPKI_WINDOW_LETTER_TRIES)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the code is not the one on the inquiry "
				    "letter of application %lld; after %d "
				    "wrong codes the application is locked: "
				    "print and mail a new inquiry letter",
				    (long long)a->id, n);
	return jpki_err_set(JPKI_ERR_POLICY,
			    "the code is not the one on the inquiry letter "
			    "of application %lld (%d of %d tries left)",
			    (long long)a->id, JPKI_WINDOW_LETTER_TRIES - n,
			    JPKI_WINDOW_LETTER_TRIES);
}

int jpki_window_letter_returned(struct jpki_application *out,
				struct jpki_store *st,
				const struct jpki_actor *by, int64_t app_id,
				const char *letter_code,
				const char *other_document)
{
	struct jpki_application a;
	struct jpki_resident res;
	struct jpki_date mailed, today = jpki_date_today();
	char detail[768], doc[640], day[11], hash[LETTER_HASH_LEN + 1],
	    given[LETTER_HASH_LEN + 1];
	time_t now = jpki_clock_now();
	int r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if ((r = load_app(&a, NULL, 0, hash, st, app_id)) != 0 ||
	    (r = resident_for(&res, st, by, a.person, 1)) != 0)
		return r;
	if (a.state != JPKI_APP_WAITING_LETTER)
		return jpki_err_set(JPKI_ERR_STATE,
				    "application %lld %s: there is no "
				    "inquiry letter to return",
				    (long long)app_id, state_sentence(a.state));
	if ((r = window_check_hours(st, by, res.municipality_code)) != 0)
		return r;
	mailed = jpki_date_of(a.letter_mailed_at);
	if (jpki_date_cmp(&today, &mailed) <= 0) {
		jpki_date_format(&mailed, day);
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the inquiry letter of application %lld "
				    "was mailed on %s: it can be brought back "
				    "from the next day, never the same day",
				    (long long)app_id, day);
	}
	if (strlen(hash) != LETTER_HASH_LEN)
		return jpki_err_set(JPKI_ERR_STATE,
				    "no inquiry letter of application %lld "
				    "has been printed: print it and mail it",
				    (long long)app_id);
	if (a.wrong_codes >= JPKI_WINDOW_LETTER_TRIES)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "application %lld is locked after %d "
				    "wrong codes: print and mail a new "
				    "inquiry letter (jpki window letter %lld)",
				    (long long)app_id, a.wrong_codes,
				    (long long)app_id);
	/* only the code's hash is kept; the hashes are compared in
	 * constant time */
	if (letter_code == NULL || strlen(letter_code) != LETTER_CODE_LEN ||
	    letter_hash_of(given, letter_code) != 0 ||
	    !jpki_ct_equal(given, hash, LETTER_HASH_LEN))
		return wrong_code(st, by, &a);
	if (other_document != NULL && strlen(other_document) > 100)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the other document's name is too long");
	if (a.path == JPKI_ID_NO_PHOTO &&
	    (other_document == NULL || *other_document == '\0'))
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the returned letter must come with "
				    "another document (e.g. a health "
				    "insurance card)");
	json_escape(doc, sizeof(doc), other_document);
	snprintf(detail, sizeof(detail),
		 "{\"application\":%lld,\"other_document\":\"%s\"}",
		 (long long)app_id, doc);
	{
		struct jpki_value p[] = {
		    JPKI_V_INT(app_id), JPKI_V_INT(JPKI_APP_READY),
		    JPKI_V_INT((int64_t)now),
		    other_document ? JPKI_V_TEXT(other_document) : JPKI_V_NULL,
		    JPKI_V_INT(JPKI_APP_WAITING_LETTER)};

		if ((r = app_update_audited(
			 st, by, app_id,
			 "UPDATE window_application SET "
			 "state = $2, ready_at = $3,"
			 " other_document = $4,"
			 " letter_hash = NULL WHERE id = $1"
			 " AND state = $5",
			 p, 5, "window.letter_returned", a.person, detail)) != 0)
			return r;
	}
	a.state = JPKI_APP_READY;
	a.ready_at = now;
	*out = a;
	return 0;
}

/* Who reads applications, letters and copies: the window clerks of the
 * resident's municipality. */
#define APP_READERS JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_WINDOW_CLERK)

int window_read_refused(struct jpki_store *st, const struct jpki_actor *by,
			const char *action, const char *subject, int r)
{
	char why[512];

	snprintf(why, sizeof(why), "%s", jpki_err_detail());
	if (by != NULL && by->operator_id[0] != '\0' &&
	    jpki_audit_record(st, by, action, subject, NULL) != 0)
		jpki_log(JPKI_LOG_ERROR, "window: %s not recorded: %s", action,
			 jpki_err_detail());
	return jpki_err_set(r, "%s", why);
}

int window_load_app(struct jpki_application *out, struct jpki_store *st,
		    int64_t app_id)
{
	return load_app(out, NULL, 0, NULL, st, app_id);
}

int jpki_window_application(struct jpki_application *out, struct jpki_store *st,
			    const struct jpki_actor *by, int64_t app_id)
{
	char subject[32], detail[64];
	int r;

	if ((r = load_app(out, NULL, 0, NULL, st, app_id)) != 0)
		return r;
	snprintf(subject, sizeof(subject), "%lld", (long long)app_id);
	if ((r = jpki_audit_authorize_read(by, APP_READERS,
					   out->municipality_code)) != 0) {
		memset(out, 0, sizeof(*out));
		return window_read_refused(
		    st, by, "window.application.read.refused", subject, r);
	}
	snprintf(detail, sizeof(detail), "{\"application\":%lld}",
		 (long long)app_id);
	if ((r = jpki_audit_record(st, by, "window.application.read",
				   out->person, detail)) != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int jpki_window_applications(struct jpki_application **out, size_t *n,
			     struct jpki_store *st, const struct jpki_actor *by,
			     const char *municipality_code, size_t limit)
{
	char code[sizeof(by->municipality_code) + 1], detail[64];
	struct jpki_rows *rows = NULL;
	struct jpki_application *list = NULL;
	size_t count;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = jpki_audit_authorize_read(by, APP_READERS,
					   municipality_code)) != 0)
		return window_read_refused(
		    st, by, "window.application.list.refused",
		    municipality_code ? municipality_code : "", r);
	/* a clerk always has a municipality: theirs is the one listed */
	snprintf(code, sizeof(code), "%.*s", (int)sizeof(by->municipality_code),
		 by->municipality_code);
	struct jpki_value p[] = {
	    JPKI_V_TEXT(code), JPKI_V_INT(limit ? (int64_t)limit : INT64_MAX)};

	if ((r = jpki_store_query(&rows, st,
				  "SELECT " APP_COLUMNS " FROM "
				  "window_application WHERE municipality_code "
				  "= $1 OR $1 IS NULL ORDER BY id DESC "
				  "LIMIT $2",
				  p, 2)) != 0)
		return r;
	count = jpki_rows_count(rows);
	if (count > 0 && (list = calloc(count, sizeof(*list))) == NULL) {
		jpki_rows_free(rows);
		return JPKI_ERR_NOMEM;
	}
	for (size_t i = 0; i < count; i++)
		app_from_row(&list[i], rows, i);
	jpki_rows_free(rows);
	snprintf(detail, sizeof(detail), "{\"count\":%zu}", count);
	if ((r = jpki_audit_record(st, by, "window.application.list", code,
				   detail)) != 0) {
		free(list);
		return r;
	}
	*out = list;
	*n = count;
	return 0;
}

int window_letter_code(char code[WINDOW_LETTER_CODE_LEN + 1],
		       struct jpki_application *out, struct jpki_store *st,
		       const struct jpki_actor *by, int64_t app_id)
{
	struct jpki_application a;
	char subject[32], detail[128], hash[LETTER_HASH_LEN + 1];
	time_t now = jpki_clock_now();
	int r = JPKI_ERR_INTERNAL, earlier;

	code[0] = '\0';
	memset(out, 0, sizeof(*out));
	if ((r = load_app(&a, NULL, 0, hash, st, app_id)) != 0)
		return r;
	/* whether a code printed before stops working now (for the chain),
	 * read before hash holds the new code's */
	earlier = strlen(hash) == LETTER_HASH_LEN;
	snprintf(subject, sizeof(subject), "%lld", (long long)app_id);
	if ((r = jpki_audit_authorize_read(by, APP_READERS,
					   a.municipality_code)) != 0)
		return window_read_refused(
		    st, by, "window.letter.print.refused", subject, r);
	if (a.state != JPKI_APP_WAITING_LETTER)
		return jpki_err_set(JPKI_ERR_STATE,
				    "application %lld %s: it has no inquiry "
				    "letter to print",
				    (long long)app_id,
				    a.path == JPKI_ID_PHOTO
					? "was taken with a photo ID"
					: state_sentence(a.state));
	if ((r = random_letter_code(code)) != 0 ||
	    (r = letter_hash_of(hash, code)) != 0)
		goto fail_code;
	{
		struct jpki_value p[] = {JPKI_V_INT(app_id), JPKI_V_TEXT(hash),
					 JPKI_V_INT((int64_t)now),
					 JPKI_V_INT(JPKI_APP_WAITING_LETTER)};

		snprintf(detail, sizeof(detail),
			 "{\"application\":%lld,\"earlier_code_void\":%s,"
			 "\"unlocked\":%s}",
			 (long long)app_id, earlier ? "true" : "false",
			 a.wrong_codes >= JPKI_WINDOW_LETTER_TRIES ? "true"
								   : "false");
		/* a new print is a new mailing: the earlier code stops
		 * working, and the day counts from now */
		if ((r = app_update_audited(
			 st, by, app_id,
			 "UPDATE window_application SET "
			 "letter_hash = $2, letter_mailed_at ="
			 " $3, wrong_codes = 0 WHERE id = $1 AND"
			 " state = $4",
			 p, 4, "window.letter.print", a.person, detail)) != 0)
			goto fail_code;
	}
	a.letter_mailed_at = now;
	a.wrong_codes = 0;
	*out = a;
	return 0;
fail_code:
	jpki_wipe(code, WINDOW_LETTER_CODE_LEN + 1);
	code[0] = '\0';
	return r;
}

/* ---- issue at the counter
 * ---------------------------------------------------- */

static int card_kind_matches(struct jpki_reader *rd, enum jpki_card_kind want)
{
	enum jpki_card_kind kind;
	int r;

	if ((r = window_card_kind(&kind, rd)) != 0)
		return r;
	if (kind != want)
		return jpki_err_set(
		    JPKI_ERR_STATE,
		    "the card in the reader is a %s card, the "
		    "procedure is for a %s card",
		    kind == JPKI_CARD_JUKI ? "Juki" : "My Number",
		    want == JPKI_CARD_JUKI ? "Juki" : "My Number");
	return 0;
}

static int fee_for(enum jpki_card_kind card)
{
	/* SPEC section 3: 500 yen on the Juki card; the My Number card's
	 * certificates are free, and recorded at 0 all the same */
	return card == JPKI_CARD_JUKI ? 500 : 0;
}

static void revoke_quietly(struct jpki_ca *ca, const char *serial)
{
	if (serial[0] != '\0' &&
	    jpki_ca_revoke(ca, serial, JPKI_REASON_UNSPECIFIED) != 0)
		jpki_log(JPKI_LOG_ERROR, "could not revoke %s: %s", serial,
			 jpki_err_detail());
}

/*
 * Gives back what window_capacity_take took and frees the claim, after a
 * failure; the failure's own sentence is kept for the caller.
 */
static void undo_take(struct jpki_store *st, const struct jpki_actor *by,
		      const char *municipality_code, int n, int64_t app_id,
		      const char *subject)
{
	char why[512];
	struct jpki_value p[] = {JPKI_V_INT(app_id)};
	int r;

	snprintf(why, sizeof(why), "%s", jpki_err_detail());
	if ((r = jpki_store_begin(st)) == 0) {
		if ((app_id == 0 ||
		     (r = jpki_store_exec(st,
					  "UPDATE window_application SET "
					  "claimed_at = NULL WHERE id = $1",
					  p, 1, NULL)) == 0) &&
		    (r = window_capacity_give_back(st, by, municipality_code, n,
						   subject)) == 0)
			r = jpki_store_commit(st);
		else
			jpki_store_rollback(st);
	}
	/* the capacity stays taken: a day's count errs on the safe side */
	if (r != 0)
		jpki_log(JPKI_LOG_ERROR,
			 "could not give back the capacity of %s: %s",
			 municipality_code, jpki_err_detail());
	jpki_err_set(JPKI_ERR_INTERNAL, "%s", why);
}

int jpki_window_issue(struct jpki_window_issue_result *out,
		      struct jpki_store *st, struct jpki_ca *ca,
		      struct jpki_reader *rd, EVP_PKEY *issuer,
		      const struct jpki_actor *by, int64_t app_id,
		      const char *auth_pin, const char *sign_pin)
{
	struct jpki_window_card_request creq = {
	    .version = JPKI_WINDOW_CARD_REQUEST_VERSION,
	    .cert = JPKI_ISSUE_REQUEST_INIT};
	struct jpki_window_card_result cres;
	struct jpki_window_card card;
	struct jpki_application a;
	struct jpki_resident res;
	char special[512], detail[640];
	time_t now = jpki_clock_now();
	int64_t changes = 0, returned = 0;
	int n, fee, fresh = 0, r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if ((r = load_app(&a, special, sizeof(special), NULL, st, app_id)) !=
		0 ||
	    (r = resident_for(&res, st, by, a.person, 1)) != 0)
		return r;
	if (a.state != JPKI_APP_READY)
		return jpki_err_set(JPKI_ERR_STATE, "application %lld %s",
				    (long long)app_id, state_sentence(a.state));
	if (a.kind == JPKI_APP_KIND_RENEWAL)
		return jpki_err_set(JPKI_ERR_STATE,
				    "application %lld is for a renewal: renew "
				    "with it (jpki window renew --application "
				    "%lld)",
				    (long long)app_id, (long long)app_id);
	if (a.kind == JPKI_APP_KIND_JUKI_CARD)
		return jpki_err_set(JPKI_ERR_STATE,
				    "application %lld is for the Juki card "
				    "itself: make the card with it (jpki window "
				    "juki-card %lld)",
				    (long long)app_id, (long long)app_id);
	if ((r = window_check_hours(st, by, res.municipality_code)) != 0 ||
	    (r = window_check_issue(st, by, res.municipality_code,
				    "window.issue.refused", a.person)) != 0 ||
	    (r = window_capacity_check(st, by, a.municipality_code,
				       a.want_sign + a.want_auth)) != 0)
		return r;
	if (a.card == JPKI_CARD_JUKI && juki_ended())
		return jpki_err_set(JPKI_ERR_POLICY, "%s", juki_ended_sentence);
	/* the register may have changed since the application */
	if ((r = check_eligible(&res, a.want_sign, special)) != 0)
		return r;
	if (a.want_auth && auth_pin == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the authentication certificate needs "
				    "its PIN");
	if (a.want_sign && sign_pin == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the signing certificate needs its PIN");
	if ((a.want_auth &&
	     (r = jpki_card_pin_check(a.card, JPKI_PIN_AUTH, auth_pin,
				      strlen(auth_pin))) != 0) ||
	    (a.want_sign &&
	     (r = jpki_card_pin_check(a.card, JPKI_PIN_SIGN, sign_pin,
				      strlen(sign_pin))) != 0))
		return r;
	if ((r = card_kind_matches(rd, a.card)) != 0 ||
	    (r = window_card_for(&card, &fresh, st, rd, &res, a.card)) != 0)
		return r;
	/* the Juki card itself is applied for and paid for first */
	if (a.card == JPKI_CARD_JUKI && fresh)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the Juki card in the reader (%s) was not "
				    "handed over at this window: the card "
				    "itself is applied for and paid for first "
				    "(jpki window apply --juki-card, then "
				    "jpki window juki-card)",
				    card.serial);

	/* claim the application and take today's capacity, together */
	n = a.want_sign + a.want_auth;
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	{
		struct jpki_value p[] = {
		    JPKI_V_INT(app_id), JPKI_V_INT((int64_t)now),
		    JPKI_V_INT(JPKI_APP_READY),
		    JPKI_V_INT((int64_t)now - CLAIM_SECONDS)};

		if ((r = jpki_store_exec(
			 st,
			 "UPDATE window_application SET claimed_at = $2"
			 " WHERE id = $1 AND state = $3 AND"
			 " (claimed_at IS NULL OR claimed_at < $4)",
			 p, 4, &changes)) != 0)
			goto fail_begin;
	}
	if (changes != 1) {
		r = jpki_err_set(JPKI_ERR_STATE,
				 "application %lld is being issued at another "
				 "counter",
				 (long long)app_id);
		goto fail_begin;
	}
	if ((r = window_capacity_take(st, by, a.municipality_code, n,
				      a.person)) != 0)
		goto fail_begin;
	if ((r = jpki_store_commit(st)) != 0)
		return r;

	creq.cert.card = a.card;
	creq.cert.person = res.person;
	creq.cert.municipality_code = res.municipality_code;
	creq.cert.prefecture = res.prefecture;
	creq.cert.municipality = res.municipality;
	creq.cert.facts = res.facts;
	/* the card's own expiry: recorded when the window first issued
	 * onto it, or, for a card handed over now, counted from today */
	if (a.card == JPKI_CARD_MYNUMBER)
		creq.cert.card_expiry = card.expires_on;
	creq.auth_pin = a.want_auth ? auth_pin : NULL;
	creq.sign_pin = a.want_sign ? sign_pin : NULL;
	if ((r = jpki_window_issue_card(&cres, rd, ca, issuer, &creq)) != 0) {
		undo_take(st, by, a.municipality_code, n, app_id, a.person);
		return r;
	}

	fee = fee_for(a.card);
	if ((r = jpki_store_begin(st)) != 0)
		goto fail_made;
	/* the card, if new, and the Juki card a My Number card's signing
	 * certificate replaces (its certificate the CA revoked with the
	 * issue): returned */
	if ((fresh && (r = window_card_put(st, &card)) != 0) ||
	    (a.card == JPKI_CARD_MYNUMBER && a.want_sign &&
	     (r = window_card_retire_juki(&returned, st, a.person)) != 0)) {
		jpki_store_rollback(st);
		goto fail_made;
	}
	snprintf(detail, sizeof(detail),
		 "{\"application\":%lld,\"sign_serial\":\"%s\","
		 "\"auth_serial\":\"%s\",\"fee_yen\":%d,\"card\":\"%s\","
		 "\"juki_cards_returned\":%lld}",
		 (long long)app_id, cres.sign_serial, cres.auth_serial, fee,
		 card.serial, (long long)returned);
	{
		struct jpki_value p[] = {
		    JPKI_V_INT(app_id), JPKI_V_INT(JPKI_APP_ISSUED),
		    cres.sign_serial[0] ? JPKI_V_TEXT(cres.sign_serial)
					: JPKI_V_NULL,
		    cres.auth_serial[0] ? JPKI_V_TEXT(cres.auth_serial)
					: JPKI_V_NULL};

		if ((r = jpki_store_exec(
			 st,
			 "UPDATE window_application SET state = $2,"
			 " sign_serial = $3, auth_serial = $4,"
			 " claimed_at = NULL WHERE id = $1",
			 p, 4, NULL)) != 0 ||
		    (r = window_fee_record(st, by, a.person,
					   a.municipality_code, "issue",
					   fee)) != 0 ||
		    (r = jpki_audit_append(st, by, "window.issue", a.person,
					   detail)) != 0) {
			jpki_store_rollback(st);
			goto fail_made;
		}
	}
	if ((r = jpki_store_commit(st)) != 0)
		goto fail_made;
	copy_text(out->sign_serial, sizeof(out->sign_serial), cres.sign_serial);
	copy_text(out->auth_serial, sizeof(out->auth_serial), cres.auth_serial);
	out->fee_yen = fee;
	return 0;

fail_begin:
	jpki_store_rollback(st);
	return r;
fail_made:
	/* unrecorded certificates must not stay valid */
	{
		char why[512];

		snprintf(why, sizeof(why), "%s", jpki_err_detail());
		revoke_quietly(ca, cres.sign_serial);
		revoke_quietly(ca, cres.auth_serial);
		undo_take(st, by, a.municipality_code, n, app_id, a.person);
		jpki_err_set(r, "%s", why);
	}
	return r;
}

/* ---- the Juki card itself ------------------------------------------------ */

/* SPEC 3: "about 500 yen", each municipality its own. */
#define JUKI_CARD_FEE_DEFAULT 500

int jpki_window_set_juki_card_fee(struct jpki_store *st,
				  const struct jpki_actor *by,
				  const char *municipality_code, int yen)
{
	struct jpki_value p[] = {JPKI_V_TEXT(municipality_code),
				 JPKI_V_INT(yen)};
	char detail[64];
	int r = JPKI_ERR_INTERNAL;

	if (municipality_code == NULL || yen < 0 || yen > 100000)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the Juki card's fee is a municipality and "
				    "0 to 100000 yen");
	if ((r = jpki_audit_authorize(by, JPKI_ROLE_WINDOW_CLERK,
				      municipality_code)) != 0)
		return r;
	snprintf(detail, sizeof(detail), "{\"yen\":%d}", yen);
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = jpki_store_exec(
		 st,
		 "INSERT INTO window_juki_fee (municipality_code, yen)"
		 " VALUES ($1, $2) ON CONFLICT (municipality_code) DO "
		 "UPDATE SET yen = excluded.yen",
		 p, 2, NULL)) != 0 ||
	    (r = jpki_audit_append(st, by, "window.set_juki_card_fee",
				   municipality_code, detail)) != 0) {
		jpki_store_rollback(st);
		return r;
	}
	return jpki_store_commit(st);
}

static int juki_card_fee(int *yen, struct jpki_store *st,
			 const char *municipality_code)
{
	struct jpki_value p[] = {JPKI_V_TEXT(municipality_code)};
	struct jpki_rows *rows = NULL;
	int r;

	*yen = JUKI_CARD_FEE_DEFAULT;
	if ((r = jpki_store_query(&rows, st,
				  "SELECT yen FROM window_juki_fee WHERE"
				  " municipality_code = $1",
				  p, 1)) != 0)
		return r;
	if (jpki_rows_count(rows) == 1)
		*yen = (int)jpki_rows_int(rows, 0, 0);
	jpki_rows_free(rows);
	return 0;
}

int jpki_window_juki_card(struct jpki_window_card *out, int *fee_yen,
			  struct jpki_store *st, const struct jpki_actor *by,
			  int64_t app_id, struct jpki_reader *rd)
{
	struct jpki_window_card card;
	struct jpki_application a;
	struct jpki_resident res;
	char detail[160];
	int fresh = 0, fee = 0, r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	*fee_yen = 0;
	if ((r = load_app(&a, NULL, 0, NULL, st, app_id)) != 0 ||
	    (r = resident_for(&res, st, by, a.person, 1)) != 0)
		return r;
	if (a.kind != JPKI_APP_KIND_JUKI_CARD)
		return jpki_err_set(JPKI_ERR_STATE,
				    "application %lld is not for the Juki card "
				    "itself",
				    (long long)app_id);
	if (a.state != JPKI_APP_READY)
		return jpki_err_set(JPKI_ERR_STATE, "application %lld %s",
				    (long long)app_id, state_sentence(a.state));
	if ((r = window_check_hours(st, by, res.municipality_code)) != 0)
		return r;
	if (juki_ended())
		return jpki_err_set(JPKI_ERR_POLICY, "%s", juki_ended_sentence);
	if ((r = card_kind_matches(rd, JPKI_CARD_JUKI)) != 0 ||
	    (r = window_card_for(&card, &fresh, st, rd, &res,
				 JPKI_CARD_JUKI)) != 0)
		return r;
	if (!fresh)
		return jpki_err_set(JPKI_ERR_STATE,
				    "the card in the reader (%s) was handed "
				    "over before",
				    card.serial);
	if ((r = juki_card_fee(&fee, st, res.municipality_code)) != 0)
		return r;
	snprintf(detail, sizeof(detail),
		 "{\"application\":%lld,\"card\":\"%s\",\"fee_yen\":%d}",
		 (long long)app_id, card.serial, fee);
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	{
		struct jpki_value p[] = {JPKI_V_INT(app_id),
					 JPKI_V_INT(JPKI_APP_ISSUED),
					 JPKI_V_INT(JPKI_APP_READY)};
		int64_t changes = 0;

		if ((r = jpki_store_exec(st,
					 "UPDATE window_application SET state ="
					 " $2 WHERE id = $1 AND state = $3",
					 p, 3, &changes)) != 0)
			goto fail;
		if (changes != 1) {
			r = jpki_err_set(JPKI_ERR_STATE,
					 "application %lld changed meanwhile",
					 (long long)app_id);
			goto fail;
		}
	}
	if ((r = window_card_put(st, &card)) != 0 ||
	    (r = window_fee_record(st, by, res.person, res.municipality_code,
				   "juki-card", fee)) != 0 ||
	    (r = jpki_audit_append(st, by, "window.juki_card", res.person,
				   detail)) != 0)
		goto fail;
	if ((r = jpki_store_commit(st)) != 0)
		return r;
	*out = card;
	*fee_yen = fee;
	return 0;
fail:
	jpki_store_rollback(st);
	return r;
}

/* ---- renewal
 * ---------------------------------------------------------------------- */

/*
 * The card in the reader must be the person's: its authentication
 * certificate (free to read) is one the CA issued to them. A card without
 * one (a Juki card, or a declined authentication certificate) cannot tell,
 * and the clerk's look at the card has to do.
 */
static int card_of_person(struct jpki_reader *rd, struct jpki_ca *ca,
			  const char *person)
{
	struct jpki_cert_info *info = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	const unsigned char *p;
	X509 *cert = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int r = JPKI_ERR_INTERNAL;

	if ((r = jpki_reader_select_ap(rd)) != 0)
		return r;
	r = jpki_reader_read_der(&der, &der_len, rd, JPKI_EF_AUTH_CERT);
	if (r == JPKI_ERR_NOT_FOUND || r == JPKI_ERR_STATE) {
		jpki_err_clear();
		return 0;
	}
	if (r != 0)
		return r;
	p = der;
	if ((cert = d2i_X509(NULL, &p, (long)der_len)) == NULL ||
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) ==
		NULL ||
	    (hex = BN_bn2hex(bn)) == NULL) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "the card's authentication certificate is "
				 "unreadable");
		goto out;
	}
	if ((r = jpki_ca_status(&info, ca, hex)) != 0 ||
	    strcmp(info->person, person) != 0) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the card in the reader is not %s's card",
				 person);
		goto out;
	}
	r = 0;
out:
	jpki_cert_info_free(info);
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(cert);
	free(der);
	return r;
}

/*
 * The identity check of a renewal (SPEC 3: as for a new issue). A photo ID
 * renews the same day; without one (letter, proxy) only a READY renewal
 * application of the person's, for this certificate, whose inquiry letter
 * came back, does: *app gets it (app->id 0 for the photo path).
 */
static int renewal_identity(struct jpki_application *app,
			    struct jpki_store *st,
			    const struct jpki_resident *res,
			    const struct jpki_renewal_request *req)
{
	int r;

	memset(app, 0, sizeof(*app));
	if (req->path == JPKI_ID_PHOTO) {
		if (req->photo_id_kind == NULL || *req->photo_id_kind == '\0')
			return jpki_err_set(
			    JPKI_ERR_POLICY,
			    "a same-day renewal needs a photo ID (driving "
			    "licence, passport, ...); without one take a "
			    "renewal application and the inquiry letter is "
			    "mailed");
		return own_photo_id(st, res, req->photo_id_kind,
				    req->photo_id_expiry,
				    req->photo_id_address);
	}
	if (req->path != JPKI_ID_NO_PHOTO && req->path != JPKI_ID_PROXY)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "unknown identity check path");
	if (req->application == 0)
		return jpki_err_set(
		    JPKI_ERR_POLICY,
		    "%s: no same-day renewal; take a renewal application "
		    "(jpki window apply --renewal), the inquiry letter is "
		    "mailed to the registered address, and renew with it once "
		    "it is back",
		    req->path == JPKI_ID_PROXY
			? "a proxy never renews on the day"
			: "without a photo ID");
	if ((r = load_app(app, NULL, 0, NULL, st, req->application)) != 0)
		return r;
	if (strcmp(app->person, res->person) != 0 ||
	    app->kind != JPKI_APP_KIND_RENEWAL ||
	    !(req->type == JPKI_CERT_SIGN ? app->want_sign : app->want_auth))
		return jpki_err_set(JPKI_ERR_POLICY,
				    "application %lld is not %s's application "
				    "to renew this certificate",
				    (long long)app->id, res->person);
	if (app->state != JPKI_APP_READY)
		return jpki_err_set(JPKI_ERR_STATE, "application %lld %s",
				    (long long)app->id,
				    state_sentence(app->state));
	return 0;
}

int jpki_window_renew(struct jpki_window_issue_result *out,
		      struct jpki_store *st, struct jpki_ca *ca,
		      struct jpki_reader *rd, EVP_PKEY *issuer,
		      const struct jpki_actor *by,
		      const struct jpki_renewal_request *req)
{
	struct jpki_ca_filter filter = JPKI_CA_FILTER_INIT;
	struct jpki_cert_info **certs = NULL;
	struct jpki_window_card wcard;
	struct jpki_application app;
	struct jpki_resident res;
	struct jpki_date today = jpki_date_today(), last, from;
	char old[41], fresh[41], detail[384], day_from[11], day_last[11];
	enum jpki_card_kind card;
	enum jpki_cert_type type;
	size_t count = 0;
	int fee, known, r = JPKI_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if (req == NULL || req->version != JPKI_RENEWAL_REQUEST_VERSION)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "renewal request of an unknown version");
	type = req->type;
	if (type != JPKI_CERT_SIGN && type != JPKI_CERT_AUTH)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "unknown certificate type");
	if ((req->photo_id_kind != NULL && strlen(req->photo_id_kind) > 64) ||
	    (req->photo_id_expiry != NULL &&
	     strlen(req->photo_id_expiry) > 10) ||
	    (req->photo_id_address != NULL &&
	     strlen(req->photo_id_address) >= JPKI_FACT_ADDRESS_MAX))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a field of the renewal is too long");
	if ((r = resident_for(&res, st, by, req->person, 1)) != 0 ||
	    (r = window_check_hours(st, by, res.municipality_code)) != 0 ||
	    (r = window_check_issue(st, by, res.municipality_code,
				    "window.renew.refused", res.person)) != 0)
		return r;
	filter.type = type;
	filter.person = res.person;
	filter.status = JPKI_STATUS_GOOD;
	filter.limit = 1;
	if ((r = jpki_ca_list(&certs, &count, ca, &filter)) != 0)
		return r;
	if (count == 0) {
		jpki_cert_info_list_free(certs, count);
		return jpki_err_set(JPKI_ERR_STATE,
				    "%s holds no valid %s certificate to "
				    "renew: apply for a new issue",
				    res.person,
				    type == JPKI_CERT_SIGN ? "signing"
							   : "authentication");
	}
	copy_text(old, sizeof(old), certs[0]->serial);
	card = certs[0]->card;
	last = jpki_date_of(certs[0]->not_after);
	r = jpki_clock_now() > certs[0]->not_after;
	jpki_cert_info_list_free(certs, count);
	/* refused here, before the card's key is replaced */
	if (r)
		return jpki_err_set(JPKI_ERR_STATE,
				    "certificate %s has expired and cannot be "
				    "renewed: apply for a new issue (an "
				    "expired certificate never blocks one)",
				    old);
	if (card == JPKI_CARD_JUKI && juki_ended())
		return jpki_err_set(JPKI_ERR_POLICY, "%s", juki_ended_sentence);
	/* "from 3 months before expiry": from the day 3 calendar months
	 * before the last valid day (the month's last day when it is
	 * shorter), that day included */
	from = jpki_date_add_months(&last, -3);
	if (jpki_date_cmp(&today, &from) < 0) {
		jpki_date_format(&from, day_from);
		jpki_date_format(&last, day_last);
		return jpki_err_set(JPKI_ERR_POLICY,
				    "certificate %s expires on %s and can be "
				    "renewed from %s (3 months before)",
				    old, day_last, day_from);
	}
	if ((r = renewal_identity(&app, st, &res, req)) != 0)
		return r;
	if ((r = card_kind_matches(rd, card)) != 0 ||
	    (r = card_of_person(rd, ca, res.person)) != 0)
		return r;
	/* a card the window recorded caps the new certificate at its own
	 * expiry; one it never issued onto keeps the recorded one */
	r = jpki_window_card_record(&wcard, st, rd);
	if (r != 0 && r != JPKI_ERR_NOT_FOUND)
		return r;
	known = r == 0;
	jpki_err_clear();
	if (known) {
		int fresh_card;

		if ((r = window_card_for(&wcard, &fresh_card, st, rd, &res,
					 card)) != 0)
			return r;
	}

	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = window_capacity_take(st, by, res.municipality_code, 1,
				      res.person)) != 0) {
		jpki_store_rollback(st);
		return r;
	}
	if ((r = jpki_store_commit(st)) != 0)
		return r;

	if ((r = window_card_renew(fresh, rd, ca, issuer, old, type,
				   known && jpki_date_valid(&wcard.expires_on)
				       ? &wcard.expires_on
				       : NULL)) != 0) {
		undo_take(st, by, res.municipality_code, 1, 0, res.person);
		return r;
	}
	fee = fee_for(card);
	snprintf(detail, sizeof(detail),
		 "{\"old_serial\":\"%s\",\"new_serial\":\"%s\","
		 "\"type\":\"%s\",\"fee_yen\":%d,\"path\":\"%s\","
		 "\"application\":%lld}",
		 old, fresh, type == JPKI_CERT_SIGN ? "sign" : "auth", fee,
		 req->path == JPKI_ID_PHOTO      ? "photo-id"
		 : req->path == JPKI_ID_NO_PHOTO ? "no-photo-id"
						 : "proxy",
		 (long long)app.id);
	if ((r = jpki_store_begin(st)) != 0)
		goto fail_made;
	if (app.id != 0) {
		struct jpki_value p[] = {
		    JPKI_V_INT(app.id), JPKI_V_INT(JPKI_APP_ISSUED),
		    JPKI_V_TEXT(fresh), JPKI_V_INT(JPKI_APP_READY)};
		int64_t changes = 0;

		if ((r = jpki_store_exec(
			 st,
			 type == JPKI_CERT_SIGN
			     ? "UPDATE window_application SET state = $2,"
			       " sign_serial = $3 WHERE id = $1 AND"
			       " state = $4"
			     : "UPDATE window_application SET state = $2,"
			       " auth_serial = $3 WHERE id = $1 AND"
			       " state = $4",
			 p, 4, &changes)) != 0 ||
		    (changes != 1 &&
		     (r = jpki_err_set(JPKI_ERR_STATE,
				       "application %lld changed meanwhile",
				       (long long)app.id)) != 0)) {
			jpki_store_rollback(st);
			goto fail_made;
		}
	}
	if ((r = window_fee_record(st, by, res.person, res.municipality_code,
				   "renewal", fee)) != 0 ||
	    (r = jpki_audit_append(st, by, "window.renew", res.person,
				   detail)) != 0) {
		jpki_store_rollback(st);
		goto fail_made;
	}
	if ((r = jpki_store_commit(st)) != 0)
		goto fail_made;
	copy_text(type == JPKI_CERT_SIGN ? out->sign_serial : out->auth_serial,
		  41, fresh);
	out->fee_yen = fee;
	return 0;
fail_made : {
	char why[512];

	snprintf(why, sizeof(why), "%s", jpki_err_detail());
	revoke_quietly(ca, fresh);
	undo_take(st, by, res.municipality_code, 1, 0, res.person);
	jpki_err_set(r, "%s", why);
}
	return r;
}

int jpki_window_card_holder(char person[64], struct jpki_reader *rd,
			    struct jpki_ca *ca)
{
	struct jpki_cert_info *info = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	const unsigned char *p;
	X509 *cert = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int r = JPKI_ERR_INTERNAL;

	person[0] = '\0';
	if (rd == NULL || ca == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no reader or CA");
	if ((r = jpki_reader_select_ap(rd)) != 0 ||
	    (r = jpki_reader_read_der(&der, &der_len, rd, JPKI_EF_AUTH_CERT)) !=
		0)
		return r == JPKI_ERR_NOT_FOUND || r == JPKI_ERR_STATE
			   ? jpki_err_set(JPKI_ERR_POLICY,
					  "the card holds no authentication "
					  "certificate")
			   : r;
	p = der;
	if ((cert = d2i_X509(NULL, &p, (long)der_len)) == NULL ||
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) ==
		NULL ||
	    (hex = BN_bn2hex(bn)) == NULL) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "the card's authentication certificate is "
				 "unreadable");
		goto out;
	}
	if ((r = jpki_ca_status(&info, ca, hex)) != 0 ||
	    info->type != JPKI_CERT_AUTH || info->status != JPKI_STATUS_GOOD) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the card's authentication certificate is "
				 "not a good one of this CA");
		goto out;
	}
	if (strlen(info->person) >= 64) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the card's holder is no resident");
		goto out;
	}
	memcpy(person, info->person, strlen(info->person) + 1);
	r = 0;
out:
	jpki_cert_info_free(info);
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(cert);
	free(der);
	return r;
}

/* ---- PINs
 * -----------------------------------------------------------------------------
 */

int jpki_window_pin_reset(struct jpki_store *st, struct jpki_ca *ca,
			  struct jpki_reader *rd, EVP_PKEY *issuer,
			  const struct jpki_actor *by,
			  const char *person, const char *photo_id_address,
			  enum jpki_cert_type which, const char *new_pin)
{
	enum jpki_card_pin pin =
	    which == JPKI_CERT_SIGN ? JPKI_PIN_SIGN : JPKI_PIN_AUTH;
	struct jpki_resident res;
	enum jpki_card_kind kind;
	char detail[128];
	int r = JPKI_ERR_INTERNAL;

	if (which != JPKI_CERT_SIGN && which != JPKI_CERT_AUTH)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "unknown certificate type");
	if ((r = resident_for(&res, st, by, person, 1)) != 0 ||
	    (r = window_check_hours(st, by, res.municipality_code)) != 0)
		return r;
	if (photo_id_address == NULL ||
	    !same_address(photo_id_address, res.facts.address))
		return jpki_err_set(JPKI_ERR_POLICY,
				    "a PIN is reset only after a photo ID "
				    "showing the registered address");
	if ((r = window_card_kind(&kind, rd)) != 0 ||
	    (r = card_of_person(rd, ca, res.person)) != 0)
		return r;
	if (kind == JPKI_CARD_JUKI && pin == JPKI_PIN_AUTH)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the Juki card has no authentication PIN");
	if (new_pin != NULL &&
	    (r = jpki_card_pin_check(kind, pin, new_pin, strlen(new_pin))) != 0)
		return r;
	snprintf(detail, sizeof(detail), "{\"pin\":\"%s\",\"how\":\"%s\"}",
		 pin == JPKI_PIN_SIGN ? "sign" : "auth",
		 new_pin != NULL ? "new-pin" : "unlock");
	/*
	 * The audit entry is written in a transaction held open across the
	 * card's command: the card changes only if the entry can be made,
	 * and the entry is dropped if the card refuses.
	 */
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	if ((r = jpki_audit_append(st, by, "window.pin_reset", res.person,
				   detail)) != 0 ||
	    (r = window_card_pin_reset(rd, issuer, pin, new_pin)) != 0) {
		jpki_store_rollback(st);
		return r;
	}
	return jpki_store_commit(st);
}

/* ---- loss and card-fault reports
 * ---------------------------------------------------- */

/* What a loss report stops: not revoked and not past its last second (an
 * expired certificate is dead already). */
static int still_valid(const struct jpki_cert_info *c, time_t now)
{
	return c->status != JPKI_STATUS_REVOKED && c->not_after >= now;
}

int jpki_window_report(size_t *count, struct jpki_store *st, struct jpki_ca *ca,
		       const struct jpki_actor *by, const char *person,
		       enum jpki_loss_kind kind)
{
	struct jpki_ca_filter filter = JPKI_CA_FILTER_INIT;
	struct jpki_cert_info **certs = NULL;
	struct jpki_resident res;
	char *detail = NULL;
	size_t n = 0, len, done = 0;
	time_t now = jpki_clock_now();
	int64_t id;
	int r = JPKI_ERR_INTERNAL;

	*count = 0;
	if (kind != JPKI_LOSS_LOST && kind != JPKI_LOSS_CARD_FAULT)
		return jpki_err_set(JPKI_ERR_INVALID, "unknown report kind");
	/*
	 * No reception hours and no registration check: a lost card is
	 * stopped at once, whenever it is reported (the real service keeps
	 * a call centre open day and night), and for anyone in the register.
	 */
	if ((r = resident_for(&res, st, by, person, 0)) != 0)
		return r;
	filter.person = res.person;
	if ((r = jpki_ca_list(&certs, &n, ca, &filter)) != 0)
		return r;
	len = 128 + n * 48;
	if ((detail = malloc(len)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	{
		size_t o = (size_t)snprintf(
		    detail, len, "{\"kind\":\"%s\",\"serials\":[",
		    kind == JPKI_LOSS_LOST ? "lost" : "card-fault");
		int first = 1;

		for (size_t i = 0; i < n; i++) {
			if (!still_valid(certs[i], now))
				continue;
			o += (size_t)snprintf(detail + o, len - o, "%s\"%s\"",
					      first ? "" : ",",
					      certs[i]->serial);
			first = 0;
		}
		snprintf(detail + o, len - o, "]}");
	}
	/* the report is recorded first: if a revocation then fails, the
	 * report stands and a second one revokes what is left */
	if ((r = jpki_store_begin(st)) != 0)
		goto out;
	if ((r = window_next_id(&id, st, "window_report")) != 0)
		goto fail;
	{
		struct jpki_value p[] = {
		    JPKI_V_INT(id),
		    JPKI_V_TEXT(res.person),
		    JPKI_V_TEXT(res.municipality_code),
		    JPKI_V_INT(kind),
		    JPKI_V_INT((int64_t)jpki_clock_now()),
		    JPKI_V_TEXT(by->operator_id),
		};

		if ((r = jpki_store_exec(st,
					 "INSERT INTO window_report (id, "
					 "person, municipality_code, kind, at,"
					 " operator_id) VALUES ($1, $2, $3, "
					 "$4, $5, $6)",
					 p, 6, NULL)) != 0)
			goto fail;
	}
	if ((r = jpki_audit_append(st, by, "window.report", res.person,
				   detail)) != 0)
		goto fail;
	if ((r = jpki_store_commit(st)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!still_valid(certs[i], now))
			continue;
		if ((r = jpki_ca_revoke(ca, certs[i]->serial,
					JPKI_REASON_KEY_COMPROMISE)) != 0)
			goto out;
		done++;
	}
	r = 0;
	goto out;
fail:
	jpki_store_rollback(st);
out:
	*count = done;
	free(detail);
	jpki_cert_info_list_free(certs, n);
	return r;
}
