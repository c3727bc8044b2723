/* metrics.h - the gateway's Prometheus counters and their admin listener
 * ([admin] listen). Private to src/gateway. Every hook is a no-op while
 * the metrics are off (no admin.listen), and is called only on the loop of
 * the worker it names (the job hooks: on that loop, after the work). */
#ifndef MOAT_GATEWAY_METRICS_H
#define MOAT_GATEWAY_METRICS_H

#include <stdint.h>

#include "config/config.h"

struct moat_worker;
struct moat_request;

/* Binds cfg->admin.listen and starts the thread serving GET /metrics, with
 * a slab of counters for each of nworkers workers. 0 when it is off or
 * serving; else a negative error with *err owned (nothing started). Main
 * thread, before the workers start. */
int moat__metrics_open(const moat_config *cfg, unsigned nworkers, char **err);
/* Stops the thread and frees the counters; after the workers are joined. */
void moat__metrics_close(void);

/* The request is over (moat__pipeline_done): counts it by status class. */
void moat__metrics_request(const struct moat_request *r);
/* Moat answered the request itself: counts it by stage and event. */
void moat__metrics_refusal(const struct moat_request *r, const char *stage, const char *event);
/* The upstream's response head came, ms after the request was sent. */
void moat__metrics_upstream(const struct moat_request *r, uint64_t ms);
/* A request-head stage took ns (its async wait included). */
void moat__metrics_stage(const struct moat_worker *w, unsigned stage, uint64_t ns);
/* Whether moat__metrics_stage keeps anything for this stage: the metrics are
 * on and the stage has a histogram (the clock is read only then). */
bool moat__metrics_stage_timed(const struct moat_worker *w, unsigned stage);
/* A stage's thread-pool job (WAF, store, password hashing) took ns from
 * queueing to its result back on the loop. */
void moat__metrics_job(const struct moat_worker *w, unsigned stage, uint64_t ns);
/* A client connection opened (+1) or closed (-1). */
void moat__metrics_conn(const struct moat_worker *w, int delta);
/* A stage queued thread-pool work (its end is moat__metrics_job). */
void moat__metrics_job_queued(const struct moat_worker *w);

/* What a worker's connections hold, counted by the worker itself on its
 * loop (moat__worker_memory, client.c) every MOAT__METRICS_MEM_MS while
 * the metrics are on. Bytes: buffers' capacity and arenas' blocks, not
 * the allocator's overhead. */
#define MOAT__METRICS_MEM_MS 1000
typedef struct moat__worker_mem {
    uint64_t clients, clients_quiet, h2_sessions, client_bytes;
    uint64_t upstream_busy, upstream_idle, upstream_bytes;
} moat__worker_mem;
bool moat__metrics_on(void);
void moat__metrics_worker_mem(const struct moat_worker *w, const moat__worker_mem *m);

/* Gauges of structures shared by the workers, changed by delta from any
 * thread (counted whether the metrics are on or not). */
enum {
    MOAT__GAUGE_WAF_TX,   /* ModSecurity transactions alive (stage_waf.c) */
    MOAT__GAUGE_SESSIONS, /* sessions in the auth cache (stage_auth.c) */
    MOAT__GAUGE_BANS,     /* entries of the ban tables (stage_rate.c) */
    MOAT__NGAUGES
};
void moat__metrics_gauge(unsigned gauge, int64_t delta);

#endif
