/* Logging to standard error, one line a message, UTC timestamps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jpki/base.h"

static int level = -1;

static const char *const names[] = {"error", "warn", "info", "debug"};

int jpki_log_level_parse(enum jpki_log_level *out, const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, names[i]) == 0) {
			*out = (enum jpki_log_level)i;
			return 0;
		}
	return jpki_err_set(JPKI_ERR_INVALID,
			    "unknown log level '%s' (error, warn, info, debug)",
			    name);
}

void jpki_log_set_level(enum jpki_log_level l)
{
	level = (int)l;
}

void jpki_log(enum jpki_log_level l, const char *fmt, ...)
{
	char ts[32], msg[1024];
	struct tm tm;
	time_t now;
	va_list ap;

	if (level < 0) {
		enum jpki_log_level parsed = JPKI_LOG_INFO;
		const char *env = getenv("JPKI_LOG");

		if (env != NULL && jpki_log_level_parse(&parsed, env) != 0)
			parsed = JPKI_LOG_INFO;
		level = (int)parsed;
	}
	if ((int)l > level)
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s jpki[%ld] %s: %s\n", ts, (long)getpid(),
		names[l], msg);
}
