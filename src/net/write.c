/* write.c - writes on libuv streams: uv_try_write first (most responses fit
 * in the socket buffer, so no copy and no callback), then one queued
 * uv_write holding a private copy of whatever is left. */
#include "net.h"

#include <stdlib.h>
#include <string.h>

typedef struct queued_write {
    uv_write_t req;
    size_t *pending;
    size_t len;
    moat_write_cb cb;
    void *ud;
    char data[];
} queued_write;

static void on_written(uv_write_t *req, int status)
{
    queued_write *q = (queued_write *)req;
    *q->pending -= q->len;
    moat_write_cb cb = q->cb;
    void *ud = q->ud;
    free(q);
    if (cb) cb(ud, status);
}

int moat_stream_write(uv_stream_t *s, const uv_buf_t *bufs, unsigned nbufs, size_t *pending,
                      moat_write_cb cb, void *ud)
{
    size_t total = 0;
    for (unsigned i = 0; i < nbufs; i++)
        total += bufs[i].len;
    if (total == 0) return 0;
    size_t done = 0;
    if (*pending == 0) {
        int r = uv_try_write(s, bufs, nbufs);
        if (r >= 0)
            done = (size_t)r;
        else if (r != UV_EAGAIN && r != UV_ENOSYS)
            return MOAT_ECLOSED;
    }
    if (done == total) return 0;
    size_t left = total - done;
    queued_write *q = moat_xmalloc(sizeof(*q) + left);
    size_t off = 0, skip = done;
    for (unsigned i = 0; i < nbufs; i++) {
        size_t l = bufs[i].len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        memcpy(q->data + off, bufs[i].base + skip, l - skip);
        off += l - skip;
        skip = 0;
    }
    q->pending = pending;
    q->len = left;
    q->cb = cb;
    q->ud = ud;
    uv_buf_t b = uv_buf_init(q->data, (unsigned)left);
    *pending += left;
    int r = uv_write(&q->req, s, &b, 1, on_written);
    if (r < 0) {
        *pending -= left;
        free(q);
        return MOAT_ECLOSED;
    }
    return 0;
}
