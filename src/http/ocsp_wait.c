/*
 * OCSP requests waiting for the status counter, off the workers. On
 * PostgreSQL an answer kept by request bytes is reused only under a read of
 * the CA's status counter that started after the request came (ca/stamp.c:
 * "revoked at the next request after its commit"). Each such read is a
 * round trip. Had each worker waited for one, a worker would hold one
 * request at a time, asleep, and a read would serve at most as many
 * requests as there are workers, each woken on its own.
 *
 * Here the worker suspends the connection and queues it; one reader thread
 * takes everything queued, reads the counter once (the read starts after
 * every request it takes came), and resumes each connection with what it
 * read. libmicrohttpd calls the handler again, which answers under that
 * stamp (jpki_ca_ocsp_respond_stamped). Requests that come during a read
 * wait for the next one, which starts as soon as it ends. A worker goes on
 * serving its other connections meanwhile, and the connections a worker
 * gets back from one read cost it one wake-up.
 *
 * A job's life: the worker suspends the connection and queues it under the
 * queue's lock (so the reader cannot resume a connection not yet
 * suspended); the reader takes the queue under the lock, reads, and
 * resumes each connection after storing the outcome in its request,
 * touching nothing of it after; the request's completion frees it.
 * jpki_http_stop() closes the queue and waits for the reader, which
 * answers everything queued first (libmicrohttpd must not be stopped with
 * a connection suspended). A request that finds the queue closed or the
 * reader not started is answered with a read of its own.
 */
#include <stdlib.h>

#include "http/http_internal.h"

struct http_stamps {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct upload *head, **tail; /* the queue, in arrival order */
	int idle;                    /* the reader sleeps on `work` */
	int closing;
	int running; /* the reader was started and not yet joined */
	pthread_t thread;
	struct jpki_ca *ca;
};

static void *reader_main(void *arg)
{
	struct http_stamps *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct upload *batch, *next;
		struct jpki_store_stamp stamp;
		int r;

		while (q->head == NULL && !q->closing) {
			q->idle = 1;
			pthread_cond_wait(&q->work, &q->lock);
			q->idle = 0;
		}
		if (q->head == NULL)
			break; /* closing and drained */
		batch = q->head;
		q->head = NULL;
		q->tail = &q->head;
		pthread_mutex_unlock(&q->lock);
		/* every request of the batch came before this read starts */
		r = jpki_ca_ocsp_stamp_read(&stamp, q->ca);
		if (r != 0)
			jpki_log(JPKI_LOG_DEBUG,
				 "OCSP: no status counter for the waiting "
				 "requests (each reads its status): %s",
				 jpki_err_detail());
		for (struct upload *u = batch; u != NULL; u = next) {
			next = u->stamp_next;
			u->stamp = stamp;
			u->stamp_state = r == 0 ? HTTP_STAMP_READ
						: HTTP_STAMP_NONE;
			MHD_resume_connection(u->stamp_conn);
		}
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int http_stamps_start(struct jpki_http *srv)
{
	struct http_stamps *q;

	srv->stamps = NULL;
	if (!(srv->roles & JPKI_ROLE_OCSP) || !jpki_ca_ocsp_stamp_wanted(srv->ca))
		return 0;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return JPKI_ERR_NOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	q->tail = &q->head;
	q->ca = srv->ca;
	/* one reader: a second, reading while the first's read is in
	 * flight, halved the batches without shortening the waits on two
	 * cores (pg_bench.sh, 8 and 64 connections) */
	if (pthread_create(&q->thread, NULL, reader_main, q) != 0) {
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->work);
		free(q);
		return jpki_err_set(JPKI_ERR_INTERNAL,
				    "cannot start the OCSP status reader");
	}
	q->running = 1;
	srv->stamps = q;
	return 0;
}

/* Closes the queue and waits for the reader to answer what is in it. */
static void stamps_close(struct http_stamps *q)
{
	pthread_mutex_lock(&q->lock);
	q->closing = 1;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
	if (q->running) {
		pthread_join(q->thread, NULL);
		q->running = 0;
	}
}

void http_stamps_stop(struct jpki_http *srv)
{
	/* the workers may still look at the queue until the daemon stops:
	 * it stays, closed, and is freed with the server */
	if (srv->stamps != NULL)
		stamps_close(srv->stamps);
}

void http_stamps_free(struct http_stamps *q)
{
	if (q == NULL)
		return;
	stamps_close(q);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->work);
	free(q);
}

int http_stamps_wait(struct jpki_http *srv, struct MHD_Connection *conn,
		     struct upload *up)
{
	struct http_stamps *q = srv->stamps;
	int r = JPKI_ERR_STATE;

	if (q == NULL)
		return r;
	pthread_mutex_lock(&q->lock);
	if (!q->closing) {
		MHD_suspend_connection(conn);
		up->stamp_conn = conn;
		up->stamp_next = NULL;
		up->stamp_state = HTTP_STAMP_WAITING;
		*q->tail = up;
		q->tail = &up->stamp_next;
		if (q->idle)
			pthread_cond_signal(&q->work);
		r = 0;
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}
