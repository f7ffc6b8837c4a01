/*
 * The vpcd link, with this test playing vsmartcard's vpcd driver: it listens,
 * the card connects, and APDUs go over as 2-byte length and body.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ec.h>

#include "jpki/card.h"
#include "jpki/reader.h"
#include "testutil.h"

struct link {
	char *dir;
	struct jpki_card *card;
	int listen_fd, fd;
	uint16_t port;
	pthread_t th;
	volatile sig_atomic_t stop;
};

static void *serve(void *arg)
{
	struct link *l = arg;

	if (jpki_reader_vpcd_serve(l->card, "127.0.0.1", l->port, &l->stop) !=
	    0)
		fprintf(stderr, "vpcd_serve: %s\n", jpki_err_detail());
	return NULL;
}

static int setup(void **state)
{
	struct link *l = calloc(1, sizeof(*l));
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	EVP_PKEY *issuer = EVP_EC_gen("P-256");
	char *path = NULL;

	jpki_log_set_level(JPKI_LOG_ERROR);
	l->dir = tu_tmpdir();
	if (issuer == NULL || asprintf(&path, "%s/card.jpki", l->dir) < 0 ||
	    jpki_card_create(path, JPKI_CARD_MYNUMBER, issuer) != 0 ||
	    jpki_card_open(&l->card, path) != 0)
		return -1;
	EVP_PKEY_free(issuer);
	free(path);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if ((l->listen_fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(l->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(l->listen_fd, 4) != 0 ||
	    getsockname(l->listen_fd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	l->port = ntohs(sa.sin_port);
	if (pthread_create(&l->th, NULL, serve, l) != 0 ||
	    (l->fd = accept(l->listen_fd, NULL, NULL)) < 0)
		return -1;
	*state = l;
	return 0;
}

static int teardown(void **state)
{
	struct link *l = *state;

	l->stop = 1;
	close(l->fd);
	pthread_join(l->th, NULL);
	close(l->listen_fd);
	jpki_card_free(l->card);
	tu_rmtree(l->dir);
	free(l->dir);
	free(l);
	return 0;
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		assert_true(w > 0);
		p += w;
		n -= (size_t)w;
	}
}

/* n bytes within 5 s; 0 when the link closed first. */
static int recv_all(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t got;

		assert_int_equal(poll(&pfd, 1, 5000), 1);
		if ((got = recv(fd, p, n, 0)) <= 0)
			return 0;
		p += got;
		n -= (size_t)got;
	}
	return 1;
}

/* Sends one vpcd message; the status word of the answer, or -1 when the
 * card dropped the link. */
static int exchange(struct link *l, const uint8_t *msg, size_t n)
{
	uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n}, resp[300];
	size_t m;

	send_all(l->fd, len, 2);
	send_all(l->fd, msg, n);
	if (!recv_all(l->fd, len, 2))
		return -1;
	m = (size_t)(len[0] << 8 | len[1]);
	assert_true(m >= 2 && m <= sizeof(resp));
	if (!recv_all(l->fd, resp, m))
		return -1;
	return resp[m - 2] << 8 | resp[m - 1];
}

static const uint8_t select_ap[] = {0x00, 0xA4, 0x04, 0x0C, 0x0A,
				    0xD3, 0x92, 0xF0, 0x00, 0x26,
				    0x01, 0x00, 0x00, 0x00, 0x01};

/* A short APDU is answered; so is the longest one (261 bytes). */
static void test_short_apdus_answered(void **state)
{
	struct link *l = *state;
	uint8_t longest[261];

	assert_int_equal(exchange(l, select_ap, sizeof(select_ap)), 0x9000);
	/* UPDATE BINARY with 255 data bytes and an Le: the card judges it
	 * (not 67 00 for its length) */
	memset(longest, 0, sizeof(longest));
	longest[1] = 0xD6;
	longest[4] = 255;
	{
		int w = exchange(l, longest, sizeof(longest));

		assert_int_not_equal(w, -1);
		assert_int_not_equal(w, 0x6700);
	}
}

/* An extended APDU of 262, 300 and 65535 bytes is answered 67 00, and the
 * link stays up: the next APDU is answered as before. */
static void test_extended_apdu_answered_wrong_length(void **state)
{
	struct link *l = *state;
	static uint8_t big[65535];
	static const size_t sizes[] = {262, 300, 4096, 65535};

	assert_int_equal(exchange(l, select_ap, sizeof(select_ap)), 0x9000);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* UPDATE BINARY with an extended Lc (00 hi lo) */
		memset(big, 0x5a, sizeof(big));
		big[0] = 0x00;
		big[1] = 0xD6;
		big[2] = big[3] = 0x00;
		big[4] = 0x00;
		big[5] = (uint8_t)((sizes[i] - 7) >> 8);
		big[6] = (uint8_t)(sizes[i] - 7);
		assert_int_equal(exchange(l, big, sizes[i]), 0x6700);
		assert_int_equal(exchange(l, select_ap, sizeof(select_ap)),
				 0x9000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_short_apdus_answered, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_extended_apdu_answered_wrong_length, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
