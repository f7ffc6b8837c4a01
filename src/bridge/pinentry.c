/*
 * The PIN prompt: a pinentry program (GnuPG's, or any that speaks its
 * Assuan protocol), run for one question. The PIN goes from the person to
 * this process and on to the card; the web page that asked for the
 * operation never sees it, nor the browser.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bridge/bridge_internal.h"

extern char **environ;

/* Assuan's escaping of a command's argument: %, CR and LF as %XX. */
static int send_cmd(FILE *to, const char *cmd, const char *arg)
{
	fputs(cmd, to);
	if (arg != NULL) {
		fputc(' ', to);
		for (const char *p = arg; *p; p++) {
			if (*p == '%' || *p == '\r' || *p == '\n')
				fprintf(to, "%%%02X", (unsigned char)*p);
			else
				fputc(*p, to);
		}
	}
	fputc('\n', to);
	return fflush(to) == 0 ? 0 : -1;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Reads lines up to the command's OK or ERR. Data lines ("D ...") are
 * unescaped into data (when not NULL). 0 for OK, the gpg-error code for
 * ERR, -1 for a broken conversation or data too long.
 */
static long read_answer(FILE *from, char *data, size_t size)
{
	char line[1024];
	size_t used = 0;

	if (data != NULL)
		data[0] = '\0';
	while (fgets(line, sizeof(line), from) != NULL) {
		size_t n = strlen(line);

		if (n == 0 || line[n - 1] != '\n')
			break;
		line[--n] = '\0';
		if (strcmp(line, "OK") == 0 || strncmp(line, "OK ", 3) == 0) {
			jpki_wipe(line, sizeof(line));
			return 0;
		}
		if (strncmp(line, "ERR ", 4) == 0) {
			long code = strtol(line + 4, NULL, 10);

			return code > 0 ? code : -1;
		}
		if (strncmp(line, "D ", 2) == 0 && data != NULL) {
			for (const char *p = line + 2; *p; p++) {
				int c = (unsigned char)*p;

				if (c == '%' && hexval(p[1]) >= 0 &&
				    hexval(p[2]) >= 0) {
					c = hexval(p[1]) * 16 + hexval(p[2]);
					p += 2;
				}
				if (used + 1 >= size) {
					jpki_wipe(line, sizeof(line));
					return -1;
				}
				data[used++] = (char)c;
				data[used] = '\0';
			}
		}
		/* comments (#), status (S) and inquiries are not for us */
	}
	jpki_wipe(line, sizeof(line));
	return -1;
}

/* One conversation: GETPIN into pin, or, with pin NULL, CONFIRM. */
static int converse(char *pin, size_t size, const char *program,
		    const char *desc, const char *prompt, const char *error)
{
	int to_child[2] = {-1, -1}, from_child[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	FILE *to = NULL, *from = NULL;
	char *argv[] = {(char *)program, NULL};
	pid_t pid = -1;
	long code;
	int r = JPKI_ERR_IO;

	if (pin != NULL)
		pin[0] = '\0';
	if (pipe(to_child) != 0 || pipe(from_child) != 0) {
		r = jpki_err_set(JPKI_ERR_IO, "cannot make a pipe: %s",
				 strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
	posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
	posix_spawn_file_actions_addclose(&fa, to_child[1]);
	posix_spawn_file_actions_addclose(&fa, from_child[0]);
	/* stdout is the browser's channel: the program gets only the pipes */
	errno = posix_spawnp(&pid, program, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (errno != 0) {
		pid = -1;
		r = jpki_err_set(JPKI_ERR_IO,
				 "cannot run the PIN prompt '%s': %s (set "
				 "JPKI_PINENTRY)",
				 program, strerror(errno));
		goto out;
	}
	close(to_child[0]);
	close(from_child[1]);
	to_child[0] = from_child[1] = -1;
	if ((to = fdopen(to_child[1], "w")) == NULL)
		goto broken;
	to_child[1] = -1;
	if ((from = fdopen(from_child[0], "r")) == NULL)
		goto broken;
	from_child[0] = -1;
	if (read_answer(from, NULL, 0) != 0 ||
	    send_cmd(to, "SETTITLE", "OpenJPKI") != 0 ||
	    read_answer(from, NULL, 0) != 0 ||
	    send_cmd(to, "SETDESC", desc) != 0 ||
	    read_answer(from, NULL, 0) != 0 ||
	    (prompt != NULL && (send_cmd(to, "SETPROMPT", prompt) != 0 ||
				read_answer(from, NULL, 0) != 0)) ||
	    /* a prompt left alone ends: the browser's queue waits on it */
	    send_cmd(to, "SETTIMEOUT", "120") != 0 ||
	    read_answer(from, NULL, 0) != 0)
		goto broken;
	if (error != NULL && (send_cmd(to, "SETERROR", error) != 0 ||
			      read_answer(from, NULL, 0) != 0))
		goto broken;
	if (send_cmd(to, pin != NULL ? "GETPIN" : "CONFIRM", NULL) != 0)
		goto broken;
	code = read_answer(from, pin, size);
	if (code == 0) {
		r = 0;
	} else if ((code & 0xFFFF) == 99 || (code & 0xFFFF) == 198 ||
		   (code & 0xFFFF) == 62) {
		/* GPG_ERR_CANCELED, GPG_ERR_FULLY_CANCELED: the person said
		 * no; GPG_ERR_TIMEOUT: nobody answered */
		if (pin != NULL)
			jpki_wipe(pin, size);
		r = jpki_err_set(JPKI_ERR_STATE,
				 pin != NULL ? "the PIN was not given "
					       "(cancelled)"
					     : "the resident did not allow it "
					       "(cancelled)");
	} else {
		if (pin != NULL)
			jpki_wipe(pin, size);
		goto broken;
	}
	/* its OK read too, so the program is not left writing to a closed
	 * pipe */
	if (send_cmd(to, "BYE", NULL) == 0)
		(void)read_answer(from, NULL, 0);
	goto out;
broken:
	r = jpki_err_set(JPKI_ERR_IO,
			 "the PIN prompt '%s' did not answer as a pinentry "
			 "does",
			 program);
out:
	if (to != NULL)
		fclose(to);
	if (from != NULL)
		fclose(from);
	for (int i = 0; i < 2; i++) {
		if (to_child[i] >= 0)
			close(to_child[i]);
		if (from_child[i] >= 0)
			close(from_child[i]);
	}
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	return r;
}

int jpki_bridge_pinentry(char *pin, size_t size, const char *program,
			 const char *desc, const char *prompt,
			 const char *error)
{
	if (pin == NULL || size == 0)
		return jpki_err_set(JPKI_ERR_INVALID, "no room for a PIN");
	return converse(pin, size, program, desc, prompt, error);
}

int jpki_bridge_confirm(const char *program, const char *desc)
{
	return converse(NULL, 0, program, desc, NULL, NULL);
}
