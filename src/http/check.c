/* check.c - what a complete head must satisfy before anyone sees it: one
 * unambiguous body framing (Content-Length xor a single "chunked"), Host,
 * the request-target's form and bytes, Connection, Upgrade and Expect. The
 * byte-level syntax was already enforced by scan.c; this file works on the
 * parsed header list. CONNECT is refused with 405 (a reverse proxy does not
 * tunnel); an Expect other than 100-continue gets 417. */
#include "internal.h"

#include <http_parser.h>
#include <string.h>

#define FAIL(st, why)                                                                              \
    do {                                                                                           \
        *status = (st);                                                                            \
        *reason = (why);                                                                           \
        return MOAT_EHTTP;                                                                         \
    } while (0)

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* '%' HEXDIG HEXDIG at s[i]. */
static bool escape_at(const char *s, size_t n, size_t i)
{
    return i + 2 < n && is_hex(s[i + 1]) && is_hex(s[i + 2]);
}

/* An absolute-form authority: RFC 3986 bytes only ('[' ']' for an IP
 * literal), no '/', '?', '@', escapes well-formed. moat_http_authority_parse
 * judges it again against Host. */
static bool valid_authority(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!moat__http_is_target_char(c) || strchr("/?@\"<>\\^`{|}", c)) return false;
        if (c == '%') {
            if (!escape_at(s, n, i)) return false;
            i += 2;
        }
    }
    return true;
}

/* A path and query as browsers send them: any VCHAR (the scanner took
 * nothing else). The path is percent-decoded for the rules
 * (moat_http_normalize_path), so an escape there must be well-formed: a
 * '%' that is not one is refused rather than guessed at. The query is the
 * app's to decode; a lone '%' there ("?discount=50%") is passed on. */
static bool valid_path_query(const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i] != '?'; i++) {
        if (s[i] != '%') continue;
        if (!escape_at(s, n, i)) return false;
        i += 2;
    }
    return true;
}

/* RFC 9110 4.2.4: a fragment is the client's; one sent anyway (browsers
 * never do) is dropped, as nginx and the app's own server (gunicorn, via
 * urlsplit) drop it: every stage, the WAF and the app then see the same
 * path and query, and no '#' is forwarded. */
static void drop_fragment(moat_http_head *h)
{
    const char *hash = memchr(h->target, '#', h->target_len);
    if (!hash) return;
    h->target_len = (size_t)(hash - h->target);
    h->target[h->target_len] = '\0';
}

static int check_framing(moat_http_head *h, int bad, int *status, const char **reason)
{
    size_t ncl = moat_http_head_count(h, "Content-Length");
    size_t nte = moat_http_head_count(h, "Transfer-Encoding");
    h->content_length = -1;
    h->chunked = false;
    if (ncl && nte) FAIL(bad, "Content-Length with Transfer-Encoding");
    if (ncl > 1) FAIL(bad, "duplicate Content-Length");
    if (nte > 1) FAIL(bad, "more than one Transfer-Encoding");
    if (ncl) {
        const moat_http_header *cl = moat_http_head_find(h, "Content-Length");
        uint64_t v;
        int rc = moat_parse_u64(cl->value, cl->value_len, &v);
        if (rc == MOAT_ERANGE || (rc == 0 && v > INT64_MAX)) FAIL(bad, "Content-Length overflow");
        if (rc) FAIL(bad, "invalid Content-Length");
        h->content_length = (int64_t)v;
    }
    if (nte) {
        const moat_http_header *te = moat_http_head_find(h, "Transfer-Encoding");
        if (h->http_minor == 0) FAIL(bad, "Transfer-Encoding in HTTP/1.0");
        if (!moat_strieq_lit(te->value, te->value_len, "chunked"))
            FAIL(bad, "Transfer-Encoding other than chunked");
        h->chunked = true;
    }
    return 0;
}

/* keep_alive from the version and the Connection tokens; *conn_upgrade if
 * Connection lists "upgrade". */
static int check_connection(moat_http_head *h, bool *conn_upgrade, int bad, int *status,
                            const char **reason)
{
    bool conn_close = false, keep = false;
    *conn_upgrade = false;
    for (size_t i = 0; i < h->nheaders; i++) {
        const moat_http_header *f = &h->headers[i];
        if (f->name_len != sizeof("Connection") - 1 ||
            !moat_strieq_lit(f->name, f->name_len, "Connection"))
            continue;
        const char *pos = f->value, *el;
        size_t n;
        while (moat__http_list_next(&pos, f->value + f->value_len, &el, &n)) {
            if (!moat__http_is_token(el, n)) FAIL(bad, "invalid Connection header");
            if (moat_strieq_lit(el, n, "close")) conn_close = true;
            if (moat_strieq_lit(el, n, "keep-alive")) keep = true;
            if (moat_strieq_lit(el, n, "upgrade")) *conn_upgrade = true;
        }
    }
    h->keep_alive = !conn_close && (h->http_minor >= 1 || keep);
    return 0;
}

static bool scheme_is(const char *t, size_t n, const char *scheme, size_t *skip)
{
    size_t sl = strlen(scheme);
    if (n < sl + 3 || !moat_streq_nocase(t, sl, scheme, sl) || memcmp(t + sl, "://", 3) != 0)
        return false;
    *skip = sl + 3;
    return true;
}

/* Origin-form stays; absolute-form becomes origin-form and its authority is
 * returned for the Host comparison; asterisk-form only with OPTIONS. */
static int check_target(moat_http_head *h, moat_arena *arena, const char **auth, size_t *auth_len,
                        int *status, const char **reason)
{
    const char *t = h->target;
    size_t n = h->target_len, skip;
    *auth = NULL;
    *auth_len = 0;
    drop_fragment(h);
    t = h->target;
    n = h->target_len;
    if (n == 0) FAIL(400, "missing request target");
    if (n == 1 && t[0] == '*') {
        if (h->method_id != HTTP_OPTIONS) FAIL(400, "asterisk-form target without OPTIONS");
        return 0;
    }
    if (t[0] == '/') {
        if (!valid_path_query(t, n)) FAIL(400, "invalid request target");
        return 0;
    }
    if (!scheme_is(t, n, "http", &skip) && !scheme_is(t, n, "https", &skip))
        FAIL(400, "request target not in origin-form");
    const char *a = t + skip, *end = t + n, *rest = a;
    while (rest < end && *rest != '/' && *rest != '?') {
        if (*rest == '@') FAIL(400, "userinfo in request target");
        rest++;
    }
    if (rest == a || !valid_authority(a, (size_t)(rest - a)))
        FAIL(400, "invalid authority in request target");
    if (!valid_path_query(rest, (size_t)(end - rest))) FAIL(400, "invalid request target");
    *auth = a;
    *auth_len = (size_t)(rest - a);
    if (rest == end || *rest == '?') {
        size_t rl = (size_t)(end - rest);
        char *o = moat_arena_alloc(arena, rl + 2);
        o[0] = '/';
        memcpy(o + 1, rest, rl);
        o[rl + 1] = '\0';
        h->target = o;
        h->target_len = rl + 1;
    } else {
        h->target_len = (size_t)(end - rest);
        h->target = moat_arena_strndup(arena, rest, h->target_len);
    }
    return 0;
}

/* Host is required in HTTP/1.1, at most once, and must be host[:port] as
 * moat_http_authority_parse reads it; its parsed, lower-cased name and port
 * are kept for the allow-list and the forwarded headers. */
static int check_host(moat_http_head *h, moat_arena *arena, const char *auth, size_t auth_len,
                      int *status, const char **reason)
{
    size_t nhost = moat_http_head_count(h, "Host");
    h->host_name = NULL;
    h->host_name_len = 0;
    h->host_port = -1;
    if (nhost > 1) FAIL(400, "more than one Host");
    if (nhost == 0) {
        if (h->http_minor >= 1) FAIL(400, "missing Host");
        if (auth) FAIL(400, "Host does not match the request target");
        return 0;
    }
    const moat_http_header *host = moat_http_head_find(h, "Host");
    const char *name;
    size_t nlen;
    int port;
    if (moat_http_authority_parse(host->value, host->value_len, &name, &nlen, &port) != 0)
        FAIL(400, "invalid Host");
    if (auth && !moat_streq_nocase(auth, auth_len, host->value, host->value_len))
        FAIL(400, "Host does not match the request target");
    if (nlen > 1 && name[nlen - 1] == '.') nlen--; /* "example.com." is example.com */
    char *lower = moat_arena_alloc(arena, nlen + 1);
    for (size_t i = 0; i < nlen; i++) {
        char c = name[i];
        lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
    }
    lower[nlen] = '\0';
    h->host_name = lower;
    h->host_name_len = nlen;
    h->host_port = port;
    return 0;
}

int moat__http_check_request(moat_http_head *h, moat_arena *arena, const moat_http_limits *lim,
                             int *status, const char **reason)
{
    const char *auth;
    size_t auth_len;
    bool conn_upgrade;
    int rc;

    h->no_body = false;
    h->upgrade = false;
    h->upgrade_refused = false;
    h->expect_continue = false;
    if (h->method_id == HTTP_CONNECT) FAIL(405, "CONNECT not allowed");
    if ((rc = check_target(h, arena, &auth, &auth_len, status, reason))) return rc;
    if ((rc = check_framing(h, 400, status, reason))) return rc;
    if ((rc = check_host(h, arena, auth, auth_len, status, reason))) return rc;
    if ((rc = check_connection(h, &conn_upgrade, 400, status, reason))) return rc;

    /* Only a WebSocket handshake may become a tunnel; any other Upgrade
     * (h2c above all: a tunnel of HTTP/2 streams no stage would see) is
     * removed with the hop-by-hop headers and the request stays HTTP/1.1. */
    if (moat_http_head_count(h, "Upgrade")) {
        if (conn_upgrade && moat__http_ws_request_ok(h)) {
            /* The bytes after an upgrade request belong to the new protocol;
             * a body in between would have to be framed twice. */
            if (h->chunked || h->content_length > 0) FAIL(400, "Upgrade request with a body");
            h->upgrade = true;
        } else {
            h->upgrade_refused = true;
        }
    }

    size_t nexpect = moat_http_head_count(h, "Expect");
    if (nexpect > 1) FAIL(400, "more than one Expect");
    if (nexpect) {
        const moat_http_header *e = moat_http_head_find(h, "Expect");
        if (!moat_strieq_lit(e->value, e->value_len, "100-continue"))
            FAIL(417, "unsupported Expect");
        /* RFC 9110 10.1.1: ignored in an HTTP/1.0 request. */
        h->expect_continue = h->http_minor >= 1;
    }

    if (lim->body_bytes && h->content_length > 0 && (uint64_t)h->content_length > lim->body_bytes)
        FAIL(413, "body too large");
    return 0;
}

int moat__http_check_response(moat_http_head *h, bool head_request, const moat_http_limits *lim,
                              int *status, const char **reason)
{
    bool conn_upgrade;
    int rc;

    if ((rc = check_framing(h, 502, status, reason))) return rc;
    if ((rc = check_connection(h, &conn_upgrade, 502, status, reason))) return rc;
    bool informational = h->status >= 100 && h->status < 200;
    if (informational || h->status == 204) {
        /* RFC 9110 8.6 / 6.4.1: never a body, so framing headers are a lie. */
        if (h->chunked) FAIL(502, "Transfer-Encoding in a 1xx or 204 response");
        if (h->content_length > 0) FAIL(502, "Content-Length in a 1xx or 204 response");
    }
    h->upgrade = h->status == 101;
    h->expect_continue = false;
    h->no_body = head_request || informational || h->status == 204 || h->status == 304;
    if (!h->no_body && !h->chunked && h->content_length < 0) h->keep_alive = false;
    if (!h->no_body && lim->body_bytes && h->content_length > 0 &&
        (uint64_t)h->content_length > lim->body_bytes)
        FAIL(502, "response body too large");
    return 0;
}

moat__http_body moat__http_body_of(const moat_http_head *h, moat_http_kind kind)
{
    if (h->no_body || h->upgrade) return MOAT__BODY_NONE;
    if (h->chunked) return MOAT__BODY_CHUNKED;
    if (h->content_length > 0) return MOAT__BODY_LENGTH;
    if (h->content_length == 0 || kind == MOAT_HTTP_REQUEST) return MOAT__BODY_NONE;
    return MOAT__BODY_EOF;
}
