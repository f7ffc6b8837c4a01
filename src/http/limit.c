/*
 * A rate limit per client address: a token bucket for each address seen
 * lately (at most LIMIT_SLOTS of them), refilled at `rate` per second up to
 * `burst`. The log-in role uses it for challenges: without it one client
 * could fetch challenges faster than they expire and push everyone else's
 * out of the verifier's bounded table.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netinet/in.h>

#include "http/http_internal.h"

#define LIMIT_SLOTS 4096
#define LIMIT_PROBE 8 /* slots looked at for an address, or to evict */

struct limit_slot {
	unsigned char addr[16]; /* IPv4 mapped into IPv6 */
	int used;
	double tokens;
	double last; /* seconds, monotonic */
};

struct http_limit {
	pthread_mutex_t lock;
	double rate, burst;
	struct limit_slot slots[LIMIT_SLOTS];
};

int http_limit_new(struct http_limit **out, double rate, double burst)
{
	struct http_limit *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (l == NULL)
		return JPKI_ERR_NOMEM;
	pthread_mutex_init(&l->lock, NULL);
	l->rate = rate;
	l->burst = burst;
	*out = l;
	return 0;
}

void http_limit_free(struct http_limit *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static void addr_key(unsigned char key[16], const struct sockaddr *sa)
{
	memset(key, 0, 16);
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* FNV-1a over the address. */
static size_t slot_of(const unsigned char key[16])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % LIMIT_SLOTS;
}

int http_limit_take(struct http_limit *l, const struct sockaddr *sa,
		    unsigned *retry_after)
{
	unsigned char key[16];
	double now = mono_now();
	struct limit_slot *s = NULL, *idlest = NULL;
	size_t start;
	int ok;

	addr_key(key, sa);
	start = slot_of(key);
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < LIMIT_PROBE; i++) {
		struct limit_slot *c = &l->slots[(start + i) % LIMIT_SLOTS];

		if (c->used && memcmp(c->addr, key, 16) == 0) {
			s = c;
			break;
		}
		/* the slot to take over: a free one, else the one idle
		 * longest */
		if (!c->used) {
			if (idlest == NULL || idlest->used)
				idlest = c;
		} else if (idlest == NULL ||
			   (idlest->used && c->last < idlest->last)) {
			idlest = c;
		}
	}
	if (s == NULL) {
		/* a new address starts with a full bucket; the one evicted
		 * had been quiet longest among its neighbours */
		s = idlest;
		memcpy(s->addr, key, 16);
		s->used = 1;
		s->tokens = l->burst;
		s->last = now;
	}
	s->tokens += (now - s->last) * l->rate;
	if (s->tokens > l->burst)
		s->tokens = l->burst;
	s->last = now;
	ok = s->tokens >= 1.0;
	if (ok)
		s->tokens -= 1.0;
	else if (retry_after != NULL)
		*retry_after = (unsigned)((1.0 - s->tokens) / l->rate) + 1;
	pthread_mutex_unlock(&l->lock);
	return ok;
}
