/*
 * A batch group's recording with few statements: what ca_issue_record reads
 * of every certificate (the person's certificates, the serial's
 * uniqueness, the municipality's CRL partition) read for the whole group
 * in three queries before the first record, and the rows it writes
 * (ca_cert, ca_link) sent GROUP_ROWS at a time by one multi-row INSERT.
 *
 * Why: on PostgreSQL each statement is a round trip and a few tens of µs
 * of the server's CPU, on the cores the signing threads need; four of
 * them a certificate made batch issuance on two threads wait on the
 * recorder (docs/PERFORMANCE.md, "PostgreSQL"). The group reads and
 * writes the same rows in the same transaction, so a failure anywhere
 * still rolls the whole group back.
 *
 * What a record changes is kept up to date in memory (the person's newest
 * certificate of the type, the serials taken, the partitions made), so a
 * second request of the same person in the group sees the first as the
 * per-certificate queries would. Anything the group does not know (a
 * serial found taken, a rerun's earlier certificate, a partition not yet
 * made, a superseded Juki certificate) goes the per-certificate way, after
 * the rows waiting are written, so that its statements see them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca_internal.h"

/* Parameters of a look-up's IN list: a group's worth, the unused ones
 * NULL (which matches nothing), so that every group runs the same
 * statement text (one prepared statement on each backend). */
#define GROUP_IN JPKI_ISSUE_GROUP
/* Rows of one multi-row INSERT. */
#define GROUP_ROWS 64
#define CERT_COLS 15
#define LINK_COLS 4

struct group_person {
	const char *person; /* borrowed from the request */
	struct issue_prior both[2];
};

struct group_cert {
	const struct pending *p; /* its serial, DER and subject until flush */
	int gen;
	char birth[11], expiry[11];
};

struct group_link {
	int kind;
	char from[41], to[41];
	int64_t at;
};

struct issue_group {
	struct jpki_ca *ca;
	struct group_person *persons; /* sorted by person */
	size_t npersons;
	char (*taken)[41]; /* serials of the group's found in the store, and
			      those the group recorded */
	size_t ntaken, cap_taken;
	char (*scopes)[32]; /* partitions known to exist */
	size_t nscopes, cap_scopes;
	struct group_cert certs[GROUP_ROWS];
	size_t ncerts;
	struct group_link links[GROUP_ROWS];
	size_t nlinks;
};

static int person_cmp(const void *a, const void *b)
{
	const struct group_person *x = a, *y = b;

	return strcmp(x->person, y->person);
}

size_t ca_sql_in(char *buf, size_t size, size_t first, size_t count)
{
	size_t len = (size_t)snprintf(buf, size, "(");

	for (size_t i = 0; i < count && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s$%zu",
					i ? ", " : "", first + i);
	if (len < size)
		len += (size_t)snprintf(buf + len, size - len, ")");
	return len;
}

/* "SELECT ... WHERE col IN ($1, ..., $GROUP_IN)" after `head`, once. */
static char *in_sql(const char *head, const char *tail)
{
	size_t size = strlen(head) + strlen(tail) + GROUP_IN * 8 + 8, len;
	char *sql = malloc(size);

	if (sql == NULL)
		return NULL;
	len = (size_t)snprintf(sql, size, "%s", head);
	len += ca_sql_in(sql + len, size - len, 1, GROUP_IN);
	snprintf(sql + len, size - len, "%s", tail);
	return sql;
}

/* Runs an IN-list query over `keys` (at most GROUP_IN). */
static int in_query(struct jpki_rows **out, struct jpki_store *st,
		    const char *head, const char *tail, const char *const *keys,
		    size_t n)
{
	struct jpki_value p[GROUP_IN];
	char *sql = in_sql(head, tail);
	int r;

	*out = NULL;
	if (sql == NULL)
		return JPKI_ERR_NOMEM;
	for (size_t i = 0; i < GROUP_IN; i++)
		p[i] = i < n ? JPKI_V_TEXT(keys[i]) : JPKI_V_NULL;
	r = jpki_store_query(out, st, sql, p, GROUP_IN);
	free(sql);
	return r;
}

static int taken_add(struct issue_group *g, const char *serial)
{
	if (g->ntaken == g->cap_taken) {
		size_t cap = g->cap_taken ? g->cap_taken * 2 : 16;
		char(*v)[41] = realloc(g->taken, cap * sizeof(*v));

		if (v == NULL)
			return JPKI_ERR_NOMEM;
		g->taken = v;
		g->cap_taken = cap;
	}
	ca_copy_text(g->taken[g->ntaken++], 41, serial);
	return 0;
}

/* The persons' certificates, ordered as latest_both orders them, the
 * first of each type kept. */
static int read_persons(struct issue_group *g, const char **keys, size_t n)
{
	struct jpki_rows *rows = NULL;
	int r;

	if ((r = in_query(&rows, g->ca->store,
			  "SELECT person, type, serial, status, card, not_after"
			  " FROM ca_cert WHERE person IN ",
			  " ORDER BY person, type, CASE WHEN status = 0 THEN 0"
			  " ELSE 1 END, issued_at DESC, serial",
			  keys, n)) != 0)
		return r;
	for (size_t i = 0; i < jpki_rows_count(rows); i++) {
		struct group_person key = {.person =
					       jpki_rows_text(rows, i, 0)};
		struct group_person *gp;
		int64_t type = jpki_rows_int(rows, i, 1);
		struct issue_prior *o;

		if (key.person == NULL ||
		    (type != JPKI_CERT_SIGN && type != JPKI_CERT_AUTH) ||
		    (gp = bsearch(&key, g->persons, g->npersons, sizeof(*gp),
				  person_cmp)) == NULL)
			continue;
		o = &gp->both[type == JPKI_CERT_SIGN ? 0 : 1];
		if (o->status != -1) /* the first of its type decides */
			continue;
		ca_copy_text(o->serial, 41, jpki_rows_text(rows, i, 2));
		o->status = (int)jpki_rows_int(rows, i, 3);
		o->card = (enum jpki_card_kind)jpki_rows_int(rows, i, 4);
		o->not_after = (time_t)jpki_rows_int(rows, i, 5);
	}
	jpki_rows_free(rows);
	return 0;
}

int ca_issue_group_open(struct issue_group **out, struct jpki_ca *ca,
			const struct pending *items, size_t n)
{
	struct issue_group *g = calloc(1, sizeof(*g));
	const char *keys[GROUP_IN];
	char scopes[GROUP_IN][32];
	struct jpki_rows *rows = NULL;
	size_t nkeys = 0, nscopes = 0;
	int r = JPKI_ERR_NOMEM;

	*out = NULL;
	if (g == NULL)
		return JPKI_ERR_NOMEM;
	g->ca = ca;
	if (n > GROUP_IN) {
		r = jpki_err_set(JPKI_ERR_INTERNAL, "a group of %zu", n);
		goto out;
	}
	if ((g->persons = calloc(n ? n : 1, sizeof(*g->persons))) == NULL ||
	    (g->scopes = calloc(n ? n : 1, sizeof(*g->scopes))) == NULL)
		goto out;
	g->cap_scopes = n;
	for (size_t i = 0; i < n; i++) {
		const struct pending *p = &items[i];

		if (p->code != 0)
			continue;
		g->persons[g->npersons++].person = p->req->person;
	}
	qsort(g->persons, g->npersons, sizeof(*g->persons), person_cmp);
	/* one entry a person, with no certificate yet (status -1) */
	for (size_t i = 0; i < g->npersons; i++) {
		struct group_person *gp = &g->persons[nkeys];

		if (nkeys > 0 &&
		    strcmp(gp[-1].person, g->persons[i].person) == 0)
			continue;
		gp->person = g->persons[i].person;
		for (int t = 0; t < 2; t++) {
			memset(&gp->both[t], 0, sizeof(gp->both[t]));
			gp->both[t].status = -1;
		}
		keys[nkeys++] = gp->person;
	}
	g->npersons = nkeys;
	if (g->npersons > 0 && (r = read_persons(g, keys, nkeys)) != 0)
		goto out;
	/* the serials: a collision is 2^-126, but must be seen */
	nkeys = 0;
	for (size_t i = 0; i < n; i++)
		if (items[i].code == 0 && items[i].serial != NULL)
			keys[nkeys++] = items[i].serial;
	if (nkeys > 0) {
		if ((r = in_query(&rows, ca->store,
				  "SELECT serial FROM ca_cert WHERE serial IN ",
				  "", keys, nkeys)) != 0)
			goto out;
		for (size_t i = 0; i < jpki_rows_count(rows); i++)
			if ((r = taken_add(g, jpki_rows_text(rows, i, 0))) != 0)
				goto out;
		jpki_rows_free(rows);
		rows = NULL;
	}
	/* the municipalities' partitions of the signing certificates */
	for (size_t i = 0; i < n; i++) {
		const struct pending *p = &items[i];
		size_t k;

		if (p->code != 0 || p->req->type != JPKI_CERT_SIGN)
			continue;
		ca_crl_scope_name(scopes[nscopes], JPKI_CERT_SIGN,
				  ca_authority(ca, JPKI_CERT_SIGN)->generation,
				  p->req->municipality_code);
		for (k = 0; k < nscopes; k++)
			if (strcmp(scopes[k], scopes[nscopes]) == 0)
				break;
		if (k == nscopes)
			keys[nscopes++] = scopes[k];
	}
	if (nscopes > 0) {
		if ((r = in_query(&rows, ca->store,
				  "SELECT scope FROM ca_crl WHERE scope IN ",
				  "", keys, nscopes)) != 0)
			goto out;
		for (size_t i = 0; i < jpki_rows_count(rows); i++)
			ca_copy_text(g->scopes[g->nscopes++], 32,
				     jpki_rows_text(rows, i, 0));
	}
	*out = g;
	g = NULL;
	r = 0;
out:
	jpki_rows_free(rows);
	ca_issue_group_free(g);
	return r;
}

void ca_issue_group_free(struct issue_group *g)
{
	if (g == NULL)
		return;
	free(g->persons);
	free(g->taken);
	free(g->scopes);
	free(g);
}

int ca_issue_group_prior(struct issue_prior both[2], struct issue_group *g,
			 const char *person)
{
	struct group_person key = {.person = person}, *gp;

	if (g == NULL || (gp = bsearch(&key, g->persons, g->npersons,
				       sizeof(*gp), person_cmp)) == NULL)
		return 0;
	both[0] = gp->both[0];
	both[1] = gp->both[1];
	return 1;
}

int ca_issue_group_serial_free(struct issue_group *g, const char *serial)
{
	if (g == NULL)
		return 0;
	for (size_t i = 0; i < g->ntaken; i++)
		if (strcmp(g->taken[i], serial) == 0)
			return 0;
	return 1;
}

int ca_issue_group_scope_known(struct issue_group *g, const char *scope)
{
	if (g == NULL)
		return 0;
	for (size_t i = 0; i < g->nscopes; i++)
		if (strcmp(g->scopes[i], scope) == 0)
			return 1;
	return 0;
}

/* The INSERT of n rows of `cols` columns after `head`. */
static char *values_sql(const char *head, size_t n, size_t cols,
			const char *fixed)
{
	size_t size = strlen(head) + n * (cols * 8 + strlen(fixed) + 8) + 1;
	size_t len, k = 1;
	char *sql = malloc(size);

	if (sql == NULL)
		return NULL;
	len = (size_t)snprintf(sql, size, "%s", head);
	for (size_t i = 0; i < n; i++) {
		len += (size_t)snprintf(sql + len, size - len, "%s(",
					i ? ", " : "");
		for (size_t c = 0; c < cols; c++) {
			/* the fixed columns go where the single insert puts
			 * them: after the tenth parameter */
			if (c == 10 && *fixed)
				len += (size_t)snprintf(sql + len, size - len,
							"%s", fixed);
			len += (size_t)snprintf(sql + len, size - len, "%s$%zu",
						c ? ", " : "", k++);
		}
		len += (size_t)snprintf(sql + len, size - len, ")");
	}
	return sql;
}

/*
 * How many rows the next INSERT of `left` takes: 64, 32, ... 1 (one INSERT
 * for each bit of a count below 64), so that a backend keeps at most seven
 * statement texts of each table prepared rather than one per count (a
 * connection keeps a bounded number).
 */
static size_t chunk_of(size_t left)
{
	size_t c = GROUP_ROWS;

	while (c > left)
		c /= 2;
	return c;
}

static int flush_certs(struct issue_group *g)
{
	struct jpki_value v[GROUP_ROWS * CERT_COLS];
	int r = 0;

	for (size_t from = 0; from < g->ncerts && r == 0;) {
		size_t n = chunk_of(g->ncerts - from), k = 0;
		char *sql = values_sql("INSERT INTO ca_cert (serial, type,"
				       " card, person, municipality,"
				       " prefecture_name, municipality_name,"
				       " subject, birth, card_expiry, status,"
				       " version, not_before, not_after,"
				       " issued_at, der, generation) VALUES ",
				       n, CERT_COLS, ", 0, 1");

		if (sql == NULL)
			return JPKI_ERR_NOMEM;
		for (size_t i = from; i < from + n; i++) {
			const struct group_cert *c = &g->certs[i];
			const struct pending *p = c->p;
			const struct jpki_issue_request *req = p->req;

			v[k++] = JPKI_V_TEXT(p->serial);
			v[k++] = JPKI_V_INT(req->type);
			v[k++] = JPKI_V_INT(req->card);
			v[k++] = JPKI_V_TEXT(req->person);
			v[k++] = JPKI_V_TEXT(req->municipality_code);
			v[k++] = JPKI_V_TEXT(req->prefecture);
			v[k++] = JPKI_V_TEXT(req->municipality);
			v[k++] = JPKI_V_TEXT(p->subject);
			v[k++] =
			    c->birth[0] ? JPKI_V_TEXT(c->birth) : JPKI_V_NULL;
			v[k++] =
			    c->expiry[0] ? JPKI_V_TEXT(c->expiry) : JPKI_V_NULL;
			v[k++] = JPKI_V_INT(p->not_before);
			v[k++] = JPKI_V_INT(p->not_after);
			v[k++] = JPKI_V_INT(p->now);
			v[k++] = JPKI_V_BLOB(p->der, p->der_len);
			v[k++] = JPKI_V_INT(c->gen);
		}
		r = jpki_store_exec(g->ca->store, sql, v, k, NULL);
		free(sql);
		from += n;
	}
	g->ncerts = 0;
	return r;
}

static int flush_links(struct issue_group *g)
{
	struct jpki_value v[GROUP_ROWS * LINK_COLS];
	int r = 0;

	for (size_t from = 0; from < g->nlinks && r == 0;) {
		size_t n = chunk_of(g->nlinks - from), k = 0;
		char *sql = values_sql("INSERT INTO ca_link (kind, from_serial,"
				       " to_serial, at) VALUES ",
				       n, LINK_COLS, "");

		if (sql == NULL)
			return JPKI_ERR_NOMEM;
		for (size_t i = from; i < from + n; i++) {
			const struct group_link *l = &g->links[i];

			v[k++] = JPKI_V_INT(l->kind);
			v[k++] = JPKI_V_TEXT(l->from);
			v[k++] = JPKI_V_TEXT(l->to);
			v[k++] = JPKI_V_INT(l->at);
		}
		r = jpki_store_exec(g->ca->store, sql, v, k, NULL);
		free(sql);
		from += n;
	}
	g->nlinks = 0;
	return r;
}

int ca_issue_group_flush(struct issue_group *g)
{
	int r;

	if (g == NULL)
		return 0;
	/* certificates before the links that name them, as one by one */
	if ((r = flush_certs(g)) != 0)
		return r;
	return flush_links(g);
}

int ca_issue_group_cert(struct issue_group *g, const struct pending *p, int gen,
			const char *birth, const char *expiry)
{
	struct group_cert *c;
	int r;

	if (g->ncerts == GROUP_ROWS && (r = flush_certs(g)) != 0)
		return r;
	c = &g->certs[g->ncerts++];
	c->p = p;
	c->gen = gen;
	ca_copy_text(c->birth, sizeof(c->birth), birth);
	ca_copy_text(c->expiry, sizeof(c->expiry), expiry);
	return 0;
}

int ca_issue_group_link(struct issue_group *g, int kind, const char *from,
			const char *to, time_t at)
{
	struct group_link *l;
	int r;

	/* a full list of links waits for its certificates' rows */
	if (g->nlinks == GROUP_ROWS && (r = ca_issue_group_flush(g)) != 0)
		return r;
	l = &g->links[g->nlinks++];
	l->kind = kind;
	ca_copy_text(l->from, sizeof(l->from), from);
	ca_copy_text(l->to, sizeof(l->to), to);
	l->at = at;
	return 0;
}

int ca_issue_group_recorded(struct issue_group *g, const struct pending *p)
{
	struct group_person key = {.person = p->req->person}, *gp;
	struct issue_prior *o;

	if (g == NULL)
		return 0;
	/* the newest of its type now, and valid: latest_both's first */
	if ((gp = bsearch(&key, g->persons, g->npersons, sizeof(*gp),
			  person_cmp)) != NULL) {
		o = &gp->both[p->req->type == JPKI_CERT_SIGN ? 0 : 1];
		ca_copy_text(o->serial, sizeof(o->serial), p->serial);
		o->status = JPKI_STATUS_GOOD;
		o->card = p->req->card;
		o->not_after = p->not_after;
	}
	return taken_add(g, p->serial);
}

void ca_issue_group_scope_made(struct issue_group *g, const char *scope)
{
	if (g == NULL || g->nscopes == g->cap_scopes)
		return;
	ca_copy_text(g->scopes[g->nscopes++], 32, scope);
}
