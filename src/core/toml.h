/* toml.h - TOML 1.0 reader (part of the core module; included by core.h).
 * Parses a whole document into an owned tree. Every value keeps the line and
 * column where it was written, so configuration errors can point at it. */
#ifndef MOAT_TOML_H
#define MOAT_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    MOAT_TOML_STRING,
    MOAT_TOML_INTEGER,
    MOAT_TOML_FLOAT,
    MOAT_TOML_BOOL,
    MOAT_TOML_DATETIME,       /* offset date-time */
    MOAT_TOML_DATETIME_LOCAL, /* local date-time */
    MOAT_TOML_DATE_LOCAL,
    MOAT_TOML_TIME_LOCAL,
    MOAT_TOML_ARRAY,
    MOAT_TOML_TABLE,
} moat_toml_type;

typedef struct moat_toml_value moat_toml_value;

typedef struct moat_toml_kv {
    char *key; /* owned, NUL-terminated (may contain NUL: see key_len) */
    size_t key_len;
    moat_toml_value *value; /* owned */
} moat_toml_kv;

struct moat_toml_value {
    moat_toml_type type;
    int line, col; /* 1-based position of the value (tables: their header or first key) */
    union {
        struct {
            char *ptr; /* owned, NUL-terminated; may contain NUL bytes */
            size_t len;
        } str;
        int64_t integer;
        double fp;
        bool boolean;
        /* All four date/time kinds: the text in canonical RFC 3339 form
         * ("1979-05-27T07:32:00Z", "1979-05-27T00:32:00.999999-07:00",
         * "1979-05-27", "07:32:00"), with 'T' and upper-case 'Z'. */
        char *datetime; /* owned */
        struct {
            moat_toml_value **items; /* owned */
            size_t len;
        } array;
        struct {
            moat_toml_kv *items; /* owned, in document order */
            size_t len;
        } table;
    } u;
};

typedef struct moat_toml_error {
    int line, col;     /* 1-based place of the problem */
    char message[256]; /* what was found and what was expected */
} moat_toml_error;

/* Parses src[0..len) (UTF-8). On success returns 0 and *out owns the root
 * table. On failure returns MOAT_EPARSE, fills *err and leaves *out NULL. */
int moat_toml_parse(const char *src, size_t len, moat_toml_value **out, moat_toml_error *err);

/* Frees a tree returned by moat_toml_parse (NULL is fine). */
void moat_toml_free(moat_toml_value *v);

/* Looks up key in a table; returns a borrowed value or NULL. */
const moat_toml_value *moat_toml_get(const moat_toml_value *table, const char *key);

/* Name of a type for error messages: "string", "integer", "table", ... */
const char *moat_toml_type_name(moat_toml_type t);

#endif
