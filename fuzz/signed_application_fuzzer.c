/*
 * The signed-application check on arbitrary bytes: every input must give a
 * verdict whose invariants hold (accepted exactly when no reason was
 * given, each reason a sentence, the report renders as JSON), never a
 * crash or an error. The check runs offline: revocation comes from a
 * callback that answers "good", so replaying the corpus touches no
 * network and gives the same verdicts every time.
 *
 * Each input is checked twice: as it is, and with the detached content
 * the seeds were made over ("application form"). The agency key below is
 * a test key made for this target; the enveloped seed is encrypted to it.
 * Seeds: fuzz/corpora/signed_application (attached DER and PEM, detached,
 * enveloped, truncated, garbage), made with `openssl cms` under a
 * throwaway signer. At start the target also makes an application under
 * its own CA and checks that it is accepted, attached and enveloped, so
 * the accepting path is known to be reachable.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/cms.h>
#include <openssl/rsa.h>

#include "fuzz_ca.h"
#include "jpki/verify.h"

#define DETACHED "application form"

static const char agency_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDuXYgalkVXEfWa\n"
    "gfjNBVfTbaTfVll1oT5uVHMSXNZt9rM7ZCZAXe2yxTpnNr1Va2o3yBvVOtSer+hv\n"
    "hoAGhOELIAaYvCBLgnneDXOSS6YJSblGl9qsw+Ku6mufxy2Eo/Psy/Pj41tBCk++\n"
    "UnwgXjXQppt1loY4Vf3NEJsVTw+Rm8ja0fawzji5cqIluqnLdVL8+BuIkGqKpvJ4\n"
    "7p+fS6psv9m+aV5DhKUpxMnnDBcs1H5LNFz4Tmz+NiKusxZLfnghNdQTIhmjw3Tu\n"
    "yoIg9fQ5TyNY+aAhBiNiWu+vRS2zUBWpF2WZh4D9pwN3mJbCLZYJI5wcXg1Km2nT\n"
    "4UVYr7JHAgMBAAECggEAQ9FMpfPXKpyrehg8h2hbwoXRgNF6hmMn9hAE5VaQk5y7\n"
    "BczKrUmMFW7T3QXP/HuhLtm6QYKJd9SolwJ3bmNj+9xSxCXSMmme7rR5C0iGpuHY\n"
    "2uLdjoX0+rsrf7wVkUVsYxTsAQxwrCKY6ZdiRXtIaGLenCgFbAXbPfrZhMiHr29M\n"
    "smvFtXC5v+dA9BY7gw/LtKdwrTV4GHzibktMxDBUR6pGjkn4XHgkTgzhEw4RTp0K\n"
    "Ynbvb2gxvrz014pvAGqA8pvG5/wYNctOeg4XQAwcnDUyIPZ6SbSpNYF1Ek1g65RV\n"
    "DLtYNcS1OW7iSHPMSqUxaFsCcC8X44j6PDZYbitHMQKBgQD7NarWxTw6fOHpcMQn\n"
    "Rw6w4bWGHmEArFfTpF1qQicLm2vaP93jsNSDVXdu2dlCu5sV56UrG5mdlAhktIE5\n"
    "cOAPkbgpA2XZRQXZJZKXhSWqATWbAEPUrly0+Ifj9c87Scq2pwf4k4uwxpJmiTXR\n"
    "Uj2udFNz5eMSUOpwGDCv7D2G1QKBgQDy6SmKD1fmqwvkBMweYk5ubCp73njSKH1g\n"
    "TcZavhXsY61DnL4Tppa/2mG+A7yrPpXLI16fCMh0fDyvf+cHkYegUH10h/3uPegH\n"
    "aA+PsKnrs3K2+D0KWphBw0bODg4+vCfBPdxIyipXuSb1of5tCm2qfcTxY2jiR/cG\n"
    "yYxwWNEaqwKBgDH246riAe+0JQ7UQf95758Y1Yz+f9atcK6Es5vN2oxBdnsrVsvR\n"
    "wQL6Pc4LgF34iIkb0Ms5Kx2fcufsywMMw1P1bMajiV9kjhw5j+WZMvuUUAArVlJ3\n"
    "97J6+DRMENK/A5W+tSQo3JDlffrs8YpXrDMFqg+UOszK0UZIWW60MyydAoGAeb0r\n"
    "KVsJNbyxp+RTnEKuhh7Fp/DWYpUSSMqRx3aOrDtEYadTh6usz5gV9lIPI0+paPZf\n"
    "/Jo9REvjah1S3vMrosfUKCvjspvqBpQ7gEsMzejQbCy7As5mkkbY3Hok34IS9oEX\n"
    "Po+7at2LTf2S8nkQfyqrIkMtFIL2pbsrHD8XBSMCgYAhMBWjybKV6j5y3xIcH0aI\n"
    "d30m+dXGiTvl2ceJW7/6FXcsjX2zkQlY9GASqP7ytXUXlEKSkBucEtwFjqBjOO66\n"
    "+msc7kGPWR/Pk/d5BKqjYvFpn/JXQikiSRYjUidiAI2dX4pOeXuGozwVqhhdgEnl\n"
    "UCgRxGKXjU1u5nXidjsmfw==\n"
    "-----END PRIVATE KEY-----\n";

static const char agency_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDDzCCAfegAwIBAgIUEEIJKd60pqjiDJBiilPhtj2BFHIwDQYJKoZIhvcNAQEL\n"
    "BQAwFjEUMBIGA1UEAwwLZnV6eiBhZ2VuY3kwIBcNMjYxMTIzMDU1NTQ4WhgPMjEy\n"
    "NjEwMzAwNTU1NDhaMBYxFDASBgNVBAMMC2Z1enogYWdlbmN5MIIBIjANBgkqhkiG\n"
    "9w0BAQEFAAOCAQ8AMIIBCgKCAQEA7l2IGpZFVxH1moH4zQVX022k31ZZdaE+blRz\n"
    "ElzWbfazO2QmQF3tssU6Zza9VWtqN8gb1TrUnq/ob4aABoThCyAGmLwgS4J53g1z\n"
    "kkumCUm5RpfarMPiruprn8cthKPz7Mvz4+NbQQpPvlJ8IF410KabdZaGOFX9zRCb\n"
    "FU8PkZvI2tH2sM44uXKiJbqpy3VS/PgbiJBqiqbyeO6fn0uqbL/ZvmleQ4SlKcTJ\n"
    "5wwXLNR+SzRc+E5s/jYirrMWS354ITXUEyIZo8N07sqCIPX0OU8jWPmgIQYjYlrv\n"
    "r0Uts1AVqRdlmYeA/acDd5iWwi2WCSOcHF4NSptp0+FFWK+yRwIDAQABo1MwUTAd\n"
    "BgNVHQ4EFgQUUVXzb8mPEJqvQKp2zZWkYtkXJX0wHwYDVR0jBBgwFoAUUVXzb8mP\n"
    "EJqvQKp2zZWkYtkXJX0wDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOC\n"
    "AQEAXxFifrmQLcholQH+N/mx3lZ+SKqP5Aun59q3g3rUsFWhfaeP/8OGVhhNNpDp\n"
    "ezuoht3SC4d+9PTipsT4pFmfzzRTq1NPnKlvuTE76EDYBNgomeodUJhm7JlexpdW\n"
    "O5C7qh0TDTKbeAuo8O2NnHybj4LNO2Nft8Jipg2kwhT4CaFDpJminx+CDSVDM0GF\n"
    "sb797aEUuHOXIzPBY+73JU9r5TW5dIXyHox7vooEvItF/02wA8jNU+eM2FKj8sFF\n"
    "cKprWrqRedYuf5nVtrU/qajd919NL6L6JlVolO3ek0X5cbafSZuTuBMnn2laLG3d\n"
    "Gjj9+/ZOq0OdH9zGXUtGO6vPTQ==\n"
    "-----END CERTIFICATE-----\n";

static EVP_PKEY *agency_key, *signer_key;
static X509 *agency_cert, *signer_cert;

static void cleanup(void)
{
	EVP_PKEY_free(agency_key);
	EVP_PKEY_free(signer_key);
	X509_free(agency_cert);
	X509_free(signer_cert);
}

static int always_good(void *arg, X509 *cert, X509 *issuer, const char *serial,
		       enum jpki_verify_status *status, int *reason)
{
	*status = JPKI_VERIFY_GOOD;
	*reason = -1;
	return 0;
}

/* Checks one input and the verdict's invariants; returns accepted. */
static int check(const uint8_t *data, size_t size, int with_content)
{
	X509 *anchor = jpki_ca_cert(fuzz_ca, JPKI_CERT_SIGN);
	struct jpki_verify_options o = JPKI_VERIFY_OPTIONS_INIT;
	struct jpki_verify_report rep;
	char *json = NULL;
	int accepted;

	o.anchors = &anchor;
	o.n_anchors = 1;
	o.agency_key = agency_key;
	o.agency_cert = agency_cert;
	o.form_name = "山田 太郎";
	o.form_address = "東京都";
	o.status = always_good;
	o.offline = 1;
	if (with_content) {
		o.content = (const uint8_t *)DETACHED;
		o.content_len = strlen(DETACHED);
	}
	if (jpki_verify_application(&rep, &o, data, size) != 0)
		fuzz_die("verify");
	if (rep.accepted != (rep.n_reasons == 0) ||
	    rep.n_reasons > JPKI_VERIFY_MAX_REASONS ||
	    (rep.accepted &&
	     (rep.content == NULL || !rep.have_facts || rep.serial[0] == '\0')))
		abort();
	for (size_t i = 0; i < rep.n_reasons; i++)
		if (rep.reasons[i].text[0] == '\0' ||
		    strcmp(jpki_app_refusal_name(rep.reasons[i].why),
			   "unknown") == 0)
			abort();
	if (jpki_verify_report_json(&json, &rep) != 0)
		fuzz_die("report JSON");
	free(json);
	accepted = rep.accepted;
	jpki_verify_report_clear(&rep);
	return accepted;
}

static void self_check(void)
{
	struct jpki_issue_request req = JPKI_ISSUE_REQUEST_INIT;
	struct jpki_cert_info *info = NULL;
	BIO *in = BIO_new_mem_buf(DETACHED, (int)strlen(DETACHED));
	BIO *signed_bio = NULL;
	CMS_ContentInfo *cms, *env = NULL;
	STACK_OF(X509) *to = sk_X509_new_null();
	unsigned char *der = NULL, *env_der = NULL;
	const unsigned char *p;
	int n, env_n = 0;

	req.type = JPKI_CERT_SIGN;
	req.card = JPKI_CARD_MYNUMBER;
	req.person = "P1";
	req.municipality_code = "131016";
	req.prefecture = "Tokyo-to";
	req.municipality = "Chiyoda-ku";
	snprintf(req.facts.name, sizeof(req.facts.name), "山田　太郎");
	snprintf(req.facts.address, sizeof(req.facts.address), "東京都");
	req.facts.sex = JPKI_SEX_MALE;
	req.facts.birth = (struct jpki_date){1980, 6, 1};
	req.card_expiry = (struct jpki_date){2030, 1, 1};
	if ((signer_key = EVP_RSA_gen(2048)) == NULL ||
	    jpki_ca_issue(&info, fuzz_ca, &req, signer_key) != 0)
		fuzz_die("issue");
	p = info->der;
	signer_cert = d2i_X509(NULL, &p, (long)info->der_len);
	jpki_cert_info_free(info);
	cms = signer_cert
		  ? CMS_sign(signer_cert, signer_key, NULL, in, CMS_BINARY)
		  : NULL;
	if (cms == NULL || (n = i2d_CMS_ContentInfo(cms, &der)) <= 0 ||
	    to == NULL || !sk_X509_push(to, agency_cert) ||
	    (signed_bio = BIO_new_mem_buf(der, n)) == NULL ||
	    (env = CMS_encrypt(to, signed_bio, EVP_aes_256_cbc(),
			       CMS_BINARY)) == NULL ||
	    (env_n = i2d_CMS_ContentInfo(env, &env_der)) <= 0)
		fuzz_die("sign");
	if (!check(der, (size_t)n, 0) || !check(env_der, (size_t)env_n, 0) ||
	    check(der, (size_t)n - 1, 0))
		fuzz_die("self-check");
	OPENSSL_free(der);
	OPENSSL_free(env_der);
	CMS_ContentInfo_free(cms);
	CMS_ContentInfo_free(env);
	sk_X509_free(to);
	BIO_free(in);
	BIO_free(signed_bio);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	BIO *k = BIO_new_mem_buf(agency_key_pem, -1);
	BIO *c = BIO_new_mem_buf(agency_cert_pem, -1);

	fuzz_ca_setup("http://127.0.0.1:9", cleanup);
	agency_key = k ? PEM_read_bio_PrivateKey(k, NULL, NULL, NULL) : NULL;
	agency_cert = c ? PEM_read_bio_X509(c, NULL, NULL, NULL) : NULL;
	BIO_free(k);
	BIO_free(c);
	if (agency_key == NULL || agency_cert == NULL)
		fuzz_die("agency key");
	self_check();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, 0);
	check(data, size, 1);
	return 0;
}
