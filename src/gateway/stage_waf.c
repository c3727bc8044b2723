/* stage_waf.c - the waf stage: runs each request through the WAF (src/waf)
 * before any stage after it, or the application, sees it. The head is
 * inspected at once; a body is held here, up to waf.inspect_bytes, and
 * only handed on (pipeline.c replays it) once it passed. Bodies over the
 * inline size are inspected on the libuv thread pool so other connections
 * of the worker are not held up. The body is read only once the stages
 * between (auth) passed: its own stage, waf-body, sits after them, so a
 * refused request is never asked for its body (no 100 Continue before a
 * 401). Blocks answer 403 (or 400/413) with the
 * generic page; the rules that matched go to the security log only. Fail
 * closed: an engine error refuses the request unless waf.mode = "detect". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Bodies up to this size are inspected on the loop (a few hundred
 * microseconds); larger ones on the thread pool. */
#define INLINE_BYTES (16 * 1024)

/* The WAF's settings, compiled once per config. */
typedef struct waf_conf {
    moat_waf_mode mode;
    moat_over_limit over_limit;
} waf_conf;

static int waf_prepare(moat_runtime *rt, void **conf, char **err)
{
    (void)err;
    waf_conf *wc = moat_xcalloc(1, sizeof(*wc));
    wc->mode = moat_config_waf_mode(rt->cfg);
    wc->over_limit = moat_config_waf_over_limit(rt->cfg);
    *conf = wc;
    return 0;
}

static void waf_release(moat_runtime *rt, void *conf)
{
    (void)rt;
    free(conf);
}

static const waf_conf *conf_of(const moat_request *r)
{
    return moat__conf(r->rt, &moat__stage_waf);
}

/* The request's inspection (its ctx); freed with the request, or after its
 * work on the thread pool is over (moat__job). */
typedef struct waf_job {
    moat__job base;   /* first */
    moat_runtime *rt; /* owned ref: the rules the transaction runs on */
    moat_waf_tx *tx;
    moat_buf body;  /* held body (owned) */
    bool want_body; /* the head passed; waf-body reads and inspects the body */
    bool buffering; /* collecting the body */
    bool partial;   /* cut at waf.inspect_bytes; the rest passes uninspected */
    moat_waf_verdict v;
} waf_job;

static void job_free(moat__job *base)
{
    waf_job *job = (waf_job *)base;
    moat_waf_tx_free(job->tx);
    moat_buf_free(&job->body);
    moat__runtime_unref(job->rt);
    free(job);
}

static const char *fmt_int(moat_arena *a, long long v)
{
    return moat_arena_printf(a, "%lld", v);
}

/* Fields of the waf.* events: rule ids, score, first message, the part of
 * the request and its matched data (the security log redacts by look). */
static size_t verdict_fields(moat_request *r, const moat_waf_verdict *v, moat_seclog_field *f)
{
    size_t n = 0;
    moat_buf ids;
    moat_buf_init(&ids);
    for (size_t i = 0; i < v->nmatches; i++) {
        if (ids.len) moat_buf_putc(&ids, ',');
        moat_buf_puts(&ids, v->matches[i].id);
    }
    const moat_waf_match *first = v->nmatches ? &v->matches[0] : NULL;
    f[n++] = (moat_seclog_field){"rule", ids.len ? moat_arena_strdup(r->arena, ids.data) : NULL};
    f[n++] = (moat_seclog_field){"score", v->score ? fmt_int(r->arena, v->score) : NULL};
    f[n++] = (moat_seclog_field){"message", first ? moat_arena_strdup(r->arena, first->msg) : NULL};
    f[n++] = (moat_seclog_field){
        "matched", first && first->var[0] ? moat_arena_strdup(r->arena, first->var) : NULL};
    f[n++] = (moat_seclog_field){
        "data", first && first->data[0] ? moat_arena_strdup(r->arena, first->data) : NULL};
    f[n++] =
        (moat_seclog_field){"paranoia", fmt_int(r->arena, (long long)r->rt->cfg->waf.paranoia)};
    /* every match as ID=VARIABLE: what `moat log why` and `moat waf tune`
     * turn into the narrowest waf.exclude entry */
    moat_buf t;
    moat_buf_init(&t);
    for (size_t i = 0; i < v->nmatches; i++)
        moat_buf_printf(&t, "%s%s=%s", i ? "," : "", v->matches[i].id, v->matches[i].var);
    f[n++] = (moat_seclog_field){"targets", t.len ? moat_arena_strdup(r->arena, t.data) : NULL};
    moat_buf_free(&t);
    moat_buf_free(&ids);
    return n;
}

static void record(moat_request *r, const char *event, const char *reason, const char *key,
                   const moat_seclog_field *f, size_t nf)
{
    if (!moat__seclog) return;
    const moat_seclog_event_info *info = moat_seclog_event_lookup(event);
    moat_seclog_event ev = {
        .event = event,
        .severity = info ? info->severity : MOAT_SECLOG_WARNING,
        .request_id = r->id,
        .client = r->c->peer,
        .method = r->head->method,
        .path = r->head->target,
        .reason = reason,
        .stage = "waf",
        .config_key = key,
        .fields = f,
        .nfields = nf,
    };
    moat_seclog_record(moat__seclog, &ev);
}

/* Acts on a finished inspection: MOAT_PASS (let it through) or MOAT_DONE
 * (answered). */
static int decide(moat_request *r, waf_job *job)
{
    const moat_waf_verdict *v = &job->v;
    bool detect = conf_of(r)->mode == MOAT_WAF_DETECT;
    moat_seclog_field *f = moat_arena_calloc(r->arena, 9 * sizeof(*f));
    if (v->engine_err) {
        if (detect) {
            record(r, "waf.detected",
                   "the WAF engine failed; detect mode let the request through "
                   "uninspected",
                   "waf.mode", NULL, 0);
            return MOAT_PASS;
        }
        moat__refuse(r, 403, "waf.blocked", "waf.mode",
                     "the WAF engine could not inspect the request");
        return MOAT_DONE;
    }
    if (v->attack) {
        size_t nf = verdict_fields(r, v, f);
        if (detect) {
            record(r, "waf.detected",
                   "the WAF rules matched an attack pattern (detect mode: "
                   "passed)",
                   "waf.mode", f, nf);
        } else {
            r->ev_fields = f;
            r->ev_nfields = nf;
            moat__refuse(r, v->status ? v->status : 403, "waf.blocked", "waf.mode",
                         v->status == 400 ? "the request body does not parse as its type says"
                                          : "the WAF rules matched an attack pattern");
            return MOAT_DONE;
        }
    }
    if (job->partial) {
        f[0] = (moat_seclog_field){"inspected",
                                   fmt_int(r->arena, (long long)r->rt->cfg->waf.inspect_bytes)};
        record(r, "waf.uninspected",
               "request body over waf.inspect_bytes: its first part was inspected, the rest "
               "passed uninspected",
               "waf.over_limit", f, 1);
    }
    return MOAT_PASS;
}

/* Lets the stages after this one have the held body, then resumes them. */
static void pass_on(moat_request *r, waf_job *job)
{
    r->body_held = &job->body;
    r->body_hold_stage = r->stage;
    moat__pipeline_resume(r, MOAT_PASS);
}

static void inspect(waf_job *job)
{
    moat_waf_tx_body(job->tx, job->body.data, job->body.len, job->partial, &job->v);
}

static void work_cb(moat__job *base)
{
    inspect((waf_job *)base);
}

static void done_cb(moat_request *r, moat__job *base, int status)
{
    waf_job *job = (waf_job *)base;
    if (status < 0) job->v.engine_err = true;
    if (decide(r, job) == MOAT_PASS) pass_on(r, job);
}

/* The body is complete (or cut at the limit). Returns PASS when the
 * pipeline was resumed or will be, DONE when the request was answered. */
static int start_body(moat_request *r, waf_job *job)
{
    job->buffering = false;
    if (job->body.len <= INLINE_BYTES && !job->partial) {
        inspect(job);
        int rc = decide(r, job);
        if (rc == MOAT_PASS) pass_on(r, job);
        return rc;
    }
    if (moat__stage_offload(r, &job->base, work_cb, done_cb) < 0) {
        job->v.engine_err = true;
        if (job->partial) {
            /* Called from a body callback that is about to pause the reading:
             * resuming the pipeline from here would race it. Refuse. */
            moat__refuse(r, 403, "waf.blocked", "waf.mode",
                         "the WAF engine could not inspect the request");
            return MOAT_DONE;
        }
        int rc = decide(r, job);
        if (rc == MOAT_PASS) pass_on(r, job);
        return rc;
    }
    return MOAT_PASS;
}

static int waf_head(moat_request *r)
{
    const moat_config *cfg = r->rt->cfg;
    if (!r->rt->waf || moat_waf_path_excluded(cfg, r->path ? r->path : "/")) return MOAT_PASS;
    /* The login portal's forms are moat's own, parsed strictly by the auth
     * stage and never forwarded; a password is any text, which the rules
     * would take for an attack ("' OR 1=1 --" is a fine passphrase). */
    if (r->rt->store && moat__auth_portal_path(r->path)) return MOAT_PASS;
    moat_http_head *h = r->head;
    bool has_body = r->state == REQ_BODY;
    if (has_body && h->content_length > 0 && (uint64_t)h->content_length > cfg->waf.inspect_bytes &&
        conf_of(r)->over_limit == MOAT_OVER_LIMIT_REFUSE) {
        moat__refuse(r, 413, "waf.blocked", "waf.over_limit",
                     "request body over waf.inspect_bytes");
        return MOAT_DONE;
    }
    waf_job *job = moat_xcalloc(1, sizeof(*job));
    job->rt = moat__runtime_ref(r->rt);
    moat_buf_init(&job->body);
    moat__job_init(&job->base, r, job_free);
    MOAT__CTX(r, &moat__stage_waf) = job;
    job->tx = moat_waf_tx_new(r->rt->waf, r->c->peer, h->method, h->target, r->path ? r->path : "/",
                              h->http_minor);
    /* as sent: hop-by-hop and underscored names included (client.c strips
     * those from what is forwarded) */
    const moat_http_header *hs = r->sent_headers ? r->sent_headers : h->headers;
    size_t nh = r->sent_headers ? r->nsent_headers : h->nheaders;
    for (size_t i = 0; i < nh; i++)
        moat_waf_tx_header(job->tx, hs[i].name, hs[i].name_len, hs[i].value, hs[i].value_len);
    if (moat_waf_tx_head(job->tx, &job->v)) return decide(r, job);
    if (!has_body) {
        inspect(job);
        return decide(r, job);
    }
    job->want_body = true;
    return MOAT_PASS;
}

/* waf-body: the stages between passed; read the body into job->body. */
static int waf_body_head(moat_request *r)
{
    waf_job *job = MOAT__CTX(r, &moat__stage_waf);
    if (!job || !job->want_body) return MOAT_PASS;
    job->buffering = true;
    moat__client_continue(r->c);
    return MOAT_AGAIN;
}

static int waf_body(moat_request *r, const char *data, size_t len)
{
    waf_job *job = MOAT__CTX(r, &moat__stage_waf);
    if (!job || !job->buffering) return MOAT_PASS;
    moat_buf_append(&job->body, data, len);
    const moat_config *cfg = r->rt->cfg;
    if (job->body.len <= cfg->waf.inspect_bytes) return MOAT_PASS;
    if (conf_of(r)->over_limit == MOAT_OVER_LIMIT_REFUSE) {
        job->buffering = false;
        moat__refuse(r, 413, "waf.blocked", "waf.over_limit",
                     "request body over waf.inspect_bytes");
        return MOAT_DONE;
    }
    job->partial = true;
    int rc = start_body(r, job); /* always on the pool: resumes after we pause */
    return rc == MOAT_PASS ? MOAT_AGAIN : rc;
}

static int waf_end(moat_request *r)
{
    waf_job *job = MOAT__CTX(r, &moat__stage_waf);
    if (!job || !job->buffering) return MOAT_PASS;
    return start_body(r, job);
}

const moat_stage moat__stage_waf = {
    .name = "waf",
    .prepare = waf_prepare,
    .release = waf_release,
    .on_request_head = waf_head,
};

const moat_stage moat__stage_waf_body = {
    .name = "waf-body",
    .event = "waf",
    .on_request_head = waf_body_head,
    .on_request_body = waf_body,
    .on_request_end = waf_end,
};
