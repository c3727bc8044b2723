/* metrics.c - Prometheus metrics of the gateway, served on [admin] listen by
 * a thread of their own (its own libuv loop), never on a public listener.
 * Each worker owns a slab of counters that only its loop writes (relaxed
 * atomics: no lock, no shared cache line between workers); a scrape sums
 * the slabs. The admin server answers GET /metrics and 404 to anything
 * else, one request per connection, and keeps a few connections at most. */
#include <stdatomic.h>
#include <stdio.h> /* first: it defines __GLIBC__ */
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "metrics.h"

#define NBUCKETS 13
static const double bucket_s[NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10};
#define NMEM 7       /* the fields of a moat__worker_mem */
#define NREFUSALS 64 /* distinct (stage, event) pairs per worker */
#define ADMIN_CONNS 16
#define ADMIN_REQ_MAX 4096
#define ADMIN_TIMEOUT_MS 5000

typedef atomic_uint_fast64_t counter;

typedef struct hist {
    counter count, sum_us;
    counter bucket[NBUCKETS]; /* not cumulative: summed at the scrape */
} hist;

typedef struct refusal {
    atomic_bool used; /* published after the names are written */
    char stage[32], event[48];
    counter n;
} refusal;

typedef struct slab {
    counter requests, status[6]; /* status[0]: anything outside 1xx..5xx */
    counter conns_opened, conns_closed;
    counter refusals_other; /* past NREFUSALS pairs */
    counter jobs_queued;
    counter mem[NMEM]; /* a moat__worker_mem, stored whole by its worker */
    hist upstream;
    hist stage[MOAT_MAX_STAGES], job[MOAT_MAX_STAGES];
    refusal refusals[NREFUSALS];
    char pad[64];
} slab;

typedef struct admin_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    char buf[ADMIN_REQ_MAX];
    size_t len;
    moat_buf out;
    bool answered;
    int closing;
} admin_conn;

/* The stages whose time is worth a histogram: the WAF's and the store's
 * (the others take microseconds on the loop). */
static const char *const timed_stages[] = {"ban", "rate", "waf", "auth", "rate_user", "waf-body"};

static struct {
    bool timed[MOAT_MAX_STAGES];
    slab *slabs;
    unsigned nslabs;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t stop;
    uv_tcp_t *listeners;
    size_t nlisteners;
    unsigned nconns;
} M;

/* Shared structures' gauges: not in M (counted while the metrics are off). */
static atomic_int_fast64_t gauges[MOAT__NGAUGES];

static void add(counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(const counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static slab *slab_of(const moat_worker *w)
{
    return M.slabs && w && w->index < M.nslabs ? &M.slabs[w->index] : NULL;
}

static void observe(hist *h, uint64_t us)
{
    add(&h->count, 1);
    add(&h->sum_us, us);
    for (unsigned i = 0; i < NBUCKETS; i++)
        if ((double)us <= bucket_s[i] * 1e6) {
            add(&h->bucket[i], 1);
            break;
        }
}

/* ---- hooks (worker loops) ---- */

void moat__metrics_request(const moat_request *r)
{
    slab *s = slab_of(r->w);
    if (!s) return;
    add(&s->requests, 1);
    add(&s->status[r->status >= 100 && r->status < 600 ? r->status / 100 : 0], 1);
}

void moat__metrics_refusal(const moat_request *r, const char *stage, const char *event)
{
    slab *s = slab_of(r->w);
    if (!s) return;
    stage = stage ? stage : "http";
    event = event ? event : "http.rejected";
    for (unsigned i = 0; i < NREFUSALS; i++) {
        refusal *f = &s->refusals[i];
        if (!atomic_load_explicit(&f->used, memory_order_relaxed)) {
            /* Only this worker writes its slab: the slot is ours. */
            snprintf(f->stage, sizeof(f->stage), "%s", stage);
            snprintf(f->event, sizeof(f->event), "%s", event);
            atomic_store_explicit(&f->used, true, memory_order_release);
        } else if (strncmp(f->stage, stage, sizeof(f->stage) - 1) != 0 ||
                   strncmp(f->event, event, sizeof(f->event) - 1) != 0) {
            continue;
        }
        add(&f->n, 1);
        return;
    }
    add(&s->refusals_other, 1);
}

void moat__metrics_upstream(const moat_request *r, uint64_t ms)
{
    slab *s = slab_of(r->w);
    if (s) observe(&s->upstream, ms * 1000);
}

void moat__metrics_stage(const moat_worker *w, unsigned stage, uint64_t ns)
{
    slab *s = slab_of(w);
    if (s && stage < MOAT_MAX_STAGES && M.timed[stage]) observe(&s->stage[stage], ns / 1000);
}

bool moat__metrics_stage_timed(const moat_worker *w, unsigned stage)
{
    return slab_of(w) && stage < MOAT_MAX_STAGES && M.timed[stage];
}

void moat__metrics_job(const moat_worker *w, unsigned stage, uint64_t ns)
{
    slab *s = slab_of(w);
    if (s && stage < MOAT_MAX_STAGES) observe(&s->job[stage], ns / 1000);
}

void moat__metrics_conn(const moat_worker *w, int delta)
{
    slab *s = slab_of(w);
    if (s) add(delta > 0 ? &s->conns_opened : &s->conns_closed, 1);
}

void moat__metrics_job_queued(const moat_worker *w)
{
    slab *s = slab_of(w);
    if (s) add(&s->jobs_queued, 1);
}

bool moat__metrics_on(void)
{
    return M.slabs != NULL;
}

void moat__metrics_worker_mem(const moat_worker *w, const moat__worker_mem *m)
{
    slab *s = slab_of(w);
    if (!s) return;
    const uint64_t v[] = {m->clients,       m->clients_quiet, m->h2_sessions,   m->client_bytes,
                          m->upstream_busy, m->upstream_idle, m->upstream_bytes};
    _Static_assert(MOAT_ARRAY_LEN(v) == NMEM, "one slot each");
    for (size_t i = 0; i < MOAT_ARRAY_LEN(v); i++)
        atomic_store_explicit(&s->mem[i], v[i], memory_order_relaxed);
}

void moat__metrics_gauge(unsigned gauge, int64_t delta)
{
    if (gauge < MOAT__NGAUGES)
        atomic_fetch_add_explicit(&gauges[gauge], delta, memory_order_relaxed);
}

/* ---- the exposition (text format 0.0.4) ---- */

static void head(moat_buf *b, const char *name, const char *type, const char *help)
{
    moat_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values are stage and event names (letters, digits, '.', '_', '-'):
 * escaped all the same. */
static void label(moat_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            moat_buf_putc(b, '\\');
        else if (*v == '\n') {
            moat_buf_puts(b, "\\n");
            continue;
        }
        moat_buf_putc(b, *v);
    }
}

/* hist_of(slab) for one histogram summed over the workers. */
static void hist_sum(hist *(*hist_of)(slab *, unsigned), unsigned arg, uint64_t *count,
                     uint64_t *sum_us, uint64_t *bucket)
{
    *count = *sum_us = 0;
    memset(bucket, 0, NBUCKETS * sizeof(*bucket));
    for (unsigned w = 0; w < M.nslabs; w++) {
        hist *h = hist_of(&M.slabs[w], arg);
        *count += get(&h->count);
        *sum_us += get(&h->sum_us);
        for (unsigned i = 0; i < NBUCKETS; i++)
            bucket[i] += get(&h->bucket[i]);
    }
}

static void hist_put(moat_buf *b, const char *name, const char *stage, uint64_t count,
                     uint64_t sum_us, const uint64_t *bucket)
{
    uint64_t cum = 0;
    for (unsigned i = 0; i <= NBUCKETS; i++) {
        cum += i < NBUCKETS ? bucket[i] : 0;
        moat_buf_printf(b, "%s_bucket{", name);
        if (stage) {
            moat_buf_puts(b, "stage=\"");
            label(b, stage);
            moat_buf_puts(b, "\",");
        }
        if (i < NBUCKETS)
            moat_buf_printf(b, "le=\"%g\"} %llu\n", bucket_s[i], (unsigned long long)cum);
        else
            moat_buf_printf(b, "le=\"+Inf\"} %llu\n", (unsigned long long)count);
    }
    const char *open = stage ? "{stage=\"" : "", *close = stage ? "\"}" : "";
    moat_buf_printf(b, "%s_sum%s%s%s %.6f\n", name, open, stage ? stage : "", close,
                    (double)sum_us / 1e6);
    moat_buf_printf(b, "%s_count%s%s%s %llu\n", name, open, stage ? stage : "", close,
                    (unsigned long long)count);
}

static hist *upstream_of(slab *s, unsigned i)
{
    (void)i;
    return &s->upstream;
}
static hist *stage_of(slab *s, unsigned i)
{
    return &s->stage[i];
}
static hist *job_of(slab *s, unsigned i)
{
    return &s->job[i];
}

static uint64_t sum(size_t offset)
{
    uint64_t n = 0;
    for (unsigned w = 0; w < M.nslabs; w++)
        n += get((counter *)((char *)&M.slabs[w] + offset));
    return n;
}

static void stage_hists(moat_buf *b, const char *name, hist *(*hist_of)(slab *, unsigned))
{
    uint64_t count, sum_us, bucket[NBUCKETS];
    for (unsigned i = 0; i < MOAT_MAX_STAGES; i++) {
        hist_sum(hist_of, i, &count, &sum_us, bucket);
        if (count) hist_put(b, name, moat__stage_name(i), count, sum_us, bucket);
    }
}

static uint64_t mem_sum(unsigned i)
{
    return sum(offsetof(slab, mem) + i * sizeof(counter));
}

static uint64_t gauge(unsigned g)
{
    int64_t v = atomic_load_explicit(&gauges[g], memory_order_relaxed);
    return v > 0 ? (uint64_t)v : 0;
}

/* What holds memory, structure by structure: the workers' connections as
 * each worker last counted them (every MOAT__METRICS_MEM_MS), the shared
 * structures as they are now. */
static void memory(moat_buf *b)
{
    head(b, "moat_memory_connections", "gauge",
         "Connections the workers hold, by kind: client (quiet: no request byte yet; "
         "h2: carrying an HTTP/2 session), upstream busy with a request or idle in the pool.");
    moat_buf_printf(b, "moat_memory_connections{kind=\"client\"} %llu\n",
                    (unsigned long long)mem_sum(0));
    moat_buf_printf(b, "moat_memory_connections{kind=\"client_quiet\"} %llu\n",
                    (unsigned long long)mem_sum(1));
    moat_buf_printf(b, "moat_memory_connections{kind=\"h2\"} %llu\n",
                    (unsigned long long)mem_sum(2));
    moat_buf_printf(b, "moat_memory_connections{kind=\"upstream_busy\"} %llu\n",
                    (unsigned long long)mem_sum(4));
    moat_buf_printf(b, "moat_memory_connections{kind=\"upstream_idle\"} %llu\n",
                    (unsigned long long)mem_sum(5));
    head(b, "moat_memory_bytes", "gauge",
         "Bytes the connections hold, by side: their buffers (read, not yet consumed; "
         "queued for the kernel) and their arenas (parsers, requests).");
    moat_buf_printf(b, "moat_memory_bytes{kind=\"client\"} %llu\n", (unsigned long long)mem_sum(3));
    moat_buf_printf(b, "moat_memory_bytes{kind=\"upstream\"} %llu\n",
                    (unsigned long long)mem_sum(6));
    uint64_t queued = sum(offsetof(slab, jobs_queued)), done = 0, count, sum_us, bucket[NBUCKETS];
    for (unsigned i = 0; i < MOAT_MAX_STAGES; i++) {
        hist_sum(job_of, i, &count, &sum_us, bucket);
        done += count;
    }
    head(b, "moat_jobs", "gauge",
         "Thread-pool work queued or running (WAF inspections, store calls, password hashing).");
    moat_buf_printf(b, "moat_jobs %llu\n", (unsigned long long)(queued > done ? queued - done : 0));
    head(b, "moat_waf_transactions", "gauge",
         "ModSecurity transactions alive (one a request "
         "the WAF inspects, two for a large body).");
    moat_buf_printf(b, "moat_waf_transactions %llu\n",
                    (unsigned long long)gauge(MOAT__GAUGE_WAF_TX));
    head(b, "moat_sessions_cached", "gauge",
         "Sessions in the auth cache (a fixed number of slots).");
    moat_buf_printf(b, "moat_sessions_cached %llu\n",
                    (unsigned long long)gauge(MOAT__GAUGE_SESSIONS));
    head(b, "moat_bans", "gauge", "Bans in the ban table (read from the store).");
    moat_buf_printf(b, "moat_bans %llu\n", (unsigned long long)gauge(MOAT__GAUGE_BANS));
}

/* The allocator's own view (glibc): every arena summed, read under each
 * arena's lock (a scrape, not a hot path). What the structures above hold
 * plus what glibc keeps free inside its heaps is roughly the resident size;
 * a free part that grows while in-use stays flat is fragmentation. */
static void allocator(moat_buf *b)
{
#ifdef __GLIBC__
    struct mallinfo2 mi = mallinfo2();
    head(b, "moat_malloc_bytes", "gauge",
         "glibc's heap memory by state: arena (obtained from the system by sbrk or heap "
         "mappings, every arena), in_use (allocated), free (kept inside the arenas, "
         "releasable: at their tops), mmapped (large blocks, each its own mapping).");
    moat_buf_printf(b, "moat_malloc_bytes{state=\"arena\"} %zu\n", mi.arena);
    moat_buf_printf(b, "moat_malloc_bytes{state=\"in_use\"} %zu\n", mi.uordblks);
    moat_buf_printf(b, "moat_malloc_bytes{state=\"free\"} %zu\n", mi.fordblks);
    moat_buf_printf(b, "moat_malloc_bytes{state=\"releasable\"} %zu\n", mi.keepcost);
    moat_buf_printf(b, "moat_malloc_bytes{state=\"mmapped\"} %zu\n", mi.hblkhd);
    head(b, "moat_malloc_mmaps", "gauge", "Blocks glibc serves from mappings of their own.");
    moat_buf_printf(b, "moat_malloc_mmaps %zu\n", mi.hblks);
    /* The number of arenas: malloc_info's XML has one <heap> element each. */
    char *xml = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&xml, &len);
    if (f) {
        int rc = malloc_info(0, f);
        fclose(f);
        size_t arenas = 0;
        for (const char *p = xml; rc == 0 && p && (p = strstr(p, "<heap nr=")); p++)
            arenas++;
        head(b, "moat_malloc_arenas", "gauge",
             "glibc arenas (the main one and one per thread that contended for it, "
             "at most 8 per CPU unless M_ARENA_MAX says otherwise).");
        moat_buf_printf(b, "moat_malloc_arenas %zu\n", arenas);
    }
    free(xml);
#else
    (void)b;
#endif
}

static void exposition(moat_buf *b)
{
    head(b, "moat_requests_total", "counter", "Requests the gateway finished.");
    moat_buf_printf(b, "moat_requests_total %llu\n",
                    (unsigned long long)sum(offsetof(slab, requests)));
    head(b, "moat_responses_total", "counter", "Responses by status class.");
    static const char *const cls[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (unsigned i = 0; i < 6; i++)
        moat_buf_printf(b, "moat_responses_total{code=\"%s\"} %llu\n", cls[i],
                        (unsigned long long)sum(offsetof(slab, status) + i * sizeof(counter)));

    head(b, "moat_refusals_total", "counter",
         "Requests moat answered itself, by the stage that acted and the event (reason).");
    /* The same pair may sit in several workers' slabs: summed here. */
    size_t cap = (size_t)M.nslabs * NREFUSALS, n = 0;
    struct {
        const char *stage, *event;
        uint64_t n;
    } *rows = moat_xcalloc(cap ? cap : 1, sizeof(*rows));
    for (unsigned w = 0; w < M.nslabs; w++)
        for (unsigned i = 0; i < NREFUSALS; i++) {
            refusal *f = &M.slabs[w].refusals[i];
            if (!atomic_load_explicit(&f->used, memory_order_acquire)) break;
            size_t j = 0;
            while (j < n && (strcmp(rows[j].stage, f->stage) || strcmp(rows[j].event, f->event)))
                j++;
            if (j == n) {
                rows[n].stage = f->stage;
                rows[n++].event = f->event;
            }
            rows[j].n += get(&f->n);
        }
    for (size_t j = 0; j < n; j++) {
        moat_buf_puts(b, "moat_refusals_total{stage=\"");
        label(b, rows[j].stage);
        moat_buf_puts(b, "\",reason=\"");
        label(b, rows[j].event);
        moat_buf_printf(b, "\"} %llu\n", (unsigned long long)rows[j].n);
    }
    free(rows);
    uint64_t other = sum(offsetof(slab, refusals_other));
    if (other)
        moat_buf_printf(b, "moat_refusals_total{stage=\"other\",reason=\"other\"} %llu\n",
                        (unsigned long long)other);

    uint64_t count, sum_us, bucket[NBUCKETS];
    head(b, "moat_upstream_response_seconds", "histogram",
         "Time from sending a request upstream to its response head.");
    hist_sum(upstream_of, 0, &count, &sum_us, bucket);
    hist_put(b, "moat_upstream_response_seconds", NULL, count, sum_us, bucket);
    head(b, "moat_stage_seconds", "histogram",
         "Time the WAF and store stages took on a request's head, waiting for their "
         "thread-pool work included.");
    stage_hists(b, "moat_stage_seconds", stage_of);
    head(b, "moat_job_seconds", "histogram",
         "Thread-pool work of a stage (WAF inspection, store calls, password hashing), "
         "from queueing to its result.");
    stage_hists(b, "moat_job_seconds", job_of);

    uint64_t opened = sum(offsetof(slab, conns_opened)), closed = sum(offsetof(slab, conns_closed));
    head(b, "moat_connections_accepted_total", "counter", "Client connections accepted.");
    moat_buf_printf(b, "moat_connections_accepted_total %llu\n", (unsigned long long)opened);
    head(b, "moat_connections_open", "gauge", "Client connections open.");
    moat_buf_printf(b, "moat_connections_open %llu\n",
                    (unsigned long long)(opened > closed ? opened - closed : 0));
    memory(b);
    allocator(b);
}

/* ---- the admin server (its own thread and loop) ---- */

static void conn_closed(uv_handle_t *h)
{
    admin_conn *c = h->data;
    if (--c->closing) return;
    moat_buf_free(&c->out);
    free(c);
    M.nconns--;
}

static void conn_close(admin_conn *c)
{
    if (c->closing) return;
    c->closing = 2;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
    uv_close((uv_handle_t *)&c->timer, conn_closed);
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    admin_conn *c = req->data;
    free(req);
    conn_close(c);
}

static void answer(admin_conn *c)
{
    c->answered = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    /* "GET /metrics" with an optional query; anything else is not here. */
    static const char want[] = "GET /metrics";
    bool ok = c->len > sizeof(want) && memcmp(c->buf, want, sizeof(want) - 1) == 0 &&
              (c->buf[sizeof(want) - 1] == ' ' || c->buf[sizeof(want) - 1] == '?');
    moat_buf body;
    moat_buf_init(&body);
    if (ok)
        exposition(&body);
    else
        moat_buf_puts(&body, "not found\n");
    moat_buf_printf(&c->out,
                    "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                    "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                    ok ? "200 OK" : "404 Not Found",
                    ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8",
                    body.len);
    moat_buf_append(&c->out, body.data, body.len);
    moat_buf_free(&body);
    uv_write_t *req = moat_xcalloc(1, sizeof(*req));
    req->data = c;
    uv_buf_t buf = uv_buf_init(c->out.data, (unsigned)c->out.len);
    if (uv_write(req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) < 0) {
        free(req);
        conn_close(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    admin_conn *c = h->data;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - 1 - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    admin_conn *c = s->data;
    if (c->answered || c->closing) return;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    if (strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n")) {
        answer(c);
    } else if (c->len >= sizeof(c->buf) - 1) {
        conn_close(c); /* a head this long is not a scrape */
    }
}

static void on_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_connection(uv_stream_t *l, int status)
{
    if (status < 0) return;
    admin_conn *c = moat_xcalloc(1, sizeof(*c));
    moat_buf_init(&c->out);
    uv_tcp_init(&M.loop, &c->tcp);
    uv_timer_init(&M.loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    M.nconns++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0 || M.nconns > ADMIN_CONNS) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_timeout, ADMIN_TIMEOUT_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) conn_close(c);
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h)) return;
    if (h->type == UV_TCP && h->data) {
        conn_close(h->data);
        return;
    }
    if (h->type == UV_TIMER) return; /* a connection's: closed with it */
    uv_close(h, NULL);
}

static void on_stop(uv_async_t *a)
{
    (void)a;
    uv_walk(&M.loop, close_any, NULL);
}

static void admin_main(void *arg)
{
    (void)arg;
    uv_run(&M.loop, UV_RUN_DEFAULT);
}

int moat__metrics_open(const moat_config *cfg, unsigned nworkers, char **err)
{
    const moat_strlist *ls = &cfg->admin.listen;
    if (!ls->len) return 0;
    uv_loop_init(&M.loop);
    M.listeners = moat_xcalloc(ls->len, sizeof(*M.listeners));
    int rc = 0;
    for (size_t i = 0; i < ls->len; i++) {
        moat_addr addr;
        char why[256];
        int fd;
        if (moat_addr_parse(ls->items[i], &addr) < 0) {
            *err = moat_xasprintf("invalid admin.listen address '%s'", ls->items[i]);
            rc = MOAT_ECONFIG;
            goto fail;
        }
        if (moat_listen_fd(&addr, 64, &fd, why, sizeof(why)) < 0) {
            *err = moat_xasprintf("admin.listen: %s", why);
            rc = MOAT_EIO;
            goto fail;
        }
        uv_tcp_t *t = &M.listeners[M.nlisteners++];
        uv_tcp_init(&M.loop, t);
        t->data = NULL;
        rc = uv_tcp_open(t, fd);
        if (rc == 0) rc = uv_listen((uv_stream_t *)t, 64, on_connection);
        if (rc < 0) {
            *err = moat_xasprintf("admin.listen on %s: %s", addr.text, uv_strerror(rc));
            rc = MOAT_EIO;
            goto fail;
        }
    }
    uv_async_init(&M.loop, &M.stop, on_stop);
    M.stop.data = NULL;
    for (unsigned i = 0; i < MOAT_MAX_STAGES; i++)
        for (size_t j = 0; j < MOAT_ARRAY_LEN(timed_stages); j++)
            if (strcmp(moat__stage_name(i), timed_stages[j]) == 0) M.timed[i] = true;
    M.slabs = moat_xcalloc(nworkers, sizeof(*M.slabs));
    M.nslabs = nworkers;
    uv_thread_create(&M.thread, admin_main, NULL);
    for (size_t i = 0; i < ls->len; i++)
        moat_info("metrics on http://%s/metrics", ls->items[i]);
    return 0;
fail:
    for (size_t i = 0; i < M.nlisteners; i++)
        uv_close((uv_handle_t *)&M.listeners[i], NULL);
    uv_run(&M.loop, UV_RUN_DEFAULT);
    uv_loop_close(&M.loop);
    free(M.listeners);
    memset(&M, 0, sizeof(M));
    return rc;
}

void moat__metrics_close(void)
{
    if (!M.slabs) return;
    uv_async_send(&M.stop);
    uv_thread_join(&M.thread);
    uv_loop_close(&M.loop);
    free(M.listeners);
    free(M.slabs);
    memset(&M, 0, sizeof(M));
}
