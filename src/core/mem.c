/* mem.c - allocation wrappers implementing the abort-on-OOM policy described
 * in core.h, and the growable byte buffer. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Noreturn void oom(size_t n)
{
    fprintf(stderr, "moat: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *moat_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *moat_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    return p;
}

void *moat_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *moat_xstrndup(const char *s, size_t n)
{
    char *p = moat_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *moat_xstrdup(const char *s)
{
    return moat_xstrndup(s, strlen(s));
}

char *moat_xasprintf(const char *fmt, ...)
{
    moat_buf b;
    moat_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    moat_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return moat_buf_steal(&b);
}

void moat_buf_init(moat_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void moat_buf_free(moat_buf *b)
{
    free(b->data);
    moat_buf_init(b);
}

void moat_buf_reset(moat_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void moat_buf_reserve(moat_buf *b, size_t extra)
{
    MOAT_BUG_ON(extra > SIZE_MAX / 2 - b->len);
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = moat_xrealloc(b->data, cap);
    b->cap = cap;
}

void moat_buf_append(moat_buf *b, const void *p, size_t n)
{
    moat_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void moat_buf_puts(moat_buf *b, const char *s)
{
    moat_buf_append(b, s, strlen(s));
}

void moat_buf_putc(moat_buf *b, char c)
{
    moat_buf_append(b, &c, 1);
}

void moat_buf_vprintf(moat_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    MOAT_BUG_ON(n < 0);
    moat_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void moat_buf_printf(moat_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    moat_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void moat_buf_consume(moat_buf *b, size_t n)
{
    MOAT_BUG_ON(n > b->len);
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    if (b->data) b->data[b->len] = '\0';
}

char *moat_buf_steal(moat_buf *b)
{
    char *p = b->data ? b->data : moat_xstrdup("");
    moat_buf_init(b);
    return p;
}
