/* head.c - the header list of a parsed head and its edits: find, count,
 * remove, add, set, and the hop-by-hop strip a proxy does before forwarding.
 * The array lives in the arena and grows by doubling (the old array is left
 * to the arena); order is kept, which matters for repeated names. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_HEADERS 16

/* Hot: every lookup compares each field. The length rules out almost every
 * field without touching its bytes; then the folded first byte. */
static inline bool name_is_n(const moat_http_header *f, const char *name, size_t len)
{
    return f->name_len == len && len &&
           ((unsigned char)f->name[0] | 0x20) == ((unsigned char)name[0] | 0x20) &&
           moat_streq_nocase(f->name, len, name, len);
}

/* The filter bit of a name: equal names (ignoring case) get the same bit,
 * as | 0x20 folds the letters and leaves equal bytes equal. */
static inline uint64_t name_bit(const char *name, size_t len)
{
    if (!len) return 1;
    unsigned x = (unsigned)len * 31u + ((unsigned char)name[0] | 0x20u) * 7u +
                 ((unsigned char)name[len - 1] | 0x20u);
    return (uint64_t)1 << (x & 63);
}

static inline bool name_is(const moat_http_header *f, const char *name)
{
    return name_is_n(f, name, strlen(name));
}

moat_http_header *moat__http_head_slot(moat_http_head *h, moat_arena *arena)
{
    if (h->nheaders == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : INITIAL_HEADERS;
        moat_http_header *a = moat_arena_alloc(arena, cap * sizeof(*a));
        if (h->nheaders) memcpy(a, h->headers, h->nheaders * sizeof(*a));
        h->headers = a;
        h->cap = cap;
    }
    return &h->headers[h->nheaders++];
}

void moat__http_head_index(moat_http_head *h, const moat_http_header *f)
{
    h->names |= name_bit(f->name, f->name_len);
}

/* Appends a field holding these pointers (not copied). */
static void push_ref(moat_http_head *h, moat_arena *arena, char *name, size_t name_len, char *value,
                     size_t value_len, bool name_token)
{
    moat_http_header *f = moat__http_head_slot(h, arena);
    h->names |= name_bit(name, name_len);
    f->name = name;
    f->name_len = name_len;
    f->value = value;
    f->value_len = value_len;
    f->name_token = name_token;
}

void moat__http_head_push(moat_http_head *h, moat_arena *arena, const char *name, size_t name_len,
                          const char *value, size_t value_len, bool name_is_token)
{
    push_ref(h, arena, moat_arena_strndup(arena, name, name_len), name_len,
             moat_arena_strndup(arena, value, value_len), value_len,
             name_is_token || moat__http_is_token(name, name_len));
}

moat_http_header *moat_http_head_find_n(moat_http_head *h, const char *name, size_t len)
{
    if (!(h->names & name_bit(name, len))) return NULL;
    for (size_t i = 0; i < h->nheaders; i++)
        if (name_is_n(&h->headers[i], name, len)) return &h->headers[i];
    return NULL;
}

size_t moat_http_head_count_n(const moat_http_head *h, const char *name, size_t len)
{
    if (!(h->names & name_bit(name, len))) return 0;
    size_t n = 0;
    for (size_t i = 0; i < h->nheaders; i++)
        if (name_is_n(&h->headers[i], name, len)) n++;
    return n;
}

size_t moat_http_head_remove_n(moat_http_head *h, const char *name, size_t len)
{
    if (!(h->names & name_bit(name, len))) return 0;
    size_t w = 0;
    for (size_t r = 0; r < h->nheaders; r++) {
        if (name_is_n(&h->headers[r], name, len)) continue;
        h->headers[w++] = h->headers[r];
    }
    size_t removed = h->nheaders - w;
    h->nheaders = w;
    return removed;
}

void moat_http_head_add(moat_http_head *h, moat_arena *arena, const char *name, const char *value)
{
    moat__http_head_push(h, arena, name, strlen(name), value, strlen(value), false);
}

/* Keeps the first field named name (returned, or NULL when there is none)
 * and removes the others. */
static moat_http_header *keep_first(moat_http_head *h, const char *name, size_t len)
{
    moat_http_header *first = moat_http_head_find_n(h, name, len);
    if (!first) return NULL;
    size_t at = (size_t)(first - h->headers);
    size_t w = at + 1;
    for (size_t r = at + 1; r < h->nheaders; r++) {
        if (name_is_n(&h->headers[r], name, len)) continue;
        h->headers[w++] = h->headers[r];
    }
    h->nheaders = w;
    return first;
}

void moat_http_head_add_static(moat_http_head *h, moat_arena *arena, const char *name,
                               const char *value)
{
    /* the strings are never written through a field: the casts only fit
     * the struct, which also holds the parser's arena copies */
    push_ref(h, arena, (char *)name, strlen(name), (char *)value, strlen(value), true);
}

void moat_http_head_set_static(moat_http_head *h, moat_arena *arena, const char *name,
                               const char *value)
{
    size_t len = strlen(name);
    moat_http_header *first = keep_first(h, name, len);
    if (!first) {
        moat_http_head_add_static(h, arena, name, value);
        return;
    }
    first->name = (char *)name;
    first->name_len = len;
    first->name_token = true;
    first->value = (char *)value;
    first->value_len = strlen(value);
}

void moat_http_head_set(moat_http_head *h, moat_arena *arena, const char *name, const char *value)
{
    size_t len = strlen(name);
    moat_http_header *first = keep_first(h, name, len);
    if (!first) {
        moat_http_head_add(h, arena, name, value);
        return;
    }
    /* the same name (perhaps in another case): its filter bit is set */
    first->name = moat_arena_strndup(arena, name, len);
    first->name_len = len;
    first->name_token = moat__http_is_token(name, len);
    first->value_len = strlen(value);
    first->value = moat_arena_strndup(arena, value, first->value_len);
}

/* Hop-by-hop (RFC 9110 7.6.1, plus the proxy ones): Connection,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
 * HTTP2-Settings,
 * Proxy-Authorization, Proxy-Authenticate; see is_hop_by_hop. */

/* A client may name any header in Connection; these are never dropped that
 * way, or "Connection: Content-Length" would unframe the forwarded body and
 * "Connection: Host" would leave the upstream guessing the authority. */
static const char *const never_listed[] = {"Host", "Content-Length"};

static bool listed_in_connection(const moat_http_head *h, const moat_http_header *f)
{
    for (size_t k = 0; k < MOAT_ARRAY_LEN(never_listed); k++)
        if (name_is(f, never_listed[k])) return false;
    for (size_t i = 0; i < h->nheaders; i++) {
        const moat_http_header *c = &h->headers[i];
        if (!name_is(c, "Connection")) continue;
        const char *pos = c->value, *el;
        size_t n;
        while (moat__http_list_next(&pos, c->value + c->value_len, &el, &n))
            if (moat_streq_nocase(el, n, f->name, f->name_len)) return true;
    }
    return false;
}

/* Hot (every request and response): one switch on the folded first byte
 * and the length rules out nearly every name before any comparison. */
static bool is_hop_by_hop(const moat_http_header *f)
{
    if (f->name_len < 2) return false;
    switch ((unsigned char)f->name[0] | 0x20) {
    case 'c':
        return f->name_len == 10 && moat_strieq_lit(f->name, 10, "Connection");
    case 'h':
        /* h2c's upgrade settings (RFC 7540 3.2.1): meaningful only to the hop
         * that accepts the upgrade, which moat never does. */
        return f->name_len == 14 && moat_strieq_lit(f->name, 14, "HTTP2-Settings");
    case 'k':
        return f->name_len == 10 && moat_strieq_lit(f->name, 10, "Keep-Alive");
    case 'p':
        return name_is(f, "Proxy-Connection") || name_is(f, "Proxy-Authorization") ||
               name_is(f, "Proxy-Authenticate");
    case 't':
        return name_is(f, "TE") || name_is(f, "Trailer") || name_is(f, "Transfer-Encoding");
    case 'u':
        return f->name_len == 7 && moat_strieq_lit(f->name, 7, "Upgrade");
    default:
        return false;
    }
}

void moat_http_head_strip_hop_by_hop(moat_http_head *h)
{
    if (h->nheaders == 0) return;
    /* Decide first, compact after: the Connection values must stay in place
     * while other headers are looked up in them. Most heads have no
     * Connection header naming others: only then is the list walked. */
    bool named = false;
    for (size_t i = 0; i < h->nheaders && !named; i++) {
        const moat_http_header *c = &h->headers[i];
        if (!name_is(c, "Connection")) continue;
        const char *pos = c->value, *el;
        size_t n;
        while (!named && moat__http_list_next(&pos, c->value + c->value_len, &el, &n))
            named = !moat_streq_nocase(el, n, "close", 5) &&
                    !moat_streq_nocase(el, n, "keep-alive", 10);
    }
    bool small[64];
    bool *drop = h->nheaders <= 64 ? small : moat_xcalloc(h->nheaders, sizeof(*drop));
    for (size_t i = 0; i < h->nheaders; i++) {
        const moat_http_header *f = &h->headers[i];
        drop[i] = is_hop_by_hop(f) || (named && listed_in_connection(h, f));
    }
    size_t w = 0;
    for (size_t r = 0; r < h->nheaders; r++)
        if (!drop[r]) h->headers[w++] = h->headers[r];
    h->nheaders = w;
    if (drop != small) free(drop);
}
