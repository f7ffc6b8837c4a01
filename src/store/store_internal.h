/* What the store's backends share: the row container and their openers. */
#ifndef JPKI_STORE_INTERNAL_H
#define JPKI_STORE_INTERNAL_H

#include "jpki/store.h"

int jpki_store_sqlite_open(struct jpki_store **out, const char *path);

int jpki_rows_new(struct jpki_rows **out, size_t columns);
size_t jpki_rows_columns(const struct jpki_rows *rows);
/* Appends an empty row; *cells points at its columns (owned by rows). */
int jpki_rows_append(struct jpki_rows *rows, struct jpki_value **cells);
/* Copies `v` (text and blobs duplicated) into cells[col]. */
int jpki_rows_set(struct jpki_rows *rows, struct jpki_value *cells,
		  size_t col, const struct jpki_value *v);

#endif
