/*
 * The three operations on the card, through PC/SC with the client module
 * (the same APDUs as `jpki cert show`, `jpki sign` and `jpki login`). The
 * page chose the operation and its arguments; the host chose everything
 * else: the origin the login is bound to came from the browser, the PINs
 * come from the host's own prompt, and the card signs only what the host
 * built (signed attributes, or the LOGIN.md text). And the seal, which
 * needs no card: public-key work only, with OpenSSL, so that the
 * content-encryption key of "送信" is made and dropped here, never in the
 * page's script.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bridge/bridge_internal.h"
#include "jpki/client.h"

static json_t *b64_json(const unsigned char *p, size_t n)
{
	char *s = OPENSSL_malloc(4 * ((n + 2) / 3) + 1);
	json_t *j;

	if (s == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	j = json_string(s);
	OPENSSL_free(s);
	return j;
}

static json_t *cert_json(X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	json_t *j = n > 0 ? b64_json(der, (size_t)n) : NULL;

	OPENSSL_free(der);
	return j;
}

static int open_card(struct jpki_reader **rd, const char **code,
		     const struct jpki_bridge_options *opt)
{
	enum jpki_card_kind kind;
	char **names = NULL;
	size_t n = 0;
	int r;

	*rd = NULL;
	if (jpki_reader_list(&names, &n) != 0 || n == 0) {
		jpki_reader_names_free(names, n);
		*code = "no_reader";
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "no card reader is connected (or the "
				    "PC/SC service pcscd is not running)");
	}
	jpki_reader_names_free(names, n);
	if ((r = jpki_reader_pcsc(rd, opt->reader)) != 0) {
		*code = "no_card";
		return r;
	}
	if ((r = jpki_client_open_card(&kind, *rd)) != 0) {
		*code = "no_card";
		jpki_reader_free_reset(*rd);
		*rd = NULL;
		return r;
	}
	return 0;
}

/* The prompt program: the options', $JPKI_PINENTRY, or GnuPG's. */
static const char *prompt_program(const struct jpki_bridge_options *opt)
{
	const char *program = opt->pinentry;

	if (program == NULL)
		program = getenv("JPKI_PINENTRY");
	if (program == NULL || program[0] == '\0')
		program = "pinentry";
	return program;
}

/* Asks the PIN by the host's prompt (pin gets it; the caller wipes it),
 * after the card said it is not locked. */
static int ask_pin(char *pin, size_t size, const char **code,
		   const struct jpki_bridge_options *opt,
		   struct jpki_reader *rd, enum jpki_card_pin which,
		   const char *desc)
{
	const char *program = prompt_program(opt);
	char text[2048];
	int tries, r;

	pin[0] = '\0';
	if ((r = jpki_client_pin_tries(&tries, rd, which)) != 0) {
		*code = "internal";
		return r;
	}
	if (tries < 0) {
		*code = "no_card";
		return jpki_err_set(JPKI_ERR_NOT_FOUND,
				    "this card has no %s (a Juki card?)",
				    which == JPKI_PIN_AUTH
					? "authentication certificate"
					: "signing certificate");
	}
	if (tries == 0) {
		*code = "pin_locked";
		return jpki_err_set(JPKI_ERR_STATE,
				    "the PIN is locked after too many wrong "
				    "tries: only the municipality window "
				    "(市区町村窓口) can unlock it");
	}
	snprintf(text, sizeof(text), "%s\n\n(%d %s left)", desc, tries,
		 tries == 1 ? "try" : "tries");
	r = jpki_bridge_pinentry(
	    pin, size, program, text,
	    which == JPKI_PIN_AUTH
		? "Authentication PIN (利用者証明用パスワード, 4 digits):"
		: "Signing PIN (署名用パスワード):",
	    NULL);
	if (r == JPKI_ERR_STATE)
		*code = "pin_cancelled";
	else if (r != 0)
		*code = "internal";
	return r;
}

/* The protocol's word for a failed VERIFY (or an operation that began
 * with one): wrong, locked, or something else. */
static const char *verify_code(int r, struct jpki_reader *rd,
			       enum jpki_card_pin which)
{
	int tries;

	if (r == JPKI_ERR_POLICY)
		return "pin_wrong";
	if (r == JPKI_ERR_STATE && jpki_client_pin_tries(&tries, rd, which) ==
				       0 &&
	    tries == 0)
		return "pin_locked";
	return "internal";
}

static int op_certificates(json_t **result, const char **code,
			   const struct jpki_bridge_options *opt,
			   const struct jpki_bridge_request *req,
			   struct jpki_reader *rd)
{
	static const struct {
		const char *name;
		uint16_t fid;
	} files[] = {{"authentication", JPKI_EF_AUTH_CERT},
		     {"authentication_ca", JPKI_EF_AUTH_CA},
		     {"signing_ca", JPKI_EF_SIGN_CA}};
	char desc[512];
	json_t *j = NULL;
	int r;

	/* no PIN, but the person's word: the certificate is the same for
	 * every site, so a page reading it unasked could follow the card
	 * from site to site */
	snprintf(desc, sizeof(desc),
		 "%s asks to read the certificates of your My Number card "
		 "(利用者証明用電子証明書). They identify your card to that "
		 "site. Allow?",
		 req->origin);
	if ((r = jpki_bridge_confirm(prompt_program(opt), desc)) != 0) {
		*code = r == JPKI_ERR_STATE ? "pin_cancelled" : "internal";
		return r;
	}
	r = JPKI_ERR_NOMEM;
	if ((j = json_object()) == NULL)
		goto out;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		X509 *x = NULL;

		if ((r = jpki_client_read_cert(&x, rd, files[i].fid)) != 0) {
			*code = "no_card";
			goto out;
		}
		r = json_object_set_new(j, files[i].name, cert_json(x)) == 0
			? 0
			: JPKI_ERR_NOMEM;
		X509_free(x);
		if (r != 0)
			goto out;
	}
	*result = j;
	j = NULL;
	r = 0;
out:
	json_decref(j);
	return r;
}

static int op_sign(json_t **result, const char **code,
		   const struct jpki_bridge_options *opt,
		   const struct jpki_bridge_request *req,
		   struct jpki_reader *rd)
{
	char desc[1536], hex[65], pin[64];
	STACK_OF(X509) *extra = NULL;
	CMS_ContentInfo *cms = NULL;
	unsigned char *der = NULL;
	X509 *cert = NULL, *ca = NULL;
	EVP_PKEY *key = NULL;
	json_t *j = NULL;
	int r, n;

	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", req->hash[i]);
	snprintf(desc, sizeof(desc),
		 "%s asks you to sign with your My Number card's signing "
		 "certificate (署名用電子証明書):\n\n%s\n\nSHA-256 %s",
		 req->origin, req->description, hex);
	if ((r = ask_pin(pin, sizeof(pin), code, opt, rd, JPKI_PIN_SIGN,
			 desc)) != 0)
		return r;
	r = jpki_client_pin_verify(rd, JPKI_PIN_SIGN, pin, NULL);
	jpki_wipe(pin, sizeof(pin));
	if (r != 0) {
		*code = verify_code(r, rd, JPKI_PIN_SIGN);
		return r;
	}
	*code = "internal";
	if ((r = jpki_client_read_cert(&cert, rd, JPKI_EF_SIGN_CERT)) != 0 ||
	    (r = jpki_client_read_cert(&ca, rd, JPKI_EF_SIGN_CA)) != 0 ||
	    (r = jpki_client_card_key(&key, rd, JPKI_PIN_SIGN, cert)) != 0)
		goto out;
	r = JPKI_ERR_NOMEM;
	if ((extra = sk_X509_new_null()) == NULL || !sk_X509_push(extra, ca))
		goto out;
	ca = NULL; /* the stack holds it now */
	if ((r = jpki_client_cms_sign_digest(&cms, req->hash, 32, cert, key,
					     extra)) != 0)
		goto out;
	r = JPKI_ERR_NOMEM;
	if ((n = i2d_CMS_ContentInfo(cms, &der)) <= 0 ||
	    (j = json_object()) == NULL ||
	    json_object_set_new(j, "cms", b64_json(der, (size_t)n)) != 0 ||
	    json_object_set_new(j, "certificate", cert_json(cert)) != 0)
		goto out;
	*result = j;
	j = NULL;
	r = 0;
out:
	json_decref(j);
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	EVP_PKEY_free(key);
	sk_X509_pop_free(extra, X509_free);
	X509_free(ca);
	X509_free(cert);
	return r;
}

static int op_login(json_t **result, const char **code,
		    const struct jpki_bridge_options *opt,
		    const struct jpki_bridge_request *req,
		    struct jpki_reader *rd)
{
	char desc[512], pin[64];
	char *answer = NULL;
	int r;

	snprintf(desc, sizeof(desc),
		 "%s asks you to log in with your My Number card's "
		 "authentication certificate (利用者証明用電子証明書).",
		 req->origin);
	if ((r = ask_pin(pin, sizeof(pin), code, opt, rd, JPKI_PIN_AUTH,
			 desc)) != 0)
		goto out;
	/* the text signed binds the origin the browser reported, never one
	 * the page wrote */
	r = jpki_client_login_answer(&answer, rd, req->origin, req->challenge,
				     pin);
	jpki_wipe(pin, sizeof(pin));
	if (r != 0) {
		*code = verify_code(r, rd, JPKI_PIN_AUTH);
		goto out;
	}
	if ((*result = json_loads(answer, 0, NULL)) == NULL) {
		*code = "internal";
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	jpki_wipe(pin, sizeof(pin));
	free(answer);
	return r;
}

/*
 * The recipient: one whole DER certificate for an RSA key (CMS key
 * transport, as `jpki sign --to`) whose key usage allows keyEncipherment,
 * valid now. A page that names another certificate gets bad_request.
 */
static int seal_recipient(X509 **out, const struct jpki_bridge_request *req)
{
	const unsigned char *p = req->recipient;
	time_t now = jpki_clock_now();
	EVP_PKEY *pk;
	X509 *x;

	*out = NULL;
	x = d2i_X509(NULL, &p, (long)req->recipient_len);
	if (x == NULL || p != req->recipient + req->recipient_len) {
		X509_free(x);
		ERR_clear_error();
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the recipient is not one DER certificate");
	}
	/* X509_get_key_usage is UINT32_MAX when the extension is absent:
	 * an agency's encryption certificate must say what it is for */
	if (!(X509_get_extension_flags(x) & EXFLAG_KUSAGE) ||
	    !(X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT)) {
		X509_free(x);
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the recipient's certificate is not for "
				    "encryption (no keyEncipherment in its key "
				    "usage): it cannot be the agency's");
	}
	if ((pk = X509_get0_pubkey(x)) == NULL || !EVP_PKEY_is_a(pk, "RSA")) {
		X509_free(x);
		ERR_clear_error();
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the recipient's key is not RSA");
	}
	if (X509_cmp_time(X509_get0_notBefore(x), &now) > 0 ||
	    X509_cmp_time(X509_get0_notAfter(x), &now) < 0) {
		X509_free(x);
		ERR_clear_error();
		return jpki_err_set(JPKI_ERR_POLICY,
				    "the recipient's certificate is not valid "
				    "now (expired or not yet valid)");
	}
	*out = x;
	return 0;
}

/*
 * The page's detached SignedData over the document: one whole DER CMS,
 * detached, of id-data, one signer, whose signature and messageDigest hold
 * for these bytes (the signer's certificate in it; its chain and status
 * are the agency's to check). Then the document is put inside, which the
 * signature does not cover (it covers the signed attributes), so the
 * result is the attached SignedData `jpki sign FILE` writes.
 */
static int seal_attach(CMS_ContentInfo **out,
		       const struct jpki_bridge_request *req)
{
	const unsigned flags = CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY;
	const unsigned char *p = req->signature;
	CMS_ContentInfo *cms = NULL;
	ASN1_OCTET_STRING **content;
	BIO *doc = NULL;
	int r = JPKI_ERR_INVALID;

	*out = NULL;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)req->signature_len);
	if (cms == NULL || p != req->signature + req->signature_len ||
	    OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data ||
	    sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "the signature is not a CMS SignedData of "
				 "one signer over data");
		goto out;
	}
	if (!CMS_is_detached(cms)) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "the signature must be detached (the "
				 "document travels beside it)");
		goto out;
	}
	if ((doc = BIO_new_mem_buf(req->document, (int)req->document_len)) ==
	    NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if (CMS_verify(cms, NULL, NULL, doc, NULL, flags) != 1) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the signature is not over this document "
				 "(changed after signing?)");
		goto out;
	}
	/* CMS_set_detached(, 0) leaves an empty placeholder to fill */
	if (!CMS_set_detached(cms, 0) ||
	    (content = CMS_get0_content(cms)) == NULL || *content == NULL ||
	    !ASN1_OCTET_STRING_set(*content, req->document,
				   (int)req->document_len)) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	(*content)->flags &= ~ASN1_STRING_FLAG_CONT;
	/* what goes to the agency verifies as it will there */
	if (CMS_verify(cms, NULL, NULL, NULL, NULL, flags) != 1) {
		r = jpki_err_set(JPKI_ERR_CRYPTO,
				 "the attached signed data does not verify");
		goto out;
	}
	*out = cms;
	cms = NULL;
	r = 0;
out:
	ERR_clear_error();
	BIO_free(doc);
	CMS_ContentInfo_free(cms);
	return r;
}

static int op_seal(json_t **result, const char **code,
		   const struct jpki_bridge_request *req)
{
	CMS_ContentInfo *signed_ = NULL, *env = NULL;
	unsigned char *der = NULL;
	X509 *to = NULL;
	json_t *j = NULL;
	int r, n;

	*code = "bad_request";
	if ((r = seal_recipient(&to, req)) != 0 ||
	    (r = seal_attach(&signed_, req)) != 0)
		goto out;
	*code = "internal";
	if ((r = jpki_client_cms_envelope(&env, signed_, to)) != 0)
		goto out;
	r = JPKI_ERR_NOMEM;
	if ((n = i2d_CMS_ContentInfo(env, &der)) <= 0 ||
	    (j = json_object()) == NULL ||
	    json_object_set_new(j, "p7m", b64_json(der, (size_t)n)) != 0)
		goto out;
	*result = j;
	j = NULL;
	r = 0;
out:
	json_decref(j);
	OPENSSL_free(der);
	CMS_ContentInfo_free(env);
	CMS_ContentInfo_free(signed_);
	X509_free(to);
	return r;
}

int bridge_op(json_t **result, const char **code,
	      const struct jpki_bridge_options *opt,
	      const struct jpki_bridge_request *req)
{
	struct jpki_reader *rd = NULL;
	int r;

	*result = NULL;
	*code = "internal";
	/* the seal is public-key work: no card, no PIN */
	if (req->op == JPKI_BRIDGE_SEAL)
		return op_seal(result, code, req);
	if ((r = open_card(&rd, code, opt)) != 0)
		return r;
	switch (req->op) {
	case JPKI_BRIDGE_CERTIFICATES:
		r = op_certificates(result, code, opt, req, rd);
		break;
	case JPKI_BRIDGE_SIGN:
		r = op_sign(result, code, opt, req, rd);
		break;
	case JPKI_BRIDGE_LOGIN:
		r = op_login(result, code, opt, req, rd);
		break;
	default:
		*code = "unknown_op";
		r = jpki_err_set(JPKI_ERR_INVALID, "unknown op");
	}
	/* no PIN verified for this page stays verified on the card */
	jpki_reader_free_reset(rd);
	return r;
}
