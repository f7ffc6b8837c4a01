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
#include <time.h>
#include <unistd.h>

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
	       "[--form name=N,birth=B,sex=S,address=A |\n"
	       "                    --name N --birth B --sex S --address A]\n"
	       "                   [--json] [--out CONTENT_OUT] [--offline] "
	       "[--keep DIR]\n"
	       "       jpki verify --as-of-receipt DIR --ca CA.pem "
	       "[--ocsp URL] [--offline] [--json]\n"
	       "  checks a signed application (CMS SignedData, or "
	       "EnvelopedData for the agency):\n"
	       "  signature, signing certificate, chain to the --ca "
	       "certificates (each file may\n"
	       "  hold several generations), validity, revocation (OCSP, "
	       "else the CRL), and the\n"
	       "  name, date of birth, sex and address against the form "
	       "(docs/RELYING_PARTY.md,\n"
	       "  Matching). --out writes the signed "
	       "document when\n"
	       "  accepted. --keep keeps the evidence of an accepted "
	       "application in a new DIR;\n"
	       "  --as-of-receipt re-checks it offline as of its receipt "
	       "time and, unless\n"
	       "  --offline, says what its CA answers now. Exit 0 accepted, "
	       "1 refused, 2 usage.\n"
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
 * --form name=...,birth=...,sex=...,address=...: each value runs to the
 * next ",KEY=" of the four, so an address may hold commas. Writes into
 * `buf` (a copy of the text) and the form's fields; 0, or -1 for text of
 * another shape.
 */
static int parse_form(char *buf, struct jpki_verify_form *form)
{
	static const char *const keys[] = {"name=", "birth=", "sex=",
					   "address="};
	const char **slots[] = {&form->name, &form->birth, &form->sex,
				&form->address};
	char *p = buf;

	while (*p != '\0') {
		char *next = NULL;
		size_t k;

		for (k = 0; k < 4; k++)
			if (strncmp(p, keys[k], strlen(keys[k])) == 0)
				break;
		if (k == 4)
			return -1;
		p += strlen(keys[k]);
		*slots[k] = p;
		for (size_t j = 0; j < 4; j++) {
			char *at = p;

			while ((at = strchr(at, ',')) != NULL &&
			       strncmp(at + 1, keys[j], strlen(keys[j])) != 0)
				at++;
			if (at != NULL && (next == NULL || at < next))
				next = at;
		}
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
		printf("  name:    %s\n  address: %s\n  born:    %s\n"
		       "  sex:     %s\n",
		       rep->facts.name, rep->facts.address, birth,
		       jpki_verify_sex_word(rep->facts.sex));
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

static void utc(char out[21], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The reason of a refusal for `why`, or NULL. */
static const struct jpki_verify_reason *
reason_of(const struct jpki_verify_report *rep, enum jpki_app_refusal why)
{
	for (size_t i = 0; i < rep->n_reasons; i++)
		if (rep->reasons[i].why == why)
			return &rep->reasons[i];
	return NULL;
}

/*
 * `jpki verify --as-of-receipt DIR`: the decision at receipt from the
 * kept evidence alone, then (unless offline) what the CA says now. The
 * decision stands whatever happened since: exit 0 when it was accepted.
 */
static int as_of_receipt(const char *dir, const struct jpki_verify_options *base,
			 int offline, int as_json)
{
	struct jpki_verify_receipt *rc = NULL;
	struct jpki_verify_report rep = {0}, now = {0};
	struct jpki_verify_options o = *base;
	const struct jpki_verify_reason *why;
	char at[21], since[21], line[600], *json = NULL;
	const char *state = "not checked (offline)";
	json_t *out = NULL, *jnow = NULL;
	int r, rc_cli = CLI_FAILED, checked = 0;

	if ((r = jpki_verify_receipt_load(&rc, dir)) != 0) {
		fprintf(stderr, "jpki: verify: refused: %s: %s\n", dir,
			jpki_err_detail());
		goto out;
	}
	if ((r = jpki_verify_as_of_receipt(&rep, &o, rc)) != 0) {
		rc_cli = cli_fail(r, "verify");
		goto out;
	}
	if (!rep.accepted) {
		fprintf(stderr, "jpki: verify: refused at receipt (%s):\n",
			dir);
		for (size_t i = 0; i < rep.n_reasons; i++)
			fprintf(stderr, "  - %s\n", rep.reasons[i].text);
		goto out;
	}
	utc(at, rep.status_time);
	if (strcmp(rc->source, "crl") == 0)
		snprintf(line, sizeof(line),
			 "accepted at receipt (CRL number %s good at %s)",
			 rc->crl_number, at);
	else
		snprintf(line, sizeof(line),
			 "accepted at receipt (OCSP good at %s)", at);
	jnow = json_object();
	if (!offline) {
		o.offline = 0;
		o.content = rc->document;
		o.content_len = rc->document_len;
		if ((r = jpki_verify_application(&now, &o, rc->application,
						 rc->application_len)) != 0) {
			rc_cli = cli_fail(r, "verify");
			goto out;
		}
		checked = 1;
		if ((why = reason_of(&now, JPKI_APP_REVOKED)) != NULL) {
			if (now.revoked_at != 0)
				utc(since, now.revoked_at);
			else
				snprintf(since, sizeof(since), "(unknown)");
			snprintf(line + strlen(line),
				 sizeof(line) - strlen(line),
				 ", revoked since %s (%s)", since,
				 jpki_verify_crl_reason_name(
				     now.revocation_reason));
			state = "revoked";
			json_object_set_new(jnow, "revoked_at",
					    json_string(since));
			json_object_set_new(
			    jnow, "reason",
			    json_string(jpki_verify_crl_reason_name(
				now.revocation_reason)));
		} else if ((why = reason_of(&now, JPKI_APP_STATUS_UNKNOWN)) !=
			   NULL) {
			snprintf(line + strlen(line),
				 sizeof(line) - strlen(line),
				 "; the status now is unknown: %s", why->text);
			state = "unknown";
		} else if (now.accepted) {
			snprintf(line + strlen(line),
				 sizeof(line) - strlen(line),
				 ", still good now");
			state = "good";
		} else {
			snprintf(line + strlen(line),
				 sizeof(line) - strlen(line), "; now: %s",
				 now.reasons[0].text);
			state = "refused";
		}
	}
	if (as_json) {
		json_t *j = NULL;

		if ((r = jpki_verify_report_json(&json, &rep)) != 0 ||
		    (j = json_loads(json, 0, NULL)) == NULL) {
			rc_cli = cli_fail(r ? r : JPKI_ERR_NOMEM, "verify");
			goto out;
		}
		utc(since, rc->received);
		json_object_set_new(jnow, "checked", json_boolean(checked));
		json_object_set_new(jnow, "status", json_string(state));
		out = json_pack("{s:o, s:s, s:s, s:O}", "at_receipt", j,
				"received", since, "summary", line, "now",
				jnow);
		cli_json_print(out);
		out = NULL;
	} else {
		printf("%s\n", line);
	}
	rc_cli = CLI_OK;
out:
	json_decref(jnow);
	free(json);
	jpki_verify_report_clear(&rep);
	jpki_verify_report_clear(&now);
	jpki_verify_receipt_free(rc);
	return rc_cli;
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
	    {"birth", required_argument, NULL, 'b'},
	    {"sex", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"out", required_argument, NULL, 'o'},
	    {"offline", no_argument, NULL, 'x'},
	    {"pdf", no_argument, NULL, 'p'},
	    {"keep", required_argument, NULL, 'K'},
	    {"as-of-receipt", required_argument, NULL, 'R'},
	    {"ocsp", required_argument, NULL, 'O'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct jpki_verify_options opts = JPKI_VERIFY_OPTIONS_INIT;
	struct jpki_verify_report rep = {0};
	struct jpki_verify_pdf_info pdf = {0};
	struct jpki_verify_crl_cache *cache = NULL;
	const char *content_path = NULL, *key_path = NULL, *cert_path = NULL;
	const char *out_path = NULL, *ca_paths[MAX_ANCHORS];
	const char *keep_dir = NULL, *receipt_dir = NULL;
	struct jpki_verify_form fm = {0};
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
			    parse_form(form, &fm) != 0) {
				rc = cli_usage("--form takes name=NAME,birth="
					       "DATE,sex=SEX,address=ADDRESS "
					       "(any of them)");
				goto out;
			}
			break;
		case 'n':
			fm.name = optarg;
			break;
		case 'd':
			fm.address = optarg;
			break;
		case 'b':
			fm.birth = optarg;
			break;
		case 's':
			fm.sex = optarg;
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
		case 'K':
			keep_dir = optarg;
			break;
		case 'R':
			receipt_dir = optarg;
			break;
		case 'O':
			opts.ocsp_url = optarg;
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
	if (receipt_dir != NULL
		? optind != argc || keep_dir != NULL || key_path != NULL ||
		      content_path != NULL || form != NULL ||
		      fm.name != NULL || fm.birth != NULL || fm.sex != NULL ||
		      fm.address != NULL
		: optind != argc - 1) {
		rc = cli_usage("usage: jpki verify FILE --ca CA.pem [options], "
			       "or jpki verify --as-of-receipt DIR --ca "
			       "CA.pem (the form and the file are the kept "
			       "ones)");
		goto out;
	}
	if (keep_dir != NULL && access(keep_dir, F_OK) == 0) {
		fprintf(stderr,
			"jpki: verify: refused: %s exists: a receipt is never "
			"written over\n",
			keep_dir);
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
	if (receipt_dir != NULL) {
		opts.anchors = anchors;
		opts.n_anchors = n_anchors;
		if ((r = jpki_verify_crl_cache_new(&cache)) != 0) {
			rc = cli_fail(r, "verify");
			goto out;
		}
		opts.crl_cache = cache;
		rc = as_of_receipt(receipt_dir, &opts, opts.offline, as_json);
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
	opts.form_name = fm.name;
	opts.form_address = fm.address;
	opts.form_birth = fm.birth;
	opts.form_sex = fm.sex;
	opts.crl_cache = cache;
	opts.keep_evidence = keep_dir != NULL;
	is_pdf = is_pdf || jpki_pdf_is_pdf(data, len);
	if (is_pdf && keep_dir != NULL) {
		rc = cli_usage("--keep keeps a CMS application's evidence; a "
			       "PDF keeps its own (PAdES B-LT, the DSS)");
		goto out;
	}
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
	if (rep.accepted && keep_dir != NULL) {
		if ((r = jpki_verify_receipt_keep(keep_dir, &rep, &fm)) != 0) {
			rc = cli_fail(r, "--keep");
			goto out;
		}
		if (!as_json)
			printf("  evidence kept in %s\n", keep_dir);
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
