/*
 * Request smuggling shapes over raw sockets: a request that gives its
 * body's length two ways (Content-Length and Transfer-Encoding, or two
 * Content-Lengths) is answered 400 and its connection closed, so a request
 * hidden in its body is never answered; requests that give it one way are
 * answered as before.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca_fixture.h"
#include "jpki/http.h"

struct framing_fixture {
	struct ca_fixture *f;
	struct jpki_http *srv;
};

static int setup(void **state)
{
	struct jpki_http_options opts = JPKI_HTTP_OPTIONS_INIT;
	struct framing_fixture *ff = calloc(1, sizeof(*ff));
	void *ca_state = NULL;

	if (ff == NULL || fx_setup(&ca_state) != 0)
		return -1;
	ff->f = ca_state;
	opts.listen = "127.0.0.1:0";
	opts.roles = JPKI_ROLE_REPOSITORY | JPKI_ROLE_OCSP;
	opts.threads = 2;
	opts.ca = ff->f->ca;
	if (jpki_http_start(&ff->srv, &opts) != 0)
		return -1;
	*state = ff;
	return 0;
}

static int teardown(void **state)
{
	struct framing_fixture *ff = *state;
	void *ca_state = ff->f;

	jpki_http_stop(ff->srv);
	fx_teardown(&ca_state);
	free(ff);
	return 0;
}

/* What the server answers to `req` sent whole: every byte until it closes
 * the connection (*closed = 1) or 2 s pass in silence (*closed = 0). */
static char *exchange(struct framing_fixture *ff, const char *req, int *closed)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	size_t len = 0, cap = 65536;
	char *buf = calloc(1, cap + 1);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_non_null(buf);
	sa.sin_port = htons(jpki_http_port(ff->srv));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL),
			 (ssize_t)strlen(req));
	*closed = 0;
	for (;;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t got;

		if (poll(&pfd, 1, 2000) != 1)
			break;
		got = recv(fd, buf + len, cap - len, 0);
		if (got <= 0) {
			*closed = 1;
			break;
		}
		len += (size_t)got;
		assert_true(len < cap);
	}
	close(fd);
	return buf;
}

static int responses(const char *text)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, "HTTP/1.1 ")) != NULL; p++)
		n++;
	return n;
}

/* The smuggling shapes: one 400, the connection closed, nothing else
 * answered. */
static void refused(struct framing_fixture *ff, const char *req)
{
	int closed;
	char *got = exchange(ff, req, &closed);

	if (strncmp(got, "HTTP/1.1 400 ", 13) != 0 || responses(got) != 1 ||
	    !closed)
		fail_msg("for\n%s\nthe server answered (closed %d)\n%s", req,
			 closed, got);
	free(got);
}

static void test_length_given_twice_refused(void **state)
{
	struct framing_fixture *ff = *state;

	/* Content-Length and chunked, a GET hidden in the chunked body */
	refused(ff, "POST /ocsp HTTP/1.1\r\nHost: x\r\n"
		    "Content-Length: 4\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n"
		    "0\r\n\r\n"
		    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	/* the same, the headers the other way round, on a GET */
	refused(ff, "GET /healthz HTTP/1.1\r\nHost: x\r\n"
		    "Transfer-Encoding: chunked\r\n"
		    "Content-Length: 42\r\n\r\n"
		    "0\r\n\r\n"
		    "GET /ca/sign.pem HTTP/1.1\r\nHost: x\r\n\r\n");
	/* two different Content-Lengths */
	refused(ff, "POST /ocsp HTTP/1.1\r\nHost: x\r\n"
		    "Content-Length: 0\r\n"
		    "Content-Length: 35\r\n\r\n"
		    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	/* the same Content-Length twice, a coding
	 * libmicrohttpd does not undo, chunked twice */
	refused(ff, "POST /ocsp HTTP/1.1\r\nHost: x\r\n"
		    "Content-Length: 2\r\nContent-Length: 2\r\n\r\nab");
	refused(ff, "POST /ocsp HTTP/1.1\r\nHost: x\r\n"
		    "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
	refused(ff, "POST /ocsp HTTP/1.1\r\nHost: x\r\n"
		    "Transfer-Encoding: chunked\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
}

/* Beside it: one length, either way, is answered, and a kept-alive
 * connection goes on to the next request. */
static void test_length_given_once_answered(void **state)
{
	struct framing_fixture *ff = *state;
	int closed;
	char *got;

	got = exchange(ff,
		       "POST /ocsp HTTP/1.1\r\nHost: x\r\n"
		       "Content-Length: 2\r\n\r\nab"
		       "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		       &closed);
	assert_int_equal(strncmp(got, "HTTP/1.1 200 ", 13), 0);
	assert_int_equal(responses(got), 2);
	assert_non_null(strstr(got, "\r\n\r\nok\n"));
	free(got);
	got = exchange(ff,
		       "POST /ocsp HTTP/1.1\r\nHost: x\r\n"
		       "Transfer-Encoding: Chunked\r\n\r\n"
		       "2\r\nab\r\n0\r\n\r\n"
		       "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		       &closed);
	assert_int_equal(strncmp(got, "HTTP/1.1 200 ", 13), 0);
	assert_int_equal(responses(got), 2);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_length_given_twice_refused,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_length_given_once_answered,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
