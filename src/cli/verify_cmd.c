/*
 * `jpki verify`: the agency's check of a signed application (SPEC section
 * 4, step 6) from the command line. Trust comes only from the --ca files
 * the agency names: a verifier that trusted whatever certificate came
 * inside the application would accept anyone's.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "cli/cli.h"
#include "jpki/pdf.h"
#include "jpki/verify.h"

#define MAX_ANCHORS 16

static void help(void)
{
	printf("usage: jpki verify FILE [--content DETACHED] "
	       "[--agency-key KEY.pem --agency-cert CERT.pem]\n"
	       "                   --ca CA.pem [--ca CA.pem]... "
	       "[--form name=N,address=A | --name N --address A]\n"
	       "                   [--json] [--out CONTENT_OUT] [--offline]\n"
	       "  checks a signed application (CMS SignedData, or "
	       "EnvelopedData for the agency):\n"
	       "  signature, signing certificate, chain to the --ca "
	       "certificates (each file may\n"
	       "  hold several generations), validity, revocation (OCSP, "
	       "else the CRL), and the\n"
	       "  name and address against the form. --out writes the signed "
	       "document when\n"
	       "  accepted. Exit 0 accepted, 1 refused, 2 usage.\n"
	       "  A PDF (%%PDF header, or --pdf) is checked at its last "
	       "signature (PAdES):\n"
	       "  the byte range, the CMS over it, the same report; "
	       "--offline uses the OCSP\n"
	       "  response of its DSS (B-LT). --out then writes the PDF.\n");
}

/* Appends every certificate of a PEM (or one DER) file to anchors. */
static int load_anchors(X509 **anchors, size_t *n, const char *path)
{
	unsigned char *data = NULL;
	size_t len = 0, before = *n;
	BIO *in = NULL;
	X509 *x;
	int r;

	if ((r = jpki_file_read(&data, &len, path, 1024 * 1024)) != 0)
		return r;
	r = JPKI_ERR_NOMEM;
	if ((in = BIO_new_mem_buf(data, (int)len)) == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		if (*n == MAX_ANCHORS) {
			X509_free(x);
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "at most %d trusted CA certificates",
					 MAX_ANCHORS);
			goto out;
		}
		anchors[(*n)++] = x;
	}
	if (*n == before) {
		const unsigned char *p = data;

		if ((x = d2i_X509(NULL, &p, (long)len)) == NULL) {
			r = jpki_err_set(JPKI_ERR_PARSE,
					 "%s holds no certificate (PEM or DER)",
					 path);
			goto out;
		}
		if (*n == MAX_ANCHORS) {
			X509_free(x);
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "at most %d trusted CA certificates",
					 MAX_ANCHORS);
			goto out;
		}
		anchors[(*n)++] = x;
	}
	r = 0;
out:
	ERR_clear_error();
	BIO_free(in);
	free(data);
	return r;
}

static int load_key(EVP_PKEY **out, const char *path)
{
	BIO *in = BIO_new_file(path, "r");

	*out = in ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL) : NULL;
	BIO_free(in);
	ERR_clear_error();
	if (*out == NULL)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "%s is not a readable PEM private key",
				    path);
	return 0;
}

static int load_cert(X509 **out, const char *path)
{
	BIO *in = BIO_new_file(path, "r");

	*out = in ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;
	BIO_free(in);
	ERR_clear_error();
	if (*out == NULL)
		return jpki_err_set(JPKI_ERR_PARSE,
				    "%s is not a readable PEM certificate",
				    path);
	return 0;
}

/*
 * --form name=...,address=...: each value runs to the next ",name=" or
 * ",address=", so an address may hold commas. Writes into `buf` (a copy
 * of the text); 0, or -1 for text of another shape.
 */
static int parse_form(char *buf, const char **name, const char **address)
{
	char *p = buf;

	while (*p != '\0') {
		const char **slot;
		char *next, *a, *b;

		if (strncmp(p, "name=", 5) == 0) {
			slot = name;
			p += 5;
		} else if (strncmp(p, "address=", 8) == 0) {
			slot = address;
			p += 8;
		} else {
			return -1;
		}
		a = strstr(p, ",name=");
		b = strstr(p, ",address=");
		next = a == NULL || (b != NULL && b < a) ? b : a;
		*slot = p;
		if (next == NULL)
			break;
		*next = '\0';
		p = next + 1;
	}
	return 0;
}

static void print_report(const struct jpki_verify_report *rep)
{
	char birth[64];

	if (!rep->accepted) {
		fprintf(stderr, "jpki: verify: refused:\n");
		for (size_t i = 0; i < rep->n_reasons; i++)
			fprintf(stderr, "  - %s\n", rep->reasons[i].text);
		return;
	}
	printf("accepted: signed with certificate %s%s\n", rep->serial,
	       rep->enveloped ? " (sent encrypted for the agency)" : "");
	if (rep->have_facts) {
		jpki_profile_birth_format(&rep->facts.birth, birth);
		printf("  name:    %s\n  address: %s\n  born:    %s\n",
		       rep->facts.name, rep->facts.address, birth);
	}
	if (rep->have_signing_time) {
		char when[32];

		cli_time(when, rep->signing_time);
		printf("  signed:  %s\n", when);
	}
	printf("  revocation checked by %s\n", rep->revocation_source);
}

/* What the PDF around the signature showed (jpki_verify_pdf). */
static json_t *pdf_json(const struct jpki_verify_pdf_info *p)
{
	return json_pack("{s:I, s:s, s:s, s:I, s:I, s:b, s:b, s:s, s:I, s:b}",
			 "signatures", (json_int_t)p->n_signatures,
			 "subfilter", p->subfilter, "signed_at_claimed",
			 p->when, "signed_bytes", (json_int_t)p->signed_end,
			 "file_bytes", (json_int_t)p->file_len,
			 "later_updates", p->later, "later_dss_only",
			 p->later_dss_only, "later_changed", p->changed,
			 "dss_ocsp_responses", (json_int_t)p->n_dss_ocsps,
			 "revocation_from_dss", p->used_dss);
}

static void print_pdf(const struct jpki_verify_pdf_info *p)
{
	if (p->file_len == 0)
		return;
	printf("  PDF:     %zu signature%s; the last (%s) covers %s\n",
	       p->n_signatures, p->n_signatures == 1 ? "" : "s",
	       p->subfilter[0] ? p->subfilter : "no SubFilter",
	       !p->later ? "the whole document"
	       : p->later_dss_only
		   ? "the document; a later update only adds validation "
		     "data (DSS)"
		   : "an earlier revision");
	if (p->used_dss)
		printf("  revocation from the OCSP response kept in the PDF "
		       "(DSS)\n");
}

int cli_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    {"content", required_argument, NULL, 'c'},
	    {"agency-key", required_argument, NULL, 'k'},
	    {"agency-cert", required_argument, NULL, 'e'},
	    {"ca", required_argument, NULL, 'a'},
	    {"form", required_argument, NULL, 'f'},
	    {"name", required_argument, NULL, 'n'},
	    {"address", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'},
	    {"out", required_argument, NULL, 'o'},
	    {"offline", no_argument, NULL, 'x'},
	    {"pdf", no_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct jpki_verify_options opts = JPKI_VERIFY_OPTIONS_INIT;
	struct jpki_verify_report rep = {0};
	struct jpki_verify_pdf_info pdf = {0};
	struct jpki_verify_crl_cache *cache = NULL;
	const char *content_path = NULL, *key_path = NULL, *cert_path = NULL;
	const char *out_path = NULL, *ca_paths[MAX_ANCHORS];
	const char *form_name = NULL, *form_address = NULL;
	char *form = NULL, *json = NULL;
	unsigned char *data = NULL, *content = NULL;
	size_t len = 0, content_len = 0, n_ca = 0, n_anchors = 0;
	X509 *anchors[MAX_ANCHORS] = {0}, *agency_cert = NULL;
	EVP_PKEY *agency_key = NULL;
	int c, r, as_json = 0, rc = CLI_FAILED, is_pdf = 0;

	(void)cli;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (c) {
		case 'c':
			content_path = optarg;
			break;
		case 'k':
			key_path = optarg;
			break;
		case 'e':
			cert_path = optarg;
			break;
		case 'a':
			if (n_ca == MAX_ANCHORS) {
				rc = cli_usage("at most %d --ca files",
					       MAX_ANCHORS);
				goto out;
			}
			ca_paths[n_ca++] = optarg;
			break;
		case 'f':
			free(form);
			if ((form = strdup(optarg)) == NULL ||
			    parse_form(form, &form_name, &form_address) != 0) {
				rc = cli_usage("--form takes "
					       "name=NAME,address=ADDRESS");
				goto out;
			}
			break;
		case 'n':
			form_name = optarg;
			break;
		case 'd':
			form_address = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'x':
			opts.offline = 1;
			break;
		case 'p':
			is_pdf = 1;
			break;
		case 'h':
			help();
			rc = CLI_OK;
			goto out;
		default:
			rc = CLI_USAGE;
			goto out;
		}
	}
	if (optind != argc - 1) {
		rc = cli_usage("usage: jpki verify FILE --ca CA.pem [options]");
		goto out;
	}
	if ((key_path == NULL) != (cert_path == NULL)) {
		rc = cli_usage("--agency-key and --agency-cert go together");
		goto out;
	}
	if (n_ca == 0) {
		fprintf(stderr, "jpki: verify: refused: no trusted signing CA "
				"was given; name its certificate with --ca "
				"(the portal publishes it at /ca/sign.pem)\n");
		goto out;
	}
	for (size_t i = 0; i < n_ca; i++)
		if ((r = load_anchors(anchors, &n_anchors, ca_paths[i])) != 0) {
			rc = cli_fail(r, "--ca");
			goto out;
		}
	if (key_path != NULL &&
	    ((r = load_key(&agency_key, key_path)) != 0 ||
	     (r = load_cert(&agency_cert, cert_path)) != 0)) {
		rc = cli_fail(r, "agency");
		goto out;
	}
	if (content_path != NULL &&
	    (r = jpki_file_read(&content, &content_len, content_path,
				JPKI_MAX_SIGNED_APP)) != 0) {
		rc = cli_fail(r, "--content");
		goto out;
	}
	if ((r = jpki_file_read(&data, &len, argv[optind],
				JPKI_MAX_SIGNED_APP)) != 0) {
		rc = cli_fail(r, argv[optind]);
		goto out;
	}
	if ((r = jpki_verify_crl_cache_new(&cache)) != 0) {
		rc = cli_fail(r, "verify");
		goto out;
	}
	opts.anchors = anchors;
	opts.n_anchors = n_anchors;
	opts.content = content;
	opts.content_len = content_len;
	opts.agency_key = agency_key;
	opts.agency_cert = agency_cert;
	opts.form_name = form_name;
	opts.form_address = form_address;
	opts.crl_cache = cache;
	is_pdf = is_pdf || jpki_pdf_is_pdf(data, len);
	if ((r = is_pdf ? jpki_verify_pdf(&rep, &pdf, &opts, data, len)
			: jpki_verify_application(&rep, &opts, data, len)) !=
	    0) {
		rc = cli_fail(r, "verify");
		goto out;
	}
	if (as_json) {
		json_t *j;

		if ((r = jpki_verify_report_json(&json, &rep)) != 0) {
			rc = cli_fail(r, "verify");
			goto out;
		}
		j = json_loads(json, 0, NULL);
		if (is_pdf)
			json_object_set_new(j, "pdf", pdf_json(&pdf));
		cli_json_print(j);
	} else {
		print_report(&rep);
		if (is_pdf)
			print_pdf(&pdf);
	}
	/* a PDF leaves whole: its signed bytes are the document */
	if (is_pdf && rep.accepted && out_path != NULL &&
	    (r = jpki_file_write_atomic(out_path, data, len, 0600)) != 0) {
		rc = cli_fail(r, "--out");
		goto out;
	}
	/* the document leaves only once the agency may rely on it */
	if (!is_pdf && rep.accepted && out_path != NULL &&
	    (r = jpki_file_write_atomic(out_path, rep.content, rep.content_len,
					0600)) != 0) {
		rc = cli_fail(r, "--out");
		goto out;
	}
	rc = rep.accepted ? CLI_OK : CLI_FAILED;
out:
	jpki_verify_report_clear(&rep);
	jpki_verify_crl_cache_free(cache);
	for (size_t i = 0; i < n_anchors; i++)
		X509_free(anchors[i]);
	X509_free(agency_cert);
	EVP_PKEY_free(agency_key);
	free(json);
	free(form);
	free(data);
	free(content);
	return rc;
}
