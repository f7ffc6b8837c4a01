/*
 * `jpki window seal register | cancel | show | list`: seal registration
 * (印鑑登録) at the window, the services module's procedures.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/office.h"
#include "jpki/services.h"

static const char seal_usage[] =
    "usage: jpki window seal VERB ... --operator ID\n"
    "  register PERSON --image SEAL.png --photo-id-address A [--json]\n"
    "      the seal's impression as a PNG (at most 512 KiB, 32-1024\n"
    "      pixels a side), after the photo ID showing the registered\n"
    "      address; one active seal per resident\n"
    "  cancel PERSON --reason TEXT   廃止 of the active seal\n"
    "  show PERSON [--json]          the active seal, else the last one\n"
    "  list [--json]                 the seals of the clerk's municipality\n";

static json_t *seal_json(const struct jpki_seal *s)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:I, s:I, s:s}",
			 "number", s->number, "person", s->person,
			 "municipality_code", s->municipality_code, "state",
			 s->state == JPKI_SEAL_ACTIVE ? "active" : "cancelled",
			 "width", (int)s->width, "height", (int)s->height,
			 "image_sha256", s->image_sha256, "registered_at",
			 (json_int_t)s->registered_at, "cancelled_at",
			 (json_int_t)s->cancelled_at, "cancel_reason",
			 s->cancel_reason);
}

static void seal_print(const struct jpki_seal *s, int json)
{
	if (json) {
		cli_json_print(seal_json(s));
		return;
	}
	printf("seal %s of %s: %s, %ux%u, sha256 %s%s%s\n", s->number,
	       s->person, s->state == JPKI_SEAL_ACTIVE ? "active" : "cancelled",
	       s->width, s->height, s->image_sha256,
	       s->state == JPKI_SEAL_ACTIVE ? "" : ", reason: ",
	       s->state == JPKI_SEAL_ACTIVE ? "" : s->cancel_reason);
}

int cli_window_seal(struct cli *cli, int argc, char **argv)
{
	static const struct option o[] = {
	    OFFICE_OPTIONS,
	    {"image", required_argument, NULL, 'i'},
	    {"photo-id-address", required_argument, NULL, 'A'},
	    {"reason", required_argument, NULL, 'R'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0}};
	struct office_login l = {0};
	const char *verb = argc > 1 ? argv[1] : NULL, *image = NULL,
		   *address = NULL, *reason = NULL;
	int c, r = 0, json = 0, nargs;
	struct jpki_seal seal;
	struct office of;
	char **args;

	if (verb == NULL || strcmp(verb, "--help") == 0) {
		fputs(seal_usage, verb ? stdout : stderr);
		return verb ? CLI_OK : CLI_USAGE;
	}
	optind = 0;
	while ((c = office_getopt(&l, argc - 1, argv + 1, o)) != -1) {
		if (c == 'i')
			image = optarg;
		else if (c == 'A')
			address = optarg;
		else if (c == 'R')
			reason = optarg;
		else if (c == 'j')
			json = 1;
		else
			return CLI_USAGE;
	}
	nargs = argc - 1 - optind;
	args = argv + 1 + optind;
	if (strcmp(verb, "list") == 0 ? nargs != 0
	    : strcmp(verb, "register") == 0 || strcmp(verb, "cancel") == 0 ||
		    strcmp(verb, "show") == 0
		? nargs != 1
		: 1)
		return cli_usage("wrong verb or arguments for 'window seal "
				 "%s' (try jpki window seal --help)",
				 verb);
	if (strcmp(verb, "register") == 0 && (image == NULL || address == NULL))
		return cli_usage("seal register needs --image and "
				 "--photo-id-address");
	if (strcmp(verb, "cancel") == 0 && reason == NULL)
		return cli_usage("seal cancel needs --reason");
	if ((r = office_open(&of, cli, &l, 0)) != CLI_OK)
		return r;
	if ((r = jpki_services_migrate(of.st)) != 0) {
		office_close(&of);
		return cli_fail(r, "store");
	}
	if (strcmp(verb, "register") == 0) {
		unsigned char *png = NULL;
		size_t len = 0;

		/* a file far over the cap is not read whole */
		if ((r = jpki_file_read(&png, &len, image,
					JPKI_SEAL_IMAGE_MAX + 1)) == 0 &&
		    (r = jpki_services_seal_register(&seal, of.st, &of.actor,
						     args[0], address, png,
						     len)) == 0)
			seal_print(&seal, json);
		free(png);
	} else if (strcmp(verb, "cancel") == 0) {
		if ((r = jpki_services_seal_cancel(&seal, of.st, &of.actor,
						   args[0], reason)) == 0)
			seal_print(&seal, json);
	} else if (strcmp(verb, "show") == 0) {
		/* a clerk's read of one resident: the registry's recorded
		 * read decides who may, then the seal */
		struct jpki_resident res;

		if ((r = jpki_registry_read(&res, of.st, &of.actor, args[0])) ==
			0 &&
		    (r = jpki_services_seal_get(&seal, NULL, NULL, of.st,
						res.person)) == 0)
			seal_print(&seal, json);
	} else {
		struct jpki_seal *list = NULL;
		size_t n = 0;

		if ((r = jpki_services_seals(&list, &n, of.st, &of.actor, 0)) ==
		    0) {
			json_t *arr = json_array();

			for (size_t i = 0; i < n; i++) {
				if (json)
					json_array_append_new(
					    arr, seal_json(&list[i]));
				else
					seal_print(&list[i], 0);
			}
			if (json)
				cli_json_print(arr);
			else
				json_decref(arr);
		}
		free(list);
	}
	office_close(&of);
	return r != 0 ? cli_fail(r, verb) : CLI_OK;
}
