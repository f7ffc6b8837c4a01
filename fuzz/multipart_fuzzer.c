/*
 * The clerk's multipart form (src/http/multipart.c) on arbitrary bodies:
 * the bytes are libmicrohttpd's post processor's to parse, which needs a
 * connection, so the input is posted to a libmicrohttpd daemon of this
 * process (127.0.0.1, a free port, started once) as the body of a
 * multipart/form-data request with the boundary "jpkiB", and its handler runs
 * http_multipart_parse on it. Whatever the bytes: the result is 0,
 * JPKI_ERR_PARSE or JPKI_ERR_TOO_LARGE; after 0, every text field is
 * NUL-terminated, at most HTTP_FIELD_MAX bytes, of one line, named once,
 * and the file is within its cap; after a refusal nothing is kept.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_internal.h"

#define FILE_MAX 4096

struct body {
	unsigned char *data;
	size_t len;
};

static void check(const struct http_multipart *mp, int r)
{
	if (r != 0 && r != JPKI_ERR_PARSE && r != JPKI_ERR_TOO_LARGE)
		abort();
	if (r != 0) {
		if (mp->file != NULL || mp->file_len != 0)
			abort();
		return;
	}
	if (mp->nfields > HTTP_MULTIPART_FIELDS || mp->file_len > FILE_MAX)
		abort();
	for (size_t i = 0; i < mp->nfields; i++) {
		const struct http_multipart_field *f = &mp->field[i];

		if (strlen(f->value) != f->len || f->len > HTTP_FIELD_MAX ||
		    memchr(f->name, '\0', sizeof(f->name)) == NULL)
			abort();
		for (size_t j = 0; j < f->len; j++)
			if ((unsigned char)f->value[j] < 0x20 ||
			    f->value[j] == 0x7f)
				abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(mp->field[j].name, f->name) == 0)
				abort();
		if (http_multipart_value(mp, f->name) != f->value)
			abort();
	}
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_size, void **con_cls)
{
	struct body *b = *con_cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	if (b == NULL) {
		if ((b = calloc(1, sizeof(*b))) == NULL)
			abort();
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		unsigned char *grown = realloc(b->data, b->len + *upload_size);

		if (grown == NULL)
			abort();
		memcpy(grown + b->len, upload_data, *upload_size);
		b->data = grown;
		b->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	{
		struct upload up = {.data = b->data, .len = b->len};
		struct http_multipart mp;
		int r = http_multipart_parse(&mp, conn, &up, "image", FILE_MAX);

		check(&mp, r);
		http_multipart_free(&mp);
	}
	resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void done(void *cls, struct MHD_Connection *conn, void **con_cls,
		 enum MHD_RequestTerminationCode toe)
{
	struct body *b = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (b != NULL) {
		free(b->data);
		free(b);
		*con_cls = NULL;
	}
}

static uint16_t port;

static void start(void)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;

	d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    answer, NULL, MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
	    MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&(struct sockaddr_in){
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
	    MHD_OPTION_END);
	if (d == NULL ||
	    (info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)) ==
		NULL ||
	    info->port == 0)
		abort();
	port = info->port;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char head[256], sink[256];
	int fd, n;

	if (port == 0)
		start();
	sa.sin_port = htons(port);
	n = snprintf(head, sizeof(head),
		     "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
		     "multipart/form-data; boundary=jpkiB\r\nContent-Length: "
		     "%zu\r\nConnection: close\r\n\r\n",
		     size);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		abort();
	if (write(fd, head, (size_t)n) != n ||
	    (size > 0 && write(fd, data, size) != (ssize_t)size))
		abort();
	/* the answer (or the close) comes after the handler's checks */
	while (read(fd, sink, sizeof(sink)) > 0)
		;
	close(fd);
	return 0;
}
