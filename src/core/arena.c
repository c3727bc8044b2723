/* arena.c - bump allocator with a cleanup list. One arena per request (or per
 * loaded config) is freed in one call; blocks grow geometrically and the first
 * block is kept across resets so a keep-alive connection reuses it. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 4096
#define ARENA_ALIGN 16

typedef struct arena_block {
    struct arena_block *next;
    size_t size, used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} arena_block;

typedef struct arena_cleanup {
    struct arena_cleanup *next;
    void (*fn)(void *);
    void *arg;
} arena_cleanup;

struct moat_arena {
    arena_block *head; /* current block; the first block is the list's tail */
    arena_cleanup *cleanups;
};

static arena_block *block_new(size_t size)
{
    arena_block *b = moat_xmalloc(sizeof(*b) + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

moat_arena *moat_arena_new(void)
{
    moat_arena *a = moat_xcalloc(1, sizeof(*a));
    a->head = block_new(ARENA_BLOCK);
    return a;
}

static void run_cleanups(moat_arena *a)
{
    while (a->cleanups) {
        arena_cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->arg);
    }
}

void moat_arena_reset(moat_arena *a)
{
    run_cleanups(a);
    while (a->head->next) {
        arena_block *b = a->head;
        a->head = b->next;
        free(b);
    }
    a->head->used = 0;
}

void moat_arena_free(moat_arena *a)
{
    if (!a) return;
    moat_arena_reset(a);
    free(a->head);
    free(a);
}

size_t moat_arena_bytes(const moat_arena *a)
{
    size_t n = 0;
    for (const arena_block *b = a ? a->head : NULL; b; b = b->next)
        n += sizeof(*b) + b->size;
    return n;
}

void *moat_arena_alloc(moat_arena *a, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0) need = ARENA_ALIGN;
    arena_block *b = a->head;
    if (b->size - b->used < need) {
        size_t size = b->size * 2;
        if (size < need) size = need;
        arena_block *nb = block_new(size);
        nb->next = a->head;
        a->head = nb;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    return p;
}

void *moat_arena_calloc(moat_arena *a, size_t n)
{
    void *p = moat_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *moat_arena_strndup(moat_arena *a, const char *s, size_t n)
{
    char *p = moat_arena_alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *moat_arena_strdup(moat_arena *a, const char *s)
{
    return moat_arena_strndup(a, s, strlen(s));
}

char *moat_arena_printf(moat_arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    MOAT_BUG_ON(n < 0);
    char *p = moat_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void moat_arena_defer(moat_arena *a, void (*fn)(void *), void *arg)
{
    arena_cleanup *c = moat_arena_alloc(a, sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
}
