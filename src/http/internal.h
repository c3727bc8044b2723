/* internal.h - what the files of the http module share and nobody else sees:
 * character classes, the strict byte scanner that reads every byte and builds
 * the head, the semantic head checks and the header-array growth. */
#ifndef MOAT_HTTP_INTERNAL_H
#define MOAT_HTTP_INTERNAL_H

#include "http.h"

/* ---- syntax.c: RFC 9110 / RFC 3986 character classes --------------------
 * One table lookup each: the scanner and the serializer ask per byte. */
enum { MOAT__HTTP_TCHAR = 1, MOAT__HTTP_FIELD = 2, MOAT__HTTP_TARGET = 4 };
extern const unsigned char moat__http_class[256];

static inline bool moat__http_is_tchar(unsigned char c)
{
    return moat__http_class[c] & MOAT__HTTP_TCHAR;
}
/* Field-value bytes: HTAB, SP, VCHAR, obs-text. */
static inline bool moat__http_is_field_char(unsigned char c)
{
    return moat__http_class[c] & MOAT__HTTP_FIELD;
}
/* Bytes allowed in a request target before its structure is checked: every
 * VCHAR (0x21-0x7e), as browsers send raw what RFC 3986 would have encoded
 * ('[', '|', '{', '"', '^' ...); '#' starts a fragment, which check.c drops. */
static inline bool moat__http_is_target_char(unsigned char c)
{
    return moat__http_class[c] & MOAT__HTTP_TARGET;
}
/* The number of field-value bytes s[0..n) starts with: eight at a time
 * while a word holds no byte below 0x20 and no 0x7f (a word with a tab goes
 * byte by byte, as tabs are allowed). */
static inline size_t moat__http_field_run(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, del;
        memcpy(&x, s + i, 8);
        del = x ^ (0x7f * ones);
        if (((x - 0x20 * ones) & ~x & highs) || ((del - ones) & ~del & highs)) break;
    }
    while (i < n && moat__http_is_field_char((unsigned char)s[i]))
        i++;
    return i;
}
bool moat__http_is_token(const char *s, size_t n);
/* Iterates a comma-separated list (#rule): skips empty elements and OWS.
 * Returns false at the end; *el and *el_len is the trimmed element. */
/* authority.c: a WebSocket opening handshake (RFC 6455 4.1) moat may tunnel:
 * GET over HTTP/1.1, one Upgrade: websocket, one well-formed
 * Sec-WebSocket-Key, Sec-WebSocket-Version: 13. */
bool moat__http_ws_request_ok(moat_http_head *h);
bool moat__http_list_next(const char **pos, const char *end, const char **el, size_t *el_len);
/* True if the comma list in value contains token (case-insensitive). */
bool moat__http_list_has(const char *value, size_t len, const char *token);

/* ---- scan.c: the strict scanner --------------------------------------------
 * The one reader of every byte: refuses what is not exactly HTTP/1.1 (bare
 * CR/LF, obs-fold, control bytes, "Name :", HTTP/0.9, loose chunk lines),
 * counts the limits as bytes arrive, builds the head and frames the body. */
enum { MOAT__SCAN_MORE, MOAT__SCAN_HEAD, MOAT__SCAN_END, MOAT__SCAN_ERR };

typedef enum {
    MOAT__BODY_NONE,
    MOAT__BODY_LENGTH,
    MOAT__BODY_CHUNKED,
    MOAT__BODY_EOF,
} moat__http_body;

typedef struct moat__http_scanner {
    int state;
    bool request;
    bool started;  /* a byte of the message proper (not a leading CRLF) seen */
    bool trailers; /* the field section being scanned is the trailer section */
    unsigned idx;  /* position inside "HTTP/" or the status code */
    moat_http_limits lim;
    size_t section_bytes; /* bytes of the head (or of the trailer section) */
    size_t nfields;       /* fields of the head (or of the trailer section) */
    size_t head_fields;   /* fields of the head, kept for cross-checks */
    size_t target_bytes, method_bytes, line_bytes;
    int major, minor, status_code;
    uint64_t remaining;  /* body or chunk-data bytes still to come */
    uint64_t chunk_size; /* the chunk-size being read, then the last one read */
    uint64_t body_total; /* decoded bytes of a chunked body so far */
    int err_status;
    const char *err_reason;
    /* the head being built (method, target, reason, fields; trailers are
     * dropped) */
    moat_http_head *head;
    moat_arena *arena;
    moat_buf *tok;   /* the head's bytes from earlier inputs (the parser's) */
    const char *cap; /* where the head goes on in the current input */
    size_t target_off, target_len, reason_off, reason_len; /* offsets in the head */
    size_t name_off, name_len;                             /* the field line being read */
    bool capturing;                                        /* the head is being read */
    bool te_tab;   /* a Transfer-Encoding value ended in OWS with HTAB */
    bool body_run; /* the bytes the last scan returned are body bytes */
} moat__http_scanner;

/* Starts a message: the head's strings go into arena, the head's bytes from
 * earlier inputs wait in tok (owned by the caller, reused across messages). */
void moat__http_scan_init(moat__http_scanner *s, moat_http_kind kind, const moat_http_limits *lim,
                          moat_http_head *head, moat_arena *arena, moat_buf *tok);
/* Scans up to len bytes and returns how many are valid (consumed).
 * *result: MORE (want more), HEAD (the head ends at the last byte returned:
 * method, target, reason and fields are in the head), END (the message ends
 * there) or ERR (data[return] is bad; err_status and err_reason say why). A
 * run of body bytes is always returned on its own (body_run is then set),
 * so a caller sees at most one run per call. */
size_t moat__http_scan(moat__http_scanner *s, const char *data, size_t len, int *result);
/* After MOAT__SCAN_HEAD, once the head is checked: how its body is framed. */
void moat__http_scan_body(moat__http_scanner *s, moat__http_body body, uint64_t length);
bool moat__http_scan_done(const moat__http_scanner *s);
bool moat__http_scan_at_eof_body(const moat__http_scanner *s);

/* ---- check.c: what a complete head must satisfy ----------------------------
 * Both return 0 or MOAT_EHTTP with *status and *reason set; on success they
 * fill content_length, chunked, keep_alive, upgrade, expect_continue, no_body
 * and (requests) rewrite an absolute-form target to origin-form. */
int moat__http_check_request(moat_http_head *h, moat_arena *arena, const moat_http_limits *lim,
                             int *status, const char **reason);
int moat__http_check_response(moat_http_head *h, bool head_request, const moat_http_limits *lim,
                              int *status, const char **reason);
/* The body framing the checked head asks for. */
moat__http_body moat__http_body_of(const moat_http_head *h, moat_http_kind kind);

/* ---- head.c -------------------------------------------------------------- */
/* A new field at the end of the list (the array grows in arena), for the
 * scanner to fill; then moat__http_head_index adds its name to the filter. */
moat_http_header *moat__http_head_slot(moat_http_head *h, moat_arena *arena);
void moat__http_head_index(moat_http_head *h, const moat_http_header *f);
/* Appends a header, copying name and value into arena. name_is_token: the
 * caller has checked the name (the parser's scanner has); else it is
 * checked here. */
void moat__http_head_push(moat_http_head *h, moat_arena *arena, const char *name, size_t name_len,
                          const char *value, size_t value_len, bool name_is_token);

#endif
