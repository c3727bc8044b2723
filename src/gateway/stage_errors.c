/* stage_errors.c - the errors filter: the app's 5xx responses are replaced by
 * moat's generic page (status kept); 4xx responses are held whole (up to
 * errors.inspect_bytes) and replaced when they are Python debug pages; the
 * first 2 KiB of 200 text/html pages are held and a directory listing is
 * answered 404. What is inspected is inspected decoded (src/http/decode.c);
 * a clean response is released as it came, compressed bytes unchanged.
 * Fail closed: a 4xx body that cannot be inspected (too large, a coding
 * moat does not decode, corrupt) is replaced, never passed. pipeline.c keeps
 * the held head (r->held_head) and sends what this stage releases. */
#include <string.h>

#include "internal.h"

static const char *const debug_markers[] = {
    "Traceback (most recent call last)", /* any Python traceback */
    "<code>DEBUG =",                     /* Django technical 404, CSRF 403 help */
    "Using the URLconf defined in",      /* Django technical 404 */
    "Werkzeug Debugger",                 /* Werkzeug interactive debugger */
    "__debugger__",                      /* its endpoints, linked from the page */
    "traceback-container",               /* Starlette / FastAPI debug page */
    "django.core.exceptions",            /* Django exception names in a page */
};

bool moat__is_debug_page(const char *body, size_t len)
{
    for (size_t i = 0; i < MOAT_ARRAY_LEN(debug_markers); i++)
        if (memmem(body, len, debug_markers[i], strlen(debug_markers[i]))) return true;
    return false;
}

static const char *const listing_markers[] = {
    "<title>Index of /",              /* Apache, nginx autoindex */
    "<title>Directory listing for /", /* Python http.server */
    "<h1>Index of /",
    "<h1>Directory listing for /",
};

bool moat__is_listing(const char *body, size_t len)
{
    for (size_t i = 0; i < MOAT_ARRAY_LEN(listing_markers); i++)
        if (memmem(body, len, listing_markers[i], strlen(listing_markers[i]))) return true;
    return false;
}

/* A listing names itself in its first bytes: only those are held. */
#define LISTING_WINDOW 2048

/* A response being held (the stage's ctx). */
typedef struct errors_hold {
    bool listing;           /* a 200 page: looking for a listing, not a debug page */
    size_t window;          /* decoded bytes inspected */
    moat_buf raw;           /* the body as it came: what a release sends */
    moat_buf plain;         /* decoded, at most window bytes (unused without a decoder) */
    moat_http_decoder *dec; /* NULL: the body is not content-coded */
    bool stopped;           /* decoding ended early (window full, corrupt): decide now */
    const char *why;        /* why the body cannot be inspected, or NULL */
    const char *why_key;    /* the setting that would change why */
    const char *codings;    /* every Content-Encoding value, joined (arena) */
} errors_hold;

static void hold_free(void *arg)
{
    errors_hold *st = arg;
    moat_buf_free(&st->raw);
    moat_buf_free(&st->plain);
    moat_http_decoder_free(st->dec);
    st->dec = NULL;
}

static bool is_html(moat_http_head *h)
{
    moat_http_header *ct = moat_http_head_find(h, "Content-Type");
    return ct && ct->value_len >= 9 && moat_streq_nocase(ct->value, 9, "text/html", 9);
}

/* Every Content-Encoding field's value joined in order: two fields mean the
 * same as one list, and an "identity" first must not hide a "gzip" after. */
static const char *codings_of(moat_request *r, moat_http_head *h, size_t *len)
{
    moat_buf b;
    moat_buf_init(&b);
    for (size_t i = 0; i < h->nheaders; i++) {
        moat_http_header *f = &h->headers[i];
        if (!moat_strieq_lit(f->name, f->name_len, "Content-Encoding")) continue;
        if (b.len) moat_buf_putc(&b, ',');
        moat_buf_append(&b, f->value, f->value_len);
    }
    *len = b.len;
    const char *s = moat_arena_strndup(r->arena, b.data ? b.data : "", b.len);
    moat_buf_free(&b);
    return s;
}

/* Answers with moat's page instead of the held response. r is gone after. */
static int replace(moat_request *r, int status, const char *key, const char *reason)
{
    r->hold = false;
    r->held_head = NULL;
    MOAT__CTX(r, &moat__stage_errors) = NULL;
    moat__refuse(r, status, "response.replaced", key, reason);
    return MOAT_DONE;
}

/* key: the setting that would change it (the window for a body too large,
 * else debug_pages itself). The event names the codings (may be ""). */
static int replace_uninspectable(moat_request *r, int status, const char *key, const char *why,
                                 const char *codings)
{
    const char *reason = moat_arena_printf(r->arena, "uninspectable body: %s", why);
    if (codings && *codings) {
        moat_seclog_field *f = moat_arena_calloc(r->arena, sizeof(*f));
        f->name = "content_encoding";
        f->value = moat_arena_strndup(r->arena, codings, strnlen(codings, 256));
        r->ev_fields = f;
        r->ev_nfields = 1;
    }
    return replace(r, status, key, reason);
}

static int errors_response(moat_request *r, moat_http_head *h)
{
    const moat_config *cfg = r->rt->cfg;
    if (r->answering) return MOAT_PASS; /* moat's own page */
    if (h->status >= 500 && cfg->errors.replace_5xx) {
        moat__refuse(r, h->status, "response.replaced", "errors.replace_5xx",
                     "application error page replaced");
        return MOAT_DONE;
    }
    bool error = h->status >= 400 && h->status < 500 && cfg->errors.debug_pages;
    bool page = h->status == 200 && cfg->errors.listings && is_html(h);
    if (h->no_body || (!error && !page)) return MOAT_PASS;
    if (error && h->content_length > (int64_t)cfg->errors.inspect_bytes)
        return replace_uninspectable(r, h->status, "errors.inspect_bytes",
                                     "larger than errors.inspect_bytes", NULL);
    errors_hold *st = moat_arena_calloc(r->arena, sizeof(*st));
    st->listing = !error;
    st->window = error ? (size_t)cfg->errors.inspect_bytes : LISTING_WINDOW;
    size_t clen;
    const char *codings = codings_of(r, h, &clen);
    const char *why;
    if (moat_http_decoder_new(codings, clen, st->window, &st->dec, &why) != 0) {
        /* A 200 page is not an error page: a coding moat cannot read passes
         * (breaking every such page would break the site). */
        if (st->listing) return MOAT_PASS;
        return replace_uninspectable(r, h->status, "errors.debug_pages", why, codings);
    }
    st->codings = codings;
    moat_arena_defer(r->arena, hold_free, st);
    MOAT__CTX(r, &moat__stage_errors) = st;
    r->hold = true;
    return MOAT_PASS;
}

/* The inspection is over: replace the response or send it as it came. */
static int decide(moat_request *r, errors_hold *st)
{
    int status = r->held_head->status;
    if (st->why && !st->listing)
        return replace_uninspectable(r, status, st->why_key, st->why, st->codings);
    const moat_buf *b = st->dec ? &st->plain : &st->raw;
    const char *p = b->data ? b->data : "";
    size_t n = b->len < st->window ? b->len : st->window;
    if (st->listing && moat__is_listing(p, n))
        return replace(r, 404, "errors.listings", "directory listing replaced");
    if (!st->listing && moat__is_debug_page(p, n))
        return replace(r, status, "errors.debug_pages", "Python debug page replaced");
    /* Nothing of st is used after the release: a failed write closes the
     * client, which frees the request and its arena. */
    moat_buf raw = st->raw;
    moat_buf_init(&st->raw);
    hold_free(st);
    MOAT__CTX(r, &moat__stage_errors) = NULL;
    int rc = moat__response_release(r, raw.data, raw.len);
    moat_buf_free(&raw);
    return rc < 0 ? rc : MOAT_AGAIN;
}

static void uninspectable(errors_hold *st, const char *key, const char *why)
{
    st->why = why;
    st->why_key = key;
}

static int errors_response_body(moat_request *r, const char *data, size_t len)
{
    errors_hold *st = MOAT__CTX(r, &moat__stage_errors);
    if (!st) return MOAT_PASS;
    moat_buf_append(&st->raw, data, len);
    if (st->dec && !st->stopped) {
        int rc = moat_http_decoder_feed(st->dec, data, len, &st->plain);
        if (rc == MOAT_ETOOBIG) {
            st->stopped = true;
            uninspectable(st, "errors.inspect_bytes", "larger than errors.inspect_bytes decoded");
        } else if (rc != 0) {
            st->stopped = true;
            uninspectable(st, "errors.debug_pages",
                          "it does not decode as its Content-Encoding says");
        }
    }
    size_t seen = st->dec ? st->plain.len : st->raw.len;
    if (st->listing) {
        /* Enough seen, or decoding stopped: decide on what decoded. The raw
         * bytes held are bounded like a 4xx's: past that, decide too. */
        if (seen >= st->window || st->stopped || st->raw.len > r->rt->cfg->errors.inspect_bytes)
            return decide(r, st);
        return MOAT_AGAIN;
    }
    if (!st->dec && st->raw.len > st->window)
        uninspectable(st, "errors.inspect_bytes", "larger than errors.inspect_bytes");
    /* The held (encoded) bytes are bounded by the window too. */
    if (st->dec && !st->why && st->raw.len > st->window)
        uninspectable(st, "errors.inspect_bytes", "larger than errors.inspect_bytes encoded");
    if (st->why) return decide(r, st);
    return MOAT_AGAIN;
}

static int errors_response_end(moat_request *r)
{
    errors_hold *st = MOAT__CTX(r, &moat__stage_errors);
    if (!st) return MOAT_PASS;
    if (st->dec && !st->stopped && moat_http_decoder_finish(st->dec, &st->plain) != 0) {
        uninspectable(st, "errors.debug_pages",
                      "it does not decode as its Content-Encoding says (cut short)");
    }
    int rc = decide(r, st);
    return rc == MOAT_AGAIN ? MOAT_PASS : rc;
}

/* ---- what the client may be sent ---------------------------------------
 * Accept-Encoding keeps only the codings moat can decode, so an application
 * that honours it never answers in one moat cannot inspect (zstd, which
 * browsers offer, would pass a 200 listing unseen and get every 4xx
 * replaced). An application that ignores it still meets the rules above. */

static bool decodable(const char *s, size_t n)
{
    static const char *const ok[] = {"gzip", "x-gzip", "deflate", "br", "identity"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(ok); i++)
        if (moat_strieq_lit(s, n, ok[i])) return true;
    return false;
}

static int codings_request(moat_request *r)
{
    const moat_config *cfg = r->rt->cfg;
    moat_http_head *h = r->head;
    if ((!cfg->errors.debug_pages && !cfg->errors.listings) ||
        !moat_http_head_find(h, "Accept-Encoding"))
        return MOAT_PASS;
    moat_buf b;
    moat_buf_init(&b);
    bool changed = false;
    size_t fields = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        moat_http_header *f = &h->headers[i];
        if (!moat_strieq_lit(f->name, f->name_len, "Accept-Encoding")) continue;
        fields++;
        const char *v = f->value, *end = f->value + f->value_len;
        while (v < end) {
            const char *comma = memchr(v, ',', (size_t)(end - v));
            const char *e = comma ? comma : end;
            const char *a = v, *z = e;
            while (a < z && (*a == ' ' || *a == '\t'))
                a++;
            while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
                z--;
            const char *semi = memchr(a, ';', (size_t)(z - a));
            const char *t = semi ? semi : z;
            while (t > a && (t[-1] == ' ' || t[-1] == '\t'))
                t--;
            if (a < z && decodable(a, (size_t)(t - a))) {
                if (b.len) moat_buf_puts(&b, ", ");
                moat_buf_append(&b, a, (size_t)(z - a));
            } else if (a < z) {
                changed = true; /* "*" too: it would let the app pick any */
            }
            v = comma ? comma + 1 : end;
        }
    }
    if (changed || fields > 1) {
        const char *value = b.len ? moat_arena_strndup(r->arena, b.data, b.len) : "identity";
        moat_http_head_remove(h, "Accept-Encoding");
        moat_http_head_add(h, r->arena, "Accept-Encoding", value);
    }
    moat_buf_free(&b);
    return MOAT_PASS;
}

const moat_stage moat__stage_codings = {
    .name = "errors",
    .on_request_head = codings_request,
};

const moat_stage moat__stage_errors = {
    .name = "errors",
    .on_response_head = errors_response,
    .on_response_body = errors_response_body,
    .on_response_end = errors_response_end,
};
