/*
 * CRLs (RFC 5280 section 5): a full CRL for each CA, and for the signing CA
 * one partition per municipality, named by an issuingDistributionPoint that
 * matches the cRLDistributionPoints of the certificates it covers. Each scope
 * has its own CRL number sequence. Revoked certificates stay listed until
 * they expire.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca_internal.h"

void ca_crl_scope_name(char out[32], enum jpki_cert_type type, int gen,
		       const char *municipality)
{
	char ca_name[16];

	if (gen > 1)
		snprintf(ca_name, sizeof(ca_name), "%s-%d", ca_type_name(type),
			 gen);
	else
		snprintf(ca_name, sizeof(ca_name), "%s", ca_type_name(type));
	if (municipality != NULL)
		snprintf(out, 32, "%s/%s", ca_name, municipality);
	else
		snprintf(out, 32, "%s", ca_name);
}

char *ca_crl_url(const struct jpki_ca *ca, enum jpki_cert_type type, int gen,
		 const char *municipality)
{
	char scope[32], *url = NULL;

	ca_crl_scope_name(scope, type, gen, municipality);
	return asprintf(&url, "%s/crl/%s.crl", ca->public_url, scope) < 0
		       ? NULL
		       : url;
}

/* Parses "sign", "auth" or "sign/NNNNNN", each optionally with "-GEN"
 * after the CA's name ("sign-2/NNNNNN"). */
static int scope_parse(enum jpki_cert_type *type, int *gen,
		       char municipality[7], const char *scope)
{
	const char *p = scope;
	long g = 1;

	municipality[0] = '\0';
	*gen = 1;
	if (scope == NULL)
		goto bad;
	if (strncmp(p, "sign", 4) == 0)
		*type = JPKI_CERT_SIGN;
	else if (strncmp(p, "auth", 4) == 0)
		*type = JPKI_CERT_AUTH;
	else
		goto bad;
	p += 4;
	if (*p == '-') {
		char *end;

		/* "sign-2", never "sign-02" or "sign-1": one name a scope */
		if (p[1] < '2' || p[1] > '9')
			goto bad;
		g = strtol(p + 1, &end, 10);
		if (g < 2 || g > 999)
			goto bad;
		p = end;
	}
	*gen = (int)g;
	if (*p == '\0')
		return 0;
	if (*type == JPKI_CERT_SIGN && *p == '/' && strlen(p) == 7 &&
	    strspn(p + 1, "0123456789") == 6) {
		memcpy(municipality, p + 1, 7);
		return 0;
	}
bad:
	return jpki_err_set(JPKI_ERR_INVALID,
			    "'%s' is not a CRL scope (sign, auth, or "
			    "sign/<6-digit municipality code>, each with -N "
			    "after sign or auth for the CA's generation N)",
			    scope ? scope : "");
}

int ca_crl_scope_parse(enum jpki_cert_type *type, int *gen,
		       char municipality[7], const char *scope)
{
	return scope_parse(type, gen, municipality, scope);
}

static int add_idp(X509_CRL *crl, const char *url)
{
	ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *uri = ASN1_IA5STRING_new();
	int ok = 0;

	if (idp == NULL || gn == NULL || uri == NULL ||
	    !ASN1_STRING_set(uri, url, (int)strlen(url)))
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_URI, uri);
	uri = NULL;
	if ((idp->distpoint = DIST_POINT_NAME_new()) == NULL ||
	    (idp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL)
		goto out;
	idp->distpoint->type = 0;
	if (!sk_GENERAL_NAME_push(idp->distpoint->name.fullname, gn))
		goto out;
	gn = NULL;
	idp->onlyuser = 0xff;
	/* RFC 5280 5.2.5: the extension is critical. */
	ok = X509_CRL_add1_ext_i2d(crl, NID_issuing_distribution_point, idp, 1,
				   X509V3_ADD_DEFAULT) == 1;
out:
	ASN1_IA5STRING_free(uri);
	GENERAL_NAME_free(gn);
	ISSUING_DIST_POINT_free(idp);
	return ok;
}

int ca_crl_head(X509_CRL **out, struct jpki_ca *ca,
		const struct authority *a, enum jpki_cert_type type, int gen,
		const char *municipality, time_t this_update,
		time_t next_update, int64_t number, int64_t base)
{
	X509_CRL *crl = NULL;
	ASN1_TIME *t = NULL;
	ASN1_INTEGER *num = NULL, *base_num = NULL;
	X509_EXTENSION *aki = NULL;
	X509V3_CTX ctx;
	char *url = NULL;
	int r = JPKI_ERR_CRYPTO;

	*out = NULL;
	if ((crl = X509_CRL_new()) == NULL || !X509_CRL_set_version(crl, 1) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(a->cert)) ||
	    (t = ASN1_TIME_set(NULL, this_update)) == NULL ||
	    !X509_CRL_set1_lastUpdate(crl, t) ||
	    ASN1_TIME_set(t, next_update) == NULL ||
	    !X509_CRL_set1_nextUpdate(crl, t))
		goto out;
	X509V3_set_ctx(&ctx, a->cert, NULL, NULL, crl, 0);
	if ((aki = X509V3_EXT_conf_nid(NULL, &ctx,
				       NID_authority_key_identifier,
				       "keyid:always")) == NULL ||
	    !X509_CRL_add_ext(crl, aki, -1) ||
	    (num = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set_int64(num, number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0,
				   X509V3_ADD_DEFAULT))
		goto out;
	/* RFC 5280 5.2.4: critical, so that a verifier that knows no deltas
	 * never takes one for a complete CRL */
	if (base >= 0 &&
	    ((base_num = ASN1_INTEGER_new()) == NULL ||
	     !ASN1_INTEGER_set_int64(base_num, base) ||
	     !X509_CRL_add1_ext_i2d(crl, NID_delta_crl, base_num, 1,
				    X509V3_ADD_DEFAULT)))
		goto out;
	if (municipality != NULL) {
		if ((url = ca_crl_url(ca, type, gen, municipality)) == NULL) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
		if (!add_idp(crl, url))
			goto out;
	}
	*out = crl;
	crl = NULL;
	r = 0;
out:
	X509_CRL_free(crl);
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(num);
	ASN1_INTEGER_free(base_num);
	X509_EXTENSION_free(aki);
	free(url);
	return r;
}

/*
 * A CRL of a million entries. Building an X509_REVOKED object per entry and
 * encoding the X509_CRL costs microseconds an entry: the allocations of the
 * object tree, then OpenSSL's template encoder walking the whole tree once
 * for the signature and again for the DER, then freeing it. Here each entry
 * is encoded by i2d_X509_REVOKED() from one X509_REVOKED per reason code,
 * reused from row to row, into one buffer (on every core); the entries go
 * into the TBSCertList as pre-encoded elements; OpenSSL's encoder writes
 * the TBSCertList once, from the template below, which declares the same
 * fields as OpenSSL's own X509_CRL_INFO; that DER is signed, and goes into
 * the CertificateList verbatim. Every byte still comes from an OpenSSL
 * encoder; the unit tests check that OpenSSL, parsing the CRL and encoding
 * it again from its objects, gets the same bytes.
 */
typedef struct {
	ASN1_INTEGER *version;
	X509_ALGOR *sig_alg;
	X509_NAME *issuer;
	ASN1_TIME *this_update;
	ASN1_TIME *next_update;
	STACK_OF(ASN1_TYPE) *revoked; /* each a complete SEQUENCE encoding */
	STACK_OF(X509_EXTENSION) *extensions;
} CRL_TBS;

ASN1_SEQUENCE(CRL_TBS) = {
	ASN1_OPT(CRL_TBS, version, ASN1_INTEGER),
	ASN1_SIMPLE(CRL_TBS, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(CRL_TBS, issuer, X509_NAME),
	ASN1_SIMPLE(CRL_TBS, this_update, ASN1_TIME),
	ASN1_OPT(CRL_TBS, next_update, ASN1_TIME),
	ASN1_SEQUENCE_OF_OPT(CRL_TBS, revoked, ASN1_ANY),
	ASN1_EXP_SEQUENCE_OF_OPT(CRL_TBS, extensions, X509_EXTENSION, 0),
} static_ASN1_SEQUENCE_END(CRL_TBS)

typedef struct {
	ASN1_TYPE *tbs; /* the complete TBSCertList encoding */
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *signature;
} CRL_SIGNED;

ASN1_SEQUENCE(CRL_SIGNED) = {
	ASN1_SIMPLE(CRL_SIGNED, tbs, ASN1_ANY),
	ASN1_SIMPLE(CRL_SIGNED, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(CRL_SIGNED, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CRL_SIGNED)

/* One revoked certificate as read from the store. */
struct crl_entry {
	int64_t when;
	unsigned char serial[20]; /* magnitude, no leading zero bytes */
	unsigned char len;
	signed char reason;
};

/* The room each entry has in its slice's buffer. An entry is at most
 * SEQUENCE { INTEGER (<= 21 bytes: serial_bytes() takes 20 at most),
 * Time (<= 15), SEQUENCE { SEQUENCE { OID, OCTET STRING { ENUMERATED } } } },
 * = 2 + 23 + 17 + 14 = 56 bytes; encode_part() also stops at any entry
 * over the bound. */
#define CRL_ENTRY_MAX 64
#define CRL_PARTS_MAX 4
/* Below this many entries a thread costs more than it saves. */
#define CRL_PARALLEL_MIN 2048

/*
 * A buffer of tens of megabytes, mapped with its pages in place. Each first
 * touch of a page is a trap, which in a virtual machine costs microseconds:
 * left to fault one by one, as malloc leaves them, the pages of a
 * million-entry CRL's buffers took a fifth of its time.
 */
struct big {
	unsigned char *p;
	size_t len;
};

#ifdef MAP_POPULATE
#define BIG_POPULATE MAP_POPULATE
#else
#define BIG_POPULATE 0
#endif

static int big_alloc(struct big *b, size_t len)
{
	b->len = len ? len : 1;
	b->p = mmap(NULL, b->len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | BIG_POPULATE, -1, 0);
	if (b->p == MAP_FAILED) {
		b->p = NULL;
		return 0;
	}
	return 1;
}

static void big_free(struct big *b)
{
	if (b->p != NULL)
		munmap(b->p, b->len);
	b->p = NULL;
}

/* A slice of the entries, encoded by one thread. */
struct crl_part {
	const struct crl_entry *entries;
	size_t n;
	struct big der; /* n * CRL_ENTRY_MAX */
	size_t *off;        /* n + 1 offsets into der */
	int ok;
};

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * The magnitude bytes of a serial as ca_serial_hex() writes it (positive,
 * at most 20 bytes, RFC 5280 4.1.2.2), without leading zero bytes: what an
 * ASN1_INTEGER holds for it, so that (length, bytes) orders serials as
 * ASN1_INTEGER_cmp (and so X509_CRL_sort) does. Returns 0, or -1 for
 * anything else.
 */
static int serial_bytes(unsigned char out[20], unsigned char *len,
			const char *hex)
{
	size_t n = hex != NULL ? strlen(hex) : 0, k = 0, i = 0;

	if (n == 0 || n > 40)
		return -1;
	if (n % 2) {
		int lo = hex_nibble(hex[0]);

		if (lo < 0)
			return -1;
		out[k++] = (unsigned char)lo;
		i = 1;
	}
	for (; i < n; i += 2) {
		int hi = hex_nibble(hex[i]), lo = hex_nibble(hex[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[k++] = (unsigned char)(hi << 4 | lo);
	}
	while (k > 1 && out[0] == 0) {
		memmove(out, out + 1, k - 1);
		k--;
	}
	*len = (unsigned char)k;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct crl_entry *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->serial, y->serial, x->len);
}

/* RFC 5280 5.3.1 codes, 7 unused. */
static int reason_ok(int64_t reason)
{
	return reason >= 0 && reason <= 10 && reason != 7;
}

static void put_digits(char *p, int v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/*
 * The UTC calendar date and time of `when`, by arithmetic (H. Hinnant's
 * days-to-civil): gmtime_r() takes the C library's time-zone lock on every
 * call, which the encoding threads would queue on.
 */
static void utc_fields(int64_t when, int64_t *year, int *mon, int *day,
		       int *hour, int *min, int *sec)
{
	int64_t days = when / 86400, rem = when % 86400, era, yoe, doy, mp;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	*hour = (int)(rem / 3600);
	*min = (int)(rem / 60 % 60);
	*sec = (int)(rem % 60);
	days += 719468; /* from 0000-03-01 */
	era = (days >= 0 ? days : days - 146096) / 146097;
	days -= era * 146097;                                  /* [0, 146096] */
	yoe = (days - days / 1460 + days / 36524 - days / 146096) / 365;
	doy = days - (365 * yoe + yoe / 4 - yoe / 100); /* from March 1st */
	mp = (5 * doy + 2) / 153;
	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*mon = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (*mon <= 2);
}

/*
 * ASN1_TIME_set() for a revocation date, without the formatted printing
 * that makes it the dearest call of an entry: the same choice (UTCTime for
 * 1950-2049, GeneralizedTime outside, RFC 5280 4.1.2.5) and the same text,
 * YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ, which OpenSSL then encodes.
 */
static int set_time(ASN1_TIME *t, int64_t when)
{
	char text[16];
	int64_t year;
	int mon, day, hour, min, sec, utc, len;

	utc_fields(when, &year, &mon, &day, &hour, &min, &sec);
	if (year < 0 || year > 9999)
		return 0;
	utc = year >= 1950 && year < 2050;
	len = utc ? 13 : 15;
	if (utc)
		put_digits(text, (int)(year % 100), 2);
	else
		put_digits(text, (int)year, 4);
	put_digits(text + len - 11, mon, 2);
	put_digits(text + len - 9, day, 2);
	put_digits(text + len - 7, hour, 2);
	put_digits(text + len - 5, min, 2);
	put_digits(text + len - 3, sec, 2);
	text[len - 1] = 'Z';
	if (!ASN1_STRING_set(t, text, len))
		return 0;
	t->type = utc ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME;
	return 1;
}

/* Encodes a slice; one X509_REVOKED per reason code, made on first use. */
static void *encode_part(void *arg)
{
	struct crl_part *pt = arg;
	X509_REVOKED *rev[11] = {NULL};
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	ASN1_TIME *when = ASN1_TIME_new();
	unsigned char *p = pt->der.p;

	pt->ok = 0;
	if (serial == NULL || when == NULL)
		goto out;
	pt->off[0] = 0;
	for (size_t i = 0; i < pt->n; i++) {
		const struct crl_entry *e = &pt->entries[i];
		X509_REVOKED *r = rev[e->reason];
		int len;

		if (r == NULL) {
			ASN1_ENUMERATED *code = NULL;
			int ok;

			if ((r = rev[e->reason] = X509_REVOKED_new()) == NULL)
				goto out;
			/* RFC 5280 5.3.1: the unspecified reason is left
			 * out. */
			ok = e->reason == JPKI_REASON_UNSPECIFIED ||
			     ((code = ASN1_ENUMERATED_new()) != NULL &&
			      ASN1_ENUMERATED_set(code, e->reason) &&
			      X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, code,
							0, X509V3_ADD_DEFAULT));
			ASN1_ENUMERATED_free(code);
			if (!ok)
				goto out;
		}
		if (!ASN1_STRING_set(serial, e->serial, e->len) ||
		    !set_time(when, e->when) ||
		    !X509_REVOKED_set_serialNumber(r, serial) ||
		    !X509_REVOKED_set_revocationDate(r, when) ||
		    (len = i2d_X509_REVOKED(r, &p)) <= 0 ||
		    len > CRL_ENTRY_MAX)
			goto out;
		pt->off[i + 1] = (size_t)(p - pt->der.p);
	}
	pt->ok = 1;
out:
	for (size_t i = 0; i < sizeof(rev) / sizeof(rev[0]); i++)
		X509_REVOKED_free(rev[i]);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(when);
	return NULL;
}

/* Encodes all entries, over up to CRL_PARTS_MAX threads for large CRLs. */
static int encode_entries(struct crl_part parts[CRL_PARTS_MAX],
			  size_t *nparts, const struct crl_entry *entries,
			  size_t n)
{
	pthread_t th[CRL_PARTS_MAX];
	int started[CRL_PARTS_MAX] = {0};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t k = n < CRL_PARALLEL_MIN || cpus < 2 ? 1
		   : cpus > CRL_PARTS_MAX ? CRL_PARTS_MAX
					  : (size_t)cpus;
	int ok = 1;

	*nparts = k;
	for (size_t i = 0, at = 0; i < k; i++) {
		size_t m = n / k + (i < n % k ? 1 : 0);

		/* An empty CRL has no entries (NULL), and NULL + 0 is
		 * undefined (clang's UBSan stops every `ca init` on it). */
		parts[i].entries = m > 0 ? entries + at : NULL;
		parts[i].n = m;
		parts[i].ok = 0;
		at += m;
		if (!big_alloc(&parts[i].der, m * CRL_ENTRY_MAX) ||
		    (parts[i].off = malloc((m + 1) * sizeof(size_t))) == NULL)
			return JPKI_ERR_NOMEM;
	}
	for (size_t i = 1; i < k; i++)
		started[i] = pthread_create(&th[i], NULL, encode_part,
					    &parts[i]) == 0;
	encode_part(&parts[0]);
	for (size_t i = 1; i < k; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			encode_part(&parts[i]);
	}
	for (size_t i = 0; i < k; i++)
		ok = ok && parts[i].ok;
	return ok ? 0 : JPKI_ERR_CRYPTO;
}

/* The entries read so far, and whether they came in order. */
struct crl_read {
	struct crl_entry *e;
	size_t n, cap;
	int sorted;
};

static int read_row(void *arg, const struct jpki_value *cells, size_t columns)
{
	struct crl_read *rd = arg;
	struct crl_entry *e;
	const char *serial = columns == 3 && cells[0].type == JPKI_VALUE_TEXT
				     ? cells[0].s
				     : NULL;

	if (rd->n == rd->cap) {
		size_t cap = rd->cap ? rd->cap * 2 : 1024;
		struct crl_entry *grown = realloc(rd->e, cap * sizeof(*grown));

		if (grown == NULL)
			return JPKI_ERR_NOMEM;
		rd->e = grown;
		rd->cap = cap;
	}
	e = &rd->e[rd->n];
	if (serial_bytes(e->serial, &e->len, serial) != 0 ||
	    cells[1].type != JPKI_VALUE_INT || cells[2].type != JPKI_VALUE_INT ||
	    !reason_ok(cells[2].i))
		return jpki_err_set(JPKI_ERR_INTERNAL,
				    "stored certificate '%s' has no serial "
				    "number, revocation time or CRL reason",
				    serial ? serial : "");
	e->reason = (signed char)cells[2].i;
	e->when = cells[1].i;
	if (rd->n > 0 && rd->sorted && entry_cmp(e - 1, e) >= 0)
		rd->sorted = 0;
	rd->n++;
	return 0;
}

/*
 * Reads the scope's revoked and held certificates, in the order the CRL
 * lists them: by serial from the store (the serials of one CA have one
 * length, so text order is number order, read from the revoked-certificate
 * indexes), sorted here if the database collated otherwise. The rows are
 * streamed, not kept: a million of them would cost their copies.
 */
static int read_entries(struct crl_entry **out, size_t *n, struct jpki_ca *ca,
			enum jpki_cert_type type, int gen,
			const char *municipality, time_t now)
{
	struct crl_read rd = {.sorted = 1};
	int r;

	*out = NULL;
	*n = 0;
	if (municipality != NULL) {
		struct jpki_value p[] = {JPKI_V_INT(type), JPKI_V_INT(now),
					 JPKI_V_TEXT(municipality),
					 JPKI_V_INT(gen)};

		r = jpki_store_each(ca->store,
				    "SELECT serial, revoked_at, reason"
				    " FROM ca_cert WHERE type = $1"
				    " AND generation = $4"
				    " AND status <> 0 AND municipality = $3"
				    " AND not_after > $2 ORDER BY serial",
				    p, 4, read_row, &rd);
	} else {
		struct jpki_value p[] = {JPKI_V_INT(type), JPKI_V_INT(now),
					 JPKI_V_INT(gen)};

		r = jpki_store_each(ca->store,
				    "SELECT serial, revoked_at, reason"
				    " FROM ca_cert WHERE type = $1"
				    " AND generation = $3"
				    " AND status <> 0 AND not_after > $2"
				    " ORDER BY serial",
				    p, 3, read_row, &rd);
	}
	if (r != 0) {
		free(rd.e);
		return r;
	}
	if (!rd.sorted)
		qsort(rd.e, rd.n, sizeof(*rd.e), entry_cmp);
	*out = rd.e;
	*n = rd.n;
	return 0;
}

/*
 * The CertificateList: `hdr` (a CRL with every field but the entries,
 * signed once so that OpenSSL has chosen the signature algorithm for the
 * key) with the encoded entries, signed with `key`. *out is the DER, for
 * big_free(). The two large encodings are sized first and written into
 * buffers mapped for them.
 */
static int assemble(struct big *out, int *out_len, X509_CRL *hdr,
		    EVP_PKEY *key, struct crl_part *parts, size_t nparts,
		    size_t n)
{
	struct big mem = {NULL, 0}; /* n ASN1_TYPEs, then n ASN1_STRINGs */
	ASN1_TYPE *types = NULL;
	ASN1_STRING *strs = NULL;
	STACK_OF(ASN1_TYPE) *revoked = NULL;
	const ASN1_BIT_STRING *hdr_sig = NULL;
	const X509_ALGOR *alg = NULL;
	ASN1_INTEGER *version = ASN1_INTEGER_new();
	ASN1_BIT_STRING *sig = ASN1_BIT_STRING_new();
	ASN1_STRING tbs_str = {0};
	ASN1_TYPE tbs_any = {0};
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *sig_bytes = NULL, *p;
	struct big tbs_der = {NULL, 0};
	size_t sig_len = 0, at = 0;
	int tbs_len, ok = 0;

	out->p = NULL;
	X509_CRL_get0_signature(hdr, &hdr_sig, &alg);
	if (big_alloc(&mem, n * (sizeof(*types) + sizeof(*strs)))) {
		types = (ASN1_TYPE *)mem.p;
		strs = (ASN1_STRING *)(mem.p + n * sizeof(*types));
	}
	if (types == NULL || version == NULL || sig == NULL ||
	    md == NULL || alg == NULL || !ASN1_INTEGER_set(version, 1))
		goto out;
	if (n > 0) {
		if ((revoked = sk_ASN1_TYPE_new_reserve(NULL, (int)n)) ==
		    NULL)
			goto out;
		for (size_t i = 0; i < nparts; i++)
			for (size_t j = 0; j < parts[i].n; j++, at++) {
				strs[at].type = V_ASN1_SEQUENCE;
				strs[at].data = parts[i].der.p + parts[i].off[j];
				strs[at].length = (int)(parts[i].off[j + 1] -
							parts[i].off[j]);
				types[at].type = V_ASN1_SEQUENCE;
				types[at].value.sequence = &strs[at];
				if (!sk_ASN1_TYPE_push(revoked, &types[at]))
					goto out;
			}
	}
	{
		CRL_TBS tbs = {
			.version = version,
			.sig_alg = (X509_ALGOR *)alg,
			.issuer = X509_CRL_get_issuer(hdr),
			.this_update = (ASN1_TIME *)X509_CRL_get0_lastUpdate(hdr),
			.next_update = (ASN1_TIME *)X509_CRL_get0_nextUpdate(hdr),
			.revoked = revoked,
			.extensions = (STACK_OF(X509_EXTENSION) *)
				X509_CRL_get0_extensions(hdr),
		};

		if ((tbs_len = ASN1_item_i2d((ASN1_VALUE *)&tbs, NULL,
					     ASN1_ITEM_rptr(CRL_TBS))) <= 0 ||
		    !big_alloc(&tbs_der, (size_t)tbs_len) ||
		    (p = tbs_der.p, ASN1_item_i2d((ASN1_VALUE *)&tbs, &p,
						  ASN1_ITEM_rptr(CRL_TBS))) !=
			    tbs_len)
			goto out;
	}
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &sig_len, tbs_der.p, (size_t)tbs_len) !=
		    1 ||
	    (sig_bytes = OPENSSL_malloc(sig_len)) == NULL ||
	    EVP_DigestSign(md, sig_bytes, &sig_len, tbs_der.p,
			   (size_t)tbs_len) != 1)
		goto out;
	ASN1_STRING_set0(sig, sig_bytes, (int)sig_len);
	sig_bytes = NULL;
	/* No unused bits, whatever the last byte (as ASN1_item_sign). */
	sig->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	sig->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	tbs_str.type = V_ASN1_SEQUENCE;
	tbs_str.data = tbs_der.p;
	tbs_str.length = tbs_len;
	tbs_any.type = V_ASN1_SEQUENCE;
	tbs_any.value.sequence = &tbs_str;
	{
		CRL_SIGNED crl = {.tbs = &tbs_any,
				  .sig_alg = (X509_ALGOR *)alg,
				  .signature = sig};

		ok = (*out_len = ASN1_item_i2d((ASN1_VALUE *)&crl, NULL,
					       ASN1_ITEM_rptr(CRL_SIGNED))) >
			     0 &&
		     big_alloc(out, (size_t)*out_len) &&
		     (p = out->p, ASN1_item_i2d((ASN1_VALUE *)&crl, &p,
						ASN1_ITEM_rptr(CRL_SIGNED))) ==
			     *out_len;
		if (!ok)
			big_free(out);
	}
out:
	sk_ASN1_TYPE_free(revoked); /* the elements live in `mem` */
	big_free(&mem);
	ASN1_INTEGER_free(version);
	ASN1_BIT_STRING_free(sig);
	EVP_MD_CTX_free(md);
	big_free(&tbs_der);
	OPENSSL_free(sig_bytes);
	return ok;
}

int ca_crl_generate(struct jpki_ca *ca, enum jpki_cert_type type, int gen,
		    const char *municipality)
{
	struct authority *a = ca_authority_gen(ca, type, gen);
	struct jpki_rows *prev = NULL;
	time_t now = jpki_clock_now(), next = now + ca->crl_period;
	struct crl_entry *entries = NULL;
	struct crl_part parts[CRL_PARTS_MAX] = {{0}};
	size_t n = 0, nparts = 0;
	X509_CRL *crl = NULL;
	struct big der = {NULL, 0};
	char scope[32];
	int64_t num = 1;
	int len, r = JPKI_ERR_INTERNAL;

	ca_crl_scope_name(scope, type, gen, municipality);
	if (a == NULL)
		return jpki_err_set(JPKI_ERR_STATE,
				    "no CRL for %s: generation %d of the %s CA "
				    "is retired or unknown",
				    scope, gen, ca_type_name(type));
	{
		struct jpki_value p = JPKI_V_TEXT(scope);

		if ((r = jpki_store_query(&prev, ca->store,
					  "SELECT number FROM ca_crl"
					  " WHERE scope = $1",
					  &p, 1)) != 0)
			goto out;
		if (jpki_rows_count(prev) == 1)
			num = jpki_rows_int(prev, 0, 0) + 1;
	}
	/* one number sequence for the full CRL and its deltas (those made
	 * while crl_delta was on, too) */
	if (jpki_rows_count(prev) == 1) {
		int64_t delta = 0;

		if ((r = ca_crl_delta_number(&delta, ca, scope)) != 0)
			goto out;
		if (delta >= num)
			num = delta + 1;
	}
	if ((r = read_entries(&entries, &n, ca, type, gen, municipality,
			      now)) !=
		    0 ||
	    (r = encode_entries(parts, &nparts, entries, n)) != 0)
		goto fail;
	if ((r = ca_crl_head(&crl, ca, a, type, gen, municipality, now, next,
			     num, -1)) != 0)
		goto fail;
	r = JPKI_ERR_CRYPTO;
	if (ca->crl_delta) {
		char *delta_url = ca_crl_delta_url(ca, type, gen, municipality);
		int ok = delta_url != NULL &&
			 ca_crl_add_freshest(crl, delta_url);

		free(delta_url);
		if (!ok)
			goto crypto;
	}
	if (!X509_CRL_sign(crl, a->key, EVP_sha256()) ||
	    !assemble(&der, &len, crl, a->key, parts, nparts, n))
		goto crypto;
	{
		struct jpki_value p[] = {
			JPKI_V_TEXT(scope), JPKI_V_INT(num), JPKI_V_INT(now),
			JPKI_V_INT(next), JPKI_V_BLOB(der.p, (size_t)len)};

		/* An UPDATE when the scope has a CRL: an upsert would have
		 * SQLite build the row of a 40 MB CRL twice. */
		r = jpki_store_exec(
			ca->store,
			num > 1 ? "UPDATE ca_crl SET number = $2,"
				  " this_update = $3, next_update = $4,"
				  " der = $5 WHERE scope = $1"
				: "INSERT INTO ca_crl (scope, number,"
				  " this_update, next_update, der)"
				  " VALUES ($1, $2, $3, $4, $5)",
			p, 5, NULL);
	}
	if (r == 0) {
		struct jpki_value p[] = {JPKI_V_TEXT(scope),
					 JPKI_V_INT((int64_t)n)};

		r = jpki_store_exec(ca->store,
				    "INSERT INTO ca_crl_state (scope, entries,"
				    " stale) VALUES ($1, $2, 0)"
				    " ON CONFLICT (scope) DO UPDATE SET"
				    " entries = excluded.entries, stale = 0",
				    p, 2, NULL);
	}
	/* the delta against the previous full CRL names the wrong base */
	if (r == 0 && ca->crl_delta)
		r = ca_crl_delta_due(ca, scope);
	goto out;
fail:
	if (r != JPKI_ERR_CRYPTO)
		goto out;
crypto:
	r = jpki_err_set(JPKI_ERR_CRYPTO, "cannot build the %s CRL", scope);
out:
	ERR_clear_error();
	jpki_rows_free(prev);
	for (size_t i = 0; i < CRL_PARTS_MAX; i++) {
		big_free(&parts[i].der);
		free(parts[i].off);
	}
	free(entries);
	X509_CRL_free(crl);
	big_free(&der);
	return r;
}

int ca_crl_touch(struct jpki_ca *ca, enum jpki_cert_type type, int gen,
		 const char *municipality)
{
	struct jpki_rows *rows = NULL;
	char scope[32];
	int large, r;

	/* With deltas the full CRL keeps its period; the delta, issued
	 * within a second, carries the change. */
	if (ca->crl_delta) {
		ca_crl_scope_name(scope, type, gen, municipality);
		return ca_crl_delta_due(ca, scope);
	}
	if (municipality != NULL)
		return ca_crl_generate(ca, type, gen, municipality);
	ca_crl_scope_name(scope, type, gen, NULL);
	{
		struct jpki_value p = JPKI_V_TEXT(scope);

		if ((r = jpki_store_query(&rows, ca->store,
					  "SELECT entries FROM ca_crl_state"
					  " WHERE scope = $1",
					  &p, 1)) != 0)
			return r;
	}
	large = jpki_rows_count(rows) == 1 &&
		jpki_rows_int(rows, 0, 0) >= ca->crl_inline_max;
	jpki_rows_free(rows);
	if (!large)
		return ca_crl_generate(ca, type, gen, NULL);
	{
		struct jpki_value p = JPKI_V_TEXT(scope);

		return jpki_store_exec(ca->store,
				       "UPDATE ca_crl_state SET stale = 1"
				       " WHERE scope = $1",
				       &p, 1, NULL);
	}
}

int jpki_ca_crl_refresh_stale(struct jpki_ca *ca, size_t *count)
{
	struct authority *a;
	int r = 0;

	*count = 0;
	/* the full CRL of every live generation of both CAs */
	for (size_t i = 0; (a = ca_authority_at(ca, i)) != NULL && r == 0;
	     i++) {
		struct jpki_rows *rows = NULL;
		char scope[32];
		int stale;

		ca_crl_scope_name(scope, a->type, a->generation, NULL);
		{
			struct jpki_value p = JPKI_V_TEXT(scope);

			if ((r = jpki_store_query(&rows, ca->store,
						  "SELECT stale FROM ca_crl_state"
						  " WHERE scope = $1",
						  &p, 1)) != 0)
				break;
		}
		stale = jpki_rows_count(rows) == 1 &&
			jpki_rows_int(rows, 0, 0) != 0;
		jpki_rows_free(rows);
		if (!stale)
			continue;
		/* Regenerated from the committed rows: a change committed
		 * after this reads them marks it stale again. */
		if ((r = jpki_store_begin(ca->store)) != 0)
			break;
		if ((r = ca_crl_generate(ca, a->type, a->generation, NULL)) !=
		    0) {
			jpki_store_rollback(ca->store);
			break;
		}
		if ((r = jpki_store_commit(ca->store)) == 0)
			(*count)++;
	}
	return r;
}

int jpki_ca_crl_refresh(struct jpki_ca *ca, int force, size_t *count)
{
	struct jpki_rows *rows = NULL, *have = NULL;
	struct authority *a;
	time_t now = jpki_clock_now();
	size_t n, lives = 0;
	int r;

	*count = 0;
	/* Every scope that should exist: the full CRL of each live
	 * generation of both CAs, and a partition for each municipality
	 * that has signing certificates of a live generation. */
	if ((r = jpki_store_query(&rows, ca->store,
				  "SELECT DISTINCT generation, municipality"
				  " FROM ca_cert WHERE type = 1"
				  " ORDER BY generation, municipality",
				  NULL, 0)) != 0)
		return r;
	while (ca_authority_at(ca, lives) != NULL)
		lives++;
	n = jpki_rows_count(rows) + lives;
	for (size_t i = 0; i < n && r == 0; i++) {
		enum jpki_cert_type type;
		const char *muni = NULL;
		char scope[32];
		int due = force, gen;

		if (i < lives) {
			a = ca_authority_at(ca, i);
			type = a->type;
			gen = a->generation;
		} else {
			type = JPKI_CERT_SIGN;
			gen = (int)jpki_rows_int(rows, i - lives, 0);
			muni = jpki_rows_text(rows, i - lives, 1);
			if (ca_authority_gen(ca, type, gen) == NULL)
				continue; /* retired: no more CRLs */
		}
		ca_crl_scope_name(scope, type, gen, muni);
		if (!due) {
			struct jpki_value p = JPKI_V_TEXT(scope);

			if ((r = jpki_store_query(&have, ca->store,
						  "SELECT c.next_update,"
						  " COALESCE(s.stale, 0)"
						  " FROM ca_crl c LEFT JOIN ca_crl_state s"
						  " ON s.scope = c.scope"
						  " WHERE c.scope = $1",
						  &p, 1)) != 0)
				break;
			due = jpki_rows_count(have) == 0 ||
			      jpki_rows_int(have, 0, 0) - now <
				      ca->crl_period / 2 ||
			      jpki_rows_int(have, 0, 1) != 0;
			jpki_rows_free(have);
			have = NULL;
		}
		if (!due)
			continue;
		if ((r = jpki_store_begin(ca->store)) != 0)
			break;
		if ((r = ca_crl_generate(ca, type, gen, muni)) != 0) {
			jpki_store_rollback(ca->store);
			break;
		}
		if ((r = jpki_store_commit(ca->store)) != 0)
			break;
		(*count)++;
	}
	jpki_rows_free(rows);
	return r;
}

/*
 * A scope's full CRL, or its delta (crl_delta.c), as published. On a
 * replica the heartbeat is read in the same statement (replica.c): past
 * the bound neither is answered, since a stale one would hide the newest
 * revocations.
 */
int ca_crl_der_get(unsigned char **der, size_t *len, struct jpki_ca *ca,
		   const char *scope, int delta)
{
	static const char *const sql[2][2] = {
	    {"SELECT der FROM ca_crl WHERE scope = $1",
	     "SELECT c.der, h.mark FROM jpki_heartbeat h"
	     " LEFT JOIN ca_crl c ON c.scope = $1 WHERE h.id = $2"},
	    {"SELECT der FROM ca_crl_delta WHERE scope = $1",
	     "SELECT c.der, h.mark FROM jpki_heartbeat h"
	     " LEFT JOIN ca_crl_delta c ON c.scope = $1 WHERE h.id = $2"}};
	enum jpki_cert_type type = JPKI_CERT_SIGN;
	char muni[7], name[32];
	struct jpki_rows *rows = NULL;
	const unsigned char *p;
	int replica = ca->read != NULL;
	size_t n;
	int r, gen;

	*der = NULL;
	*len = 0;
	if ((r = scope_parse(&type, &gen, muni, scope)) != 0)
		return r;
	ca_crl_scope_name(name, type, gen, muni[0] ? muni : NULL);
	{
		struct jpki_value v[] = {JPKI_V_TEXT(name),
					 JPKI_V_TEXT(ca->read_mark)};

		if ((r = jpki_store_query(&rows, ca_read_store(ca),
					  sql[delta != 0][replica], v,
					  replica ? 2 : 1)) != 0)
			return r;
	}
	if (replica) {
		int64_t mark = jpki_rows_int(rows, 0, 1);

		if ((r = ca_read_stale(ca, jpki_rows_count(rows) == 1
						   ? &mark
						   : NULL)) != 0) {
			jpki_rows_free(rows);
			return r;
		}
	}
	p = jpki_rows_blob(rows, 0, 0, &n);
	if (jpki_rows_count(rows) != 1 || p == NULL) {
		jpki_rows_free(rows);
		return delta ? jpki_err_set(JPKI_ERR_NOT_FOUND,
					    "no delta CRL for scope %s (delta "
					    "CRLs are off, or none is issued "
					    "yet)",
					    name)
			     : jpki_err_set(JPKI_ERR_NOT_FOUND,
					    "no CRL for scope %s (no "
					    "certificate of that municipality "
					    "yet)",
					    name);
	}
	if ((*der = malloc(n)) == NULL) {
		jpki_rows_free(rows);
		return JPKI_ERR_NOMEM;
	}
	memcpy(*der, p, n);
	*len = n;
	jpki_rows_free(rows);
	return 0;
}

int jpki_ca_crl_get(unsigned char **der, size_t *len, struct jpki_ca *ca,
		    const char *scope)
{
	return ca_crl_der_get(der, len, ca, scope, 0);
}

void jpki_ca_scopes_free(char **scopes, size_t n)
{
	for (size_t i = 0; scopes != NULL && i < n; i++)
		free(scopes[i]);
	free(scopes);
}

int jpki_ca_crl_scopes(char ***out, size_t *n, struct jpki_ca *ca)
{
	struct jpki_rows *rows = NULL;
	char **list;
	size_t count;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = jpki_store_query(&rows, ca_read_store(ca),
				  "SELECT scope FROM ca_crl ORDER BY scope",
				  NULL, 0)) != 0)
		return r;
	count = jpki_rows_count(rows);
	if ((list = calloc(count ? count : 1, sizeof(*list))) == NULL) {
		jpki_rows_free(rows);
		return JPKI_ERR_NOMEM;
	}
	for (size_t i = 0; i < count; i++)
		if ((list[i] = strdup(jpki_rows_text(rows, i, 0))) == NULL) {
			jpki_ca_scopes_free(list, i);
			jpki_rows_free(rows);
			return JPKI_ERR_NOMEM;
		}
	jpki_rows_free(rows);
	*out = list;
	*n = count;
	return 0;
}
