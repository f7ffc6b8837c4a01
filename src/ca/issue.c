/*
 * Issuing one certificate: the request's checks, build, serial and
 * signature outside the store, then the record with its links inside the
 * caller's transaction (also the pieces batch.c and renew.c reuse).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca/ca_internal.h"

/*
 * A 24-character opaque subject id (upper-case letters and digits) from
 * `pool` (random bytes the caller drew with the serial's: one draw from
 * the generator instead of two), drawing more if rejections use it up.
 */
static int opaque_id(char out[25], const unsigned char *pool, size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char more[32];
	size_t i = 0, used = 0;

	while (i < 24) {
		if (used == len) {
			if (RAND_bytes(more, sizeof(more)) != 1)
				return jpki_err_set(JPKI_ERR_CRYPTO,
						    "no randomness");
			pool = more;
			len = sizeof(more);
			used = 0;
		}
		if (pool[used] >= 252) { /* 252 = 7 * 36: keep it uniform */
			used++;
			continue;
		}
		out[i++] = alphabet[pool[used++] % 36];
	}
	OPENSSL_cleanse(more, sizeof(more));
	out[24] = '\0';
	return 0;
}

static int check_code(const char *code)
{
	if (code == NULL || strlen(code) != 6 ||
	    strspn(code, "0123456789") != 6)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "municipality code '%s' must be the six "
				    "digits of the local government code",
				    code ? code : "");
	return 0;
}

static int add_link(struct jpki_ca *ca, enum jpki_link_kind kind,
		    const char *from, const char *to, time_t at)
{
	struct jpki_value p[] = {JPKI_V_INT(kind), JPKI_V_TEXT(from),
				 JPKI_V_TEXT(to), JPKI_V_INT(at)};

	return jpki_store_exec(ca->store,
			       "INSERT INTO ca_link (kind, from_serial,"
			       " to_serial, at) VALUES ($1, $2, $3, $4)",
			       p, 4, NULL);
}

/*
 * The certificates the person holds, one of each type ([0] signing, [1]
 * authentication): the valid one if there is one, else the newest. Valid
 * first, because two issued in the same second (a revoked one and its
 * successor) tie on issued_at, and the serial that breaks the tie is
 * random. Both types in one read: an issue needs the other type's for the
 * pair link.
 */
static int latest_both(struct issue_prior out[2], struct jpki_ca *ca,
		       const char *person)
{
	struct jpki_value p[] = {JPKI_V_TEXT(person)};
	struct jpki_rows *rows = NULL;
	int r;

	for (int t = 0; t < 2; t++) {
		memset(&out[t], 0, sizeof(out[t]));
		out[t].status = -1;
	}
	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT type, serial, status, card, not_after"
				  " FROM ca_cert WHERE person = $1"
				  " ORDER BY type, CASE WHEN status = 0 THEN 0"
				  " ELSE 1 END, issued_at DESC, serial",
				  p, 1)) != 0)
		return r;
	for (size_t i = 0; i < jpki_rows_count(rows); i++) {
		int64_t type = jpki_rows_int(rows, i, 0);
		struct issue_prior *o;

		if (type != JPKI_CERT_SIGN && type != JPKI_CERT_AUTH)
			continue;
		o = &out[type == JPKI_CERT_SIGN ? 0 : 1];
		if (o->status != -1) /* the first of its type decides */
			continue;
		ca_copy_text(o->serial, 41, jpki_rows_text(rows, i, 1));
		o->status = (int)jpki_rows_int(rows, i, 2);
		o->card = (enum jpki_card_kind)jpki_rows_int(rows, i, 3);
		o->not_after = (time_t)jpki_rows_int(rows, i, 4);
	}
	jpki_rows_free(rows);
	return 0;
}

/* Revokes a Juki card's signing certificate replaced by the My Number
 * card's, inside the issue's transaction. */
static int supersede(struct jpki_ca *ca, const char *serial)
{
	struct jpki_rows *rows = NULL;
	int r;

	if ((r = ca_load_row(&rows, ca, serial)) == 0)
		r = ca_status_set_row(ca, rows, JPKI_STATUS_REVOKED,
				      JPKI_REASON_SUPERSEDED);
	jpki_rows_free(rows);
	return r;
}

/* Does a CRL of this scope exist yet? */
static int crl_exists(struct jpki_ca *ca, const char *scope, int *exists)
{
	struct jpki_value p = JPKI_V_TEXT(scope);
	struct jpki_rows *rows = NULL;
	int r;

	*exists = 0;
	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT number FROM ca_crl WHERE scope = $1",
				  &p, 1)) != 0)
		return r;
	*exists = jpki_rows_count(rows) > 0;
	jpki_rows_free(rows);
	return 0;
}

void ca_pending_clear(struct pending *p)
{
	free(p->serial);
	OPENSSL_free(p->der);
	OPENSSL_free(p->subject);
	p->serial = NULL;
	p->der = NULL;
	p->subject = NULL;
}

void ca_pending_refuse(struct pending *p, int code)
{
	p->code = code;
	snprintf(p->message, sizeof(p->message), "%s",
		 jpki_err_detail()[0] ? jpki_err_detail()
				      : jpki_strerror(code));
}

/*
 * The CA's pre-encoded profile (profile/issuer.c: what every certificate of
 * this generation shares, encoded once), made at the first issue and kept
 * with the authority.
 */
static pthread_mutex_t profile_lock = PTHREAD_MUTEX_INITIALIZER;

static int issue_profile(struct jpki_profile_issuer **out,
			 struct authority *a, const char *ocsp_url,
			 const char *ca_url)
{
	int r = 0;

	pthread_mutex_lock(&profile_lock);
	if (a->profile == NULL)
		r = jpki_profile_issuer_new(&a->profile, a->type, a->cert,
					    a->key, ocsp_url, ca_url);
	*out = a->profile;
	pthread_mutex_unlock(&profile_lock);
	return r;
}

/*
 * The certificate of p->req for p->key, valid from p->now, with a fresh
 * random serial (2^126 of them), signed by the CA; its DER, subject and
 * validity are what the record stores.
 */
static int issue_sign(struct jpki_ca *ca, struct pending *p)
{
	const struct jpki_issue_request *req = p->req;
	struct jpki_profile_request preq = JPKI_PROFILE_REQUEST_INIT;
	struct jpki_validity_input vin = {0};
	struct authority *a = ca_authority(ca, req->type);
	struct jpki_profile_issuer *profile;
	struct jpki_date last;
	ASN1_INTEGER *aserial = NULL;
	unsigned char raw[16 + 32];
	char cn[25], *crl_url = NULL, *ocsp_url = NULL, *ca_url = NULL;
	char ca_name[32];
	struct tm ca_tm;
	int r;

	ca_pending_clear(p);
	vin.card = req->card;
	vin.issue = jpki_date_of(p->now);
	vin.birth = req->facts.birth;
	vin.card_expiry = req->card_expiry;
	if (req->card == JPKI_CARD_JUKI && req->type != JPKI_CERT_SIGN)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the Juki card carries a signing "
				    "certificate only");
	/* the serial's 16 bytes, then the CN's */
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return jpki_err_set(JPKI_ERR_CRYPTO, "no randomness");
	if ((r = jpki_profile_validity(&last, &vin)) != 0 ||
	    (r = opaque_id(cn, raw + 16, sizeof(raw) - 16)) != 0)
		return r;
	/* The generation that signs it: its CRL and its certificate (the
	 * OCSP responder tells generations apart by the issuer key hash). */
	ca_crl_scope_name(ca_name, req->type, a->generation, NULL);
	if ((crl_url = ca_crl_url(ca, JPKI_CERT_SIGN, a->generation,
				  req->municipality_code)) == NULL ||
	    asprintf(&ocsp_url, "%s/ocsp/%s", ca->public_url,
		     ca_type_name(req->type)) < 0 ||
	    asprintf(&ca_url, "%s/ca/%s.crt", ca->public_url, ca_name) < 0) {
		ocsp_url = ca_url = NULL;
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	preq.type = req->type;
	preq.cn = cn;
	preq.prefecture = req->prefecture;
	preq.municipality = req->municipality;
	preq.crl_url = crl_url;
	preq.ocsp_url = ocsp_url;
	preq.ca_issuers_url = ca_url;
	preq.facts = &req->facts;
	preq.not_before = p->now;
	preq.not_after = jpki_date_end(&last);
	/* A certificate never outlives the CA that vouches for it. */
	if (ASN1_TIME_to_tm(X509_get0_notAfter(a->cert), &ca_tm) == 1 &&
	    preq.not_after > timegm(&ca_tm))
		preq.not_after = timegm(&ca_tm);
	raw[0] = (unsigned char)((raw[0] & 0x7f) | 0x40);
	if ((aserial = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_STRING_set(aserial, raw, 16) ||
	    (p->serial = ca_serial_hex(aserial)) == NULL) {
		r = jpki_err_set(JPKI_ERR_CRYPTO, "cannot set serial");
		goto out;
	}
	if ((r = issue_profile(&profile, a, ocsp_url, ca_url)) != 0 ||
	    (r = jpki_profile_issue(&p->der, &p->der_len, &p->subject,
				    profile, &preq, p->key, aserial)) != 0)
		goto out;
	p->not_before = preq.not_before;
	p->not_after = preq.not_after;
out:
	ERR_clear_error();
	ASN1_INTEGER_free(aserial);
	free(crl_url);
	free(ocsp_url);
	free(ca_url);
	if (r != 0)
		ca_pending_clear(p);
	return r;
}

static int serial_taken(struct jpki_ca *ca, const char *serial, int *taken)
{
	struct jpki_value p = JPKI_V_TEXT(serial);
	struct jpki_rows *rows = NULL;
	int r;

	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT 1 FROM ca_cert WHERE serial = $1",
				  &p, 1)) != 0)
		return r;
	*taken = jpki_rows_count(rows) > 0;
	jpki_rows_free(rows);
	return 0;
}

/* The caller's copy of what was recorded, without reading it back. */
static int info_of(struct jpki_cert_info **out, const struct pending *p)
{
	struct jpki_cert_info *info = calloc(1, sizeof(*info));

	if (info == NULL || (info->der = malloc(p->der_len)) == NULL) {
		free(info);
		return JPKI_ERR_NOMEM;
	}
	memcpy(info->der, p->der, p->der_len);
	info->der_len = p->der_len;
	ca_copy_text(info->serial, sizeof(info->serial), p->serial);
	info->type = p->req->type;
	info->card = p->req->card;
	ca_copy_text(info->person, sizeof(info->person), p->req->person);
	ca_copy_text(info->municipality_code, sizeof(info->municipality_code),
		  p->req->municipality_code);
	ca_copy_text(info->subject, sizeof(info->subject), p->subject);
	info->status = JPKI_STATUS_GOOD;
	info->not_before = p->not_before;
	info->not_after = p->not_after;
	info->issued_at = p->now;
	*out = info;
	return 0;
}

/*
 * Is the recorded certificate `serial` one for p->key? Then *out gets it:
 * a rerun of a batch that a crash cut off after the commit that recorded
 * it.
 */
static int issued_before(struct jpki_cert_info **out, struct jpki_ca *ca,
			 const char *serial, EVP_PKEY *key)
{
	struct jpki_rows *rows = NULL;
	const unsigned char *der;
	size_t len;
	X509 *cert = NULL;
	int r;

	*out = NULL;
	if ((r = ca_load_row(&rows, ca, serial)) != 0)
		return r;
	der = jpki_rows_blob(rows, 0, 12, &len);
	if (der == NULL || (cert = d2i_X509(NULL, &der, (long)len)) == NULL) {
		r = jpki_err_set(JPKI_ERR_STORE,
				 "the recorded certificate %s is unreadable",
				 serial);
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) == 1)
		r = ca_info_from_row(out, rows, 0);
out:
	ERR_clear_error();
	X509_free(cert);
	jpki_rows_free(rows);
	return r;
}

/* A link now, or queued with the group's rows. */
static int link_to(struct jpki_ca *ca, struct issue_group *g,
		   enum jpki_link_kind kind, const char *from, const char *to,
		   time_t at)
{
	if (g != NULL)
		return ca_issue_group_link(g, (int)kind, from, to, at);
	return add_link(ca, kind, from, to, at);
}

int ca_issue_record(struct jpki_cert_info **out, int *refused,
		    struct jpki_ca *ca, struct pending *p, const char *renewed)
{
	return ca_issue_record_in(out, refused, ca, p, renewed, NULL);
}

/*
 * With a group (issue_group.c), what the group read for it stands for the
 * per-certificate queries, and the rows go with the group's; whatever the
 * group does not know is read here, after the group's waiting rows are
 * written (ca_issue_group_flush), so the reads see every earlier record.
 */
int ca_issue_record_in(struct jpki_cert_info **out, int *refused,
		       struct jpki_ca *ca, struct pending *p,
		       const char *renewed, struct issue_group *g)
{
	const struct jpki_issue_request *req = p->req;
	char birth[11] = "", expiry[11] = "", scope[32];
	struct issue_prior both[2], prior, other;
	/* signed by the current generation (issue_sign) */
	int gen = ca_authority(ca, req->type)->generation;
	int r, exists, live, switching = 0;

	*out = NULL;
	*refused = 0;
	p->superseded[0] = '\0';
	if (!ca_issue_group_prior(both, g, req->person) &&
	    ((r = ca_issue_group_flush(g)) != 0 ||
	     (r = latest_both(both, ca, req->person)) != 0))
		return r;
	prior = both[req->type == JPKI_CERT_SIGN ? 0 : 1];
	/* the other type's is not changed by what follows */
	other = both[req->type == JPKI_CERT_SIGN ? 1 : 0];
	/* SPEC 3: an expired certificate never blocks a new issue; only one
	 * still good and not past its last second does */
	live = prior.status == JPKI_STATUS_GOOD && prior.not_after >= p->now;
	if (renewed == NULL && live) {
		if (p->resume) {
			if ((r = ca_issue_group_flush(g)) != 0 ||
			    (r = issued_before(out, ca, prior.serial,
					       p->key)) != 0)
				return r;
			if (*out != NULL) {
				p->again = 1;
				return 0;
			}
		}
		/* The check is per card: a Juki-card holder switching to a
		 * My Number card gets its signing certificate, and the one
		 * on the Juki card is revoked below (SPEC 3). */
		switching = req->type == JPKI_CERT_SIGN &&
			    prior.card == JPKI_CARD_JUKI &&
			    req->card == JPKI_CARD_MYNUMBER;
		if (!switching) {
			*refused = 1;
			return jpki_err_set(
				JPKI_ERR_STATE,
				"%s already holds a valid %s certificate "
				"(serial %s): renew it, or revoke it first",
				req->person, ca_type_name(req->type),
				prior.serial);
		}
	}
	/* The primary key would catch a colliding serial (2^-126); draw
	 * again and sign again instead of failing. */
	for (int attempt = 0;; attempt++) {
		if (attempt == 0 && ca_issue_group_serial_free(g, p->serial))
			break;
		if ((r = ca_issue_group_flush(g)) != 0 ||
		    (r = serial_taken(ca, p->serial, &exists)) != 0)
			return r;
		if (!exists)
			break;
		if (attempt > 8)
			return jpki_err_set(JPKI_ERR_INTERNAL,
					    "cannot find a free serial");
		if ((r = issue_sign(ca, p)) != 0)
			return r;
	}
	if (jpki_date_valid(&req->facts.birth))
		jpki_date_format(&req->facts.birth, birth);
	if (jpki_date_valid(&req->card_expiry))
		jpki_date_format(&req->card_expiry, expiry);
	{
		struct jpki_value v[] = {
			JPKI_V_TEXT(p->serial),
			JPKI_V_INT(req->type),
			JPKI_V_INT(req->card),
			JPKI_V_TEXT(req->person),
			JPKI_V_TEXT(req->municipality_code),
			JPKI_V_TEXT(req->prefecture),
			JPKI_V_TEXT(req->municipality),
			JPKI_V_TEXT(p->subject),
			birth[0] ? JPKI_V_TEXT(birth) : JPKI_V_NULL,
			expiry[0] ? JPKI_V_TEXT(expiry) : JPKI_V_NULL,
			JPKI_V_INT(p->not_before),
			JPKI_V_INT(p->not_after),
			JPKI_V_INT(p->now),
			JPKI_V_BLOB(p->der, p->der_len),
			JPKI_V_INT(gen),
		};

		if (g != NULL)
			r = ca_issue_group_cert(g, p, gen, birth, expiry);
		else
			r = jpki_store_exec(
			     ca->store,
			     "INSERT INTO ca_cert (serial, type, card, person,"
			     " municipality, prefecture_name,"
			     " municipality_name, subject, birth,"
			     " card_expiry, status, version, not_before,"
			     " not_after, issued_at, der, generation)"
			     " VALUES ($1, $2, $3,"
			     " $4, $5, $6, $7, $8, $9, $10, 0, 1, $11, $12,"
			     " $13, $14, $15)",
			     v, 15, NULL);
		if (r != 0)
			return r;
	}
	/* Linking information: the replaced certificate, and the person's
	 * valid certificate of the other kind. */
	if (renewed != NULL)
		r = link_to(ca, g, JPKI_LINK_RENEWAL, renewed, p->serial,
			    p->now);
	else if (prior.serial[0] != '\0')
		r = link_to(ca, g, JPKI_LINK_REISSUE, prior.serial, p->serial,
			    p->now);
	if (r != 0)
		return r;
	/* the Juki card's certificate ends with the issue that replaces
	 * it, in the same transaction: superseded, as by a renewal */
	if (switching) {
		if ((r = ca_issue_group_flush(g)) != 0 ||
		    (r = supersede(ca, prior.serial)) != 0)
			return r;
		ca_copy_text(p->superseded, sizeof(p->superseded),
			     prior.serial);
	}
	if (other.status == JPKI_STATUS_GOOD &&
	    (r = link_to(ca, g, JPKI_LINK_PAIR,
			  req->type == JPKI_CERT_SIGN ? p->serial
						      : other.serial,
			  req->type == JPKI_CERT_SIGN ? other.serial
						      : p->serial,
			  p->now)) != 0)
		return r;
	/* The municipality's CRL partition must answer from the first
	 * certificate that names it. */
	if (req->type == JPKI_CERT_SIGN) {
		ca_crl_scope_name(scope, JPKI_CERT_SIGN, gen,
				  req->municipality_code);
		if (!ca_issue_group_scope_known(g, scope)) {
			if ((r = ca_issue_group_flush(g)) != 0 ||
			    (r = crl_exists(ca, scope, &exists)) != 0)
				return r;
			if (!exists &&
			    (r = ca_crl_generate(ca, JPKI_CERT_SIGN, gen,
						 req->municipality_code)) != 0)
				return r;
			ca_issue_group_scope_made(g, scope);
		}
	}
	if ((r = ca_issue_group_recorded(g, p)) != 0)
		return r;
	return info_of(out, p);
}

/* Build and sign, outside any transaction. */
int ca_issue_make(struct jpki_ca *ca, struct pending *p)
{
	return issue_sign(ca, p);
}

int ca_issue_check(const struct jpki_issue_request *req)
{
	int r;

	if (req == NULL || req->version != JPKI_ISSUE_REQUEST_VERSION)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "issue request of an unknown version");
	if (req->type != JPKI_CERT_SIGN && req->type != JPKI_CERT_AUTH)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "certificate type must be sign or auth");
	if (req->card != JPKI_CARD_MYNUMBER && req->card != JPKI_CARD_JUKI)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "card kind must be mynumber or juki");
	if (req->person == NULL || *req->person == '\0' ||
	    strlen(req->person) > 128)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the resident's id (person) must be 1 to "
				    "128 bytes");
	if ((r = check_code(req->municipality_code)) != 0)
		return r;
	if (req->type == JPKI_CERT_SIGN &&
	    (r = jpki_profile_facts_check(&req->facts)) != 0)
		return r;
	if (!jpki_date_valid(&req->facts.birth))
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the date of birth is needed for the "
				    "validity period");
	return 0;
}

int jpki_ca_issue(struct jpki_cert_info **out, struct jpki_ca *ca,
		  const struct jpki_issue_request *req, EVP_PKEY *subject_key)
{
	struct pending p = {.req = req, .key = subject_key};
	int r, refused;

	*out = NULL;
	if ((r = ca_issue_check(req)) != 0)
		return r;
	if (subject_key == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no subject public key");
	p.now = jpki_clock_now();
	if ((r = ca_issue_make(ca, &p)) != 0)
		return r;
	if ((r = jpki_store_begin(ca->store)) != 0)
		goto out;
	if ((r = ca_generations_current(ca)) != 0 ||
	    (r = ca_issue_record(out, &refused, ca, &p, NULL)) != 0) {
		jpki_store_rollback(ca->store);
		goto out;
	}
	if ((r = jpki_store_commit(ca->store)) != 0) {
		jpki_cert_info_free(*out);
		*out = NULL;
	} else if (p.superseded[0] != '\0') {
		ca_ocsp_forget(ca, JPKI_CERT_SIGN, p.superseded);
	}
out:
	ca_pending_clear(&p);
	return r;
}

/* A renewal's new certificate, inside the renewal's transaction. */
int ca_issue_renewal(struct jpki_cert_info **out, struct jpki_ca *ca,
			 const struct jpki_issue_request *req, EVP_PKEY *key,
			 const char *renewed)
{
	struct pending p = {.req = req, .key = key, .now = jpki_clock_now()};
	int r, refused;

	if ((r = ca_generations_current(ca)) == 0 &&
	    (r = ca_issue_make(ca, &p)) == 0)
		r = ca_issue_record(out, &refused, ca, &p, renewed);
	ca_pending_clear(&p);
	return r;
}
