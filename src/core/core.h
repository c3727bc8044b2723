/* core.h - the public header of moat's core module: errors, memory, buffers,
 * arenas, string helpers and the process log. Everything else in moat builds
 * on these; core depends on nothing but libc.
 *
 * Out-of-memory policy (whole program): allocation failure aborts the process
 * with a message (moat_xmalloc and friends). A gateway that cannot allocate
 * cannot keep its security promises; failing loudly beats half-serving. Limits
 * on every input (header bytes, body bytes, connections) keep allocation
 * bounded so that this policy is never reachable by a client. */
#ifndef MOAT_CORE_H
#define MOAT_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "toml.h"

#define MOAT_VERSION "0.1.0"

/* ---- errors ---------------------------------------------------------------
 * One error space: functions return 0 or a negative MOAT_E* code. */
#define MOAT_ERRNO_MAP(X)                                                                          \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(IO, "input/output error")                                                                    \
    X(NOENT, "no such file or entry")                                                              \
    X(PARSE, "parse error")                                                                        \
    X(CONFIG, "invalid configuration")                                                             \
    X(RANGE, "value out of range")                                                                 \
    X(TOOBIG, "too large")                                                                         \
    X(HTTP, "malformed HTTP message")                                                              \
    X(AGAIN, "try again")                                                                          \
    X(CLOSED, "connection closed")                                                                 \
    X(TIMEOUT, "timed out")                                                                        \
    X(UPSTREAM, "upstream error")                                                                  \
    X(INTERNAL, "internal error")

enum {
    MOAT_OK = 0,
#define MOAT__ERR_ENUM(name, msg) MOAT_E##name,
    MOAT__ERR_FIRST = -1000,
    MOAT_ERRNO_MAP(MOAT__ERR_ENUM) MOAT__ERR_LAST
#undef MOAT__ERR_ENUM
};

/* Returns a static string for a MOAT_E* code (or "unknown error"). */
const char *moat_strerror(int err);

/* Invariant check that stays on in release builds: a broken invariant in a
 * security gateway must stop it, not let it continue in an unknown state. */
#define MOAT_BUG_ON(cond)                                                                          \
    do {                                                                                           \
        if (cond) moat__bug(__FILE__, __LINE__, #cond);                                            \
    } while (0)
_Noreturn void moat__bug(const char *file, int line, const char *what);

#define MOAT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- memory ---------------------------------------------------------------
 * x-allocators abort on failure (see the policy above). */
void *moat_xmalloc(size_t n);
void *moat_xcalloc(size_t count, size_t size);
void *moat_xrealloc(void *p, size_t n);
char *moat_xstrdup(const char *s);
char *moat_xstrndup(const char *s, size_t n);
/* Like asprintf; returns an owned string. */
char *moat_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- growable byte buffer -------------------------------------------------
 * Owns its storage; data is always NUL-terminated for convenience. */
typedef struct moat_buf {
    char *data;
    size_t len;
    size_t cap;
} moat_buf;

void moat_buf_init(moat_buf *b);
void moat_buf_free(moat_buf *b);
void moat_buf_reset(moat_buf *b);
void moat_buf_reserve(moat_buf *b, size_t extra);
void moat_buf_append(moat_buf *b, const void *p, size_t n);
void moat_buf_puts(moat_buf *b, const char *s);
void moat_buf_putc(moat_buf *b, char c);
void moat_buf_printf(moat_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void moat_buf_vprintf(moat_buf *b, const char *fmt, va_list ap);
/* Removes the first n bytes. */
void moat_buf_consume(moat_buf *b, size_t n);
/* Hands the storage to the caller (NUL-terminated, owned) and resets b. */
char *moat_buf_steal(moat_buf *b);

/* ---- arena ----------------------------------------------------------------
 * Bump allocator with a cleanup list, freed once (per request, per config). */
typedef struct moat_arena moat_arena;

moat_arena *moat_arena_new(void);
void moat_arena_free(moat_arena *a);
/* Frees everything but keeps the first block for reuse. */
void moat_arena_reset(moat_arena *a);
void *moat_arena_alloc(moat_arena *a, size_t n);
void *moat_arena_calloc(moat_arena *a, size_t n);
char *moat_arena_strndup(moat_arena *a, const char *s, size_t n);
char *moat_arena_strdup(moat_arena *a, const char *s);
char *moat_arena_printf(moat_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The bytes of the arena's blocks (what it holds, used or not). */
size_t moat_arena_bytes(const moat_arena *a);
/* Runs fn(arg) when the arena is freed or reset (last registered runs first). */
void moat_arena_defer(moat_arena *a, void (*fn)(void *), void *arg);

/* ---- strings --------------------------------------------------------------*/
/* Case-insensitive (ASCII) equality. Inline: header handling calls these
 * for nearly every field of every message. */
static inline unsigned char moat__lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}
static inline bool moat_streq_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++)
        if (moat__lower((unsigned char)a[i]) != moat__lower((unsigned char)b[i])) return false;
    return true;
}
/* Case-insensitive comparison against a NUL-terminated literal. */
static inline bool moat_strieq_lit(const char *a, size_t alen, const char *lit)
{
    size_t i = 0;
    for (; i < alen; i++)
        if (!lit[i] || moat__lower((unsigned char)a[i]) != moat__lower((unsigned char)lit[i]))
            return false;
    return lit[i] == '\0';
}
/* Constant-time equality for secrets: time depends only on the lengths. */
bool moat_ct_equal(const void *a, size_t alen, const void *b, size_t blen);
/* Levenshtein distance, for "did you mean" suggestions. */
size_t moat_edit_distance(const char *a, const char *b);
/* Parses a decimal size/count without overflow; returns MOAT_ERANGE/EINVAL. */
int moat_parse_u64(const char *s, size_t n, uint64_t *out);

/* ---- text (text.c) -------------------------------------------------------*/
/* Length (1..4) of the valid UTF-8 sequence at s[0..n), n >= 1, or 0 if it is
 * not one (overlong forms, surrogates, code points past U+10FFFF). */
size_t moat_utf8_len(const unsigned char *s, size_t n);
/* Appends s[0..n) as a JSON string: control bytes escaped, invalid UTF-8
 * replaced by U+FFFD, so the output is always valid JSON and UTF-8. */
void moat_buf_put_json_string(moat_buf *b, const char *s, size_t n);
/* True for code points no output of moat shows raw: C0, DEL, C1 (terminal
 * controls), the bidi overrides, isolates and marks (U+202A-202E,
 * U+2066-2069, U+200E/200F, U+061C) and the line and paragraph separators
 * U+2028/2029. moat_buf_put_json_string escapes them as \uXXXX. */
bool moat_unsafe_cp(unsigned cp);
/* Appends the JSON text json[0..n) (from another encoder, e.g. jansson) with
 * every unsafe code point inside its strings escaped as \uXXXX; the result
 * means the same JSON. */
void moat_json_harden(moat_buf *b, const char *json, size_t n);
/* Appends s[0..n) for a terminal: every byte or code point a terminal would
 * act on is shown as a visible escape instead -- C0 and DEL as \xNN (\n, \t,
 * \r by name), C1, bidi controls and U+2028/2029 as \uXXXX, bytes that are not
 * valid UTF-8 as \xNN -- and '\\' as '\\\\' so the escaping cannot be forged.
 * Valid UTF-8 otherwise passes unchanged (é, emoji). NUL bytes inside s are
 * escaped like the rest (n counts them). With MOAT_TERM_TEXT (whole reports:
 * lines of source code) newlines and tabs pass and backslashes stay single. */
#define MOAT_TERM_TEXT 1u
void moat_term_escape(moat_buf *b, const char *s, size_t n, unsigned flags);
/* The NUL-terminated s escaped as one field (flags 0), allocated in a: for
 * printf arguments. NULL stays NULL. */
const char *moat_term_str(moat_arena *a, const char *s);

/* ---- process log (operator diagnostics on stderr) -------------------------
 * Not the security log and not the access log: startup, reload, fatal errors. */
typedef enum { MOAT_LOG_DEBUG, MOAT_LOG_INFO, MOAT_LOG_WARN, MOAT_LOG_ERROR } moat_log_level;
void moat_log_set_level(moat_log_level lvl);
void moat_log(moat_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define moat_info(...) moat_log(MOAT_LOG_INFO, __VA_ARGS__)
#define moat_warn(...) moat_log(MOAT_LOG_WARN, __VA_ARGS__)
#define moat_error(...) moat_log(MOAT_LOG_ERROR, __VA_ARGS__)
#define moat_debug(...) moat_log(MOAT_LOG_DEBUG, __VA_ARGS__)

/* ---- time and randomness --------------------------------------------------*/
/* Monotonic milliseconds. */
uint64_t moat_now_ms(void);
/* Fills buf with bytes from the OS CSPRNG (getrandom); aborts if it cannot. */
void moat_random(void *buf, size_t n);
/* Writes a fresh request id (22 chars of base64url, 127 random bits, never
 * starting with '-') + NUL. */
#define MOAT_REQUEST_ID_LEN 22
void moat_request_id(char out[MOAT_REQUEST_ID_LEN + 1]);

/* ---- files ----------------------------------------------------------------*/
/* Reads a whole file into an owned buffer (NUL-terminated). */
/* ---- routes (route.c): the glob dialect of every path setting ---- */
/* True when the normalised path matches pattern: a path, or a glob with *
 * (no '/'), ** (anything) and ?, ending in '$' for that path alone.
 * MOAT_ROUTE_GUARD reads it generously, as a guarding [[auth.rules]] entry
 * does (a trailing '/' ignored; the path, what is under it and its
 * extensions); without it narrowly (a literal: the path and what is under
 * it, '/' or '.' after it; a glob: only what it matches whole).
 * MOAT_ROUTE_NOCASE (with GUARD only) ignores the case of letters. */
enum { MOAT_ROUTE_GUARD = 1, MOAT_ROUTE_NOCASE = 2 };
bool moat_route_match(const char *pattern, const char *path, unsigned flags);
/* NULL when pattern is a valid route pattern, else why not (static text). */
const char *moat_route_check(const char *pattern);

int moat_read_file(const char *path, char **out, size_t *len);

#endif
