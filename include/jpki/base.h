/*
 * base: what every other module stands on.
 *
 * Error codes and their human-readable detail, the size caps for every byte
 * string that comes from outside, a bounded reader and writer for such byte
 * strings, the clock (injectable, so tests and demos can stand on any date),
 * calendar dates in Japan Standard Time, configuration, logging and secret
 * wiping.
 */
#ifndef JPKI_BASE_H
#define JPKI_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define JPKI_MUST_CHECK __attribute__((warn_unused_result))
#define JPKI_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ---- errors ---------------------------------------------------------- */

/* Every fallible function returns 0 or one of these negative codes. */
enum jpki_err {
	JPKI_OK = 0,
	JPKI_ERR_INTERNAL = -1,  /* a bug or an unexpected library failure */
	JPKI_ERR_NOMEM = -2,     /* out of memory */
	JPKI_ERR_INVALID = -3,   /* an argument or a field is not acceptable */
	JPKI_ERR_PARSE = -4,     /* outside bytes are not well formed */
	JPKI_ERR_NOT_FOUND = -5, /* no such certificate, CA, file, ... */
	JPKI_ERR_EXISTS = -6,    /* it is there already */
	JPKI_ERR_STATE = -7,     /* not allowed in the object's current state */
	JPKI_ERR_POLICY = -8,    /* refused by a rule of the service */
	JPKI_ERR_IO = -9,        /* file or socket failure */
	JPKI_ERR_STORE = -10,    /* database failure */
	JPKI_ERR_CRYPTO = -11,   /* a cryptographic operation failed */
	JPKI_ERR_TOO_LARGE = -12, /* input over its size cap */
	JPKI_ERR_SIGNATURE = -13, /* a signature does not verify */
	JPKI_ERR_CONFIG = -14,    /* configuration is missing or wrong */
};

/* A short fixed text for an error code; never NULL. */
const char *jpki_strerror(int err);

/*
 * Records a human-readable reason for the current thread and returns `err`,
 * so that a failing path reads `return jpki_err_set(JPKI_ERR_INVALID, ...)`.
 */
int jpki_err_set(int err, const char *fmt, ...) JPKI_PRINTF(2, 3);

/* The current thread's last detail message ("" if none); borrowed. */
const char *jpki_err_detail(void);

/* Forgets the current thread's detail message. */
void jpki_err_clear(void);

/* ---- size caps for untrusted input ------------------------------------ */

#define JPKI_MAX_CSR (16 * 1024)          /* a PKCS#10 request, DER or PEM */
#define JPKI_MAX_OCSP_REQUEST (8 * 1024)  /* one OCSP request, DER */
#define JPKI_MAX_OCSP_ONEREQS 16          /* certificates per OCSP request */
#define JPKI_MAX_CERT (16 * 1024)         /* one certificate, DER */
#define JPKI_MAX_HTTP_BODY (1024 * 1024)  /* any HTTP request body */
#define JPKI_MAX_URL 4096                 /* an HTTP request target */
#define JPKI_MAX_CONFIG (64 * 1024)       /* a configuration file */
#define JPKI_MAX_APDU (5 + 255 + 1)       /* a short command APDU */
#define JPKI_MAX_SIGNED_APP (4 * 1024 * 1024) /* a signed application */
#define JPKI_MAX_PDF JPKI_MAX_SIGNED_APP  /* a PDF to sign or verify */
#define JPKI_MAX_LOGIN_ANSWER (64 * 1024) /* a log-in answer, JSON */
#define JPKI_MAX_LINK_ANSWER (64 * 1024)  /* a linking look-up's answer, CMS */
#define JPKI_MAX_NAME_CHARS 100           /* resident name, characters */
#define JPKI_MAX_ADDRESS_CHARS 200        /* resident address, characters */

/* ---- bounded reader / writer ------------------------------------------ */

/*
 * A read cursor over bytes from outside. Every typed read checks the bytes
 * remaining first and fails with JPKI_ERR_PARSE, leaving the cursor where it
 * was, rather than read past the end.
 */
struct jpki_cursor {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

void jpki_cursor_init(struct jpki_cursor *r, const void *buf, size_t len);
size_t jpki_cursor_left(const struct jpki_cursor *r);
int jpki_cursor_u8(struct jpki_cursor *r, uint8_t *out) JPKI_MUST_CHECK;
int jpki_cursor_u16(struct jpki_cursor *r, uint16_t *out) JPKI_MUST_CHECK;
/* Borrows `n` bytes at the cursor into *out and advances past them. */
int jpki_cursor_bytes(struct jpki_cursor *r, const uint8_t **out,
		      size_t n) JPKI_MUST_CHECK;
/*
 * Reads one BER-TLV with a one- or two-byte tag and a definite length of at
 * most 0xFFFF; *value borrows the value bytes.
 */
int jpki_cursor_tlv(struct jpki_cursor *r, unsigned *tag, const uint8_t **value,
		    size_t *value_len) JPKI_MUST_CHECK;

/* A write cursor into a caller-owned fixed buffer; never allocates. */
struct jpki_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
};

void jpki_writer_init(struct jpki_writer *w, void *buf, size_t cap);
int jpki_writer_u8(struct jpki_writer *w, uint8_t v) JPKI_MUST_CHECK;
int jpki_writer_u16(struct jpki_writer *w, uint16_t v) JPKI_MUST_CHECK;
int jpki_writer_bytes(struct jpki_writer *w, const void *p,
		      size_t n) JPKI_MUST_CHECK;

/* ---- clock and dates ---------------------------------------------------- */

/*
 * The current time as every module sees it. Normally the system clock; the
 * environment variable JPKI_NOW (read once), the configuration key `now`, or
 * jpki_clock_set() move it to another instant, from which it keeps running.
 */
time_t jpki_clock_now(void);

/* From now on jpki_clock_now() starts at `t` and advances in real time. */
void jpki_clock_set(time_t t);

/*
 * The clock read `t` at the system time `at` and has run since: several
 * processes given the same pair (JPKI_NOW with JPKI_NOW_AT, the Unix time
 * at which it held) share one moved clock, so records made by one are not
 * "in the future" for another.
 */
void jpki_clock_set_at(time_t t, time_t at);

/* From now on jpki_clock_now() returns exactly `t` (tests). */
void jpki_clock_freeze(time_t t);

/* Back to the system clock (and JPKI_NOW ignored). */
void jpki_clock_reset(void);

/*
 * Parses "YYYY-MM-DD" (10:00 in Japan on that day), "YYYY-MM-DDTHH:MM:SSZ"
 * (UTC) or "YYYY-MM-DDTHH:MM:SS" (Japan time) into *out.
 */
int jpki_clock_parse(time_t *out, const char *text) JPKI_MUST_CHECK;

/* A calendar date. Dates of the service are days in Japan (UTC+9). */
struct jpki_date {
	int year;  /* 1800 .. 9999 */
	int month; /* 1 .. 12 */
	int day;   /* 1 .. 31 */
};

int jpki_date_parse(struct jpki_date *out, const char *text) JPKI_MUST_CHECK;
/* Formats as YYYY-MM-DD into buf (at least 11 bytes). */
void jpki_date_format(const struct jpki_date *d, char buf[11]);
int jpki_date_valid(const struct jpki_date *d);
int jpki_date_is_leap_year(int year);
int jpki_date_days_in_month(int year, int month);
/* <0, 0, >0 as a is before, equal to, after b. */
int jpki_date_cmp(const struct jpki_date *a, const struct jpki_date *b);
/* The day in Japan that instant `t` falls on. */
struct jpki_date jpki_date_of(time_t t);
/* Today in Japan, by the clock above. */
struct jpki_date jpki_date_today(void);
/* The first and last second of a day in Japan. */
time_t jpki_date_start(const struct jpki_date *d);
time_t jpki_date_end(const struct jpki_date *d);
/*
 * The same month and day `years` later. 29 February in a year without it
 * becomes 28 February (a birthday or an anniversary falls on the last day of
 * February, as Japan's civil code counts periods).
 */
struct jpki_date jpki_date_add_years(const struct jpki_date *d, int years);
/* The date `months` later, the day clamped to the end of the month. */
struct jpki_date jpki_date_add_months(const struct jpki_date *d, int months);
/* Whole days from a to b (negative when b is before a). */
long jpki_date_days_between(const struct jpki_date *a,
			    const struct jpki_date *b);

/* ---- configuration ------------------------------------------------------- */

/*
 * Settings as `key = value` lines ('#' starts a comment). A setting is looked
 * up first in the environment as JPKI_<KEY> (upper case, '-' and '.' as '_'),
 * then in the loaded file, then the caller's default.
 */
struct jpki_config;

/* Loads `path` into *out (an absent file is an empty configuration when
 * `optional` is set). The caller frees *out with jpki_config_free(). */
int jpki_config_load(struct jpki_config **out, const char *path,
		     int optional) JPKI_MUST_CHECK;
/* An empty configuration (environment and defaults only). */
int jpki_config_new(struct jpki_config **out) JPKI_MUST_CHECK;
void jpki_config_free(struct jpki_config *cfg);
/* Sets a value (command-line options override the file this way). */
int jpki_config_set(struct jpki_config *cfg, const char *key,
		    const char *value) JPKI_MUST_CHECK;
/* Borrowed string, or `def` when unset. `cfg` may be NULL. */
const char *jpki_config_get(const struct jpki_config *cfg, const char *key,
			    const char *def);
/* An integer setting; a value that is not a whole number is an error. */
int jpki_config_get_int(const struct jpki_config *cfg, const char *key,
			long def, long *out) JPKI_MUST_CHECK;

/* ---- logging -------------------------------------------------------------- */

enum jpki_log_level {
	JPKI_LOG_ERROR = 0,
	JPKI_LOG_WARN = 1,
	JPKI_LOG_INFO = 2,
	JPKI_LOG_DEBUG = 3,
};

/* Messages above `level` are dropped; the default is INFO, or JPKI_LOG. */
void jpki_log_set_level(enum jpki_log_level level);
int jpki_log_level_parse(enum jpki_log_level *out, const char *name);
void jpki_log(enum jpki_log_level level, const char *fmt, ...)
	JPKI_PRINTF(2, 3);

/* ---- secrets ----------------------------------------------------------------- */

/* Overwrites `n` bytes so that the compiler cannot drop the store. */
void jpki_wipe(void *p, size_t n);
/* 1 if equal, 0 if not, in time that depends only on `n`. */
int jpki_ct_equal(const void *a, const void *b, size_t n);

/* ---- small helpers -------------------------------------------------------------- */

/* Reads a whole file of at most `cap` bytes; caller frees *out with free(). */
int jpki_file_read(unsigned char **out, size_t *out_len, const char *path,
		   size_t cap) JPKI_MUST_CHECK;
/* Writes a file atomically (temporary file, fsync, rename, fsync dir). */
int jpki_file_write_atomic(const char *path, const void *data, size_t len,
			   int mode) JPKI_MUST_CHECK;
/* The same; with JPKI_FILE_NO_SYNC the file replaces the old one whole
 * (temporary file, rename) but is durable only after jpki_fs_sync(), so
 * that many files cost one sync. */
#define JPKI_FILE_NO_SYNC 1
int jpki_file_write_atomic_flags(const char *path, const void *data,
				 size_t len, int mode,
				 int flags) JPKI_MUST_CHECK;
/* Makes everything written to the file system holding `dir` durable
 * (syncfs). */
int jpki_fs_sync(const char *dir) JPKI_MUST_CHECK;
/* Creates a directory and its parents (mode 0700 for new ones). */
int jpki_mkdir_p(const char *path) JPKI_MUST_CHECK;
/* Lower-case hex of `n` bytes into a new string; caller frees. */
char *jpki_hex(const unsigned char *p, size_t n);
/* Counts the characters of a UTF-8 string; -1 if it is not valid UTF-8. */
long jpki_utf8_chars(const char *s);
/*
 * Checks text that may go into a certificate or onto a printed record:
 * valid UTF-8 with no C0 or C1 control, no DEL and no bidirectional
 * control (U+200E, U+200F, U+202A..U+202E, U+2066..U+2069). Returns 0, or
 * JPKI_ERR_INVALID with a sentence that names `what` and the character.
 */
int jpki_text_check(const char *s, const char *what) JPKI_MUST_CHECK;

#endif
