/*
 * The card's private key as OpenSSL sees it. The key never leaves the card:
 * an RSA key with only the public half and an RSA_METHOD whose sign is the
 * card's COMPUTE SIGNATURE over the DigestInfo built here. OpenSSL 3 treats a
 * key with its own RSA_METHOD as a "foreign" key and routes EVP and CMS
 * signing through it; that method interface is marked deprecated in 3.0 but
 * is what OpenSSL offers short of writing a provider, so this one file asks
 * for it.
 */
#undef OPENSSL_NO_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED

#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "jpki/client.h"
#include "jpki/profile.h"

struct card_key {
	struct jpki_reader *rd;
	enum jpki_card_pin which;
};

static int ex_index = -1;
static RSA_METHOD *method;

static void free_ex(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
		    long argl, void *argp)
{
	OPENSSL_free(ptr);
}

static int card_sign(int type, const unsigned char *m, unsigned int m_len,
		     unsigned char *sigret, unsigned int *siglen,
		     const RSA *rsa)
{
	const struct card_key *k = RSA_get_ex_data(rsa, ex_index);
	uint8_t apdu[JPKI_MAX_APDU] = {0x80, 0x2A, 0x00, 0x80};
	uint8_t resp[JPKI_READER_MAX_RESPONSE];
	size_t resp_len = sizeof(resp);
	unsigned char *di = NULL;
	int di_len, r;

	if (k == NULL)
		return 0;
	if ((di_len = jpki_profile_digest_info(&di, type, m, m_len)) <= 0 ||
	    (size_t)di_len > 255) {
		OPENSSL_free(di);
		jpki_err_set(JPKI_ERR_CRYPTO, "cannot build the DigestInfo");
		return 0;
	}
	apdu[4] = (uint8_t)di_len;
	memcpy(apdu + 5, di, (size_t)di_len);
	apdu[5 + di_len] = 0x00;
	OPENSSL_free(di);
	if ((r = jpki_reader_select_ef(k->rd, k->which == JPKI_PIN_SIGN
						  ? JPKI_EF_SIGN_KEY
						  : JPKI_EF_AUTH_KEY)) != 0 ||
	    (r = jpki_reader_command(k->rd, apdu, 6 + (size_t)di_len, resp,
				     &resp_len,
				     "COMPUTE SIGNATURE (is the PIN "
				     "verified?)")) != 0)
		return 0;
	if (resp_len != (size_t)RSA_size(rsa)) {
		jpki_err_set(JPKI_ERR_CRYPTO,
			     "the card's signature is %zu bytes, not %d",
			     resp_len, RSA_size(rsa));
		return 0;
	}
	memcpy(sigret, resp, resp_len);
	*siglen = (unsigned int)resp_len;
	return 1;
}

static int setup(void)
{
	if (method != NULL)
		return 1;
	if (ex_index < 0)
		ex_index = RSA_get_ex_new_index(0, NULL, NULL, NULL, free_ex);
	if (ex_index < 0)
		return 0;
	method = RSA_meth_dup(RSA_PKCS1_OpenSSL());
	if (method == NULL)
		return 0;
	RSA_meth_set1_name(method, "JPKI card");
	RSA_meth_set_sign(method, card_sign);
	/* no private-key operation other than signing happens here */
	RSA_meth_set_priv_enc(method, NULL);
	RSA_meth_set_priv_dec(method, NULL);
	return 1;
}

int jpki_client_card_key(EVP_PKEY **out, struct jpki_reader *rd,
			 enum jpki_card_pin which, X509 *cert)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	const RSA *src = pub ? EVP_PKEY_get0_RSA(pub) : NULL;
	struct card_key *k = NULL;
	BIGNUM *n = NULL, *e = NULL;
	RSA *rsa = NULL;

	*out = NULL;
	if (src == NULL)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "the card's certificate has no RSA key");
	if (!setup() || (rsa = RSA_new()) == NULL ||
	    (k = OPENSSL_zalloc(sizeof(*k))) == NULL ||
	    (n = BN_dup(RSA_get0_n(src))) == NULL ||
	    (e = BN_dup(RSA_get0_e(src))) == NULL)
		goto fail;
	k->rd = rd;
	k->which = which;
	if (!RSA_set0_key(rsa, n, e, NULL))
		goto fail;
	n = e = NULL;
	if (!RSA_set_ex_data(rsa, ex_index, k))
		goto fail;
	k = NULL;
	if (!RSA_set_method(rsa, method) || (*out = EVP_PKEY_new()) == NULL ||
	    !EVP_PKEY_assign_RSA(*out, rsa)) {
		EVP_PKEY_free(*out);
		*out = NULL;
		goto fail;
	}
	return 0;
fail:
	ERR_clear_error();
	BN_free(n);
	BN_free(e);
	OPENSSL_free(k);
	RSA_free(rsa);
	return jpki_err_set(JPKI_ERR_CRYPTO, "cannot make the card's key");
}
