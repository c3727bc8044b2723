/* toml_internal.h - shared between toml.c (document structure: keys, tables,
 * arrays) and toml_scalar.c (strings, numbers, booleans, date-times). Private
 * to the core module. */
#ifndef MOAT_TOML_INTERNAL_H
#define MOAT_TOML_INTERNAL_H

#include "core.h"

typedef struct moat__toml_parser {
    const unsigned char *s; /* the whole document, already checked to be UTF-8 */
    size_t len;
    size_t pos;
    moat_toml_error *err;
    /* moat__toml_locate() checkpoint: positions are asked for in document
     * order, so each lookup scans only the text since the previous one. */
    size_t loc_off;
    int loc_line, loc_col;
    /* Hash key for the indexes of big tables, drawn when the first is made. */
    uint64_t hkey[2];
    bool hkey_set;
} moat__toml_parser;

/* Size of the buffer moat__toml_found() writes into. */
#define MOAT__TOML_FOUND_LEN 48

/* Describes the byte at off for "found ..." in messages ("'x'", "end of
 * line", "control character U+0007"), using buf if it needs one. */
const char *moat__toml_found(const moat__toml_parser *P, size_t off, char *buf);
#define MOAT__TOML_FOUND(P, off) moat__toml_found((P), (off), (char[MOAT__TOML_FOUND_LEN]){0})

/* Records the error at byte offset off (line and column computed from it).
 * Always returns -1 so callers can `return moat__toml_fail(...)`. */
int moat__toml_fail(moat__toml_parser *P, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1-based line and column (in characters) of byte offset off. */
void moat__toml_locate(moat__toml_parser *P, size_t off, int *line, int *col);

/* Each of these starts at P->pos (on the opening quote or first character),
 * leaves P->pos after the value and returns 0, or returns -1 with the error
 * recorded. Strings append their decoded bytes to out. */
int moat__toml_basic_string(moat__toml_parser *P, moat_buf *out, bool multiline);
int moat__toml_literal_string(moat__toml_parser *P, moat_buf *out, bool multiline);
/* Numbers, booleans and date-times: sets v->type and v->u. */
int moat__toml_scalar(moat__toml_parser *P, moat_toml_value *v);

#endif
