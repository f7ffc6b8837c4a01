/*
 * The certificates of a signed application, decoded without OpenSSL 3.0's
 * provider decoder, and the trust store of each CA certificate, built once.
 *
 * d2i_X509 decodes the certificate's public key as it goes, and in 3.0 that
 * is the provider decoder framework: a decoder context is built for each
 * key by walking every decoder and key manager of the default provider,
 * about 60 to 80 microseconds each on this class of machine against 25 for
 * the RSA verification itself, and the CMS of an application carries two
 * certificates (the resident's and the signing CA's). Here the CMS is
 * decoded in a library context that holds only the "null" provider, so
 * that decoding finds no key decoder at once and leaves each certificate's
 * key undecoded (everything else of the certificate, its DER included, is
 * decoded as usual). The signer's key alone is then decoded: an RSA key
 * through the RSA ASN.1 method (as profile/pubkey.c does for issuance), any
 * other key through the ordinary decoder. The CA certificate inside the
 * CMS is never used: the chain is checked against the caller's anchors.
 *
 * RSA_new() and d2i_RSAPublicKey() are marked deprecated in 3.0, so this
 * one file asks for them.
 */
#undef OPENSSL_NO_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED

#include <pthread.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "verify/verify_internal.h"

static OSSL_LIB_CTX *keyless;
static pthread_once_t keyless_once = PTHREAD_ONCE_INIT;

static void keyless_init(void)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();

	/* A context with no provider loaded would load the default one at
	 * its first use; with "null" loaded it never does. */
	if (ctx != NULL && OSSL_PROVIDER_load(ctx, "null") == NULL) {
		OSSL_LIB_CTX_free(ctx);
		ctx = NULL;
	}
	keyless = ctx;
	ERR_clear_error();
}

CMS_ContentInfo *verify_cms_d2i(const unsigned char **p, long len)
{
	pthread_once(&keyless_once, keyless_init);
	if (keyless == NULL)
		return d2i_CMS_ContentInfo(NULL, p, len);
	return (CMS_ContentInfo *)ASN1_item_d2i_ex(
	    NULL, p, len, ASN1_ITEM_rptr(CMS_ContentInfo), keyless, NULL);
}

/* rsaEncryption with NULL (or absent) parameters and nothing after the
 * RSAPublicKey, or NULL: the ordinary decoder then decides. */
static EVP_PKEY *rsa_key(X509_PUBKEY *pub)
{
	const unsigned char *p, *start;
	const ASN1_OBJECT *alg = NULL;
	X509_ALGOR *algor = NULL;
	EVP_PKEY *key = NULL;
	RSA *rsa = NULL;
	int len, ptype;

	if (!X509_PUBKEY_get0_param(NULL, &p, &len, &algor, pub) || len <= 0)
		return NULL;
	X509_ALGOR_get0(&alg, &ptype, NULL, algor);
	if (OBJ_obj2nid(alg) != NID_rsaEncryption ||
	    (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF))
		return NULL;
	start = p;
	if ((rsa = d2i_RSAPublicKey(NULL, &p, len)) == NULL ||
	    p != start + len || (key = EVP_PKEY_new()) == NULL ||
	    !EVP_PKEY_assign_RSA(key, rsa)) {
		RSA_free(rsa);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

/* The key of `pub`: RSA through its ASN.1 method, anything else through
 * the ordinary decoder; NULL if it cannot be read. */
static EVP_PKEY *spki_key(X509_PUBKEY *pub)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *key;
	int n;

	if ((key = rsa_key(pub)) != NULL)
		return key;
	if ((n = i2d_X509_PUBKEY(pub, &der)) <= 0)
		return NULL;
	p = der;
	key = d2i_PUBKEY(NULL, &p, n);
	OPENSSL_free(der);
	return key;
}

/*
 * X509_set_pubkey() replaces the certificate's SubjectPublicKeyInfo by one
 * encoded from the key. OpenSSL 3.0 leaves the to-be-signed bytes it keeps
 * from decoding as they were, so the certificate's signature is still
 * checked over the bytes received, even where the key does not encode back
 * to them (rsaEncryption without its NULL, say). The whole certificate is
 * compared before and after all the same, and decoded again by d2i_X509 if
 * it changed: a library that re-encoded would otherwise check the
 * signature over bytes the CA never signed.
 */
int verify_cert_set_key(X509 **again, X509 *cert)
{
	X509_PUBKEY *pub = X509_get_X509_PUBKEY(cert);
	unsigned char *before = NULL, *after = NULL;
	const unsigned char *p;
	EVP_PKEY *key = NULL;
	int n, m, r = JPKI_ERR_NOMEM;

	*again = NULL;
	if (pub == NULL || (key = spki_key(pub)) == NULL) {
		r = 0; /* unreadable: left without a key */
		goto out;
	}
	if ((n = i2d_X509(cert, &before)) <= 0 ||
	    !X509_set_pubkey(cert, key) || (m = i2d_X509(cert, &after)) <= 0)
		goto out;
	if (n != m || memcmp(before, after, (size_t)n) != 0) {
		p = before;
		if ((*again = d2i_X509(NULL, &p, n)) == NULL)
			goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	OPENSSL_free(before);
	OPENSSL_free(after);
	EVP_PKEY_free(key);
	return r;
}

/*
 * The trust store of each CA certificate given as an anchor, built at its
 * first use and shared by every check after it (X509_STORE is safe to
 * verify against from several threads). An entry is found by the
 * certificate's content (X509_cmp), never by its address, and only for an
 * anchor of the check at hand: a store of a CA that is no longer among the
 * caller's anchors is never consulted. A new CA generation is a new
 * certificate, so it gets its own store.
 */
#define STORES_MAX 16

static struct {
	X509 *anchor;
	X509_STORE *store;
} stores[STORES_MAX];
static size_t stores_n, stores_next;
static pthread_mutex_t stores_lock = PTHREAD_MUTEX_INITIALIZER;

int verify_anchor_store(X509_STORE **out, X509 *anchor)
{
	X509_STORE *st = NULL;
	size_t i;
	int r = JPKI_ERR_NOMEM;

	*out = NULL;
	pthread_mutex_lock(&stores_lock);
	for (i = 0; i < stores_n; i++)
		if (X509_cmp(stores[i].anchor, anchor) == 0)
			break;
	if (i < stores_n) {
		st = stores[i].store;
	} else {
		if ((st = X509_STORE_new()) == NULL ||
		    !X509_STORE_add_cert(st, anchor) || !X509_up_ref(anchor)) {
			X509_STORE_free(st);
			goto out;
		}
		/* full: the oldest goes; a check using it holds its own
		 * reference */
		if (stores_n < STORES_MAX) {
			i = stores_n++;
		} else {
			i = stores_next;
			stores_next = (stores_next + 1) % STORES_MAX;
		}
		X509_free(stores[i].anchor);
		X509_STORE_free(stores[i].store);
		stores[i].anchor = anchor;
		stores[i].store = st;
	}
	if (!X509_STORE_up_ref(st))
		goto out;
	*out = st;
	r = 0;
out:
	pthread_mutex_unlock(&stores_lock);
	ERR_clear_error();
	return r;
}
