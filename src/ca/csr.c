/* The intake of a certificate request: PKCS#10, PEM or DER. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca/ca_internal.h"

int jpki_ca_csr_parse(EVP_PKEY **out, const unsigned char *data, size_t len)
{
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if (data == NULL || len == 0)
		return jpki_err_set(JPKI_ERR_PARSE, "the request is empty");
	if (len > JPKI_MAX_CSR)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "the request is %zu bytes, over the limit "
				    "of %d",
				    len, JPKI_MAX_CSR);
	if (len > 10 && memcmp(data, "-----BEGIN", 10) == 0) {
		BIO *bio = BIO_new_mem_buf(data, (int)len);

		if (bio != NULL)
			req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		const unsigned char *p = data;

		req = d2i_X509_REQ(NULL, &p, (long)len);
		if (req != NULL && p != data + len) {
			X509_REQ_free(req);
			req = NULL;
		}
	}
	if (req == NULL) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "not a PKCS#10 certificate request");
		goto out;
	}
	if ((key = X509_REQ_get_pubkey(req)) == NULL) {
		r = jpki_err_set(JPKI_ERR_PARSE,
				 "the request's public key is unreadable");
		goto out;
	}
	if (X509_REQ_verify(req, key) != 1) {
		r = jpki_err_set(JPKI_ERR_SIGNATURE,
				 "the request's signature does not verify: "
				 "it was not made with the key it carries, "
				 "or it was altered");
		goto out;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(key) != 2048) {
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the request's key is not RSA-2048 (JPKI "
				 "certificates are RSA-2048 only)");
		goto out;
	}
	*out = key;
	key = NULL;
	r = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_REQ_free(req);
	return r;
}

int jpki_ca_csr_read(EVP_PKEY **out, const char *path)
{
	unsigned char *data = NULL;
	size_t len;
	int r;

	*out = NULL;
	if ((r = jpki_file_read(&data, &len, path, JPKI_MAX_CSR)) != 0)
		return r;
	r = jpki_ca_csr_parse(out, data, len);
	free(data);
	return r;
}
