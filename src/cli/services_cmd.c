/*
 * `jpki services ...`: agencies and their look-ups (docs/REGISTRY.md), and
 * `jpki window disclosure`: the resident's disclosure on paper.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/office.h"
#include "jpki/card.h"
#include "jpki/client.h"
#include "jpki/reader.h"
#include "jpki/services.h"
#include "jpki/verify.h"

static void services_usage(FILE *f)
{
	fputs("usage: jpki services <verb> [options]\n"
	      "\n"
	      "  agency add NAME --cert FILE --purpose P [--purpose P ...]\n"
	      "  agency list [--json]\n"
	      "  agency remove NAME\n"
	      "        (a registry clerk: --operator ID, password as for\n"
	      "         'jpki registry')\n"
	      "  lookup --url URL --cert C --key K [--cacert CA] --purpose P\n"
	      "         (--resident-code X | --name N --birth YYYY-MM-DD)\n"
	      "  lookup --url URL --cert C --key K [--cacert CA] --batch FILE\n"
	      "        (the agency's client over mutual TLS; a batch is JSON\n"
	      "         Lines in, JSON Lines out)\n"
	      "  disclosure URL [--card FILE | --reader NAME] [--pin-file F]\n"
	      "         [--cacert CA] [--json]   (the resident: which agencies "
	      "looked you up;\n"
	      "          URL the server's /disclosure, log-in with the card)\n",
	      f);
}

static int read_file(unsigned char **out, size_t *len, const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t n = 0;
	long size;

	*out = NULL;
	*len = 0;
	if (f == NULL)
		return jpki_err_set(JPKI_ERR_IO, "cannot open %s", path);
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    size > 64L * 1024 * 1024 || fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)size + 1)) == NULL ||
	    (n = fread(buf, 1, (size_t)size, f)) != (size_t)size) {
		fclose(f);
		free(buf);
		return jpki_err_set(JPKI_ERR_IO, "cannot read %s", path);
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int agency_verb(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    OFFICE_OPTIONS,
	    {"cert", required_argument, NULL, 'c'},
	    {"purpose", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0}};
	const char *verb = argc > 1 ? argv[1] : "";
	const char *purposes[JPKI_SERVICES_PURPOSES_MAX + 1];
	const char *cert = NULL;
	struct office_login l = {0};
	struct office of;
	size_t np = 0;
	int c, r, json = 0;

	optind = 0;
	while ((c = office_getopt(&l, argc - 1, argv + 1, o)) != -1) {
		switch (c) {
		case 'c':
			cert = optarg;
			break;
		case 'p':
			if (np > JPKI_SERVICES_PURPOSES_MAX)
				return cli_usage("too many --purpose");
			purposes[np++] = optarg;
			break;
		case 'j':
			json = 1;
			break;
		default:
			return CLI_USAGE;
		}
	}
	argc -= 1 + optind;
	argv += 1 + optind;
	if (strcmp(verb, "add") == 0 && (argc != 1 || cert == NULL || np == 0))
		return cli_usage("agency add NAME --cert FILE --purpose P...");
	if (strcmp(verb, "remove") == 0 && argc != 1)
		return cli_usage("agency remove NAME");
	if (strcmp(verb, "list") == 0 && argc != 0)
		return cli_usage("agency list [--json]");
	if (strcmp(verb, "add") && strcmp(verb, "remove") &&
	    strcmp(verb, "list"))
		return cli_usage("agency add | list | remove");
	if (strcmp(verb, "list") == 0) {
		struct jpki_services_agency *list = NULL;
		struct jpki_store *st = NULL;
		size_t n = 0;

		if ((r = cli_store_open(&st, cli)) != 0 ||
		    (r = jpki_services_migrate(st)) != 0 ||
		    (r = jpki_services_agency_list(&list, &n, st)) != 0) {
			jpki_store_free(st);
			return cli_fail(r, "agency list");
		}
		for (size_t i = 0; i < n; i++) {
			if (json) {
				json_t *p = json_array();

				for (size_t k = 0; k < list[i].n_purposes; k++)
					json_array_append_new(
					    p,
					    json_string(list[i].purposes[k]));
				cli_json_print(json_pack(
				    "{s:s,s:s,s:s,s:o}", "name", list[i].name,
				    "fingerprint", list[i].fingerprint,
				    "subject", list[i].subject, "purposes", p));
				continue;
			}
			printf("%s  %s\n  sha256 %s\n  purposes:", list[i].name,
			       list[i].subject, list[i].fingerprint);
			for (size_t k = 0; k < list[i].n_purposes; k++)
				printf(" %s", list[i].purposes[k]);
			printf("\n");
		}
		free(list);
		jpki_store_free(st);
		return CLI_OK;
	}
	if ((r = office_open(&of, cli, &l, 0)) != CLI_OK)
		return r;
	if ((r = jpki_services_migrate(of.st)) != 0) {
		office_close(&of);
		return cli_fail(r, "store");
	}
	if (strcmp(verb, "add") == 0) {
		unsigned char *der = NULL;
		size_t len = 0;

		if ((r = read_file(&der, &len, cert)) == 0)
			r = jpki_services_agency_add(of.st, &of.actor, argv[0],
						     der, len, purposes, np);
		free(der);
		if (r == 0)
			printf("agency %s registered\n", argv[0]);
	} else {
		r = jpki_services_agency_remove(of.st, &of.actor, argv[0]);
		if (r == 0)
			printf("agency %s removed\n", argv[0]);
	}
	office_close(&of);
	return r != 0 ? cli_fail(r, verb) : CLI_OK;
}

static size_t write_out(char *p, size_t size, size_t n, void *arg)
{
	return fwrite(p, size, n, arg);
}

static int lookup_verb(int argc, char **argv)
{
	static const struct option o[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"cert", required_argument, NULL, 'c'},
	    {"key", required_argument, NULL, 'k'},
	    {"cacert", required_argument, NULL, 'a'},
	    {"purpose", required_argument, NULL, 'p'},
	    {"resident-code", required_argument, NULL, 'r'},
	    {"name", required_argument, NULL, 'n'},
	    {"birth", required_argument, NULL, 'b'},
	    {"batch", required_argument, NULL, 'B'},
	    {NULL, 0, NULL, 0}};
	const char *url = NULL, *cert = NULL, *key = NULL, *ca = NULL,
		   *purpose = NULL, *code = NULL, *name = NULL, *birth = NULL,
		   *batch = NULL;
	unsigned char *body = NULL;
	size_t body_len = 0;
	char endpoint[1024], *text = NULL;
	struct curl_slist *headers = NULL;
	long status = 0;
	CURL *curl;
	CURLcode cc;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'a':
			ca = optarg;
			break;
		case 'p':
			purpose = optarg;
			break;
		case 'r':
			code = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'b':
			birth = optarg;
			break;
		case 'B':
			batch = optarg;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc || url == NULL || cert == NULL || key == NULL ||
	    (batch == NULL &&
	     (purpose == NULL ||
	      (code == NULL) == (name == NULL || birth == NULL))))
		return cli_usage(
		    "lookup --url URL --cert C --key K --purpose P "
		    "(--resident-code X | --name N --birth D), "
		    "or --batch FILE");
	if (batch != NULL) {
		if ((r = read_file(&body, &body_len, batch)) != 0)
			return cli_fail(r, "lookup");
	} else {
		json_t *q = code
				? json_pack("{s:s,s:s}", "purpose", purpose,
					    "resident_code", code)
				: json_pack("{s:s,s:s,s:s}", "purpose", purpose,
					    "name", name, "birth", birth);

		text = q ? json_dumps(q, JSON_COMPACT) : NULL;
		json_decref(q);
		if (text == NULL)
			return cli_fail(JPKI_ERR_NOMEM, "lookup");
		body = (unsigned char *)text;
		body_len = strlen(text);
	}
	snprintf(endpoint, sizeof(endpoint), "%s/api/services/%s", url,
		 batch ? "batch" : "lookup");
	if ((curl = curl_easy_init()) == NULL) {
		free(body);
		return cli_fail(JPKI_ERR_NOMEM, "lookup");
	}
	headers =
	    curl_slist_append(NULL, batch ? "Content-Type: application/x-ndjson"
					  : "Content-Type: application/json");
	curl_easy_setopt(curl, CURLOPT_URL, endpoint);
	curl_easy_setopt(curl, CURLOPT_SSLCERT, cert);
	curl_easy_setopt(curl, CURLOPT_SSLKEY, key);
	if (ca != NULL)
		curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)body_len);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_out);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, stdout);
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	free(body);
	fflush(stdout);
	if (cc != CURLE_OK) {
		fprintf(stderr, "jpki: lookup: %s\n", curl_easy_strerror(cc));
		return CLI_FAILED;
	}
	if (!batch)
		putchar('\n');
	return status == 200 ? CLI_OK : CLI_FAILED;
}

/* One HTTP exchange: the body into *out (free()), the status. */
static int http_exchange(char **out, long *status, const char *url,
			 const char *post, const char *cacert)
{
	struct curl_slist *headers = NULL;
	size_t len = 0;
	FILE *f = open_memstream(out, &len);
	CURL *curl = curl_easy_init();
	CURLcode cc = CURLE_FAILED_INIT;

	*status = 0;
	if (f != NULL && curl != NULL) {
		curl_easy_setopt(curl, CURLOPT_URL, url);
		curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_out);
		curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
		curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
		if (cacert != NULL)
			curl_easy_setopt(curl, CURLOPT_CAINFO, cacert);
		if (post != NULL) {
			headers = curl_slist_append(
			    NULL, "Content-Type: application/json");
			curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
			curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post);
		}
		cc = curl_easy_perform(curl);
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	if (f != NULL)
		fclose(f);
	if (cc != CURLE_OK)
		return jpki_err_set(JPKI_ERR_IO, "%s: %s", url,
				    curl_easy_strerror(cc));
	return 0;
}

/* The resident's side: log in with the card at URL (/disclosure) and
 * print the agencies that looked the resident up. */
static int disclosure_verb(int argc, char **argv)
{
	static const struct option o[] = {
	    {"card", required_argument, NULL, 'F'},
	    {"reader", required_argument, NULL, 'R'},
	    {"pin-file", required_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},
	    {"cacert", required_argument, NULL, 'a'},
	    {NULL, 0, NULL, 0}};
	const char *card_file = NULL, *reader = NULL, *pin_file = NULL,
		   *cacert = NULL;
	struct jpki_card *card = NULL;
	struct jpki_reader *rd = NULL;
	enum jpki_card_kind kind;
	char pin[16] = "", url[1024], *body = NULL, *origin = NULL,
	     *answer = NULL;
	json_t *d = NULL;
	long status = 0;
	int c, r, json = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		if (c == 'F')
			card_file = optarg;
		else if (c == 'R')
			reader = optarg;
		else if (c == 'f')
			pin_file = optarg;
		else if (c == 'j')
			json = 1;
		else if (c == 'a')
			cacert = optarg;
		else
			return CLI_USAGE;
	}
	if (optind != argc - 1 || strlen(argv[optind]) > 900)
		return cli_usage(
		    "disclosure URL [--card FILE | --reader NAME]");
	if (card_file != NULL) {
		if ((r = jpki_card_open(&card, card_file)) == 0)
			r = jpki_reader_local(&rd, card);
	} else
		r = jpki_reader_pcsc(&rd, reader);
	if (r == 0)
		r = jpki_client_open_card(&kind, rd);
	if (r != 0)
		goto out;
	snprintf(url, sizeof(url), "%s/challenge", argv[optind]);
	if ((r = http_exchange(&body, &status, url, NULL, cacert)) != 0)
		goto out;
	if (status != 200 || (d = json_loads(body, 0, NULL)) == NULL ||
	    !json_is_string(json_object_get(d, "challenge"))) {
		r = jpki_err_set(JPKI_ERR_IO, "%s answered %ld: %.200s", url,
				 status, body ? body : "");
		goto out;
	}
	if ((r = jpki_verify_origin(&origin, argv[optind])) != 0 ||
	    (r = cli_read_secret(pin, sizeof(pin), pin_file, "JPKI_PIN",
				 "authentication PIN (4 digits)")) != 0 ||
	    (r = jpki_client_login_answer(
		 &answer, rd, origin,
		 json_string_value(json_object_get(d, "challenge")), pin)) != 0)
		goto out;
	free(body);
	body = NULL;
	json_decref(d);
	d = NULL;
	snprintf(url, sizeof(url), "%s/response", argv[optind]);
	if ((r = http_exchange(&body, &status, url, answer, cacert)) != 0)
		goto out;
	if (json || (d = json_loads(body, 0, NULL)) == NULL) {
		printf("%s\n", body);
	} else if (status == 200) {
		json_t *items = json_object_get(d, "lookups"), *it;
		size_t i;

		printf("resident %s: %zu look-ups\n",
		       json_string_value(json_object_get(d, "resident_code")),
		       json_array_size(items));
		json_array_foreach(items, i, it)
		{
			printf(
			    "  %s  %s  %s\n",
			    json_string_value(json_object_get(it, "at")),
			    json_string_value(json_object_get(it, "agency")),
			    json_string_value(json_object_get(it, "purpose")));
		}
	} else
		fprintf(stderr, "jpki: disclosure: refused: %s\n",
			json_string_value(json_object_get(d, "error")));
	r = status == 200 ? 0 : JPKI_ERR_POLICY;
	if (r != 0)
		(void)jpki_err_set(r, "the server answered %ld", status);
out:
	jpki_wipe(pin, sizeof(pin));
	json_decref(d);
	free(body);
	free(origin);
	free(answer);
	jpki_reader_free(rd);
	jpki_card_free(card);
	return r != 0 ? cli_fail(r, "disclosure") : CLI_OK;
}

int cli_services(struct cli *cli, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (verb == NULL || strcmp(verb, "--help") == 0 ||
	    strcmp(verb, "help") == 0) {
		services_usage(verb ? stdout : stderr);
		return verb ? CLI_OK : CLI_USAGE;
	}
	if (strcmp(verb, "agency") == 0)
		return agency_verb(cli, argc - 1, argv + 1);
	if (strcmp(verb, "lookup") == 0)
		return lookup_verb(argc - 1, argv + 1);
	if (strcmp(verb, "disclosure") == 0)
		return disclosure_verb(argc - 1, argv + 1);
	services_usage(stderr);
	return CLI_USAGE;
}

int cli_window_disclosure(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {OFFICE_OPTIONS,
					  {"out", required_argument, NULL, 'o'},
					  {"json", no_argument, NULL, 'j'},
					  {NULL, 0, NULL, 0}};
	struct jpki_services_disclosed *list = NULL;
	struct office_login l = {0};
	struct jpki_resident res;
	unsigned char *pdf = NULL;
	const char *out = NULL;
	struct office of;
	size_t n = 0, len = 0;
	int c, r, json = 0;

	optind = 0;
	while ((c = office_getopt(&l, argc, argv, o)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'j')
			json = 1;
		else
			return CLI_USAGE;
	}
	if (optind != argc - 1 || (out == NULL && !json))
		return cli_usage("disclosure PERSON (--out F.pdf | --json)");
	if ((r = office_open(&of, cli, &l, 0)) != CLI_OK)
		return r;
	if ((r = jpki_services_migrate(of.st)) == 0 &&
	    (r = jpki_services_disclosure(&list, &n, of.st, &of.actor,
					  argv[optind])) == 0 &&
	    (r = jpki_registry_get(&res, of.st, argv[optind])) == 0 && out)
		r = jpki_services_disclosure_pdf(&pdf, &len, &res, list, n);
	if (r == 0 && out != NULL)
		r = jpki_file_write_atomic(out, pdf, len, 0644);
	if (r == 0 && json)
		for (size_t i = 0; i < n; i++) {
			char at[32];

			cli_time(at, list[i].at);
			cli_json_print(json_pack("{s:s,s:s,s:s}", "agency",
						 list[i].agency, "purpose",
						 list[i].purpose, "at", at));
		}
	else if (r == 0)
		printf("%zu look-ups written to %s\n", n, out);
	free(pdf);
	free(list);
	office_close(&of);
	return r != 0 ? cli_fail(r, "disclosure") : CLI_OK;
}
