/* `jpki window <verb>`: the municipality window's procedures (SPEC 3). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/office.h"
#include "jpki/card.h"

static void window_usage(FILE *f)
{
	fputs("usage: jpki window <verb> [options] --operator ID\n"
	      "\n"
	      "  apply PERSON [--card-kind mynumber|juki] [--sign] [--auth]\n"
	      "        --id photo|letter|proxy [--photo-id KIND\n"
	      "        --photo-id-address A] [--photo-id-expiry DATE]\n"
	      "        [--power-of-attorney --seal-certificate\n"
	      "        --proxy-name N] [--special-circumstance TEXT]\n"
	      "        [--renewal | --juki-card] [--json]\n"
	      "  letter APP --out FILE.pdf      the inquiry letter\n"
	      "  returned APP --code CODE [--document D]\n"
	      "  issue APP --card FILE|--reader NAME [--auth-pin P]\n"
	      "        [--sign-pin P] [--copy-dir DIR]\n"
	      "  renew PERSON --type sign|auth --card FILE|--reader NAME\n"
	      "        --id photo --photo-id KIND --photo-id-address A\n"
	      "        [--photo-id-expiry DATE] | --id letter|proxy\n"
	      "        --application APP (a renewal application, its\n"
	      "        letter back)\n"
	      "  pin-reset PERSON --type sign|auth --photo-id-address A\n"
	      "        --new-pin P --card FILE|--reader NAME\n"
	      "  report PERSON --lost|--card-fault\n"
	      "  copy SERIAL --out FILE.pdf     電子証明書の写し\n"
	      "  disclosure PERSON (--out FILE.pdf | --json)  提供状況の開示\n"
	      "  residence-copy PERSON --photo-id-address A --out FILE.pdf\n"
	      "        住民票の写し of a resident of any municipality "
	      "(広域交付)\n"
	      "  move-out PERSON --to CODE --to-prefecture P\n"
	      "        --to-municipality M --to-address A --arrival DATE\n"
	      "        a 転出届 received by post (転入転出の特例)\n"
	      "  move-in PERSON --card FILE|--reader NAME   its 転入届\n"
	      "  move-status PERSON [--json]\n"
	      "  list [CODE] [--json] | fees [CODE] [--json]\n"
	      "  capacity CODE PER_DAY | hours CODE HH:MM HH:MM\n"
	      "  office add|list|hours|capacity|counters ...   the offices\n"
	      "        (本庁, 支所・出張所): jpki window office --help\n"
	      "  juki-card APP --card FILE|--reader NAME   the Juki card\n"
	      "        itself, for its application (--juki-card); a FILE\n"
	      "        that does not exist is made as a blank Juki card\n"
	      "  juki-card-fee CODE YEN         the municipality's fee\n"
	      "  photo-ids CODE [--add KIND [--label L] | --remove KIND]\n"
	      "        [--json]                 the photo IDs accepted\n"
	      "  seal register|cancel|show|list ...   seal registration\n"
	      "        (印鑑登録): jpki window seal --help\n"
	      "\n"
	      "PINs may also come from $JPKI_AUTH_PIN, $JPKI_SIGN_PIN,\n"
	      "$JPKI_NEW_PIN. The operator's password: --password-file F,\n"
	      "$JPKI_OPERATOR_PASSWORD, or asked for.\n",
	      f);
}

static const char *state_name(enum jpki_application_state s)
{
	return jpki_codec_word(jpki_codec_state_words, (int)s);
}

/* The application's one JSON form (codec), as the API shows it. */
static json_t *app_json(const struct jpki_application *a)
{
	return jpki_codec_application_encode(a);
}

static void print_app(const struct jpki_application *a)
{
	printf("application %lld for %s (%s): %s%s%s, %s\n", (long long)a->id,
	       a->person, a->municipality_code, a->want_sign ? "signing " : "",
	       a->want_auth ? "authentication " : "",
	       a->card == JPKI_CARD_JUKI ? "Juki card" : "My Number card",
	       state_name(a->state));
}

static int parse_id(int64_t *out, const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v <= 0)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "'%s' is not an application number", s);
	*out = v;
	return 0;
}

/* The card at the counter: a card file in-process, or a PC/SC reader. */
struct counter_card {
	struct jpki_card *card;
	struct jpki_reader *rd;
	EVP_PKEY *issuer;
};

static int counter_open(struct counter_card *cc, struct cli *cli,
			const char *file, const char *reader)
{
	int r;

	memset(cc, 0, sizeof(*cc));
	if ((file == NULL) == (reader == NULL))
		return cli_usage("name the card: --card FILE or --reader NAME");
	if ((r = cli_issuer_key(&cc->issuer, cli, 0)) != 0)
		return cli_fail(r, "card-issuer key");
	if (file != NULL) {
		if ((r = jpki_card_open(&cc->card, file)) == 0)
			r = jpki_reader_local(&cc->rd, cc->card);
	} else {
		r = jpki_reader_pcsc(&cc->rd, reader);
	}
	if (r != 0) {
		EVP_PKEY_free(cc->issuer);
		jpki_card_free(cc->card);
		memset(cc, 0, sizeof(*cc));
		return cli_fail(r, "card");
	}
	return CLI_OK;
}

static void counter_close(struct counter_card *cc)
{
	jpki_reader_free(cc->rd);
	jpki_card_free(cc->card);
	EVP_PKEY_free(cc->issuer);
}

static int write_pdf(const unsigned char *pdf, size_t len, const char *path)
{
	return jpki_file_write_atomic(path, pdf, len, 0644);
}

/* Every option the window verbs take; each verb uses its own. */
static const struct option window_opts[] = {
    OFFICE_OPTIONS,
    {"card-kind", required_argument, NULL, 'k'},
    {"sign", no_argument, NULL, 's'},
    {"auth", no_argument, NULL, 'a'},
    {"id", required_argument, NULL, 'i'},
    {"photo-id", required_argument, NULL, 'p'},
    {"photo-id-address", required_argument, NULL, 'A'},
    {"power-of-attorney", no_argument, NULL, 'Y'},
    {"seal-certificate", no_argument, NULL, 'S'},
    {"proxy-name", required_argument, NULL, 'x'},
    {"special-circumstance", required_argument, NULL, 'z'},
    {"json", no_argument, NULL, 'j'},
    {"out", required_argument, NULL, 'o'},
    {"code", required_argument, NULL, 'c'},
    {"document", required_argument, NULL, 'd'},
    {"card", required_argument, NULL, 'F'},
    {"reader", required_argument, NULL, 'R'},
    {"auth-pin", required_argument, NULL, 'u'},
    {"sign-pin", required_argument, NULL, 'g'},
    {"new-pin", required_argument, NULL, 'N'},
    {"copy-dir", required_argument, NULL, 'D'},
    {"type", required_argument, NULL, 't'},
    {"lost", no_argument, NULL, 'L'},
    {"card-fault", no_argument, NULL, 'B'},
    {"photo-id-expiry", required_argument, NULL, 'E'},
    {"application", required_argument, NULL, 'P'},
    {"renewal", no_argument, NULL, 'w'},
    {"juki-card", no_argument, NULL, 'J'},
    {"add", required_argument, NULL, 'G'},
    {"remove", required_argument, NULL, 'M'},
    {"label", required_argument, NULL, 'b'},
    {NULL, 0, NULL, 0}};

struct wopts {
	struct office_login l;
	struct jpki_application_request req;
	const char *id, *out, *code, *document, *card, *reader, *auth_pin,
	    *sign_pin, *new_pin, *copy_dir, *type;
	const char *application, *add, *remove, *label;
	int json, lost, fault;
};

static int parse_opts(struct wopts *w, int argc, char **argv)
{
	int c;

	memset(w, 0, sizeof(*w));
	w->req = (struct jpki_application_request)JPKI_APPLICATION_REQUEST_INIT;
	w->auth_pin = getenv("JPKI_AUTH_PIN");
	w->sign_pin = getenv("JPKI_SIGN_PIN");
	w->new_pin = getenv("JPKI_NEW_PIN");
	optind = 0;
	while ((c = office_getopt(&w->l, argc, argv, window_opts)) != -1) {
		switch (c) {
		case 'k':
			if (strcmp(optarg, "juki") == 0)
				w->req.card = JPKI_CARD_JUKI;
			else if (strcmp(optarg, "mynumber") != 0)
				return cli_usage("--card-kind is mynumber "
						 "or juki");
			break;
		case 's':
			w->req.want_sign = 1;
			break;
		case 'a':
			w->req.want_auth = 1;
			break;
		case 'i':
			w->id = optarg;
			break;
		case 'p':
			w->req.photo_id_kind = optarg;
			break;
		case 'A':
			w->req.photo_id_address = optarg;
			break;
		case 'Y':
			w->req.power_of_attorney_sealed = 1;
			break;
		case 'S':
			w->req.seal_certificate = 1;
			break;
		case 'x':
			w->req.proxy_name = optarg;
			break;
		case 'z':
			w->req.special_circumstance = optarg;
			break;
		case 'j':
			w->json = 1;
			break;
		case 'o':
			w->out = optarg;
			break;
		case 'c':
			w->code = optarg;
			break;
		case 'd':
			w->document = optarg;
			break;
		case 'F':
			w->card = optarg;
			break;
		case 'R':
			w->reader = optarg;
			break;
		case 'u':
			w->auth_pin = optarg;
			break;
		case 'g':
			w->sign_pin = optarg;
			break;
		case 'N':
			w->new_pin = optarg;
			break;
		case 'D':
			w->copy_dir = optarg;
			break;
		case 't':
			w->type = optarg;
			break;
		case 'L':
			w->lost = 1;
			break;
		case 'B':
			w->fault = 1;
			break;
		case 'E':
			w->req.photo_id_expiry = optarg;
			break;
		case 'P':
			w->application = optarg;
			break;
		case 'w':
			w->req.kind = JPKI_APP_KIND_RENEWAL;
			break;
		case 'J':
			w->req.kind = JPKI_APP_KIND_JUKI_CARD;
			w->req.card = JPKI_CARD_JUKI;
			break;
		case 'G':
			w->add = optarg;
			break;
		case 'M':
			w->remove = optarg;
			break;
		case 'b':
			w->label = optarg;
			break;
		default:
			return CLI_USAGE;
		}
	}
	return CLI_OK;
}

static int verb_apply(struct cli *cli, struct wopts *w, const char *person)
{
	struct jpki_application app;
	struct office of;
	int r, path;

	if (w->id == NULL)
		return cli_usage("--id photo|letter|proxy: how was the "
				 "resident identified?");
	/* the API's words (codec.h) */
	if (jpki_codec_word_parse(&path, jpki_codec_path_words, w->id,
				  "--id") != 0)
		return cli_usage("--id is photo, letter or proxy");
	w->req.path = (enum jpki_identity_path)path;
	if (!w->req.want_sign && !w->req.want_auth) {
		/* both by default, as SPEC section 2 says */
		w->req.want_auth = w->req.card != JPKI_CARD_JUKI;
		w->req.want_sign = 1;
	}
	w->req.person = person;
	if ((r = office_open(&of, cli, &w->l, 0)) != CLI_OK)
		return r;
	r = jpki_window_apply(&app, of.st, &of.actor, &w->req);
	office_close(&of);
	if (r != 0)
		return cli_fail(r, "apply");
	if (w->json) {
		cli_json_print(app_json(&app));
	} else {
		print_app(&app);
		if (app.state == JPKI_APP_WAITING_LETTER)
			printf("the inquiry letter goes to the registered "
			       "address: jpki window letter %lld --out "
			       "letter.pdf\n",
			       (long long)app.id);
	}
	return CLI_OK;
}

static int verb_issue(struct cli *cli, struct wopts *w, const char *app_s)
{
	struct jpki_window_issue_result res;
	struct counter_card cc;
	struct office of;
	int64_t id;
	int r;

	if ((r = parse_id(&id, app_s)) != 0)
		return cli_fail(r, "issue");
	if ((r = counter_open(&cc, cli, w->card, w->reader)) != CLI_OK)
		return r;
	if ((r = office_open(&of, cli, &w->l, 1)) != CLI_OK) {
		counter_close(&cc);
		return r;
	}
	r = jpki_window_issue(&res, of.st, of.ca, cc.rd, cc.issuer, &of.actor,
			      id, w->auth_pin, w->sign_pin);
	counter_close(&cc);
	if (r != 0) {
		office_close(&of);
		return cli_fail(r, "issue");
	}
	if (res.auth_serial[0])
		printf("authentication certificate %s written to the card\n",
		       res.auth_serial);
	if (res.sign_serial[0])
		printf("signing certificate %s written to the card\n",
		       res.sign_serial);
	if (res.fee_yen > 0)
		printf("fee: %d yen\n", res.fee_yen);
	/* the paper copies the resident takes home */
	for (int i = 0; w->copy_dir != NULL && i < 2; i++) {
		const char *serial = i ? res.sign_serial : res.auth_serial;
		unsigned char *pdf = NULL;
		char path[1024];
		size_t len;

		if (serial[0] == '\0')
			continue;
		snprintf(path, sizeof(path), "%s/%s.pdf", w->copy_dir, serial);
		if ((r = jpki_window_cert_copy_pdf(&pdf, &len, of.st, of.ca,
						   &of.actor, serial)) != 0 ||
		    (r = write_pdf(pdf, len, path)) != 0) {
			free(pdf);
			office_close(&of);
			return cli_fail(r, "certificate copy");
		}
		free(pdf);
		printf("copy of the certificate: %s\n", path);
	}
	office_close(&of);
	return CLI_OK;
}

static int verb_juki_card(struct cli *cli, struct wopts *w, const char *app_s)
{
	struct jpki_window_card card;
	struct counter_card cc;
	struct office of;
	int64_t id;
	int r, fee = 0;

	if ((r = parse_id(&id, app_s)) != 0)
		return cli_fail(r, "juki-card");
	if (w->card != NULL && access(w->card, F_OK) != 0) {
		/* the blank card the window hands over */
		EVP_PKEY *issuer = NULL;

		if ((r = cli_issuer_key(&issuer, cli, 0)) != 0)
			return cli_fail(r, "card-issuer key");
		r = jpki_card_create(w->card, JPKI_CARD_JUKI, issuer);
		EVP_PKEY_free(issuer);
		if (r != 0)
			return cli_fail(r, "juki-card");
	}
	if ((r = counter_open(&cc, cli, w->card, w->reader)) != CLI_OK)
		return r;
	if ((r = office_open(&of, cli, &w->l, 0)) != CLI_OK) {
		counter_close(&cc);
		return r;
	}
	r = jpki_window_juki_card(&card, &fee, of.st, &of.actor, id, cc.rd);
	counter_close(&cc);
	office_close(&of);
	if (r != 0)
		return cli_fail(r, "juki-card");
	printf("Juki card %s handed over to %s; fee: %d yen\n", card.serial,
	       card.person, fee);
	return CLI_OK;
}

static int verb_card_op(struct cli *cli, struct wopts *w, const char *person,
			int renew)
{
	struct jpki_renewal_request rr = JPKI_RENEWAL_REQUEST_INIT;
	struct jpki_window_issue_result res;
	enum jpki_cert_type type = JPKI_CERT_SIGN;
	struct counter_card cc;
	struct office of;
	int r, path;

	if (w->type == NULL)
		return cli_usage("--type sign|auth");
	if ((r = jpki_ca_type_parse(&type, w->type)) != 0)
		return cli_fail(r, renew ? "renew" : "pin-reset");
	if (renew) {
		/* the identity check, as apply takes it */
		if (w->id == NULL)
			return cli_usage("--id photo|letter|proxy: how was the "
					 "resident identified?");
		if (jpki_codec_word_parse(&path, jpki_codec_path_words, w->id,
					  "--id") != 0)
			return cli_usage("--id is photo, letter or proxy");
		if (w->application != NULL &&
		    (r = parse_id(&rr.application, w->application)) != 0)
			return cli_fail(r, "renew");
		rr.person = person;
		rr.type = type;
		rr.path = (enum jpki_identity_path)path;
		rr.photo_id_kind = w->req.photo_id_kind;
		rr.photo_id_address = w->req.photo_id_address;
		rr.photo_id_expiry = w->req.photo_id_expiry;
	}
	if (!renew && (w->new_pin == NULL || w->req.photo_id_address == NULL))
		return cli_usage("pin-reset needs --photo-id-address and "
				 "--new-pin");
	if ((r = counter_open(&cc, cli, w->card, w->reader)) != CLI_OK)
		return r;
	if ((r = office_open(&of, cli, &w->l, 1)) != CLI_OK) {
		counter_close(&cc);
		return r;
	}
	if (renew)
		r = jpki_window_renew(&res, of.st, of.ca, cc.rd, cc.issuer,
				      &of.actor, &rr);
	else
		r = jpki_window_pin_reset(of.st, of.ca, cc.rd, cc.issuer,
					  &of.actor,
					  person, w->req.photo_id_address, type,
					  w->new_pin);
	counter_close(&cc);
	office_close(&of);
	if (r != 0)
		return cli_fail(r, renew ? "renew" : "pin-reset");
	if (renew)
		printf("renewed: %s certificate %s written to the card\n",
		       type == JPKI_CERT_SIGN ? "signing" : "authentication",
		       type == JPKI_CERT_SIGN ? res.sign_serial
					      : res.auth_serial);
	else
		printf("the PIN is set anew and unlocked\n");
	return CLI_OK;
}

static int verb_simple(struct cli *cli, struct wopts *w, const char *verb,
		       int nargs, char **args)
{
	struct office of;
	int need_ca = strcmp(verb, "report") == 0 || strcmp(verb, "copy") == 0;
	int r = 0;
	int64_t id = 0;

	if ((strcmp(verb, "letter") == 0 || strcmp(verb, "returned") == 0) &&
	    (r = parse_id(&id, args[0])) != 0)
		return cli_fail(r, verb);
	if ((strcmp(verb, "letter") == 0 || strcmp(verb, "copy") == 0) &&
	    w->out == NULL)
		return cli_usage("--out FILE.pdf");
	if (strcmp(verb, "report") == 0 && w->lost == w->fault)
		return cli_usage("report --lost or --card-fault");
	if ((r = office_open(&of, cli, &w->l, need_ca)) != CLI_OK)
		return r;
	if (strcmp(verb, "letter") == 0 || strcmp(verb, "copy") == 0) {
		unsigned char *pdf = NULL;
		size_t len;

		r = verb[0] == 'l'
			? jpki_window_letter_pdf(&pdf, &len, of.st, &of.actor,
						 id)
			: jpki_window_cert_copy_pdf(&pdf, &len, of.st, of.ca,
						    &of.actor, args[0]);
		if (r == 0)
			r = write_pdf(pdf, len, w->out);
		free(pdf);
		if (r == 0)
			printf("written to %s\n", w->out);
	} else if (strcmp(verb, "returned") == 0) {
		struct jpki_application app;

		if ((r = jpki_window_letter_returned(&app, of.st, &of.actor, id,
						     w->code, w->document)) ==
		    0)
			print_app(&app);
	} else if (strcmp(verb, "report") == 0) {
		size_t n = 0;

		if ((r = jpki_window_report(
			 &n, of.st, of.ca, &of.actor, args[0],
			 w->lost ? JPKI_LOSS_LOST : JPKI_LOSS_CARD_FAULT)) == 0)
			printf("%zu certificate%s revoked\n", n,
			       n == 1 ? "" : "s");
	} else if (strcmp(verb, "capacity") == 0) {
		if ((r = jpki_window_set_capacity(of.st, &of.actor, args[0],
						  atoi(args[1]))) == 0)
			printf("capacity of %s: %s a day\n", args[0], args[1]);
	} else if (strcmp(verb, "hours") == 0) {
		int h1, m1, h2, m2;

		if (sscanf(args[1], "%d:%d", &h1, &m1) != 2 ||
		    sscanf(args[2], "%d:%d", &h2, &m2) != 2)
			r = jpki_err_set(JPKI_ERR_INVALID, "hours are HH:MM");
		else if ((r = jpki_window_set_hours(of.st, &of.actor, args[0],
						    h1 * 60 + m1,
						    h2 * 60 + m2)) == 0)
			printf("reception hours of %s: %s-%s\n", args[0],
			       args[1], args[2]);
	} else if (strcmp(verb, "list") == 0) {
		struct jpki_application *apps = NULL;
		size_t n = 0;

		if ((r = jpki_window_applications(&apps, &n, of.st, &of.actor,
						  nargs ? args[0] : NULL, 0)) ==
		    0) {
			json_t *a = json_array();

			for (size_t i = 0; i < n; i++) {
				if (w->json)
					json_array_append_new(
					    a, app_json(&apps[i]));
				else
					print_app(&apps[i]);
			}
			if (w->json)
				cli_json_print(a);
			else
				json_decref(a);
		}
		free(apps);
	} else if (strcmp(verb, "juki-card-fee") == 0) {
		if ((r = jpki_window_set_juki_card_fee(of.st, &of.actor,
						       args[0],
						       atoi(args[1]))) == 0)
			printf("the Juki card's fee in %s: %s yen\n", args[0],
			       args[1]);
	} else if (strcmp(verb, "photo-ids") == 0) {
		struct jpki_photo_id_kind *ids = NULL;
		size_t n = 0;

		if (w->add != NULL && w->remove != NULL)
			r = jpki_err_set(JPKI_ERR_INVALID,
					 "--add or --remove, not both");
		else if (w->add != NULL)
			r = jpki_window_photo_id_add(of.st, &of.actor, args[0],
						     w->add, w->label);
		else if (w->remove != NULL)
			r = jpki_window_photo_id_remove(of.st, &of.actor,
							args[0], w->remove);
		if (r == 0 &&
		    (r = jpki_window_photo_ids(&ids, &n, of.st, args[0])) ==
			0) {
			json_t *a = json_array();

			for (size_t i = 0; i < n; i++) {
				json_array_append_new(
				    a, json_pack("{s:s, s:s, s:b}", "kind",
						 ids[i].word, "label",
						 ids[i].label, "national",
						 ids[i].national));
				if (!w->json)
					printf("%-24s %s%s\n", ids[i].word,
					       ids[i].label,
					       ids[i].national ? ""
							       : " (this "
								 "municipality)");
			}
			if (w->json)
				cli_json_print(a);
			else
				json_decref(a);
		}
		free(ids);
	} else if (strcmp(verb, "fees") == 0) {
		struct jpki_fee *fees = NULL;
		size_t n = 0;

		if ((r = jpki_window_fees(&fees, &n, of.st,
					  nargs ? args[0] : NULL)) == 0) {
			json_t *a = json_array();
			long total = 0;

			for (size_t i = 0; i < n; i++) {
				total += fees[i].yen;
				json_array_append_new(
				    a,
				    json_pack("{s:s, s:s, s:s, s:i, s:s}",
					      "person", fees[i].person,
					      "municipality_code",
					      fees[i].municipality_code, "what",
					      fees[i].what, "yen", fees[i].yen,
					      "operator", fees[i].operator_id));
				if (!w->json)
					printf("%s %s %s %d yen (%s)\n",
					       fees[i].municipality_code,
					       fees[i].person, fees[i].what,
					       fees[i].yen,
					       fees[i].operator_id);
			}
			if (w->json)
				cli_json_print(a);
			else {
				printf("total: %ld yen\n", total);
				json_decref(a);
			}
		}
		free(fees);
	}
	office_close(&of);
	return r != 0 ? cli_fail(r, verb) : CLI_OK;
}

int cli_window(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *verb;
		int min, max;
	} verbs[] = {{"apply", 1, 1},  {"letter", 1, 1},   {"returned", 1, 1},
		     {"issue", 1, 1},  {"renew", 1, 1},    {"pin-reset", 1, 1},
		     {"report", 1, 1}, {"copy", 1, 1},     {"list", 0, 1},
		     {"fees", 0, 1},   {"capacity", 2, 2}, {"hours", 3, 3},
		     {"photo-ids", 1, 1}, {"juki-card", 1, 1},
		     {"juki-card-fee", 2, 2}};
	const char *verb = argc > 1 ? argv[1] : NULL;
	struct wopts w;
	int r, nargs;

	if (verb == NULL || strcmp(verb, "--help") == 0 ||
	    strcmp(verb, "help") == 0) {
		window_usage(verb ? stdout : stderr);
		return verb ? CLI_OK : CLI_USAGE;
	}
	if (strcmp(verb, "office") == 0)
		return cli_window_office(cli, argc - 1, argv + 1);
	if (strcmp(verb, "disclosure") == 0)
		return cli_window_disclosure(cli, argc - 1, argv + 1);
	if (strcmp(verb, "residence-copy") == 0 ||
	    strncmp(verb, "move-", 5) == 0)
		return cli_window_services(cli, argc - 1, argv + 1);
	if (strcmp(verb, "seal") == 0)
		return cli_window_seal(cli, argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verb, verbs[i].verb) != 0)
			continue;
		if ((r = parse_opts(&w, argc - 1, argv + 1)) != CLI_OK)
			return r;
		nargs = argc - 1 - optind;
		if (nargs < verbs[i].min || nargs > verbs[i].max)
			return cli_usage("wrong arguments for 'window %s' "
					 "(try jpki window --help)",
					 verb);
		if (strcmp(verb, "apply") == 0)
			return verb_apply(cli, &w, argv[1 + optind]);
		if (strcmp(verb, "issue") == 0)
			return verb_issue(cli, &w, argv[1 + optind]);
		if (strcmp(verb, "juki-card") == 0)
			return verb_juki_card(cli, &w, argv[1 + optind]);
		if (strcmp(verb, "renew") == 0 ||
		    strcmp(verb, "pin-reset") == 0)
			return verb_card_op(cli, &w, argv[1 + optind],
					    verb[0] == 'r');
		return verb_simple(cli, &w, verb, nargs, argv + 1 + optind);
	}
	return cli_usage("unknown verb 'window %s'", verb);
}
