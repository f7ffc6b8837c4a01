/*
 * services: the disclosure to the resident (本人確認情報の提供状況の開示):
 * which agencies were given the resident's identity information, when and
 * for what; as a list (the resident's page and JSON) and on paper (the
 * window's PDF). Each reading is itself on the audit chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/paper.h"
#include "services/services_internal.h"

/* Who may read a resident's disclosure: the resident (logged in with the
 * card: "resident:PERSON") or a clerk of the resident's municipality. */
static int may_read(struct jpki_store *st, const struct jpki_actor *who,
		    const char *person)
{
	struct jpki_resident res;
	char self[64];
	int r;

	snprintf(self, sizeof(self), "resident:%s", person);
	if (strcmp(who->operator_id, self) == 0)
		return 0;
	if (strncmp(who->operator_id, "resident:", 9) == 0)
		return jpki_err_set(JPKI_ERR_POLICY,
				    "a resident sees only their own "
				    "disclosure");
	if ((r = jpki_registry_get(&res, st, person)) != 0)
		return r;
	return jpki_audit_authorize_read(
	    who,
	    JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_WINDOW_CLERK) |
		JPKI_AUDIT_ROLE_BIT(JPKI_ROLE_REGISTRY_CLERK),
	    res.municipality_code);
}

int jpki_services_disclosure(struct jpki_services_disclosed **out, size_t *n,
			     struct jpki_store *st,
			     const struct jpki_actor *who, const char *person)
{
	struct jpki_rows *rows = NULL;
	int64_t moved = 0;
	struct jpki_value p = JPKI_V_TEXT(person ? person : "");
	int r;

	*out = NULL;
	*n = 0;
	if (st == NULL || who == NULL || person == NULL || person[0] == '\0')
		return jpki_err_set(JPKI_ERR_INVALID,
				    "a disclosure needs a store, a reader and "
				    "a resident");
	if ((r = may_read(st, who, person)) != 0)
		return r;
	if ((r = jpki_store_begin(st)) != 0)
		return r;
	/* the look-ups not yet folded are read too: fold them first */
	if ((r = services_lookup_fold_tx(&moved, st)) != 0 ||
	    (r = jpki_store_query(&rows, st,
				  "SELECT agency, purpose, at FROM"
				  " services_lookup WHERE person = $1 AND"
				  " outcome = 'found' ORDER BY at",
				  &p, 1)) != 0 ||
	    (r = jpki_audit_append(st, who, "services.disclosure", person,
				   NULL)) != 0) {
		jpki_store_rollback(st);
		goto out;
	}
	if ((r = jpki_store_commit(st)) != 0)
		goto out;
	if (jpki_rows_count(rows) > 0 &&
	    (*out = calloc(jpki_rows_count(rows), sizeof(**out))) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < jpki_rows_count(rows); i++) {
		snprintf((*out)[i].agency, sizeof((*out)[i].agency), "%s",
			 jpki_rows_text(rows, i, 0));
		snprintf((*out)[i].purpose, sizeof((*out)[i].purpose), "%s",
			 jpki_rows_text(rows, i, 1));
		(*out)[i].at = (time_t)jpki_rows_int(rows, i, 2);
	}
	*n = jpki_rows_count(rows);
out:
	jpki_rows_free(rows);
	return r;
}

/* ---- on paper ------------------------------------------------------- */

/* One line of text at (x, y) in the plain face at `size` points. */
static void line(cairo_t *cr, double x, double y, double size, const char *s)
{
	jpki_paper_font(cr, size, 0);
	jpki_paper_text_at(cr, x, y, s);
}

int jpki_services_disclosure_pdf(unsigned char **pdf, size_t *len,
				 const struct jpki_resident *r,
				 const struct jpki_services_disclosed *list,
				 size_t n)
{
	struct jpki_paper *paper = NULL;
	cairo_t *cr;
	char text[1024];
	double y = JPKI_PAPER_MARGIN + 20;
	int rc;

	*pdf = NULL;
	*len = 0;
	if ((rc = jpki_paper_begin(&paper, "本人確認情報の提供状況")) != 0)
		return rc;
	cr = jpki_paper_cairo(paper);
	line(cr, JPKI_PAPER_MARGIN, y, 18, "本人確認情報の提供状況の開示");
	y += 34;
	snprintf(text, sizeof(text), "氏名 %s　住民票コード %s", r->facts.name,
		 r->person);
	line(cr, JPKI_PAPER_MARGIN, y, 11, text);
	y += 18;
	snprintf(text, sizeof(text), "住所 %s%s%s", r->prefecture,
		 r->municipality, r->facts.address);
	line(cr, JPKI_PAPER_MARGIN, y, 11, text);
	y += 30;
	line(cr, JPKI_PAPER_MARGIN, y, 11,
	     "提供日時 (日本時間)　　　提供先　　　利用目的");
	y += 18;
	if (n == 0) {
		line(cr, JPKI_PAPER_MARGIN, y, 11, "提供の記録はありません。");
		y += 16;
	}
	for (size_t i = 0; i < n; i++) {
		char when[32];
		time_t t = list[i].at + 9 * 3600; /* Japan has no DST */
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
		snprintf(text, sizeof(text), "%s　　%s　　%s", when,
			 list[i].agency, list[i].purpose);
		if (y > JPKI_PAPER_HEIGHT - JPKI_PAPER_MARGIN) {
			jpki_paper_next_page(paper);
			y = JPKI_PAPER_MARGIN + 20;
		}
		line(cr, JPKI_PAPER_MARGIN, y, 10, text);
		y += 15;
	}
	return jpki_paper_end(pdf, len, paper);
}
