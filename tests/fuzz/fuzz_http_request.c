/* fuzz_http_request.c - libFuzzer target for the request parser (and, built
 * with FUZZ_HTTP_RESPONSE, for the response parser: fuzz_http_response.c).
 * The input is a byte stream on one connection. It is parsed twice with small
 * limits: once in one piece, once cut at pseudo-random points with random
 * pauses in the callbacks, resuming and resetting between pipelined messages
 * as the gateway does. Both runs must tell the same story (heads, body bytes,
 * ends, error status and reason), and every head handed on must be
 * unambiguous and must survive serialise-and-parse-again. Then http-parser,
 * the differential oracle (http_oracle.h), reads the same bytes: every
 * message moat handed on, it must have read the same way. Crashes, sanitizer
 * reports and broken invariants (MOAT_BUG_ON) are the findings. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "http_oracle.h"

#ifdef FUZZ_HTTP_RESPONSE
#define KIND MOAT_HTTP_RESPONSE
#else
#define KIND MOAT_HTTP_REQUEST
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct run {
    moat_arena *arena;
    moat_http_parser *p;
    moat_buf story;
    uint64_t rng;
    bool random; /* split and pause at random */
    bool ended, upgraded;
    bool head_request; /* responses: the request was HEAD */
    moat_http_limits lim;
    moat_buf msg, canon; /* the oracle's canonical form: this message, complete ones */
} run;

static uint32_t next(run *r)
{
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return (uint32_t)(r->rng >> 32);
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* What a head handed on must always satisfy. */
static void check_head(const moat_http_head *h)
{
    MOAT_BUG_ON(h->http_major != 1 || (h->http_minor != 0 && h->http_minor != 1));
    MOAT_BUG_ON(h->content_length < -1);
    MOAT_BUG_ON(h->chunked && h->content_length >= 0);
    MOAT_BUG_ON(h->chunked && h->http_minor == 0);
    MOAT_BUG_ON(moat_http_head_count(h, "Content-Length") > 1);
    MOAT_BUG_ON(moat_http_head_count(h, "Transfer-Encoding") > 1);
    for (size_t i = 0; i < h->nheaders; i++) {
        const moat_http_header *f = &h->headers[i];
        MOAT_BUG_ON(f->name_len == 0 || strlen(f->name) != f->name_len);
        for (size_t k = 0; k < f->name_len; k++)
            MOAT_BUG_ON(!is_tchar((unsigned char)f->name[k]));
        MOAT_BUG_ON(f->value[f->value_len] != '\0');
        for (size_t k = 0; k < f->value_len; k++) {
            unsigned char c = (unsigned char)f->value[k];
            MOAT_BUG_ON((c < 0x20 && c != '\t') || c == 0x7f);
        }
        if (f->value_len) {
            MOAT_BUG_ON(f->value[0] == ' ' || f->value[0] == '\t');
            MOAT_BUG_ON(f->value[f->value_len - 1] == ' ' || f->value[f->value_len - 1] == '\t');
        }
    }
    if (KIND == MOAT_HTTP_REQUEST) {
        MOAT_BUG_ON(!h->method || !h->target || strlen(h->target) != h->target_len);
        MOAT_BUG_ON(h->target[0] != '/' && strcmp(h->target, "*") != 0);
        MOAT_BUG_ON(h->method_id == 5 /* CONNECT */);
        MOAT_BUG_ON(moat_http_head_count(h, "Host") > 1);
        MOAT_BUG_ON(h->http_minor == 1 && moat_http_head_count(h, "Host") != 1);
        MOAT_BUG_ON(h->upgrade && (h->chunked || h->content_length > 0));
    } else {
        MOAT_BUG_ON(h->status < 100 || h->status > 599 || !h->reason);
    }
}

static int noop(void *ud)
{
    (void)ud;
    return 0;
}

static int count_head(void *ud, moat_http_head *h)
{
    (void)h;
    (*(int *)ud)++;
    return 0;
}

/* A request head the parser accepted must be accepted again once written. */
static void reparse(const moat_http_head *h)
{
    if (KIND != MOAT_HTTP_REQUEST) return;
    if (h->http_minor == 0 && moat_http_head_count(h, "Host") == 0) return; /* 1.1 needs Host */
    moat_buf out;
    moat_buf_init(&out);
    moat_http_request_serialize(h, &out);
    static const moat_http_limits big = {1 << 16, 1 << 20, 1000, 0};
    static const moat_http_parser_cbs cbs = {count_head, NULL, noop};
    int heads = 0;
    moat_arena *a = moat_arena_new();
    moat_http_parser *p = moat_http_parser_new(MOAT_HTTP_REQUEST, &big, &cbs, &heads, a);
    size_t used;
    int rc = moat_http_parser_execute(p, out.data, out.len, &used);
    MOAT_BUG_ON(rc != 0 && rc != MOAT_EAGAIN);
    MOAT_BUG_ON(heads != 1);
    moat_http_parser_free(p);
    moat_arena_free(a);
    moat_buf_free(&out);
}

static int on_head(void *ud, moat_http_head *h)
{
    run *r = ud;
    check_head(h);
    reparse(h);
    moat_buf_printf(
        &r->story, "\n<head %s %s %d %s %d.%d cl=%lld ch=%d ka=%d up=%d ex=%d nb=%d n=%zu>",
        h->method ? h->method : "-", h->target ? h->target : "-", h->status,
        h->reason ? h->reason : "-", h->http_major, h->http_minor, (long long)h->content_length,
        h->chunked, h->keep_alive, h->upgrade, h->expect_continue, h->no_body, h->nheaders);
    for (size_t i = 0; i < h->nheaders; i++)
        moat_buf_printf(&r->story, "[%s=%s]", h->headers[i].name, h->headers[i].value);
    if (h->upgrade) r->upgraded = true;
    oracle_put_head(&r->msg, KIND, h);
    return r->random && next(r) % 4 == 0 ? MOAT_EAGAIN : 0;
}

static int on_body(void *ud, const char *d, size_t n)
{
    run *r = ud;
    MOAT_BUG_ON(n == 0);
    moat_buf_append(&r->story, d, n);
    moat_buf_append(&r->msg, d, n);
    return r->random && next(r) % 4 == 0 ? MOAT_EAGAIN : 0;
}

static int on_end(void *ud)
{
    run *r = ud;
    r->ended = true;
    moat_buf_puts(&r->story, "\n<end>");
    moat_buf_append(&r->canon, r->msg.data ? r->msg.data : "", r->msg.len);
    moat_buf_puts(&r->canon, "<end>\n");
    moat_buf_reset(&r->msg);
    return 0;
}

static const moat_http_parser_cbs fuzz_cbs = {on_head, on_body, on_end};

static void result(run *r, int rc)
{
    moat_buf_printf(&r->story, "\n<rc %d", rc);
    if (rc == MOAT_EHTTP)
        moat_buf_printf(&r->story, " %d %s", moat_http_parser_status(r->p),
                        moat_http_parser_reason(r->p));
    moat_buf_putc(&r->story, '>');
}

static void parse(run *r, const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    size_t pos = 0;
    r->arena = moat_arena_new();
    r->p = moat_http_parser_new(KIND, &r->lim, &fuzz_cbs, r, r->arena);
    moat_http_parser_expect_no_body(r->p, r->head_request);
    for (int guard = 0; guard < 1000000; guard++) {
        size_t n = size - pos;
        if (r->random && n > 1) n = 1 + next(r) % (n < 64 ? n : 64);
        size_t used;
        int rc = moat_http_parser_execute(r->p, d + pos, n, &used);
        MOAT_BUG_ON(used > n);
        pos += used;
        if (rc == MOAT_EAGAIN) {
            if (r->ended) {
                if (r->upgraded) break; /* the rest is another protocol */
                r->ended = false;
                moat_arena_reset(r->arena);
                moat_http_parser_reset(r->p, r->arena);
                moat_buf_printf(&r->story, "\n<next at %zu>", pos);
            } else {
                MOAT_BUG_ON(!r->random); /* only random runs pause */
                moat_http_parser_resume(r->p);
            }
            continue;
        }
        if (rc != 0) {
            result(r, rc);
            break;
        }
        if (pos == size) {
            int f = moat_http_parser_finish(r->p);
            result(r, f);
            break;
        }
    }
    moat_http_parser_free(r->p);
    moat_arena_free(r->arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 1099511628211ull;
    moat_http_limits lim = {
        .url_bytes = 64,
        .header_bytes = 256 + (seed & 0xff),
        .headers = 8,
        .body_bytes = (seed >> 8) & 1 ? 0 : 512,
    };
    /* Drawn from the input's hash so both runs see the same one. */
    bool head_request = (seed >> 9) & 1;
    run whole = {.lim = lim, .head_request = head_request};
    run cut = {.lim = lim, .head_request = head_request, .random = true, .rng = seed | 1};
    moat_buf_init(&whole.story);
    moat_buf_init(&cut.story);
    moat_buf_init(&whole.msg);
    moat_buf_init(&whole.canon);
    moat_buf_init(&cut.msg);
    moat_buf_init(&cut.canon);
    parse(&whole, data, size);
    parse(&cut, data, size);
    /* http-parser reads every message moat handed on the same way */
    oracle o;
    oracle_read(&o, KIND, head_request, (const char *)data, size);
    bool agree = oracle_agrees(&o, &whole.canon);
    if (!agree && getenv("FUZZ_HTTP_DEBUG"))
        fprintf(stderr, "moat:\n%s\n---\nhttp-parser (%s):\n%s\n",
                whole.canon.data ? whole.canon.data : "",
                o.failed ? http_errno_name(HTTP_PARSER_ERRNO(&o.hp)) : "ok",
                o.story.data ? o.story.data : "");
    MOAT_BUG_ON(!agree);
    oracle_free(&o);
    moat_buf_free(&whole.msg);
    moat_buf_free(&whole.canon);
    moat_buf_free(&cut.msg);
    moat_buf_free(&cut.canon);
    /* The same bytes cut anywhere and paused anywhere tell the same story. */
    bool same =
        whole.story.len == cut.story.len &&
        (whole.story.len == 0 || !memcmp(whole.story.data, cut.story.data, whole.story.len));
    if (!same && getenv("FUZZ_HTTP_DEBUG"))
        fprintf(stderr, "whole:%s\n---\ncut:%s\n", whole.story.data, cut.story.data);
    MOAT_BUG_ON(!same);
    moat_buf_free(&whole.story);
    moat_buf_free(&cut.story);
    return 0;
}
