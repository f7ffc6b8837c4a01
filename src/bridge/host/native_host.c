/*
 * jpki-native-host: the program the browser starts for the OpenJPKI
 * extension (docs/BROWSER.md). Chrome passes the caller's origin
 * (chrome-extension://<id>/) and Firefox the manifest's path and the
 * extension's id as arguments; the browser has already checked them
 * against the host manifest, so they are not needed here.
 *
 * Environment: JPKI_PINENTRY (the PIN prompt, default "pinentry"),
 * JPKI_READER (a PC/SC reader name, default the one holding a card).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "jpki/bridge.h"

int main(int argc, char **argv)
{
	struct jpki_bridge_options opt = {NULL, NULL};
	int r;

	(void)argc;
	(void)argv;
	/* a browser that went away shows as EPIPE, not a signal */
	signal(SIGPIPE, SIG_IGN);
	opt.pinentry = getenv("JPKI_PINENTRY");
	opt.reader = getenv("JPKI_READER");
	if (opt.reader != NULL && opt.reader[0] == '\0')
		opt.reader = NULL;
	r = jpki_bridge_run(&opt, STDIN_FILENO, STDOUT_FILENO);
	if (r != 0) {
		/* stderr goes to the browser's log */
		fprintf(stderr, "jpki-native-host: %s\n", jpki_err_detail());
		return 1;
	}
	return 0;
}
