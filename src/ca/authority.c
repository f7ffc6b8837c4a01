/*
 * The two CAs: creating them (keys, self-signed roots, delegated OCSP
 * signers), opening them, and the CA module's schema.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "ca/ca_internal.h"

static const struct jpki_migration migrations[] = {
	{1, "CREATE TABLE ca_authority ("
	    " type INTEGER PRIMARY KEY,"
	    " generation INTEGER NOT NULL,"
	    " cert BLOB NOT NULL,"
	    " key_ref TEXT NOT NULL,"
	    " ocsp_cert BLOB NOT NULL,"
	    " ocsp_key_ref TEXT NOT NULL,"
	    " public_url TEXT NOT NULL,"
	    " created_at BIGINT NOT NULL);"
	    "CREATE TABLE ca_cert ("
	    " serial TEXT PRIMARY KEY,"
	    " type INTEGER NOT NULL,"
	    " card INTEGER NOT NULL,"
	    " person TEXT NOT NULL,"
	    " municipality TEXT NOT NULL,"
	    " prefecture_name TEXT,"
	    " municipality_name TEXT,"
	    " subject TEXT NOT NULL,"
	    " birth TEXT,"
	    " card_expiry TEXT,"
	    " status INTEGER NOT NULL,"
	    " reason INTEGER,"
	    " revoked_at BIGINT,"
	    " version BIGINT NOT NULL,"
	    " not_before BIGINT NOT NULL,"
	    " not_after BIGINT NOT NULL,"
	    " issued_at BIGINT NOT NULL,"
	    " der BLOB NOT NULL);"
	    "CREATE INDEX ca_cert_person ON ca_cert (person, type);"
	    "CREATE INDEX ca_cert_status ON ca_cert (type, status, municipality);"
	    "CREATE TABLE ca_link ("
	    " kind INTEGER NOT NULL,"
	    " from_serial TEXT NOT NULL,"
	    " to_serial TEXT NOT NULL,"
	    " at BIGINT NOT NULL,"
	    " PRIMARY KEY (kind, from_serial, to_serial));"
	    "CREATE INDEX ca_link_to ON ca_link (to_serial);"
	    "CREATE TABLE ca_crl ("
	    " scope TEXT PRIMARY KEY,"
	    " number BIGINT NOT NULL,"
	    " this_update BIGINT NOT NULL,"
	    " next_update BIGINT NOT NULL,"
	    " der BLOB NOT NULL)"},
	/* How far the CA has consumed the registry's change events. */
	{2, "CREATE TABLE ca_registry_cursor ("
	    " name TEXT PRIMARY KEY,"
	    " seq BIGINT NOT NULL)"},
	/* The PKCS#11 module whose token holds the keys named by pkcs11:
	 * URIs in key_ref / ocsp_key_ref; NULL for key files. The PIN is
	 * never stored: it is configuration (pkcs11_pin_file). */
	{3, "ALTER TABLE ca_authority ADD COLUMN pkcs11_module TEXT"},
	/* What a CRL reads, in the order it lists it, for revoked and held
	 * certificates only: the full CRL of a CA and a municipality's
	 * partition each read one index range, without visiting the
	 * certificates' rows (DER included) and without a sort. (status is
	 * a column too: SQLite covers a query only with every column it
	 * names.) */
	{4, "CREATE INDEX ca_cert_crl ON ca_cert"
	    " (type, serial, status, not_after, revoked_at, reason)"
	    " WHERE status <> 0;"
	    "CREATE INDEX ca_cert_crl_muni ON ca_cert"
	    " (type, municipality, serial, status, not_after, revoked_at,"
	    " reason) WHERE status <> 0"},
	/* How many entries each CRL lists, and whether a change is waiting
	 * for a large full CRL's next regeneration (ca_crl_touch). */
	{5, "ALTER TABLE ca_crl ADD COLUMN entries BIGINT NOT NULL DEFAULT 0;"
	    "ALTER TABLE ca_crl ADD COLUMN stale INTEGER NOT NULL DEFAULT 0"},
	/* Key rollover (rollover.c): each certificate names the generation
	 * of the CA that signed it, and a CRL lists one generation's (the
	 * CRL indexes lead with it); ca_authority keeps each CA's current
	 * generation, ca_generation the earlier ones, ca_link_cert the
	 * link certificates between two generations (RFC 4210 5.3.13:
	 * issuer_gen's key certifies subject_gen's). */
	{6, "ALTER TABLE ca_cert ADD COLUMN generation INTEGER NOT NULL"
	    " DEFAULT 1;"
	    "CREATE TABLE ca_generation ("
	    " type INTEGER NOT NULL,"
	    " generation INTEGER NOT NULL,"
	    " cert BLOB NOT NULL,"
	    " key_ref TEXT NOT NULL,"
	    " ocsp_cert BLOB NOT NULL,"
	    " ocsp_key_ref TEXT NOT NULL,"
	    " pkcs11_module TEXT,"
	    " created_at BIGINT NOT NULL,"
	    " retired_at BIGINT,"
	    " PRIMARY KEY (type, generation));"
	    "CREATE TABLE ca_link_cert ("
	    " type INTEGER NOT NULL,"
	    " issuer_gen INTEGER NOT NULL,"
	    " subject_gen INTEGER NOT NULL,"
	    " der BLOB NOT NULL,"
	    " PRIMARY KEY (type, issuer_gen, subject_gen));"
	    "DROP INDEX ca_cert_crl;"
	    "DROP INDEX ca_cert_crl_muni;"
	    "CREATE INDEX ca_cert_crl ON ca_cert"
	    " (type, generation, serial, status, not_after, revoked_at,"
	    " reason) WHERE status <> 0;"
	    "CREATE INDEX ca_cert_crl_muni ON ca_cert"
	    " (type, generation, municipality, serial, status, not_after,"
	    " revoked_at, reason) WHERE status <> 0"},
	/* Delta CRLs (crl_delta.c, RFC 5280 5.2.4): when each certificate's
	 * status last changed, so that a delta lists what changed since its
	 * base, releases from hold included (the indexes hold only changed
	 * certificates: issuing writes none of them; a partition's delta
	 * reads its municipality's changes alone); and each scope's current
	 * delta, `due` when a change waits for the next one. */
	{7, "ALTER TABLE ca_cert ADD COLUMN changed_at BIGINT;"
	    "CREATE INDEX ca_cert_changed ON ca_cert"
	    " (type, generation, changed_at) WHERE changed_at IS NOT NULL;"
	    "CREATE INDEX ca_cert_changed_muni ON ca_cert"
	    " (type, generation, municipality, changed_at)"
	    " WHERE changed_at IS NOT NULL;"
	    "CREATE TABLE ca_crl_delta ("
	    " scope TEXT PRIMARY KEY,"
	    " number BIGINT NOT NULL,"
	    " base BIGINT NOT NULL,"
	    " this_update BIGINT NOT NULL,"
	    " next_update BIGINT NOT NULL,"
	    " der BLOB NOT NULL,"
	    " entries BIGINT NOT NULL,"
	    " due INTEGER NOT NULL DEFAULT 0)"},
	/* A CRL's entry count and stale mark in a row of their own: SQLite
	 * rewrites a whole row to change one column, and ca_crl's row holds
	 * the DER (46 MB at a million entries), so marking a large full CRL
	 * stale wrote it again at every batch of revocations
	 * (docs/PERFORMANCE.md, "Registry changes to revocations"). */
	{8, "CREATE TABLE ca_crl_state ("
	    " scope TEXT PRIMARY KEY,"
	    " entries BIGINT NOT NULL,"
	    " stale INTEGER NOT NULL);"
	    "INSERT INTO ca_crl_state (scope, entries, stale)"
	    " SELECT scope, entries, stale FROM ca_crl;"
	    "ALTER TABLE ca_crl DROP COLUMN entries;"
	    "ALTER TABLE ca_crl DROP COLUMN stale"},
	/* PostgreSQL only: a counter of the transactions that changed a
	 * certificate's status (stamp.c), for the OCSP responders' answers
	 * kept in memory (SQLite's WAL index tells the same of every
	 * commit). A trigger, so that every writer bumps it, whatever its
	 * code or version; by statement and once per transaction (xact),
	 * so that a batch of revocations writes the row once; not on
	 * INSERT: issuing a certificate changes no answer kept (an
	 * unknown serial's answer never is). */
	{9, "" /* SQLite: nothing; PostgreSQL: status_stamp_pg, below */},
};

/* Migration 9 on PostgreSQL (a function's body in $$ quotes, which the
 * store's migrations do not split at its ';'). */
static const char status_stamp_pg[] =
	"CREATE TABLE ca_status_stamp ("
	" id INTEGER PRIMARY KEY,"
	" n BIGINT NOT NULL,"
	" xact BIGINT);"
	"INSERT INTO ca_status_stamp (id, n) VALUES (1, 0);"
	"CREATE FUNCTION ca_status_bump() RETURNS trigger"
	" LANGUAGE plpgsql AS $$BEGIN"
	" UPDATE ca_status_stamp SET n = n + 1, xact = txid_current()"
	" WHERE id = 1 AND xact IS DISTINCT FROM txid_current();"
	" RETURN NULL; END$$;"
	"CREATE TRIGGER ca_status_bump AFTER UPDATE OR DELETE OR TRUNCATE"
	" ON ca_cert FOR EACH STATEMENT EXECUTE FUNCTION ca_status_bump()";

const char *ca_type_name(enum jpki_cert_type type)
{
	return type == JPKI_CERT_AUTH ? "auth" : "sign";
}

static const struct {
	enum jpki_reason reason;
	const char *name;
} reasons[] = {
	{JPKI_REASON_UNSPECIFIED, "unspecified"},
	{JPKI_REASON_KEY_COMPROMISE, "keyCompromise"},
	{JPKI_REASON_AFFILIATION_CHANGED, "affiliationChanged"},
	{JPKI_REASON_SUPERSEDED, "superseded"},
	{JPKI_REASON_CESSATION, "cessationOfOperation"},
	{JPKI_REASON_CERTIFICATE_HOLD, "certificateHold"},
};

int jpki_ca_reason_parse(enum jpki_reason *out, const char *name)
{
	*out = JPKI_REASON_UNSPECIFIED;
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (name != NULL && strcasecmp(name, reasons[i].name) == 0) {
			*out = reasons[i].reason;
			return 0;
		}
	return jpki_err_set(JPKI_ERR_INVALID,
			    "unknown revocation reason '%s' (unspecified, "
			    "keyCompromise, affiliationChanged, superseded, "
			    "cessationOfOperation, certificateHold)",
			    name ? name : "");
}

const char *jpki_ca_reason_name(enum jpki_reason reason)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].reason == reason)
			return reasons[i].name;
	return "unknown";
}

const char *jpki_ca_status_name(enum jpki_cert_status status)
{
	switch (status) {
	case JPKI_STATUS_GOOD:
		return "good";
	case JPKI_STATUS_REVOKED:
		return "revoked";
	case JPKI_STATUS_HOLD:
		return "hold";
	}
	return "unknown";
}

char *ca_serial_hex(const ASN1_INTEGER *serial)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = NULL, *copy = NULL;

	if (bn != NULL && (hex = BN_bn2hex(bn)) != NULL)
		copy = strdup(hex);
	OPENSSL_free(hex);
	BN_free(bn);
	return copy;
}

ASN1_INTEGER *ca_serial_from_hex(const char *hex)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *out = NULL;

	if (BN_hex2bn(&bn, hex) > 0)
		out = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return out;
}

int ca_der(unsigned char **out, size_t *len, X509 *cert)
{
	unsigned char *buf = NULL;
	int n = i2d_X509(cert, &buf);

	*out = NULL;
	*len = 0;
	if (n <= 0)
		return jpki_err_set(JPKI_ERR_CRYPTO, "cannot encode certificate");
	*out = malloc((size_t)n);
	if (*out == NULL) {
		OPENSSL_free(buf);
		return JPKI_ERR_NOMEM;
	}
	memcpy(*out, buf, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(buf);
	return 0;
}

int ca_key_load(EVP_PKEY **out, const char *ref)
{
	FILE *f = fopen(ref, "r");

	*out = NULL;
	if (f == NULL)
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "CA key file %s cannot be opened", ref);
	*out = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (*out == NULL)
		return jpki_err_set(JPKI_ERR_CRYPTO,
				    "CA key file %s is not a PEM private key",
				    ref);
	return 0;
}

/* Writes a key (mode 0600) or a certificate (0644) as PEM, atomically. */
static int pem_save(const char *path, EVP_PKEY *key, X509 *cert)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int ok, r;

	if (mem == NULL)
		return JPKI_ERR_NOMEM;
	ok = key != NULL ? PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0,
						    NULL, NULL)
			 : PEM_write_bio_X509(mem, cert);
	if (!ok) {
		BIO_free(mem);
		return jpki_err_set(JPKI_ERR_CRYPTO, "cannot encode %s", path);
	}
	len = BIO_get_mem_data(mem, &data);
	r = jpki_file_write_atomic(path, data, (size_t)len,
				   key != NULL ? 0600 : 0644);
	BIO_free(mem);
	return r;
}

static int random_serial(unsigned char serial[16])
{
	if (RAND_bytes(serial, 16) != 1)
		return jpki_err_set(JPKI_ERR_CRYPTO, "no randomness");
	/* positive, and always 16 bytes long */
	serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
	return 0;
}

/* The key objects a token holds for the two CAs, as `jpki ca init` makes
 * them. */
static const char *const p11_labels[] = {"sign-ca", "sign-ocsp", "auth-ca",
					 "auth-ocsp"};

/* A new key and the reference the store keeps for it: generated in the
 * token when `t` is set, else written as a file under `dir` (before the row
 * that names it). */
static int make_key(EVP_PKEY **out, char **ref, struct ca_p11 *t,
		    const char *dir, const char *label)
{
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	*ref = NULL;
	if (t != NULL) {
		if ((r = ca_p11_generate(t, label)) != 0 ||
		    (r = ca_p11_key(out, t, label)) != 0)
			goto out;
		if ((*ref = ca_p11_uri(ca_p11_token(t), label)) == NULL)
			r = JPKI_ERR_NOMEM;
		goto out;
	}
	if ((*out = EVP_RSA_gen(2048)) == NULL) {
		r = jpki_err_set(JPKI_ERR_CRYPTO, "RSA key generation failed");
		goto out;
	}
	if (asprintf(ref, "%s/%s.key", dir, label) < 0) {
		*ref = NULL;
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	r = pem_save(*ref, *out, NULL);
out:
	if (r != 0) {
		EVP_PKEY_free(*out);
		*out = NULL;
		free(*ref);
		*ref = NULL;
	}
	return r;
}

/* What rollover.c shares with init (ca_internal.h). */
int ca_pem_save(const char *path, EVP_PKEY *key, X509 *cert)
{
	return pem_save(path, key, cert);
}

int ca_random_serial(unsigned char serial[16])
{
	return random_serial(serial);
}

int ca_make_key(EVP_PKEY **out, char **ref, struct ca_p11 *t,
		const char *dir, const char *label)
{
	return make_key(out, ref, t, dir, label);
}

/* Creates one CA with its OCSP signer and records it (in the caller's
 * transaction). */
static int init_one(struct jpki_store *st, enum jpki_cert_type type,
		    const struct jpki_ca_init_options *opts, const char *dir,
		    struct ca_p11 *t)
{
	EVP_PKEY *key = NULL, *okey = NULL;
	X509 *cert = NULL, *ocsp = NULL;
	unsigned char serial[16], *der = NULL, *oder = NULL;
	size_t der_len = 0, oder_len = 0;
	char *key_ref = NULL, *okey_ref = NULL, *pem = NULL;
	time_t now = jpki_clock_now();
	struct jpki_date today = jpki_date_today(), end;
	const char *name = ca_type_name(type);
	ASN1_INTEGER *aserial = NULL;
	char label[16];
	int r = JPKI_ERR_INTERNAL;

	snprintf(label, sizeof(label), "%s-ca", name);
	if ((r = make_key(&key, &key_ref, t, dir, label)) != 0)
		goto out;
	snprintf(label, sizeof(label), "%s-ocsp", name);
	if ((r = make_key(&okey, &okey_ref, t, dir, label)) != 0)
		goto out;
	/* As the real CAs: to the end (in Japan) of the day before the 10th
	 * anniversary (2023-07-16 .. 2033-07-15 23:59:59 JST). */
	end = jpki_date_add_years(&today, opts->ca_years ? opts->ca_years : 10);
	if ((r = random_serial(serial)) != 0 ||
	    (r = jpki_profile_build_ca(&cert, type, key, serial, sizeof(serial),
				       now, jpki_date_end(&end) - 86400)) != 0)
		goto out;
	if ((r = jpki_profile_build_ocsp_signer(
		     &ocsp, cert, okey, now,
		     now + 86400L * (opts->ocsp_days ? opts->ocsp_days
						     : 400))) != 0 ||
	    (r = random_serial(serial)) != 0)
		goto out;
	r = JPKI_ERR_CRYPTO;
	if ((aserial = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_STRING_set(aserial, serial, sizeof(serial)) ||
	    !X509_set_serialNumber(ocsp, aserial) ||
	    !X509_sign(ocsp, key, EVP_sha256())) {
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "cannot sign the OCSP signer certificate");
		goto out;
	}
	if (asprintf(&pem, "%s/%s-ca.pem", dir, name) < 0) {
		pem = NULL;
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if ((r = pem_save(pem, NULL, cert)) != 0 ||
	    (r = ca_der(&der, &der_len, cert)) != 0 ||
	    (r = ca_der(&oder, &oder_len, ocsp)) != 0)
		goto out;
	{
		struct jpki_value p[] = {
			JPKI_V_INT(type),
			JPKI_V_BLOB(der, der_len),
			JPKI_V_TEXT(key_ref),
			JPKI_V_BLOB(oder, oder_len),
			JPKI_V_TEXT(okey_ref),
			JPKI_V_TEXT(opts->public_url),
			JPKI_V_INT(now),
			t != NULL ? JPKI_V_TEXT(ca_p11_module(t)) : JPKI_V_NULL,
		};

		r = jpki_store_exec(st,
				    "INSERT INTO ca_authority (type, generation,"
				    " cert, key_ref, ocsp_cert, ocsp_key_ref,"
				    " public_url, created_at, pkcs11_module)"
				    " VALUES ($1, 1, $2, $3, $4, $5, $6, $7,"
				    " $8)",
				    p, 8, NULL);
	}
out:
	ASN1_INTEGER_free(aserial);
	EVP_PKEY_free(key);
	EVP_PKEY_free(okey);
	X509_free(cert);
	X509_free(ocsp);
	free(der);
	free(oder);
	free(key_ref);
	free(okey_ref);
	free(pem);
	return r;
}

static int migrate(struct jpki_store *st)
{
	struct jpki_migration steps[sizeof(migrations) / sizeof(migrations[0])];

	memcpy(steps, migrations, sizeof(steps));
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i].version == 9 &&
		    strcmp(jpki_store_backend(st), "postgres") == 0)
			steps[i].sql = status_stamp_pg;
	return jpki_store_migrate(st, "ca", steps,
				  sizeof(steps) / sizeof(steps[0]));
}

int jpki_ca_init(struct jpki_store *st, const struct jpki_ca_init_options *opts)
{
	struct jpki_ca_options open_opts = JPKI_CA_OPTIONS_INIT;
	struct jpki_rows *rows = NULL;
	struct jpki_ca *ca = NULL;
	struct ca_p11 *t = NULL;
	char dir[PATH_MAX];
	size_t count;
	int r = JPKI_ERR_INTERNAL, made = 0;

	if (opts == NULL || opts->key_dir == NULL || opts->public_url == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "CA init needs a key directory and a "
				    "public URL");
	if (strncmp(opts->public_url, "http://", 7) != 0 &&
	    strncmp(opts->public_url, "https://", 8) != 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "public URL '%s' must start with http:// "
				    "or https://",
				    opts->public_url);
	if (opts->pkcs11_module != NULL && opts->pkcs11_token == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "CA keys in a PKCS#11 module need the "
				    "token's label");
	if ((r = migrate(st)) != 0)
		return r;
	if ((r = jpki_mkdir_p(opts->key_dir)) != 0)
		return r;
	if (realpath(opts->key_dir, dir) == NULL)
		return jpki_err_set(JPKI_ERR_IO, "cannot resolve %s",
				    opts->key_dir);
	if (opts->pkcs11_module != NULL &&
	    (r = ca_p11_open(&t, opts->pkcs11_module, opts->pkcs11_token,
			     opts->pkcs11_pin_file)) != 0)
		return r;
	if ((r = jpki_store_begin(st)) != 0)
		goto out;
	if ((r = jpki_store_query(&rows, st, "SELECT type FROM ca_authority",
				  NULL, 0)) != 0)
		goto fail;
	count = jpki_rows_count(rows);
	jpki_rows_free(rows);
	if (count > 0) {
		r = jpki_err_set(JPKI_ERR_EXISTS,
				 "the CAs already exist in this store: a new "
				 "CA key is made by 'jpki ca rollover', not "
				 "by a second init");
		goto fail;
	}
	/* Never mix with (or later destroy) keys someone else put there. */
	for (size_t i = 0; t != NULL && i < 4; i++)
		if ((r = ca_p11_absent(t, p11_labels[i])) != 0)
			goto fail;
	made = t != NULL;
	if ((r = init_one(st, JPKI_CERT_SIGN, opts, dir, t)) != 0 ||
	    (r = init_one(st, JPKI_CERT_AUTH, opts, dir, t)) != 0)
		goto fail;
	if ((r = jpki_store_commit(st)) != 0)
		goto fail_keys;
	made = 0;
	/* The first (empty) full CRLs, so the URLs answer from the start. */
	open_opts.pkcs11_pin_file = opts->pkcs11_pin_file;
	if ((r = jpki_ca_open(&ca, st, &open_opts)) != 0)
		goto out;
	{
		size_t n;

		r = jpki_ca_crl_refresh(ca, 1, &n);
	}
	goto out;
fail:
	jpki_store_rollback(st);
fail_keys:
	/* the rows that would name them are gone: so are the keys */
	for (size_t i = 0; made && i < 4; i++)
		ca_p11_destroy(t, p11_labels[i]);
out:
	jpki_ca_free(ca);
	ca_p11_free(t);
	return r;
}

/* The key a row's column names: a pkcs11: URI (the token is opened once,
 * on the first such key) or a PEM file. */
static int key_load(EVP_PKEY **out, struct jpki_ca *ca, struct jpki_rows *rows,
		    size_t row, int col)
{
	const char *ref = jpki_rows_text(rows, row, col);
	const char *module = jpki_rows_text(rows, row, 6);
	char *token = NULL, *object = NULL;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if (ref == NULL)
		return jpki_err_set(JPKI_ERR_STORE, "a CA key reference is "
						    "missing");
	if (strncmp(ref, "pkcs11:", 7) != 0)
		return ca_key_load(out, ref);
	if ((r = ca_p11_uri_parse(&token, &object, ref)) != 0)
		goto out;
	if (module == NULL) {
		r = jpki_err_set(JPKI_ERR_STORE,
				 "CA key %s has no PKCS#11 module recorded",
				 ref);
		goto out;
	}
	if (ca->p11 == NULL &&
	    (r = ca_p11_open(&ca->p11, module, token, ca->pkcs11_pin_file)) !=
		    0)
		goto out;
	if (strcmp(ca_p11_token(ca->p11), token) != 0 ||
	    strcmp(ca_p11_module(ca->p11), module) != 0) {
		r = jpki_err_set(JPKI_ERR_STORE,
				 "the CA keys are in more than one token");
		goto out;
	}
	r = ca_p11_key(out, ca->p11, object);
out:
	free(token);
	free(object);
	return r;
}

int ca_authority_load(struct jpki_ca *ca, struct authority *a,
		      struct jpki_rows *rows, size_t row)
{
	enum jpki_cert_type type = (enum jpki_cert_type)jpki_rows_int(rows, row, 0);
	const unsigned char *p;
	size_t len;
	int r;

	if (type != JPKI_CERT_SIGN && type != JPKI_CERT_AUTH)
		return jpki_err_set(JPKI_ERR_STORE, "unknown CA type %d",
				    (int)type);
	a->type = type;
	a->generation = (int)jpki_rows_int(rows, row, 7);
	p = jpki_rows_blob(rows, row, 1, &len);
	if (p == NULL || (a->cert = d2i_X509(NULL, &p, (long)len)) == NULL)
		return jpki_err_set(JPKI_ERR_STORE,
				    "stored %s CA certificate is unreadable",
				    ca_type_name(type));
	for (int i = 0; i < CA_CERTID_HASHES; i++)
		if ((a->ids[i] = OCSP_cert_to_id(ca_certid_md(i), NULL,
						 a->cert)) == NULL)
			return jpki_err_set(JPKI_ERR_CRYPTO,
					    "cannot make the %s CA's CertID",
					    ca_type_name(type));
	p = jpki_rows_blob(rows, row, 3, &len);
	if (p == NULL ||
	    (a->ocsp_cert = d2i_X509(NULL, &p, (long)len)) == NULL)
		return jpki_err_set(JPKI_ERR_STORE,
				    "stored %s OCSP certificate is unreadable",
				    ca_type_name(type));
	if ((r = key_load(&a->key, ca, rows, row, 2)) != 0 ||
	    (r = key_load(&a->ocsp_key, ca, rows, row, 4)) != 0)
		return r;
	if (X509_check_private_key(a->cert, a->key) != 1 ||
	    X509_check_private_key(a->ocsp_cert, a->ocsp_key) != 1) {
		ERR_clear_error();
		return jpki_err_set(JPKI_ERR_CONFIG,
				    "the %s CA keys of generation %d (%s) do "
				    "not match the certificates in the store",
				    ca_type_name(type), a->generation,
				    ca->p11 != NULL ? "in the token" : "files");
	}
	if (ca->public_url == NULL && jpki_rows_text(rows, row, 5) != NULL &&
	    (ca->public_url = strdup(jpki_rows_text(rows, row, 5))) == NULL)
		return JPKI_ERR_NOMEM;
	return 0;
}

void ca_authority_clear(struct authority *a)
{
	X509_free(a->cert);
	X509_free(a->ocsp_cert);
	for (int h = 0; h < CA_CERTID_HASHES; h++)
		OCSP_CERTID_free(a->ids[h]);
	jpki_profile_issuer_free(a->profile);
	EVP_PKEY_free(a->key);
	EVP_PKEY_free(a->ocsp_key);
	memset(a, 0, sizeof(*a));
}

struct authority *ca_authority_at(struct jpki_ca *ca, size_t i)
{
	if (i < 2)
		return &ca->auth[i];
	return i - 2 < ca->n_older ? &ca->older[i - 2] : NULL;
}

struct authority *ca_authority_gen(struct jpki_ca *ca, enum jpki_cert_type type,
				   int gen)
{
	struct authority *a;

	for (size_t i = 0; (a = ca_authority_at(ca, i)) != NULL; i++)
		if (a->type == type && a->generation == gen)
			return a;
	return NULL;
}

int ca_older_load(struct jpki_ca *ca)
{
	struct jpki_rows *rows = NULL;
	size_t n;
	int r;

	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT type, cert, key_ref, ocsp_cert,"
				  " ocsp_key_ref, NULL, pkcs11_module,"
				  " generation FROM ca_generation"
				  " WHERE retired_at IS NULL"
				  " ORDER BY type, generation DESC",
				  NULL, 0)) != 0)
		return r;
	n = jpki_rows_count(rows);
	if (n > 0 && (ca->older = calloc(n, sizeof(*ca->older))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ca->n_older = i + 1;
		if ((r = ca_authority_load(ca, &ca->older[i], rows, i)) != 0)
			goto out;
	}
	r = 0;
out:
	jpki_rows_free(rows);
	return r;
}

int jpki_ca_open(struct jpki_ca **out, struct jpki_store *st,
		 const struct jpki_ca_options *opts)
{
	struct jpki_ca *ca = NULL;
	struct jpki_rows *rows = NULL;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	/* the registered verifiers' tables (verifier.c) under their own
	 * schema name, so their steps and the CA's never collide */
	if ((r = migrate(st)) != 0 || (r = jpki_ca_verifier_migrate(st)) != 0)
		return r;
	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return JPKI_ERR_NOMEM;
	pthread_mutex_init(&ca->cache_lock, NULL);
	ca_coalesce_init(&ca->stamps);
	ca->store = st;
	ca->pg_stamp = strcmp(jpki_store_backend(st), "postgres") == 0;
	ca->crl_period = opts && opts->crl_period > 0 ? opts->crl_period
						      : 86400;
	ca->crl_inline_max = opts && opts->crl_inline_max > 0
				     ? opts->crl_inline_max
				     : JPKI_CA_CRL_INLINE_MAX;
	ca->crl_delta = opts != NULL && opts->crl_delta != 0;
	ca->ocsp_validity = opts && opts->ocsp_validity > 0
				    ? opts->ocsp_validity
				    : 3600;
	if (opts != NULL && opts->ocsp_signer != JPKI_OCSP_SIGNER_DELEGATED &&
	    opts->ocsp_signer != JPKI_OCSP_SIGNER_CA) {
		r = jpki_err_set(JPKI_ERR_INVALID, "unknown OCSP signer %d",
				 opts->ocsp_signer);
		goto out;
	}
	ca->ocsp_signer = opts != NULL ? opts->ocsp_signer
				       : JPKI_OCSP_SIGNER_DELEGATED;
	if (opts != NULL && opts->pkcs11_pin_file != NULL &&
	    (ca->pkcs11_pin_file = strdup(opts->pkcs11_pin_file)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if ((r = jpki_store_query(&rows, st,
				  "SELECT type, cert, key_ref, ocsp_cert,"
				  " ocsp_key_ref, public_url, pkcs11_module,"
				  " generation FROM ca_authority ORDER BY type",
				  NULL, 0)) != 0)
		goto out;
	if (jpki_rows_count(rows) != 2) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "no CAs in this store: run 'jpki ca init'");
		goto out;
	}
	for (size_t i = 0; i < 2; i++) {
		enum jpki_cert_type t =
			(enum jpki_cert_type)jpki_rows_int(rows, i, 0);

		if (t != JPKI_CERT_SIGN && t != JPKI_CERT_AUTH) {
			r = jpki_err_set(JPKI_ERR_STORE, "unknown CA type %d",
					 (int)t);
			goto out;
		}
		if ((r = ca_authority_load(ca, ca_authority(ca, t), rows,
					   i)) != 0)
			goto out;
	}
	if ((r = ca_older_load(ca)) != 0)
		goto out;
	if (ca->p11 == NULL)
		jpki_log(JPKI_LOG_DEBUG,
			 "CA keys are files (development form): keep them "
			 "in a PKCS#11 token in production");
	*out = ca;
	ca = NULL;
	r = 0;
out:
	jpki_rows_free(rows);
	jpki_ca_free(ca);
	return r;
}

void jpki_ca_free(struct jpki_ca *ca)
{
	if (ca == NULL)
		return;
	for (int i = 0; i < 2; i++)
		ca_authority_clear(&ca->auth[i]);
	for (size_t i = 0; i < ca->n_older; i++)
		ca_authority_clear(&ca->older[i]);
	free(ca->older);
	for (size_t i = 0; i < OCSP_CACHE_SLOTS; i++)
		free(ca->cache[i].der);
	for (size_t i = 0; i < OCSP_REQ_SLOTS; i++) {
		free(ca->req_cache[i].req);
		free(ca->req_cache[i].der);
	}
	pthread_mutex_destroy(&ca->cache_lock);
	ca_coalesce_clear(&ca->stamps);
	/* after the keys, which hold references to the session */
	ca_p11_free(ca->p11);
	free(ca->pkcs11_pin_file);
	free(ca->public_url);
	free(ca->read_mark);
	free(ca);
}

int jpki_ca_keys_in_token(const struct jpki_ca *ca)
{
	return ca->p11 != NULL;
}

X509 *jpki_ca_cert(const struct jpki_ca *ca, enum jpki_cert_type type)
{
	return ca->auth[type == JPKI_CERT_AUTH ? 1 : 0].cert;
}

size_t jpki_ca_certs(X509 **out, size_t max, const struct jpki_ca *ca,
		     enum jpki_cert_type type)
{
	size_t n = 0;

	if (n < max)
		out[n++] = jpki_ca_cert(ca, type);
	for (size_t i = 0; i < ca->n_older && n < max; i++)
		if (ca->older[i].type == type)
			out[n++] = ca->older[i].cert;
	return n;
}

int jpki_ca_generation(const struct jpki_ca *ca, enum jpki_cert_type type)
{
	return ca->auth[type == JPKI_CERT_AUTH ? 1 : 0].generation;
}

X509 *jpki_ca_ocsp_cert(const struct jpki_ca *ca, enum jpki_cert_type type)
{
	return ca->auth[type == JPKI_CERT_AUTH ? 1 : 0].ocsp_cert;
}

const char *jpki_ca_public_url(const struct jpki_ca *ca)
{
	return ca->public_url;
}
