/* auth_job.c - the auth stage's work on the libuv thread pool and its
 * answers. Every store call of the stage (a rule check's session lookup, a
 * portal request's login) runs as a job: queued with uv_queue_work, back on
 * the loop through the job's own callback. A request that ends while its
 * job runs leaves the job to free itself (arena defer); a job that cannot
 * be queued or did not run fails closed (503). The answers (moat's 403
 * page, a 503, moat's own responses) and the events are recorded as the
 * stage "auth". */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "stage_auth.h"

static void job_free(moat__auth_job *job)
{
    moat_portal_job_free(job->portal);
    if (job->body.data) explicit_bzero(job->body.data, job->body.len);
    moat_buf_free(&job->body);
    moat_user_clear(&job->who.user);
    moat__runtime_unref(job->rt);
    explicit_bzero(job, sizeof(*job));
    free(job);
}

static void job_release(void *arg)
{
    moat__auth_job *job = arg;
    job->r = NULL;
    if (!job->queued)
        job_free(job);
    else
        (void)uv_cancel((uv_req_t *)&job->work); /* not started yet: never runs */
}

moat__auth_job *moat__auth_job_new(moat_request *r)
{
    moat__auth_job *job = moat_xcalloc(1, sizeof(*job));
    job->r = r;
    job->rt = moat__runtime_ref(r->rt);
    moat_buf_init(&job->body);
    moat_arena_defer(r->arena, job_release, job);
    return job;
}

static void work_cb(uv_work_t *w)
{
    moat__auth_job *job = w->data;
    job->run(job);
}

static void after_work_cb(uv_work_t *w, int status)
{
    moat__auth_job *job = w->data;
    job->queued = false;
    moat__metrics_job(MOAT_CONTAINER_OF(w->loop, moat_worker, loop),
                      moat__stage_index(&moat__stage_auth), uv_hrtime() - job->queued_ns);
    moat_request *r = job->r;
    if (!r) {
        job_free(job);
        return;
    }
    if (status < 0) {
        moat__auth_fail_closed(r, MOAT_EINTERNAL);
        return;
    }
    job->back(r, job);
}

int moat__auth_job_queue(moat_request *r, moat__auth_job *job)
{
    job->queued = true;
    job->queued_ns = uv_hrtime();
    job->work.data = job;
    if (uv_queue_work(&r->c->w->loop, &job->work, work_cb, after_work_cb) < 0) {
        job->queued = false;
        moat__auth_fail_closed(r, MOAT_EINTERNAL);
        return MOAT_DONE;
    }
    moat__metrics_job_queued(r->c->w);
    return MOAT_AGAIN;
}

/* ---- answers and events -------------------------------------------------- */

void moat__auth_event(moat_request *r, const char *name, const char *user, const char *reason,
                      int status, const moat_seclog_field *f, size_t nf)
{
    if (!strcmp(name, "auth.login.failure") || !strcmp(name, "auth.mfa.failure") ||
        !strcmp(name, "auth.token.failure"))
        r->strike = name; /* a strike toward a ban (stage_rate.c) */
    /* The access rules refused the request (401, 403, 429, or 302 to the
     * login page): auth's refusals, which bypass moat__security_event. */
    if (status && !strcmp(name, "authz.denied")) moat__metrics_refusal(r, "auth", name);
    if (!moat__seclog) return;
    const moat_seclog_event_info *info = moat_seclog_event_lookup(name);
    moat_seclog_event ev = {
        .event = name,
        .severity = info ? info->severity : MOAT_SECLOG_WARNING,
        .request_id = r->id,
        .client = r->c->peer,
        .user = user,
        .method = r->head->method,
        .path = r->path,
        .reason = reason,
        .stage = "auth",
        .config_key = moat_auth_event_key(name),
        .status = status,
        .fields = f,
        .nfields = nf,
    };
    moat_seclog_record(moat__seclog, &ev);
}

void moat__auth_events(moat_request *r, const moat_auth_event *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        moat__auth_event(r, e[i].name, e[i].user, e[i].reason, e[i].status, e[i].fields,
                         e[i].nfields);
}

/* The forwarded stage, which sets r->https for a trusted proxy's
 * X-Forwarded-Proto, runs after this one: read it here too. */
bool moat__auth_tls(moat_request *r)
{
    if (r->https) return true;
    const moat_config *cfg = r->rt->cfg;
    moat_http_header *xfp = moat_http_head_find(r->head, "X-Forwarded-Proto");
    return xfp && moat_strieq_lit(xfp->value, xfp->value_len, "https") && r->c->peer[0] &&
           moat_ip_in_list(r->c->peer, cfg->trusted_proxies.items, cfg->trusted_proxies.len);
}

bool moat__auth_wants_json(moat_request *r)
{
    moat_http_header *x = moat_http_head_find(r->head, "X-Requested-With");
    if (x && moat_strieq_lit(x->value, x->value_len, "XMLHttpRequest")) return true;
    return moat__wants_json(r->head);
}

void moat__auth_answer(moat_request *r, int status, const char *reason, const char *ctype,
                       const moat_buf *body, const char *const *hdrs, size_t nhdrs)
{
    r->internal = true;
    moat__client_respond(r, status, reason, ctype, body ? body->data : "", body ? body->len : 0,
                         hdrs, nhdrs);
}

void moat__auth_forbid(moat_request *r, const char *reason, bool json, const char *const *hdrs,
                       size_t nhdrs)
{
    moat_buf b;
    moat_buf_init(&b);
    moat__error_page(&b, r->rt->page_template, 403, r->id, json);
    moat__auth_answer(r, 403, reason, json ? "application/json" : "text/html; charset=utf-8", &b,
                      hdrs, nhdrs);
    moat_buf_free(&b);
}

/* store.unavailable says why the store cannot be used: when the reason
 * changes, else at most every 10 s (a refusal per request is recorded
 * anyway, as authz.denied). */
static pthread_mutex_t unavailable_mu = PTHREAD_MUTEX_INITIALIZER;
static char unavailable_last[256];
static uint64_t unavailable_ms;
static atomic_bool unavailable_said; /* a store.unavailable awaits its store.available */

void moat__auth_store_unavailable(moat_request *r)
{
    char why[256];
    if (!r->rt->store || !moat_store_problem(r->rt->store, why, sizeof(why))) return;
    if (!why[0]) snprintf(why, sizeof(why), "the auth store failed");
    uint64_t now = moat_now_ms();
    pthread_mutex_lock(&unavailable_mu);
    bool say = strcmp(why, unavailable_last) != 0 || now - unavailable_ms >= 10000;
    if (say) {
        memcpy(unavailable_last, why, sizeof(why));
        unavailable_ms = now;
    }
    pthread_mutex_unlock(&unavailable_mu);
    if (say) {
        atomic_store(&unavailable_said, true);
        moat__auth_event(r, "store.unavailable", NULL, why, 503, NULL, 0);
    }
}

/* store.available: the first request that finds the store answering again
 * after a store.unavailable was recorded (once per outage). */
void moat__auth_store_available(moat_request *r)
{
    if (!atomic_load(&unavailable_said) || !r->rt->store ||
        moat_store_problem(r->rt->store, NULL, 0))
        return;
    pthread_mutex_lock(&unavailable_mu);
    bool say = atomic_exchange(&unavailable_said, false);
    unavailable_last[0] = '\0';
    unavailable_ms = 0;
    pthread_mutex_unlock(&unavailable_mu);
    if (say) moat__auth_event(r, "store.available", NULL, "the store answers again", 0, NULL, 0);
}

/* The portal (login, step-up, logout, ...) could not use the store: the
 * same refusal and events as moat__auth_fail_closed, with an answer that
 * says what happened and to try again (no detail of the store in it). */
void moat__auth_portal_unavailable(moat_request *r, int err)
{
    static const char msg[] = "Sign-in is unavailable for a moment: moat cannot reach its "
                              "auth store. Try again shortly.";
    moat_error("auth store: %s", moat_strerror(err));
    moat__auth_store_unavailable(r);
    moat__refusal(r, "authz.denied", "auth", "store.url");
    moat__security_event(r, 503, "the auth store failed: refused (fail closed)");
    bool json = moat__auth_wants_json(r) || (r->path && strncmp(r->path, "/.moat/api/", 11) == 0);
    moat_buf b;
    moat_buf_init(&b);
    if (json)
        moat_buf_printf(&b, "{\"error\":\"%s\",\"status\":503,\"request_id\":\"%s\"}\n", msg,
                        r->id);
    else
        moat_buf_printf(&b,
                        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                        "<title>503 Service Unavailable</title></head>\n<body><h1>Sign-in "
                        "unavailable</h1>\n<p>%s</p>\n<p>Request id: <code>%s</code></p>"
                        "</body></html>\n",
                        msg, r->id);
    static const char *const hdrs[] = {"Retry-After", "5"};
    moat__auth_answer(r, 503, "the auth store failed: refused (fail closed)",
                      json ? "application/json" : "text/html; charset=utf-8", &b, hdrs, 1);
    moat_buf_free(&b);
}

void moat__auth_fail_closed(moat_request *r, int err)
{
    moat_error("auth store: %s", moat_strerror(err));
    moat__auth_store_unavailable(r);
    moat__refusal(r, "authz.denied", "auth", "store.url");
    moat__client_respond_error(r, 503, "the auth store failed: refused (fail closed)");
}
