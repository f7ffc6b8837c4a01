/* What the files of the audit module share. */
#ifndef JPKI_AUDIT_INTERNAL_H
#define JPKI_AUDIT_INTERNAL_H

#include "jpki/audit.h"

/* Creates the audit tables; both public entry points that touch them call
 * it first (through jpki_audit_migrate). */
int audit_migrate(struct jpki_store *st) JPKI_MUST_CHECK;

/* Six digits, the local government code. */
int audit_code_valid(const char *code);

/* Lower-case hex SHA-256 of `n` bytes into out (65 bytes with the NUL). */
int audit_sha256_hex(char out[65], const void *p, size_t n) JPKI_MUST_CHECK;

/* Operator names as typed at a log-in prompt: 0 or JPKI_ERR_INVALID. */
int audit_operator_id_check(const char *id) JPKI_MUST_CHECK;

/* The password rule of new passwords: 0 or JPKI_ERR_INVALID. */
int audit_password_check(const char *password) JPKI_MUST_CHECK;

/* An Argon2id encoded hash of password at the current cost (caller wipes
 * and frees). */
int audit_password_hash(char **out, const char *password) JPKI_MUST_CHECK;

#endif
