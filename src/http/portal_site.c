/*
 * The portal site's contents on the repository's page (SPEC section 1,
 * seeds 000 and 001): the client software to download with its SHA-256,
 * the readers known to work, the procedures each agency offers, and the
 * operator's notices with their dates. What changes is in the portal
 * directory (config portal_dir, default <data>/portal), read per request
 * so an operator's change shows without a restart:
 *
 *   download/   the files offered (scripts/dist.sh makes the jpki tarball)
 *   notices     one notice a line: "YYYY-MM-DD text", shown newest first
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "http/http_internal.h"

#define NOTICES_MAX 200
#define NOTICE_LINE 1024
#define DOWNLOADS_MAX 64

static const char *const readers[] = {
#include "http/readers.inc"
};

/* A name served from download/: letters, digits, '.', '_', '+', '-', not
 * starting with '.', so no path and no hidden file is reachable. */
static int safe_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || s[0] == '.')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._+-") == n;
}

static int file_sha256(char out[65], const char *path, off_t *size)
{
	unsigned char buf[65536], md[32];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	size_t n;
	int r = -1;

	*size = 0;
	if (ctx == NULL || f == NULL ||
	    !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		*size += (off_t)n;
		if (!EVP_DigestUpdate(ctx, buf, n))
			goto out;
	}
	if (ferror(f) || !EVP_DigestFinal_ex(ctx, md, &mdlen))
		goto out;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	r = 0;
out:
	if (f != NULL)
		fclose(f);
	EVP_MD_CTX_free(ctx);
	return r;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void downloads(FILE *f, const struct jpki_http *srv)
{
	char *dir = NULL, *names[DOWNLOADS_MAX];
	size_t n = 0;
	DIR *d;
	struct dirent *e;

	fputs("<h2 id=\"download\">利用者クライアントソフト (client software)"
	      "</h2><p>Check the SHA-256 of what you downloaded (<code>"
	      "sha256sum FILE</code>) against the one shown here before you "
	      "install it.</p>",
	      f);
	if (srv->portal_dir == NULL ||
	    asprintf(&dir, "%s/download", srv->portal_dir) < 0 ||
	    (d = opendir(dir)) == NULL) {
		fputs("<p>No downloads are offered yet.</p>", f);
		free(dir);
		return;
	}
	while ((e = readdir(d)) != NULL && n < DOWNLOADS_MAX)
		if (safe_name(e->d_name) && (names[n] = strdup(e->d_name)))
			n++;
	closedir(d);
	qsort(names, n, sizeof(names[0]), by_name);
	fputs("<ul id=\"downloads\">", f);
	for (size_t i = 0; i < n; i++) {
		char *path = NULL, sum[65];
		struct stat sb;
		off_t size;

		if (asprintf(&path, "%s/%s", dir, names[i]) >= 0 &&
		    stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    file_sha256(sum, path, &size) == 0) {
			fprintf(f,
				"<li><a href=\"/download/%s\">%s</a> "
				"(%lld bytes) SHA-256: <code "
				"class=\"sha256\">%s</code></li>",
				names[i], names[i], (long long)size, sum);
		}
		free(path);
		free(names[i]);
	}
	fputs("</ul>", f);
	free(dir);
}

static int newest_first(const void *a, const void *b)
{
	return strcmp(*(char *const *)b, *(char *const *)a);
}

static void notices(FILE *f, const struct jpki_http *srv)
{
	char *path = NULL, line[NOTICE_LINE], *list[NOTICES_MAX];
	size_t n = 0;
	FILE *in;

	fputs("<h2 id=\"notices\">お知らせ (notices)</h2>", f);
	if (srv->portal_dir == NULL ||
	    asprintf(&path, "%s/notices", srv->portal_dir) < 0 ||
	    (in = fopen(path, "r")) == NULL) {
		fputs("<p>No notices.</p>", f);
		free(path);
		return;
	}
	while (n < NOTICES_MAX && fgets(line, sizeof(line), in) != NULL) {
		size_t len = strcspn(line, "\r\n");
		int y, m, d;
		char sep;

		line[len] = '\0';
		/* "YYYY-MM-DD text": anything else is skipped, and said */
		if (len < 12 ||
		    sscanf(line, "%4d-%2d-%2d%c", &y, &m, &d, &sep) != 4 ||
		    sep != ' ' || m < 1 || m > 12 || d < 1 || d > 31 ||
		    line[4] != '-' || line[7] != '-') {
			if (len > 0 && line[0] != '#')
				jpki_log(JPKI_LOG_WARN,
					 "portal: a notice line is not "
					 "\"YYYY-MM-DD text\"; skipped");
			continue;
		}
		if ((list[n] = strdup(line)) != NULL)
			n++;
	}
	fclose(in);
	free(path);
	qsort(list, n, sizeof(list[0]), newest_first);
	fputs("<ul id=\"notice-list\">", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "<li><time datetime=\"%.10s\">%.10s</time> ",
			list[i], list[i]);
		http_html_escape(f, list[i] + 11);
		fputs("</li>", f);
		free(list[i]);
	}
	fputs("</ul>", f);
}

void http_portal_site(FILE *f, const struct jpki_http *srv)
{
	downloads(f, srv);
	fputs("<h2 id=\"readers\">ICカードリーダライタ (readers known to work)"
	      "</h2><p>The virtual reader of this project (<code>jpki card "
	      "serve</code> behind pcscd's vpcd: <code>Virtual PCD 00 00"
	      "</code>), and every reader the CCID driver pcscd loads on "
	      "Debian 12 supports (libccid 1.5.2, its Info.plist):</p>"
	      "<ul id=\"reader-list\"><li>Virtual PCD (vsmartcard-vpcd)</li>",
	      f);
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		fputs("<li>", f);
		http_html_escape(f, readers[i]);
		fputs("</li>", f);
	}
	fputs("</ul>", f);
	fputs("<h2 id=\"procedures\">利用できる手続き (procedures)</h2>"
	      "<table id=\"procedure-list\"><tr><th>agency</th><th>procedure"
	      "</th><th>certificate</th></tr>"
	      "<tr><td>国税庁 (National Tax Agency)</td><td>e-Tax: 国税電子申告"
	      "・納税 (tax returns and payment)</td><td>signing</td></tr>"
	      "<tr><td>国土交通省 (MLIT)</td><td>自動車保有関係手続 (vehicle "
	      "registration, one-stop service)</td><td>signing</td></tr>"
	      "<tr><td>市区町村 (municipalities)</td><td>住民票の写し等の交付"
	      "請求 (copies of the residence certificate, online)</td><td>"
	      "signing</td></tr>"
	      "<tr><td>市区町村 (municipalities)</td><td>コンビニ交付: 住民票の"
	      "写し・印鑑登録証明書 (kiosk copies; check one at <a href=\""
	      "/verify-document\">/verify-document</a>)</td><td>"
	      "authentication</td></tr>"
	      "<tr><td>地方公共団体情報システム機構 (the resident registry "
	      "network)</td><td>本人確認情報の提供状況の開示 (which agencies "
	      "looked you up: <a id=\"disclosure\" href=\"/disclosure\">"
	      "/disclosure</a>)</td><td>authentication</td></tr>"
	      "<tr><td>市区町村 (municipalities)</td><td>転出届 (move-out "
	      "notice, online)</td><td>signing</td></tr>"
	      "<tr><td>行政機関 (agencies)</td><td>ログイン (log-in to online "
	      "services)</td><td>authentication</td></tr></table>",
	      f);
	notices(f, srv);
}

enum MHD_Result http_download(struct jpki_http *srv,
			      struct MHD_Connection *conn,
			      struct http_request *req)
{
	char *path = NULL;
	struct MHD_Response *resp;
	struct stat sb;
	enum MHD_Result ret;
	int fd;

	if (srv->portal_dir == NULL || !safe_name(req->rest) ||
	    asprintf(&path, "%s/download/%s", srv->portal_dir, req->rest) < 0)
		return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		if (fd >= 0)
			close(fd);
		return http_send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	/* the response owns the descriptor from here */
	if ((resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd)) ==
	    NULL) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/octet-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"max-age=300");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}
