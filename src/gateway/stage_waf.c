/* stage_waf.c - the waf stage: runs each request through the WAF (src/waf)
 * before any stage after it, or the application, sees it. The head is
 * inspected at once; a body is held here, up to waf.inspect_bytes, and
 * only handed on (pipeline.c replays it) once it passed. A multipart/form-
 * data body is ModSecurity's model made streaming: file content goes on to
 * the application as it arrives, uninspected, while the rules see every
 * part's head and the other parts' content (inspect_bytes counts those);
 * before a file's content is let through, what came before it is inspected
 * (a checkpoint), and the body's last bytes wait for the final verdict, so
 * the application never holds a byte the rules have not passed. Bodies over the
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
#include "metrics.h"

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
    bool stream;    /* a raw file body (waf.stream_types): past the window it streams */
    moat_waf_verdict v;
    /* multipart/form-data (mp != NULL): body holds the raw bytes not yet
     * handed on, synth what the rules are given */
    moat_multipart *mp;
    moat_buf synth;         /* each part's head, non-file content, the delimiters */
    moat_waf_tx *cp;        /* a checkpoint's transaction, while one runs */
    bool touched;           /* the chunk being parsed held more than file content */
    bool streaming;         /* in a file whose head passed: its content goes straight on */
    bool sent;              /* body was lent to the pipeline (pass_on): empty it first */
    bool final;             /* the inspection running is the last one */
    bool decided;           /* the last inspection passed */
    bool frozen;            /* form data crossed inspect_bytes (pass): synth was closed there */
    bool in_content;        /* synth ends inside a part's content */
    size_t lent;            /* bytes a checkpoint added to synth to close it */
    moat_http_header *hdrs; /* the head as the waf stage saw it (arena), for checkpoints */
    size_t nhdrs;
    const char *method, *target, *path;
    int http_minor;
    char boundary[MOAT_MULTIPART_BOUNDARY_MAX + 1];
} waf_job;

/* moat_waf_tx_new and _free, counted (moat_waf_transactions). */
static moat_waf_tx *tx_new(const moat_waf *w, const char *client, const char *method,
                           const char *uri, const char *path, int http_minor)
{
    moat_waf_tx *t = moat_waf_tx_new(w, client, method, uri, path, http_minor);
    if (t) moat__metrics_gauge(MOAT__GAUGE_WAF_TX, +1);
    return t;
}

static void tx_free(moat_waf_tx *t)
{
    if (!t) return;
    moat__metrics_gauge(MOAT__GAUGE_WAF_TX, -1);
    moat_waf_tx_free(t);
}

static void job_free(moat__job *base)
{
    waf_job *job = (waf_job *)base;
    tx_free(job->tx);
    tx_free(job->cp);
    moat_multipart_free(job->mp);
    moat_buf_free(&job->synth);
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
    const moat_buf *in = job->mp ? &job->synth : &job->body;
    moat_waf_tx_body(job->cp ? job->cp : job->tx, in->data, in->len, job->partial, &job->v);
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

/* ---- multipart/form-data: file content streams, the rest is inspected ---- */

/* synth never grows past inspect_bytes: libmodsecurity would cut it there,
 * and a multipart body cut short yields no arguments at all. Room is kept
 * for the closing delimiter; over_limit = "pass" closes synth where the
 * room ends (frozen) and inspects that. */
static size_t close_room(const waf_job *job)
{
    return strlen(job->boundary) + 8; /* "\r\n--" boundary "--\r\n" */
}

/* Room left in synth for n more bytes: 0 when they fit, else MOAT_ETOOBIG
 * (refuse), or synth is frozen (pass) and *fit says how many still go in. */
static int room(waf_job *job, size_t n, size_t *fit)
{
    uint64_t limit = job->rt->cfg->waf.inspect_bytes;
    size_t used = job->synth.len + close_room(job);
    *fit = n;
    if (used + n <= limit) return 0;
    if (moat_config_waf_over_limit(job->rt->cfg) == MOAT_OVER_LIMIT_REFUSE) {
        return MOAT_ETOOBIG;
    }
    *fit = used < limit ? (size_t)(limit - used) : 0;
    return 1;
}

static void freeze(waf_job *job)
{
    moat_buf_printf(&job->synth, "%s--%s--\r\n", job->in_content ? "\r\n" : "", job->boundary);
    job->frozen = true;
    job->partial = true;
}

static int mp_part(void *ud, const moat_multipart_part *p)
{
    waf_job *job = ud;
    job->touched = true;
    if (job->frozen) return 0;
    /* The head the rules see is rebuilt from what was parsed: a part with
     * filename="" is a field to Django, so it is one to the rules too. */
    moat_buf head;
    moat_buf_init(&head);
    moat_buf_printf(&head, "--%s\r\nContent-Disposition: form-data; name=%.*s", job->boundary,
                    (int)p->name_raw_len, p->name_raw);
    if (p->is_file)
        moat_buf_printf(&head, "; filename=%.*s", (int)p->filename_raw_len, p->filename_raw);
    moat_buf_puts(&head, "\r\n");
    if (p->content_type)
        moat_buf_printf(&head, "Content-Type: %.*s\r\n", (int)p->content_type_len, p->content_type);
    moat_buf_puts(&head, "\r\n");
    size_t fit;
    int rc = room(job, head.len, &fit);
    if (rc == 0) {
        moat_buf_append(&job->synth, head.data, head.len);
        job->in_content = true;
    } else if (rc > 0) {
        freeze(job); /* a head is not cut */
        rc = 0;
    }
    moat_buf_free(&head);
    return rc;
}

static int mp_data(void *ud, const char *data, size_t len)
{
    waf_job *job = ud;
    if (moat_multipart_in_file(job->mp)) return 0; /* passes, as ModSecurity's defaults do */
    job->touched = true;
    if (job->frozen) return 0;
    size_t fit;
    int rc = room(job, len, &fit);
    if (rc < 0) return rc;
    moat_buf_append(&job->synth, data, fit);
    if (rc > 0) freeze(job);
    return 0;
}

static int mp_part_end(void *ud)
{
    waf_job *job = ud;
    job->touched = true;
    job->in_content = false;
    if (!job->frozen) moat_buf_puts(&job->synth, "\r\n");
    return 0;
}

static int mp_end(void *ud)
{
    waf_job *job = ud;
    job->touched = true;
    if (!job->frozen) moat_buf_printf(&job->synth, "--%s--\r\n", job->boundary);
    return 0;
}

static const moat_multipart_cbs mp_cbs = {mp_part, mp_data, mp_part_end, mp_end};

/* What a body callback answers for bytes it keeps. */
static int kept(const moat_request *r)
{
    /* Until the head pipeline is done no stage after this one sees the body. */
    return r->head_done ? MOAT_TAKEN : MOAT_PASS;
}

static int mp_refuse(moat_request *r, waf_job *job, int rc)
{
    job->buffering = false;
    if (rc == MOAT_ETOOBIG)
        moat__refuse(r, 413, "waf.blocked", "waf.over_limit",
                     "form data (the part heads and non-file parts) over waf.inspect_bytes");
    else
        moat__refuse(r, 400, "waf.blocked", "waf.mode",
                     "the multipart/form-data body is malformed or ambiguous");
    return MOAT_DONE;
}

/* The held bytes passed: hand them on. async: from the pool's done callback,
 * the reading paused. Returns what the body callback answers. */
static int mp_release(moat_request *r, waf_job *job, bool async)
{
    if (!r->head_done) {
        /* Only from the pool: the pipeline resumes, replays body and reads on. */
        MOAT_BUG_ON(!async);
        job->sent = true;
        pass_on(r, job);
        return MOAT_PASS;
    }
    /* Taken out first: a stage that answers ends r, and job with it. */
    moat_buf held = job->body;
    moat_buf_init(&job->body);
    int rc = held.len ? moat__pipeline_body_after(r, &moat__stage_waf_body, held.data, held.len)
                      : MOAT_PASS;
    moat_buf_free(&held);
    if (rc != MOAT_PASS) return MOAT_DONE;
    if (async) moat__client_continue(r->c);
    return MOAT_TAKEN;
}

static int mp_finish(moat_request *r, waf_job *job, bool async)
{
    if (job->cp) {
        tx_free(job->cp);
        job->cp = NULL;
        job->synth.len -= job->lent; /* the closing delimiter lent */
    }
    /* A checkpoint's findings are the last inspection's too (it sees a
     * superset): in detect mode only that one logs, and the cut is logged
     * once. */
    if (job->final || conf_of(r)->mode != MOAT_WAF_DETECT) {
        bool partial = job->partial;
        job->partial = partial && job->final;
        if (decide(r, job) == MOAT_DONE) return MOAT_DONE; /* job is gone with r */
        job->partial = partial;
    }
    if (job->final) {
        job->decided = true;
    } else {
        memset(&job->v, 0, sizeof(job->v));
        job->streaming = true;
    }
    return mp_release(r, job, async);
}

static void mp_work(moat__job *base)
{
    inspect((waf_job *)base);
}

static void mp_done(moat_request *r, moat__job *base, int status)
{
    waf_job *job = (waf_job *)base;
    if (status < 0) job->v.engine_err = true;
    (void)mp_finish(r, job, true);
}

/* Inspects what the rules have so far: a checkpoint before a file's content
 * goes on (a transaction of its own, on the parts so far closed with the
 * closing delimiter), or the last one. Returns what the body callback
 * answers. */
static int mp_inspect(moat_request *r, waf_job *job, bool final)
{
    job->final = final;
    if (!final) {
        job->cp =
            tx_new(r->rt->waf, r->c->peer, job->method, job->target, job->path, job->http_minor);
        for (size_t i = 0; i < job->nhdrs; i++)
            moat_waf_tx_header(job->cp, job->hdrs[i].name, job->hdrs[i].name_len,
                               job->hdrs[i].value, job->hdrs[i].value_len);
        /* in a file part's (empty) content: end it, then the body */
        size_t before = job->synth.len;
        if (!job->frozen) moat_buf_printf(&job->synth, "\r\n--%s--\r\n", job->boundary);
        job->lent = job->synth.len - before;
        /* The head decided (block mode: refused; detect mode: a failed
         * engine, which passes, so it goes the usual way below) */
        if (moat_waf_tx_head(job->cp, &job->v) && conf_of(r)->mode != MOAT_WAF_DETECT)
            return mp_finish(r, job, false);
    }
    /* Before the pipeline went on, resuming it from a body callback would
     * race the pause: the pool's callback does it. */
    if (r->head_done && job->synth.len <= INLINE_BYTES) {
        inspect(job);
        return mp_finish(r, job, false);
    }
    if (moat__stage_offload(r, &job->base, mp_work, mp_done) < 0) {
        moat__refuse(r, 403, "waf.blocked", "waf.mode",
                     "the WAF engine could not inspect the request");
        return MOAT_DONE;
    }
    return MOAT_AGAIN;
}

static int mp_body(moat_request *r, waf_job *job, const char *data, size_t len)
{
    if (job->sent) {
        moat_buf_reset(&job->body); /* the pipeline replayed it */
        job->sent = false;
    }
    job->touched = false;
    int rc = moat_multipart_feed(job->mp, data, len);
    if (rc) return mp_refuse(r, job, rc);
    if (r->head_done && (job->decided || (job->streaming && !job->touched))) return MOAT_PASS;
    moat_buf_append(&job->body, data, len);
    job->streaming = false;
    if (moat_multipart_done(job->mp)) return r->head_done ? mp_inspect(r, job, true) : MOAT_PASS;
    if (moat_multipart_in_file(job->mp)) return mp_inspect(r, job, false);
    return kept(r);
}

static int mp_end_of_body(moat_request *r, waf_job *job)
{
    int rc = moat_multipart_finish(job->mp);
    if (rc) return mp_refuse(r, job, rc);
    if (job->decided) return MOAT_PASS;
    if (!r->head_done) return start_body(r, job); /* held whole: the usual way */
    /* Unreachable: the closing delimiter started the last inspection, and
     * the end is not read before it is over. Fail closed all the same. */
    moat__refuse(r, 403, "waf.blocked", "waf.mode", "the WAF engine could not inspect the request");
    return MOAT_DONE;
}

/* The media type of a Content-Type value (before any ';', trimmed) is in
 * waf.stream_types: "type/subtype" exactly or a "type/" range, any case. */
static bool stream_type(const moat_config *cfg, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    const char *semi = memchr(v, ';', n);
    if (semi) n = (size_t)(semi - v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    const char *slash = memchr(v, '/', n);
    if (!slash) return false;
    for (size_t i = 0; i < cfg->waf.stream_types.len; i++) {
        const char *t = cfg->waf.stream_types.items[i];
        size_t tn = strlen(t);
        if (tn > 2 && strcmp(t + tn - 2, "/*") == 0) {
            if ((size_t)(slash - v) == tn - 2 && moat_streq_nocase(v, tn - 2, t, tn - 2))
                return true;
        } else if (moat_streq_nocase(v, n, t, tn)) {
            return true;
        }
    }
    return false;
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
    char boundary[MOAT_MULTIPART_BOUNDARY_MAX + 1];
    int multipart = 0;
    bool stream = false;
    for (size_t i = 0; has_body && i < h->nheaders; i++) {
        if (!moat_strieq_lit(h->headers[i].name, h->headers[i].name_len, "Content-Type")) continue;
        /* Two Content-Types: the app and the rules could each take another. */
        int rc = multipart ? MOAT_EPARSE
                           : moat_multipart_boundary(h->headers[i].value, h->headers[i].value_len,
                                                     boundary);
        if (rc < 0) {
            moat__refuse(r, 400, "waf.blocked", "waf.mode",
                         "multipart/form-data without a valid boundary");
            return MOAT_DONE;
        }
        multipart = rc ? 1 : -1;
        stream = !rc && stream_type(cfg, h->headers[i].value, h->headers[i].value_len);
    }
    if (has_body && multipart != 1 && h->content_length > 0 &&
        (uint64_t)h->content_length > cfg->waf.inspect_bytes && !stream &&
        conf_of(r)->over_limit == MOAT_OVER_LIMIT_REFUSE) {
        moat__refuse(r, 413, "waf.blocked", "waf.over_limit",
                     "request body over waf.inspect_bytes");
        return MOAT_DONE;
    }
    waf_job *job = moat_xcalloc(1, sizeof(*job));
    job->rt = moat__runtime_ref(r->rt);
    moat_buf_init(&job->body);
    job->stream = stream;
    moat__job_init(&job->base, r, job_free);
    MOAT__CTX(r, &moat__stage_waf) = job;
    job->tx = tx_new(r->rt->waf, r->c->peer, h->method, h->target, r->path ? r->path : "/",
                     h->http_minor);
    /* as sent: hop-by-hop and underscored names included (client.c strips
     * those from what is forwarded) */
    const moat_http_header *hs = r->sent_headers ? r->sent_headers : h->headers;
    size_t nh = r->sent_headers ? r->nsent_headers : h->nheaders;
    if (multipart == 1) {
        memcpy(job->boundary, boundary, sizeof(boundary));
        job->mp = moat_multipart_new(boundary, &mp_cbs, job);
        moat_buf_init(&job->synth);
        /* Checkpoints run the head again as the rules saw it here (later
         * stages edit r->head). */
        job->method = h->method;
        job->target = h->target;
        job->path = r->path ? r->path : "/";
        job->http_minor = h->http_minor;
        job->nhdrs = nh;
        job->hdrs = moat_arena_calloc(r->arena, (nh + 1) * sizeof(*job->hdrs));
        memcpy(job->hdrs, hs, nh * sizeof(*job->hdrs));
    }
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
    if (job && job->mp && job->want_body && job->buffering) return mp_body(r, job, data, len);
    if (!job || !job->buffering) return MOAT_PASS;
    moat_buf_append(&job->body, data, len);
    const moat_config *cfg = r->rt->cfg;
    if (job->body.len <= cfg->waf.inspect_bytes) return MOAT_PASS;
    if (conf_of(r)->over_limit == MOAT_OVER_LIMIT_REFUSE && !job->stream) {
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
    if (job && job->mp && job->want_body && job->buffering) return mp_end_of_body(r, job);
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
