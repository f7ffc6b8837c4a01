/*
 * `jpki window residence-copy | move-out | move-in | move-status`: the
 * registry's services at the counter (services/copy.c, services/move.c,
 * docs/REGISTRY.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "cli/office.h"
#include "jpki/card.h"
#include "jpki/services.h"

static const struct option move_opts[] = {
    OFFICE_OPTIONS,
    {"photo-id-address", required_argument, NULL, 'A'},
    {"out", required_argument, NULL, 'o'},
    {"to", required_argument, NULL, 't'},
    {"to-prefecture", required_argument, NULL, 'P'},
    {"to-municipality", required_argument, NULL, 'M'},
    {"to-address", required_argument, NULL, 'a'},
    {"arrival", required_argument, NULL, 'd'},
    {"card", required_argument, NULL, 'F'},
    {"reader", required_argument, NULL, 'R'},
    {"json", no_argument, NULL, 'j'},
    {NULL, 0, NULL, 0}};

struct mopts {
	struct office_login l;
	const char *photo_id_address, *out, *to, *to_prefecture,
	    *to_municipality, *to_address, *arrival, *card, *reader;
	int json;
};

static int parse(struct mopts *m, int argc, char **argv)
{
	int c;

	memset(m, 0, sizeof(*m));
	optind = 0;
	while ((c = office_getopt(&m->l, argc, argv, move_opts)) != -1) {
		switch (c) {
		case 'A':
			m->photo_id_address = optarg;
			break;
		case 'o':
			m->out = optarg;
			break;
		case 't':
			m->to = optarg;
			break;
		case 'P':
			m->to_prefecture = optarg;
			break;
		case 'M':
			m->to_municipality = optarg;
			break;
		case 'a':
			m->to_address = optarg;
			break;
		case 'd':
			m->arrival = optarg;
			break;
		case 'F':
			m->card = optarg;
			break;
		case 'R':
			m->reader = optarg;
			break;
		case 'j':
			m->json = 1;
			break;
		default:
			return CLI_USAGE;
		}
	}
	return CLI_OK;
}

static void print_move(const struct jpki_move *m, int json)
{
	char arrival[11];

	jpki_date_format(&m->arrival, arrival);
	if (json) {
		cli_json_print(json_pack(
		    "{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
		    (json_int_t)m->id, "person", m->person, "from",
		    m->from_code, "to", m->to_code, "to_prefecture",
		    m->to_prefecture, "to_municipality", m->to_municipality,
		    "arrival", arrival, "via", jpki_move_via_name(m->via),
		    "state", jpki_move_state_name(m->state), "explanation",
		    jpki_move_state_sentence(m->state)));
		return;
	}
	printf("move %lld of %s: %s -> %s (%s%s), arrival %s, via %s\n",
	       (long long)m->id, m->person, m->from_code, m->to_code,
	       m->to_prefecture, m->to_municipality, arrival,
	       jpki_move_via_name(m->via));
	printf("%s\n", jpki_move_state_sentence(m->state));
}

/* 広域交付: the copy of a resident of any municipality, as a PDF. */
static int residence_copy(struct cli *cli, struct mopts *m, const char *person)
{
	struct jpki_resident res;
	struct jpki_office office;
	struct office of;
	unsigned char rnd[6], *pdf = NULL;
	char number[32], issuer[160];
	size_t len = 0;
	int r;

	if (m->out == NULL || m->photo_id_address == NULL)
		return cli_usage("residence-copy needs --photo-id-address A "
				 "and --out FILE.pdf");
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return cli_fail(jpki_err_set(JPKI_ERR_CRYPTO, "no randomness"),
				"residence-copy");
	/* "W": issued at a window (the kiosk's numbers start with K) */
	snprintf(number, sizeof(number), "W%02X%02X%02X%02X%02X%02X", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	if ((r = office_open(&of, cli, &m->l, 0)) != CLI_OK)
		return r;
	if ((r = jpki_services_copy_any(&res, of.st, &of.actor, person,
					m->photo_id_address, number)) != 0)
		goto out;
	if (jpki_window_office_get(&office, of.st,
				   of.actor.municipality_code) == 0 &&
	    office.name[0] != '\0')
		snprintf(issuer, sizeof(issuer), "%s", office.name);
	else
		snprintf(issuer, sizeof(issuer), "市区町村コード%s",
			 of.actor.municipality_code);
	jpki_err_clear();
	if ((r = jpki_window_residence_copy_any_pdf(
		 &pdf, &len, &res, number, jpki_clock_now(), issuer)) != 0 ||
	    (r = jpki_file_write_atomic(m->out, pdf, len, 0644)) != 0)
		goto out;
	printf("copy %s of the residence certificate of %s written to %s\n",
	       number, res.person, m->out);
out:
	free(pdf);
	office_close(&of);
	return r != 0 ? cli_fail(r, "residence-copy") : CLI_OK;
}

/* 転出届 by post, recorded by the origin's clerk. */
static int move_out(struct cli *cli, struct mopts *m, const char *person)
{
	struct jpki_move_notice n = {.via = JPKI_MOVE_VIA_POST};
	struct jpki_move mv;
	struct office of;
	int64_t id = 0;
	int r;

	if (m->to == NULL || m->to_prefecture == NULL ||
	    m->to_municipality == NULL || m->to_address == NULL ||
	    m->arrival == NULL)
		return cli_usage("move-out needs --to CODE --to-prefecture P "
				 "--to-municipality M --to-address A "
				 "--arrival YYYY-MM-DD");
	if (jpki_date_parse(&n.arrival, m->arrival) != 0)
		return cli_usage("--arrival is YYYY-MM-DD");
	n.to_code = m->to;
	n.to_prefecture = m->to_prefecture;
	n.to_municipality = m->to_municipality;
	n.to_address = m->to_address;
	if ((r = office_open(&of, cli, &m->l, 0)) != CLI_OK)
		return r;
	if ((r = jpki_services_move_out(&id, of.st, &of.actor, NULL, person,
					&n)) == 0 &&
	    (r = jpki_services_move_get(&mv, of.st, &of.actor, person)) == 0)
		print_move(&mv, m->json);
	office_close(&of);
	return r != 0 ? cli_fail(r, "move-out") : CLI_OK;
}

/* 転入届 at the destination with the resident's card. */
static int move_in(struct cli *cli, struct mopts *m, const char *person)
{
	struct jpki_card *card = NULL;
	struct jpki_reader *rd = NULL;
	struct jpki_move mv;
	struct office of;
	char holder[64];
	int r;

	if ((m->card == NULL) == (m->reader == NULL))
		return cli_usage("move-in needs the resident's card: --card "
				 "FILE or --reader NAME");
	if (m->card != NULL) {
		if ((r = jpki_card_open(&card, m->card)) == 0)
			r = jpki_reader_local(&rd, card);
	} else {
		r = jpki_reader_pcsc(&rd, m->reader);
	}
	if (r != 0) {
		jpki_card_free(card);
		return cli_fail(r, "card");
	}
	if ((r = office_open(&of, cli, &m->l, 1)) != CLI_OK) {
		jpki_reader_free(rd);
		jpki_card_free(card);
		return r;
	}
	r = jpki_window_card_holder(holder, rd, of.ca);
	jpki_reader_free(rd);
	jpki_card_free(card);
	if (r == 0 && (r = jpki_services_move_in(&mv, of.st, &of.actor, person,
						 holder)) == 0)
		print_move(&mv, m->json);
	office_close(&of);
	return r != 0 ? cli_fail(r, "move-in") : CLI_OK;
}

static int move_status(struct cli *cli, struct mopts *m, const char *person)
{
	struct jpki_move mv;
	struct office of;
	int r;

	if ((r = office_open(&of, cli, &m->l, 0)) != CLI_OK)
		return r;
	if ((r = jpki_services_move_get(&mv, of.st, &of.actor, person)) == 0)
		print_move(&mv, m->json);
	office_close(&of);
	return r != 0 ? cli_fail(r, "move-status") : CLI_OK;
}

int cli_window_services(struct cli *cli, int argc, char **argv)
{
	const char *verb = argv[0];
	struct mopts m;
	int r;

	if ((r = parse(&m, argc, argv)) != CLI_OK)
		return r;
	if (argc - optind != 1)
		return cli_usage("'window %s' takes one resident code", verb);
	if (strcmp(verb, "residence-copy") == 0)
		return residence_copy(cli, &m, argv[optind]);
	if (strcmp(verb, "move-out") == 0)
		return move_out(cli, &m, argv[optind]);
	if (strcmp(verb, "move-in") == 0)
		return move_in(cli, &m, argv[optind]);
	if (strcmp(verb, "move-status") == 0)
		return move_status(cli, &m, argv[optind]);
	return cli_usage("unknown verb 'window %s'", verb);
}
