/*
 * The verifier's check of a linking answer (jpki_verify_link_check: CMS
 * SignedData, the signer, the JSON inside) on arbitrary bytes: every input
 * is accepted with a JSON object as its content, or refused with a parse,
 * signature or policy error and nothing returned; never a crash.
 *
 * At start the target makes a CA in a temporary store, issues one signing
 * certificate and checks that the CA's own answer about it is accepted,
 * so the accepting path is known to be reachable; an input "@A@" is
 * replaced by that answer, and an input starting "@A@" by the answer with
 * the rest of the input written over its tail. Seeds: fuzz/corpora/
 * link_answer (an answer signed under another CA, one whose content is
 * not an answer, truncated, garbage, the tokens).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/rsa.h>

#include "fuzz_ca.h"
#include "jpki/verify.h"

static unsigned char *good;
static size_t good_len;
static char serial[41];

static void cleanup(void)
{
	free(good);
}

static void check(const uint8_t *data, size_t size, const char *want)
{
	char *body = NULL;
	int r = jpki_verify_link_check(&body, data, size,
				       jpki_ca_cert(fuzz_ca, JPKI_CERT_SIGN),
				       want, NULL);

	if (r == 0) {
		json_t *o = body != NULL ? json_loads(body, 0, NULL) : NULL;

		if (!json_is_object(o))
			abort(); /* accepted, but no answer in it */
		json_decref(o);
	} else if (body != NULL ||
		   (r != JPKI_ERR_PARSE && r != JPKI_ERR_SIGNATURE &&
		    r != JPKI_ERR_POLICY)) {
		abort();
	}
	free(body);
}

static void setup(void)
{
	struct jpki_issue_request req = JPKI_ISSUE_REQUEST_INIT;
	struct jpki_cert_info *info = NULL;
	EVP_PKEY *key = EVP_RSA_gen(2048);
	char *body = NULL;

	fuzz_ca_setup("http://127.0.0.1:8080", cleanup);
	req.type = JPKI_CERT_SIGN;
	req.card = JPKI_CARD_MYNUMBER;
	req.person = "F1";
	req.municipality_code = "131016";
	req.prefecture = "Tokyo-to";
	req.municipality = "Chiyoda-ku";
	snprintf(req.facts.name, sizeof(req.facts.name), "山田　太郎");
	req.facts.sex = JPKI_SEX_MALE;
	req.facts.birth = (struct jpki_date){1980, 6, 1};
	snprintf(req.facts.address, sizeof(req.facts.address), "千代田１");
	req.card_expiry = (struct jpki_date){2035, 6, 1};
	if (key == NULL || jpki_ca_issue(&info, fuzz_ca, &req, key) != 0)
		fuzz_die("issue");
	snprintf(serial, sizeof(serial), "%s", info->serial);
	if (jpki_ca_link_answer(&good, &good_len, fuzz_ca, JPKI_CERT_SIGN,
				serial) != 0 ||
	    jpki_verify_link_check(&body, good, good_len,
				   jpki_ca_cert(fuzz_ca, JPKI_CERT_SIGN),
				   serial, NULL) != 0)
		fuzz_die("the CA's own answer is refused");
	free(body);
	/* and about another serial it is no answer */
	if (jpki_verify_link_check(&body, good, good_len,
				   jpki_ca_cert(fuzz_ca, JPKI_CERT_SIGN),
				   "01", NULL) != JPKI_ERR_POLICY)
		fuzz_die("an answer about another serial is accepted");
	jpki_cert_info_free(info);
	EVP_PKEY_free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size >= 3 && memcmp(data, "@A@", 3) == 0) {
		unsigned char *copy = malloc(good_len);
		size_t tail = size - 3 < good_len ? size - 3 : good_len;

		if (copy == NULL)
			return 0;
		memcpy(copy, good, good_len);
		memcpy(copy + good_len - tail, data + 3, tail);
		check(copy, good_len, serial);
		check(copy, good_len, NULL);
		free(copy);
		return 0;
	}
	check(data, size, NULL);
	check(data, size, serial);
	return 0;
}
