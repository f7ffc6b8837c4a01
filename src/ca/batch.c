/*
 * Batch issuance: many requests signed on every core, recorded in order
 * one group (JPKI_ISSUE_GROUP) per transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca_internal.h"

/* Threads to use for `want` (0: one per core) and n pieces of work. */
static unsigned batch_threads(unsigned want, size_t n)
{
	if (want == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		want = cores > 0 ? (unsigned)cores : 1;
	}
	if (want > JPKI_ISSUE_MAX_THREADS)
		want = JPKI_ISSUE_MAX_THREADS;
	if (want > n)
		want = n > 0 ? (unsigned)n : 1;
	return want;
}

/*
 * A batch is a pipeline: the signing threads take the next request by index
 * and mark it signed; the calling thread records the requests in order, one
 * group (JPKI_ISSUE_GROUP) per transaction, so that one group's commit
 * waits for the disk while the threads sign the next ones.
 */
struct batch {
	struct jpki_ca *ca;
	struct pending *items;
	size_t n;
	size_t next; /* the next request to sign */
	size_t waiting_for; /* the recorder sleeps until this one is signed */
	int stop;    /* the store failed: sign no more */
	pthread_mutex_t lock;
	pthread_cond_t signed_cond;
};

static void *batch_worker(void *arg)
{
	struct batch *b = arg;

	for (;;) {
		struct pending *p = NULL;
		int r;

		pthread_mutex_lock(&b->lock);
		if (!b->stop && b->next < b->n)
			p = &b->items[b->next++];
		pthread_mutex_unlock(&b->lock);
		if (p == NULL)
			return NULL;
		jpki_err_set(0, "%s", "");
		if (p->code == 0 && (r = ca_issue_make(b->ca, p)) != 0)
			ca_pending_refuse(p, r);
		pthread_mutex_lock(&b->lock);
		p->signed_ = 1;
		/* wake the recorder only for the item it waits on, not for
		 * every certificate */
		if ((size_t)(p - b->items) == b->waiting_for)
			pthread_cond_signal(&b->signed_cond);
		pthread_mutex_unlock(&b->lock);
	}
}

/*
 * Records items [from, to) in one transaction, once they are all signed;
 * after the commit their results are final.
 */
static int batch_record_group(struct jpki_issue_result *results,
			      struct batch *b, size_t from, size_t to)
{
	struct issue_group *g = NULL;
	int r = 0, refused;

	/* The last of the group first: the threads sign in order, so once
	 * it is signed the others almost always are. Waiting from the first
	 * instead woke this thread (and switched a core to it) once per
	 * certificate of the group that was still being signed. */
	pthread_mutex_lock(&b->lock);
	for (size_t i = to; i-- > from;)
		while (!b->items[i].signed_) {
			b->waiting_for = i;
			pthread_cond_wait(&b->signed_cond, &b->lock);
		}
	pthread_mutex_unlock(&b->lock);
	if ((r = jpki_store_begin(b->ca->store)) != 0)
		return r;
	/* the group's reads in three queries, its rows in multi-row
	 * INSERTs (issue_group.c): a few statements a group, not four a
	 * certificate */
	if ((r = ca_generations_current(b->ca)) != 0 ||
	    (r = ca_issue_group_open(&g, b->ca, b->items + from, to - from)) !=
		    0) {
		jpki_store_rollback(b->ca->store);
		return r;
	}
	for (size_t i = from; i < to; i++) {
		struct pending *p = &b->items[i];

		if (p->code != 0)
			continue;
		jpki_err_set(0, "%s", "");
		r = ca_issue_record_in(&results[i].info, &refused, b->ca, p,
				       NULL, g);
		if (r != 0 && refused) {
			ca_pending_refuse(p, r);
			r = 0;
		} else if (r != 0) {
			jpki_store_rollback(b->ca->store);
			break;
		}
	}
	if (r == 0 && (r = ca_issue_group_flush(g)) != 0)
		jpki_store_rollback(b->ca->store);
	ca_issue_group_free(g);
	if (r == 0 && (r = jpki_store_commit(b->ca->store)) == 0) {
		for (size_t i = from; i < to; i++) {
			results[i].code = b->items[i].code;
			results[i].again = b->items[i].again;
			memcpy(results[i].message, b->items[i].message,
			       sizeof(results[i].message));
			if (b->items[i].superseded[0] != '\0')
				ca_ocsp_forget(b->ca, JPKI_CERT_SIGN,
					       b->items[i].superseded);
		}
		return 0;
	}
	for (size_t i = from; i < to; i++) {
		jpki_cert_info_free(results[i].info);
		results[i].info = NULL;
	}
	return r;
}

/* A person's requests of one type, in batch order. */
struct first_key {
	int type;
	const char *person;
	size_t i;
};

static int first_cmp(const void *a, const void *b)
{
	const struct first_key *x = a, *y = b;
	int c;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if ((c = strcmp(x->person, y->person)) != 0)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Only the first request of a person and type may stand for a certificate
 * of an earlier run: a second one was refused in that run as a person
 * twice, and is refused again.
 */
static int mark_resumable(struct pending *items, size_t n)
{
	struct first_key *k = calloc(n ? n : 1, sizeof(*k));
	size_t m = 0;

	if (k == NULL)
		return JPKI_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (items[i].code == 0)
			k[m++] = (struct first_key){items[i].req->type,
						    items[i].req->person, i};
	qsort(k, m, sizeof(*k), first_cmp);
	for (size_t j = 0; j < m; j++)
		if (j == 0 || k[j].type != k[j - 1].type ||
		    strcmp(k[j].person, k[j - 1].person) != 0)
			items[k[j].i].resume = 1;
	free(k);
	return 0;
}

int jpki_ca_issue_batch_opts(struct jpki_issue_result *results,
			     struct jpki_ca *ca,
			     const struct jpki_issue_request *reqs,
			     EVP_PKEY *const *keys, size_t n,
			     const struct jpki_ca_batch_options *opts)
{
	struct jpki_ca_batch_options defaults = JPKI_CA_BATCH_OPTIONS_INIT;
	struct batch b = {.ca = ca, .n = n, .waiting_for = (size_t)-1};
	pthread_t tid[JPKI_ISSUE_MAX_THREADS];
	unsigned started = 0, threads;
	time_t now = jpki_clock_now();
	size_t from, failed_from = n;
	int r = 0;
	char why[256] = "";

	if (opts == NULL)
		opts = &defaults;
	if (opts->version != JPKI_CA_BATCH_OPTIONS_VERSION)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "batch options of an unknown version");
	if (results == NULL || (n > 0 && (reqs == NULL || keys == NULL)))
		return jpki_err_set(JPKI_ERR_INVALID, "no requests");
	if (n > JPKI_ISSUE_MAX_BATCH)
		return jpki_err_set(JPKI_ERR_TOO_LARGE,
				    "a batch holds at most %d requests, not "
				    "%zu",
				    JPKI_ISSUE_MAX_BATCH, n);
	memset(results, 0, n * sizeof(*results));
	if (n == 0)
		return 0;
	if ((b.items = calloc(n, sizeof(*b.items))) == NULL)
		return JPKI_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		struct pending *p = &b.items[i];

		p->req = &reqs[i];
		p->key = keys[i];
		p->now = now;
		jpki_err_set(0, "%s", "");
		if ((r = ca_issue_check(p->req)) != 0)
			ca_pending_refuse(p, r);
		else if (p->key == NULL)
			ca_pending_refuse(p, jpki_err_set(JPKI_ERR_INVALID,
							  "no subject public "
							  "key"));
	}
	r = 0;
	if (opts->resume && (r = mark_resumable(b.items, n)) != 0) {
		free(b.items);
		return r;
	}
	threads = batch_threads(opts->threads, n);
	pthread_mutex_init(&b.lock, NULL);
	pthread_cond_init(&b.signed_cond, NULL);
	for (; started < threads; started++)
		if (pthread_create(&tid[started], NULL, batch_worker, &b) != 0)
			break;
	if (started == 0) /* no thread to be had: sign here */
		batch_worker(&b);
	for (from = 0; from < n; from += JPKI_ISSUE_GROUP) {
		size_t to = n - from < JPKI_ISSUE_GROUP ? n
							 : from + JPKI_ISSUE_GROUP;

		r = batch_record_group(results, &b, from, to);
		if (r != 0)
			failed_from = from;
		else if (opts->on_group != NULL &&
			 (r = opts->on_group(opts->arg, results, from, to)) != 0)
			failed_from = to; /* this group is committed */
		if (r != 0) {
			snprintf(why, sizeof(why), "%s",
				 jpki_err_detail()[0] ? jpki_err_detail()
						      : jpki_strerror(r));
			pthread_mutex_lock(&b.lock);
			b.stop = 1;
			pthread_mutex_unlock(&b.lock);
			break;
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_cond_destroy(&b.signed_cond);
	pthread_mutex_destroy(&b.lock);
	for (size_t i = 0; i < n; i++) {
		struct pending *p = &b.items[i];

		if (i >= failed_from) {
			if (p->code == 0) {
				p->code = r;
				snprintf(p->message, sizeof(p->message),
					 "not recorded: %.240s", why);
			}
			results[i].code = p->code;
			memcpy(results[i].message, p->message,
			       sizeof(results[i].message));
		}
		ca_pending_clear(p);
	}
	free(b.items);
	if (r != 0)
		jpki_err_set(r, "%s", why);
	return r;
}

int jpki_ca_issue_batch(struct jpki_issue_result *results, struct jpki_ca *ca,
			const struct jpki_issue_request *reqs,
			EVP_PKEY *const *keys, size_t n, unsigned threads)
{
	struct jpki_ca_batch_options opts = JPKI_CA_BATCH_OPTIONS_INIT;

	opts.threads = threads;
	return jpki_ca_issue_batch_opts(results, ca, reqs, keys, n, &opts);
}

/*
 * A batch file. Its lines are read whole first (nothing is issued from a
 * file that cannot be read to its end), then parsed and their requests'
 * signatures checked on every core: for a large batch that is a good part
 * of the work.
 */
struct jpki_ca_batch {
	size_t n;
	json_t **lines;
	struct jpki_issue_request *reqs;
	EVP_PKEY **keys;
	struct jpki_issue_result *res;
	char **files;
	const char *dir; /* while jpki_ca_batch_issue writes */
	size_t next;     /* the next line to read, for the reading threads */
	pthread_mutex_t lock;
};

void jpki_ca_batch_free(struct jpki_ca_batch *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++) {
		json_decref(b->lines[i]);
		EVP_PKEY_free(b->keys[i]);
		jpki_cert_info_free(b->res[i].info);
		free(b->files[i]);
	}
	free(b->lines);
	free(b->reqs);
	free(b->keys);
	free(b->res);
	free(b->files);
	free(b);
}

size_t jpki_ca_batch_count(const struct jpki_ca_batch *b)
{
	return b->n;
}

const struct jpki_issue_result *jpki_ca_batch_result(
	const struct jpki_ca_batch *b, size_t i)
{
	return &b->res[i];
}

const char *jpki_ca_batch_file(const struct jpki_ca_batch *b, size_t i)
{
	return b->files[i];
}

static void *batch_read_worker(void *arg)
{
	struct jpki_ca_batch *b = arg;

	for (;;) {
		const char *csr = NULL;
		size_t i;
		int r;

		pthread_mutex_lock(&b->lock);
		i = b->next < b->n ? b->next++ : b->n;
		pthread_mutex_unlock(&b->lock);
		if (i == b->n)
			return NULL;
		if (b->res[i].code != 0) /* not JSON */
			continue;
		jpki_err_set(0, "%s", "");
		if ((r = jpki_ca_request_line(&b->reqs[i], &csr,
					      b->lines[i])) == 0)
			r = jpki_ca_csr_read(&b->keys[i], csr);
		if (r != 0) {
			/* the batch refuses a request without a key */
			b->res[i].code = r;
			snprintf(b->res[i].message, sizeof(b->res[i].message),
				 "%s", jpki_err_detail());
			b->reqs[i] =
				(struct jpki_issue_request)JPKI_ISSUE_REQUEST_INIT;
			EVP_PKEY_free(b->keys[i]);
			b->keys[i] = NULL;
		}
	}
}

/* Grows every array of b by one line, zeroed. */
static int batch_grow(struct jpki_ca_batch *b, size_t *cap)
{
	size_t nc = *cap ? *cap * 2 : 64;
	void *p;

	if (b->n < *cap)
		return 0;
#define GROW(field)                                                          \
	do {                                                                 \
		if ((p = realloc(b->field, nc * sizeof(*b->field))) == NULL) \
			return JPKI_ERR_NOMEM;                               \
		b->field = p;                                                \
		memset(b->field + *cap, 0, (nc - *cap) * sizeof(*b->field)); \
	} while (0)
	GROW(lines);
	GROW(reqs);
	GROW(keys);
	GROW(res);
	GROW(files);
#undef GROW
	*cap = nc;
	return 0;
}

int jpki_ca_batch_read(struct jpki_ca_batch **out, FILE *in, unsigned threads)
{
	struct jpki_ca_batch *b = calloc(1, sizeof(*b));
	pthread_t tid[JPKI_ISSUE_MAX_THREADS];
	unsigned want, started = 0;
	size_t cap = 0;
	char buf[JPKI_CA_LINE_MAX];
	int r = 0;

	*out = NULL;
	if (b == NULL)
		return JPKI_ERR_NOMEM;
	while (fgets(buf, sizeof(buf), in) != NULL) {
		size_t len = strlen(buf);
		json_error_t err;

		if (len == sizeof(buf) - 1 && buf[len - 1] != '\n') {
			r = jpki_err_set(JPKI_ERR_TOO_LARGE,
					 "line %zu is longer than %zu bytes",
					 b->n + 1, sizeof(buf) - 2);
			goto fail;
		}
		if (b->n == JPKI_ISSUE_MAX_BATCH) {
			r = jpki_err_set(JPKI_ERR_TOO_LARGE,
					 "a batch holds at most %d lines",
					 JPKI_ISSUE_MAX_BATCH);
			goto fail;
		}
		if ((r = batch_grow(b, &cap)) != 0)
			goto fail;
		b->lines[b->n] = json_loads(buf, JSON_REJECT_DUPLICATES, &err);
		if (b->lines[b->n] == NULL) {
			b->res[b->n].code = JPKI_ERR_PARSE;
			snprintf(b->res[b->n].message,
				 sizeof(b->res[b->n].message), "not JSON: %s",
				 err.text);
		}
		b->n++;
	}
	if (ferror(in)) {
		r = jpki_err_set(JPKI_ERR_IO, "the batch file cannot be read");
		goto fail;
	}
	want = batch_threads(threads, b->n);
	pthread_mutex_init(&b->lock, NULL);
	for (; started + 1 < want; started++)
		if (pthread_create(&tid[started], NULL, batch_read_worker, b) !=
		    0)
			break;
	batch_read_worker(b);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&b->lock);
	*out = b;
	return 0;
fail:
	jpki_ca_batch_free(b);
	return r;
}

/* A line issued, recorded, whose file is missing. */
static void not_written(struct jpki_issue_result *res, int code)
{
	res->code = code;
	snprintf(res->message, sizeof(res->message),
		 "issued as %s, but not written: %.180s", res->info->serial,
		 jpki_err_detail());
}

/* Writes one issued certificate as DIR/SERIAL.pem; the path in *path. */
static int write_one(char **path, const struct jpki_cert_info *info,
		     const char *dir)
{
	char *pem = NULL;
	int r;

	*path = NULL;
	if ((r = jpki_cert_info_pem(&pem, info)) != 0)
		return r;
	if (asprintf(path, "%s/%s.pem", dir, info->serial) < 0) {
		*path = NULL;
		free(pem);
		return JPKI_ERR_NOMEM;
	}
	/* whole or not at all; durable at the group's one jpki_fs_sync */
	r = jpki_file_write_atomic_flags(*path, pem, strlen(pem), 0644,
					 JPKI_FILE_NO_SYNC);
	free(pem);
	if (r != 0) {
		free(*path);
		*path = NULL;
	}
	return r;
}

/* on_group: the group's files, then one sync for them all, before the
 * next group is recorded. */
static int write_group(void *arg, struct jpki_issue_result *res, size_t from,
		       size_t to)
{
	struct jpki_ca_batch *b = arg;
	int r = 0, w;

	for (size_t i = from; i < to; i++) {
		if (res[i].code != 0 || res[i].info == NULL)
			continue;
		jpki_err_set(0, "%s", "");
		if ((w = write_one(&b->files[i], res[i].info, b->dir)) != 0) {
			not_written(&res[i], w);
			r = w;
		}
	}
	if ((w = jpki_fs_sync(b->dir)) != 0) {
		for (size_t i = from; i < to; i++) {
			if (res[i].code != 0 || res[i].info == NULL)
				continue;
			not_written(&res[i], w);
			free(b->files[i]);
			b->files[i] = NULL;
		}
		r = w;
	}
	return r;
}

int jpki_ca_batch_issue(struct jpki_ca_batch *b, struct jpki_ca *ca,
			const char *out_dir, unsigned threads)
{
	struct jpki_ca_batch_options opts = JPKI_CA_BATCH_OPTIONS_INIT;
	struct jpki_issue_result *got;
	int r;

	if (out_dir == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "no output directory");
	if ((got = calloc(b->n ? b->n : 1, sizeof(*got))) == NULL)
		return JPKI_ERR_NOMEM;
	opts.threads = threads;
	opts.resume = 1;
	opts.on_group = write_group;
	opts.arg = b;
	b->dir = out_dir;
	r = jpki_ca_issue_batch_opts(got, ca, b->reqs, b->keys, b->n, &opts);
	/* keep the refusals of lines that could not be read */
	for (size_t i = 0; i < b->n; i++)
		if (b->res[i].code == 0)
			b->res[i] = got[i];
		else
			jpki_cert_info_free(got[i].info);
	free(got);
	b->dir = NULL;
	return r;
}
