/*
 * Replays fuzz corpora without libFuzzer, so that every ordinary build runs
 * them as tests: each argument is a file or a directory of files, each file
 * one input to LLVMFuzzerTestOneInput.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jpki/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

#define REPLAY_MAX_INPUT (1024 * 1024)

static int replay_file(const char *path)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int r = jpki_file_read(&data, &len, path, REPLAY_MAX_INPUT);

	if (r != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, jpki_err_detail());
		return -1;
	}
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	int r = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: cannot read %s\n", dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char *path, **grown;
		struct stat st;

		if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
			break;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		grown = realloc(names, (n + 1) * sizeof(*names));
		if (grown == NULL) {
			free(path);
			break;
		}
		names = grown;
		names[n++] = path;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		if (r == 0 && replay_file(names[i]) != 0)
			r = -1;
		free(names[i]);
	}
	free(names);
	if (n == 0) {
		fprintf(stderr, "replay: %s holds no input\n", dir);
		return -1;
	}
	*count += n;
	return r;
}

int main(int argc, char **argv)
{
	size_t count = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR|FILE ...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) != 0)
				return 1;
		} else {
			if (replay_file(argv[i]) != 0)
				return 1;
			count++;
		}
	}
	printf("replayed %zu inputs\n", count);
	return 0;
}
