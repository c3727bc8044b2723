/* decode.c - a response body's content codings undone, for inspection only:
 * gzip and x-gzip (every member), deflate (zlib-wrapped or raw, as browsers
 * take both), br, and lists of them, decoded last coding first. The decoded
 * bytes are never sent anywhere; the caller forwards the original body.
 * Everything is bounded: the decoded output (cap), what each inner layer of
 * a list may produce, and what brotli may allocate for its window. A body
 * that breaks a bound or does not decode is reported, never guessed at. */
#include <brotli/decode.h>
#include <stdlib.h>
#include <zlib.h>

#include "http.h"

enum { K_GZIP, K_DEFLATE, K_BR };
enum { L_START, L_STREAM, L_END };

/* brotli's ring buffer is as large as the stream's window (4 MiB at the
 * encoder's default lgwin 22, 16 MiB at most); a stream that needs more than
 * this is not decoded. */
#define BROTLI_BUDGET (9u << 20)
#define OUT_CHUNK 16384

typedef struct br_alloc {
    size_t used;
} br_alloc;

typedef struct layer {
    int kind;
    int state;
    bool fed; /* any input reached this layer */
    z_stream z;
    bool zinit;
    BrotliDecoderState *br;
    br_alloc bra;
    unsigned char sniff[2]; /* deflate: the first two bytes tell zlib from raw */
    size_t nsniff;
    uint64_t produced;
} layer;

struct moat_http_decoder {
    layer l[MOAT_HTTP_CODINGS_MAX];
    size_t n;
    size_t cap, total;
    uint64_t inner_cap; /* what an inner layer of a list may produce */
    int err;
};

static void *br_malloc(void *opaque, size_t size)
{
    br_alloc *a = opaque;
    if (size > BROTLI_BUDGET || a->used > BROTLI_BUDGET - size) return NULL;
    size_t *p = malloc(sizeof(size_t) * 2 + size);
    if (!p) return NULL;
    p[0] = size;
    a->used += size;
    return p + 2;
}

static void br_free(void *opaque, void *ptr)
{
    br_alloc *a = opaque;
    if (!ptr) return;
    size_t *p = (size_t *)ptr - 2;
    a->used -= p[0];
    free(p);
}

static bool coding_is(const char *s, size_t n, const char *lit)
{
    return moat_strieq_lit(s, n, lit);
}

int moat_http_decoder_new(const char *codings, size_t len, size_t cap, moat_http_decoder **out,
                          const char **why)
{
    int kinds[MOAT_HTTP_CODINGS_MAX];
    size_t n = 0;
    *out = NULL;
    *why = NULL;
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && codings[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && (codings[a] == ' ' || codings[a] == '\t'))
            a++;
        while (b > a && (codings[b - 1] == ' ' || codings[b - 1] == '\t'))
            b--;
        const char *s = codings + a;
        size_t sl = b - a;
        i = j + 1;
        if (sl == 0 || coding_is(s, sl, "identity")) continue;
        int k;
        if (coding_is(s, sl, "gzip") || coding_is(s, sl, "x-gzip"))
            k = K_GZIP;
        else if (coding_is(s, sl, "deflate"))
            k = K_DEFLATE;
        else if (coding_is(s, sl, "br"))
            k = K_BR;
        else {
            *why = "a content coding moat does not decode";
            return MOAT_EINVAL;
        }
        if (n == MOAT_HTTP_CODINGS_MAX) {
            *why = "too many content codings";
            return MOAT_EINVAL;
        }
        kinds[n++] = k;
    }
    if (n == 0) return 0;
    moat_http_decoder *d = moat_xcalloc(1, sizeof(*d));
    d->n = n;
    d->cap = cap;
    d->inner_cap = (uint64_t)cap * 4 + 65536;
    for (size_t k = 0; k < n; k++) {
        layer *L = &d->l[k];
        L->kind = kinds[n - 1 - k]; /* the last coding applied is undone first */
        L->state = L_START;
    }
    *out = d;
    return 0;
}

void moat_http_decoder_free(moat_http_decoder *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        if (d->l[i].zinit) inflateEnd(&d->l[i].z);
        if (d->l[i].br) BrotliDecoderDestroyInstance(d->l[i].br);
    }
    free(d);
}

static int push(moat_http_decoder *d, size_t i, const unsigned char *in, size_t len, moat_buf *out);

/* Hands what layer i produced to the next layer, or to out. */
static int emit(moat_http_decoder *d, size_t i, const unsigned char *p, size_t n, moat_buf *out)
{
    if (i + 1 < d->n) {
        d->l[i].produced += n;
        if (d->l[i].produced > d->inner_cap) return MOAT_ETOOBIG;
        return push(d, i + 1, p, n, out);
    }
    size_t room = d->cap - d->total;
    if (n > room) {
        moat_buf_append(out, p, room);
        d->total = d->cap;
        return MOAT_ETOOBIG;
    }
    moat_buf_append(out, p, n);
    d->total += n;
    return 0;
}

static int z_start(layer *L, int wbits)
{
    memset(&L->z, 0, sizeof(L->z));
    if (inflateInit2(&L->z, wbits) != Z_OK) return MOAT_ENOMEM;
    L->zinit = true;
    L->state = L_STREAM;
    return 0;
}

static int z_push(moat_http_decoder *d, size_t i, const unsigned char *in, size_t len,
                  moat_buf *out)
{
    layer *L = &d->l[i];
    unsigned char buf[OUT_CHUNK];
    while (len > 0) {
        if (L->state == L_END) {
            /* gzip: another member may follow (decoded too: some browsers
             * show it); anything else after the end is not a valid body. */
            if (L->kind != K_GZIP || inflateReset(&L->z) != Z_OK) return MOAT_EPARSE;
            L->state = L_STREAM;
        }
        size_t step = len > (1u << 30) ? (1u << 30) : len;
        L->z.next_in = (unsigned char *)in;
        L->z.avail_in = (uInt)step;
        int zr;
        do {
            L->z.next_out = buf;
            L->z.avail_out = sizeof(buf);
            zr = inflate(&L->z, Z_NO_FLUSH);
            if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) return MOAT_EPARSE;
            size_t got = sizeof(buf) - L->z.avail_out;
            if (got) {
                int rc = emit(d, i, buf, got, out);
                if (rc) return rc;
            }
            if (zr == Z_BUF_ERROR && got == 0) break; /* needs more input */
        } while (zr != Z_STREAM_END && (L->z.avail_out == 0 || L->z.avail_in > 0));
        size_t used = step - L->z.avail_in;
        in += used;
        len -= used;
        if (zr == Z_STREAM_END)
            L->state = L_END;
        else if (used == 0)
            return MOAT_EPARSE; /* no progress: should not happen, never loop on it */
    }
    return 0;
}

static int br_push(moat_http_decoder *d, size_t i, const unsigned char *in, size_t len,
                   moat_buf *out)
{
    layer *L = &d->l[i];
    if (L->state == L_END) return len ? MOAT_EPARSE : 0;
    if (!L->br) {
        L->br = BrotliDecoderCreateInstance(br_malloc, br_free, &L->bra);
        if (!L->br) return MOAT_ENOMEM;
        L->state = L_STREAM;
    }
    unsigned char buf[OUT_CHUNK];
    for (;;) {
        size_t avail_out = sizeof(buf);
        uint8_t *next_out = buf;
        BrotliDecoderResult br =
            BrotliDecoderDecompressStream(L->br, &len, &in, &avail_out, &next_out, NULL);
        size_t got = sizeof(buf) - avail_out;
        if (got) {
            int rc = emit(d, i, buf, got, out);
            if (rc) return rc;
        }
        if (br == BROTLI_DECODER_RESULT_ERROR) {
            /* Out of budget for the window counts as too big, not corrupt. */
            BrotliDecoderErrorCode e = BrotliDecoderGetErrorCode(L->br);
            return e <= BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES &&
                           e >= BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES
                       ? MOAT_ETOOBIG
                       : MOAT_EPARSE;
        }
        if (br == BROTLI_DECODER_RESULT_SUCCESS) {
            L->state = L_END;
            return len ? MOAT_EPARSE : 0;
        }
        if (br == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) return 0;
        /* NEEDS_MORE_OUTPUT: go round with an empty buffer */
    }
}

static int push(moat_http_decoder *d, size_t i, const unsigned char *in, size_t len, moat_buf *out)
{
    layer *L = &d->l[i];
    if (len == 0) return 0;
    L->fed = true;
    switch (L->kind) {
    case K_BR:
        return br_push(d, i, in, len, out);
    case K_GZIP:
        if (L->state == L_START) {
            int rc = z_start(L, 16 + MAX_WBITS);
            if (rc) return rc;
        }
        return z_push(d, i, in, len, out);
    default: /* K_DEFLATE */
        if (L->state == L_START) {
            while (L->nsniff < 2 && len) {
                L->sniff[L->nsniff++] = *in++;
                len--;
            }
            if (L->nsniff < 2) return 0;
            /* RFC 1950 header: CM 8, CINFO <= 7, check bits; else raw
             * deflate, as browsers decide. */
            unsigned h = (unsigned)L->sniff[0] << 8 | L->sniff[1];
            bool zlib = (L->sniff[0] & 0x0f) == 8 && (L->sniff[0] >> 4) <= 7 && h % 31 == 0;
            int rc = z_start(L, zlib ? MAX_WBITS : -MAX_WBITS);
            if (rc == 0) rc = z_push(d, i, L->sniff, 2, out);
            if (rc) return rc;
        }
        return z_push(d, i, in, len, out);
    }
}

int moat_http_decoder_feed(moat_http_decoder *d, const char *data, size_t len, moat_buf *out)
{
    if (d->err) return d->err;
    d->err = push(d, 0, (const unsigned char *)data, len, out);
    return d->err;
}

int moat_http_decoder_finish(moat_http_decoder *d, moat_buf *out)
{
    (void)out;
    if (d->err) return d->err;
    /* A layer that got input must have seen its stream's end: a cut body
     * is not guessed at. One that got none is an empty body. */
    for (size_t i = 0; i < d->n; i++)
        if (d->l[i].fed && d->l[i].state != L_END) d->err = MOAT_EPARSE;
    return d->err;
}
