/*
 * The native-messaging wire of the browser bridge (docs/BROWSER.md): the
 * framing (a request at exactly 64 KiB is read, one byte more is refused on
 * its length, a length or body cut short is refused), the strict parser of
 * each op (unknown op, unknown field, wrong type, missing id, bad UTF-8,
 * NUL, duplicate keys, bad hash, challenge, description), the origin rule,
 * and the replies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "bridge/bridge_internal.h"
#include "jpki/bridge.h"

#define HASH "2xTYzCfV4gTa/ISNsSpXj3P0MLXlZu4THFvteIUZ/l8="
#define CH "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

/* A stream holding `bytes` as the browser would have written them. */
static int stream(const void *bytes, size_t n)
{
	int fd = memfd_create("t", 0);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, n), (ssize_t)n);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static int framed(uint32_t len, const char *body, size_t body_len)
{
	char *buf = malloc(4 + body_len);
	int fd;

	assert_non_null(buf);
	memcpy(buf, &len, 4);
	memcpy(buf + 4, body, body_len);
	fd = stream(buf, 4 + body_len);
	free(buf);
	return fd;
}

static void test_frame_sizes(void **state)
{
	char *body = malloc(JPKI_BRIDGE_REQUEST_MAX + 1), *msg;
	size_t len;
	int fd;

	assert_non_null(body);
	memset(body, ' ', JPKI_BRIDGE_REQUEST_MAX + 1);
	/* exactly the limit: read whole */
	fd = framed(JPKI_BRIDGE_REQUEST_MAX, body, JPKI_BRIDGE_REQUEST_MAX);
	assert_int_equal(jpki_bridge_read_message(&msg, &len, fd), 0);
	assert_int_equal(len, JPKI_BRIDGE_REQUEST_MAX);
	free(msg);
	/* then the clean end */
	assert_int_equal(jpki_bridge_read_message(&msg, &len, fd), 1);
	assert_null(msg);
	close(fd);
	/* one byte over: refused on the length, the body left unread */
	fd = framed(JPKI_BRIDGE_REQUEST_MAX + 1, body,
		    JPKI_BRIDGE_REQUEST_MAX + 1);
	assert_int_equal(jpki_bridge_read_message(&msg, &len, fd),
			 JPKI_ERR_TOO_LARGE);
	assert_null(msg);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 4);
	close(fd);
	/* a huge length */
	fd = framed(0xFFFFFFFFu, "", 0);
	assert_int_equal(jpki_bridge_read_message(&msg, &len, fd),
			 JPKI_ERR_TOO_LARGE);
	close(fd);
	free(body);
}

static void test_frame_truncated(void **state)
{
	char *msg;
	size_t len;
	int fd = stream("\x10\x00", 2);

	assert_int_equal(jpki_bridge_read_message(&msg, &len, fd),
			 JPKI_ERR_PARSE);
	assert_non_null(strstr(jpki_err_detail(), "length"));
	close(fd);
	fd = framed(10, "{\"id\"", 5);
	assert_int_equal(jpki_bridge_read_message(&msg, &len, fd),
			 JPKI_ERR_PARSE);
	assert_null(msg);
	close(fd);
	/* the empty stream is the end, not an error */
	fd = stream("", 0);
	assert_int_equal(jpki_bridge_read_message(&msg, &len, fd), 1);
	close(fd);
	/* a zero-length message is read (and refused by the parser) */
	fd = framed(0, "", 0);
	assert_int_equal(jpki_bridge_read_message(&msg, &len, fd), 0);
	assert_int_equal(len, 0);
	free(msg);
	close(fd);
}

static void test_write(void **state)
{
	int p[2];
	char buf[64];
	uint32_t n;
	char *big = malloc(JPKI_BRIDGE_REPLY_MAX + 1);

	assert_int_equal(pipe(p), 0);
	assert_int_equal(jpki_bridge_write_message(p[1], "{}", 2), 0);
	assert_int_equal(read(p[0], buf, sizeof(buf)), 6);
	memcpy(&n, buf, 4);
	assert_int_equal(n, 2);
	assert_memory_equal(buf + 4, "{}", 2);
	/* over Chrome's 1 MiB: nothing written */
	assert_non_null(big);
	assert_int_equal(
	    jpki_bridge_write_message(p[1], big, JPKI_BRIDGE_REPLY_MAX + 1),
	    JPKI_ERR_TOO_LARGE);
	close(p[1]);
	assert_int_equal(read(p[0], buf, sizeof(buf)), 0);
	close(p[0]);
	free(big);
}

/* Parses `text`; the error word (or "ok"). */
static const char *parse(struct jpki_bridge_request *req, const char *text)
{
	const char *code;

	if (jpki_bridge_parse(req, &code, text, strlen(text)) == 0)
		return "ok";
	return code;
}

static void test_parse_ops(void **state)
{
	struct jpki_bridge_request req;

	assert_string_equal(
	    parse(&req, "{\"id\":\"c1\",\"op\":\"certificates\",\"origin\":"
			"\"https://a.example\"}"),
	    "ok");
	assert_int_equal(req.op, JPKI_BRIDGE_CERTIFICATES);
	assert_string_equal(req.id, "c1");
	assert_string_equal(req.origin, "https://a.example");
	assert_string_equal(
	    parse(&req, "{\"id\":\"s1\",\"op\":\"sign\",\"origin\":"
			"\"https://a.example:8443\",\"hash\":\"" HASH
			"\",\"hashAlgorithm\":\"SHA-256\",\"description\":"
			"\"転居届\"}"),
	    "ok");
	assert_int_equal(req.op, JPKI_BRIDGE_SIGN);
	assert_int_equal(req.hash[0], 0xdb);
	assert_int_equal(req.hash[31], 0x5f);
	assert_string_equal(req.description, "転居届");
	assert_string_equal(
	    parse(&req, "{\"id\":\"l1\",\"op\":\"login\",\"origin\":"
			"\"http://127.0.0.1:8080\",\"challenge\":\"" CH "\"}"),
	    "ok");
	assert_int_equal(req.op, JPKI_BRIDGE_LOGIN);
	assert_string_equal(req.challenge, CH);
}

static void test_parse_refusals(void **state)
{
	struct jpki_bridge_request req;

	/* unknown op, with the id kept for the answer */
	assert_string_equal(
	    parse(&req, "{\"id\":\"x\",\"op\":\"raw_sign\",\"origin\":"
			"\"https://a.example\"}"),
	    "unknown_op");
	assert_string_equal(req.id, "x");
	assert_non_null(strstr(jpki_err_detail(), "raw_sign"));
	/* unknown field, named */
	assert_string_equal(
	    parse(&req, "{\"id\":\"x\",\"op\":\"certificates\",\"origin\":"
			"\"https://a.example\",\"pin\":\"1234\"}"),
	    "bad_request");
	assert_non_null(strstr(jpki_err_detail(), "\"pin\""));
	/* a field of another op */
	assert_string_equal(
	    parse(&req, "{\"id\":\"x\",\"op\":\"login\",\"origin\":"
			"\"https://a.example\",\"challenge\":\"" CH
			"\",\"hash\":\"" HASH "\"}"),
	    "bad_request");
	/* wrong types */
	assert_string_equal(parse(&req, "{\"id\":7,\"op\":\"certificates\","
					"\"origin\":\"https://a.example\"}"),
			    "bad_request");
	assert_non_null(strstr(jpki_err_detail(), "\"id\" must be a string"));
	assert_string_equal(parse(&req, "{\"id\":\"x\",\"op\":[],"
					"\"origin\":\"https://a.example\"}"),
			    "bad_request");
	assert_string_equal(
	    parse(&req, "{\"id\":\"x\",\"op\":\"login\",\"origin\":"
			"\"https://a.example\",\"challenge\":43}"),
	    "bad_request");
	/* missing id, missing origin, not an object, not JSON */
	assert_string_equal(
	    parse(&req, "{\"op\":\"certificates\",\"origin\":"
			"\"https://a.example\"}"),
	    "bad_request");
	assert_string_equal(req.id, "");
	assert_string_equal(parse(&req, "{\"id\":\"x\",\"op\":\"certificates\"}"),
			    "bad_request");
	assert_string_equal(parse(&req, "[1]"), "bad_request");
	assert_string_equal(parse(&req, "{\"id\":"), "bad_request");
	assert_string_equal(parse(&req, ""), "bad_request");
	/* bad UTF-8, NUL, duplicate keys, empty or long id */
	assert_string_equal(parse(&req, "{\"id\":\"\xff\",\"op\":"
					"\"certificates\",\"origin\":"
					"\"https://a.example\"}"),
			    "bad_request");
	assert_string_equal(parse(&req, "{\"id\":\"a\\u0000\",\"op\":"
					"\"certificates\",\"origin\":"
					"\"https://a.example\"}"),
			    "bad_request");
	assert_string_equal(parse(&req, "{\"id\":\"a\",\"id\":\"b\",\"op\":"
					"\"certificates\",\"origin\":"
					"\"https://a.example\"}"),
			    "bad_request");
	assert_string_equal(parse(&req, "{\"id\":\"\",\"op\":"
					"\"certificates\",\"origin\":"
					"\"https://a.example\"}"),
			    "bad_request");
	/* sign: SHA-1, short hash, non-canonical base64, description */
	assert_string_equal(
	    parse(&req, "{\"id\":\"s\",\"op\":\"sign\",\"origin\":"
			"\"https://a.example\",\"hash\":\"" HASH
			"\",\"hashAlgorithm\":\"SHA-1\",\"description\":\"x\"}"),
	    "bad_request");
	assert_string_equal(
	    parse(&req, "{\"id\":\"s\",\"op\":\"sign\",\"origin\":"
			"\"https://a.example\",\"hash\":\"AAAA\","
			"\"hashAlgorithm\":\"SHA-256\",\"description\":\"x\"}"),
	    "bad_request");
	assert_string_equal(
	    parse(&req,
		  "{\"id\":\"s\",\"op\":\"sign\",\"origin\":"
		  "\"https://a.example\",\"hash\":"
		  "\"2xTYzCfV4gTa/ISNsSpXj3P0MLXlZu4THFvteIUZ/l9=\","
		  "\"hashAlgorithm\":\"SHA-256\",\"description\":\"x\"}"),
	    "bad_request");
	assert_string_equal(
	    parse(&req, "{\"id\":\"s\",\"op\":\"sign\",\"origin\":"
			"\"https://a.example\",\"hash\":\"" HASH
			"\",\"hashAlgorithm\":\"SHA-256\",\"description\":"
			"\"a\\nb\"}"),
	    "bad_request");
	assert_string_equal(
	    parse(&req, "{\"id\":\"s\",\"op\":\"sign\",\"origin\":"
			"\"https://a.example\",\"hash\":\"" HASH
			"\",\"hashAlgorithm\":\"SHA-256\"}"),
	    "bad_request");
	/* login: a challenge not of 43 base64url characters */
	assert_string_equal(
	    parse(&req, "{\"id\":\"l\",\"op\":\"login\",\"origin\":"
			"\"https://a.example\",\"challenge\":\"AAA+\"}"),
	    "bad_request");
}

static void test_description_length(void **state)
{
	struct jpki_bridge_request req;
	char text[2048], desc[4 * 201 + 1] = "";
	int i;

	/* 200 characters of three bytes each: accepted */
	for (i = 0; i < 200; i++)
		strcat(desc, "あ");
	snprintf(text, sizeof(text),
		 "{\"id\":\"s\",\"op\":\"sign\",\"origin\":\"https://a.example\","
		 "\"hash\":\"" HASH "\",\"hashAlgorithm\":\"SHA-256\","
		 "\"description\":\"%s\"}",
		 desc);
	assert_string_equal(parse(&req, text), "ok");
	strcat(desc, "あ");
	snprintf(text, sizeof(text),
		 "{\"id\":\"s\",\"op\":\"sign\",\"origin\":\"https://a.example\","
		 "\"hash\":\"" HASH "\",\"hashAlgorithm\":\"SHA-256\","
		 "\"description\":\"%s\"}",
		 desc);
	assert_string_equal(parse(&req, text), "bad_request");
}

static void test_parse_too_large(void **state)
{
	struct jpki_bridge_request req;
	char *big = malloc(JPKI_BRIDGE_REQUEST_MAX + 1);
	const char *code;

	assert_non_null(big);
	memset(big, ' ', JPKI_BRIDGE_REQUEST_MAX + 1);
	assert_int_equal(jpki_bridge_parse(&req, &code, big,
					   JPKI_BRIDGE_REQUEST_MAX + 1),
			 JPKI_ERR_TOO_LARGE);
	assert_string_equal(code, "too_large");
	free(big);
}

static void test_origin(void **state)
{
	static const char *good[] = {"https://a.example",
				     "https://a.example:8443",
				     "http://127.0.0.1:8080", "http://localhost:3000",
				     "http://127.0.0.1"};
	static const char *bad[] = {"http://a.example",
				    "http://127.0.0.2:80",
				    "http://localhost.evil.example",
				    "https://a.example/",
				    "https://a.example/path",
				    "https://user@a.example",
				    "HTTPS://A.EXAMPLE",
				    "https://a.example:443",
				    "chrome-extension://abc",
				    "file:///etc/passwd",
				    "null",
				    ""};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(jpki_bridge_origin_check(good[i]), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (jpki_bridge_origin_check(bad[i]) != JPKI_ERR_POLICY)
			fail_msg("origin '%s' was accepted", bad[i]);
	}
}

static void test_replies(void **state)
{
	char *s = bridge_reply_error("x", "pin_wrong", "wrong PIN");

	assert_non_null(s);
	assert_string_equal(s, "{\"id\":\"x\",\"ok\":false,\"error\":{\"code\":"
			       "\"pin_wrong\",\"message\":\"wrong PIN\"}}");
	free(s);
	/* a sentence that is no UTF-8 still gets an answer */
	s = bridge_reply_error("x", "bad_request", "cut \xe3\x81");
	assert_non_null(s);
	assert_non_null(strstr(s, "bad_request"));
	free(s);
	s = bridge_reply_ok("y", json_pack("{s:s}", "a", "b"));
	assert_string_equal(s,
			    "{\"id\":\"y\",\"ok\":true,\"result\":{\"a\":\"b\"}}");
	free(s);
}

static void test_handle_refusals(void **state)
{
	struct jpki_bridge_options opt = {"/nonexistent", "Nowhere 00 00"};
	const char *msg = "{\"id\":\"q\",\"op\":\"nope\",\"origin\":"
			  "\"https://a.example\"}";
	char *reply;

	/* a refused request never reaches a reader */
	assert_int_equal(jpki_bridge_handle(&reply, &opt, msg, strlen(msg)), 0);
	assert_non_null(strstr(reply, "\"id\":\"q\""));
	assert_non_null(strstr(reply, "\"code\":\"unknown_op\""));
	free(reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame_sizes),
	    cmocka_unit_test(test_frame_truncated),
	    cmocka_unit_test(test_write),
	    cmocka_unit_test(test_parse_ops),
	    cmocka_unit_test(test_parse_refusals),
	    cmocka_unit_test(test_description_length),
	    cmocka_unit_test(test_parse_too_large),
	    cmocka_unit_test(test_origin),
	    cmocka_unit_test(test_replies),
	    cmocka_unit_test(test_handle_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
