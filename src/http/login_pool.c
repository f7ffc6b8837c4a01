/*
 * Operator log-ins off the HTTP workers: each password check (Argon2id,
 * 64 MiB, slow on purpose) runs on a small pool of its own at a lower
 * priority, with a bounded queue, while libmicrohttpd holds the connection
 * suspended. The workers that answer OCSP, CRLs and everything else are
 * never the ones hashing, so a flood of guesses does not move their
 * latency: it fills the queue, and past it a log-in is answered 503 with
 * Retry-After at once. Attempts the audit module's limits refuse (an
 * operator or an address that must wait, a locked or disabled operator)
 * are answered on the worker without taking a place in the queue.
 *
 * A job's life: the worker asks the gate, suspends the connection and
 * queues the job (both under the pool's lock, so the pool cannot resume a
 * connection not yet suspended); a pool thread runs the log-in, keeps its
 * outcome in the job and resumes the connection, touching nothing after;
 * libmicrohttpd calls the handler again, which answers from the job; the
 * request's completion frees it. jpki_http_stop() closes the pool and
 * waits for its jobs before stopping the daemon (libmicrohttpd must not
 * be stopped with a connection suspended).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "http/http_internal.h"
#include "jpki/audit.h"

#define POOL_QUEUE 16 /* log-ins waiting for a hashing thread */
#define POOL_NICE 10  /* how much lower the hashing threads run */

typedef void (*pool_fn)(void *arg);

struct pool_job {
	pool_fn fn;
	void *arg;
};

struct http_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct pool_job queue[POOL_QUEUE];
	size_t head, len;
	unsigned busy; /* jobs being run */
	int closing;
	unsigned nthreads;
	pthread_t threads[2];
};

static void *pool_main(void *arg)
{
	struct http_pool *p = arg;
	int prio;

	/* Linux: the nice value is per thread. Lower only; an unprivileged
	 * process cannot raise it back, which it never needs to. */
	errno = 0;
	prio = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
				  prio + POOL_NICE > 19 ? 19
							: prio + POOL_NICE);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct pool_job job;

		while (p->len == 0 && !p->closing)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->len == 0)
			break; /* closing and drained */
		job = p->queue[p->head];
		p->head = (p->head + 1) % POOL_QUEUE;
		p->len--;
		p->busy++;
		pthread_mutex_unlock(&p->lock);
		job.fn(job.arg);
		pthread_mutex_lock(&p->lock);
		p->busy--;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void pool_free(struct http_pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->closing = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	free(p);
}

static int pool_new(struct http_pool **out)
{
	struct http_pool *p = calloc(1, sizeof(*p));
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cores > 2 ? 2 : 1;

	*out = NULL;
	if (p == NULL)
		return JPKI_ERR_NOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	for (; p->nthreads < want; p->nthreads++)
		if (pthread_create(&p->threads[p->nthreads], NULL, pool_main,
				   p) != 0)
			break;
	if (p->nthreads == 0) {
		pool_free(p);
		return jpki_err_set(JPKI_ERR_INTERNAL,
				    "cannot start the password hashing thread");
	}
	*out = p;
	return 0;
}

/* Queues fn(arg), calling admit(arg) under the pool's lock first; 0, or
 * JPKI_ERR_POLICY when the queue is full or the pool closing (admit not
 * called). */
static int pool_submit(struct http_pool *p, pool_fn fn, void *arg,
		       void (*admit)(void *arg))
{
	int r = JPKI_ERR_POLICY;

	pthread_mutex_lock(&p->lock);
	if (!p->closing && p->len < POOL_QUEUE) {
		admit(arg);
		p->queue[(p->head + p->len) % POOL_QUEUE] =
		    (struct pool_job){fn, arg};
		p->len++;
		pthread_cond_signal(&p->work);
		r = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

/* What a stopping server's pool becomes: closed, so a log-in that comes
 * while the daemon stops is answered busy instead of making a new pool
 * (and a suspended connection the daemon must not be stopped with). */
static struct http_pool closed_pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .closing = 1,
};

/* The server's pool, made at the first log-in (most servers never see
 * one: no threads or memory for them). */
static struct http_pool *server_pool(struct jpki_http *srv)
{
	struct http_pool *p = atomic_load(&srv->login_pool), *mine = NULL;

	if (p != NULL)
		return p;
	if (pool_new(&mine) != 0)
		return NULL;
	if (!atomic_compare_exchange_strong(&srv->login_pool, &p, mine)) {
		pool_free(mine); /* another worker's came first */
		return p;
	}
	return mine;
}

void http_login_pool_stop(struct jpki_http *srv)
{
	struct http_pool *p = atomic_exchange(&srv->login_pool, &closed_pool);

	if (p != &closed_pool)
		pool_free(p);
}

/* ---- one log-in ------------------------------------------------------ */

struct http_login_job {
	struct jpki_http *srv;
	struct MHD_Connection *conn;
	char operator_id[256];
	char password[1100];
	char client[64];
	atomic_int done;
	struct http_login_result res;
};

void http_login_job_free(struct http_login_job *job)
{
	if (job == NULL)
		return;
	jpki_wipe(job->password, sizeof(job->password));
	if (job->res.token != NULL) {
		jpki_wipe(job->res.token, strlen(job->res.token));
		free(job->res.token);
	}
	free(job);
}

static void outcome(struct http_login_result *res, int r, unsigned retry)
{
	res->r = r;
	res->retry_after = retry;
	snprintf(res->why, sizeof(res->why), "%s",
		 r == 0 ? "" : jpki_err_detail());
	if (r == 0)
		res->status = MHD_HTTP_OK;
	else if (r == JPKI_ERR_POLICY && retry > 0)
		res->status = MHD_HTTP_TOO_MANY_REQUESTS;
	else if (r == JPKI_ERR_POLICY)
		res->status = MHD_HTTP_UNAUTHORIZED;
	else if (r == JPKI_ERR_STATE)
		res->status = MHD_HTTP_FORBIDDEN;
	else
		res->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
}

static void login_opts(struct jpki_audit_login_opts *o,
		       const struct http_login_job *job)
{
	*o = (struct jpki_audit_login_opts)JPKI_AUDIT_LOGIN_OPTS_INIT;
	o->client = job->client;
	o->limits = job->srv->login_limits;
}

/* On a pool thread. */
static void login_run(void *arg)
{
	struct http_login_job *job = arg;
	struct jpki_audit_login_opts o;
	struct MHD_Connection *conn = job->conn;
	unsigned retry = 0;
	int r;

	login_opts(&o, job);
	r = jpki_audit_login_ex(&job->res.token, &retry, job->srv->st,
				job->operator_id, job->password, &o);
	jpki_wipe(job->password, sizeof(job->password));
	outcome(&job->res, r, retry);
	atomic_store(&job->done, 1);
	/* The last touch: from here the worker may answer and free the
	 * job. */
	MHD_resume_connection(conn);
}

static void login_admit(void *arg)
{
	struct http_login_job *job = arg;

	MHD_suspend_connection(job->conn);
}

int http_login_step(const struct http_login_result **out, struct jpki_http *srv,
		    struct MHD_Connection *conn, const struct upload *cup,
		    const char *operator_id, const char *password)
{
	/* The upload is the connection's own (server.c allocates it, its
	 * completion frees it); the routes see it const. */
	struct upload *up = (struct upload *)cup;
	const union MHD_ConnectionInfo *ci;
	struct jpki_audit_login_opts o;
	struct http_login_job *job = up->login;
	struct http_pool *pool;
	unsigned retry = 0;
	int r;

	*out = NULL;
	if (job != NULL) {
		if (!atomic_load(&job->done))
			return 1; /* not expected: it is suspended till done */
		*out = &job->res;
		return 0;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return JPKI_ERR_NOMEM;
	up->login = job;
	job->srv = srv;
	job->conn = conn;
	snprintf(job->operator_id, sizeof(job->operator_id), "%s",
		 operator_id ? operator_id : "");
	if (password == NULL || strlen(password) >= sizeof(job->password)) {
		/* too long to be anyone's: the audit module's answer */
		password = "";
	}
	snprintf(job->password, sizeof(job->password), "%s", password);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL) {
		const struct sockaddr *sa = ci->client_addr;

		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET,
				  &((const struct sockaddr_in *)sa)->sin_addr,
				  job->client, sizeof(job->client));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((const struct sockaddr_in6 *)sa)->sin6_addr,
				  job->client, sizeof(job->client));
	}
	/* Refusals that need no hashing are answered here, at once. */
	login_opts(&o, job);
	if (srv->st == NULL) {
		outcome(&job->res,
			jpki_err_set(JPKI_ERR_CONFIG, "no store behind the "
						      "window"),
			0);
		job->res.status = MHD_HTTP_SERVICE_UNAVAILABLE;
	} else if ((r = jpki_audit_login_gate(&retry, srv->st, job->operator_id,
					      &o)) != 0) {
		outcome(&job->res, r, retry);
	} else if ((pool = server_pool(srv)) == NULL ||
		   pool_submit(pool, login_run, job, login_admit) != 0) {
		jpki_log(JPKI_LOG_INFO,
			 "log-in from %s refused: the password checks are "
			 "all busy",
			 job->client);
		outcome(&job->res,
			jpki_err_set(JPKI_ERR_INTERNAL,
				     "too many log-ins at once: try again "
				     "in a moment"),
			0);
		job->res.status = MHD_HTTP_SERVICE_UNAVAILABLE;
		job->res.retry_after = 1;
	} else {
		return 1; /* suspended until the pool resumes it */
	}
	jpki_wipe(job->password, sizeof(job->password));
	atomic_store(&job->done, 1);
	*out = &job->res;
	return 0;
}

enum MHD_Result http_send_retry(struct MHD_Connection *conn, unsigned status,
				const char *type, const void *data, size_t len,
				unsigned retry_after)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char after[16];

	resp = MHD_create_response_from_buffer(len, (void *)data,
					       MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	if (retry_after > 0) {
		snprintf(after, sizeof(after), "%u", retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
					after);
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

const char *http_cookie_attributes(const struct jpki_http *srv)
{
	/* Secure whenever the server speaks TLS: the browser then never
	 * sends the session over plain HTTP (another listener, a downgrade). */
	return srv->tls_cert_pem != NULL
		   ? "; Path=/; HttpOnly; Secure; SameSite=Strict"
		   : "; Path=/; HttpOnly; SameSite=Strict";
}

enum MHD_Result http_page_login(struct jpki_http *srv,
				struct MHD_Connection *conn,
				const struct upload *up, const char *to,
				http_login_refused refused,
				void (*admitted)(struct jpki_http *srv,
						 const char *token,
						 const struct upload *up))
{
	const struct http_login_result *res;
	char op[HTTP_FIELD_MAX + 1], pw[HTTP_FIELD_MAX + 1], cookie[192];
	int r;

	/* no session yet to hold a CSRF token: the Origin alone keeps a
	 * foreign page from logging someone in as someone else */
	if (!http_same_origin(srv, conn))
		return http_send_text(conn, MHD_HTTP_FORBIDDEN,
				      "this log-in was not sent by this "
				      "server's own page\n");
	/* The password is checked on the hashing pool while this connection
	 * waits suspended; the route table calls the handler again when it
	 * resumes, and this finds the verdict. */
	http_field(op, sizeof(op), up, "operator");
	http_field(pw, sizeof(pw), up, "password");
	r = http_login_step(&res, srv, conn, up, op, pw);
	jpki_wipe(pw, sizeof(pw));
	if (r == 1)
		return MHD_YES;
	if (r < 0)
		return MHD_NO;
	if (res->r != 0)
		return refused(conn, res->why, res->status, res->retry_after);
	if (admitted != NULL)
		admitted(srv, res->token, up);
	snprintf(cookie, sizeof(cookie), "jpki_session=%s%s", res->token,
		 http_cookie_attributes(srv));
	return http_redirect(conn, to, cookie);
}
