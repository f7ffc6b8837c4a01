/* Secrets from a file, the environment or the terminal (no echo). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"

/*
 * A PIN or password from, in order: the file (first line), the environment
 * variable, or the terminal with echo off. Never logged; the caller wipes buf.
 */
int cli_read_secret(char *buf, size_t size, const char *file, const char *env,
		    const char *prompt)
{
	const char *v = env ? getenv(env) : NULL;
	struct termios old, quiet;
	size_t len;
	FILE *in;
	int tty;

	buf[0] = '\0';
	if (file != NULL) {
		if ((in = fopen(file, "r")) == NULL)
			return jpki_err_set(JPKI_ERR_IO, "cannot read %s: %s",
					    file, strerror(errno));
		if (fgets(buf, (int)size, in) == NULL)
			buf[0] = '\0';
		fclose(in);
	} else if (v != NULL && v[0] != '\0') {
		if (strlen(v) > size - 2)
			return jpki_err_set(JPKI_ERR_INVALID, "$%s is too long",
					    env);
		snprintf(buf, size, "%s", v);
	} else {
		if ((tty = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0 ||
		    (in = fdopen(tty, "r+")) == NULL) {
			if (tty >= 0)
				close(tty);
			return jpki_err_set(
			    JPKI_ERR_INVALID,
			    "nothing to read it from: there is no "
			    "terminal to ask on; give a file or $%s",
			    env ? env : "");
		}
		fprintf(in, "%s: ", prompt);
		fflush(in);
		tcgetattr(tty, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(tty, TCSAFLUSH, &quiet);
		if (fgets(buf, (int)size, in) == NULL)
			buf[0] = '\0';
		tcsetattr(tty, TCSAFLUSH, &old);
		fprintf(in, "\n");
		fclose(in);
	}
	len = strcspn(buf, "\r\n");
	if (buf[len] == '\0' && len > size - 2)
		return jpki_err_set(JPKI_ERR_INVALID,
				    "it has at most %zu characters", size - 2);
	buf[len] = '\0';
	if (len == 0)
		return jpki_err_set(JPKI_ERR_INVALID, "nothing given");
	return 0;
}
