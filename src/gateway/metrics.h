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

#endif
