/*
 * The resident's verbs (利用者クライアントソフト): `jpki cert show`,
 * `jpki pin status|change`, `jpki sign`. They reach the card through a PC/SC
 * reader (--reader NAME; by default the only card present) or, for a
 * virtual card on this machine without pcscd, --card FILE.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "cli/cli.h"
#include "jpki/client.h"
#include "jpki/pdf.h"

#define PIN_MAX 16 /* the longest PIN of either card kind */

/* Where the card is, and what it is. */
struct session {
	struct jpki_card *card; /* --card FILE */
	struct jpki_reader *rd;
	enum jpki_card_kind kind;
};

static void session_close(struct session *s)
{
	jpki_reader_free(s->rd);
	jpki_card_free(s->card);
	memset(s, 0, sizeof(*s));
}

static int session_open(struct session *s, const char *reader,
			const char *card_file)
{
	int r;

	memset(s, 0, sizeof(*s));
	if (card_file != NULL) {
		if ((r = jpki_card_open(&s->card, card_file)) == 0)
			r = jpki_reader_local(&s->rd, s->card);
	} else {
		r = jpki_reader_pcsc(&s->rd, reader);
	}
	if (r == 0)
		r = jpki_client_open_card(&s->kind, s->rd);
	if (r != 0)
		session_close(s);
	return r;
}

/* The options every client verb takes. */
#define CLIENT_OPTIONS                                                         \
	{"reader", required_argument, NULL, 'R'},                              \
	    {"card", required_argument, NULL, 'F'},                            \
	    {"pin-file", required_argument, NULL, 'f'},                        \
	    {"json", no_argument, NULL, 'j'},                                  \
	{                                                                      \
		"help", no_argument, NULL, 'h'                                 \
	}

struct common {
	const char *reader, *card, *pin_file;
	int json;
};

/* 0 taken, 1 not a common option. */
static int common_option(struct common *o, int c, const char *arg)
{
	switch (c) {
	case 'R':
		o->reader = arg;
		return 0;
	case 'F':
		o->card = arg;
		return 0;
	case 'f':
		o->pin_file = arg;
		return 0;
	case 'j':
		o->json = 1;
		return 0;
	default:
		return 1;
	}
}

static const char *kind_name(enum jpki_card_kind kind)
{
	return kind == JPKI_CARD_JUKI ? "Juki card (住民基本台帳カード)"
				      : "My Number card (個人番号カード)";
}

/* ---- cert show ------------------------------------------------------------
 */

static const char *status_word(enum jpki_client_status s)
{
	static const char *const words[] = {"unchecked",     "valid",
					    "revoked",       "expired",
					    "not_yet_valid", "unknown"};

	return words[s];
}

/* One certificate as a person reads it, into a JSON object. */
static json_t *describe(X509 *cert, X509 *ca, enum jpki_cert_type type)
{
	struct jpki_client_status_info st;
	char serial_hex[80] = "", na[11], nb[11], text[512], *issuer;
	const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
	BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	struct tm tm;
	long days = 0;
	json_t *o;

	snprintf(serial_hex, sizeof(serial_hex), "%s", hex ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
	issuer = X509_NAME_oneline(X509_get_issuer_name(cert), NULL, 0);
	jpki_client_day(nb, X509_get0_notBefore(cert));
	jpki_client_day(na, X509_get0_notAfter(cert));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm)) {
		struct jpki_date last = jpki_date_of(timegm(&tm)),
				 today = jpki_date_today();

		days = jpki_date_days_between(&today, &last);
	}
	if (jpki_client_cert_status(&st, cert, ca) != 0)
		st.status = JPKI_CLIENT_UNCHECKED;
	jpki_client_status_text(text, sizeof(text), &st, cert);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "kind",
		      type == JPKI_CERT_SIGN ? "signing" : "authentication",
		      "serial", serial_hex, "issuer", issuer ? issuer : "",
		      "not_before", nb, "not_after", na, "days_left",
		      (json_int_t)(days < 0 ? 0 : days), "status",
		      status_word(st.status), "status_text", text);
	OPENSSL_free(issuer);
	if (st.status == JPKI_CLIENT_REVOKED)
		json_object_set_new(
		    o, "revocation_reason",
		    json_string(jpki_ca_reason_name(st.reason)));
	if (type == JPKI_CERT_SIGN) {
		struct jpki_facts f;

		if (jpki_profile_facts_from_cert(&f, cert) == 0) {
			char born[64], greg[11];

			jpki_profile_birth_format(&f.birth, born);
			jpki_date_format(&f.birth, greg);
			json_object_set_new(
			    o, "facts",
			    json_pack("{s:s, s:s, s:s, s:s, s:s}", "name",
				      f.name, "sex",
				      f.sex == JPKI_SEX_MALE     ? "male"
				      : f.sex == JPKI_SEX_FEMALE ? "female"
								 : "unknown",
				      "birth", greg, "birth_text", born,
				      "address", f.address));
		}
	}
	return o;
}

static void print_cert(json_t *c)
{
	static const struct {
		const char *key, *label;
	} rows[] = {{"serial", "serial"},
		    {"issuer", "issuer"},
		    {"not_before", "valid from"},
		    {"not_after", "valid until"},
		    {"status_text", "status"}};
	json_t *facts = json_object_get(c, "facts");
	int sign = strcmp(json_string_value(json_object_get(c, "kind")),
			  "signing") == 0;

	printf("%s\n", sign ? "署名用電子証明書 (signing certificate)"
			    : "利用者証明用電子証明書 (authentication "
			      "certificate)");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		printf("  %-12s %s", rows[i].label,
		       json_string_value(json_object_get(c, rows[i].key)));
		if (strcmp(rows[i].key, "not_after") == 0)
			printf(" (%lld days left)",
			       (long long)json_integer_value(
				   json_object_get(c, "days_left")));
		printf("\n");
	}
	if (facts != NULL) {
		printf("  %-12s %s\n", "name",
		       json_string_value(json_object_get(facts, "name")));
		printf("  %-12s %s\n", "born",
		       json_string_value(json_object_get(facts, "birth_text")));
		printf("  %-12s %s\n", "sex",
		       json_string_value(json_object_get(facts, "sex")));
		printf("  %-12s %s\n", "address",
		       json_string_value(json_object_get(facts, "address")));
	}
}

/* `jpki cert show FILE`: one certificate from a file (PEM or DER), e.g. a
 * JPKI CA certificate before trusting it. */
static int cert_show_file(const char *path, int json)
{
	struct jpki_client_cert_summary s;
	unsigned char *data = NULL;
	size_t len = 0;
	X509 *cert = NULL;
	json_t *o = NULL;
	char fp[96];
	int r, rc = CLI_FAILED;

	if ((r = jpki_file_read(&data, &len, path,
				JPKI_CLIENT_MAX_CERT_FILE)) != 0 ||
	    (r = jpki_client_cert_parse(&cert, data, len)) != 0 ||
	    (r = jpki_client_cert_summarize(&s, cert)) != 0) {
		rc = cli_fail(r, path);
		goto out;
	}
	jpki_profile_fingerprint(fp, cert);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
		      "s:s, s:b, s:b, s:s, s:s}",
		      "subject", s.subject, "issuer", s.issuer, "serial",
		      s.serial, "not_before", s.not_before, "not_after",
		      s.not_after, "key", s.key, "key_id", s.key_id,
		      "authority_key_id", s.authority_key_id, "key_usage",
		      s.key_usage, "alt_name", s.alt_name, "crl_dp", s.crl_dp,
		      "ca", s.is_ca, "self_signed", s.self_signed, "jpki",
		      s.type == JPKI_CERT_SIGN   ? "signing"
		      : s.type == JPKI_CERT_AUTH ? "authentication"
						 : "",
		      "sha256", fp);
	if (o == NULL) {
		rc = cli_fail(JPKI_ERR_NOMEM, path);
		goto out;
	}
	if (s.is_ca && s.path_len >= 0)
		json_object_set_new(o, "path_len", json_integer(s.path_len));
	json_object_set_new(o, "status",
			    json_string(s.expired         ? "expired"
					: s.not_yet_valid ? "not_yet_valid"
							  : "valid"));
	json_object_set_new(o, "days_left", json_integer(s.days_left));
	if (json) {
		cli_json_print(o);
		o = NULL;
		rc = CLI_OK;
		goto out;
	}
	printf("%s%s%s\n",
	       s.type == JPKI_CERT_SIGN   ? "署名用 (signing) "
	       : s.type == JPKI_CERT_AUTH ? "利用者証明用 (authentication) "
					  : "",
	       s.is_ca ? "CA certificate" : "certificate",
	       s.self_signed ? ", self-signed" : "");
	printf("  %-16s %s\n", "subject", s.subject);
	printf("  %-16s %s\n", "issuer", s.issuer);
	printf("  %-16s %s\n", "serial", s.serial);
	printf("  %-16s %s\n", "valid from", s.not_before);
	if (s.expired)
		printf("  %-16s %s (expired)\n", "valid until", s.not_after);
	else if (s.not_yet_valid)
		printf("  %-16s %s (not valid before %s)\n", "valid until",
		       s.not_after, s.not_before);
	else
		printf("  %-16s %s (%ld days left)\n", "valid until",
		       s.not_after, s.days_left);
	printf("  %-16s %s\n", "key", s.key);
	printf("  %-16s %s\n", "key id", s.key_id[0] ? s.key_id : "(none)");
	printf("  %-16s %s\n", "authority key id",
	       s.authority_key_id[0] ? s.authority_key_id : "(none)");
	if (s.is_ca && s.path_len >= 0)
		printf("  %-16s yes, path length %ld\n", "CA", s.path_len);
	else
		printf("  %-16s %s\n", "CA", s.is_ca ? "yes" : "no");
	printf("  %-16s %s\n", "key usage",
	       s.key_usage[0] ? s.key_usage : "(any)");
	if (s.alt_name[0])
		printf("  %-16s %s\n", "alt name", s.alt_name);
	if (s.crl_dp[0])
		printf("  %-16s %s\n", "CRL at", s.crl_dp);
	printf("  %-16s %s\n", "SHA-256", fp);
	rc = CLI_OK;
out:
	json_decref(o);
	X509_free(cert);
	free(data);
	return rc;
}

static int cert_show(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {CLIENT_OPTIONS,
					  {"sign", no_argument, NULL, 's'},
					  {NULL, 0, NULL, 0}};
	struct common opt = {0};
	struct session s;
	X509 *cert = NULL, *ca = NULL;
	char pin[PIN_MAX + 2] = "";
	json_t *out = NULL, *list;
	int c, r, want_sign = 0, rc = CLI_FAILED;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (c == 's')
			want_sign = 1;
		else if (c == 'h') {
			printf("usage: jpki cert show [--sign] [--json] "
			       "[--reader NAME | --card FILE] [--pin-file F]\n"
			       "  the certificates on the card; --sign also "
			       "the signing certificate and its 4 facts,\n"
			       "  after the signing PIN ($JPKI_PIN, "
			       "--pin-file, or asked for)\n"
			       "usage: jpki cert show [--json] CERT-FILE\n"
			       "  one certificate from a file (PEM or DER), "
			       "e.g. a JPKI CA certificate to trust\n");
			return CLI_OK;
		} else if (common_option(&opt, c, optarg) != 0)
			return CLI_USAGE;
	}
	if (optind == argc - 1) {
		if (want_sign || opt.reader || opt.card || opt.pin_file)
			return cli_usage("usage: jpki cert show [--json] "
					 "CERT-FILE (no card options)");
		return cert_show_file(argv[optind], opt.json);
	}
	if (optind != argc)
		return cli_usage("usage: jpki cert show [--sign] [--json]");
	if ((r = session_open(&s, opt.reader, opt.card)) != 0)
		return cli_fail(r, "card");
	out = json_pack("{s:s, s:s, s:[]}", "card",
			s.kind == JPKI_CARD_JUKI ? "juki" : "mynumber",
			"reader", jpki_reader_name(s.rd), "certificates");
	list = json_object_get(out, "certificates");
	if (s.kind == JPKI_CARD_MYNUMBER) {
		r = jpki_client_read_cert(&cert, s.rd, JPKI_EF_AUTH_CERT);
		if (r == 0)
			r = jpki_client_read_cert(&ca, s.rd, JPKI_EF_AUTH_CA);
		if (r == 0)
			json_array_append_new(
			    list, describe(cert, ca, JPKI_CERT_AUTH));
		else if (r != JPKI_ERR_NOT_FOUND)
			goto fail;
		X509_free(cert);
		X509_free(ca);
		cert = ca = NULL;
	}
	if (want_sign) {
		if ((r = cli_read_secret(
			 pin, sizeof(pin), opt.pin_file, "JPKI_PIN",
			 "signing PIN (署名用パスワード)")) != 0 ||
		    (r = jpki_client_pin_verify(s.rd, JPKI_PIN_SIGN, pin,
						NULL)) != 0 ||
		    (r = jpki_client_read_cert(&cert, s.rd,
					       JPKI_EF_SIGN_CERT)) != 0 ||
		    (r = jpki_client_read_cert(&ca, s.rd, JPKI_EF_SIGN_CA)) !=
			0)
			goto fail;
		json_array_append_new(list, describe(cert, ca, JPKI_CERT_SIGN));
	}
	if (json_array_size(list) == 0) {
		r = jpki_err_set(JPKI_ERR_NOT_FOUND,
				 "this card holds no certificate to show%s",
				 want_sign || s.kind == JPKI_CARD_JUKI
				     ? ""
				     : " (try --sign)");
		goto fail;
	}
	if (opt.json) {
		cli_json_print(out);
		out = NULL;
	} else {
		printf("%s in %s\n", kind_name(s.kind), jpki_reader_name(s.rd));
		for (size_t i = 0; i < json_array_size(list); i++)
			print_cert(json_array_get(list, i));
	}
	rc = CLI_OK;
	goto out;
fail:
	rc = cli_fail(r, "cert show");
out:
	jpki_wipe(pin, sizeof(pin));
	json_decref(out);
	X509_free(cert);
	X509_free(ca);
	session_close(&s);
	return rc;
}

int cli_cert(struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "show") == 0)
		return cert_show(cli, argc - 1, argv + 1);
	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
		printf("usage: jpki cert show [--sign] [--json] "
		       "[--reader NAME | --card FILE]\n"
		       "       jpki cert show [--json] CERT-FILE\n");
		return CLI_OK;
	}
	return cli_usage("usage: jpki cert show [--sign] [--json]");
}

/* ---- pin status / change --------------------------------------------------
 */

static int pin_status(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {CLIENT_OPTIONS, {NULL, 0, NULL, 0}};
	static const char *const names[] = {"authentication", "signing"};
	struct common opt = {0};
	struct session s;
	json_t *out;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1)
		if (c == 'h' || common_option(&opt, c, optarg) != 0)
			return cli_usage("usage: jpki pin status [--json] "
					 "[--reader NAME | --card FILE]");
	if (optind != argc)
		return cli_usage("usage: jpki pin status [--json]");
	if ((r = session_open(&s, opt.reader, opt.card)) != 0)
		return cli_fail(r, "card");
	out = json_pack("{s:s}", "card",
			s.kind == JPKI_CARD_JUKI ? "juki" : "mynumber");
	if (!opt.json)
		printf("%s in %s\n", kind_name(s.kind), jpki_reader_name(s.rd));
	for (int i = 0; i < 2; i++) {
		int tries, max = jpki_card_pin_max_tries(s.kind, i);

		if ((r = jpki_client_pin_tries(&tries, s.rd, i)) != 0) {
			json_decref(out);
			session_close(&s);
			return cli_fail(r, "pin status");
		}
		if (tries < 0)
			continue;
		json_object_set_new(out, names[i],
				    json_pack("{s:i, s:i, s:b}", "tries_left",
					      tries, "max_tries", max, "locked",
					      tries == 0));
		if (opt.json)
			continue;
		if (tries == 0)
			printf("  %s PIN: LOCKED (only the municipality window "
			       "can unlock it)\n",
			       names[i]);
		else
			printf("  %s PIN: %d of %d tries left\n", names[i],
			       tries, max);
	}
	session_close(&s);
	if (opt.json)
		cli_json_print(out);
	else
		json_decref(out);
	return CLI_OK;
}

static int pin_change(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    CLIENT_OPTIONS,
	    {"auth", no_argument, NULL, 'a'},
	    {"sign", no_argument, NULL, 's'},
	    {"new-pin-file", required_argument, NULL, 'N'},
	    {NULL, 0, NULL, 0}};
	struct common opt = {0};
	const char *new_file = NULL;
	char old_pin[PIN_MAX + 2] = "", new_pin[PIN_MAX + 2] = "",
			       again[PIN_MAX + 2] = "";
	struct session s = {0};
	int c, r, which = -1, rc = CLI_FAILED, asked;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (c == 'a' || c == 's') {
			if (which >= 0)
				return cli_usage("--auth or --sign, not both");
			which = c == 'a' ? JPKI_PIN_AUTH : JPKI_PIN_SIGN;
		} else if (c == 'N') {
			new_file = optarg;
		} else if (common_option(&opt, c, optarg) != 0) {
			return cli_usage(
			    "usage: jpki pin change --auth|--sign "
			    "[--pin-file OLD] [--new-pin-file NEW]");
		}
	}
	if (which < 0 || optind != argc)
		return cli_usage("usage: jpki pin change --auth|--sign "
				 "[--pin-file OLD] [--new-pin-file NEW]");
	if ((r = session_open(&s, opt.reader, opt.card)) != 0)
		return cli_fail(r, "card");
	asked = new_file == NULL && getenv("JPKI_NEW_PIN") == NULL;
	if ((r = cli_read_secret(old_pin, sizeof(old_pin), opt.pin_file,
				 "JPKI_PIN", "current PIN")) != 0 ||
	    (r = cli_read_secret(new_pin, sizeof(new_pin), new_file,
				 "JPKI_NEW_PIN", "new PIN")) != 0)
		goto fail;
	jpki_client_pin_upcase(new_pin);
	/* the card kind's rules, before the card is touched */
	if ((r = jpki_card_pin_check(s.kind, which, new_pin,
				     strlen(new_pin))) != 0)
		goto fail;
	if (asked) {
		if ((r = cli_read_secret(again, sizeof(again), NULL, NULL,
					 "new PIN again")) != 0)
			goto fail;
		jpki_client_pin_upcase(again);
		if (strcmp(again, new_pin) != 0) {
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "the two new PINs differ; nothing "
					 "changed");
			goto fail;
		}
	}
	if ((r = jpki_client_pin_change(s.rd, s.kind, which, old_pin,
					new_pin)) != 0)
		goto fail;
	printf("the %s PIN is changed\n",
	       which == JPKI_PIN_AUTH ? "authentication" : "signing");
	rc = CLI_OK;
	goto out;
fail:
	rc = cli_fail(r, "pin change");
out:
	jpki_wipe(old_pin, sizeof(old_pin));
	jpki_wipe(new_pin, sizeof(new_pin));
	jpki_wipe(again, sizeof(again));
	session_close(&s);
	return rc;
}

int cli_pin(struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "status") == 0)
		return pin_status(cli, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "change") == 0)
		return pin_change(cli, argc - 1, argv + 1);
	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
		printf("usage: jpki pin status [--json]\n"
		       "       jpki pin change --auth|--sign [--pin-file OLD] "
		       "[--new-pin-file NEW]\n"
		       "  PINs come from the files, $JPKI_PIN / "
		       "$JPKI_NEW_PIN, or the terminal (no echo);\n"
		       "  lower-case letters are taken as upper-case\n"
		       "  (common: --reader NAME | --card FILE)\n");
		return CLI_OK;
	}
	return cli_usage("usage: jpki pin status|change ...");
}

/* ---- sign -----------------------------------------------------------------
 */

static int load_cert(X509 **out, const char *path)
{
	BIO *b = BIO_new_file(path, "r");

	*out = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	if (*out == NULL && b != NULL) {
		(void)BIO_reset(b);
		*out = d2i_X509_bio(b, NULL);
	}
	BIO_free(b);
	ERR_clear_error();
	if (*out == NULL)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "%s is not a certificate (PEM or DER)",
				    path);
	return 0;
}

/* Refuses to sign with a certificate that no relying party would accept. */
static int sign_usable(X509 *cert, X509 *ca)
{
	struct jpki_client_status_info st;
	char text[512];
	int r;

	if ((r = jpki_client_cert_status(&st, cert, ca)) != 0)
		return r;
	jpki_client_status_text(text, sizeof(text), &st, cert);
	if (st.status == JPKI_CLIENT_UNCHECKED) {
		jpki_log(JPKI_LOG_WARN, "signing certificate %s", text);
		return 0;
	}
	if (st.status != JPKI_CLIENT_VALID)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the signing certificate is %s; no agency "
				    "would accept this signature",
				    text);
	return 0;
}

/* ---- sign --pdf (PAdES) ----------------------------------------------------
 */

/* What the PDF module's signer callback needs. */
struct pades_signer {
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) * extra;
};

static int pades_cms(void *arg, uint8_t **cms, size_t *cms_len,
		     const uint8_t *data, size_t len)
{
	const struct pades_signer *s = arg;

	return jpki_client_pades_sign(cms, cms_len, data, len, s->cert, s->key,
				      s->extra);
}

/* DER of a certificate as a DSS item; the blob's data is the caller's to
 * OPENSSL_free(). */
static int cert_blob(struct jpki_pdf_blob *b, X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	if (n <= 0)
		return JPKI_ERR_NOMEM;
	b->data = der;
	b->len = (size_t)n;
	return 0;
}

/*
 * jpki sign --pdf IN.pdf: PAdES B-B, and with --pades-level b-lt a second
 * update with the signer's OCSP response and the certificates in the DSS.
 * The output is written once, whole, after both updates are made.
 */
static int sign_pdf(struct session *s, const char *in_path,
		    const char *out_path, int lt, const char *pin_file)
{
	struct jpki_pdf_sign_options po = JPKI_PDF_SIGN_OPTIONS_INIT;
	struct pades_signer ps = {0};
	struct jpki_pdf_blob certs[2] = {{0}}, ocsp = {0};
	struct jpki_facts facts;
	char pin[PIN_MAX + 2] = "";
	unsigned char *pdf = NULL;
	uint8_t *signed_pdf = NULL, *lt_pdf = NULL;
	size_t len = 0, signed_len = 0, lt_len = 0;
	X509 *cert = NULL, *ca = NULL;
	int r;

	if ((r = jpki_file_read(&pdf, &len, in_path, JPKI_MAX_PDF)) != 0)
		goto out;
	if (!jpki_pdf_is_pdf(pdf, len)) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "%s is not a PDF (no %%PDF- header)", in_path);
		goto out;
	}
	if ((r = cli_read_secret(pin, sizeof(pin), pin_file, "JPKI_PIN",
				 "signing PIN (署名用パスワード)")) != 0 ||
	    (r = jpki_client_pin_verify(s->rd, JPKI_PIN_SIGN, pin, NULL)) !=
		0 ||
	    (r = jpki_client_read_cert(&cert, s->rd, JPKI_EF_SIGN_CERT)) != 0 ||
	    (r = jpki_client_read_cert(&ca, s->rd, JPKI_EF_SIGN_CA)) != 0 ||
	    (r = sign_usable(cert, ca)) != 0 ||
	    (r = jpki_client_card_key(&ps.key, s->rd, JPKI_PIN_SIGN, cert)) !=
		0)
		goto out;
	ps.cert = cert;
	if ((ps.extra = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(ps.extra, ca)) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	/* the signer's name as the certificate gives it, for PDF readers */
	if (jpki_profile_facts_from_cert(&facts, cert) == 0)
		po.name = facts.name;
	jpki_err_clear();
	if ((r = jpki_pdf_sign(&signed_pdf, &signed_len, pdf, len, &po,
			       pades_cms, &ps)) != 0)
		goto out;
	if (lt) {
		/* B-LT: no signature without its validation data */
		if ((r = jpki_client_ocsp_fetch(&ocsp.data, &ocsp.len, cert,
						ca)) != 0) {
			char why[256];

			snprintf(why, sizeof(why), "%s", jpki_err_detail());
			r = jpki_err_set(r,
					 "B-LT needs the signing certificate's "
					 "OCSP response, and nothing was "
					 "written: %s",
					 why);
			goto out;
		}
		if ((r = cert_blob(&certs[0], ca)) != 0 ||
		    (r = cert_blob(&certs[1], cert)) != 0 ||
		    (r = jpki_pdf_add_dss(&lt_pdf, &lt_len, signed_pdf,
					  signed_len, certs, 2, &ocsp, 1)) !=
			0)
			goto out;
	}
	if ((r = jpki_file_write_atomic(out_path, lt ? lt_pdf : signed_pdf,
					lt ? lt_len : signed_len, 0644)) != 0)
		goto out;
	printf("PAdES %s signature of %s written to %s\n",
	       lt ? "B-LT (with the OCSP response in the DSS)" : "B-B",
	       in_path, out_path);
	r = 0;
out:
	jpki_wipe(pin, sizeof(pin));
	sk_X509_free(ps.extra);
	EVP_PKEY_free(ps.key);
	X509_free(cert);
	X509_free(ca);
	OPENSSL_free(certs[0].data);
	OPENSSL_free(certs[1].data);
	OPENSSL_free(ocsp.data);
	free(pdf);
	free(signed_pdf);
	free(lt_pdf);
	return r;
}

static int sign_file(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {CLIENT_OPTIONS,
					  {"out", required_argument, NULL, 'o'},
					  {"detached", no_argument, NULL, 'D'},
					  {"to", required_argument, NULL, 't'},
					  {"pem", no_argument, NULL, 'P'},
					  {"pdf", required_argument, NULL, 'd'},
					  {"pades-level", required_argument,
					   NULL, 'L'},
					  {NULL, 0, NULL, 0}};
	struct common opt = {0};
	const char *out_path = NULL, *to = NULL, *pdf_in = NULL;
	const char *level = NULL;
	char pin[PIN_MAX + 2] = "", *default_out = NULL;
	int c, r, detached = 0, pem = 0, rc = CLI_FAILED;
	struct session s = {0};
	X509 *cert = NULL, *ca = NULL, *agency = NULL;
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *extra = NULL;
	CMS_ContentInfo *cms = NULL, *env = NULL;
	BIO *in = NULL, *out = NULL;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (c == 'o')
			out_path = optarg;
		else if (c == 'D')
			detached = 1;
		else if (c == 't')
			to = optarg;
		else if (c == 'P')
			pem = 1;
		else if (c == 'd')
			pdf_in = optarg;
		else if (c == 'L')
			level = optarg;
		else if (c == 'h' || common_option(&opt, c, optarg) != 0)
			return cli_usage(
			    "usage: jpki sign FILE [--out OUT] "
			    "[--detached] [--to AGENCY_CERT] [--pem] "
			    "[--pin-file F] [--reader NAME | --card F]");
	}
	if (pdf_in != NULL) {
		int lt = level != NULL && strcmp(level, "b-lt") == 0;

		if (optind != argc || detached || to != NULL || pem)
			return cli_usage("usage: jpki sign --pdf IN.pdf "
					 "[--out OUT.pdf] [--pades-level "
					 "b-b|b-lt]");
		if (level != NULL && !lt && strcmp(level, "b-b") != 0)
			return cli_usage("--pades-level is b-b or b-lt");
		if (out_path == NULL) {
			if (asprintf(&default_out, "%s.signed.pdf", pdf_in) <
			    0)
				return cli_fail(JPKI_ERR_NOMEM, "sign");
			out_path = default_out;
		}
		if ((r = session_open(&s, opt.reader, opt.card)) != 0) {
			free(default_out);
			return cli_fail(r, "card");
		}
		r = sign_pdf(&s, pdf_in, out_path, lt, opt.pin_file);
		session_close(&s);
		free(default_out);
		return r != 0 ? cli_fail(r, "sign --pdf") : CLI_OK;
	}
	if (level != NULL)
		return cli_usage("--pades-level goes with --pdf");
	if (optind != argc - 1)
		return cli_usage("usage: jpki sign FILE [--out OUT] "
				 "[--detached] [--to AGENCY_CERT]");
	if (to != NULL && detached)
		return cli_usage("--to sends the application itself: it "
				 "cannot be --detached");
	if (to != NULL && (r = load_cert(&agency, to)) != 0)
		return cli_fail(r, "--to");
	if ((in = BIO_new_file(argv[optind], "rb")) == NULL) {
		ERR_clear_error();
		X509_free(agency);
		return cli_fail(
		    jpki_err_set(JPKI_ERR_IO, "cannot read %s", argv[optind]),
		    "sign");
	}
	if (out_path == NULL) {
		if (asprintf(&default_out, "%s.%s", argv[optind],
			     to ? "p7m" : "p7s") < 0) {
			r = JPKI_ERR_NOMEM;
			goto fail;
		}
		out_path = default_out;
	}
	if ((r = session_open(&s, opt.reader, opt.card)) != 0) {
		rc = cli_fail(r, "card");
		goto out;
	}
	if ((r = cli_read_secret(pin, sizeof(pin), opt.pin_file, "JPKI_PIN",
				 "signing PIN (署名用パスワード)")) != 0 ||
	    (r = jpki_client_pin_verify(s.rd, JPKI_PIN_SIGN, pin, NULL)) != 0 ||
	    (r = jpki_client_read_cert(&cert, s.rd, JPKI_EF_SIGN_CERT)) != 0 ||
	    (r = jpki_client_read_cert(&ca, s.rd, JPKI_EF_SIGN_CA)) != 0 ||
	    (r = sign_usable(cert, ca)) != 0 ||
	    (r = jpki_client_card_key(&key, s.rd, JPKI_PIN_SIGN, cert)) != 0)
		goto fail;
	if ((extra = sk_X509_new_null()) == NULL || !sk_X509_push(extra, ca)) {
		r = JPKI_ERR_NOMEM;
		goto fail;
	}
	if ((r = jpki_client_cms_sign(&cms, in, cert, key, extra, detached)) !=
		0 ||
	    (agency != NULL &&
	     (r = jpki_client_cms_envelope(&env, cms, agency)) != 0))
		goto fail;
	/* the whole output, then one atomic write: no half-written file */
	if ((out = BIO_new(BIO_s_mem())) == NULL ||
	    !(pem ? PEM_write_bio_CMS(out, env ? env : cms)
		  : i2d_CMS_bio(out, env ? env : cms))) {
		ERR_clear_error();
		r = jpki_err_set(JPKI_ERR_CRYPTO, "cannot encode the result");
		goto fail;
	}
	{
		char *bytes;
		long n = BIO_get_mem_data(out, &bytes);

		if ((r = jpki_file_write_atomic(out_path, bytes, (size_t)n,
						0644)) != 0)
			goto fail;
	}
	printf("%s %s of %s written to %s\n",
	       env ? "enveloped signed data" : "signed data",
	       detached ? "(detached)" : "(attached)", argv[optind], out_path);
	rc = CLI_OK;
	goto out;
fail:
	rc = cli_fail(r, "sign");
out:
	jpki_wipe(pin, sizeof(pin));
	sk_X509_free(extra);
	CMS_ContentInfo_free(cms);
	CMS_ContentInfo_free(env);
	EVP_PKEY_free(key);
	X509_free(cert);
	X509_free(ca);
	X509_free(agency);
	BIO_free(in);
	BIO_free(out);
	free(default_out);
	session_close(&s);
	return rc;
}

int cli_sign(struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
		printf("usage: jpki sign FILE [--out OUT] [--detached] "
		       "[--to AGENCY_CERT] [--pem]\n"
		       "  a CMS SignedData over FILE made with the card's "
		       "signing key (FILE.p7s);\n"
		       "  --to encrypts it for the agency as CMS "
		       "EnvelopedData (FILE.p7m)\n"
		       "       jpki sign --pdf IN.pdf [--out OUT.pdf] "
		       "[--pades-level b-b|b-lt]\n"
		       "  a PAdES signature in an incremental update of the "
		       "PDF; b-lt adds the OCSP\n"
		       "  response and the certificates in a DSS\n"
		       "  PIN: --pin-file F, $JPKI_PIN, or asked for; "
		       "--reader NAME | --card FILE\n");
		return CLI_OK;
	}
	return sign_file(cli, argc, argv);
}

/* ---- login ----------------------------------------------------------------
 */

int cli_login(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {CLIENT_OPTIONS, {NULL, 0, NULL, 0}};
	struct jpki_client_login_result res;
	struct common opt = {0};
	struct session s = {0};
	char pin[PIN_MAX + 2] = "";
	int c, r, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: jpki login URL [--json] [--pin-file F] "
			       "[--reader NAME | --card FILE]\n"
			       "  log in at a relying party with the "
			       "authentication certificate and its\n"
			       "  4-digit PIN ($JPKI_PIN, --pin-file, or asked "
			       "for); see docs/LOGIN.md\n");
			return CLI_OK;
		}
		if (common_option(&opt, c, optarg) != 0)
			return CLI_USAGE;
	}
	if (optind != argc - 1)
		return cli_usage("usage: jpki login URL [--json]");
	if ((r = session_open(&s, opt.reader, opt.card)) != 0)
		return cli_fail(r, "card");
	if (s.kind == JPKI_CARD_JUKI) {
		session_close(&s);
		return cli_fail(jpki_err_set(JPKI_ERR_NOT_FOUND,
					     "a Juki card has no "
					     "authentication certificate: "
					     "log-in needs a My Number card"),
				"login");
	}
	if ((r = cli_read_secret(
		 pin, sizeof(pin), opt.pin_file, "JPKI_PIN",
		 "authentication PIN (利用者証明用パスワード, 4 "
		 "digits)")) != 0 ||
	    (r = jpki_client_login(&res, s.rd, argv[optind], pin)) != 0) {
		rc = cli_fail(r, "login");
		goto out;
	}
	if (opt.json) {
		cli_json_print(json_pack(
		    "{s:b, s:i, s:s, s:s, s:s}", "accepted", res.accepted,
		    "http_status", res.http_status, "account", res.account,
		    "serial", res.serial, "message", res.message));
	} else if (res.accepted) {
		printf("logged in at %s as account %s (certificate %s)\n",
		       argv[optind], res.account, res.serial);
	} else {
		fprintf(stderr, "jpki: login: refused by %s: %s\n",
			argv[optind], res.message);
	}
	rc = res.accepted ? CLI_OK : CLI_FAILED;
out:
	jpki_wipe(pin, sizeof(pin));
	session_close(&s);
	return rc;
}
