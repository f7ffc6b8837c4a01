/*
 * Batch issuance: many requests signed on every core, recorded in order
 * one group (JPKI_ISSUE_GROUP) per transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca_internal.h"

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

/* Records items [from, to) in one transaction, once they are all signed. */
static int batch_record_group(struct jpki_issue_result *results,
			      struct batch *b, size_t from, size_t to)
{
	int r, refused;

	pthread_mutex_lock(&b->lock);
	for (size_t i = from; i < to; i++)
		while (!b->items[i].signed_) {
			b->waiting_for = i;
			pthread_cond_wait(&b->signed_cond, &b->lock);
		}
	pthread_mutex_unlock(&b->lock);
	if ((r = jpki_store_begin(b->ca->store)) != 0)
		return r;
	for (size_t i = from; i < to; i++) {
		struct pending *p = &b->items[i];

		if (p->code != 0)
			continue;
		jpki_err_set(0, "%s", "");
		r = ca_issue_record(&results[i].info, &refused, b->ca, p, NULL);
		if (r != 0 && refused) {
			ca_pending_refuse(p, r);
			r = 0;
		} else if (r != 0) {
			jpki_store_rollback(b->ca->store);
			break;
		}
	}
	if (r == 0 && (r = jpki_store_commit(b->ca->store)) == 0)
		return 0;
	for (size_t i = from; i < to; i++) {
		jpki_cert_info_free(results[i].info);
		results[i].info = NULL;
	}
	return r;
}

int jpki_ca_issue_batch(struct jpki_issue_result *results, struct jpki_ca *ca,
			const struct jpki_issue_request *reqs,
			EVP_PKEY *const *keys, size_t n, unsigned threads)
{
	struct batch b = {.ca = ca, .n = n, .waiting_for = (size_t)-1};
	pthread_t tid[JPKI_ISSUE_MAX_THREADS];
	unsigned started = 0;
	time_t now = jpki_clock_now();
	size_t from, failed_from = n;
	int r = 0;
	char why[256] = "";

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
	if (threads == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		threads = cores > 0 ? (unsigned)cores : 1;
	}
	if (threads > JPKI_ISSUE_MAX_THREADS)
		threads = JPKI_ISSUE_MAX_THREADS;
	if (threads > n)
		threads = (unsigned)n;
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

		if ((r = batch_record_group(results, &b, from, to)) != 0) {
			snprintf(why, sizeof(why), "%s",
				 jpki_err_detail()[0] ? jpki_err_detail()
						      : jpki_strerror(r));
			failed_from = from;
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

		if (i >= failed_from && p->code == 0) {
			p->code = r;
			snprintf(p->message, sizeof(p->message),
				 "not recorded: %.240s", why);
		}
		results[i].code = p->code;
		memcpy(results[i].message, p->message,
		       sizeof(results[i].message));
		ca_pending_clear(p);
	}
	free(b.items);
	if (r != 0)
		jpki_err_set(r, "%s", why);
	return r;
}
