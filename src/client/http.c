/*
 * The client's one HTTP exchange (libcurl): OCSP to the CA, log-in to a
 * relying party. Answers are capped; only http and https are spoken.
 */
#include <string.h>

#include <curl/curl.h>

#include "client/client_internal.h"
#include "jpki/base.h"

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct client_body *b = ctx;
	size_t len = size * n;

	if (len > b->cap - b->len)
		return 0; /* over the cap: curl fails the transfer */
	memcpy(b->buf + b->len, p, len);
	b->len += len;
	b->buf[b->len] = '\0';
	return len;
}

int client_http(struct client_body *b, long *code, const char *url,
		const char *content_type, const void *post, size_t post_len,
		long timeout_ms)
{
	struct curl_slist *hdr = NULL;
	char err[CURL_ERROR_SIZE] = "", ctype[128];
	CURL *c = curl_easy_init();
	CURLcode rc;

	b->len = 0;
	b->buf[0] = '\0';
	*code = 0;
	if (c == NULL)
		return JPKI_ERR_NOMEM;
	if (post != NULL) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s",
			 content_type);
		hdr = curl_slist_append(hdr, ctype);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)post_len);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		return jpki_err_set(JPKI_ERR_IO, "%s is not reachable: %s", url,
				    err[0] ? err : curl_easy_strerror(rc));
	return 0;
}
