/* stage_rate.c - rate limits ([[limits.rate]]) and bans (limits.ban_*), as
 * three stages: `ban` (first of all: a banned client address is refused
 * from a table in memory, no store call), `rate` (the per-address limits,
 * once the path is normalised and before the WAF spends time on the
 * request) and `rate_user` (the per-user and per-token limits, after auth
 * proved who the request is). Counters, strikes and bans live in the
 * state store so every instance sharing it shares them; the store calls
 * run on the thread pool. The table of bans is refreshed by a thread of
 * its own (at most REFRESH_MS behind another instance's bans); the refusals
 * that count as strikes are read off the request when it ends. A counter
 * past its limit is refused from memory until the store's retry time. What a
 * refusal looks like (the page, the events) is pipeline.c's and events.c'. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "metrics.h"
#include "store/store.h"

#define REFRESH_MS 1000      /* how often the ban table checks the store's data version */
#define REFRESH_FULL_MS 5000 /* ... and lists the bans even when it did not change */
#define TOLD_SLOTS 1024      /* once-per-window memory of the events told */

enum { STRIKE_WAF = 1, STRIKE_PATHS = 2, STRIKE_LOGIN = 4, STRIKE_RATE = 8 };

typedef struct told_slot {
    uint64_t hash;
    int64_t until_ms;
} told_slot;

typedef struct rate_conf {
    moat_store *st;    /* counters, strikes */
    moat_store *watch; /* the refresher's data version (never waits for a writer) */
    const moat_rate_rule *rules;
    size_t nrules;
    uint32_t *rule_id; /* per rule: a hash of what it says, in its counters' keys */
    bool any_addr, any_ident;
    /* bans */
    bool bans;
    unsigned ban_on;
    moat_strike_params sp;
    pthread_mutex_t mu; /* guards ban, nban, told, over */
    moat_ban *ban;
    size_t nban;
    atomic_size_t nban_hint; /* nban, read without the lock: 0 = nothing to look up */
    told_slot told[TOLD_SLOTS];
    /* Counters known to be over their limit until a time (from the store's
     * own answer): refused again from memory, no store call (over_*). */
    struct over_slot *over;
    /* the refresher */
    pthread_t thread;
    bool thread_on;
    pthread_cond_t cv;
    bool stop;
} rate_conf;

extern const moat_stage moat__stage_ban;

static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return h;
}
#define FNV_SEED UINT64_C(14695981039346656037)

/* True the first time key is told within until_ms (then remembered until
 * then): the events of a refusal repeated in one window are one line. A
 * slot shared by two keys only makes an extra line. */
static bool tell_once(rate_conf *cf, const char *key, int64_t now_ms, int64_t until_ms)
{
    uint64_t h = fnv1a(key, FNV_SEED);
    told_slot *t = &cf->told[h % TOLD_SLOTS];
    pthread_mutex_lock(&cf->mu);
    bool tell = !(t->hash == h && t->until_ms > now_ms);
    if (tell) *t = (told_slot){h, until_ms};
    pthread_mutex_unlock(&cf->mu);
    return tell;
}

/* A counter the store refused stays refused until its retry time whatever
 * any instance does (hits only ever add to it), so a flood past a limit is
 * answered from memory: one store call when it crosses the limit, none
 * after. Keys are compared whole: a slot two keys share only costs a store
 * call. */
#define OVER_SLOTS 1024
typedef struct over_slot {
    char key[160];
    int64_t until_ms;
} over_slot;

static void over_put(rate_conf *cf, const char *key, int64_t until_ms)
{
    over_slot *o = &cf->over[fnv1a(key, FNV_SEED) % OVER_SLOTS];
    pthread_mutex_lock(&cf->mu);
    snprintf(o->key, sizeof(o->key), "%s", key);
    o->until_ms = until_ms;
    pthread_mutex_unlock(&cf->mu);
}

static int64_t over_until(rate_conf *cf, const char *key, int64_t now_ms)
{
    over_slot *o = &cf->over[fnv1a(key, FNV_SEED) % OVER_SLOTS];
    pthread_mutex_lock(&cf->mu);
    int64_t until = o->until_ms > now_ms && strcmp(o->key, key) == 0 ? o->until_ms : 0;
    pthread_mutex_unlock(&cf->mu);
    return until;
}

/* ---- the ban table -------------------------------------------------------- */

static int64_t ban_until(rate_conf *cf, const char *addr, int64_t now, char *why, size_t whylen)
{
    if (atomic_load_explicit(&cf->nban_hint, memory_order_relaxed) == 0) return 0;
    int64_t until = 0;
    pthread_mutex_lock(&cf->mu);
    for (size_t i = 0; i < cf->nban; i++)
        if (cf->ban[i].until > now && strcmp(cf->ban[i].addr, addr) == 0) {
            until = cf->ban[i].until;
            snprintf(why, whylen, "%s", cf->ban[i].why);
            break;
        }
    pthread_mutex_unlock(&cf->mu);
    return until;
}

static void ban_insert(rate_conf *cf, const char *addr, int64_t until, const char *why)
{
    pthread_mutex_lock(&cf->mu);
    size_t i = 0;
    while (i < cf->nban && strcmp(cf->ban[i].addr, addr) != 0)
        i++;
    if (i == cf->nban) {
        cf->ban = moat_xrealloc(cf->ban, (cf->nban + 1) * sizeof(*cf->ban));
        cf->nban++;
        moat__metrics_gauge(MOAT__GAUGE_BANS, +1);
    }
    moat_ban *b = &cf->ban[i];
    snprintf(b->addr, sizeof(b->addr), "%s", addr);
    snprintf(b->why, sizeof(b->why), "%s", why);
    b->until = until;
    atomic_store(&cf->nban_hint, cf->nban);
    pthread_mutex_unlock(&cf->mu);
}

/* Replaces the table by what the store holds now. */
static void ban_refresh(rate_conf *cf)
{
    moat_ban *list = NULL;
    size_t n = 0;
    /* On the calls' store: the watch never waits for a writer (its busy
     * timeout is 0), and a list refused for a lock would mark it broken. */
    if (moat_store_ban_list(cf->st, (int64_t)time(NULL), &list, &n) < 0) return; /* keep */
    pthread_mutex_lock(&cf->mu);
    moat_ban *old = cf->ban;
    cf->ban = list;
    moat__metrics_gauge(MOAT__GAUGE_BANS, (int64_t)n - (int64_t)cf->nban);
    cf->nban = n;
    atomic_store(&cf->nban_hint, n);
    pthread_mutex_unlock(&cf->mu);
    free(old);
}

static void *refresher(void *arg)
{
    rate_conf *cf = arg;
    uint64_t seen = 0, listed_ms = 0;
    bool have = false;
    pthread_mutex_lock(&cf->mu);
    while (!cf->stop) {
        pthread_mutex_unlock(&cf->mu);
        uint64_t v = 0, now = moat_now_ms();
        bool got = moat_store_data_version(cf->watch, &v) == 0;
        if (!have || !got || v != seen || now - listed_ms >= REFRESH_FULL_MS) {
            ban_refresh(cf);
            listed_ms = now;
            seen = v;
            have = got;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)REFRESH_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&cf->mu);
        if (!cf->stop) pthread_cond_timedwait(&cf->cv, &cf->mu, &ts);
    }
    pthread_mutex_unlock(&cf->mu);
    return NULL;
}

/* ---- prepare / release ------------------------------------------------------ */

static void conf_free(rate_conf *cf)
{
    if (!cf) return;
    if (cf->thread_on) {
        pthread_mutex_lock(&cf->mu);
        cf->stop = true;
        pthread_cond_signal(&cf->cv);
        pthread_mutex_unlock(&cf->mu);
        pthread_join(cf->thread, NULL);
    }
    moat_store_close(cf->st);
    moat_store_close(cf->watch);
    pthread_mutex_destroy(&cf->mu);
    pthread_cond_destroy(&cf->cv);
    moat__metrics_gauge(MOAT__GAUGE_BANS, -(int64_t)cf->nban);
    free(cf->ban);
    free(cf->rule_id);
    free(cf->over);
    free(cf);
}

static unsigned ban_kinds(const moat_strlist *l)
{
    unsigned m = 0;
    for (size_t i = 0; i < l->len; i++) {
        const char *k = l->items[i];
        m |= !strcmp(k, "waf")     ? STRIKE_WAF
             : !strcmp(k, "paths") ? STRIKE_PATHS
             : !strcmp(k, "login") ? STRIKE_LOGIN
             : !strcmp(k, "rate")  ? STRIKE_RATE
                                   : 0;
    }
    return m;
}

/* The state store of cfg: store.url (both roles in one SQLite file), or
 * store.users and store.state apart (Redis: limits across instances). */
static int open_state(const moat_config *cfg, moat_store **out, char **why)
{
    return moat_store_open_roles(moat_config_store_users(cfg), moat_config_store_state(cfg), out,
                                 why);
}

static int ban_prepare(moat_runtime *rt, void **conf, char **err)
{
    const moat_config *cfg = rt->cfg;
    const moat_limits *L = &cfg->limits;
    if (L->rate.len == 0 && L->ban_strikes == 0) return 0; /* nothing to do: no store */
    rate_conf *cf = moat_xcalloc(1, sizeof(*cf));
    pthread_mutex_init(&cf->mu, NULL);
    pthread_cond_init(&cf->cv, NULL);
    cf->rules = L->rate.items;
    cf->nrules = L->rate.len;
    cf->rule_id = moat_xcalloc(cf->nrules ? cf->nrules : 1, sizeof(*cf->rule_id));
    if (cf->nrules) cf->over = moat_xcalloc(OVER_SLOTS, sizeof(*cf->over));
    for (size_t i = 0; i < cf->nrules; i++) {
        const moat_rate_rule *ru = &cf->rules[i];
        uint64_t h = fnv1a(ru->path, FNV_SEED);
        for (size_t k = 0; k < ru->methods.len; k++)
            h = fnv1a(ru->methods.items[k], fnv1a(",", h));
        h = fnv1a(ru->per, fnv1a("|", h));
        cf->rule_id[i] = (uint32_t)(h ^ (h >> 32));
        if (strcmp(ru->per, "address") == 0)
            cf->any_addr = true;
        else
            cf->any_ident = true;
    }
    cf->bans = L->ban_strikes > 0;
    cf->ban_on = ban_kinds(&L->ban_on);
    cf->sp = (moat_strike_params){
        .strikes = (uint32_t)L->ban_strikes,
        .window = (int64_t)((L->ban_window_ms + 999) / 1000),
        .duration = (int64_t)((L->ban_duration_ms + 999) / 1000),
    };
    char *why = NULL;
    if (open_state(cfg, &cf->st, &why) < 0 || (cf->bans && open_state(cfg, &cf->watch, &why) < 0)) {
        *err = moat_xasprintf("store.url (needed by [[limits.rate]] / limits.ban_strikes): %s",
                              why ? why : "cannot open");
        free(why);
        conf_free(cf);
        return MOAT_ECONFIG;
    }
    if (cf->bans) {
        ban_refresh(cf); /* bans in force hold from the first request */
        if (pthread_create(&cf->thread, NULL, refresher, cf) != 0) {
            *err = moat_xstrdup("cannot start the ban table's thread");
            conf_free(cf);
            return MOAT_ECONFIG;
        }
        cf->thread_on = true;
    }
    *conf = cf;
    return 0;
}

static void ban_release(moat_runtime *rt, void *conf)
{
    (void)rt;
    conf_free(conf);
}

/* ---- answers ---------------------------------------------------------------- */

/* moat's page for status with Retry-After (seconds, at least 1). */
static void answer_retry(moat_request *r, int status, const char *reason, int64_t retry_s)
{
    bool json = r->head && moat__wants_json(r->head);
    moat_buf body;
    moat_buf_init(&body);
    moat__error_page(&body, r->rt->page_template, status, r->id, json);
    const char *hdrs[2] = {
        "Retry-After", moat_arena_printf(r->arena, "%lld", (long long)(retry_s < 1 ? 1 : retry_s))};
    moat__client_respond(r, status, reason, json ? "application/json" : "text/html; charset=utf-8",
                         body.data, body.len, hdrs, 1);
    moat_buf_free(&body);
}

static void record(moat_request *r, const char *event, const char *stage, const char *key,
                   int status, const char *reason, const char *client, const moat_seclog_field *f,
                   size_t nf)
{
    if (!moat__seclog) return;
    const moat_seclog_event_info *info = moat_seclog_event_lookup(event);
    moat_seclog_event ev = {
        .event = event,
        .severity = info ? info->severity : MOAT_SECLOG_WARNING,
        .request_id = r ? r->id : NULL,
        .client = client,
        .method = r && r->head ? r->head->method : NULL,
        .path = r && r->head ? r->head->target : NULL,
        .reason = reason,
        .stage = stage,
        .config_key = key,
        .status = status,
        .fields = f,
        .nfields = nf,
    };
    moat_seclog_record(moat__seclog, &ev);
}

static void client_addr(moat_request *r, char *out, size_t cap)
{
    moat__auth_client_addr(r->rt->cfg, r->c->peer, r->head, out, cap);
}

/* ---- the ban stage ---------------------------------------------------------- */

static int ban_head(moat_request *r)
{
    rate_conf *cf = moat__conf(r->rt, &moat__stage_ban);
    if (!cf || !cf->bans || atomic_load_explicit(&cf->nban_hint, memory_order_relaxed) == 0)
        return MOAT_PASS;
    char addr[64], why[128] = "";
    client_addr(r, addr, sizeof(addr));
    int64_t now = (int64_t)time(NULL);
    int64_t until = ban_until(cf, addr, now, why, sizeof(why));
    if (!until) return MOAT_PASS;
    /* ban.refused once per ban episode (the address and its end). */
    char *key = moat_arena_printf(r->arena, "ban:%s:%lld", addr, (long long)until);
    if (tell_once(cf, key, now * 1000, until * 1000)) {
        moat_seclog_field f[2] = {
            {"until", moat_arena_printf(r->arena, "%lld", (long long)until)},
            {"why", why},
        };
        record(r, "ban.refused", "ban", "limits.ban_strikes", 429,
               "the client address is banned for bad behaviour (refusals counted by "
               "limits.ban_on); later requests of this ban are refused without an event",
               addr, f, 2);
    }
    answer_retry(r, 429, "banned client address", until - now);
    return MOAT_DONE;
}

/* A strike, counted on the pool after the request ended. */
typedef struct strike_job {
    uv_work_t work;
    moat_runtime *rt; /* owned ref: the store */
    char addr[64];
    char why[64];
    int64_t banned_until;
    int err;
} strike_job;

static void strike_work(uv_work_t *w)
{
    strike_job *j = w->data;
    rate_conf *cf = moat__conf(j->rt, &moat__stage_ban);
    j->err = moat_store_strike(cf->st, j->addr, &cf->sp, (int64_t)time(NULL), &j->banned_until);
    if (j->err == 0 && j->banned_until > 0) {
        /* The store's ban says how many strikes; say which refusal too
         * (moat ban list). */
        char why[128];
        snprintf(why, sizeof(why), "%u strikes within %llds, the last: %s", cf->sp.strikes,
                 (long long)cf->sp.window, j->why);
        (void)moat_store_ban_add(cf->st, j->addr, j->banned_until, why);
    }
}

static void strike_after(uv_work_t *w, int status)
{
    strike_job *j = w->data;
    rate_conf *cf = moat__conf(j->rt, &moat__stage_ban);
    if (status == 0 && j->err == 0 && j->banned_until > 0) {
        ban_insert(cf, j->addr, j->banned_until, j->why);
        char until[32];
        snprintf(until, sizeof(until), "%lld", (long long)j->banned_until);
        moat_seclog_field f[3] = {{"addr", j->addr}, {"until", until}, {"why", j->why}};
        char reason[160];
        snprintf(reason, sizeof(reason),
                 "%u refusals (the last: %s) within limits.ban_window: the address is banned",
                 cf->sp.strikes, j->why);
        record(NULL, "ban.added", "ban", "limits.ban_strikes", 0, reason, j->addr, f, 3);
    } else if (status == 0 && j->err < 0) {
        moat_error("ban: cannot count a strike: %s", moat_strerror(j->err));
    }
    moat__runtime_unref(j->rt);
    free(j);
}

static unsigned strike_kind(const char *ev)
{
    if (!ev) return 0;
    if (!strcmp(ev, "waf.blocked")) return STRIKE_WAF;
    if (!strcmp(ev, "path.denied")) return STRIKE_PATHS;
    if (!strcmp(ev, "rate.limited")) return STRIKE_RATE;
    if (!strncmp(ev, "auth.", 5)) return STRIKE_LOGIN;
    return 0;
}

static void ban_done(moat_request *r)
{
    rate_conf *cf = moat__conf(r->rt, &moat__stage_ban);
    if (!cf || !cf->bans || !r->head) return;
    const char *ev = r->strike;
    if (!ev && r->status >= 400) ev = r->ev_event;
    if (!(strike_kind(ev) & cf->ban_on)) return;
    strike_job *j = moat_xcalloc(1, sizeof(*j));
    j->rt = moat__runtime_ref(r->rt);
    client_addr(r, j->addr, sizeof(j->addr));
    snprintf(j->why, sizeof(j->why), "%s", ev);
    j->work.data = j;
    if (uv_queue_work(&r->c->w->loop, &j->work, strike_work, strike_after) < 0) {
        moat__runtime_unref(j->rt);
        free(j);
    }
}

const moat_stage moat__stage_ban = {
    .name = "ban",
    .prepare = ban_prepare,
    .release = ban_release,
    .on_request_head = ban_head,
    .on_done = ban_done,
};

/* ---- the rate stages ---------------------------------------------------------- */

static bool standard_method(const char *m)
{
    static const char *const std[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(std); i++)
        if (strcmp(std[i], m) == 0) return true;
    return false;
}

/* As a guarding [[auth.rules]] entry reads methods: GET covers HEAD, and a
 * list covers the methods frameworks treat as any other (PROPFIND, ...). */
static bool method_match(const moat_strlist *methods, const char *method)
{
    if (!methods->len || !standard_method(method)) return true;
    bool head = strcmp(method, "HEAD") == 0;
    for (size_t k = 0; k < methods->len; k++)
        if (strcmp(methods->items[k], method) == 0 ||
            (head && strcmp(methods->items[k], "GET") == 0))
            return true;
    return false;
}

typedef struct rate_hit {
    size_t rule;
    char key[160];
    moat_rate_result res;
} rate_hit;

typedef struct rate_job {
    moat__job job;    /* first */
    moat_runtime *rt; /* owned ref: the job may outlive the request */
    int err;
    size_t n;
    rate_hit hit[];
} rate_job;

static void rate_job_free(moat__job *job)
{
    rate_job *j = (rate_job *)job;
    moat__runtime_unref(j->rt);
    free(j);
}

static void rate_work(moat__job *job)
{
    rate_job *j = (rate_job *)job;
    rate_conf *cf = moat__conf(j->rt, &moat__stage_ban);
    int64_t now = (int64_t)moat_now_ms();
    for (size_t i = 0; i < j->n && !j->err; i++) {
        const moat_rate_rule *ru = &cf->rules[j->hit[i].rule];
        moat_rate_params p = {.requests = (uint32_t)ru->requests,
                              .window_ms = (int64_t)ru->window_ms,
                              .burst = (uint32_t)ru->burst};
        j->err = moat_store_rate_hit(cf->st, j->hit[i].key, &p, now, &j->hit[i].res);
    }
}

/* The state store cannot count: the limited route is refused (fail closed),
 * with store.unavailable at most every 10 s per reason. */
static void fail_closed(moat_request *r, rate_conf *cf, int err)
{
    char why[256] = "";
    if (!moat_store_problem(cf->st, why, sizeof(why)) || !why[0])
        snprintf(why, sizeof(why), "the state store failed: %s", moat_strerror(err));
    int64_t now = (int64_t)moat_now_ms();
    char *key = moat_arena_printf(r->arena, "unavailable:%s", why);
    if (tell_once(cf, key, now, now + 10000)) {
        moat_error("rate limits: state store: %s", why);
        record(r, "store.unavailable", "rate", "store.url", 503, why, r->c->peer, NULL, 0);
    }
    r->strike = NULL;
    answer_retry(r, 503, "the state store failed: a rate-limited route is refused (fail closed)",
                 1);
}

/* 429 with Retry-After for the counter key of rule (refused for retry_ms
 * more); the event once per counter and window. */
static void refuse_rate(moat_request *r, rate_conf *cf, size_t rule, const char *key,
                        int64_t retry_ms)
{
    const moat_rate_rule *ru = &cf->rules[rule];
    int64_t now = (int64_t)moat_now_ms();
    r->strike = "rate.limited";
    moat__refusal(r, "rate.limited", "rate", "limits.rate");
    /* One event per counter per window: a client hammering a limit leaves
     * one line, not one per request (the access log has each). */
    if (tell_once(cf, key, now, now + (int64_t)ru->window_ms)) {
        char lim[64];
        snprintf(lim, sizeof(lim), "%llu per %llu ms (+%llu burst)",
                 (unsigned long long)ru->requests, (unsigned long long)ru->window_ms,
                 (unsigned long long)ru->burst);
        const char *by = strchr(key + 5, ':'); /* rate:ID:KIND:WHO */
        moat_seclog_field f[5] = {
            {"rule", moat_arena_printf(r->arena, "%zu", rule + 1)},
            {"rule_path", ru->path},
            {"per", ru->per},
            {"limit", lim},
            {"counted_by", by ? by + 1 : key},
        };
        r->ev_fields = moat_arena_alloc(r->arena, sizeof(f));
        memcpy((void *)r->ev_fields, f, sizeof(f));
        r->ev_nfields = 5;
        moat__security_event(r, 429,
                             "too many requests: a [[limits.rate]] entry refused it (later "
                             "refusals by the same counter in this window have no event)");
    }
    answer_retry(r, 429, "rate limited", (retry_ms + 999) / 1000);
}

static void rate_done(moat_request *r, moat__job *job, int status)
{
    rate_job *j = (rate_job *)job;
    rate_conf *cf = moat__conf(r->rt, &moat__stage_ban);
    if (status < 0 || j->err < 0) {
        fail_closed(r, cf, status < 0 ? status : j->err);
        return;
    }
    const rate_hit *worst = NULL;
    for (size_t i = 0; i < j->n; i++)
        if (!j->hit[i].res.allowed &&
            (!worst || j->hit[i].res.retry_after_ms > worst->res.retry_after_ms))
            worst = &j->hit[i];
    if (!worst) {
        moat__pipeline_resume(r, MOAT_PASS);
        return;
    }
    int64_t now = (int64_t)moat_now_ms();
    for (size_t i = 0; i < j->n; i++)
        if (!j->hit[i].res.allowed) over_put(cf, j->hit[i].key, now + j->hit[i].res.retry_after_ms);
    refuse_rate(r, cf, worst->rule, worst->key, worst->res.retry_after_ms);
}

/* ident: the per-user and per-token entries (after auth), else the
 * per-address ones. */
static int rate_check(moat_request *r, bool ident)
{
    rate_conf *cf = moat__conf(r->rt, &moat__stage_ban);
    if (!cf || !(ident ? cf->any_ident : cf->any_addr) || !r->head) return MOAT_PASS;
    const moat_config *cfg = r->rt->cfg;
    const char *path = r->path ? r->path : "/";
    unsigned flags = MOAT_ROUTE_GUARD | (cfg->auth.case_insensitive_paths ? MOAT_ROUTE_NOCASE : 0);
    size_t match[64], n = 0;
    for (size_t i = 0; i < cf->nrules; i++) {
        const moat_rate_rule *ru = &cf->rules[i];
        if ((strcmp(ru->per, "address") != 0) != ident) continue;
        if (!method_match(&ru->methods, r->head->method)) continue;
        if (!moat_route_match(ru->path, path, flags)) continue;
        if (n == MOAT_ARRAY_LEN(match)) break; /* the config allows 1000: counted up to 64 */
        match[n++] = i;
    }
    if (n == 0) return MOAT_PASS;
    rate_hit *hit = moat_arena_calloc(r->arena, n * sizeof(*hit));
    char addr[64] = "";
    int64_t now = (int64_t)moat_now_ms(), over = 0;
    size_t over_k = 0;
    for (size_t k = 0; k < n; k++) {
        const moat_rate_rule *ru = &cf->rules[match[k]];
        rate_hit *h = &hit[k];
        h->rule = match[k];
        if (!strcmp(ru->per, "user") && r->auth_uid > 0) {
            snprintf(h->key, sizeof(h->key), "rate:%08x:user:%lld", cf->rule_id[match[k]],
                     (long long)r->auth_uid);
        } else if (!strcmp(ru->per, "token") && r->auth_token) {
            /* The stored hash of the token (never the token): 32 hex digits. */
            snprintf(h->key, sizeof(h->key), "rate:%08x:token:%.32s", cf->rule_id[match[k]],
                     r->auth_token);
        } else {
            if (!addr[0]) client_addr(r, addr, sizeof(addr));
            snprintf(h->key, sizeof(h->key), "rate:%08x:address:%s", cf->rule_id[match[k]], addr);
        }
        int64_t until = over_until(cf, h->key, now);
        if (until > over) {
            over = until;
            over_k = k;
        }
    }
    if (over) {
        refuse_rate(r, cf, hit[over_k].rule, hit[over_k].key, over - now);
        return MOAT_DONE;
    }
    rate_job *j = moat_xcalloc(1, sizeof(*j) + n * sizeof(rate_hit));
    moat__job_init(&j->job, r, rate_job_free);
    j->rt = moat__runtime_ref(r->rt);
    j->n = n;
    memcpy(j->hit, hit, n * sizeof(*hit));
    if (moat__stage_offload(r, &j->job, rate_work, rate_done) < 0) {
        fail_closed(r, cf, MOAT_EINTERNAL);
        return MOAT_DONE;
    }
    return MOAT_AGAIN;
}

static int rate_head(moat_request *r)
{
    return rate_check(r, false);
}

static int rate_user_head(moat_request *r)
{
    return rate_check(r, true);
}

const moat_stage moat__stage_rate = {
    .name = "rate",
    .on_request_head = rate_head,
};

const moat_stage moat__stage_rate_user = {
    .name = "rate_user",
    .event = "rate",
    .on_request_head = rate_user_head,
};
