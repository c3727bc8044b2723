/* toml.c - the TOML 1.0.0 reader: one pass over the document builds the tree
 * of toml.h, enforcing the structural rules (keys, [tables], [[arrays of
 * tables]], dotted keys, inline tables, and which of them may extend or
 * redefine which). Scalars are read by toml_scalar.c; what keys mean is the
 * config module's business.
 * Every node is allocated with a private header around the public value
 * (flags, capacity, a hash index for big tables), so lookups stay O(1) and a
 * document is read in linear time. Nesting of the tree is capped at MAX_DEPTH
 * so that neither this parser nor code walking the tree can exhaust the
 * stack. */
#include "toml_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef moat__toml_parser parser;
#define FOUND(off) MOAT__TOML_FOUND(P, (off))

/* Deepest level of nesting (tables, arrays, inline tables) in a document. */
#define MAX_DEPTH 128
/* Tables with more keys than this get a hash index. */
#define INDEX_MIN 8

/* How a table or array came to be: this decides what may extend it later. */
enum {
    F_IMPLICIT = 1, /* created on the way to a [header]; a header may still define it */
    F_EXPLICIT = 2, /* defined by a [header] (or the root) */
    F_DOTTED = 4,   /* created by a dotted key */
    F_INLINE = 8,   /* an inline table: complete as written */
    F_AOT = 16,     /* an array created by [[header]]; others are static */
};

typedef struct tindex tindex;

typedef struct node {
    moat_toml_value v; /* first, so a moat_toml_value * is a node * */
    size_t cap;        /* allocated items (tables and arrays) */
    tindex *index;     /* tables with more than INDEX_MIN keys */
    int depth;
    unsigned flags;
} node;

static node *as_node(const moat_toml_value *v)
{
    return (node *)v;
}

/* ---- errors and positions ------------------------------------------------ */

void moat__toml_locate(parser *P, size_t off, int *line, int *col)
{
    if (off > P->len) off = P->len;
    if (off < P->loc_off) {
        P->loc_off = 0;
        P->loc_line = 1;
        P->loc_col = 1;
    }
    for (size_t i = P->loc_off; i < off; i++) {
        unsigned char c = P->s[i];
        if (c == '\n') {
            if (P->loc_line < INT_MAX) P->loc_line++;
            P->loc_col = 1;
        } else if ((c & 0xC0) != 0x80 && P->loc_col < INT_MAX) {
            P->loc_col++;
        }
    }
    P->loc_off = off;
    *line = P->loc_line;
    *col = P->loc_col;
}

int moat__toml_fail(parser *P, size_t off, const char *fmt, ...)
{
    moat__toml_locate(P, off, &P->err->line, &P->err->col);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->err->message, sizeof(P->err->message), fmt, ap);
    va_end(ap);
    return -1;
}

const char *moat__toml_found(const parser *P, size_t off, char *buf)
{
    if (off >= P->len) return "end of file";
    const unsigned char *p = P->s + off;
    switch (p[0]) {
    case '\n':
        return "end of line";
    case '\r':
        return off + 1 < P->len && p[1] == '\n' ? "end of line"
                                                : "a carriage return not followed by a line feed";
    case '\t':
        return "a tab";
    case ' ':
        return "a space";
    case '\'':
        return "\"'\"";
    default:
        break;
    }
    if (p[0] < 0x20 || p[0] == 0x7f) {
        snprintf(buf, MOAT__TOML_FOUND_LEN, "control character U+%04X", p[0]);
    } else if (p[0] < 0x80) {
        snprintf(buf, MOAT__TOML_FOUND_LEN, "'%c'", p[0]);
    } else {
        /* The input is valid UTF-8 (checked before parsing), but off could
         * still be inside a character: then only the byte is named. */
        size_t n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : 2;
        if (p[0] < 0xC0 || n > P->len - off) {
            snprintf(buf, MOAT__TOML_FOUND_LEN, "byte 0x%02X", p[0]);
            return buf;
        }
        uint32_t cp = p[0] & (0x7F >> n);
        for (size_t i = 1; i < n; i++)
            cp = cp << 6 | (p[i] & 0x3F);
        snprintf(buf, MOAT__TOML_FOUND_LEN, "'%.*s' (U+%04X)", (int)n, (const char *)p,
                 (unsigned)cp);
    }
    return buf;
}

/* Rejects invalid UTF-8 (overlong forms, surrogates, beyond U+10FFFF). */
static int check_utf8(parser *P)
{
    const unsigned char *s = P->s;
    size_t i = 0;
    while (i < P->len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (s[i] >= 0xC2 && s[i] <= 0xDF) {
            n = 1;
        } else if (s[i] >= 0xE0 && s[i] <= 0xEF) {
            n = 2;
            if (s[i] == 0xE0) lo = 0xA0;
            if (s[i] == 0xED) hi = 0x9F;
        } else if (s[i] >= 0xF0 && s[i] <= 0xF4) {
            n = 3;
            if (s[i] == 0xF0) lo = 0x90;
            if (s[i] == 0xF4) hi = 0x8F;
        } else {
            return moat__toml_fail(P, i, "invalid UTF-8: byte 0x%02X cannot start a character",
                                   s[i]);
        }
        for (int k = 1; k <= n; k++) {
            size_t j = i + (size_t)k;
            unsigned char min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
            if (j >= P->len || s[j] < min || s[j] > max)
                return moat__toml_fail(P, i, "invalid UTF-8 sequence starting with byte 0x%02X",
                                       s[i]);
        }
        i += (size_t)n + 1;
    }
    return 0;
}

/* ---- nodes ---------------------------------------------------------------- */

static node *node_new_at(moat_toml_type type, int line, int col, int depth)
{
    node *n = moat_xcalloc(1, sizeof(*n));
    n->v.type = type;
    n->v.line = line;
    n->v.col = col;
    n->depth = depth;
    return n;
}

/* Nodes are created in document order, which keeps locate() linear. */
static node *node_new(parser *P, moat_toml_type type, size_t off, int depth)
{
    int line, col;
    moat__toml_locate(P, off, &line, &col);
    return node_new_at(type, line, col, depth);
}

static int check_depth(parser *P, int depth, size_t off)
{
    if (depth > MAX_DEPTH)
        return moat__toml_fail(
            P, off, "nesting is too deep (more than %d levels of tables and arrays)", MAX_DEPTH);
    return 0;
}

/* SipHash-1-3 with a key drawn per document: a file crafted so that many
 * keys share a bucket cannot turn lookups quadratic. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13) ^ v0;                                                                    \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16) ^ v2;                                                                    \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21) ^ v0;                                                                    \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17) ^ v2;                                                                    \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static uint64_t siphash13(const uint64_t k[2], const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    uint64_t v0 = k[0] ^ 0x736f6d6570736575u, v1 = k[1] ^ 0x646f72616e646f6du;
    uint64_t v2 = k[0] ^ 0x6c7967656e657261u, v3 = k[1] ^ 0x7465646279746573u;
    uint64_t b = (uint64_t)len << 56;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t m = 0;
        for (int j = 7; j >= 0; j--)
            m = m << 8 | p[i + (size_t)j];
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t j = 0; i + j < len; j++)
        b |= (uint64_t)p[i + j] << (8 * j);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* The hash index of a big table: open addressing with linear probing. */
struct tindex {
    uint64_t key[2]; /* SipHash key */
    size_t cap;      /* slots, a power of two, at most half full */
    size_t slots[];  /* item number + 1; 0 is empty */
};

static void index_insert(tindex *ix, const moat_toml_kv *items, size_t item)
{
    size_t mask = ix->cap - 1;
    size_t i = (size_t)siphash13(ix->key, items[item].key, items[item].key_len) & mask;
    while (ix->slots[i])
        i = (i + 1) & mask;
    ix->slots[i] = item + 1;
}

static void index_rebuild(parser *P, node *t, size_t cap)
{
    tindex *ix = moat_xcalloc(1, sizeof(*ix) + cap * sizeof(size_t));
    if (t->index) {
        memcpy(ix->key, t->index->key, sizeof(ix->key));
    } else {
        if (!P->hkey_set) {
            moat_random(P->hkey, sizeof(P->hkey));
            P->hkey_set = true;
        }
        memcpy(ix->key, P->hkey, sizeof(ix->key));
    }
    ix->cap = cap;
    for (size_t i = 0; i < t->v.u.table.len; i++)
        index_insert(ix, t->v.u.table.items, i);
    free(t->index);
    t->index = ix;
}

static node *table_find(const node *t, const char *key, size_t len)
{
    const moat_toml_kv *items = t->v.u.table.items;
    const tindex *ix = t->index;
    if (!ix) {
        for (size_t i = 0; i < t->v.u.table.len; i++)
            if (items[i].key_len == len && memcmp(items[i].key, key, len) == 0)
                return as_node(items[i].value);
        return NULL;
    }
    size_t mask = ix->cap - 1;
    for (size_t i = (size_t)siphash13(ix->key, key, len) & mask; ix->slots[i]; i = (i + 1) & mask) {
        const moat_toml_kv *kv = &items[ix->slots[i] - 1];
        if (kv->key_len == len && memcmp(kv->key, key, len) == 0) return as_node(kv->value);
    }
    return NULL;
}

/* Adds key (copied) -> child; the caller checked that key is new. */
static void table_add(parser *P, node *t, const char *key, size_t len, node *child)
{
    size_t n = t->v.u.table.len;
    if (n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4;
        t->v.u.table.items = moat_xrealloc(t->v.u.table.items, t->cap * sizeof(moat_toml_kv));
    }
    moat_toml_kv *kv = &t->v.u.table.items[n];
    kv->key = moat_xstrndup(key, len);
    kv->key_len = len;
    kv->value = &child->v;
    t->v.u.table.len = n + 1;
    if (t->index && (n + 1) * 2 > t->index->cap)
        index_rebuild(P, t, t->index->cap * 2);
    else if (t->index)
        index_insert(t->index, t->v.u.table.items, n);
    else if (n + 1 > INDEX_MIN)
        index_rebuild(P, t, 64);
}

static void array_push(node *a, node *item)
{
    size_t n = a->v.u.array.len;
    if (n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 4;
        a->v.u.array.items = moat_xrealloc(a->v.u.array.items, a->cap * sizeof(moat_toml_value *));
    }
    a->v.u.array.items[n] = &item->v;
    a->v.u.array.len = n + 1;
}

/* ---- keys ----------------------------------------------------------------- */

typedef struct keypart {
    size_t start, len; /* in keypath.bytes */
    size_t off;        /* where it was written */
} keypart;

typedef struct keypath {
    moat_buf bytes;
    keypart *parts;
    size_t n, cap;
} keypath;

static void keypath_free(keypath *k)
{
    moat_buf_free(&k->bytes);
    free(k->parts);
}

static const char *part_str(const keypath *k, size_t i)
{
    return k->bytes.data + k->parts[i].start;
}

static bool is_bare(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Writes parts [0, n) as "a.b.\"c d\"" for messages, cut to fit. */
static const char *key_text(const keypath *k, size_t n, char *buf, size_t size)
{
    moat_buf b;
    moat_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        const char *s = part_str(k, i);
        size_t len = k->parts[i].len;
        bool bare = len > 0;
        for (size_t j = 0; j < len && bare; j++)
            bare = is_bare((unsigned char)s[j]);
        if (i) moat_buf_putc(&b, '.');
        if (!bare) moat_buf_putc(&b, '"');
        for (size_t j = 0; j < len; j++) {
            unsigned char c = (unsigned char)s[j];
            if (c < 0x20 || c == 0x7f)
                moat_buf_printf(&b, "\\u%04X", c);
            else if (c == '"' || c == '\\')
                moat_buf_printf(&b, "\\%c", c);
            else
                moat_buf_putc(&b, (char)c);
        }
        if (!bare) moat_buf_putc(&b, '"');
    }
    if (b.len >= size) {
        /* Cut on a character boundary and say so. */
        size_t cut = size - 4;
        while (cut > 0 && ((unsigned char)b.data[cut] & 0xC0) == 0x80)
            cut--;
        memcpy(buf, b.data, cut);
        memcpy(buf + cut, "...", 4);
    } else {
        memcpy(buf, b.data ? b.data : "", b.len + 1);
    }
    moat_buf_free(&b);
    return buf;
}
#define KEY_TEXT(k, n) key_text((k), (n), (char[80]){0}, 80)

/* Parses a (possibly dotted) key at P->pos, stopping after trailing blanks. */
static int parse_key(parser *P, keypath *k)
{
    moat_buf_reserve(&k->bytes, 32); /* so an empty key ("") still has storage */
    for (;;) {
        size_t off = P->pos;
        int c = off < P->len ? P->s[off] : -1;
        size_t start = k->bytes.len;
        if (k->n == MAX_DEPTH)
            return moat__toml_fail(P, off, "key has too many dotted parts (more than %d)",
                                   MAX_DEPTH);
        if (c >= 0 && is_bare(c)) {
            while (P->pos < P->len && is_bare(P->s[P->pos]))
                P->pos++;
            moat_buf_append(&k->bytes, P->s + off, P->pos - off);
        } else if (c == '"' || c == '\'') {
            bool triple = off + 2 < P->len && P->s[off + 1] == c && P->s[off + 2] == c;
            if (triple) return moat__toml_fail(P, off, "multi-line strings cannot be used as keys");
            int rc = c == '"' ? moat__toml_basic_string(P, &k->bytes, false)
                              : moat__toml_literal_string(P, &k->bytes, false);
            if (rc < 0) return -1;
        } else {
            return moat__toml_fail(P, off,
                                   "expected a key (letters, digits, '_', '-' or a quoted "
                                   "string), found %s",
                                   FOUND(off));
        }
        if (k->n == k->cap) {
            k->cap = k->cap ? k->cap * 2 : 4;
            k->parts = moat_xrealloc(k->parts, k->cap * sizeof(*k->parts));
        }
        k->parts[k->n++] = (keypart){start, k->bytes.len - start, off};
        while (P->pos < P->len && (P->s[P->pos] == ' ' || P->s[P->pos] == '\t'))
            P->pos++;
        if (P->pos >= P->len || P->s[P->pos] != '.') return 0;
        P->pos++;
        while (P->pos < P->len && (P->s[P->pos] == ' ' || P->s[P->pos] == '\t'))
            P->pos++;
    }
}

static const char *what_is(const node *n)
{
    if (n->v.type == MOAT_TOML_TABLE) {
        if (n->flags & F_INLINE) return "an inline table";
        if (n->flags & F_DOTTED) return "a table (created by dotted keys)";
        return "a table";
    }
    if (n->v.type == MOAT_TOML_ARRAY) return n->flags & F_AOT ? "an array of tables" : "an array";
    switch (n->v.type) {
    case MOAT_TOML_STRING:
        return "a string";
    case MOAT_TOML_INTEGER:
        return "an integer";
    case MOAT_TOML_FLOAT:
        return "a float";
    case MOAT_TOML_BOOL:
        return "a boolean";
    case MOAT_TOML_DATETIME:
        return "an offset date-time";
    case MOAT_TOML_DATETIME_LOCAL:
        return "a local date-time";
    case MOAT_TOML_DATE_LOCAL:
        return "a local date";
    case MOAT_TOML_TIME_LOCAL:
        return "a local time";
    default:
        return "a value";
    }
}

/* ---- values --------------------------------------------------------------- */

static node *parse_value(parser *P, int depth);
static int parse_keyval(parser *P, node *base);

static void skip_blank(parser *P)
{
    while (P->pos < P->len && (P->s[P->pos] == ' ' || P->s[P->pos] == '\t'))
        P->pos++;
}

static bool at_newline(const parser *P)
{
    return P->pos < P->len &&
           (P->s[P->pos] == '\n' ||
            (P->s[P->pos] == '\r' && P->pos + 1 < P->len && P->s[P->pos + 1] == '\n'));
}

/* P->pos is on '#': skips to the end of the line (not past it). */
static int skip_comment(parser *P)
{
    for (P->pos++; P->pos < P->len; P->pos++) {
        unsigned char c = P->s[P->pos];
        if (c == '\n' || at_newline(P)) return 0;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return moat__toml_fail(P, P->pos,
                                   "found %s in a comment; control characters are "
                                   "not allowed in comments",
                                   FOUND(P->pos));
    }
    return 0;
}

/* Skips blanks, comments and newlines (inside arrays). */
static int skip_space(parser *P)
{
    for (;;) {
        skip_blank(P);
        if (P->pos < P->len && P->s[P->pos] == '#') {
            if (skip_comment(P) < 0) return -1;
        } else if (at_newline(P)) {
            P->pos += P->s[P->pos] == '\r' ? 2 : 1;
        } else {
            return 0;
        }
    }
}

/* After a value or header (named by after, for the message; NULL on a line
 * that is otherwise empty): blanks, an optional comment, then a newline or
 * the end of the document. */
static int expect_eol(parser *P, const char *after)
{
    skip_blank(P);
    if (P->pos < P->len && P->s[P->pos] == '#' && skip_comment(P) < 0) return -1;
    if (P->pos >= P->len) return 0;
    if (at_newline(P)) {
        P->pos += P->s[P->pos] == '\r' ? 2 : 1;
        return 0;
    }
    if (!after) return moat__toml_fail(P, P->pos, "expected end of line, found %s", FOUND(P->pos));
    return moat__toml_fail(P, P->pos, "expected end of line after %s, found %s", after,
                           FOUND(P->pos));
}

static node *parse_array(parser *P, int depth)
{
    node *a = node_new(P, MOAT_TOML_ARRAY, P->pos, depth);
    P->pos++;
    for (;;) {
        if (skip_space(P) < 0) goto fail;
        if (P->pos < P->len && P->s[P->pos] == ']') break;
        node *item = parse_value(P, depth + 1);
        if (!item) goto fail;
        array_push(a, item);
        if (skip_space(P) < 0) goto fail;
        if (P->pos < P->len && P->s[P->pos] == ',') {
            P->pos++;
            continue;
        }
        if (P->pos < P->len && P->s[P->pos] == ']') break;
        moat__toml_fail(P, P->pos, "expected ',' or ']' after an array element, found %s",
                        FOUND(P->pos));
        goto fail;
    }
    P->pos++;
    return a;
fail:
    moat_toml_free(&a->v);
    return NULL;
}

static node *parse_inline_table(parser *P, int depth)
{
    node *t = node_new(P, MOAT_TOML_TABLE, P->pos, depth);
    t->flags = F_INLINE;
    P->pos++;
    skip_blank(P);
    if (P->pos < P->len && P->s[P->pos] == '}') {
        P->pos++;
        return t;
    }
    for (;;) {
        skip_blank(P);
        if (P->pos < P->len && P->s[P->pos] == '}') {
            moat__toml_fail(P, P->pos,
                            "expected a key after ',' in the inline table, found '}' "
                            "(a trailing comma is not allowed)");
            goto fail;
        }
        if (P->pos >= P->len || at_newline(P) || P->s[P->pos] == '#') {
            moat__toml_fail(P, P->pos,
                            "expected a key in the inline table, found %s (inline tables must "
                            "be written on one line)",
                            FOUND(P->pos));
            goto fail;
        }
        if (parse_keyval(P, t) < 0) goto fail;
        skip_blank(P);
        if (P->pos < P->len && P->s[P->pos] == ',') {
            P->pos++;
            continue;
        }
        if (P->pos < P->len && P->s[P->pos] == '}') break;
        moat__toml_fail(P, P->pos,
                        "expected ',' or '}' after a value in the inline table, found %s%s",
                        FOUND(P->pos),
                        P->pos >= P->len || at_newline(P) || P->s[P->pos] == '#'
                            ? " (inline tables must be written on one line)"
                            : "");
        goto fail;
    }
    P->pos++;
    return t;
fail:
    moat_toml_free(&t->v);
    return NULL;
}

static node *parse_value(parser *P, int depth)
{
    if (check_depth(P, depth, P->pos) < 0) return NULL;
    int c = P->pos < P->len ? P->s[P->pos] : -1;
    if (c == '[') return parse_array(P, depth);
    if (c == '{') return parse_inline_table(P, depth);
    node *n = node_new(P, MOAT_TOML_BOOL, P->pos, depth);
    int rc;
    if (c == '"' || c == '\'') {
        bool triple = P->pos + 2 < P->len && P->s[P->pos + 1] == c && P->s[P->pos + 2] == c;
        moat_buf b;
        moat_buf_init(&b);
        rc = c == '"' ? moat__toml_basic_string(P, &b, triple)
                      : moat__toml_literal_string(P, &b, triple);
        n->v.type = MOAT_TOML_STRING;
        n->v.u.str.len = b.len;
        n->v.u.str.ptr = moat_buf_steal(&b);
    } else {
        rc = moat__toml_scalar(P, &n->v);
    }
    if (rc < 0) {
        moat_toml_free(&n->v);
        return NULL;
    }
    return n;
}

/* ---- tables --------------------------------------------------------------- */

/* One step of a dotted key `a.b.c = v`: the table named by part i of k
 * inside t, created if missing. */
static node *dotted_step(parser *P, node *t, const keypath *k, size_t i)
{
    const keypart *kp = &k->parts[i];
    node *c = table_find(t, part_str(k, i), kp->len);
    if (!c) {
        if (check_depth(P, t->depth + 1, kp->off) < 0) return NULL;
        c = node_new(P, MOAT_TOML_TABLE, kp->off, t->depth + 1);
        c->flags = F_DOTTED;
        table_add(P, t, part_str(k, i), kp->len, c);
        return c;
    }
    if (c->v.type != MOAT_TOML_TABLE || (c->flags & (F_INLINE | F_EXPLICIT))) {
        const char *why = c->v.type != MOAT_TOML_TABLE ? ""
                          : (c->flags & F_INLINE)      ? " (inline tables cannot be extended)"
                                                       : " (defined by a [table] header; add "
                                                         "keys under that header instead)";
        moat__toml_fail(P, kp->off,
                        "cannot add to '%s' with a dotted key: it is already %s (line %d, "
                        "column %d)%s",
                        KEY_TEXT(k, i + 1), what_is(c), c->v.line, c->v.col, why);
        return NULL;
    }
    /* A table only created on the way to a [header] is defined by this dotted
     * key, so a [header] naming it later is a redefinition. */
    c->flags = F_DOTTED;
    return c;
}

/* `key = value` at P->pos, added to base (the current table or an inline
 * table being read). */
static int parse_keyval(parser *P, node *base)
{
    keypath k = {0};
    int rc = -1;
    if (parse_key(P, &k) < 0) goto out;
    if (P->pos >= P->len || P->s[P->pos] != '=') {
        moat__toml_fail(P, P->pos, "expected '=' after key '%s', found %s", KEY_TEXT(&k, k.n),
                        FOUND(P->pos));
        goto out;
    }
    P->pos++;
    skip_blank(P);
    node *t = base;
    for (size_t i = 0; i + 1 < k.n; i++)
        if (!(t = dotted_step(P, t, &k, i))) goto out;
    const keypart *last = &k.parts[k.n - 1];
    node *dup = table_find(t, part_str(&k, k.n - 1), last->len);
    if (dup) {
        moat__toml_fail(P, last->off,
                        "duplicate key '%s': already defined as %s at line %d, "
                        "column %d",
                        KEY_TEXT(&k, k.n), what_is(dup), dup->v.line, dup->v.col);
        goto out;
    }
    if (P->pos >= P->len || at_newline(P) || P->s[P->pos] == '#') {
        moat__toml_fail(P, P->pos, "expected a value after '=', found %s", FOUND(P->pos));
        goto out;
    }
    node *v = parse_value(P, t->depth + 1);
    if (!v) goto out;
    table_add(P, t, part_str(&k, k.n - 1), last->len, v);
    rc = 0;
out:
    keypath_free(&k);
    return rc;
}

/* One step of a header [a.b.c] or [[a.b.c]] before the last part: the table
 * named by part i of k inside t (for arrays of tables, their last table). */
static node *header_step(parser *P, node *t, const keypath *k, size_t i)
{
    const keypart *kp = &k->parts[i];
    node *c = table_find(t, part_str(k, i), kp->len);
    if (!c) {
        if (check_depth(P, t->depth + 1, kp->off) < 0) return NULL;
        c = node_new(P, MOAT_TOML_TABLE, kp->off, t->depth + 1);
        c->flags = F_IMPLICIT;
        table_add(P, t, part_str(k, i), kp->len, c);
        return c;
    }
    if (c->v.type == MOAT_TOML_TABLE && !(c->flags & F_INLINE)) return c;
    if (c->v.type == MOAT_TOML_ARRAY && (c->flags & F_AOT))
        return as_node(c->v.u.array.items[c->v.u.array.len - 1]);
    moat__toml_fail(P, kp->off,
                    "cannot use '%s' as a table: it is already %s (line %d, column %d)%s",
                    KEY_TEXT(k, i + 1), what_is(c), c->v.line, c->v.col,
                    c->v.type == MOAT_TOML_TABLE
                        ? " and inline tables cannot be extended"
                        : (c->v.type == MOAT_TOML_ARRAY ? " and arrays written with [...] "
                                                          "cannot be extended"
                                                        : ""));
    return NULL;
}

/* A [table] or [[array of tables]] header at P->pos; *cur becomes the table
 * that the following keys go into. */
static int parse_header(parser *P, node *root, node **cur)
{
    size_t open = P->pos;
    int line, col;
    moat__toml_locate(P, open, &line, &col);
    bool aot = P->pos + 1 < P->len && P->s[P->pos + 1] == '[';
    const char *name = aot ? "array of tables" : "table";
    keypath k = {0};
    int rc = -1;
    P->pos += aot ? 2 : 1;
    skip_blank(P);
    if (parse_key(P, &k) < 0) goto out;
    if (P->pos >= P->len || P->s[P->pos] != ']' ||
        (aot && (P->pos + 1 >= P->len || P->s[P->pos + 1] != ']'))) {
        size_t at = P->pos < P->len && P->s[P->pos] == ']' ? P->pos + 1 : P->pos;
        moat__toml_fail(P, at, "expected '%s' to close the %s header, found %s", aot ? "]]" : "]",
                        name, FOUND(at));
        goto out;
    }
    P->pos += aot ? 2 : 1;
    node *t = root;
    for (size_t i = 0; i + 1 < k.n; i++)
        if (!(t = header_step(P, t, &k, i))) goto out;
    const keypart *last = &k.parts[k.n - 1];
    const char *kstr = part_str(&k, k.n - 1);
    node *c = table_find(t, kstr, last->len);
    if (aot) {
        if (!c) {
            if (check_depth(P, t->depth + 1, last->off) < 0) goto out;
            c = node_new_at(MOAT_TOML_ARRAY, line, col, t->depth + 1);
            c->flags = F_AOT;
            table_add(P, t, kstr, last->len, c);
        } else if (c->v.type != MOAT_TOML_ARRAY || !(c->flags & F_AOT)) {
            moat__toml_fail(P, last->off,
                            "cannot append to '%s' with [[%s]]: it is already %s (line %d, "
                            "column %d)",
                            KEY_TEXT(&k, k.n), KEY_TEXT(&k, k.n), what_is(c), c->v.line, c->v.col);
            goto out;
        }
        if (check_depth(P, c->depth + 1, last->off) < 0) goto out;
        node *elem = node_new_at(MOAT_TOML_TABLE, line, col, c->depth + 1);
        elem->flags = F_EXPLICIT;
        array_push(c, elem);
        *cur = elem;
    } else {
        if (!c) {
            if (check_depth(P, t->depth + 1, last->off) < 0) goto out;
            c = node_new_at(MOAT_TOML_TABLE, line, col, t->depth + 1);
            table_add(P, t, kstr, last->len, c);
        } else if (c->v.type == MOAT_TOML_TABLE && (c->flags & F_EXPLICIT)) {
            moat__toml_fail(P, last->off,
                            "table [%s] is defined twice (first at line %d, column %d)",
                            KEY_TEXT(&k, k.n), c->v.line, c->v.col);
            goto out;
        } else if (c->v.type != MOAT_TOML_TABLE || !(c->flags & F_IMPLICIT)) {
            moat__toml_fail(P, last->off,
                            "cannot define table [%s]: it is already %s (line %d, column %d)",
                            KEY_TEXT(&k, k.n), what_is(c), c->v.line, c->v.col);
            goto out;
        } else {
            c->v.line = line;
            c->v.col = col;
        }
        c->flags = F_EXPLICIT;
        *cur = c;
    }
    rc = expect_eol(P, aot ? "the [[...]] header" : "the [...] header");
out:
    keypath_free(&k);
    return rc;
}

/* ---- API ------------------------------------------------------------------ */

int moat_toml_parse(const char *src, size_t len, moat_toml_value **out, moat_toml_error *err)
{
    parser P = {
        .s = (const unsigned char *)src, .len = len, .err = err, .loc_line = 1, .loc_col = 1};
    *out = NULL;
    memset(err, 0, sizeof(*err));
    if (check_utf8(&P) < 0) return MOAT_EPARSE;
    /* A byte-order mark is not part of the document (and not a column). */
    if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0) P.pos = P.loc_off = 3;
    node *root = node_new_at(MOAT_TOML_TABLE, 1, 1, 0);
    root->flags = F_EXPLICIT;
    node *cur = root;
    while (P.pos < P.len) {
        skip_blank(&P);
        int c = P.pos < P.len ? P.s[P.pos] : -1;
        int rc;
        if (c == '[')
            rc = parse_header(&P, root, &cur);
        else if (c == '#' || c == '\n' || c == '\r' || c < 0)
            rc = expect_eol(&P, NULL);
        else if ((rc = parse_keyval(&P, cur)) == 0)
            rc = expect_eol(&P, "a key/value pair");
        if (rc < 0) {
            moat_toml_free(&root->v);
            return MOAT_EPARSE;
        }
    }
    *out = &root->v;
    return 0;
}

void moat_toml_free(moat_toml_value *v)
{
    if (!v) return;
    node *n = as_node(v);
    switch (v->type) {
    case MOAT_TOML_STRING:
        free(v->u.str.ptr);
        break;
    case MOAT_TOML_DATETIME:
    case MOAT_TOML_DATETIME_LOCAL:
    case MOAT_TOML_DATE_LOCAL:
    case MOAT_TOML_TIME_LOCAL:
        free(v->u.datetime);
        break;
    case MOAT_TOML_ARRAY:
        for (size_t i = 0; i < v->u.array.len; i++)
            moat_toml_free(v->u.array.items[i]);
        free(v->u.array.items);
        break;
    case MOAT_TOML_TABLE:
        for (size_t i = 0; i < v->u.table.len; i++) {
            free(v->u.table.items[i].key);
            moat_toml_free(v->u.table.items[i].value);
        }
        free(v->u.table.items);
        free(n->index);
        break;
    default:
        break;
    }
    free(n);
}

const moat_toml_value *moat_toml_get(const moat_toml_value *table, const char *key)
{
    if (!table || table->type != MOAT_TOML_TABLE) return NULL;
    node *n = table_find(as_node(table), key, strlen(key));
    return n ? &n->v : NULL;
}

const char *moat_toml_type_name(moat_toml_type t)
{
    switch (t) {
    case MOAT_TOML_STRING:
        return "string";
    case MOAT_TOML_INTEGER:
        return "integer";
    case MOAT_TOML_FLOAT:
        return "float";
    case MOAT_TOML_BOOL:
        return "boolean";
    case MOAT_TOML_DATETIME:
        return "offset date-time";
    case MOAT_TOML_DATETIME_LOCAL:
        return "local date-time";
    case MOAT_TOML_DATE_LOCAL:
        return "local date";
    case MOAT_TOML_TIME_LOCAL:
        return "local time";
    case MOAT_TOML_ARRAY:
        return "array";
    case MOAT_TOML_TABLE:
        return "table";
    }
    return "unknown";
}
