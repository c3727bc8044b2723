/* pipeline.c - the ordered list of stages and the code that walks it. Reading
 * the array tells what the gateway does to a request; adding a protection
 * means adding a stage here, not editing the proxy. */
#include "internal.h"
#include "metrics.h"

/* Request callbacks run top to bottom until one answers; response callbacks
 * (errors, headers) run top to bottom on the upstream's response head, and
 * on the body of a response a stage holds (errors). A stage is its own
 * file defining moat__stage_NAME, and one line here (which declares it). */
#define PIPELINE(X)                                                                                \
    X(ban)            /* a banned client address: 429, before any other work (stage_rate.c) */     \
    X(limits)         /* methods, body size */                                                     \
    X(hosts)          /* Host allow-list: 421 */                                                   \
    X(paths)          /* normalise the path; sensitive paths: 404 */                               \
    X(acme)           /* ACME HTTP-01 challenges answered by moat ([tls.acme]) */                  \
    X(https_redirect) /* plain HTTP when TLS is on: 308 (normalised path) */                       \
    X(rate)           /* [[limits.rate]] per address: 429 (stage_rate.c) */                        \
    X(moat)           /* moat's own endpoints under /.moat/ */                                     \
    X(waf)            /* ModSecurity + CRS + Python rules on what the client sent: 403 */          \
    X(auth)           /* authentication, access rules, identity headers */                         \
    X(rate_user)      /* [[limits.rate]] per user or token, once auth knows who: 429 */            \
    X(waf_body)       /* the body, read once auth passed (no 100 Continue before a refusal),       \
                         held until the WAF inspected it: 403 */                                   \
    X(forwarded)      /* X-Forwarded-*, X-Request-Id */                                            \
    X(codings)        /* Accept-Encoding: only codings errors can inspect */                       \
    X(proxy)          /* to the upstream and back */                                               \
    X(errors)         /* 5xx and debug pages replaced */                                           \
    X(headers)        /* cookies hardened, security headers, banners */                            \
    X(access_log)

#define DECLARE(name) extern const moat_stage moat__stage_##name;
#define ENTRY(name) &moat__stage_##name,
PIPELINE(DECLARE)
static const moat_stage *const pipeline[] = {PIPELINE(ENTRY)};

#define NSTAGES MOAT_ARRAY_LEN(pipeline)
_Static_assert(MOAT_ARRAY_LEN(pipeline) <= MOAT_MAX_STAGES, "raise MOAT_MAX_STAGES");

unsigned moat__stage_index(const moat_stage *s)
{
    unsigned i = 0;
    while (i < NSTAGES && pipeline[i] != s)
        i++;
    MOAT_BUG_ON(i >= NSTAGES);
    return i;
}

const char *moat__stage_name(unsigned i)
{
    return i < NSTAGES ? pipeline[i]->name : "http";
}

int moat__pipeline_prepare(moat_runtime *rt, char **err)
{
    for (unsigned i = 0; i < NSTAGES; i++) {
        if (!pipeline[i]->prepare) continue;
        int rc = pipeline[i]->prepare(rt, &rt->conf[i], err);
        if (rc < 0) return rc;
    }
    return 0;
}

void moat__pipeline_release(moat_runtime *rt)
{
    for (unsigned i = 0; i < NSTAGES; i++) {
        if (pipeline[i]->release) pipeline[i]->release(rt, rt->conf[i]);
        rt->conf[i] = NULL;
    }
}

/* The head stage r waited on (r->stage) is over: its time goes to the
 * metrics, once (it passed, resumed, or the request ended under it). */
static void stage_timed(moat_request *r)
{
    if (!r->stage_open) return;
    r->stage_open = false;
    moat__metrics_stage(r->w, r->stage, uv_hrtime() - r->stage_ns);
}

static void run_from(moat_request *r, unsigned first)
{
    for (unsigned i = first; i < NSTAGES; i++) {
        if (!pipeline[i]->on_request_head) continue;
        /* Set before the call: a stage may resume synchronously (a pooled
         * upstream connection) before it returns MOAT_AGAIN. */
        r->stage = r->running = i;
        /* The clock is read only for a stage the metrics keep a histogram
         * of (two reads a stage and request add up on the hot path). */
        r->stage_open = moat__metrics_stage_timed(r->w, i);
        if (r->stage_open) r->stage_ns = uv_hrtime();
        int rc = pipeline[i]->on_request_head(r);
        if (rc == MOAT_PASS) {
            stage_timed(r);
            continue;
        }
        /* AGAIN: timed when it resumes; DONE: when the request ends (r
         * may be gone by now) */
        if (rc == MOAT_AGAIN) return;
        if (rc == MOAT_DONE) return;
        moat_error("stage %s failed: %s", pipeline[i]->name, moat_strerror(rc));
        moat__refusal(r, "stage.error", pipeline[i]->name, NULL);
        moat__client_respond_error(r, 500, "internal error in a stage");
        return;
    }
    r->head_done = true;
    if (r->body_held) {
        /* The body a stage held back (read while it waited) goes to the
         * stages after it, with the end when the request was read whole. */
        const moat_buf *b = r->body_held;
        unsigned from = r->body_hold_stage + 1;
        r->body_held = NULL;
        for (unsigned i = from; i < NSTAGES && b->len; i++) {
            if (!pipeline[i]->on_request_body) continue;
            r->running = i;
            if (pipeline[i]->on_request_body(r, b->data, b->len) != MOAT_PASS) return;
        }
        if (r->state == REQ_DONE) {
            for (unsigned i = from; i < NSTAGES; i++) {
                if (!pipeline[i]->on_request_end) continue;
                r->running = i;
                if (pipeline[i]->on_request_end(r) != MOAT_PASS) return;
            }
        }
    }
    moat__client_continue(r->c);
}

void moat__pipeline_request_head(moat_request *r)
{
    run_from(r, 0);
}

void moat__pipeline_resume(moat_request *r, int result)
{
    stage_timed(r);
    if (result == MOAT_PASS) run_from(r, r->stage + 1);
}

/* Until the head pipeline has passed every stage, the body goes only as far
 * as the stage that is waiting (r->stage); computed once, because a stage
 * may resume the pipeline from inside its callback. */
static unsigned body_last(const moat_request *r)
{
    return r->head_done ? (unsigned)NSTAGES - 1 : r->stage;
}

int moat__pipeline_request_body(moat_request *r, const char *data, size_t len)
{
    unsigned last = body_last(r);
    for (unsigned i = 0; i <= last; i++) {
        if (!pipeline[i]->on_request_body) continue;
        r->running = i;
        int rc = pipeline[i]->on_request_body(r, data, len);
        if (rc == MOAT_TAKEN) return MOAT_PASS;
        if (rc != MOAT_PASS) return rc;
    }
    return MOAT_PASS;
}

int moat__pipeline_body_after(moat_request *r, const moat_stage *s, const char *data, size_t len)
{
    MOAT_BUG_ON(!r->head_done);
    unsigned running = r->running;
    for (unsigned i = moat__stage_index(s) + 1; i < NSTAGES && len; i++) {
        if (!pipeline[i]->on_request_body) continue;
        r->running = i;
        int rc = pipeline[i]->on_request_body(r, data, len);
        if (rc != MOAT_PASS) return rc;
    }
    r->running = running;
    return MOAT_PASS;
}

int moat__pipeline_request_end(moat_request *r)
{
    unsigned last = body_last(r);
    for (unsigned i = 0; i <= last; i++) {
        if (!pipeline[i]->on_request_end) continue;
        r->running = i;
        int rc = pipeline[i]->on_request_end(r);
        if (rc != MOAT_PASS) return rc;
    }
    return MOAT_PASS;
}

int moat__pipeline_response_head(moat_request *r, moat_http_head *resp)
{
    for (unsigned i = 0; i < NSTAGES; i++) {
        if (!pipeline[i]->on_response_head) continue;
        r->running = i;
        int rc = pipeline[i]->on_response_head(r, resp);
        if (rc != MOAT_PASS) return rc;
    }
    return MOAT_PASS;
}

/* A stage that answers (DONE) has ended the request: r is not touched after. */
static int response_body_stages(moat_request *r, const char *data, size_t len)
{
    for (unsigned i = 0; i < NSTAGES; i++) {
        if (!pipeline[i]->on_response_body) continue;
        r->running = i;
        int rc = pipeline[i]->on_response_body(r, data, len);
        if (rc != MOAT_PASS) return rc;
    }
    return MOAT_PASS;
}

static int response_end_stages(moat_request *r)
{
    for (unsigned i = 0; i < NSTAGES; i++) {
        if (!pipeline[i]->on_response_end) continue;
        r->running = i;
        int rc = pipeline[i]->on_response_end(r);
        if (rc != MOAT_PASS) return rc;
    }
    return MOAT_PASS;
}

/* ---- the response on its way to the sink ----
 * A response-head stage that must see the body first sets r->hold: the
 * head then waits in r->held_head and the body goes to the response-body
 * stages until one releases the response (moat__response_release) or
 * answers instead. The sink sees only what was let through. */

int moat__response_head(moat_request *r, moat_http_head *resp)
{
    if (resp->status >= 100 && resp->status < 200 && resp->status != 101)
        return r->sink->head(r, resp); /* interim: no stage holds it */
    if (r->hold) {
        MOAT_BUG_ON(r->held_head); /* one final head */
        r->held_head = resp;
        return 0;
    }
    return r->sink->head(r, resp);
}

int moat__response_release(moat_request *r, const char *body, size_t len)
{
    MOAT_BUG_ON(!r->hold || !r->held_head);
    moat_http_head *h = r->held_head;
    r->hold = false;
    r->held_head = NULL;
    int rc = r->sink->head(r, h);
    if (rc == 0 && len) rc = r->sink->body(r, body, len);
    return rc;
}

/* A stage held the response and did not release or answer it: fail closed. */
static void held_unclaimed(moat_request *r)
{
    r->hold = false;
    r->held_head = NULL;
    moat__refusal(r, "stage.error", "proxy", NULL);
    moat__client_respond_error(r, 500, "internal error in a stage");
}

int moat__response_body(moat_request *r, const char *data, size_t len)
{
    if (len == 0) return 0;
    if (r->hold && r->held_head) {
        /* The holding stage takes the bytes; it releases or replaces the
         * response (and r is gone after DONE). */
        int rc = response_body_stages(r, data, len);
        if (rc == MOAT_AGAIN) return 0;
        if (rc == MOAT_DONE) return MOAT_ECLOSED;
        if (rc < 0) return rc;
        if (r->hold) {
            held_unclaimed(r);
            return MOAT_ECLOSED;
        }
    }
    return r->sink->body(r, data, len);
}

void moat__response_end(moat_request *r)
{
    if (r->hold && r->held_head) {
        if (response_end_stages(r) != MOAT_PASS) return; /* answered, or the client is gone */
        if (r->hold) {
            held_unclaimed(r);
            return;
        }
    }
    r->sink->end(r);
}

void moat__pipeline_answer_head(moat_request *r, moat_http_head *h)
{
    unsigned running = r->running;
    r->answering = true;
    for (unsigned i = 0; i < NSTAGES; i++)
        if (pipeline[i]->on_response_head) pipeline[i]->on_response_head(r, h);
    r->answering = false;
    r->running = running;
}

bool moat__log_refuses(const moat_request *r, bool any)
{
    if (!moat__seclog || strcmp(r->rt->cfg->log.on_failure, "refuse") != 0) return false;
    if (!moat_seclog_failing(moat__seclog)) return false;
    /* Counted per worker thread: an event of another request on the same
     * worker in between also counts, which errs on the side of refusing. */
    return any || moat_seclog_recorded_here() != r->log_mark;
}

void moat__refuse(moat_request *r, int status, const char *event, const char *key,
                  const char *reason)
{
    MOAT_BUG_ON(r->running >= NSTAGES);
    const moat_stage *s = pipeline[r->running];
    moat__refusal(r, event, s->event ? s->event : s->name, key);
    moat__client_respond_error(r, status, reason);
}

/* ---- the thread-pool protocol of the stages ---- */

/* The request ends (arena reset): a queued job outlives it and frees itself
 * once its work is over. */
static void job_request_gone(void *arg)
{
    moat__job *job = arg;
    job->r = NULL;
    if (!job->queued)
        job->free_fn(job);
    else
        (void)uv_cancel((uv_req_t *)&job->work); /* not started yet: never runs */
}

void moat__job_init(moat__job *job, moat_request *r, void (*free_fn)(moat__job *job))
{
    job->r = r;
    job->free_fn = free_fn;
    moat_arena_defer(r->arena, job_request_gone, job);
}

static void job_work(uv_work_t *w)
{
    moat__job *job = w->data;
    job->fn(job);
}

static void job_after(uv_work_t *w, int status)
{
    moat__job *job = w->data;
    job->queued = false;
    moat__metrics_job(MOAT_CONTAINER_OF(w->loop, moat_worker, loop), job->stage,
                      uv_hrtime() - job->queued_ns);
    moat_request *r = job->r;
    if (!r) {
        job->free_fn(job); /* the request went away: the results are dropped */
        return;
    }
    r->running = job->stage;
    job->done(r, job, status);
}

int moat__stage_offload(moat_request *r, moat__job *job, void (*work)(moat__job *job),
                        void (*done)(moat_request *r, moat__job *job, int status))
{
    MOAT_BUG_ON(job->r != r || job->queued);
    job->fn = work;
    job->done = done;
    job->stage = r->running;
    job->work.data = job;
    job->queued = true;
    job->queued_ns = uv_hrtime();
    int rc = uv_queue_work(&r->c->w->loop, &job->work, job_work, job_after);
    if (rc < 0)
        job->queued = false;
    else
        moat__metrics_job_queued(r->c->w);
    return rc;
}

void moat__pipeline_done(moat_request *r)
{
    MOAT_BUG_ON(r->ended); /* R10: once */
    r->ended = true;
    stage_timed(r);
    moat__metrics_request(r);
    for (unsigned i = 0; i < NSTAGES; i++)
        if (pipeline[i]->on_done) pipeline[i]->on_done(r);
}
