/*
 * Configuration: `key = value` lines, overridden by JPKI_<KEY> in the
 * environment and by values the program sets (command-line options).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jpki/base.h"

struct entry {
	char *key;
	char *value;
	int explicit; /* set by the program: wins over the environment */
};

struct jpki_config {
	struct entry *entries;
	size_t n;
};

int jpki_config_new(struct jpki_config **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : JPKI_ERR_NOMEM;
}

void jpki_config_free(struct jpki_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n; i++) {
		free(cfg->entries[i].key);
		free(cfg->entries[i].value);
	}
	free(cfg->entries);
	free(cfg);
}

static struct entry *find(const struct jpki_config *cfg, const char *key)
{
	for (size_t i = 0; cfg && i < cfg->n; i++)
		if (strcmp(cfg->entries[i].key, key) == 0)
			return &cfg->entries[i];
	return NULL;
}

static int put(struct jpki_config *cfg, const char *key, const char *value,
	       int explicit)
{
	struct entry *e = find(cfg, key), *grown;
	char *v = strdup(value);

	if (v == NULL)
		return JPKI_ERR_NOMEM;
	if (e != NULL) {
		free(e->value);
		e->value = v;
		e->explicit |= explicit;
		return 0;
	}
	grown = realloc(cfg->entries, (cfg->n + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(v);
		return JPKI_ERR_NOMEM;
	}
	cfg->entries = grown;
	e = &cfg->entries[cfg->n];
	if ((e->key = strdup(key)) == NULL) {
		free(v);
		return JPKI_ERR_NOMEM;
	}
	e->value = v;
	e->explicit = explicit;
	cfg->n++;
	return 0;
}

int jpki_config_set(struct jpki_config *cfg, const char *key,
		    const char *value)
{
	return put(cfg, key, value, 1);
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int jpki_config_load(struct jpki_config **out, const char *path, int optional)
{
	struct jpki_config *cfg = NULL;
	unsigned char *data = NULL;
	size_t len;
	char *line, *save = NULL;
	int r = JPKI_ERR_INTERNAL, lineno = 0;

	*out = NULL;
	if ((r = jpki_config_new(&cfg)) != 0)
		goto out;
	r = jpki_file_read(&data, &len, path, JPKI_MAX_CONFIG);
	if (r == JPKI_ERR_NOT_FOUND && optional) {
		*out = cfg;
		cfg = NULL;
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	if (memchr(data, '\0', len) != NULL) {
		r = jpki_err_set(JPKI_ERR_CONFIG, "%s: contains a NUL byte",
				 path);
		goto out;
	}
	for (line = strtok_r((char *)data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq, *key, *value, *hash;

		lineno++;
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		line = trim(line);
		if (*line == '\0')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			r = jpki_err_set(JPKI_ERR_CONFIG,
					 "%s:%d: expected 'key = value'", path,
					 lineno);
			goto out;
		}
		*eq = '\0';
		key = trim(line);
		value = trim(eq + 1);
		if (*key == '\0') {
			r = jpki_err_set(JPKI_ERR_CONFIG, "%s:%d: empty key",
					 path, lineno);
			goto out;
		}
		if ((r = put(cfg, key, value, 0)) != 0)
			goto out;
	}
	*out = cfg;
	cfg = NULL;
	r = 0;
out:
	free(data);
	jpki_config_free(cfg);
	return r;
}

const char *jpki_config_get(const struct jpki_config *cfg, const char *key,
			    const char *def)
{
	const struct entry *e = find(cfg, key);
	char env[128] = "JPKI_";
	size_t i, n = strlen(env);
	const char *v;

	if (e != NULL && e->explicit)
		return e->value;
	for (i = 0; key[i] != '\0' && n + 1 < sizeof(env); i++, n++)
		env[n] = (key[i] == '-' || key[i] == '.')
				 ? '_'
				 : (char)toupper((unsigned char)key[i]);
	env[n] = '\0';
	if ((v = getenv(env)) != NULL && *v != '\0')
		return v;
	return e != NULL ? e->value : def;
}

int jpki_config_get_int(const struct jpki_config *cfg, const char *key,
			long def, long *out)
{
	const char *v = jpki_config_get(cfg, key, NULL);
	char *end;
	long n;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return jpki_err_set(JPKI_ERR_CONFIG,
				    "setting %s = '%s' is not a whole number",
				    key, v);
	*out = n;
	return 0;
}
