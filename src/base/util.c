/* Files, hex, UTF-8 and secret handling. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jpki/base.h"

void jpki_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

int jpki_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= x[i] ^ y[i];
	return acc == 0;
}

int jpki_file_read(unsigned char **out, size_t *out_len, const char *path,
		   size_t cap)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int fd, r = JPKI_ERR_INTERNAL;
	struct stat st;

	*out = NULL;
	*out_len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return jpki_err_set(errno == ENOENT ? JPKI_ERR_NOT_FOUND
						    : JPKI_ERR_IO,
				    "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = jpki_err_set(JPKI_ERR_IO, "%s: not a regular file", path);
		goto out;
	}
	if ((size_t)st.st_size > cap) {
		r = jpki_err_set(JPKI_ERR_TOO_LARGE,
				 "%s: %lld bytes is over the limit of %zu",
				 path, (long long)st.st_size, cap);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = jpki_err_set(JPKI_ERR_IO, "%s: read failed", path);
			goto out;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int jpki_file_write_atomic(const char *path, const void *data, size_t len,
			   int mode)
{
	return jpki_file_write_atomic_flags(path, data, len, mode, 0);
}

int jpki_file_write_atomic_flags(const char *path, const void *data,
				 size_t len, int mode, int flags)
{
	int sync = !(flags & JPKI_FILE_NO_SYNC);
	char *tmp = NULL, *dircopy = NULL;
	const unsigned char *p = data;
	int fd = -1, dfd = -1, r = JPKI_ERR_INTERNAL;
	size_t done = 0;

	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		tmp = NULL;
		return JPKI_ERR_NOMEM;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		r = jpki_err_set(JPKI_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = jpki_err_set(JPKI_ERR_IO, "%s: %s", tmp,
					 strerror(errno));
			goto out;
		}
		done += (size_t)n;
	}
	if ((sync && fsync(fd) != 0) || close(fd) != 0) {
		fd = -1;
		r = jpki_err_set(JPKI_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		r = jpki_err_set(JPKI_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!sync) {
		r = 0;
		goto out;
	}
	if ((dircopy = strdup(path)) == NULL) {
		r = JPKI_ERR_NOMEM;
		goto out;
	}
	if ((dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY)) >= 0)
		fsync(dfd);
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (r != 0)
		unlink(tmp);
	free(tmp);
	free(dircopy);
	return r;
}

int jpki_fs_sync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return jpki_err_set(JPKI_ERR_IO, "%s: %s", dir,
				    strerror(errno));
	if (syncfs(fd) != 0)
		r = jpki_err_set(JPKI_ERR_IO, "%s: %s", dir, strerror(errno));
	close(fd);
	return r;
}

int jpki_mkdir_p(const char *path)
{
	char *copy = strdup(path);
	int r = 0;

	if (copy == NULL)
		return JPKI_ERR_NOMEM;
	for (char *p = copy + 1; r == 0; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST)
			r = jpki_err_set(JPKI_ERR_IO, "mkdir %s: %s", copy,
					 strerror(errno));
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
	return r;
}

char *jpki_hex(const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(n * 2 + 1);

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

/* The code point at *p, advancing *p past it; -1 for bytes that are not
 * UTF-8 (overlong forms, surrogates, values past U+10FFFF). */
static long utf8_next(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	unsigned cp;
	int extra;

	if (*p < 0x80) {
		*pp = p + 1;
		return *p;
	} else if ((*p & 0xe0) == 0xc0) {
		cp = *p & 0x1f;
		extra = 1;
	} else if ((*p & 0xf0) == 0xe0) {
		cp = *p & 0x0f;
		extra = 2;
	} else if ((*p & 0xf8) == 0xf0) {
		cp = *p & 0x07;
		extra = 3;
	} else {
		return -1;
	}
	p++;
	for (int i = 0; i < extra; i++, p++) {
		if ((*p & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (*p & 0x3f);
	}
	if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
	    (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*pp = p;
	return (long)cp;
}

long jpki_utf8_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	long count = 0;

	while (*p) {
		if (utf8_next(&p) < 0)
			return -1;
		count++;
	}
	return count;
}

int jpki_text_check(const char *s, const char *what)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL)
		return jpki_err_set(JPKI_ERR_INVALID, "%s is missing", what);
	while (*p) {
		long cp = utf8_next(&p);

		if (cp < 0)
			return jpki_err_set(JPKI_ERR_INVALID,
					    "%s is not valid UTF-8", what);
		/* Controls would break the printed letter and the
		 * certificate's display; bidirectional controls make a name
		 * read otherwise than it is stored. */
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		    cp == 0x200e || cp == 0x200f ||
		    (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			return jpki_err_set(JPKI_ERR_INVALID,
					    "%s contains the control character "
					    "U+%04lX; only printable characters "
					    "are allowed",
					    what, (unsigned long)cp);
	}
	return 0;
}
