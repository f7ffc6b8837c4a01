/*
 * The vpcd link: a jpki_card behind pcscd. vsmartcard's vpcd driver listens
 * on a TCP port; the virtual card connects to it and answers. Every message
 * is a 2-byte big-endian length and that many bytes. A 1-byte message is a
 * control: 00 power off, 01 power on, 02 reset, 04 "send your ATR"; anything
 * longer is a command APDU, answered with the response APDU; one longer
 * than a short APDU can be (an extended APDU) is answered 67 00.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jpki/reader.h"

enum { VPCD_OFF = 0, VPCD_ON = 1, VPCD_RESET = 2, VPCD_ATR = 4 };

static int full_write(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads exactly n bytes; 1 when stopped, -1 on a closed link. */
static int full_read(int fd, uint8_t *p, size_t n,
		     volatile sig_atomic_t *stop)
{
	while (n > 0) {
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t got;
		int ready = poll(&pfd, 1, 500);

		if (*stop)
			return 1;
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			continue;
		got = recv(fd, p, n, 0);
		if (got < 0 && errno == EINTR)
			continue;
		/* vpcd writes a message's length and its body apart; without an
		 * immediate ACK its Nagle waits out our delayed ACK (40 ms) on
		 * every message. Linux clears QUICKACK by itself: set it again. */
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1},
			   sizeof(int));
		if (got <= 0)
			return -1;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

/* Reads and forgets n bytes through buf; as full_read. */
static int skip(int fd, uint8_t *buf, size_t size, size_t n,
		volatile sig_atomic_t *stop)
{
	while (n > 0) {
		size_t part = n < size ? n : size;
		int r = full_read(fd, buf, part, stop);

		if (r != 0)
			return r;
		n -= part;
	}
	return 0;
}

static int send_msg(int fd, const uint8_t *p, size_t n)
{
	uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};

	return full_write(fd, len, 2) == 0 ? full_write(fd, p, n) : -1;
}

static int connect_to(const char *host, uint16_t port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -2;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Serves one connection until it drops (-1) or we are stopped (1). */
static int serve_link(int fd, struct jpki_card *card,
		      volatile sig_atomic_t *stop)
{
	uint8_t hdr[2], msg[JPKI_MAX_APDU], resp[JPKI_CARD_MAX_RESPONSE];

	for (;;) {
		size_t len, resp_len = 0;
		int r = full_read(fd, hdr, 2, stop);

		if (r != 0)
			return r;
		len = (size_t)(hdr[0] << 8 | hdr[1]);
		if (len > sizeof(msg)) {
			/* An extended APDU (up to 65535 bytes through vpcd):
			 * read past it and answer it as the card answers any
			 * malformed APDU, 67 00. Dropping the link instead
			 * took the card out of the reader for every program. */
			static const uint8_t wrong_length[2] = {0x67, 0x00};

			if ((r = skip(fd, msg, sizeof(msg), len, stop)) != 0)
				return r;
			jpki_log(JPKI_LOG_DEBUG,
				 "vpcd sent %zu bytes, over any short APDU: "
				 "67 00",
				 len);
			if (send_msg(fd, wrong_length, 2) != 0)
				return -1;
			continue;
		}
		if ((r = full_read(fd, msg, len, stop)) != 0)
			return r;
		if (len == 1) {
			switch (msg[0]) {
			case VPCD_OFF:
			case VPCD_ON:
			case VPCD_RESET:
				jpki_card_reset(card);
				break;
			case VPCD_ATR:
				if (send_msg(fd,
					     (const uint8_t *)JPKI_CARD_ATR,
					     JPKI_CARD_ATR_LEN) != 0)
					return -1;
				break;
			default:
				jpki_log(JPKI_LOG_WARN,
					 "unknown vpcd control %u", msg[0]);
			}
			continue;
		}
		if (jpki_card_process(card, msg, len, resp, &resp_len) != 0)
			jpki_log(JPKI_LOG_ERROR, "card state not saved: %s",
				 jpki_err_detail());
		if (send_msg(fd, resp, resp_len) != 0)
			return -1;
	}
}

int jpki_reader_vpcd_serve(struct jpki_card *card, const char *host,
			   uint16_t port, volatile sig_atomic_t *stop)
{
	int said_waiting = 0;

	while (!*stop) {
		int fd = connect_to(host, port), r;

		if (fd == -2)
			return jpki_err_set(JPKI_ERR_INVALID,
					    "'%s' is not an IPv4 address",
					    host);
		if (fd < 0) {
			if (!said_waiting)
				jpki_log(JPKI_LOG_INFO,
					 "waiting for vpcd at %s:%u (is "
					 "pcscd running with vsmartcard-vpcd?)",
					 host, port);
			said_waiting = 1;
			for (int i = 0; i < 10 && !*stop; i++)
				usleep(100 * 1000);
			continue;
		}
		jpki_log(JPKI_LOG_INFO, "card inserted in vpcd at %s:%u", host,
			 port);
		said_waiting = 0;
		jpki_card_reset(card);
		r = serve_link(fd, card, stop);
		close(fd);
		if (r < 0)
			jpki_log(JPKI_LOG_INFO,
				 "vpcd closed the link; reconnecting");
	}
	return 0;
}
