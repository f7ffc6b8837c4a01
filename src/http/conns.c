/*
 * The connections the server holds: who holds them, on which listener, and
 * by when their request must be done.
 *
 * libmicrohttpd has one total limit and an idle timeout that every byte
 * resets: 600 connections held open by one client, or a request trickled a
 * byte at a time, made the service unreachable, OCSP included. So:
 *   - the accept loop admits a connection only while its address holds
 *     fewer than `per_address` on that listener, and the listener fewer
 *     than its own limit;
 *   - every request has absolute deadlines that no byte moves: its headers
 *     must be in `header_timeout` seconds after the connection opened (or
 *     its previous request ended), and its answer sent `body_timeout`
 *     seconds after the headers. A watchdog shuts down a connection past
 *     its deadline (libmicrohttpd then closes it as a closed peer);
 *   - an OCSP listener of its own (--ocsp-listen) has connections no other
 *     client can take, and answers only OCSP there.
 * The table is small (the total connection limit) and scanned under one
 * lock; it is touched once per connection and twice per request.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include "http/http_internal.h"

struct conn_slot {
	int fd;   /* -1: free */
	int ocsp; /* came in on the OCSP listener */
	int cut;  /* shut down by the watchdog */
	int body; /* headers in, answer not yet sent */
	unsigned char addr[16];
	uint16_t port;      /* the peer's, network order */
	long long deadline; /* ms, CLOCK_MONOTONIC */
};

struct http_conns {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t watchdog;
	int watching, stopping;
	struct http_conn_limits lim;
	size_t n;
	struct conn_slot *slots;
	unsigned long long cut_total, refused_total; /* for the log */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* IPv4 mapped into IPv6, so both kinds compare alike; the port apart. */
static uint16_t addr_key(unsigned char key[16], const struct sockaddr *sa)
{
	memset(key, 0, 16);
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
		return in->sin_port;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		memcpy(key, &in6->sin6_addr, 16);
		return in6->sin6_port;
	}
	return 0;
}

/* Whether fd is still the connection s recorded: libmicrohttpd may have
 * closed one without telling (when it fails to take it), and the number
 * may now be another thread's socket, which must not be shut down. */
static int still_ours(const struct conn_slot *s)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	unsigned char key[16];

	if (getpeername(s->fd, (struct sockaddr *)&peer, &len) != 0)
		return 0;
	return addr_key(key, (struct sockaddr *)&peer) == s->port &&
	       memcmp(key, s->addr, 16) == 0;
}

/* The slot of fd; with fd -1, a free one. */
static struct conn_slot *find(struct http_conns *c, int fd)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->slots[i].fd == fd)
			return &c->slots[i];
	return NULL;
}

static void *watch(void *arg)
{
	struct http_conns *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		struct timespec until;
		long long now = now_ms();

		for (size_t i = 0; i < c->n; i++) {
			struct conn_slot *s = &c->slots[i];

			if (s->fd < 0 || s->cut || now < s->deadline)
				continue;
			if (!still_ours(s)) {
				s->fd = -1;
				continue;
			}
			/* The socket stays libmicrohttpd's to close: it sees
			 * the end of the stream and closes the connection,
			 * which frees the slot (http_conns_forget). */
			shutdown(s->fd, SHUT_RDWR);
			s->cut = 1;
			c->cut_total++;
			jpki_log(JPKI_LOG_DEBUG,
				 "http: a connection passed its %s deadline "
				 "(%u s): closed",
				 s->body ? "answer" : "header",
				 s->body ? c->lim.body_timeout
					 : c->lim.header_timeout);
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->wake, &c->lock, &until);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int http_conns_new(struct http_conns **out, const struct http_conn_limits *lim)
{
	struct http_conns *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return JPKI_ERR_NOMEM;
	c->lim = *lim;
	c->n = (size_t)lim->max_connections + lim->ocsp_connections;
	if ((c->slots = calloc(c->n, sizeof(*c->slots))) == NULL) {
		free(c);
		return JPKI_ERR_NOMEM;
	}
	for (size_t i = 0; i < c->n; i++)
		c->slots[i].fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	if (pthread_create(&c->watchdog, NULL, watch, c) != 0) {
		http_conns_free(c);
		return jpki_err_set(JPKI_ERR_IO,
				    "cannot start the connection watchdog");
	}
	c->watching = 1;
	*out = c;
	return 0;
}

void http_conns_free(struct http_conns *c)
{
	if (c == NULL)
		return;
	if (c->watching) {
		pthread_mutex_lock(&c->lock);
		c->stopping = 1;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->watchdog, NULL);
	}
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c->slots);
	free(c);
}

/* Records fd in a free slot, the header deadline running; the caller
 * holds the lock and has checked the limits. */
static void record(struct http_conns *c, struct conn_slot *s, int fd,
		   const unsigned char key[16], uint16_t port, int ocsp)
{
	s->fd = fd;
	s->ocsp = ocsp;
	s->cut = 0;
	s->body = 0;
	memcpy(s->addr, key, 16);
	s->port = port;
	s->deadline = now_ms() + (long long)c->lim.header_timeout * 1000;
}

int http_conns_admit(struct http_conns *c, int fd, const struct sockaddr *sa,
		     int ocsp)
{
	unsigned char key[16];
	unsigned same = 0, on_listener = 0;
	unsigned limit =
	    ocsp ? c->lim.ocsp_connections : c->lim.max_connections;
	struct conn_slot *free_slot = NULL;
	uint16_t port = addr_key(key, sa);
	int ok = 0;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++) {
		struct conn_slot *s = &c->slots[i];

		/* A socket number accepted again was closed since: its old
		 * slot is stale (libmicrohttpd dropped it unannounced). */
		if (s->fd == fd)
			s->fd = -1;
		if (s->fd < 0) {
			if (free_slot == NULL)
				free_slot = s;
			continue;
		}
		if (s->ocsp != ocsp)
			continue;
		on_listener++;
		if (memcmp(s->addr, key, 16) == 0)
			same++;
	}
	if (free_slot != NULL && on_listener < limit &&
	    same < c->lim.per_address) {
		record(c, free_slot, fd, key, port, ocsp);
		ok = 1;
	} else {
		c->refused_total++;
	}
	pthread_mutex_unlock(&c->lock);
	if (!ok)
		jpki_log(JPKI_LOG_DEBUG, "http: connection refused: %s",
			 same >= c->lim.per_address
			     ? "its address holds as many as it may"
			     : "the listener holds as many as it may");
	return ok;
}

void http_conns_forget(struct http_conns *c, int fd)
{
	struct conn_slot *s;

	pthread_mutex_lock(&c->lock);
	if ((s = find(c, fd)) != NULL)
		s->fd = -1;
	pthread_mutex_unlock(&c->lock);
}

static int conn_fd(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci != NULL ? ci->connect_fd : -1;
}

void http_conns_notify(void *cls, struct MHD_Connection *conn,
		       void **socket_context,
		       enum MHD_ConnectionNotificationCode code)
{
	struct jpki_http *srv = cls;
	struct http_conns *c = srv->conns;
	int fd = conn_fd(conn);

	(void)socket_context;
	if (fd < 0)
		return;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		http_conns_forget(c, fd);
		return;
	}
	/* Accepted by libmicrohttpd's own workers (with the kiosk): not yet
	 * known, its deadlines start now; its per-address limit is
	 * libmicrohttpd's. */
	pthread_mutex_lock(&c->lock);
	if (find(c, fd) == NULL) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		struct conn_slot *s = find(c, -1);
		unsigned char key[16];
		uint16_t port =
		    addr_key(key, ci != NULL ? ci->client_addr : NULL);

		if (s != NULL)
			record(c, s, fd, key, port, 0);
	}
	pthread_mutex_unlock(&c->lock);
}

/* Moves the connection on `fd` to its answer (`body`: headers in) or back
 * to waiting for the next request's headers, with that phase's deadline;
 * returns whether it came in on the OCSP listener. */
static int slot_phase(struct http_conns *c, int fd, int body)
{
	struct conn_slot *s;
	int ocsp = 0;

	pthread_mutex_lock(&c->lock);
	if (fd >= 0 && (s = find(c, fd)) != NULL) {
		s->body = body;
		s->deadline = now_ms() + (long long)(body ? c->lim.body_timeout
							  : c->lim.header_timeout) *
					     1000;
		ocsp = s->ocsp;
	}
	pthread_mutex_unlock(&c->lock);
	return ocsp;
}

/* /ocsp..., /healthz: what the OCSP listener answers. */
static int ocsp_url(const char *url)
{
	return (strncmp(url, "/ocsp", 5) == 0 &&
		(url[5] == '\0' || url[5] == '/')) ||
	       strcmp(url, "/healthz") == 0;
}

enum MHD_Result http_conns_request(void *cls, struct MHD_Connection *conn,
				   const char *url, const char *method,
				   const char *version, const char *data,
				   size_t *data_size, void **con_cls)
{
	struct jpki_http *srv = cls;

	if (*con_cls == NULL) {
		/* the first call of a request: its headers are in */
		if (slot_phase(srv->conns, conn_fd(conn), 1) && !ocsp_url(url))
			return http_send_text(conn, MHD_HTTP_NOT_FOUND,
					      "this listener answers OCSP "
					      "only\n");
	}
	return srv->route(cls, conn, url, method, version, data, data_size,
			  con_cls);
}

void http_conns_completed(void *cls, struct MHD_Connection *conn,
			  void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct jpki_http *srv = cls;

	/* The next request on this connection has its own header deadline. */
	slot_phase(srv->conns, conn_fd(conn), 0);
	srv->done(cls, conn, con_cls, toe);
}
