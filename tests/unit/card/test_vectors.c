/*
 * The APDU exchanges of tests/data/apdu/NN_name.vec, replayed against a freshly
 * issued card without pcscd: the same sequences OpenSC and the window send.
 */
#include <dirent.h>

#include "card/card_internal.h"
#include "card_fixture.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Does `got` match the expected pattern (hex, ".." any byte, "..{N}" N
 * bytes of any value, "*" any run)? */
static int matches(const char *pat, const uint8_t *got, size_t n)
{
	while (*pat == ' ')
		pat++;
	if (*pat == '\0' || *pat == '\n')
		return n == 0;
	if (strncmp(pat, "..{", 3) == 0) {
		char *end;
		unsigned long k = strtoul(pat + 3, &end, 10);

		if (*end != '}')
			fail_msg("bad pattern near '%s'", pat);
		return k <= n && matches(end + 1, got + k, n - k);
	}
	if (*pat == '*') {
		for (size_t skip = 0; skip <= n; skip++)
			if (matches(pat + 1, got + skip, n - skip))
				return 1;
		return 0;
	}
	if (n == 0)
		return 0;
	if (pat[0] == '.' && pat[1] == '.')
		return matches(pat + 2, got + 1, n - 1);
	if (hexval(pat[0]) < 0 || hexval(pat[1]) < 0)
		fail_msg("bad pattern near '%s'", pat);
	if ((uint8_t)(hexval(pat[0]) << 4 | hexval(pat[1])) != got[0])
		return 0;
	return matches(pat + 2, got + 1, n - 1);
}

/* "{end}", "{end-N}" or "{end+N}" in a command: two bytes (P1 P2), the
 * length of the current file plus or minus N, so that a vector reads the
 * end of a certificate whatever its length. Returns what follows, or NULL. */
static const char *end_offset(struct jpki_card *card, const char *p,
			      uint8_t out[2])
{
	long off, k = 0;
	char *end;

	if (card->ef != EF_DATA || strncmp(p, "{end", 4) != 0)
		return NULL;
	off = card->files[card->cur_file].len;
	p += 4;
	if (*p == '-' || *p == '+') {
		k = strtol(p + 1, &end, 10);
		off += *p == '-' ? -k : k;
		p = end;
	}
	if (*p != '}' || off < 0 || off > 0x7FFF)
		return NULL;
	out[0] = (uint8_t)(off >> 8);
	out[1] = (uint8_t)off;
	return p + 1;
}

static void replay(struct card_fixture *f, const char *path)
{
	struct jpki_card *card = cf_card(f);
	FILE *in = fopen(path, "r");
	char line[2048];
	uint8_t resp[JPKI_CARD_MAX_RESPONSE];
	size_t resp_len = 0;
	int lineno = 0, have = 0, exchanges = 0;

	assert_non_null(in);
	while (fgets(line, sizeof(line), in) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strcmp(line, "reset") == 0) {
			jpki_card_reset(card);
			continue;
		}
		if (strncmp(line, "> ", 2) == 0) {
			uint8_t apdu[512];
			size_t n = 0;

			for (const char *p = line + 2; *p;) {
				if (*p == ' ') {
					p++;
					continue;
				}
				if (*p == '{') {
					p = end_offset(card, p, apdu + n);
					if (p == NULL)
						fail_msg("%s:%d: bad {end}",
							 path, lineno);
					n += 2;
					continue;
				}
				if (hexval(p[0]) < 0 || hexval(p[1]) < 0)
					fail_msg("%s:%d: bad hex", path, lineno);
				apdu[n++] = (uint8_t)(hexval(p[0]) << 4 |
						      hexval(p[1]));
				p += 2;
			}
			/* a save failure still answers 65 81: compare it */
			if (jpki_card_process(card, apdu, n, resp,
					      &resp_len) != 0)
				print_message("card state not saved\n");
			have = 1;
			exchanges++;
			continue;
		}
		if (strncmp(line, "< ", 2) == 0) {
			if (!have)
				fail_msg("%s:%d: response without command",
					 path, lineno);
			if (!matches(line + 2, resp, resp_len)) {
				char got[2 * JPKI_CARD_MAX_RESPONSE + 1];

				for (size_t i = 0; i < resp_len; i++)
					snprintf(got + 2 * i, 3, "%02X",
						 resp[i]);
				fail_msg("%s:%d: expected %s, got %s", path,
					 lineno, line + 2, got);
			}
			have = 0;
			continue;
		}
		fail_msg("%s:%d: cannot read this line", path, lineno);
	}
	fclose(in);
	assert_true(exchanges > 0);
	jpki_card_free(card);
}

static void test_vectors(void **state)
{
	struct card_fixture *f = *state;
	const char *dir = JPKI_TEST_DATA "/apdu";
	struct dirent **list;
	int n = scandir(dir, &list, NULL, alphasort), ran = 0;

	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(list[i]->d_name);

		if (len > 4 && strcmp(list[i]->d_name + len - 4, ".vec") == 0) {
			char *path;

			assert_true(asprintf(&path, "%s/%s", dir,
					     list[i]->d_name) > 0);
			print_message("vector %s\n", list[i]->d_name);
			replay(f, path);
			free(path);
			ran++;
		}
		free(list[i]);
	}
	free(list);
	assert_true(ran >= 6);
}

/* The pattern matcher itself must be able to fail. */
static void test_matcher(void **state)
{
	const uint8_t r[] = {0x30, 0x82, 0x90, 0x00};

	assert_true(matches("30 82 90 00", r, 4));
	assert_true(matches("30 .. 90 00", r, 4));
	assert_true(matches("* 90 00", r, 4));
	assert_false(matches("30 83 90 00", r, 4));
	assert_false(matches("90 00", r, 4));
	assert_false(matches("30 82 90 00 00", r, 4));
	assert_true(matches("..{2} 90 00", r, 4));
	assert_true(matches("..{0} 30 82 90 00", r, 4));
	assert_false(matches("..{1} 90 00", r, 4));
	assert_false(matches("..{5}", r, 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matcher),
		cmocka_unit_test(test_vectors),
	};

	return cmocka_run_group_tests(tests, cf_setup, cf_teardown);
}
