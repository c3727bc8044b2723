/* sys.c - the process log on stderr, monotonic time, CSPRNG bytes, request
 * ids and whole-file reads. The log writes one line per call with a single
 * write(2), so lines from worker threads never interleave. */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static moat_log_level log_level = MOAT_LOG_INFO;

void moat_log_set_level(moat_log_level lvl)
{
    log_level = lvl;
}

void moat_log(moat_log_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warning", "error"};
    if (lvl < log_level) return;
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n =
        snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02dZ moat %s: ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, names[lvl]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    /* Messages quote hosts, paths and file names: one line, escaped for the
     * terminal or journal that shows it (no forged lines, no controls). */
    moat_buf out;
    moat_buf_init(&out);
    moat_buf_append(&out, line, (size_t)n);
    moat_term_escape(&out, line + n, len - (size_t)n, 0);
    moat_buf_putc(&out, '\n');
    ssize_t w = write(STDERR_FILENO, out.data, out.len);
    (void)w;
    moat_buf_free(&out);
}

uint64_t moat_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void moat_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "moat: getrandom failed: %s\n", strerror(errno));
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}

/* Request ids need to be unique and unguessable, not secret: draw them from a
 * per-thread pool of CSPRNG bytes, refilled 4 KiB at a time, instead of one
 * getrandom(2) per request. Secrets (keys, session ids) use moat_random(). */
void moat_request_id(char out[MOAT_REQUEST_ID_LEN + 1])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static _Thread_local unsigned char pool[4096];
    static _Thread_local size_t used = sizeof(pool);
    if (used + MOAT_REQUEST_ID_LEN > sizeof(pool)) {
        moat_random(pool, sizeof(pool));
        used = 0;
    }
    /* The first character is a letter or digit, never '-': ids are passed
     * as command arguments (moat log why ID), where "-x..." reads as an
     * option. That leaves 127 random bits. */
    out[0] = alphabet[(pool[used] & 63) % 62];
    for (size_t i = 1; i < MOAT_REQUEST_ID_LEN; i++)
        out[i] = alphabet[pool[used + i] & 63];
    explicit_bzero(pool + used, MOAT_REQUEST_ID_LEN);
    used += MOAT_REQUEST_ID_LEN;
    out[MOAT_REQUEST_ID_LEN] = '\0';
}

int moat_read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? MOAT_ENOENT : MOAT_EIO;
    moat_buf b;
    moat_buf_init(&b);
    for (;;) {
        moat_buf_reserve(&b, 65536);
        ssize_t r = read(fd, b.data + b.len, 65536);
        if (r < 0) {
            if (errno == EINTR) continue;
            close(fd);
            moat_buf_free(&b);
            return MOAT_EIO;
        }
        if (r == 0) break;
        b.len += (size_t)r;
        b.data[b.len] = '\0';
    }
    close(fd);
    *len = b.len;
    *out = moat_buf_steal(&b);
    return 0;
}
