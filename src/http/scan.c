/* scan.c - the strict byte scanner: the one reader of every message byte.
 * It refuses whatever is not exactly HTTP/1.1 (bare CR or LF, obs-fold,
 * control bytes, "Name :", HTTP/0.9, loose chunk lines), counts the limits as
 * bytes arrive, builds the head (method, target, version, status, reason,
 * fields) into the parser's moat_http_head as it checks it, and after the
 * head frames the body: Content-Length runs, chunks with their extensions and
 * trailers (scanned and limited, then dropped), or read-until-close. One byte
 * at a time works: a token cut by the end of the input is kept in the
 * parser's buffer until its end arrives; a token inside one input is copied
 * once, straight into the arena. (http-parser, which once parsed every byte a
 * second time, is now only the tests' and fuzzers' differential oracle.) */
#include "internal.h"

#include <http_parser.h> /* HTTP_METHOD_MAP: method ids as http.h promises them */

enum {
    S_REQ_START,
    S_REQ_LEAD_LF,
    S_METHOD,
    S_TARGET_START,
    S_TARGET,
    S_VER_NAME,
    S_VER_MAJOR,
    S_VER_DOT,
    S_VER_MINOR,
    S_REQ_LINE_CR,
    S_RES_VER_NAME,
    S_RES_MAJOR,
    S_RES_DOT,
    S_RES_MINOR,
    S_RES_SP,
    S_RES_CODE,
    S_RES_AFTER_CODE,
    S_RES_REASON,
    S_START_LINE_LF, /* from here on: the field section */
    S_FIELD_START,
    S_FIELD_NAME,
    S_FIELD_VALUE,
    S_FIELD_LF,
    S_END_LF,
    S_HEAD_DONE,
    S_BODY_LENGTH,
    S_BODY_EOF,
    S_CHUNK_SIZE_START,
    S_CHUNK_SIZE,
    S_EXT_BWS,
    S_EXT_NAME_START,
    S_EXT_NAME,
    S_EXT_AFTER_NAME,
    S_EXT_VALUE_START,
    S_EXT_TOKEN_VALUE,
    S_EXT_QSTRING,
    S_EXT_QPAIR,
    S_EXT_AFTER_QSTRING,
    S_CHUNK_LF,
    S_CHUNK_DATA,
    S_CHUNK_DATA_CR,
    S_CHUNK_DATA_LF,
    S_DONE,
    S_ERROR,
};

enum { STEP_OK, STEP_ERR, STEP_HEAD, STEP_END, STEP_DATA };

/* Built-in limits for a limit left at 0 (body_bytes 0 stays unlimited). */
#define DEFAULT_URL_BYTES 8192
#define DEFAULT_HEADER_BYTES 32768
#define DEFAULT_HEADERS 100
/* Longer than any method http-parser knows; a longer token is unknown. */
#define MAX_METHOD_BYTES 32
/* Chunk sizes at or above 2^56 are refused. */
#define MAX_CHUNK_SIZE ((uint64_t)1 << 56)

/* The methods moat knows, with the ids of http_parser.h's enum (which the
 * gateway compares against); any other token is answered 501. */
static const struct {
    const char *name;
    unsigned char len;
    signed char id;
} methods[] = {
#define MOAT__METHOD(num, name, string) {#string, sizeof(#string) - 1, num},
    HTTP_METHOD_MAP(MOAT__METHOD)
#undef MOAT__METHOD
};

static int method_id(const char *m, size_t n)
{
    /* the usual ones first, without a loop */
    if (n == 3 && !memcmp(m, "GET", 3)) return HTTP_GET;
    if (n == 4 && !memcmp(m, "POST", 4)) return HTTP_POST;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(methods); i++)
        if (methods[i].len == n && !memcmp(methods[i].name, m, n)) return methods[i].id;
    return -1;
}

/* True when m[0..n) begins some known method: a byte after such a prefix is
 * judged as a byte, any other method is unknown (501) at once. */
static bool method_prefix(const char *m, size_t n)
{
    for (size_t i = 0; i < MOAT_ARRAY_LEN(methods); i++)
        if (methods[i].len >= n && !memcmp(methods[i].name, m, n)) return true;
    return false;
}

void moat__http_scan_init(moat__http_scanner *s, moat_http_kind kind, const moat_http_limits *lim,
                          moat_http_head *head, moat_arena *arena, moat_buf *tok)
{
    *s = (moat__http_scanner){0};
    s->head = head;
    s->arena = arena;
    s->tok = tok;
    moat_buf_reset(tok);
    s->request = kind == MOAT_HTTP_REQUEST;
    s->state = s->request ? S_REQ_START : S_RES_VER_NAME;
    s->lim = *lim;
    if (!s->lim.url_bytes) s->lim.url_bytes = DEFAULT_URL_BYTES;
    if (!s->lim.header_bytes) s->lim.header_bytes = DEFAULT_HEADER_BYTES;
    if (!s->lim.headers) s->lim.headers = DEFAULT_HEADERS;
}

static int fail(moat__http_scanner *s, int status, const char *reason)
{
    s->state = S_ERROR;
    s->err_status = status;
    s->err_reason = reason;
    return STEP_ERR;
}

/* ---- the head, built as it is checked --------------------------------------
 * The head is captured whole, from the first byte of the start line to the
 * empty line: tok holds its bytes from earlier inputs, cap where the rest
 * starts in the current one. While it is read, the target, the reason and
 * each field are recorded as offsets into it (a field's name and value
 * pointers hold offsets until then); at its end it is copied into the arena
 * at once and the offsets become NUL-terminated strings in that copy (each
 * token is followed by a byte of its line that the copy can spare: the SP
 * after the target, the ':' after a name, the OWS or CR after a value). */
static void cap_begin(moat__http_scanner *s, const char *at)
{
    s->capturing = true;
    s->cap = at;
    moat_buf_reset(s->tok);
}

/* The offset in the head of the byte at at. */
static inline size_t cap_off(const moat__http_scanner *s, const char *at)
{
    return s->tok->len + (size_t)(at - s->cap);
}

/* The captured bytes before at: in place when they all came in this input. */
static void cap_get(moat__http_scanner *s, const char *at, const char **ptr, size_t *len)
{
    if (s->tok->len == 0) {
        *ptr = s->cap;
        *len = (size_t)(at - s->cap);
        return;
    }
    moat_buf_append(s->tok, s->cap, (size_t)(at - s->cap));
    s->cap = at;
    *ptr = s->tok->data;
    *len = s->tok->len;
}

/* A field line ends at at (its CR): recorded by offsets. */
static void end_field(moat__http_scanner *s, const char *at)
{
    moat_http_header *f = moat__http_head_slot(s->head, s->arena);
    size_t value_off = s->name_off + s->name_len + 1;
    f->name = (char *)(uintptr_t)s->name_off;
    f->name_len = s->name_len;
    f->value = (char *)(uintptr_t)value_off;
    f->value_len = cap_off(s, at) - value_off;
    f->name_token = true; /* the scanner took nothing else */
}

static void trim_ows(char **v, size_t *n, bool *tab)
{
    while (*n && ((*v)[0] == ' ' || (*v)[0] == '\t')) {
        (*v)++;
        (*n)--;
    }
    while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t')) {
        *tab |= (*v)[*n - 1] == '\t';
        (*n)--;
    }
}

/* The head ends at at (the LF of the empty line): one copy, then the
 * recorded offsets become strings in it. */
static void build_head(moat__http_scanner *s, const char *at)
{
    moat_http_head *h = s->head;
    const char *p;
    size_t n;
    cap_get(s, at, &p, &n);
    s->capturing = false;
    char *b = moat_arena_alloc(s->arena, n + 1);
    memcpy(b, p, n);
    b[n] = '\0';
    if (s->request) {
        h->target = b + s->target_off;
        h->target_len = s->target_len;
        b[s->target_off + s->target_len] = '\0';
    } else {
        h->reason = b + s->reason_off;
        b[s->reason_off + s->reason_len] = '\0';
    }
    for (size_t i = 0; i < h->nheaders; i++) {
        moat_http_header *f = &h->headers[i];
        bool tab = false;
        f->name = b + (uintptr_t)f->name;
        f->name[f->name_len] = '\0';
        f->value = b + (uintptr_t)f->value;
        trim_ows(&f->value, &f->value_len, &tab);
        f->value[f->value_len] = '\0';
        /* "chunked" then HTAB: a reader that stops at the tab sees another
         * coding; parser.c refuses such a value */
        if (tab && f->name_len == 17 && moat_strieq_lit(f->name, 17, "Transfer-Encoding"))
            s->te_tab = true;
        moat__http_head_index(h, f);
    }
}

static bool in_start_line(int state)
{
    return state < S_FIELD_START;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* CR and LF outside their pair are reported the same way everywhere. */
static int bad_line_byte(moat__http_scanner *s, unsigned char c, const char *otherwise)
{
    if (c == '\n') return fail(s, 400, "bare LF");
    if (c == '\r') return fail(s, 400, "bare CR");
    if (c < 0x20 || c == 0x7f) return fail(s, 400, "control character");
    return fail(s, 400, otherwise);
}

static int step_request_line(moat__http_scanner *s, unsigned char c, const char *at)
{
    switch (s->state) {
    case S_REQ_START:
        /* RFC 9112 2.2: empty lines before the request line are ignored;
         * only exact CRLF pairs, and they count toward the head limit. */
        if (c == '\r') {
            s->state = S_REQ_LEAD_LF;
            return STEP_OK;
        }
        if (!moat__http_is_tchar(c)) return bad_line_byte(s, c, "invalid method");
        s->started = true;
        s->method_bytes = 1;
        s->state = S_METHOD;
        cap_begin(s, at);
        return STEP_OK;
    case S_REQ_LEAD_LF:
        if (c != '\n') return fail(s, 400, "bare CR");
        s->state = S_REQ_START;
        return STEP_OK;
    case S_METHOD: {
        const char *m;
        size_t n;
        if (c == ' ') {
            cap_get(s, at, &m, &n);
            int id = method_id(m, n);
            if (id < 0) return fail(s, 501, "unknown method");
            s->head->method_id = id;
            s->head->method = (char *)methods[id].name; /* static, never written */
            s->state = S_TARGET_START;
            return STEP_OK;
        }
        if (!moat__http_is_tchar(c)) {
            /* the earliest bad byte decides: a token no method begins with
             * was already unknown */
            cap_get(s, at, &m, &n);
            if (!method_prefix(m, n)) return fail(s, 501, "unknown method");
            return bad_line_byte(s, c, "invalid method");
        }
        if (++s->method_bytes > MAX_METHOD_BYTES) return fail(s, 501, "unknown method");
        return STEP_OK;
    }
    case S_TARGET_START:
    case S_TARGET:
        if (c == ' ' && s->state == S_TARGET) {
            s->target_len = cap_off(s, at) - s->target_off;
            s->state = S_VER_NAME;
            s->idx = 0;
            return STEP_OK;
        }
        if (c == '\r' || c == '\n') {
            if (s->state == S_TARGET) return fail(s, 400, "HTTP/0.9 request line");
            return fail(s, 400, "missing request target");
        }
        if (c == ' ') return fail(s, 400, "invalid request line");
        if (!moat__http_is_target_char(c)) return bad_line_byte(s, c, "invalid request target");
        if (++s->target_bytes > s->lim.url_bytes) return fail(s, 414, "request target too long");
        if (s->state == S_TARGET_START) s->target_off = cap_off(s, at);
        s->state = S_TARGET;
        return STEP_OK;
    case S_VER_NAME:
        if (c != (unsigned char)"HTTP/"[s->idx]) return bad_line_byte(s, c, "invalid HTTP version");
        if (++s->idx == 5) s->state = S_VER_MAJOR;
        return STEP_OK;
    case S_VER_MAJOR:
    case S_VER_MINOR:
        if (c < '0' || c > '9') return bad_line_byte(s, c, "invalid HTTP version");
        if (s->state == S_VER_MAJOR) {
            s->major = c - '0';
            s->state = S_VER_DOT;
        } else {
            s->minor = c - '0';
            s->state = S_REQ_LINE_CR;
        }
        return STEP_OK;
    case S_VER_DOT:
        if (c != '.') return bad_line_byte(s, c, "invalid HTTP version");
        s->state = S_VER_MINOR;
        return STEP_OK;
    case S_REQ_LINE_CR:
        if (c != '\r') return bad_line_byte(s, c, "invalid HTTP version");
        s->state = S_START_LINE_LF;
        return STEP_OK;
    default:
        MOAT_BUG_ON(true);
    }
}

static int step_status_line(moat__http_scanner *s, unsigned char c, const char *at)
{
    if (!s->started) cap_begin(s, at);
    s->started = true;
    switch (s->state) {
    case S_RES_VER_NAME:
        if (c != (unsigned char)"HTTP/"[s->idx]) return bad_line_byte(s, c, "invalid status line");
        if (++s->idx == 5) s->state = S_RES_MAJOR;
        return STEP_OK;
    case S_RES_MAJOR:
    case S_RES_MINOR:
        if (c < '0' || c > '9') return bad_line_byte(s, c, "invalid status line");
        if (s->state == S_RES_MAJOR) {
            s->major = c - '0';
            s->state = S_RES_DOT;
        } else {
            s->minor = c - '0';
            s->state = S_RES_SP;
        }
        return STEP_OK;
    case S_RES_DOT:
        if (c != '.') return bad_line_byte(s, c, "invalid status line");
        s->state = S_RES_MINOR;
        return STEP_OK;
    case S_RES_SP:
        if (c != ' ') return bad_line_byte(s, c, "invalid status line");
        s->state = S_RES_CODE;
        s->idx = 0;
        return STEP_OK;
    case S_RES_CODE:
        if (c < '0' || c > '9' || (s->idx == 0 && (c < '1' || c > '5')))
            return bad_line_byte(s, c, "invalid status code");
        s->status_code = s->status_code * 10 + (c - '0');
        if (++s->idx == 3) s->state = S_RES_AFTER_CODE;
        return STEP_OK;
    case S_RES_AFTER_CODE:
        /* RFC 9112 4: the SP before an empty reason is often left out. */
        if (c == ' ') {
            s->state = S_RES_REASON;
            s->reason_off = cap_off(s, at) + 1;
            return STEP_OK;
        }
        if (c == '\r') {
            s->reason_off = cap_off(s, at); /* empty: the CR becomes its NUL */
            s->state = S_START_LINE_LF;
            return STEP_OK;
        }
        return bad_line_byte(s, c, "invalid status code");
    case S_RES_REASON:
        if (c == '\r') {
            s->reason_len = cap_off(s, at) - s->reason_off;
            s->state = S_START_LINE_LF;
            return STEP_OK;
        }
        if (!moat__http_is_field_char(c)) return bad_line_byte(s, c, "invalid reason phrase");
        return STEP_OK;
    default:
        MOAT_BUG_ON(true);
    }
}

static int step_field(moat__http_scanner *s, unsigned char c, const char *at)
{
    switch (s->state) {
    case S_START_LINE_LF:
        if (c != '\n') return fail(s, 400, "bare CR");
        if (s->major != 1 || s->minor > 1) {
            if (s->request) return fail(s, 505, "HTTP version not supported");
            return fail(s, 502, "unsupported HTTP version");
        }
        s->state = S_FIELD_START;
        return STEP_OK;
    case S_FIELD_START:
        if (c == '\r') {
            s->state = S_END_LF;
            return STEP_OK;
        }
        if (c == ' ' || c == '\t') return fail(s, 400, "obs-fold or whitespace before a field");
        if (c == ':') return fail(s, 400, "empty header name");
        if (!moat__http_is_tchar(c)) return bad_line_byte(s, c, "invalid header name");
        if (++s->nfields > s->lim.headers)
            return fail(s, 431, s->trailers ? "too many trailer fields" : "too many header fields");
        if (!s->trailers) s->name_off = cap_off(s, at);
        s->state = S_FIELD_NAME;
        return STEP_OK;
    case S_FIELD_NAME:
        if (c == ':') {
            if (!s->trailers) s->name_len = cap_off(s, at) - s->name_off;
            s->state = S_FIELD_VALUE;
            return STEP_OK;
        }
        if (c == ' ' || c == '\t') return fail(s, 400, "whitespace before colon");
        if (c == '\r' || c == '\n') return fail(s, 400, "header line without colon");
        if (!moat__http_is_tchar(c)) return bad_line_byte(s, c, "invalid header name");
        return STEP_OK;
    case S_FIELD_VALUE:
        if (c == '\r') {
            if (!s->trailers) end_field(s, at);
            s->state = S_FIELD_LF;
            return STEP_OK;
        }
        if (!moat__http_is_field_char(c)) return bad_line_byte(s, c, "invalid header value");
        return STEP_OK;
    case S_FIELD_LF:
        if (c != '\n') return fail(s, 400, "bare CR");
        s->state = S_FIELD_START;
        return STEP_OK;
    case S_END_LF:
        if (c != '\n') return fail(s, 400, "bare CR");
        if (s->trailers) {
            s->state = S_DONE;
            return STEP_END;
        }
        s->head_fields = s->nfields;
        build_head(s, at);
        s->state = S_HEAD_DONE;
        return STEP_HEAD;
    default:
        MOAT_BUG_ON(true);
    }
}

/* chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF (RFC 9112 7.1), with
 * chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ). */
static int step_chunk_line(moat__http_scanner *s, unsigned char c)
{
    if (++s->line_bytes > s->lim.header_bytes) return fail(s, 400, "chunk line too long");
    bool ws = c == ' ' || c == '\t';
    switch (s->state) {
    case S_CHUNK_SIZE_START:
    case S_CHUNK_SIZE: {
        int v = hexval(c);
        if (v >= 0) {
            if (s->chunk_size >= MAX_CHUNK_SIZE / 16) return fail(s, 400, "chunk size too large");
            s->chunk_size = s->chunk_size * 16 + (uint64_t)v;
            if (s->lim.body_bytes && s->chunk_size > s->lim.body_bytes - s->body_total)
                return fail(s, 413, "body too large");
            s->state = S_CHUNK_SIZE;
            return STEP_OK;
        }
        if (s->state == S_CHUNK_SIZE_START) return bad_line_byte(s, c, "invalid chunk size");
        if (c == '\r') break;
        if (c == ';') {
            s->state = S_EXT_NAME_START;
            return STEP_OK;
        }
        if (ws) {
            s->state = S_EXT_BWS;
            return STEP_OK;
        }
        return bad_line_byte(s, c, "invalid chunk size");
    }
    case S_EXT_BWS:
        if (ws) return STEP_OK;
        if (c == '\r') return fail(s, 400, "invalid chunk extension"); /* trailing BWS */
        if (c == ';') {
            s->state = S_EXT_NAME_START;
            return STEP_OK;
        }
        return bad_line_byte(s, c, "invalid chunk extension");
    case S_EXT_NAME_START:
        if (ws) return STEP_OK;
        if (!moat__http_is_tchar(c)) return bad_line_byte(s, c, "invalid chunk extension");
        s->state = S_EXT_NAME;
        return STEP_OK;
    case S_EXT_NAME:
    case S_EXT_AFTER_NAME:
        if (moat__http_is_tchar(c) && s->state == S_EXT_NAME) return STEP_OK;
        if (c == '\r' && s->state == S_EXT_NAME) break;
        if (c == '\r') return fail(s, 400, "invalid chunk extension");
        if (ws) {
            s->state = S_EXT_AFTER_NAME;
            return STEP_OK;
        }
        if (c == '=') {
            s->state = S_EXT_VALUE_START;
            return STEP_OK;
        }
        if (c == ';') {
            s->state = S_EXT_NAME_START;
            return STEP_OK;
        }
        return bad_line_byte(s, c, "invalid chunk extension");
    case S_EXT_VALUE_START:
        if (ws) return STEP_OK;
        if (c == '"') {
            s->state = S_EXT_QSTRING;
            return STEP_OK;
        }
        if (!moat__http_is_tchar(c)) return bad_line_byte(s, c, "invalid chunk extension");
        s->state = S_EXT_TOKEN_VALUE;
        return STEP_OK;
    case S_EXT_TOKEN_VALUE:
    case S_EXT_AFTER_QSTRING:
        if (moat__http_is_tchar(c) && s->state == S_EXT_TOKEN_VALUE) return STEP_OK;
        if (c == '\r') break;
        if (c == ';') {
            s->state = S_EXT_NAME_START;
            return STEP_OK;
        }
        if (ws) {
            s->state = S_EXT_BWS;
            return STEP_OK;
        }
        return bad_line_byte(s, c, "invalid chunk extension");
    case S_EXT_QSTRING:
    case S_EXT_QPAIR:
        if (c == '\r') return fail(s, 400, "invalid chunk extension"); /* unclosed quote */
        if (s->state == S_EXT_QPAIR) {
            if (!moat__http_is_field_char(c)) return bad_line_byte(s, c, "invalid chunk extension");
            s->state = S_EXT_QSTRING;
            return STEP_OK;
        }
        if (c == '"') {
            s->state = S_EXT_AFTER_QSTRING;
            return STEP_OK;
        }
        if (c == '\\') {
            s->state = S_EXT_QPAIR;
            return STEP_OK;
        }
        if (!moat__http_is_field_char(c)) return bad_line_byte(s, c, "invalid chunk extension");
        return STEP_OK;
    case S_CHUNK_LF:
        if (c != '\n') return fail(s, 400, "bare CR");
        if (s->chunk_size == 0) {
            /* The trailer section gets a budget of its own, the head's. */
            s->trailers = true;
            s->section_bytes = 0;
            s->nfields = 0;
            s->state = S_FIELD_START;
            return STEP_OK;
        }
        s->body_total += s->chunk_size;
        s->remaining = s->chunk_size;
        s->state = S_CHUNK_DATA;
        return STEP_DATA;
    case S_CHUNK_DATA_CR:
        if (c != '\r') return fail(s, 400, "missing CRLF after chunk data");
        s->state = S_CHUNK_DATA_LF;
        return STEP_OK;
    case S_CHUNK_DATA_LF:
        if (c != '\n') return fail(s, 400, "missing CRLF after chunk data");
        s->state = S_CHUNK_SIZE_START;
        s->chunk_size = 0;
        s->line_bytes = 0;
        return STEP_OK;
    default:
        MOAT_BUG_ON(true);
    }
    /* CR at the end of a chunk line */
    s->state = S_CHUNK_LF;
    return STEP_OK;
}

static int step(moat__http_scanner *s, const char *at)
{
    unsigned char c = (unsigned char)*at;
    if (s->state >= S_START_LINE_LF && s->state <= S_END_LF) {
        if (++s->section_bytes > s->lim.header_bytes) {
            if (s->trailers) return fail(s, 431, "trailer section too large");
            return fail(s, 431, "header section too large");
        }
        return step_field(s, c, at);
    }
    if (in_start_line(s->state)) {
        /* The head limit covers the start line too; running over it there
         * means the request line itself is too long. */
        if (++s->section_bytes > s->lim.header_bytes)
            return fail(s, s->request && s->started ? 414 : 431, "request line too long");
        return s->request ? step_request_line(s, c, at) : step_status_line(s, c, at);
    }
    if (s->state >= S_CHUNK_SIZE_START && s->state <= S_CHUNK_DATA_LF) return step_chunk_line(s, c);
    MOAT_BUG_ON(true);
}

/* The bytes of a capture still open at the end of an input are kept. */
static size_t keep(moat__http_scanner *s, const char *end, size_t n)
{
    if (s->capturing) moat_buf_append(s->tok, s->cap, (size_t)(end - s->cap));
    return n;
}

size_t moat__http_scan(moat__http_scanner *s, const char *data, size_t len, int *result)
{
    *result = MOAT__SCAN_MORE;
    s->body_run = false;
    if (len == 0) return 0;
    switch (s->state) {
    case S_BODY_LENGTH:
    case S_CHUNK_DATA: {
        s->body_run = true;
        uint64_t n = s->remaining < len ? s->remaining : len;
        s->remaining -= n;
        if (s->remaining == 0) {
            if (s->state == S_BODY_LENGTH) {
                s->state = S_DONE;
                *result = MOAT__SCAN_END;
            } else {
                s->state = S_CHUNK_DATA_CR;
            }
        }
        return (size_t)n;
    }
    case S_BODY_EOF:
        s->body_run = true;
        return len;
    case S_HEAD_DONE:
    case S_DONE:
    case S_ERROR:
        MOAT_BUG_ON(true);
    default:
        break;
    }
    if (s->capturing) s->cap = data;
    for (size_t i = 0; i < len; i++) {
        /* Runs of ordinary bytes in a field name or value (most of a head)
         * are taken in a tight loop rather than a step each, and so are the
         * usual joints between them: the ':' after a name, and the CRLF
         * after a value followed by the first byte of the next name. What
         * each step would check is checked here: the head limit (the byte
         * past it, and any other byte, goes through step() as before, so
         * errors and limits fall on the same byte) and the field count. */
        while (s->state == S_FIELD_VALUE || s->state == S_FIELD_NAME) {
            size_t budget = s->lim.header_bytes - s->section_bytes;
            size_t end = len - i < budget ? len : i + budget, j = i;
            if (s->state == S_FIELD_VALUE)
                j += moat__http_field_run(data + i, end - i);
            else
                while (j < end && moat__http_is_tchar((unsigned char)data[j]))
                    j++;
            s->section_bytes += j - i;
            i = j;
            if (i == len) break;
            if (s->state == S_FIELD_NAME && data[i] == ':' &&
                s->section_bytes < s->lim.header_bytes) {
                if (!s->trailers) s->name_len = cap_off(s, data + i) - s->name_off;
                s->section_bytes++;
                s->state = S_FIELD_VALUE;
                i++;
            } else if (s->state == S_FIELD_VALUE && data[i] == '\r' && len - i > 2 &&
                       data[i + 1] == '\n' && moat__http_is_tchar((unsigned char)data[i + 2]) &&
                       s->lim.header_bytes - s->section_bytes >= 3 && s->nfields < s->lim.headers) {
                if (!s->trailers) {
                    end_field(s, data + i);
                    s->name_off = cap_off(s, data + i + 2);
                }
                s->section_bytes += 3;
                s->nfields++;
                s->state = S_FIELD_NAME;
                i += 3;
            } else {
                break;
            }
        }
        if (i == len) break;
        switch (step(s, data + i)) {
        case STEP_OK:
            break;
        case STEP_ERR:
            *result = MOAT__SCAN_ERR;
            return i;
        case STEP_HEAD:
            *result = MOAT__SCAN_HEAD;
            return i + 1;
        case STEP_END:
            *result = MOAT__SCAN_END;
            return i + 1;
        case STEP_DATA:
            return i + 1;
        }
    }
    return keep(s, data + len, len);
}

void moat__http_scan_body(moat__http_scanner *s, moat__http_body body, uint64_t length)
{
    MOAT_BUG_ON(s->state != S_HEAD_DONE);
    switch (body) {
    case MOAT__BODY_NONE:
        s->state = S_DONE;
        break;
    case MOAT__BODY_LENGTH:
        MOAT_BUG_ON(length == 0);
        s->remaining = length;
        s->state = S_BODY_LENGTH;
        break;
    case MOAT__BODY_CHUNKED:
        s->state = S_CHUNK_SIZE_START;
        s->chunk_size = 0;
        s->line_bytes = 0;
        break;
    case MOAT__BODY_EOF:
        s->state = S_BODY_EOF;
        break;
    }
}

bool moat__http_scan_done(const moat__http_scanner *s)
{
    return s->state == S_DONE;
}

bool moat__http_scan_at_eof_body(const moat__http_scanner *s)
{
    return s->state == S_BODY_EOF;
}
