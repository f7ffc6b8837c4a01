/*
 * HTTPS for `jpki serve` and the client certificates of the internal roles.
 *
 * libmicrohttpd speaks TLS through GnuTLS (Debian builds it so). The files
 * are read and checked with OpenSSL first, so that a wrong file is refused
 * at startup with a sentence rather than by a failed daemon start, and
 * handed to libmicrohttpd as PEM it can parse. With a client CA the
 * server asks every client for a certificate (GnuTLS's "request", not
 * "require": residents reach the public roles without one) and GnuTLS
 * checks in the handshake that the client holds the key of the
 * certificate it sends. Whether that certificate is acceptable is an X.509
 * decision, and the project makes those with OpenSSL: the peer's chain as
 * sent (DER, from the GnuTLS session) is verified by X509_verify_cert()
 * against the client CA file, for TLS client use, at the system time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "http/http_internal.h"

/* An encrypted key would make OpenSSL ask on the terminal: refuse it. */
static int no_passphrase(char *buf, int size, int rw, void *u)
{
	return -1;
}

/* The certificates of a PEM file, in order; at least one. */
static int read_certs(STACK_OF(X509) * *out, const char *path, const char *what)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *in = BIO_new_file(path, "r");
	X509 *c;
	int r = JPKI_ERR_INTERNAL;

	*out = NULL;
	if (certs == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if (in == NULL) {
		r = jpki_err_set(JPKI_ERR_CONFIG, "%s %s cannot be read", what,
				 path);
		goto out;
	}
	while ((c = PEM_read_bio_X509(in, NULL, no_passphrase, NULL)) != NULL) {
		if (!sk_X509_push(certs, c)) {
			X509_free(c);
			r = JPKI_ERR_NOMEM;
			goto out;
		}
	}
	ERR_clear_error(); /* the end of the file */
	if (sk_X509_num(certs) == 0) {
		r = jpki_err_set(JPKI_ERR_CONFIG,
				 "%s %s holds no PEM certificate", what, path);
		goto out;
	}
	*out = certs;
	certs = NULL;
	r = 0;
out:
	BIO_free(in);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/* The certificates again as one NUL-terminated PEM text (caller frees). */
static int certs_pem(char **out, STACK_OF(X509) * certs)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int r = JPKI_ERR_NOMEM;

	*out = NULL;
	if (mem == NULL)
		goto out;
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (!PEM_write_bio_X509(mem, sk_X509_value(certs, i)))
			goto out;
	n = BIO_get_mem_data(mem, &data);
	if (n <= 0 || (*out = strndup(data, (size_t)n)) == NULL)
		goto out;
	r = 0;
out:
	BIO_free(mem);
	return r;
}

/* The key as unencrypted PKCS#8 PEM, which GnuTLS reads whatever form the
 * file had (caller wipes and frees). */
static int key_pem(char **out, EVP_PKEY *key)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int r = JPKI_ERR_NOMEM;

	*out = NULL;
	if (mem == NULL)
		goto out;
	if (!PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL))
		goto out;
	n = BIO_get_mem_data(mem, &data);
	if (n <= 0 || (*out = strndup(data, (size_t)n)) == NULL)
		goto out;
	r = 0;
out:
	/* BIO_free of a memory BIO does not wipe; the key was in it */
	if (mem != NULL && (n = BIO_get_mem_data(mem, &data)) > 0)
		OPENSSL_cleanse(data, (size_t)n);
	BIO_free(mem);
	return r;
}

int http_tls_load(struct jpki_http *srv, const char *cert_path,
		  const char *key_path, const char *client_ca_path)
{
	STACK_OF(X509) *certs = NULL, *cas = NULL;
	EVP_PKEY *key = NULL;
	BIO *in = NULL;
	int r = JPKI_ERR_INTERNAL;

	if (cert_path == NULL || key_path == NULL) {
		r = jpki_err_set(JPKI_ERR_CONFIG,
				 "HTTPS needs both a certificate and its key "
				 "(--tls-cert and --tls-key)");
		goto out;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		r = jpki_err_set(JPKI_ERR_CONFIG,
				 "this libmicrohttpd was built without TLS");
		goto out;
	}
	if ((r = read_certs(&certs, cert_path, "--tls-cert")) != 0)
		goto out;
	if ((in = BIO_new_file(key_path, "r")) == NULL ||
	    (key = PEM_read_bio_PrivateKey(in, NULL, no_passphrase, NULL)) ==
		NULL) {
		ERR_clear_error();
		r = jpki_err_set(JPKI_ERR_CONFIG,
				 "--tls-key %s cannot be read as an "
				 "unencrypted PEM private key",
				 key_path);
		goto out;
	}
	if (X509_check_private_key(sk_X509_value(certs, 0), key) != 1) {
		ERR_clear_error();
		r = jpki_err_set(JPKI_ERR_CONFIG,
				 "--tls-key %s is not the key of the "
				 "certificate in --tls-cert %s",
				 key_path, cert_path);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(sk_X509_value(certs, 0))) <
	    0)
		jpki_log(JPKI_LOG_WARN,
			 "the server certificate %s has expired: clients "
			 "will refuse it",
			 cert_path);
	if ((r = certs_pem(&srv->tls_cert_pem, certs)) != 0 ||
	    (r = key_pem(&srv->tls_key_pem, key)) != 0)
		goto out;
	if (client_ca_path != NULL) {
		if ((r = read_certs(&cas, client_ca_path, "--tls-client-ca")) !=
		    0)
			goto out;
		/* the file's certificates are the anchors, an intermediate
		 * CA among them too: "issued by this CA" is what is asked */
		if ((srv->client_ca = X509_STORE_new()) == NULL ||
		    !X509_STORE_set_flags(srv->client_ca,
					  X509_V_FLAG_PARTIAL_CHAIN)) {
			r = JPKI_ERR_NOMEM;
			goto out;
		}
		for (int i = 0; i < sk_X509_num(cas); i++)
			if (!X509_STORE_add_cert(srv->client_ca,
						 sk_X509_value(cas, i))) {
				r = JPKI_ERR_NOMEM;
				goto out;
			}
		if ((r = certs_pem(&srv->tls_trust_pem, cas)) != 0)
			goto out;
	}
	r = 0;
out:
	BIO_free(in);
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(cas, X509_free);
	return r;
}

void http_tls_free(struct jpki_http *srv)
{
	if (srv->tls_key_pem != NULL) {
		OPENSSL_cleanse(srv->tls_key_pem, strlen(srv->tls_key_pem));
		free(srv->tls_key_pem);
	}
	free(srv->tls_cert_pem);
	free(srv->tls_trust_pem);
	X509_STORE_free(srv->client_ca);
	srv->tls_key_pem = srv->tls_cert_pem = srv->tls_trust_pem = NULL;
	srv->client_ca = NULL;
}

/* RFC 2253 text of a name, UTF-8 kept as it is. */
static void name_text(char *out, size_t size, const X509_NAME *name)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long n;

	out[0] = '\0';
	if (mem == NULL)
		return;
	if (X509_NAME_print_ex(mem, name, 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(mem, &data)) > 0)
		snprintf(out, size, "%.*s", (int)n, data);
	BIO_free(mem);
}

int http_tls_client(char *subject, size_t size, struct jpki_http *srv,
		    struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *peers = NULL;
	unsigned n = 0;
	STACK_OF(X509) *chain = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *leaf = NULL;
	int r = JPKI_ERR_INTERNAL;

	subject[0] = '\0';
	if (srv->client_ca == NULL)
		return jpki_err_set(JPKI_ERR_INTERNAL, "no client CA");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci != NULL && ci->tls_session != NULL)
		peers = gnutls_certificate_get_peers(
		    (gnutls_session_t)ci->tls_session, &n);
	if (peers == NULL || n == 0)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "no client certificate was presented");
	if ((chain = sk_X509_new_null()) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (unsigned i = 0; i < n && i < 8; i++) {
		const unsigned char *p = peers[i].data;
		X509 *c = d2i_X509(NULL, &p, (long)peers[i].size);

		if (c == NULL || p != peers[i].data + peers[i].size) {
			X509_free(c);
			ERR_clear_error();
			r = jpki_err_set(JPKI_ERR_POLICY,
					 "the client certificate is not "
					 "well-formed DER");
			goto out;
		}
		if (i == 0)
			leaf = c;
		else if (!sk_X509_push(chain, c)) {
			X509_free(c);
			r = JPKI_ERR_NOMEM;
			goto out;
		}
	}
	name_text(subject, size, X509_get_subject_name(leaf));
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, srv->client_ca, leaf, chain) ||
	    !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT)) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		int e = X509_STORE_CTX_get_error(ctx);

		ERR_clear_error();
		r = jpki_err_set(JPKI_ERR_POLICY,
				 "the client certificate %s does not verify "
				 "against the client CA: %s",
				 subject, X509_verify_cert_error_string(e));
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		subject[0] = '\0'; /* the refusal's sentence names it */
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	return r;
}

void http_tls_client_fingerprint(char out[65], struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *peers = NULL;
	unsigned char md[32];
	unsigned n = 0, mdlen = 0;

	out[0] = '\0';
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci != NULL && ci->tls_session != NULL)
		peers = gnutls_certificate_get_peers(
		    (gnutls_session_t)ci->tls_session, &n);
	/* the leaf as sent: the DER http_tls_client() verified */
	if (peers == NULL || n == 0 ||
	    !EVP_Digest(peers[0].data, peers[0].size, md, &mdlen,
			EVP_sha256(), NULL))
		return;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}
