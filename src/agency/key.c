/*
 * The agency's key and certificate: residents encrypt their applications
 * to it (CMS EnvelopedData, RSA key transport), and the agency decrypts
 * them with it. A development pair is made on first use.
 */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "jpki/agency.h"

static int agency_make(EVP_PKEY **key, X509 **cert)
{
	X509_NAME *name = NULL;
	X509V3_CTX ctx;
	X509_EXTENSION *ext = NULL;
	time_t now = jpki_clock_now();
	int r = JPKI_ERR_CRYPTO;

	*key = EVP_RSA_gen(2048);
	*cert = X509_new();
	name = X509_NAME_new();
	if (*key == NULL || *cert == NULL || name == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "C", MBSTRING_UTF8,
					(const unsigned char *)"JP", -1, -1,
					0) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
					(const unsigned char *)"OpenJPKI", -1,
					-1, 0) ||
	    !X509_NAME_add_entry_by_txt(
		name, "CN", MBSTRING_UTF8,
		(const unsigned char *)"OpenJPKI agency (development)", -1, -1,
		0) ||
	    !X509_set_version(*cert, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(*cert), (long)now) ||
	    !X509_set_subject_name(*cert, name) ||
	    !X509_set_issuer_name(*cert, name) ||
	    X509_time_adj_ex(X509_getm_notBefore(*cert), -1, 0, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(*cert), 5 * 365, 0, &now) ==
		NULL ||
	    !X509_set_pubkey(*cert, *key))
		goto out;
	X509V3_set_ctx(&ctx, *cert, *cert, NULL, NULL, 0);
	/* keyEncipherment: residents wrap the content key to it (CMS
	 * EnvelopedData with RSA key transport) */
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
				       "critical,digitalSignature,"
				       "keyEncipherment")) == NULL ||
	    !X509_add_ext(*cert, ext, -1))
		goto out;
	X509_EXTENSION_free(ext);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier,
				       "hash")) == NULL ||
	    !X509_add_ext(*cert, ext, -1) ||
	    X509_sign(*cert, *key, EVP_sha256()) <= 0)
		goto out;
	r = 0;
out:
	X509_EXTENSION_free(ext);
	X509_NAME_free(name);
	if (r != 0) {
		ERR_clear_error();
		EVP_PKEY_free(*key);
		X509_free(*cert);
		*key = NULL;
		*cert = NULL;
		return jpki_err_set(r, "cannot make the agency's key and "
				       "certificate");
	}
	return 0;
}

/* PEM text of what `write` puts into a memory BIO, written atomically. */
static int pem_save(const char *path, int mode, BIO *mem)
{
	char *data;
	long n = BIO_get_mem_data(mem, &data);

	if (n <= 0)
		return jpki_err_set(JPKI_ERR_CRYPTO, "cannot encode %s", path);
	return jpki_file_write_atomic(path, data, (size_t)n, mode);
}

int jpki_agency_key(EVP_PKEY **key, X509 **cert, const char *key_path,
		    const char *cert_path)
{
	BIO *in = NULL, *mem = NULL;
	int r = JPKI_ERR_INTERNAL;

	*key = NULL;
	*cert = NULL;
	if ((in = BIO_new_file(key_path, "r")) == NULL) {
		ERR_clear_error();
		if ((r = agency_make(key, cert)) != 0)
			return r;
		if ((mem = BIO_new(BIO_s_mem())) == NULL ||
		    !PEM_write_bio_PrivateKey(mem, *key, NULL, NULL, 0, NULL,
					      NULL) ||
		    (r = pem_save(key_path, 0600, mem)) != 0 ||
		    BIO_reset(mem) != 1 || !PEM_write_bio_X509(mem, *cert) ||
		    (r = pem_save(cert_path, 0644, mem)) != 0) {
			if (r == 0 || r == JPKI_ERR_INTERNAL)
				r = jpki_err_set(
				    JPKI_ERR_IO,
				    "cannot write the agency's key "
				    "to %s",
				    key_path);
			goto fail;
		}
		jpki_log(JPKI_LOG_INFO,
			 "made the agency's development key %s and its "
			 "self-signed certificate %s",
			 key_path, cert_path);
		BIO_free(mem);
		return 0;
	}
	*key = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
	BIO_free(in);
	in = NULL;
	if (*key == NULL) {
		r = jpki_err_set(JPKI_ERR_PARSE, "%s is not a PEM private key",
				 key_path);
		goto fail;
	}
	if ((in = BIO_new_file(cert_path, "r")) == NULL ||
	    (*cert = PEM_read_bio_X509(in, NULL, NULL, NULL)) == NULL) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "%s is missing or not a PEM certificate",
				 cert_path);
		goto fail;
	}
	if (X509_check_private_key(*cert, *key) != 1) {
		r = jpki_err_set(JPKI_ERR_INVALID,
				 "%s is not the certificate of %s", cert_path,
				 key_path);
		goto fail;
	}
	BIO_free(in);
	return 0;
fail:
	ERR_clear_error();
	BIO_free(in);
	BIO_free(mem);
	EVP_PKEY_free(*key);
	X509_free(*cert);
	*key = NULL;
	*cert = NULL;
	return r;
}
