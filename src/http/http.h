/* http.h - HTTP/1.1 messages: a strict incremental parser that reads every
 * byte once (requests from clients, responses from upstreams), the parsed
 * head with its header list, header edits, and serialisation. Everything that
 * is ambiguous (CL+TE, duplicate CL, TE other than a single final "chunked",
 * whitespace before a colon, bare CR or LF, obs-fold, control bytes, HTTP/0.9,
 * bad chunk sizes) is an error: the caller answers 400 (or 502 for an upstream
 * response) and closes; nothing ambiguous is ever handed on.
 * No I/O here: bytes in, events out. */
#ifndef MOAT_HTTP_H
#define MOAT_HTTP_H

#include <string.h>

#include "core.h"

typedef struct moat_http_header {
    char *name; /* arena-owned, NUL-terminated, as received */
    size_t name_len;
    char *value; /* arena-owned, NUL-terminated, leading/trailing OWS trimmed */
    size_t value_len;
    bool name_token; /* the name is a token (checked when stored; names are
                        only ever stored by head.c) */
} moat_http_header;

typedef struct moat_http_head {
    /* request */
    char *method;  /* e.g. "GET" (static or arena-owned: never written) */
    int method_id; /* enum http_method from http_parser.h (its ids only) */
    char *target;  /* arena-owned origin-form "/path?query" (absolute-form is
                      converted, a "#fragment" dropped); any VCHAR, a '%' in
                      the path followed by two hex digits */
    size_t target_len;
    /* response */
    int status;
    char *reason; /* arena-owned */
    /* both */
    int http_major, http_minor;
    moat_http_header *headers; /* arena-owned array */
    size_t nheaders, cap;
    uint64_t names;         /* head.c's filter: a bit for each name stored (by
                               length and folded first and last byte); a lookup
                               whose bit is clear ends without a scan. Headers are
                               added only through head.c. */
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* what the version and Connection header ask for */
    bool upgrade;           /* request: a WebSocket handshake moat may tunnel (GET, HTTP/1.1,
                               Connection: upgrade, Upgrade: websocket, a valid
                               Sec-WebSocket-Key and version 13); response: 101 */
    bool upgrade_refused;   /* request: an Upgrade header moat will not honour (h2c, any
                               other token, a malformed WebSocket handshake); the header
                               is removed as hop-by-hop and the request goes on as an
                               ordinary one */
    const char *host_name;  /* request: the Host's name, lower-cased, brackets kept for an
                               IPv6 literal (arena); NULL without Host */
    size_t host_name_len;
    int host_port;        /* request: the Host's port, or -1 when it names none */
    bool expect_continue; /* request: Expect: 100-continue */
    bool no_body;         /* response has no body (HEAD, 1xx, 204, 304); false for requests */
} moat_http_head;

/* Read at each moat_http_parser_reset(). A head limit left at 0 takes the
 * built-in default (url 8192, head 32768 bytes, 100 fields). Trailers get a
 * budget of their own equal to the head's (header_bytes, headers). */
typedef struct moat_http_limits {
    size_t url_bytes;    /* request target bytes; over it: 414 */
    size_t header_bytes; /* the whole head (request line + fields); over it: 431 */
    size_t headers;      /* number of fields; over it: 431 */
    uint64_t body_bytes; /* 0 = unlimited; over it: 413 (Content-Length or while chunked) */
} moat_http_limits;

typedef struct moat_http_parser_cbs {
    /* The head is complete and valid. The head and its strings live in the
     * arena given to the parser until the caller resets it. Return 0 to go on,
     * MOAT_EAGAIN to pause (execute returns MOAT_EAGAIN; call resume, then
     * execute with the bytes not consumed), or another negative code to stop
     * with an error. */
    int (*on_head)(void *ud, moat_http_head *head);
    /* Decoded body bytes (chunk framing removed). Same return convention. */
    int (*on_body)(void *ud, const char *data, size_t len);
    /* The message is complete. The parser then pauses by itself, so a
     * pipelined next request is not parsed until the caller calls
     * moat_http_parser_reset() and executes again. */
    int (*on_end)(void *ud);
} moat_http_parser_cbs;

typedef enum { MOAT_HTTP_REQUEST, MOAT_HTTP_RESPONSE } moat_http_kind;

typedef struct moat_http_parser moat_http_parser;

/* Creates a parser. limits and cbs are borrowed and must outlive it; head
 * strings go into arena (borrowed). */
moat_http_parser *moat_http_parser_new(moat_http_kind kind, const moat_http_limits *limits,
                                       const moat_http_parser_cbs *cbs, void *ud,
                                       moat_arena *arena);
void moat_http_parser_free(moat_http_parser *p);

/* Prepares for the next message on the same connection (after on_end), with
 * a new arena (or the same one, reset by the caller). */
void moat_http_parser_reset(moat_http_parser *p, moat_arena *arena);

/* For a response parser: the request it answers was HEAD, so the response has
 * no body whatever its headers say. Set before the response head arrives. It
 * stays set across resets (so it survives a 1xx) until set again: set it for
 * every request forwarded. */
void moat_http_parser_expect_no_body(moat_http_parser *p, bool no_body);

/* Feeds bytes. Sets *consumed to the bytes used. Returns
 *   0            all bytes consumed, want more;
 *   MOAT_EAGAIN  paused (by a callback, or after on_end): bytes from
 *                data + *consumed on are not consumed yet; after on_end it
 *                keeps returning MOAT_EAGAIN until moat_http_parser_reset();
 *   MOAT_EHTTP   malformed or over a limit: see moat_http_parser_status()
 *                and moat_http_parser_reason();
 *   other        the error a callback returned.
 * After an upgrade (101 / CONNECT-less Upgrade accepted by the caller), the
 * bytes after the head belong to the new protocol: on_end is called after the
 * head and execute stops there. */
int moat_http_parser_execute(moat_http_parser *p, const char *data, size_t len, size_t *consumed);
void moat_http_parser_resume(moat_http_parser *p);

/* The peer closed. For a response without length this ends the body (calls
 * on_end, even if the caller had paused) and returns 0; in the middle of any
 * other message returns MOAT_EHTTP; between messages returns MOAT_ECLOSED. */
int moat_http_parser_finish(moat_http_parser *p);

/* After MOAT_EHTTP: the status to answer (400, 405 for CONNECT, 413, 414, 417
 * for an Expect other than 100-continue, 431, 501 for an unknown method, 505;
 * 502 for anything wrong in a response) and a short reason for the logs
 * ("Content-Length with Transfer-Encoding"). */
int moat_http_parser_status(const moat_http_parser *p);
const char *moat_http_parser_reason(const moat_http_parser *p);
/* True once any byte of the current message has been consumed. */
bool moat_http_parser_in_message(const moat_http_parser *p);

/* ---- head edits --------------------------------------------------------
 * The name is matched case-insensitively. The functions are macros over the
 * _n forms so that a literal name's length is known at compile time and a
 * field of another length is passed over without a comparison. */
/* Returns the first header with this name or NULL. */
moat_http_header *moat_http_head_find_n(moat_http_head *h, const char *name, size_t len);
#define moat_http_head_find(h, name) moat_http_head_find_n((h), (name), strlen(name))
/* Number of headers with this name. */
size_t moat_http_head_count_n(const moat_http_head *h, const char *name, size_t len);
#define moat_http_head_count(h, name) moat_http_head_count_n((h), (name), strlen(name))
/* Removes every header with this name; returns how many were removed. */
size_t moat_http_head_remove_n(moat_http_head *h, const char *name, size_t len);
#define moat_http_head_remove(h, name) moat_http_head_remove_n((h), (name), strlen(name))
/* Appends a header (name and value copied into arena). */
void moat_http_head_add(moat_http_head *h, moat_arena *arena, const char *name, const char *value);
/* Replaces all headers with this name by one (copied into arena). */
void moat_http_head_set(moat_http_head *h, moat_arena *arena, const char *name, const char *value);
/* add and set without copies, for strings that outlive the head unchanged
 * (literals, the runtime's values, the request's own id): name must be a
 * literal token. The head's field then points at them (borrowed). */
void moat_http_head_add_static(moat_http_head *h, moat_arena *arena, const char *name,
                               const char *value);
void moat_http_head_set_static(moat_http_head *h, moat_arena *arena, const char *name,
                               const char *value);
/* Removes the hop-by-hop headers of RFC 9110 7.6.1: Connection and every
 * name it lists, Keep-Alive, Proxy-Connection, TE, Trailer,
 * Transfer-Encoding, Upgrade, HTTP2-Settings, Proxy-Authorization,
 * Proxy-Authenticate. Host and Content-Length are never removed because Connection lists them. */
void moat_http_head_strip_hop_by_hop(moat_http_head *h);

/* ---- authorities and upgrades ---------------------------------------------
 * Parses a Host value (or an absolute-form target's authority) as RFC 3986's
 * host [":" port], stricter than the RFC's reg-name: a DNS name (letters,
 * digits, '-', '_', '.'; labels of 1..63 bytes), a dotted IPv4 address or an
 * IP literal in brackets (IPv6; no zone id), then optionally ':' and 1..5
 * digits naming a port 1..65535. On success *name and *name_len point into value
 * (not lower-cased) and *port is the port or -1. Returns 0 or MOAT_EINVAL.
 * Nothing a browser sends is refused; anything a reset-link builder could
 * misread ("a:1,evil", "a@b", "a b") is. */
int moat_http_authority_parse(const char *value, size_t len, const char **name, size_t *name_len,
                              int *port);
/* True when a 101 response (resp) completes the WebSocket handshake that req
 * started: Upgrade is the single token websocket, Connection lists upgrade
 * and Sec-WebSocket-Accept is the digest RFC 6455 4.2.2 derives from the
 * request's Sec-WebSocket-Key. */
bool moat_http_ws_accept_ok(moat_http_head *req, moat_http_head *resp);

/* ---- paths --------------------------------------------------------------- */
/* Normalises the path of an origin-form target (the query is kept as is):
 * one percent-decoding pass, '\\' as '/', ';' parameters dropped, empty and
 * '.' segments removed, '..' resolved. *decoded (for matching rules) and
 * *encoded (the target to forward: path re-encoded + original query) are
 * arena strings. Returns MOAT_EINVAL with *why (static) for bad
 * percent-encoding, control bytes, invalid or overlong UTF-8, or a path that
 * climbs above the root. */
int moat_http_normalize_path(const char *target, size_t len, moat_arena *arena, char **decoded,
                             char **encoded, const char **why);

/* ---- content codings ------------------------------------------------------
 * A response body's Content-Encoding undone, for inspection (decode.c):
 * gzip and x-gzip (every member), deflate (zlib-wrapped or raw), br, and
 * lists of them ("gzip, br" is decoded br first). Bounded: at most cap
 * decoded bytes come out, each inner layer of a list may produce at most
 * 4 * cap + 64 KiB, and brotli's window allocation is capped (9 MiB). */
typedef struct moat_http_decoder moat_http_decoder;
#define MOAT_HTTP_CODINGS_MAX 4
/* Reads a Content-Encoding list (every such header's value, joined with
 * ","). 0 with *out NULL when there is nothing to undo ("", "identity"), 0
 * with a decoder (free it), or MOAT_EINVAL with *why (static) for a coding
 * moat does not decode or more than MOAT_HTTP_CODINGS_MAX of them. */
int moat_http_decoder_new(const char *codings, size_t len, size_t cap, moat_http_decoder **out,
                          const char **why);
/* Decodes more of the body, appending to out. 0; MOAT_ETOOBIG when more
 * than cap bytes would come out (out then got exactly the first cap) or a
 * bound was hit; MOAT_EPARSE for a corrupt stream (out got what decoded
 * before it); MOAT_ENOMEM. Once non-zero, every later call returns it. */
int moat_http_decoder_feed(moat_http_decoder *d, const char *data, size_t len, moat_buf *out);
/* The body ended: 0 when each coding's stream ended properly (or got no
 * bytes at all), else MOAT_EPARSE (cut short) or the earlier error. */
int moat_http_decoder_finish(moat_http_decoder *d, moat_buf *out);
void moat_http_decoder_free(moat_http_decoder *d);

/* ---- multipart/form-data (multipart.c) ---------------------------------
 * An incremental parser for request bodies of multipart/form-data: the
 * boundary is found across any split of the input, each part's headers are
 * read and checked strictly (Content-Disposition form-data with a name and
 * optionally a filename; Content-Type; nothing else), and the content is
 * handed on as it comes, never held. Anything a framework could read two
 * ways (a preamble, transport padding, Content-Transfer-Encoding, a charset
 * other than UTF-8, filename*, duplicate parameters, bare CR or LF in the
 * headers) is an error: the gateway refuses it rather than guess. */
#define MOAT_MULTIPART_BOUNDARY_MAX 70
#define MOAT_MULTIPART_HEADERS_MAX 8192

/* Reads a request's Content-Type value. 1 when it is multipart/form-data
 * with a valid boundary (copied, NUL-terminated, into out); 0 when it is
 * another type; MOAT_EPARSE when it is multipart/form-data but the boundary
 * is missing, repeated or not RFC 2046's. */
int moat_multipart_boundary(const char *ctype, size_t len,
                            char out[MOAT_MULTIPART_BOUNDARY_MAX + 1]);

/* One part's head, valid during the part callback only. The parameter
 * values are unescaped; the raw spans are the bytes as sent (with quotes). */
typedef struct moat_multipart_part {
    const char *name, *filename; /* NUL-terminated; filename NULL when absent */
    const char *name_raw;        /* name's value as sent, name_raw_len bytes */
    size_t name_raw_len;
    const char *filename_raw; /* filename's value as sent, or NULL */
    size_t filename_raw_len;
    const char *content_type; /* the part's Content-Type value, or NULL */
    size_t content_type_len;
    /* A file: a non-empty filename (what Django, Werkzeug and ModSecurity
     * all take for a file). filename="" is an ordinary field to Django. */
    bool is_file;
} moat_multipart_part;

/* Callbacks return 0, or an error that stops the parse (feed returns it). */
typedef struct moat_multipart_cbs {
    int (*part)(void *ud, const moat_multipart_part *p);
    int (*data)(void *ud, const char *data, size_t len); /* the current part's content */
    int (*part_end)(void *ud);
    int (*end)(void *ud); /* the closing boundary */
} moat_multipart_cbs;

typedef struct moat_multipart moat_multipart;

/* boundary: what moat_multipart_boundary returned (copied). */
moat_multipart *moat_multipart_new(const char *boundary, const moat_multipart_cbs *cbs, void *ud);
/* Parses more of the body. 0, MOAT_EPARSE for a malformed body, or a
 * callback's error; once non-zero, every later call returns it. */
int moat_multipart_feed(moat_multipart *m, const char *data, size_t len);
/* The body ended: 0 when the closing boundary was seen, else MOAT_EPARSE. */
int moat_multipart_finish(moat_multipart *m);
/* True while the parser is inside a file part's content. */
bool moat_multipart_in_file(const moat_multipart *m);
/* True once the closing boundary was read (its CRLF may still come). */
bool moat_multipart_done(const moat_multipart *m);
void moat_multipart_free(moat_multipart *m);

/* ---- serialisation -----------------------------------------------------
 * Never writes a line break it was not asked for: control bytes in values and
 * reasons become SP, headers whose name is not a token are skipped, target
 * bytes that are not VCHAR, and '#', are percent-encoded. */
/* Appends "METHOD TARGET HTTP/1.1\r\n" + headers + "\r\n". */
void moat_http_request_serialize(const moat_http_head *h, moat_buf *out);
/* Appends "HTTP/1.1 STATUS REASON\r\n" + headers + "\r\n". */
void moat_http_response_serialize(const moat_http_head *h, moat_buf *out);
/* Standard reason phrase for a status ("Not Found"), or "Unknown". */
const char *moat_http_reason(int status);

/* ---- cookies and forms (form.c) -----------------------------------------
 * What a login portal reads from a client: one cookie of a Cookie header,
 * application/x-www-form-urlencoded bodies and query strings. Strict: a
 * name given twice is ambiguous and taken as neither. */
/* Finds cookie name in a Cookie header value: 0 with val/vlen (pointing
 * into header), MOAT_ENOENT, or MOAT_EINVAL when it is there twice. */
int moat_http_cookie_get(const char *header, size_t hlen, const char *name, const char **val,
                         size_t *vlen);
/* Cookie name across every Cookie header of h, copied into a; NULL when it
 * is absent, malformed or given more than once. */
const char *moat_http_head_cookie(const moat_http_head *h, moat_arena *a, const char *name);
#define MOAT_HTTP_FORM_MAX 32
typedef struct moat_http_form {
    const char *keys[MOAT_HTTP_FORM_MAX], *vals[MOAT_HTTP_FORM_MAX]; /* arena strings */
    size_t n;
} moat_http_form;
/* Parses an application/x-www-form-urlencoded body (or a query) into arena
 * strings: 0, MOAT_EINVAL (bad escape, NUL byte, a key given twice) or
 * MOAT_ETOOBIG (more than MOAT_HTTP_FORM_MAX fields). */
int moat_http_form_parse(moat_arena *a, const char *body, size_t len, moat_http_form *out);
/* The value of key, or NULL. */
const char *moat_http_form_get(const moat_http_form *f, const char *key);
/* Appends s percent-encoded for a query value (unreserved bytes and '/'
 * stay as they are). */
void moat_http_url_escape(moat_buf *b, const char *s);

/* ---- HTTP/2 requests (h2translate.c) ------------------------------------
 * One field of an HTTP/2 header list as HPACK decoded it (not
 * NUL-terminated; values may hold any byte). */
typedef struct moat_h2_field {
    const char *name, *value;
    size_t name_len, value_len;
} moat_h2_field;
/* Appends to out the HTTP/1.1 request head (request line, Host first, the
 * fields in order, split cookies joined, the empty line) that the header
 * list f[0..n) of an HTTP/2 request stands for. Returns 0, or MOAT_EINVAL
 * with *why (static) when HTTP/1.1 cannot carry it unambiguously:
 * pseudo-headers missing, repeated, unknown or after a field; CONNECT; a
 * name that is not a lower-case token; a value with CR, LF, NUL or another
 * control, or whitespace at either end; Connection, Keep-Alive,
 * Proxy-Connection, Transfer-Encoding, Upgrade or HTTP2-Settings; TE other
 * than "trailers"; no :authority and no Host, two Host fields, or a Host
 * other than :authority. out may hold a partial head after an error. The
 * result is for moat's HTTP/1.1 parser, which applies its own checks and
 * limits to it. */
int moat_h2_request_translate(const moat_h2_field *f, size_t n, moat_buf *out, const char **why);

#endif
