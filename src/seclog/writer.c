/* writer.c - the running security log: a bounded queue filled by
 * moat_seclog_record on any thread, and one writer thread that chains,
 * seals and writes the lines in batches (one write(2) per batch), evolves the
 * sealing key every epoch, rotates and reopens the file, feeds syslog, and
 * accounts for every entry it could not write. Recording threads never wait
 * for I/O; the writer alone touches the file, the key and the chain state.
 * At open it picks the chain up where the file (or the key file) left it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "internal.h"

size_t moat__seclog_queue_capacity = 16384;
const char *moat__seclog_syslog_path = "/dev/log";

typedef struct item {
    moat_seclog_severity sev;
    char event[48];
    size_t len;
    char body[]; /* the line's members after seq and epoch */
} item;

typedef struct settings {
    char *path; /* "" = off, "-" = standard output */
    uint64_t seal_interval_ms, seal_entries;
    uint64_t rotate_bytes, rotate_interval_ms, rotate_keep;
    bool syslog, fsync, query;
} settings;

/* Where the chain stands. The writer keeps two: `work` advances as lines are
 * formatted into the batch, `dur` is what the sink has accepted; a failed
 * batch puts work back to dur, so that the next line links to the last one
 * really written. The *_pending flags are records still to be written. */
typedef struct chainpos {
    uint64_t seq_next;
    uint8_t prev[MOAT__SECLOG_MAC_LEN];
    uint64_t epoch_lines;
    bool start_pending, link_pending, seal_pending, opened_pending;
} chainpos;

typedef struct sysline {
    size_t off, len;
    moat_seclog_severity sev;
    char event[48];
} sysline;

struct moat_seclog {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* the writer: something to do */
    pthread_cond_t done; /* flushers: the writer made progress */
    item **ring;
    size_t cap, head, count;
    uint64_t enqueued, processed;
    bool stop, reopen, writer_waiting;
    settings *pending; /* from moat_seclog_reconfigure */
    int pending_fd;
    pthread_t thread;
    atomic_bool off, query;
    atomic_bool failing; /* the last write failed (log.on_failure) */
    atomic_uint_fast64_t qdropped, recorded, written, dropped, epoch_now;

    /* ---- the writer thread's own (and open/close's, before and after it) */
    settings cur;
    char *key_path;
    int fd; /* -1 = off */
    bool is_stdout;
    dev_t dev;
    ino_t ino;
    uint64_t offset;           /* bytes of the file that hold whole lines */
    uint64_t file_opened_ms;   /* monotonic, for rotate_interval */
    uint64_t file_lines;       /* lines written to this file */
    uint64_t file_events;      /* of which events (not the log's own records) */
    uint64_t repaired_bytes;   /* partial last line removed at open */
    uint64_t gap_from_keyfile; /* the file ended before the key file's state */
    bool sealed;
    char chain[MOAT__SECLOG_CHAIN_LEN + 1];
    uint64_t epoch;
    uint8_t key[32];
    moat__seclog_sealer *sealer;
    uint64_t epoch_started_ms, advance_retry_ms;
    const char *seal_reason;
    chainpos dur, work;
    char link_prev_file[256];
    const char *link_reason;
    uint64_t lost_queue, lost_write;             /* lost, not yet reported */
    uint64_t batch_lost_queue, batch_lost_write; /* reported in the batch in flight */
    uint64_t batch_items;                        /* events in the batch in flight */
    char lost_why[96];
    moat_buf out;
    sysline *lines;
    size_t nlines, caplines;
    int syslog_fd;
    uint64_t syslog_retry_ms;
    char hostname[64];
    uint64_t warn_ms;
};

/* ---- small helpers -------------------------------------------------------- */

static void now_real(struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void set_name(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; src[n] && n + 1 < cap; n++)
        dst[n] = (src[n] == '\n' || src[n] == '\r') ? '_' : src[n];
    dst[n] = '\0';
}

static char *dir_of(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s) return moat_xstrdup(".");
    if (s == path) return moat_xstrdup("/");
    return moat_xstrndup(path, (size_t)(s - path));
}

static int write_all(int fd, const char *p, size_t n, size_t *done)
{
    *done = 0;
    while (*done < n) {
        ssize_t w = write(fd, p + *done, n - *done);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        *done += (size_t)w;
    }
    return 0;
}

/* Warnings on stderr at most every 10 s, so a full disk does not flood it. */
static void warn_limited(moat_seclog *log, const char *what, int err)
{
    uint64_t now = moat_now_ms();
    if (log->warn_ms && now - log->warn_ms < 10000) return;
    log->warn_ms = now;
    moat_warn("security log: %s: %s", what, err ? strerror(err) : "failed");
}

static void settings_free(settings *s)
{
    if (!s) return;
    free(s->path);
    s->path = NULL;
}

static void settings_from(settings *s, const moat_config *cfg)
{
    s->path = moat_xstrdup(cfg->log.security ? cfg->log.security : "");
    s->seal_interval_ms = cfg->log.seal_interval_ms ? cfg->log.seal_interval_ms : 900000;
    s->seal_entries = cfg->log.seal_entries ? cfg->log.seal_entries : 10000;
    s->rotate_bytes = cfg->log.rotate_bytes;
    s->rotate_interval_ms = cfg->log.rotate_interval_ms;
    s->rotate_keep = cfg->log.rotate_keep;
    s->syslog = cfg->log.syslog;
    s->fsync = cfg->log.flush && strcmp(cfg->log.flush, "fsync") == 0;
    s->query = cfg->log.query;
}

/* ---- rotated files ---------------------------------------------------------- */

/* True when name is base + ".YYYYMMDDTHHMMSSZ" optionally + "-NNN". */
static bool is_rotated_name(const char *name, const char *base)
{
    size_t bl = strlen(base);
    if (strncmp(name, base, bl) != 0 || name[bl] != '.') return false;
    const char *p = name + bl + 1;
    static const char shape[] = "DDDDDDDDTDDDDDDZ";
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'D' ? !(p[i] >= '0' && p[i] <= '9') : p[i] != shape[i]) return false;
    }
    p += sizeof(shape) - 1;
    if (*p == '\0') return true;
    if (*p != '-') return false;
    for (p++; *p; p++)
        if (!(*p >= '0' && *p <= '9')) return false;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rotated siblings of path, sorted oldest first (names are timestamps). */
static char **list_rotated(const char *path, size_t *count)
{
    char *dir = dir_of(path);
    const char *base = base_name(path);
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!is_rotated_name(de->d_name, base)) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                names = moat_xrealloc(names, cap * sizeof(char *));
            }
            names[n++] = strcmp(dir, ".") == 0 ? moat_xstrdup(de->d_name)
                                               : moat_xasprintf("%s/%s", dir, de->d_name);
        }
        closedir(d);
    }
    free(dir);
    if (n) qsort(names, n, sizeof(char *), cmp_str);
    *count = n;
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* A free name PATH.YYYYMMDDTHHMMSSZ[-NNN] for the file being rotated out,
 * one that sorts after every rotated sibling: pruning deletes by name, oldest
 * first, so a name that sorted earlier (the first free one, after the
 * oldest of the same second was pruned; a clock set back) would get the
 * newest file deleted and leave a hole in the chain. */
static char *rotated_name(const char *path)
{
    struct timespec ts;
    now_real(&ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    char *name = moat_xasprintf("%s.%s", path, stamp);
    size_t n;
    char **names = list_rotated(path, &n);
    /* every rotated sibling sorts before it, so no file has this name */
    const char *last = n ? base_name(names[n - 1]) : NULL;
    if (last && strcmp(base_name(name), last) <= 0) {
        /* the newest one's stamp, with the next number */
        const char *at = last + strlen(base_name(path)) + 1;
        const char *dash = strchr(at, '-');
        unsigned next = dash ? (unsigned)strtoul(dash + 1, NULL, 10) + 1 : 1;
        int len = (int)(dash ? (size_t)(dash - at) : strlen(at));
        free(name);
        name = moat_xasprintf("%s.%.*s-%03u", path, len, at, next);
    }
    free_names(names, n);
    /* past -999 the order breaks (and -1000 may exist): never rename over
     * a file */
    struct stat st;
    for (unsigned i = 1; lstat(name, &st) == 0 && i < 100000; i++) {
        char *again = moat_xasprintf("%s.%s-%u", path, stamp, 1000 + i);
        free(name);
        name = again;
    }
    return name;
}

static void prune_rotated(const char *path, uint64_t keep)
{
    if (keep == 0) return;
    size_t n;
    char **names = list_rotated(path, &n);
    for (size_t i = 0; i + keep < n; i++)
        unlink(names[i]);
    free_names(names, n);
}

/* ---- what an existing file holds --------------------------------------------- */

typedef struct file_state {
    bool empty;
    bool ours; /* first line starts a chain of the kind we write */
    char chain[MOAT__SECLOG_CHAIN_LEN + 1];
    uint64_t seq_next;
    uint8_t last[MOAT__SECLOG_MAC_LEN];
    uint64_t repaired; /* bytes of a partial last line cut off */
} file_state;

/* Reads the first and last line of the file open at fd (of size size).
 * With repair, a partial last line (a crash mid-write) is truncated away. */
static void inspect(int fd, bool repair, bool want_sealed, const char *want_chain, file_state *fs)
{
    memset(fs, 0, sizeof(*fs));
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size == 0) {
        fs->empty = true;
        return;
    }
    uint64_t size = (uint64_t)st.st_size;
    enum { CHUNK = 65536 };
    char *buf = moat_xmalloc(CHUNK + 1);
    /* The last whole line. */
    uint64_t start = size > CHUNK ? size - CHUNK : 0;
    ssize_t n = pread(fd, buf, (size_t)(size - start), (off_t)start);
    if (n <= 0) goto out;
    size_t len = (size_t)n;
    if (buf[len - 1] != '\n') {
        char *nl = memrchr(buf, '\n', len);
        size_t keep = nl ? (size_t)(nl - buf) + 1 : 0;
        if (!nl && start > 0) goto out; /* a 64 KiB partial line: not ours */
        if (!repair) goto out;
        if (ftruncate(fd, (off_t)(start + keep)) < 0) goto out;
        fs->repaired = len - keep;
        len = keep;
        size = start + keep;
        if (size == 0) {
            fs->empty = true;
            goto out;
        }
    }
    char *prev = len > 1 ? memrchr(buf, '\n', len - 1) : NULL;
    const char *line = prev ? prev + 1 : buf;
    size_t ll = (size_t)(buf + len - 1 - line);
    uint64_t seq, epoch;
    size_t pl;
    if (!prev && start > 0) goto out;
    if (moat__seclog_frame(line, ll, &seq, &epoch, fs->last, &pl) < 0) goto out;
    fs->seq_next = seq + 1;
    /* The first line: a chain start or continuation of the kind we write. */
    n = pread(fd, buf, size < CHUNK ? (size_t)size : CHUNK, 0);
    if (n <= 0) goto out;
    char *nl = memchr(buf, '\n', (size_t)n);
    if (!nl) goto out;
    moat_seclog_entry e;
    if (moat_seclog_entry_parse(buf, (size_t)(nl - buf), &e) < 0) goto out;
    const char *ev = moat_seclog_entry_get(&e, "event");
    const char *chain = moat_seclog_entry_get(&e, "chain");
    const char *sealed = moat_seclog_entry_get(&e, "sealed");
    if (ev && chain && sealed &&
        (strcmp(ev, "log.start") == 0 || strcmp(ev, "log.continued") == 0) &&
        strlen(chain) == MOAT__SECLOG_CHAIN_LEN &&
        strcmp(sealed, want_sealed ? "true" : "false") == 0 &&
        (!want_chain || strcmp(chain, want_chain) == 0)) {
        fs->ours = true;
        memcpy(fs->chain, chain, MOAT__SECLOG_CHAIN_LEN + 1);
    }
    moat_seclog_entry_free(&e);
out:
    free(buf);
}

/* ---- lines ------------------------------------------------------------------ */

/* Appends one line to the batch: {"seq":S,"epoch":E,BODY,"mac":"..."}. */
static void append_line(moat_seclog *log, const char *body, size_t n, moat_seclog_severity sev,
                        const char *event)
{
    size_t start = log->out.len;
    moat_buf_puts(&log->out, "{\"seq\":");
    moat__seclog_put_u64(&log->out, log->work.seq_next);
    moat_buf_puts(&log->out, ",\"epoch\":");
    moat__seclog_put_u64(&log->out, log->sealed ? log->epoch : 0);
    moat_buf_putc(&log->out, ',');
    moat_buf_append(&log->out, body, n);
    uint8_t mac[MOAT__SECLOG_MAC_LEN];
    moat__seclog_line_mac(log->sealer, log->work.prev, log->work.seq_next,
                          log->sealed ? log->epoch : 0, log->out.data + start, log->out.len - start,
                          mac);
    char hex[2 * MOAT__SECLOG_MAC_LEN + 1];
    moat__seclog_hex(mac, sizeof(mac), hex);
    moat_buf_puts(&log->out, ",\"mac\":\"");
    moat_buf_append(&log->out, hex, 2 * MOAT__SECLOG_MAC_LEN);
    moat_buf_puts(&log->out, "\"}\n");
    memcpy(log->work.prev, mac, sizeof(mac));
    log->work.seq_next++;
    log->work.epoch_lines++;
    if (log->nlines == log->caplines) {
        log->caplines = log->caplines ? 2 * log->caplines : 256;
        log->lines = moat_xrealloc(log->lines, log->caplines * sizeof(sysline));
    }
    sysline *sl = &log->lines[log->nlines++];
    sl->off = start;
    sl->len = log->out.len - start - 1;
    sl->sev = sev;
    set_name(sl->event, sizeof(sl->event), event);
}

static void append_record(moat_seclog *log, const char *event, moat_seclog_severity sev,
                          const moat_buf *extra)
{
    struct timespec ts;
    now_real(&ts);
    moat_buf b;
    moat_buf_init(&b);
    moat__seclog_format_head(&b, event, sev, &ts);
    if (extra && extra->len) moat_buf_append(&b, extra->data, extra->len);
    append_line(log, b.data, b.len, sev, event);
    moat_buf_free(&b);
}

static void put_chain_fields(moat_seclog *log, moat_buf *x)
{
    moat_buf_printf(x, ",\"chain\":\"%s\",\"sealed\":%s", log->chain,
                    log->sealed ? "true" : "false");
}

/* ---- syslog (RFC 5424 over the local datagram socket) ----------------------- */

static void syslog_connect(moat_seclog *log)
{
    uint64_t now = moat_now_ms();
    if (log->syslog_fd >= 0 || now < log->syslog_retry_ms) return;
    log->syslog_retry_ms = now + 1000;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(moat__seclog_syslog_path) >= sizeof(sa.sun_path)) return;
    memcpy(sa.sun_path, moat__seclog_syslog_path, strlen(moat__seclog_syslog_path) + 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return;
    }
    log->syslog_fd = fd;
}

static void syslog_send(moat_seclog *log)
{
    if (!log->cur.syslog || log->nlines == 0) return;
    syslog_connect(log);
    if (log->syslog_fd < 0) return;
    static const int codes[] = {7, 6, 5, 4, 3, 2};
    struct timespec ts;
    now_real(&ts);
    moat_buf msg;
    moat_buf_init(&msg);
    for (size_t i = 0; i < log->nlines; i++) {
        const sysline *sl = &log->lines[i];
        moat_buf_reset(&msg);
        /* facility authpriv (10) */
        moat_buf_printf(&msg, "<%d>1 ", 10 * 8 + codes[(unsigned)sl->sev < 6 ? sl->sev : 1]);
        moat__seclog_put_time(&msg, &ts);
        moat_buf_printf(&msg, " %s moat %d %.32s - ", log->hostname, (int)getpid(), sl->event);
        moat_buf_append(&msg, log->out.data + sl->off, sl->len);
        if (send(log->syslog_fd, msg.data, msg.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
                close(log->syslog_fd);
                log->syslog_fd = -1;
                warn_limited(log, "syslog", errno);
                break;
            }
        }
    }
    moat_buf_free(&msg);
}

/* ---- the batch ----------------------------------------------------------------- */

/* Writes the batch. On success the chain position becomes durable; on
 * failure the lines are lost: the events are counted for a log.dropped
 * entry, a partial line is cut off, and the chain goes back to the last
 * line written. Returns 0 or -1. */
static int flush_batch(moat_seclog *log)
{
    if (log->out.len == 0) return 0;
    int rc = 0, err = 0;
    size_t done = 0;
    if (log->fd < 0) {
        rc = -1;
    } else {
        if (!log->is_stdout) {
            struct stat st;
            if (fstat(log->fd, &st) == 0 && (uint64_t)st.st_size != log->offset)
                log->offset = (uint64_t)st.st_size; /* truncated or appended to by another */
        }
        rc = write_all(log->fd, log->out.data, log->out.len, &done);
        err = errno;
        if (rc == 0 && log->cur.fsync && !log->is_stdout && fdatasync(log->fd) < 0) {
            rc = -1; /* written but not durable: the lines stay, say so */
            err = errno;
            done = log->out.len;
        }
    }
    if (rc == 0 || done == log->out.len) {
        log->offset += log->out.len;
        log->file_lines += log->nlines;
        log->file_events += log->batch_items;
        log->dur = log->work;
        atomic_fetch_add(&log->written, log->nlines);
        syslog_send(log);
        if (rc < 0) warn_limited(log, "fsync", err);
        log->batch_lost_queue = log->batch_lost_write = 0;
        atomic_store(&log->failing, false);
        rc = 0;
    } else {
        atomic_store(&log->failing, true);
        if (done > 0 && !log->is_stdout && ftruncate(log->fd, (off_t)log->offset) < 0)
            warn_limited(log, "cannot cut off a partly written line", errno);
        log->lost_queue += log->batch_lost_queue;
        log->lost_write += log->batch_lost_write + log->batch_items;
        atomic_fetch_add(&log->dropped, log->batch_items);
        log->batch_lost_queue = log->batch_lost_write = 0;
        snprintf(log->lost_why, sizeof(log->lost_why), "%s",
                 log->fd < 0 ? "no log file open" : strerror(err ? err : EIO));
        log->work = log->dur;
        if (log->fd >= 0) warn_limited(log, "write failed, entries dropped", err);
    }
    log->batch_items = 0;
    moat_buf_reset(&log->out);
    log->nlines = 0;
    return rc;
}

/* Moves to the next epoch: K_{n+1} = HMAC(K_n, "moat-evolve") replaces K_n
 * in the key file first, then in memory, and a log.seal record is due. If
 * the key file cannot be rewritten the old key stays in use (retried in a
 * second): forward security pauses, logging does not. */
static void advance(moat_seclog *log, const char *reason)
{
    flush_batch(log);
    moat__seclog_keyfile kf;
    memset(&kf, 0, sizeof(kf));
    memcpy(kf.chain, log->chain, sizeof(kf.chain));
    kf.epoch = log->epoch + 1;
    moat__seclog_evolve(log->key, kf.key);
    kf.seq_next = log->dur.seq_next;
    memcpy(kf.mac, log->dur.prev, sizeof(kf.mac));
    set_name(kf.file, sizeof(kf.file), log->is_stdout ? "-" : base_name(log->cur.path));
    char *err = NULL;
    if (moat__seclog_keyfile_write(log->key_path, &kf, &err) < 0) {
        moat_warn("security log: the sealing key did not evolve (still epoch %" PRIu64 "): %s",
                  log->epoch, err);
        free(err);
        log->advance_retry_ms = moat_now_ms() + 1000;
        OPENSSL_cleanse(&kf, sizeof(kf));
        return;
    }
    OPENSSL_cleanse(log->key, sizeof(log->key));
    memcpy(log->key, kf.key, sizeof(log->key));
    OPENSSL_cleanse(&kf, sizeof(kf));
    log->epoch++;
    moat__seclog_sealer_free(log->sealer);
    log->sealer = moat__seclog_sealer_new(log->key);
    log->epoch_started_ms = moat_now_ms();
    log->advance_retry_ms = 0;
    log->work.epoch_lines = log->dur.epoch_lines = 0;
    log->work.seal_pending = log->dur.seal_pending = true;
    log->seal_reason = reason;
    atomic_store(&log->epoch_now, log->epoch);
}

static bool epoch_due(moat_seclog *log, bool *by_time)
{
    if (!log->sealed) return false;
    uint64_t now = moat_now_ms();
    if (now < log->advance_retry_ms) return false;
    *by_time = now - log->epoch_started_ms >= log->cur.seal_interval_ms;
    return *by_time || log->work.epoch_lines >= log->cur.seal_entries;
}

/* Writes the records due before the next line: chain start, link to the
 * previous file, epoch seal, "opened". */
static void pending_records(moat_seclog *log)
{
    moat_buf x;
    moat_buf_init(&x);
    if (log->work.start_pending) {
        put_chain_fields(log, &x);
        moat_buf_puts(&x, ",\"version\":1");
        append_record(log, "log.start", MOAT_SECLOG_NOTICE, &x);
        log->work.start_pending = false;
        log->work.link_pending = false; /* a new chain links to nothing */
    }
    if (log->work.link_pending) {
        moat_buf_reset(&x);
        put_chain_fields(log, &x);
        moat__seclog_json_member(&x, "prev_file", log->link_prev_file, strlen(log->link_prev_file));
        char hex[2 * MOAT__SECLOG_MAC_LEN + 1];
        moat__seclog_hex(log->work.prev, MOAT__SECLOG_MAC_LEN, hex);
        moat_buf_printf(&x, ",\"prev_seq\":%" PRIu64 ",\"prev_mac\":\"%s\"", log->work.seq_next - 1,
                        hex);
        if (log->link_reason)
            moat__seclog_json_member(&x, "reason", log->link_reason, strlen(log->link_reason));
        append_record(log, "log.continued", MOAT_SECLOG_INFO, &x);
        log->work.link_pending = false;
    }
    if (log->work.seal_pending) {
        moat_buf_reset(&x);
        moat__seclog_json_member(&x, "reason", log->seal_reason ? log->seal_reason : "interval",
                                 strlen(log->seal_reason ? log->seal_reason : "interval"));
        moat_buf_printf(&x, ",\"seal_interval_ms\":%" PRIu64 ",\"seal_entries\":%" PRIu64,
                        log->cur.seal_interval_ms, log->cur.seal_entries);
        append_record(log, "log.seal", MOAT_SECLOG_INFO, &x);
        log->work.seal_pending = false;
    }
    if (log->work.opened_pending) {
        moat_buf_reset(&x);
        moat__seclog_json_member(&x, "reason", "open", 4);
        append_record(log, "log.opened", MOAT_SECLOG_INFO, &x);
        log->work.opened_pending = false;
    }
    if (log->repaired_bytes || log->gap_from_keyfile) {
        moat_buf_reset(&x);
        const char *why = log->repaired_bytes
                              ? "the file ended with a partly written line (a crash); it was "
                                "cut off"
                              : "the file ends before the last state saved in the key file: "
                                "entries are missing from its end";
        moat__seclog_json_member(&x, "reason", why, strlen(why));
        if (log->repaired_bytes)
            moat_buf_printf(&x, ",\"repaired_bytes\":%" PRIu64, log->repaired_bytes);
        append_record(log, "log.opened", MOAT_SECLOG_WARNING, &x);
        log->repaired_bytes = log->gap_from_keyfile = 0;
    }
    moat_buf_free(&x);
}

/* Records still due go first, under the epoch they were due in (a new
 * file's link stays in the old epoch); then the epoch may advance. */
static void before_line(moat_seclog *log)
{
    bool by_time = false;
    pending_records(log);
    if (epoch_due(log, &by_time)) {
        advance(log, by_time ? "interval" : "entries");
        pending_records(log);
    }
}

static void report_losses(moat_seclog *log)
{
    log->lost_queue += atomic_exchange(&log->qdropped, 0);
    if (!log->lost_queue && !log->lost_write) return;
    before_line(log);
    moat_buf x;
    moat_buf_init(&x);
    moat_buf_printf(
        &x, ",\"dropped\":%" PRIu64 ",\"dropped_queue\":%" PRIu64 ",\"dropped_write\":%" PRIu64,
        log->lost_queue + log->lost_write, log->lost_queue, log->lost_write);
    char why[160];
    snprintf(why, sizeof(why), "%s%s%s", log->lost_queue ? "the queue was full" : "",
             log->lost_queue && log->lost_write ? "; " : "",
             log->lost_write ? "the log could not be written" : "");
    moat__seclog_json_member(&x, "reason", why, strlen(why));
    if (log->lost_write)
        moat__seclog_json_member(&x, "error", log->lost_why, strlen(log->lost_why));
    append_record(log, "log.dropped", MOAT_SECLOG_WARNING, &x);
    moat_buf_free(&x);
    log->batch_lost_queue += log->lost_queue;
    log->batch_lost_write += log->lost_write;
    log->lost_queue = log->lost_write = 0;
}

/* ---- the file ---------------------------------------------------------------- */

static int open_file(const char *path, int *fd_out)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return -1;
    *fd_out = fd;
    return 0;
}

static void adopt_fd(moat_seclog *log, int fd)
{
    struct stat st;
    log->fd = fd;
    log->offset = 0;
    if (fstat(fd, &st) == 0) {
        log->dev = st.st_dev;
        log->ino = st.st_ino;
        log->offset = (uint64_t)st.st_size;
    }
    log->file_opened_ms = moat_now_ms();
    log->file_lines = log->file_events = 0;
}

static void maybe_rotate(moat_seclog *log)
{
    if (log->fd < 0 || log->is_stdout || log->file_lines == 0) return;
    const settings *s = &log->cur;
    bool by_size = s->rotate_bytes && log->offset >= s->rotate_bytes;
    /* An idle file (its link and seals only) is not rotated by age. */
    bool by_time = s->rotate_interval_ms && log->file_events &&
                   moat_now_ms() - log->file_opened_ms >= s->rotate_interval_ms;
    if (!by_size && !by_time) return;
    flush_batch(log);
    fdatasync(log->fd);
    char *rotated = rotated_name(s->path);
    if (rename(s->path, rotated) < 0) {
        warn_limited(log, "cannot rotate the log file", errno);
        log->file_opened_ms = moat_now_ms(); /* try again an interval later */
        free(rotated);
        return;
    }
    int nfd;
    if (open_file(s->path, &nfd) < 0) {
        int e = errno;
        if (rename(rotated, s->path) < 0) { /* keep writing where we were */
        }
        warn_limited(log, "cannot open a new log file", e);
        free(rotated);
        return;
    }
    close(log->fd);
    adopt_fd(log, nfd);
    set_name(log->link_prev_file, sizeof(log->link_prev_file), base_name(rotated));
    log->link_reason = "rotate";
    log->work.link_pending = log->dur.link_pending = true;
    free(rotated);
    prune_rotated(s->path, s->rotate_keep);
}

static void do_reopen(moat_seclog *log)
{
    if (log->cur.syslog && log->syslog_fd >= 0) {
        close(log->syslog_fd);
        log->syslog_fd = -1;
        log->syslog_retry_ms = 0;
    }
    if (log->fd < 0 || log->is_stdout) return;
    flush_batch(log);
    int nfd;
    if (open_file(log->cur.path, &nfd) < 0) {
        warn_limited(log, "cannot reopen the log file", errno);
        return;
    }
    struct stat st;
    if (fstat(nfd, &st) == 0 && st.st_dev == log->dev && st.st_ino == log->ino) {
        close(nfd);
        return;
    }
    close(log->fd);
    adopt_fd(log, nfd);
    set_name(log->link_prev_file, sizeof(log->link_prev_file), base_name(log->cur.path));
    log->link_reason = "reopen";
    log->work.link_pending = log->dur.link_pending = true;
}

static void apply_settings(moat_seclog *log, settings *s, int fd)
{
    flush_batch(log);
    if (strcmp(s->path, log->cur.path) != 0) {
        const char *old = log->is_stdout ? "-" : base_name(log->cur.path);
        set_name(log->link_prev_file, sizeof(log->link_prev_file), old);
        if (log->fd >= 0) close(log->fd);
        log->fd = -1;
        log->is_stdout = false;
        if (strcmp(s->path, "-") == 0) {
            log->fd = dup(STDOUT_FILENO);
            log->is_stdout = true;
        } else if (s->path[0]) {
            adopt_fd(log, fd);
            fd = -1;
        }
        if (log->fd >= 0) {
            log->link_reason = "reconfigure";
            log->work.link_pending = log->dur.link_pending = true;
        }
    }
    if (fd >= 0) close(fd);
    if (!s->syslog && log->syslog_fd >= 0) {
        close(log->syslog_fd);
        log->syslog_fd = -1;
    }
    settings_free(&log->cur);
    log->cur = *s;
    free(s);
}

/* ---- the writer thread --------------------------------------------------------- */

static void process(moat_seclog *log, item **items, size_t n)
{
    if (log->fd >= 0) {
        bool by_time = false;
        maybe_rotate(log);
        if (epoch_due(log, &by_time) && by_time) {
            pending_records(log);     /* under the old key */
            advance(log, "interval"); /* an idle epoch ends too */
            pending_records(log);
        }
        report_losses(log);
    }
    for (size_t i = 0; i < n; i++) {
        if (log->fd >= 0) {
            before_line(log);
            append_line(log, items[i]->body, items[i]->len, items[i]->sev, items[i]->event);
            log->batch_items++;
            if (log->out.len >= (1u << 20)) {
                flush_batch(log);
                maybe_rotate(log);
            }
        }
        free(items[i]);
    }
    flush_batch(log);
    maybe_rotate(log);
}

/* Milliseconds (monotonic) of the next timed duty, or UINT64_MAX. */
static uint64_t next_deadline(moat_seclog *log)
{
    uint64_t next = UINT64_MAX;
    if (log->fd < 0) return next;
    if (log->sealed) {
        uint64_t t = log->epoch_started_ms + log->cur.seal_interval_ms;
        if (log->advance_retry_ms > t) t = log->advance_retry_ms;
        next = t;
    }
    if (!log->is_stdout && log->cur.rotate_interval_ms && log->file_events) {
        uint64_t t = log->file_opened_ms + log->cur.rotate_interval_ms;
        if (t < next) next = t;
    }
    if (log->lost_queue || log->lost_write || atomic_load(&log->qdropped)) {
        uint64_t t = moat_now_ms() + 1000;
        if (t < next) next = t;
    }
    return next;
}

static void final_records(moat_seclog *log)
{
    if (log->fd < 0) return;
    report_losses(log);
    before_line(log);
    moat_buf x;
    moat_buf_init(&x);
    moat_buf_printf(&x, ",\"recorded\":%" PRIu64 ",\"dropped\":%" PRIu64,
                    (uint64_t)atomic_load(&log->recorded), (uint64_t)atomic_load(&log->dropped));
    append_record(log, "log.closed", MOAT_SECLOG_INFO, &x);
    moat_buf_free(&x);
    flush_batch(log);
    if (!log->is_stdout) fdatasync(log->fd);
}

static void save_state(moat_seclog *log)
{
    if (!log->sealed) return;
    moat__seclog_keyfile kf;
    memset(&kf, 0, sizeof(kf));
    memcpy(kf.chain, log->chain, sizeof(kf.chain));
    kf.epoch = log->epoch;
    memcpy(kf.key, log->key, sizeof(kf.key));
    kf.seq_next = log->dur.seq_next;
    memcpy(kf.mac, log->dur.prev, sizeof(kf.mac));
    set_name(kf.file, sizeof(kf.file), log->is_stdout ? "-" : base_name(log->cur.path));
    char *err = NULL;
    if (moat__seclog_keyfile_write(log->key_path, &kf, &err) < 0) {
        moat_warn("security log: %s", err);
        free(err);
    }
    OPENSSL_cleanse(&kf, sizeof(kf));
}

static void *writer_main(void *arg)
{
    moat_seclog *log = arg;
    item **batch = moat_xmalloc(log->cap * sizeof(item *));
    pthread_mutex_lock(&log->mu);
    for (;;) {
        while (!log->stop && log->count == 0 && !log->reopen && !log->pending) {
            uint64_t deadline = next_deadline(log);
            log->writer_waiting = true;
            if (deadline == UINT64_MAX) {
                pthread_cond_wait(&log->wake, &log->mu);
            } else {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
                if (deadline <= now) {
                    log->writer_waiting = false;
                    break;
                }
                uint64_t wait = deadline - now;
                ts.tv_sec += (time_t)(wait / 1000);
                ts.tv_nsec += (long)(wait % 1000) * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                if (pthread_cond_timedwait(&log->wake, &log->mu, &ts) == ETIMEDOUT) {
                    log->writer_waiting = false;
                    break;
                }
            }
            log->writer_waiting = false;
        }
        size_t n = 0;
        while (log->count > 0) {
            batch[n++] = log->ring[log->head];
            log->head = (log->head + 1) % log->cap;
            log->count--;
        }
        bool stop = log->stop, reopen = log->reopen;
        settings *pend = log->pending;
        int pend_fd = log->pending_fd;
        log->reopen = false;
        log->pending = NULL;
        log->pending_fd = -1;
        pthread_mutex_unlock(&log->mu);

        if (pend) apply_settings(log, pend, pend_fd);
        if (reopen) do_reopen(log);
        process(log, batch, n);

        pthread_mutex_lock(&log->mu);
        log->processed += n;
        pthread_cond_broadcast(&log->done);
        if (stop && log->count == 0) break;
    }
    pthread_mutex_unlock(&log->mu);
    final_records(log);
    save_state(log);
    free(batch);
    return NULL;
}

/* ---- the public calls ------------------------------------------------------------ */

static void log_free(moat_seclog *log)
{
    if (!log) return;
    for (size_t i = 0; i < log->count; i++)
        free(log->ring[(log->head + i) % log->cap]);
    free(log->ring);
    if (log->pending) {
        settings_free(log->pending);
        free(log->pending);
    }
    if (log->pending_fd >= 0) close(log->pending_fd);
    if (log->fd >= 0) close(log->fd);
    if (log->syslog_fd >= 0) close(log->syslog_fd);
    settings_free(&log->cur);
    free(log->key_path);
    moat__seclog_sealer_free(log->sealer);
    OPENSSL_cleanse(log->key, sizeof(log->key));
    moat_buf_free(&log->out);
    free(log->lines);
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->wake);
    pthread_cond_destroy(&log->done);
    free(log);
}

/* Picks the chain up: from the file's last line, the newest rotated file or
 * the key file, whichever is furthest; decides which records come first. */
static int start_chain(moat_seclog *log, const moat__seclog_keyfile *kf, char **err)
{
    bool have_pos = false;
    uint64_t pos_seq = 0;
    uint8_t pos_mac[MOAT__SECLOG_MAC_LEN] = {0};
    char pos_file[256] = "";
    if (log->sealed && kf->seq_next > 0) {
        have_pos = true;
        pos_seq = kf->seq_next;
        memcpy(pos_mac, kf->mac, sizeof(pos_mac));
        set_name(pos_file, sizeof(pos_file), kf->file);
    }
    file_state fs = {.empty = true};
    const char *path = log->cur.path;
    if (!log->is_stdout) {
        if (open_file(path, &log->fd) < 0) {
            *err = moat_xasprintf("%s: cannot open the security log: %s", path, strerror(errno));
            return MOAT_EIO;
        }
        inspect(log->fd, true, log->sealed, log->sealed ? log->chain : NULL, &fs);
        log->repaired_bytes = fs.repaired;
        if (!fs.empty && !fs.ours) {
            /* Another chain's file (or not a log at all): keep it, aside. */
            char *aside = rotated_name(path);
            if (rename(path, aside) < 0) {
                *err = moat_xasprintf("%s: holds entries of another chain and cannot be moved "
                                      "aside: %s",
                                      path, strerror(errno));
                free(aside);
                return MOAT_EIO;
            }
            moat_warn("security log: %s belongs to another chain; moved to %s", path, aside);
            free(aside);
            close(log->fd);
            log->fd = -1;
            if (open_file(path, &log->fd) < 0) {
                *err =
                    moat_xasprintf("%s: cannot open the security log: %s", path, strerror(errno));
                return MOAT_EIO;
            }
            fs.empty = true;
            log->repaired_bytes = 0;
        }
        adopt_fd(log, log->fd);
        if (fs.empty) {
            /* The newest rotated file may be ahead of the key file. */
            size_t n;
            char **names = list_rotated(path, &n);
            if (n > 0) {
                int rfd = open(names[n - 1], O_RDONLY | O_CLOEXEC);
                if (rfd >= 0) {
                    file_state rs;
                    inspect(rfd, false, log->sealed, log->sealed ? log->chain : NULL, &rs);
                    close(rfd);
                    if (!rs.empty && rs.ours && rs.seq_next > 0 &&
                        (!have_pos || rs.seq_next >= pos_seq)) {
                        have_pos = true;
                        pos_seq = rs.seq_next;
                        memcpy(pos_mac, rs.last, sizeof(pos_mac));
                        set_name(pos_file, sizeof(pos_file), base_name(names[n - 1]));
                        if (!log->sealed) memcpy(log->chain, rs.chain, sizeof(log->chain));
                    }
                }
            }
            free_names(names, n);
        }
    } else {
        log->fd = dup(STDOUT_FILENO);
        if (log->fd < 0) {
            *err = moat_xasprintf("cannot use standard output for the security log: %s",
                                  strerror(errno));
            return MOAT_EIO;
        }
    }

    if (!fs.empty) {
        log->work.seq_next = fs.seq_next;
        memcpy(log->work.prev, fs.last, MOAT__SECLOG_MAC_LEN);
        if (have_pos && pos_seq > fs.seq_next) {
            /* The file lost its end since the key file was saved: link to
             * the saved state, so that verification shows the gap. */
            log->work.seq_next = pos_seq;
            memcpy(log->work.prev, pos_mac, MOAT__SECLOG_MAC_LEN);
            log->gap_from_keyfile = 1;
        }
        if (!log->sealed) memcpy(log->chain, fs.chain, sizeof(log->chain));
        if (!log->sealed) log->work.opened_pending = true; /* sealed: advance() below */
    } else if (have_pos) {
        log->work.seq_next = pos_seq;
        memcpy(log->work.prev, pos_mac, MOAT__SECLOG_MAC_LEN);
        set_name(log->link_prev_file, sizeof(log->link_prev_file), pos_file);
        log->link_reason = "open";
        log->work.link_pending = true;
    } else {
        if (!log->sealed) {
            uint8_t id[MOAT__SECLOG_CHAIN_LEN / 2];
            moat_random(id, sizeof(id));
            moat__seclog_hex(id, sizeof(id), log->chain);
        }
        log->work.start_pending = true;
    }
    log->dur = log->work;
    /* A restart begins a new epoch: whatever key an intruder may have seen
     * before it is gone. (A fresh key file's epoch 1 is still unused.) */
    if (log->sealed && (have_pos || !fs.empty)) {
        /* The link to the previous file is written under the old key, then
         * the key evolves and the seal follows at once. */
        pending_records(log);
        flush_batch(log);
        advance(log, "open");
        if (log->epoch == kf->epoch) {
            *err = moat_xasprintf("%s: cannot rewrite the sealing key file", log->key_path);
            return MOAT_EIO;
        }
    }
    pending_records(log);
    flush_batch(log);
    return 0;
}

int moat_seclog_open(const moat_config *cfg, moat_seclog **out, char **err)
{
    *out = NULL;
    *err = NULL;
    if (!cfg->log.security || !cfg->log.security[0]) return 0;
    moat_seclog *log = moat_xcalloc(1, sizeof(*log));
    pthread_mutex_init(&log->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&log->wake, &ca);
    pthread_cond_init(&log->done, &ca);
    pthread_condattr_destroy(&ca);
    log->cap = moat__seclog_queue_capacity ? moat__seclog_queue_capacity : 1;
    log->ring = moat_xcalloc(log->cap, sizeof(item *));
    log->fd = -1;
    log->pending_fd = -1;
    log->syslog_fd = -1;
    moat_buf_init(&log->out);
    settings_from(&log->cur, cfg);
    atomic_store(&log->query, log->cur.query);
    log->is_stdout = strcmp(log->cur.path, "-") == 0;
    log->key_path = moat_xstrdup(cfg->log.seal_key ? cfg->log.seal_key : "");
    log->sealed = log->key_path[0] != '\0';
    if (gethostname(log->hostname, sizeof(log->hostname) - 1) < 0 || !log->hostname[0])
        memcpy(log->hostname, "-", 2);
    for (char *p = log->hostname; *p; p++)
        if (*p <= ' ' || *p > '~') *p = '_';

    moat__seclog_keyfile kf;
    memset(&kf, 0, sizeof(kf));
    int rc;
    if (log->sealed) {
        rc = moat__seclog_keyfile_read(log->key_path, &kf, err);
        if (rc < 0) goto fail;
        memcpy(log->chain, kf.chain, sizeof(log->chain));
        log->epoch = kf.epoch;
        memcpy(log->key, kf.key, sizeof(log->key));
    }
    log->sealer = moat__seclog_sealer_new(log->sealed ? log->key : NULL);
    log->epoch_started_ms = moat_now_ms();
    rc = start_chain(log, &kf, err);
    if (rc < 0) goto fail;
    OPENSSL_cleanse(&kf, sizeof(kf));
    atomic_store(&log->epoch_now, log->sealed ? log->epoch : 0);
    if (pthread_create(&log->thread, NULL, writer_main, log) != 0) {
        *err = moat_xasprintf("cannot start the security log writer: %s", strerror(errno));
        rc = MOAT_EINTERNAL;
        goto fail;
    }
    *out = log;
    return 0;
fail:
    OPENSSL_cleanse(&kf, sizeof(kf));
    log_free(log);
    return rc;
}

static _Thread_local uint64_t recorded_here;

uint64_t moat_seclog_recorded_here(void)
{
    return recorded_here;
}

bool moat_seclog_failing(moat_seclog *log)
{
    return log && atomic_load_explicit(&log->failing, memory_order_relaxed);
}

void moat_seclog_record(moat_seclog *log, const moat_seclog_event *ev)
{
    recorded_here++;
    if (!log || !ev || atomic_load_explicit(&log->off, memory_order_relaxed)) return;
    struct timespec ts;
    now_real(&ts);
    moat_buf b;
    moat_buf_init(&b);
    moat__seclog_format_event(&b, ev, atomic_load_explicit(&log->query, memory_order_relaxed), &ts);
    item *it = moat_xmalloc(sizeof(item) + b.len + 1);
    it->sev = ev->severity;
    set_name(it->event, sizeof(it->event), ev->event ? ev->event : "unknown");
    it->len = b.len;
    memcpy(it->body, b.data, b.len + 1);
    moat_buf_free(&b);
    pthread_mutex_lock(&log->mu);
    if (log->count == log->cap || log->stop) {
        pthread_mutex_unlock(&log->mu);
        free(it);
        atomic_fetch_add(&log->qdropped, 1);
        atomic_fetch_add(&log->dropped, 1);
        return;
    }
    log->ring[(log->head + log->count) % log->cap] = it;
    log->count++;
    log->enqueued++;
    bool wake = log->writer_waiting;
    pthread_mutex_unlock(&log->mu);
    if (wake) pthread_cond_signal(&log->wake);
    atomic_fetch_add_explicit(&log->recorded, 1, memory_order_relaxed);
}

void moat_seclog_reopen(moat_seclog *log)
{
    if (!log) return;
    pthread_mutex_lock(&log->mu);
    log->reopen = true;
    pthread_cond_signal(&log->wake);
    pthread_mutex_unlock(&log->mu);
}

int moat_seclog_reconfigure(moat_seclog *log, const moat_config *cfg, char **err)
{
    *err = NULL;
    const char *path = cfg->log.security ? cfg->log.security : "";
    if (!log) {
        if (!path[0]) return 0;
        *err = moat_xstrdup("the security log was off at start: turning it on needs a restart");
        return MOAT_EINVAL;
    }
    const char *key = cfg->log.seal_key ? cfg->log.seal_key : "";
    if (strcmp(key, log->key_path) != 0) {
        *err = moat_xstrdup("log.seal_key cannot change on reload: restart moat");
        return MOAT_EINVAL;
    }
    settings *s = moat_xcalloc(1, sizeof(*s));
    settings_from(s, cfg);
    int fd = -1;
    pthread_mutex_lock(&log->mu);
    bool same_path = strcmp(log->pending ? log->pending->path : log->cur.path, path) == 0;
    pthread_mutex_unlock(&log->mu);
    if (!same_path && path[0] && strcmp(path, "-") != 0) {
        if (open_file(path, &fd) < 0) {
            *err = moat_xasprintf("%s: cannot open the security log: %s", path, strerror(errno));
            settings_free(s);
            free(s);
            return MOAT_EIO;
        }
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_size > 0) {
            /* The chain continues in a new file: an old one there moves aside. */
            char *aside = rotated_name(path);
            int rc = rename(path, aside);
            int e = errno;
            free(aside);
            close(fd);
            fd = -1;
            if (rc < 0 || open_file(path, &fd) < 0) {
                *err = moat_xasprintf("%s: cannot start a new security log there: %s", path,
                                      strerror(rc < 0 ? e : errno));
                settings_free(s);
                free(s);
                return MOAT_EIO;
            }
        }
    }
    pthread_mutex_lock(&log->mu);
    if (log->pending) {
        settings_free(log->pending);
        free(log->pending);
        if (log->pending_fd >= 0) close(log->pending_fd);
    }
    log->pending = s;
    log->pending_fd = fd;
    atomic_store(&log->query, s->query);
    atomic_store(&log->off, path[0] == '\0');
    pthread_cond_signal(&log->wake);
    pthread_mutex_unlock(&log->mu);
    return 0;
}

void moat_seclog_flush(moat_seclog *log)
{
    if (!log) return;
    pthread_mutex_lock(&log->mu);
    uint64_t target = log->enqueued;
    pthread_cond_signal(&log->wake);
    while (log->processed < target)
        pthread_cond_wait(&log->done, &log->mu);
    pthread_mutex_unlock(&log->mu);
}

void moat_seclog_get_stats(moat_seclog *log, moat_seclog_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!log) return;
    out->recorded = atomic_load(&log->recorded);
    out->written = atomic_load(&log->written);
    out->dropped = atomic_load(&log->dropped);
    out->epoch = atomic_load(&log->epoch_now);
}

void moat_seclog_close(moat_seclog *log)
{
    if (!log) return;
    pthread_mutex_lock(&log->mu);
    log->stop = true;
    pthread_cond_signal(&log->wake);
    pthread_mutex_unlock(&log->mu);
    pthread_join(log->thread, NULL);
    log_free(log);
}
