/* stage_auth.c - authentication at the gateway: [[auth.rules]] decided for
 * every request (who the session or bearer token is, through a cache of
 * recent sessions), and the identity headers: those a client sends are
 * always removed (unless the peer is a trusted proxy and no rule needs moat
 * to authenticate), moat's are set for a user a rule let through. The
 * store work (src/auth's session.c) runs on the thread pool as an auth job
 * (auth_job.c): the stage answers MOAT_AGAIN and resumes the pipeline, or
 * answers, when it is back. The portal under /.moat/ is handed to
 * auth_portal.c (src/auth/portal behind it). Fail closed: a store error
 * answers 503. */
#include <http_parser.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "stage_auth.h"

/* ---- the rules ----------------------------------------------------------- */

static void expired_cookie(moat_request *r, const moat__auth_job *job, const char **hdrs, size_t *n)
{
    if (!job || !job->who.expired) return;
    bool tls = moat__auth_tls(r);
    hdrs[0] = "Set-Cookie";
    hdrs[1] = moat_session_set_cookie(
        r->arena, tls, tls ? MOAT_SESSION_COOKIE_TLS : MOAT_SESSION_COOKIE_PLAIN, "", 0, "Lax");
    *n = 1;
}

/* "role:NAME+mfa": the role, in a session that presented a second factor. */
static bool role_needs_mfa(const char *policy)
{
    size_t n = strlen(policy);
    return n > 9 && strcmp(policy + n - 4, "+mfa") == 0;
}

/* Whether u has the role that role (from a policy, "NAME" or "NAME+mfa")
 * names. */
static bool has_role(const moat_user *u, const char *role)
{
    size_t n = strlen(role);
    if (n > 4 && strcmp(role + n - 4, "+mfa") == 0) n -= 4;
    for (size_t i = 0; i < u->nroles; i++)
        if (strlen(u->roles[i]) == n && strncmp(u->roles[i], role, n) == 0) return true;
    return false;
}

/* An anonymous client, or a user without the right, on a protected path. */
static void deny(moat_request *r, moat__auth_job *job, const char *policy, bool authed)
{
    const char *h[4];
    size_t nh = 0;
    expired_cookie(r, job, h, &nh);
    const char *user = job && job->who.authed ? job->who.user.name : NULL;
    moat_seclog_field f[1] = {{"policy", policy}};
    bool token = job && job->who.token;
    bool json = moat__auth_wants_json(r) || token;
    const char *target = r->head->target;
    /* role:NAME+mfa with the role but not the factor: a step-up, not a 403 */
    bool role_denied = authed && strncmp(policy, "role:", 5) == 0 &&
                       !(role_needs_mfa(policy) && job && has_role(&job->who.user, policy + 5));
    if (strcmp(policy, "deny") == 0 || role_denied || (authed && token)) {
        moat__auth_event(r, "authz.denied", user,
                         "the access rules do not allow this user this path", 403, f, 1);
        moat__auth_forbid(r, "access rules", json, h, nh);
        return;
    }
    if (!authed && job && job->creds.has_tok && job->who.tok.status == MOAT_LOGIN_THROTTLED) {
        /* A bearer token from a throttled client address (not even looked
         * at): 429 with when the limiter would check one again. */
        moat__auth_event(r, "authz.denied", NULL, "bearer token from a throttled address", 429, f,
                         1);
        h[2 * nh] = "Retry-After";
        h[2 * nh + 1] = moat_arena_printf(
            r->arena, "%lld", (long long)moat_login_retry_after(&job->who.tok, job->creds.now));
        nh++;
        moat_buf b;
        moat_buf_init(&b);
        moat_buf_puts(&b, "{\"error\":\"too many failed attempts\"}");
        moat__auth_answer(r, 429, "too many failed attempts", "application/json", &b, h, nh);
        moat_buf_free(&b);
        return;
    }
    moat__auth_event(r, "authz.denied", user,
                     authed ? "a second factor is needed for this path"
                            : "login needed for this path",
                     json ? 401 : 302, f, 1);
    if (json) {
        h[2 * nh] = "WWW-Authenticate";
        h[2 * nh + 1] = authed ? "Bearer realm=\"moat\", error=\"insufficient_user_authentication\""
                               : "Bearer realm=\"moat\"";
        nh++;
        moat_buf b;
        moat_buf_init(&b);
        const char *msg = authed ? "second factor needed" : "login needed";
        moat_buf_puts(&b, "{\"error\":");
        moat_buf_put_json_string(&b, msg, strlen(msg));
        moat_buf_puts(&b, "}");
        moat__auth_answer(r, 401, msg, "application/json", &b, h, nh);
        moat_buf_free(&b);
        return;
    }
    const char *which = "/.moat/login";
    if (authed) which = job->who.totp ? "/.moat/mfa" : "/.moat/enroll";
    r->location = moat_portal_page_url(r->arena, which, target);
    moat__auth_answer(r,
                      r->head->method_id == HTTP_GET || r->head->method_id == HTTP_HEAD ? 302 : 303,
                      "auth redirect", "text/html; charset=utf-8", NULL, h, nh);
}

/* The identity the application receives. */
static void identity(moat_request *r, moat__auth_job *job)
{
    const moat_session_who *w = &job->who;
    moat_auth_identity id = {
        .secret = r->rt->cfg->auth.identity_secret,
        .mfa = !w->token && w->sess.mfa,
        .token = w->token,
        .now = (int64_t)time(NULL),
    };
    r->auth_user = true;
    r->auth_uid = w->user.id;
    if (w->token) r->auth_token = moat_arena_strdup(r->arena, job->creds.tok_hash);
    moat_auth_identity_set(r->head, r->arena, &w->user, &id);
}

/* Applies the rule's policy to who the request is: MOAT_PASS (identity
 * headers set) or MOAT_DONE (answered). */
static int decide(moat_request *r, moat__auth_job *job)
{
    const char *policy = job->policy;
    const moat_session_who *w = &job->who;
    if (w->expired)
        moat__auth_event(r, "session.expired", NULL, "idle or absolute session timeout", 0, NULL,
                         0);
    bool pass = false;
    if (strcmp(policy, "public") == 0) {
        pass = true;
    } else if (!w->authed) {
        deny(r, job, policy, false);
        return MOAT_DONE;
    } else if (strcmp(policy, "authenticated") == 0) {
        pass = true;
    } else if (strcmp(policy, "mfa") == 0) {
        pass = !w->token && w->sess.mfa;
    } else if (strncmp(policy, "role:", 5) == 0) {
        pass = has_role(&w->user, policy + 5) &&
               (!role_needs_mfa(policy) || (!w->token && w->sess.mfa));
    }
    if (!pass) {
        deny(r, job, policy, true);
        return MOAT_DONE;
    }
    if (w->authed) identity(r, job);
    return MOAT_PASS;
}

/* ---- the session cache --------------------------------------------------
 * Looking a session up on the thread pool for every request costs a round
 * trip through the pool; a session read in the last CACHE_TTL_MS is answered
 * from here instead, on the loop, as long as nothing was committed to the
 * store since (PRAGMA data_version on a second connection, which changes
 * with every commit of moat's own connection and of `moat user` alike: a
 * logout, lock, role change or token revocation empties the cache at once).
 * The touch that keeps a session's idle timer going happens on each refill. */
#define CACHE_SLOTS 1024
#define CACHE_TTL_MS 15000

typedef struct cache_entry {
    char id_hash[MOAT_SECRET_HASH_LEN + 1]; /* "" = empty slot */
    uint64_t version, filled_ms;
    moat_session sess;
    int64_t user_id;
    char *name;   /* owned */
    char **roles; /* owned */
    size_t nroles;
    bool totp;
} cache_entry;

struct moat__auth_cache {
    pthread_mutex_t mu;
    cache_entry slots[CACHE_SLOTS];
};

moat__auth_cache *moat__auth_cache_new(void)
{
    moat__auth_cache *c = moat_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void entry_clear(cache_entry *e)
{
    if (e->id_hash[0]) moat__metrics_gauge(MOAT__GAUGE_SESSIONS, -1);
    free(e->name);
    for (size_t i = 0; i < e->nroles; i++)
        free(e->roles[i]);
    free(e->roles);
    memset(e, 0, sizeof(*e));
}

void moat__auth_cache_free(moat__auth_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        entry_clear(&c->slots[i]);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static size_t slot_of(const char *id_hash)
{
    size_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h * 16 + (size_t)(id_hash[i] <= '9' ? id_hash[i] - '0' : id_hash[i] - 'a' + 10);
    return h % CACHE_SLOTS;
}

static char **roles_dup(char *const *roles, size_t n)
{
    char **out = n ? moat_xcalloc(n, sizeof(char *)) : NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = moat_xstrdup(roles[i]);
    return out;
}

static void cache_put(moat_runtime *rt, const moat__auth_job *job)
{
    const moat_session_who *w = &job->who;
    if (!rt->auth_cache || !job->version_ok || !w->authed || w->token || w->expired) return;
    moat__auth_cache *c = rt->auth_cache;
    pthread_mutex_lock(&c->mu);
    cache_entry *e = &c->slots[slot_of(job->creds.sid_hash)];
    entry_clear(e);
    memcpy(e->id_hash, job->creds.sid_hash, sizeof(e->id_hash));
    moat__metrics_gauge(MOAT__GAUGE_SESSIONS, +1);
    e->version = job->version;
    e->filled_ms = moat_now_ms();
    e->sess = w->sess;
    e->user_id = w->user.id;
    e->name = moat_xstrdup(w->user.name);
    e->roles = roles_dup(w->user.roles, w->user.nroles);
    e->nroles = w->user.nroles;
    e->totp = w->totp;
    pthread_mutex_unlock(&c->mu);
}

/* The store's data version as this worker's loop last read it: read again
 * whenever the loop's clock (uv_now, per iteration, in ms) moved, so a
 * burst of requests within one millisecond shares one read. */
static _Thread_local const moat_runtime *tl_rt;
static _Thread_local uint64_t tl_version, tl_at;

static int loop_version(moat_request *r, uint64_t *version)
{
    uint64_t now = uv_now(&r->c->w->loop);
    if (tl_rt == r->rt && tl_at == now) {
        *version = tl_version;
        return 0;
    }
    int rc = moat_store_data_version(r->rt->store_watch, version);
    if (rc < 0) return rc;
    tl_rt = r->rt;
    tl_at = now;
    tl_version = *version;
    return 0;
}

/* Fills job from the cache: true on a hit. */
static bool cache_get(moat_request *r, moat__auth_job *job)
{
    moat_runtime *rt = r->rt;
    uint64_t version;
    if (!rt->auth_cache || !job->creds.has_sid || loop_version(r, &version) < 0) return false;
    moat__auth_cache *c = rt->auth_cache;
    int64_t idle = (int64_t)(rt->cfg->auth.session_idle_ms / 1000);
    int64_t now = job->creds.now;
    moat_session_who *w = &job->who;
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    cache_entry *e = &c->slots[slot_of(job->creds.sid_hash)];
    if (e->id_hash[0] && strcmp(e->id_hash, job->creds.sid_hash) == 0 && e->version == version &&
        moat_now_ms() - e->filled_ms < CACHE_TTL_MS && now < e->sess.expires &&
        now - e->sess.last_seen < idle) {
        w->sess = e->sess;
        w->user.id = e->user_id;
        w->user.name = moat_xstrdup(e->name);
        w->user.roles = roles_dup(e->roles, e->nroles);
        w->user.nroles = e->nroles;
        w->totp = e->totp;
        w->authed = true;
        hit = true;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

/* ---- the check on the pool, and back ------------------------------------- */

static void check_run(moat__auth_job *job)
{
    if (job->rt->store_watch)
        job->version_ok = moat_store_data_version(job->rt->store_watch, &job->version) == 0;
    job->err = moat_session_resolve(job->rt->store, job->rt->cfg, &job->creds, &job->who);
}

static void check_back(moat_request *r, moat__auth_job *job)
{
    if (job->err && strcmp(job->policy, "public") == 0) {
        /* A public path needs no one: it goes on, anonymous. */
        moat__auth_store_unavailable(r);
        moat__pipeline_resume(r, MOAT_PASS);
        return;
    }
    if (job->err) {
        moat__auth_fail_closed(r, job->err);
        return;
    }
    moat__auth_store_available(r);
    moat_auth_event ev[3];
    moat__auth_events(r, ev, moat_session_token_events(&job->creds, &job->who, ev));
    cache_put(r->rt, job);
    if (decide(r, job) == MOAT_PASS) moat__pipeline_resume(r, MOAT_PASS);
}

/* ---- what the response may not be ----------------------------------------- */

/* Is directive one of the Cache-Control value v[0..n)'s directives? */
static bool cc_has(const char *v, size_t n, const char *directive)
{
    size_t dl = strlen(directive), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && v[i] != ',' && v[i] != '=' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (i - start == dl && moat_streq_nocase(v + start, dl, directive, dl)) return true;
        while (i < n && v[i] != ',') /* skip a value, quoted commas aside: rare, and a miss
                                        only adds a Vary */
            i++;
    }
    return false;
}

/* The answer to a request with a user's credentials, or to one a guarding
 * rule let through, is that user's: no cache may keep it for another. An
 * application's own Cache-Control stays (its max-age, its no-cache); on a
 * guarded path, one that lets shared caches store the response gets Vary:
 * Cookie, Authorization, so a cache that stored it hands it only to a
 * request with the same credentials, never to an anonymous one. */
static int auth_response_head(moat_request *r, moat_http_head *resp)
{
    if (!(r->auth_user || r->auth_guarded) || !r->rt->cfg->auth.cache_control) return MOAT_PASS;
    if (!moat_http_head_find(resp, "Cache-Control")) {
        moat_http_head_set_static(resp, r->arena, "Cache-Control", "private, no-store");
        return MOAT_PASS;
    }
    if (!r->auth_guarded) return MOAT_PASS;
    bool shared = true;
    for (size_t i = 0; i < resp->nheaders && shared; i++) {
        const moat_http_header *f = &resp->headers[i];
        if (moat_strieq_lit(f->name, f->name_len, "Cache-Control") &&
            (cc_has(f->value, f->value_len, "private") ||
             cc_has(f->value, f->value_len, "no-store")))
            shared = false;
    }
    if (shared) moat_http_head_add_static(resp, r->arena, "Vary", "Cookie, Authorization");
    return MOAT_PASS;
}

static int auth_head(moat_request *r)
{
    const moat_config *cfg = r->rt->cfg;
    moat_client *c = r->c;
    bool trusted = c->peer[0] &&
                   moat_ip_in_list(c->peer, cfg->trusted_proxies.items, cfg->trusted_proxies.len);
    if (!cfg->auth.keep_method_override) moat_auth_method_override_strip(r->head);
    if (!r->rt->store && trusted) return MOAT_PASS;
    /* The portal's own X-Moat-Csrf stays on its requests (never forwarded). */
    moat_auth_identity_strip(r->head, &cfg->auth.strip_headers,
                             r->rt->store && moat__auth_portal_path(r->path));
    if (!r->rt->store) return MOAT_PASS;
    const char *path = r->path ? r->path : "/";
    moat_portal_route p = moat_portal_match(path);
    if (p != MOAT_PORTAL_NONE) return moat__auth_portal_head(r, p);
    /* The parsed Host (lower-case, no port, no trailing dot): a rule for
     * "admin.example.com" must also hold for "Admin.Example.com.:443". */
    const char *policy = moat__auth_policy(cfg, r->head->host_name, path, r->head->method);
    r->auth_guarded = strcmp(policy, "public") != 0;
    if (strcmp(policy, "deny") == 0) {
        deny(r, NULL, policy, false);
        return MOAT_DONE;
    }
    moat__auth_job *job = moat__auth_job_new(r);
    job->policy = policy;
    job->run = check_run;
    job->back = check_back;
    moat_session_creds_read(&job->creds, r->head, r->arena, moat__auth_tls(r));
    moat__auth_client_addr(cfg, c->peer, r->head, job->creds.addr, sizeof(job->creds.addr));
    job->creds.now = (int64_t)time(NULL);
    if (!job->creds.has_sid && !job->creds.has_tok) {
        /* Nothing to look up: no pool round trip. */
        if (strcmp(policy, "public") == 0) return MOAT_PASS;
        deny(r, NULL, policy, false);
        return MOAT_DONE;
    }
    if (cache_get(r, job)) return decide(r, job);
    return moat__auth_job_queue(r, job);
}

const moat_stage moat__stage_auth = {
    .name = "auth",
    .on_request_head = auth_head,
    .on_request_body = moat__auth_portal_body,
    .on_request_end = moat__auth_portal_end,
    .on_response_head = auth_response_head,
};
