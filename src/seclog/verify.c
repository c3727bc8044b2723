/* verify.c - `moat log verify`: walks the chain through one or more files
 * and names the first line that was changed, inserted, deleted, duplicated
 * or reordered, a missing file between two, or a wrong key. It derives each
 * epoch's key from the verification key K0, recomputes every line's MAC over
 * its exact bytes, and checks sequence numbers, epochs and file links. It
 * reads untrusted bytes: every length is checked, nothing is assumed. What
 * it cannot see (the end of the newest file cut off) is in docs/seclog.md. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "internal.h"

uint64_t moat__seclog_verify_max_epoch_jump = 100000000;

static int parse_num(const char *s, size_t n, size_t *used, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < n && i < 20 && s[i] >= '0' && s[i] <= '9') {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return MOAT_EPARSE;
        v = v * 10 + d;
        i++;
    }
    if (i == 0 || (i > 1 && s[0] == '0')) return MOAT_EPARSE;
    *used = i;
    *out = v;
    return 0;
}

int moat__seclog_frame(const char *line, size_t len, uint64_t *seq, uint64_t *epoch,
                       uint8_t mac[MOAT__SECLOG_MAC_LEN], size_t *prefix_len)
{
    static const char head[] = "{\"seq\":", mid[] = ",\"epoch\":", tail[] = ",\"mac\":\"";
    const size_t hl = sizeof(head) - 1, ml = sizeof(mid) - 1, tl = sizeof(tail) - 1;
    const size_t suffix = tl + 2 * MOAT__SECLOG_MAC_LEN + 2;
    if (len < hl + 1 + ml + 1 + 1 + suffix || memcmp(line, head, hl) != 0) return MOAT_EPARSE;
    size_t i = hl, used;
    if (parse_num(line + i, len - i, &used, seq) < 0) return MOAT_EPARSE;
    i += used;
    if (len - i < ml || memcmp(line + i, mid, ml) != 0) return MOAT_EPARSE;
    i += ml;
    if (parse_num(line + i, len - i, &used, epoch) < 0) return MOAT_EPARSE;
    i += used;
    if (i >= len || line[i] != ',') return MOAT_EPARSE;
    i++;
    /* The body must be non-empty and end before the suffix. */
    if (len < suffix || len - suffix <= i) return MOAT_EPARSE;
    size_t p = len - suffix;
    if (memcmp(line + p, tail, tl) != 0 || line[len - 2] != '"' || line[len - 1] != '}')
        return MOAT_EPARSE;
    const char *hex = line + p + tl;
    for (size_t k = 0; k < 2 * MOAT__SECLOG_MAC_LEN; k++)
        if (!((hex[k] >= '0' && hex[k] <= '9') || (hex[k] >= 'a' && hex[k] <= 'f')))
            return MOAT_EPARSE;
    if (moat__seclog_unhex(hex, 2 * MOAT__SECLOG_MAC_LEN, mac, MOAT__SECLOG_MAC_LEN) < 0)
        return MOAT_EPARSE;
    *prefix_len = p;
    return 0;
}

/* ---- the files as lines -------------------------------------------------- */

typedef struct vline {
    const char *p;
    size_t len;
    bool complete; /* ended by '\n' */
} vline;

typedef struct vfile {
    const moat_seclog_input *in;
    vline *lines;
    size_t n;
    bool has_seq; /* its first line has a readable seq */
    uint64_t first_seq;
    size_t given; /* position on the command line */
} vfile;

static bool lenient_seq(const vline *l, uint64_t *seq)
{
    static const char head[] = "{\"seq\":";
    size_t hl = sizeof(head) - 1, used;
    if (l->len <= hl || memcmp(l->p, head, hl) != 0) return false;
    return parse_num(l->p + hl, l->len - hl, &used, seq) == 0;
}

static void split_lines(vfile *f)
{
    const char *p = f->in->data, *end = p + f->in->len;
    size_t cap = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (f->n == cap) {
            cap = cap ? cap * 2 : 64;
            f->lines = moat_xrealloc(f->lines, cap * sizeof(vline));
        }
        vline *l = &f->lines[f->n++];
        l->p = p;
        l->len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        l->complete = nl != NULL;
        p = nl ? nl + 1 : end;
    }
    f->has_seq = f->n > 0 && lenient_seq(&f->lines[0], &f->first_seq);
}

static int cmp_files(const void *a, const void *b)
{
    const vfile *x = a, *y = b;
    /* Files whose first line is unreadable go first, to be reported. */
    if (x->has_seq != y->has_seq) return x->has_seq ? 1 : -1;
    if (x->has_seq && x->first_seq != y->first_seq) return x->first_seq < y->first_seq ? -1 : 1;
    return x->given < y->given ? -1 : (x->given > y->given);
}

/* ---- the walk ---------------------------------------------------------------- */

typedef struct walker {
    moat_seclog_verdict *v;
    vfile *files;
    size_t nfiles;
    bool have_key;
    uint8_t k0[32];
    char key_chain[MOAT__SECLOG_CHAIN_LEN + 1];
    bool started, sealed;
    char chain[MOAT__SECLOG_CHAIN_LEN + 1];
    uint64_t expect, epoch, first_epoch, first_seq;
    uint8_t key[32];
    uint8_t prev[MOAT__SECLOG_MAC_LEN];
    moat__seclog_sealer *sealer;
    moat_buf notes;
    /* the last line verified */
    const char *last_file;
    uint64_t last_line;
    char last_time[40];
    char last_event[48];
    uint64_t seal_interval_ms;
    uint64_t lost;
    /* the anchor */
    bool have_anchor, anchor_found;
    uint64_t anchor_seq;
    char anchor_hex[65];
} walker;

static bool fail(walker *w, const char *file, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool fail(walker *w, const char *file, uint64_t line, const char *fmt, ...)
{
    moat_buf b;
    moat_buf_init(&b);
    if (file && line)
        moat_buf_printf(&b, "%s:%" PRIu64 ": ", file, line);
    else if (file)
        moat_buf_printf(&b, "%s: ", file);
    va_list ap;
    va_start(ap, fmt);
    moat_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    w->v->ok = false;
    w->v->message = moat_buf_steal(&b);
    w->v->file = file;
    w->v->line = line;
    return false;
}

/* Copies a string member's raw value (no escapes expected) from a line. */
static void raw_member(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    char pat[48];
    snprintf(pat, sizeof(pat), "\"%s\":\"", name);
    size_t pl = strlen(pat);
    const char *p = memmem(line, len < 400 ? len : 400, pat, pl);
    if (!p) return;
    p += pl;
    size_t n = 0;
    while (p + n < line + len && p[n] != '"' && p[n] != '\\' && n + 1 < cap)
        n++;
    memcpy(out, p, n);
    out[n] = '\0';
}

static void set_epoch_key(walker *w, uint64_t epoch)
{
    /* K_epoch from the current key when moving forward, else from K0. */
    uint64_t from = w->epoch;
    if (!w->started || epoch < from) {
        memcpy(w->key, w->k0, 32);
        from = 0;
    }
    for (uint64_t e = from; e < epoch; e++)
        moat__seclog_evolve(w->key, w->key);
    w->epoch = epoch;
    moat__seclog_sealer_free(w->sealer);
    w->sealer = moat__seclog_sealer_new(w->key);
}

/* Where else a sequence number appears: forward (reorder) or back (dup). */
static bool find_seq(walker *w, size_t fi, size_t li, uint64_t seq, bool forward, size_t *ofi,
                     size_t *oli)
{
    if (forward) {
        for (size_t f = fi; f < w->nfiles; f++)
            for (size_t l = (f == fi ? li + 1 : 0); l < w->files[f].n; l++) {
                uint64_t s;
                if (lenient_seq(&w->files[f].lines[l], &s) && s == seq) {
                    *ofi = f;
                    *oli = l;
                    return true;
                }
            }
        return false;
    }
    for (size_t f = fi + 1; f-- > 0;)
        for (size_t l = (f == fi ? li : w->files[f].n); l-- > 0;) {
            uint64_t s;
            if (lenient_seq(&w->files[f].lines[l], &s) && s == seq) {
                *ofi = f;
                *oli = l;
                return true;
            }
        }
    return false;
}

static bool seq_mismatch(walker *w, size_t fi, size_t li, uint64_t seq)
{
    const char *name = w->files[fi].in->name;
    uint64_t ln = li + 1;
    size_t ofi, oli;
    if (li == 0 && fi > 0) {
        const char *prevname = w->files[fi - 1].in->name;
        if (seq > w->expect) {
            char link[256];
            const vline *l = &w->files[fi].lines[0];
            raw_member(l->p, l->len, "prev_file", link, sizeof(link));
            return fail(w, name, ln,
                        "this file continues the chain at seq %" PRIu64 "%s%s, but %s ends at "
                        "seq %" PRIu64 ": %" PRIu64 " entries are missing in between (a rotated "
                        "file was not given or was deleted, or lines were cut from the end of "
                        "%s)",
                        seq, link[0] ? " from " : "", link, prevname, w->expect - 1,
                        seq - w->expect, prevname);
        }
        return fail(w, name, ln,
                    "this file starts at seq %" PRIu64 ", which %s already covers (up to seq "
                    "%" PRIu64 "): the same entries twice (a duplicated or overlapping file)",
                    seq, prevname, w->expect - 1);
    }
    if (seq > w->expect) {
        if (find_seq(w, fi, li, w->expect, true, &ofi, &oli))
            return fail(w, name, ln,
                        "out of order: seq %" PRIu64 " comes before seq %" PRIu64 " (at %s:%zu): "
                        "lines were reordered",
                        seq, w->expect, w->files[ofi].in->name, oli + 1);
        if (seq - w->expect == 1)
            return fail(w, name, ln,
                        "a line was deleted before this one (seq %" PRIu64 " is missing)",
                        w->expect);
        return fail(w, name, ln,
                    "%" PRIu64 " lines were deleted before this one (seq %" PRIu64 " to %" PRIu64
                    " are missing)",
                    seq - w->expect, w->expect, seq - 1);
    }
    const vline *cur = &w->files[fi].lines[li];
    if (find_seq(w, fi, li, seq, false, &ofi, &oli)) {
        const vline *o = &w->files[ofi].lines[oli];
        if (o->len == cur->len && memcmp(o->p, cur->p, cur->len) == 0)
            return fail(w, name, ln, "duplicate of %s:%zu (seq %" PRIu64 "): a line was duplicated",
                        w->files[ofi].in->name, oli + 1, seq);
        return fail(w, name, ln,
                    "seq %" PRIu64 " appears a second time (first at %s:%zu): a line was "
                    "inserted, or lines were reordered",
                    seq, w->files[ofi].in->name, oli + 1);
    }
    return fail(w, name, ln,
                "seq %" PRIu64 " goes backwards (seq %" PRIu64 " expected): a line was inserted "
                "or moved",
                seq, w->expect);
}

/* The first line of the chain: where it starts, which key, which kind. */
static int start(walker *w, size_t fi, const vline *l, uint64_t seq, uint64_t epoch)
{
    const char *name = w->files[fi].in->name;
    moat_seclog_entry e;
    if (moat_seclog_entry_parse(l->p, l->len, &e) < 0) {
        fail(w, name, 1, "not valid JSON: the line was damaged");
        return 1;
    }
    int rc = 1;
    const char *ev = moat_seclog_entry_get(&e, "event");
    const char *sealed = moat_seclog_entry_get(&e, "sealed");
    const char *chain = moat_seclog_entry_get(&e, "chain");
    bool is_start = ev && strcmp(ev, "log.start") == 0;
    bool is_cont = ev && strcmp(ev, "log.continued") == 0;
    if (!is_start && !is_cont) {
        fail(w, name, 1,
             "the chain does not begin here: this is a '%s' entry (seq %" PRIu64 "), but a log "
             "file begins with log.start or log.continued: its first line was deleted",
             ev ? ev : "?", seq);
        goto out;
    }
    if (!sealed || !chain || strlen(chain) != MOAT__SECLOG_CHAIN_LEN) {
        fail(w, name, 1, "the chain's first entry lacks its chain id: it was changed");
        goto out;
    }
    w->sealed = strcmp(sealed, "true") == 0;
    if (w->have_key && !w->sealed) {
        fail(w, name, 1,
             "this log is not sealed (it has a hash chain only), yet a key was given: it was "
             "written without a sealing key, or its seal was stripped and the chain rewritten");
        goto out;
    }
    if (!w->have_key && w->sealed) {
        w->v->message = moat_xasprintf("%s: this log is sealed: give its verification key with "
                                       "--key (printed by 'moat log init')",
                                       name);
        rc = -1;
        goto out;
    }
    if (w->have_key && strcmp(chain, w->key_chain) != 0) {
        fail(w, name, 1,
             "wrong key: this log belongs to chain %s, the key to chain %s (another "
             "'moat log init')",
             chain, w->key_chain);
        goto out;
    }
    memcpy(w->chain, chain, sizeof(w->chain));
    if (is_start) {
        if (seq != 0) {
            fail(w, name, 1, "log.start must be seq 0, not %" PRIu64 ": the line was changed", seq);
            goto out;
        }
        memset(w->prev, 0, sizeof(w->prev));
    } else {
        const char *ps = moat_seclog_entry_get(&e, "prev_seq");
        const char *pm = moat_seclog_entry_get(&e, "prev_mac");
        const char *pf = moat_seclog_entry_get(&e, "prev_file");
        uint64_t pseq;
        size_t used;
        if (!ps || !pm || parse_num(ps, strlen(ps), &used, &pseq) < 0 || ps[used] ||
            pseq + 1 != seq || moat__seclog_unhex(pm, strlen(pm), w->prev, sizeof(w->prev)) < 0) {
            fail(w, name, 1, "the link to the previous file is malformed: the line was changed");
            goto out;
        }
        moat_buf_printf(&w->notes,
                        "note: %s continues the chain from %s (up to seq %" PRIu64
                        "), which was not given: entries before it were not verified\n",
                        name, pf ? pf : "an earlier file", pseq);
    }
    if (w->sealed) {
        if (epoch == 0 || epoch > moat__seclog_verify_max_epoch_jump) {
            fail(w, name, 1, "epoch %" PRIu64 " is impossible: the line was changed", epoch);
            goto out;
        }
        set_epoch_key(w, epoch);
    } else {
        if (epoch != 0) {
            fail(w, name, 1,
                 "an unsealed log has no epochs, but this line says %" PRIu64 ": it was changed",
                 epoch);
            goto out;
        }
        w->sealer = moat__seclog_sealer_new(NULL);
        w->epoch = 0;
    }
    w->first_epoch = w->epoch;
    w->first_seq = seq;
    w->expect = seq;
    w->started = true;
    rc = 0;
out:
    moat_seclog_entry_free(&e);
    return rc;
}

/* Checks of the log's own records (their MAC is already verified). */
static bool record_checks(walker *w, size_t fi, size_t li, const vline *l, uint64_t seq)
{
    const char *name = w->files[fi].in->name;
    uint64_t ln = li + 1;
    size_t scan = l->len < 200 ? l->len : 200;
    if (!memmem(l->p, scan, "\"event\":\"log.", 13)) return true;
    moat_seclog_entry e;
    if (moat_seclog_entry_parse(l->p, l->len, &e) < 0)
        return fail(w, name, ln,
                    "not valid JSON, though its MAC verifies: the sealing key was "
                    "misused");
    bool ok = true;
    const char *ev = moat_seclog_entry_get(&e, "event");
    if (!ev) ev = "";
    if (strcmp(ev, "log.start") == 0 && seq != w->first_seq) {
        ok = fail(w, name, ln,
                  "a second chain starts here (log.start): files of different chains were given "
                  "together, or the log was restarted from scratch");
    } else if (strcmp(ev, "log.continued") == 0 && seq != w->first_seq) {
        const char *ps = moat_seclog_entry_get(&e, "prev_seq");
        const char *pm = moat_seclog_entry_get(&e, "prev_mac");
        const char *ch = moat_seclog_entry_get(&e, "chain");
        char hex[2 * MOAT__SECLOG_MAC_LEN + 1];
        moat__seclog_hex(w->prev, MOAT__SECLOG_MAC_LEN, hex);
        uint64_t pseq = 0;
        size_t used;
        if (!ps || !pm || !ch || parse_num(ps, strlen(ps), &used, &pseq) < 0 || pseq + 1 != seq ||
            strcmp(pm, hex) != 0 || strcmp(ch, w->chain) != 0)
            ok = fail(w, name, ln, "the link to the previous file does not match the chain");
    } else if (strcmp(ev, "log.seal") == 0) {
        const char *si = moat_seclog_entry_get(&e, "seal_interval_ms");
        uint64_t x;
        size_t used;
        if (si && parse_num(si, strlen(si), &used, &x) == 0) w->seal_interval_ms = x;
    } else if (strcmp(ev, "log.dropped") == 0) {
        const char *d = moat_seclog_entry_get(&e, "dropped");
        uint64_t x;
        size_t used;
        if (d && parse_num(d, strlen(d), &used, &x) == 0) w->lost += x;
    }
    moat_seclog_entry_free(&e);
    return ok;
}

/* The lines that may begin an epoch: a seal, or the link at the top of a
 * file when the key evolved before the link could be written (a disk that
 * refused it). Their MAC under the new key is what makes them count. */
static bool is_epoch_line(const vline *l)
{
    size_t scan = l->len < 200 ? l->len : 200;
    return memmem(l->p, scan, "\"event\":\"log.seal\"", 18) != NULL ||
           memmem(l->p, scan, "\"event\":\"log.continued\"", 23) != NULL;
}

/* Returns 0 (walked; v->ok tells), or -1 (cannot verify: v->message). */
static int walk(walker *w)
{
    for (size_t fi = 0; fi < w->nfiles; fi++) {
        vfile *f = &w->files[fi];
        const char *name = f->in->name;
        if (f->n == 0) {
            moat_buf_printf(&w->notes, "note: %s is empty\n", name);
            continue;
        }
        for (size_t li = 0; li < f->n; li++) {
            const vline *l = &f->lines[li];
            uint64_t ln = li + 1;
            if (!l->complete) {
                if (fi == w->nfiles - 1 && li == f->n - 1) {
                    moat_buf_printf(&w->notes,
                                    "note: the last line of %s is incomplete (being written, or "
                                    "cut): it was not checked\n",
                                    name);
                    break;
                }
                fail(w, name, ln, "the line is cut off (it has no end of line)");
                return 0;
            }
            uint64_t seq, epoch;
            uint8_t mac[MOAT__SECLOG_MAC_LEN];
            size_t plen;
            if (l->len == 0) {
                fail(w, name, ln, "an empty line was inserted");
                return 0;
            }
            if (moat__seclog_frame(l->p, l->len, &seq, &epoch, mac, &plen) < 0) {
                fail(w, name, ln,
                     "not a moat security log line (no seq/epoch/mac frame): it was damaged, "
                     "or inserted by hand");
                return 0;
            }
            if (!w->started) {
                int rc = start(w, fi, l, seq, epoch);
                if (rc < 0) return -1;
                if (rc > 0) return 0;
            }
            if (seq != w->expect) {
                seq_mismatch(w, fi, li, seq);
                return 0;
            }
            if (epoch != w->epoch) {
                if (!w->sealed || !is_epoch_line(l)) {
                    fail(w, name, ln,
                         "the epoch changes from %" PRIu64 " to %" PRIu64 " without a log.seal "
                         "entry: the line was changed or forged",
                         w->epoch, epoch);
                    return 0;
                }
                if (epoch < w->epoch || epoch - w->epoch > moat__seclog_verify_max_epoch_jump) {
                    fail(w, name, ln,
                         "the epoch goes from %" PRIu64 " to %" PRIu64 ": the line was changed "
                         "or forged",
                         w->epoch, epoch);
                    return 0;
                }
                set_epoch_key(w, epoch);
            }
            uint8_t want[MOAT__SECLOG_MAC_LEN];
            moat__seclog_line_mac(w->sealer, w->prev, seq, epoch, l->p, plen, want);
            if (CRYPTO_memcmp(want, mac, sizeof(want)) != 0) {
                if (seq == w->first_seq && w->have_key)
                    fail(w, name, ln,
                         "the MAC does not verify: the entry (seq %" PRIu64 ") was changed or "
                         "forged, or the key is not this log's",
                         seq);
                else
                    fail(w, name, ln,
                         "the entry (seq %" PRIu64 ") was changed or forged: its %s does not "
                         "verify",
                         seq, w->sealed ? "MAC" : "hash");
                return 0;
            }
            if (!record_checks(w, fi, li, l, seq)) return 0;
            if (w->have_anchor && seq == w->anchor_seq) {
                char hex[2 * MOAT__SECLOG_MAC_LEN + 1];
                moat__seclog_hex(mac, sizeof(mac), hex);
                if (strncmp(hex, w->anchor_hex, strlen(w->anchor_hex)) != 0) {
                    fail(w, name, ln,
                         "seq %" PRIu64 " does not match the anchor: the log was rewritten from "
                         "here on, or the anchor belongs to another log",
                         seq);
                    return 0;
                }
                w->anchor_found = true;
            }
            memcpy(w->prev, mac, sizeof(mac));
            w->expect = seq + 1;
            w->v->entries++;
            w->v->last_seq = seq;
            moat__seclog_hex(mac, sizeof(mac), w->v->last_mac);
            w->last_file = name;
            w->last_line = ln;
            raw_member(l->p, l->len, "time", w->last_time, sizeof(w->last_time));
            raw_member(l->p, l->len, "event", w->last_event, sizeof(w->last_event));
        }
    }
    return 0;
}

static void summary(walker *w, size_t used_files)
{
    moat_seclog_verdict *v = w->v;
    moat_buf b;
    moat_buf_init(&b);
    if (w->sealed)
        moat_buf_printf(&b,
                        "OK: %" PRIu64 " entries in %zu file(s), seq %" PRIu64 " to %" PRIu64
                        ", epochs %" PRIu64 " to %" PRIu64 ", sealed: none was changed, inserted, "
                        "deleted or reordered",
                        v->entries, used_files, w->first_seq, v->last_seq, w->first_epoch,
                        w->epoch);
    else
        moat_buf_printf(&b,
                        "OK: %" PRIu64 " entries in %zu file(s), seq %" PRIu64 " to %" PRIu64
                        ", hash chain intact (unsealed: this finds accidental damage, not "
                        "tampering)",
                        v->entries, used_files, w->first_seq, v->last_seq);
    v->message = moat_buf_steal(&b);
    moat_buf d;
    moat_buf_init(&d);
    moat_buf_printf(&d, "last entry: %s:%" PRIu64 ", seq %" PRIu64 ", %s, %s\n", w->last_file,
                    w->last_line, v->last_seq, w->last_time[0] ? w->last_time : "?",
                    w->last_event[0] ? w->last_event : "?");
    moat_buf_printf(&d,
                    "anchor: %" PRIu64 ":%.32s  (keep it off this machine; '--anchor' with it "
                    "later shows whether anything up to this entry was cut off or rewritten)\n",
                    v->last_seq, v->last_mac);
    if (w->have_anchor)
        moat_buf_printf(&d, "the anchor %" PRIu64 ":%s matches\n", w->anchor_seq, w->anchor_hex);
    if (w->lost)
        moat_buf_printf(&d,
                        "note: the log records that %" PRIu64 " entries were lost (log.dropped)\n",
                        w->lost);
    time_t t;
    if (w->sealed && strcmp(w->last_event, "log.closed") != 0 && w->seal_interval_ms &&
        moat__seclog_parse_time(w->last_time, &t) == 0) {
        time_t now = time(NULL);
        uint64_t age = now > t ? (uint64_t)(now - t) : 0;
        if (age * 1000 > w->seal_interval_ms + 60000)
            moat_buf_printf(&d,
                            "note: the last entry is %" PRIu64 " s old and is not log.closed, "
                            "but a running moat seals at least every %" PRIu64 " s: if moat is "
                            "still running, entries were cut from the end of the log\n",
                            age, w->seal_interval_ms / 1000);
    }
    if (w->notes.len) moat_buf_append(&d, w->notes.data, w->notes.len);
    v->detail = moat_buf_steal(&d);
}

int moat_seclog_verify(const moat_seclog_input *files, size_t nfiles,
                       const moat_seclog_verify_opts *opts, moat_seclog_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->ok = true;
    if (nfiles == 0) {
        v->ok = false;
        v->message = moat_xstrdup("no log file to verify");
        return MOAT_EINVAL;
    }
    walker w;
    memset(&w, 0, sizeof(w));
    w.v = v;
    moat_buf_init(&w.notes);
    int rc = 0;
    if (opts && opts->key) {
        const char *why;
        if (moat__seclog_vkey_decode(opts->key, w.k0, &why) < 0) {
            v->ok = false;
            v->message = moat_xstrdup(why);
            return MOAT_EINVAL;
        }
        w.have_key = true;
        moat__seclog_chain_id(w.k0, w.key_chain);
    }
    if (opts && opts->anchor) {
        const char *colon = strchr(opts->anchor, ':');
        size_t used, hl = colon ? strlen(colon + 1) : 0;
        uint8_t tmp[32];
        bool good =
            colon && hl >= 8 && hl <= 64 && hl % 2 == 0 &&
            parse_num(opts->anchor, (size_t)(colon - opts->anchor), &used, &w.anchor_seq) == 0 &&
            used == (size_t)(colon - opts->anchor) &&
            moat__seclog_unhex(colon + 1, hl, tmp, hl / 2) == 0;
        if (!good) {
            v->ok = false;
            v->message = moat_xstrdup("the anchor must be SEQ:HEX as 'moat log verify' printed "
                                      "it (at least 8 hex digits)");
            OPENSSL_cleanse(w.k0, sizeof(w.k0));
            return MOAT_EINVAL;
        }
        for (size_t i = 0; i < hl; i++) {
            char c = colon[1 + i];
            w.anchor_hex[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
        }
        w.anchor_hex[hl] = '\0';
        w.have_anchor = true;
    }
    w.files = moat_xcalloc(nfiles, sizeof(vfile));
    w.nfiles = nfiles;
    for (size_t i = 0; i < nfiles; i++) {
        w.files[i].in = &files[i];
        w.files[i].given = i;
        split_lines(&w.files[i]);
    }
    qsort(w.files, nfiles, sizeof(vfile), cmp_files);
    if (walk(&w) < 0) {
        v->ok = false;
        rc = MOAT_EINVAL;
        goto out;
    }
    if (!v->ok) goto out;
    if (!w.started) {
        v->ok = false;
        v->message = moat_xstrdup("no entries: the file(s) are empty");
        rc = MOAT_EINVAL;
        goto out;
    }
    if (w.have_anchor && !w.anchor_found) {
        if (w.anchor_seq > v->last_seq)
            fail(&w, w.last_file, 0,
                 "the log ends at seq %" PRIu64 ", before the anchor's seq %" PRIu64
                 ": entries were cut from its end (or newer files were not given)",
                 v->last_seq, w.anchor_seq);
        else
            fail(&w, NULL, 0,
                 "the anchor's seq %" PRIu64 " is before the first entry given (seq %" PRIu64
                 "): give the older files too",
                 w.anchor_seq, w.first_seq);
        goto out;
    }
    size_t used = 0;
    for (size_t i = 0; i < nfiles; i++)
        used += w.files[i].n > 0;
    summary(&w, used);
out:
    for (size_t i = 0; i < nfiles; i++)
        free(w.files[i].lines);
    free(w.files);
    moat_buf_free(&w.notes);
    moat__seclog_sealer_free(w.sealer);
    OPENSSL_cleanse(w.k0, sizeof(w.k0));
    OPENSSL_cleanse(w.key, sizeof(w.key));
    return rc;
}

void moat_seclog_verdict_free(moat_seclog_verdict *v)
{
    if (!v) return;
    free(v->message);
    free(v->detail);
    v->message = v->detail = NULL;
}
