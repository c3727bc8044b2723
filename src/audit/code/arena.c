/* arena.c - the allocator tree-sitter uses while a file is analysed: a
 * per-thread bump arena released in one step when the file is done.
 *
 * Parsing a file makes tens of thousands of small allocations that all die
 * together (the tree, the parse stack, the walk's cursor); malloc/free were
 * about a tenth of a whole `moat audit code` run. Between
 * moat__ts_arena_begin() and moat__ts_arena_end() on a thread, tree-sitter's
 * allocations on that thread come from the arena, free() of them does
 * nothing and end() takes everything back. Outside that span (and on other
 * threads) they go to malloc. Every block carries a header saying where it
 * came from, so a block is always freed the way it was allocated.
 *
 * Under AddressSanitizer the arena's unused and freed bytes are poisoned, so
 * a use after free inside the arena is still caught. Leaves to tree-sitter
 * everything but the memory. */
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tree_sitter/api.h>

#include "audit/code/internal.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOAT_ARENA_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MOAT_ARENA_ASAN 1
#endif
#ifdef MOAT_ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* In front of every block: its usable size and where it came from. */
typedef struct block_head {
    size_t size;
    uint32_t magic;
    uint32_t in_arena;
} block_head;

#define HEAD_MAGIC 0x6d6f6174u /* "moat" */
#define ALIGN alignof(max_align_t)
#define HEAD_SIZE ((sizeof(block_head) + ALIGN - 1) / ALIGN * ALIGN)
#define CHUNK_SIZE ((size_t)256 << 10)
#define KEEP_BYTES ((size_t)4 << 20) /* chunks kept between files, per thread */

typedef struct chunk {
    struct chunk *next;
    size_t cap, used; /* bytes of data[] */
    alignas(max_align_t) unsigned char data[];
} chunk;

typedef struct arena {
    chunk *head;  /* the chunk allocated from; full ones follow */
    chunk *spare; /* kept for the next file */
    size_t spare_bytes;
    unsigned char *last; /* the newest block (it can grow in place) */
    int depth;           /* begin() calls not yet ended */
} arena;

static _Thread_local arena A;

static size_t round_up(size_t n)
{
    return (n + ALIGN - 1) / ALIGN * ALIGN;
}

static chunk *chunk_get(size_t need)
{
    for (chunk **pp = &A.spare; *pp; pp = &(*pp)->next) {
        if ((*pp)->cap < need) continue;
        chunk *c = *pp;
        *pp = c->next;
        A.spare_bytes -= c->cap;
        c->used = 0;
        return c;
    }
    size_t cap = need > CHUNK_SIZE ? need : CHUNK_SIZE;
    chunk *c = malloc(sizeof(chunk) + cap);
    if (!c) return NULL;
    c->cap = cap;
    c->used = 0;
    POISON(c->data, cap);
    return c;
}

static void *arena_alloc(size_t size)
{
    if (size > SIZE_MAX / 2) return NULL;
    size_t need = HEAD_SIZE + round_up(size ? size : 1);
    if (!A.head || A.head->cap - A.head->used < need) {
        chunk *c = chunk_get(need);
        if (!c) return NULL;
        c->next = A.head;
        A.head = c;
    }
    unsigned char *b = A.head->data + A.head->used;
    A.head->used += need;
    UNPOISON(b, HEAD_SIZE + size);
    *(block_head *)b = (block_head){.size = size, .magic = HEAD_MAGIC, .in_arena = 1};
    A.last = b;
    return b + HEAD_SIZE;
}

static void *heap_alloc(size_t size)
{
    if (size > SIZE_MAX - HEAD_SIZE) return NULL;
    unsigned char *b = malloc(HEAD_SIZE + size);
    if (!b) return NULL;
    *(block_head *)b = (block_head){.size = size, .magic = HEAD_MAGIC, .in_arena = 0};
    return b + HEAD_SIZE;
}

static block_head *head_of(void *p)
{
    block_head *h = (block_head *)((unsigned char *)p - HEAD_SIZE);
    MOAT_BUG_ON(h->magic != HEAD_MAGIC);
    return h;
}

/* tree-sitter aborts the process when these return NULL (its own policy for
 * running out of memory). */
static void *ts_arena_malloc(size_t size)
{
    return A.depth ? arena_alloc(size) : heap_alloc(size);
}

static void *ts_arena_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = ts_arena_malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

static void ts_arena_free(void *p)
{
    if (!p) return;
    block_head *h = head_of(p);
    if (!h->in_arena) {
        free(h);
        return;
    }
    /* the newest block gives its bytes back; others wait for end() */
    unsigned char *b = (unsigned char *)h;
    size_t len = HEAD_SIZE + round_up(h->size ? h->size : 1);
    if (A.depth && b == A.last && A.head && b + len == A.head->data + A.head->used) {
        A.head->used -= len;
        A.last = NULL;
    }
    POISON(b, len);
}

static void *ts_arena_realloc(void *p, size_t size)
{
    if (!p) return ts_arena_malloc(size);
    block_head *h = head_of(p);
    if (!h->in_arena) {
        if (size > SIZE_MAX - HEAD_SIZE) return NULL;
        block_head *n = realloc(h, HEAD_SIZE + size);
        if (!n) return NULL;
        n->size = size;
        return (unsigned char *)n + HEAD_SIZE;
    }
    unsigned char *b = (unsigned char *)h;
    size_t old_len = HEAD_SIZE + round_up(h->size ? h->size : 1);
    size_t new_len = HEAD_SIZE + round_up(size ? size : 1);
    if (A.depth && b == A.last && A.head && b + old_len == A.head->data + A.head->used &&
        size <= SIZE_MAX / 2 && A.head->used - old_len + new_len <= A.head->cap) {
        /* the newest block grows (or shrinks) in place */
        A.head->used = A.head->used - old_len + new_len;
        UNPOISON(b, HEAD_SIZE + size);
        h->size = size;
        return p;
    }
    size_t old_size = h->size;
    void *q = ts_arena_malloc(size);
    if (!q) return NULL;
    memcpy(q, p, old_size < size ? old_size : size);
    ts_arena_free(p);
    return q;
}

static void install(void)
{
    ts_set_allocator(ts_arena_malloc, ts_arena_calloc, ts_arena_realloc, ts_arena_free);
}

void moat__ts_arena_install(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install);
}

void moat__ts_arena_begin(void)
{
    A.depth++;
}

void moat__ts_arena_end(void)
{
    MOAT_BUG_ON(A.depth <= 0);
    if (--A.depth) return;
    while (A.head) {
        chunk *c = A.head;
        A.head = c->next;
        POISON(c->data, c->cap);
        if (A.spare_bytes + c->cap <= KEEP_BYTES) {
            c->next = A.spare;
            A.spare = c;
            A.spare_bytes += c->cap;
        } else {
            free(c);
        }
    }
    A.last = NULL;
}

void moat__ts_arena_thread_end(void)
{
    MOAT_BUG_ON(A.depth != 0);
    while (A.spare) {
        chunk *c = A.spare;
        A.spare = c->next;
        free(c);
    }
    A.spare_bytes = 0;
}
