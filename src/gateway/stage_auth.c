/* stage_auth.c - authentication at the gateway: [[auth.rules]] decided for
 * every request (the session or bearer token read, through a cache of
 * recent sessions), the identity headers the application receives, and the
 * login portal under /.moat/ handed to src/auth/portal. Identity headers a
 * client sends are always removed (unless the peer is a trusted proxy and no
 * rule needs moat to authenticate). Every store call runs on the libuv
 * thread pool (uv_queue_work): the stage answers MOAT_AGAIN and resumes the
 * pipeline, or answers, when the job is back. A request that ends while its
 * job runs leaves the job to free itself (arena defer). Fail closed: a store
 * error answers 503. Sessions, enrollment and the portal's pages are
 * src/auth's; the tables are src/store's. */
#include <http_parser.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "auth/portal/portal.h"
#include "internal.h"
#include "store/store.h"

/* Headers through which a proxy in front of an application tells it who the
 * user is (Authelia, oauth2-proxy, Apache's mod_auth, Grafana's and Kong's
 * auth proxies, Cloudflare Access, Google IAP, AWS ALB, Azure App Service),
 * and moat's own: a client's are removed before moat sets its own, in any
 * case; a trailing '*' is a prefix. Underscore spellings are dropped for
 * every header by the client parser already (WSGI would merge them).
 * docs/auth.md lists them; auth.strip_headers adds more. */
static const char *const identity_headers[] = {
    "Remote-*",
    "X-Remote-User",
    "X-Remote-Groups",
    "X-Remote-Email",
    "X-User",
    "X-User-Id",
    "X-User-Name",
    "X-User-Email",
    "X-User-Groups",
    "X-User-Roles",
    "X-Email",
    "X-Groups",
    "X-Auth-User",
    "X-Webauth-*",
    "X-Authenticated-*",
    "X-Forwarded-User",
    "X-Forwarded-Email",
    "X-Forwarded-Groups",
    "X-Forwarded-Preferred-Username",
    "X-Forwarded-Access-Token",
    "X-Auth-Request-*",
    "Cf-Access-Authenticated-User-Email",
    "Cf-Access-Jwt-Assertion",
    "X-Goog-Authenticated-User-*",
    "X-Goog-Iap-Jwt-Assertion",
    "X-Amzn-Oidc-*",
    "X-Ms-Client-Principal*",
    "X-Moat-*",
};

/* Headers that make an application run another method than the request's
 * (werkzeug's and Django's snippets, Symfony, Laravel, Express's
 * method-override): the method [[auth.rules]] matched must be the one the
 * application runs. A `_method` form or query field is the application's
 * own business: moat does not rewrite bodies (docs/auth.md). */
static const char *const method_override_headers[] = {
    "X-HTTP-Method-Override",
    "X-HTTP-Method",
    "X-Method-Override",
};

bool moat__auth_portal_path(const char *path)
{
    return moat_portal_match(path) != MOAT_PORTAL_NONE;
}

/* ---- the job run on the thread pool --------------------------------------
 * One per request that needs the store: a rule check (who the session or
 * token is), or a portal request (its job, stepped by src/auth/portal). */

typedef struct auth_job {
    uv_work_t work;
    moat_request *r;  /* NULL once the request is gone (the job frees itself) */
    moat_runtime *rt; /* owned ref: the store and settings */
    bool queued;
    moat_portal_job *portal; /* a portal request's, else NULL: a rule check */
    moat_buf body;           /* a portal POST's body while it is read */
    bool reading;
    /* a rule check */
    const char *policy; /* the rule's policy, borrowed from rt->cfg */
    moat_session_creds creds;
    moat_session_who who;
    int err;          /* a store error: refuse (503) */
    uint64_t version; /* the store's data version before the lookup */
    bool version_ok;
} auth_job;

static void job_free(auth_job *job)
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
    auth_job *job = arg;
    job->r = NULL;
    if (!job->queued) job_free(job);
}

static void work_cb(uv_work_t *w)
{
    auth_job *job = w->data;
    if (job->portal) {
        moat_portal_run(job->portal, job->rt->store, job->rt->cfg);
        return;
    }
    if (job->rt->store_watch)
        job->version_ok = moat_store_data_version(job->rt->store_watch, &job->version) == 0;
    job->err = moat_session_resolve(job->rt->store, job->rt->cfg, &job->creds, &job->who);
}

/* ---- answers ----------------------------------------------------------- */

static void event(moat_request *r, const char *name, const char *user, const char *reason,
                  int status, const moat_seclog_field *f, size_t nf)
{
    if (!moat__seclog) return;
    const moat_seclog_event_info *info = moat_seclog_event_lookup(name);
    const char *key = NULL;
    if (strcmp(name, "authz.denied") == 0)
        key = "auth.rules";
    else if (strncmp(name, "auth.mfa.", 9) == 0)
        key = "auth.mfa_failures";
    else if (strcmp(name, "auth.token.failure") == 0)
        key = "auth.address_failures";
    else if (strncmp(name, "auth.", 5) == 0 && strcmp(name, "auth.login.success") != 0)
        key = "auth.lockout_failures";
    else if (strcmp(name, "session.expired") == 0)
        key = "auth.session_idle";
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
        .config_key = key,
        .status = status,
        .fields = f,
        .nfields = nf,
    };
    moat_seclog_record(moat__seclog, &ev);
}

static void events(moat_request *r, const moat_auth_event *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        event(r, e[i].name, e[i].user, e[i].reason, e[i].status, e[i].fields, e[i].nfields);
}

/* The client used HTTPS: TLS to moat, or a trusted proxy that says so (the
 * forwarded stage, which sets r->https for that case, runs after this one). */
static bool tls_cookies(moat_request *r)
{
    if (r->https) return true;
    const moat_config *cfg = r->rt->cfg;
    moat_http_header *xfp = moat_http_head_find(r->head, "X-Forwarded-Proto");
    return xfp && moat_strieq_lit(xfp->value, xfp->value_len, "https") && r->c->peer[0] &&
           moat_ip_in_list(r->c->peer, cfg->trusted_proxies.items, cfg->trusted_proxies.len);
}

static bool wants_json(moat_request *r)
{
    moat_http_header *x = moat_http_head_find(r->head, "X-Requested-With");
    if (x && moat_strieq_lit(x->value, x->value_len, "XMLHttpRequest")) return true;
    return moat__wants_json(r->head);
}

static void answer(moat_request *r, int status, const char *reason, const char *ctype,
                   const moat_buf *body, const char *const *hdrs, size_t nhdrs)
{
    r->internal = true;
    moat__client_respond(r, status, reason, ctype, body ? body->data : "", body ? body->len : 0,
                         hdrs, nhdrs);
}

/* moat's 403 page (HTML or JSON) as the answer. */
static void forbid(moat_request *r, const char *reason, bool json, const char *const *hdrs,
                   size_t nhdrs)
{
    moat_buf b;
    moat_buf_init(&b);
    moat__error_page(&b, r->rt->page_template, 403, r->id, json);
    answer(r, 403, reason, json ? "application/json" : "text/html; charset=utf-8", &b, hdrs, nhdrs);
    moat_buf_free(&b);
}

static void fail_closed(moat_request *r, int err)
{
    moat_error("auth store: %s", moat_strerror(err));
    moat__refusal(r, "authz.denied", "auth", "store.url");
    moat__client_respond_error(r, 503, "the auth store failed: refused (fail closed)");
}

/* Runs the job on the thread pool, then after on the loop; a job that
 * cannot be queued fails closed (MOAT_DONE). */
static void after_work_cb(uv_work_t *w, int status);

static int queue(moat_request *r, auth_job *job)
{
    job->queued = true;
    job->work.data = job;
    if (uv_queue_work(&r->c->w->loop, &job->work, work_cb, after_work_cb) < 0) {
        job->queued = false;
        fail_closed(r, MOAT_EINTERNAL);
        return MOAT_DONE;
    }
    return MOAT_AGAIN;
}

static auth_job *job_new(moat_request *r)
{
    auth_job *job = moat_xcalloc(1, sizeof(*job));
    job->r = r;
    job->rt = moat__runtime_ref(r->rt);
    moat_buf_init(&job->body);
    moat_arena_defer(r->arena, job_release, job);
    return job;
}

/* ---- the portal ---------------------------------------------------------- */

static void send_reply(moat_request *r, moat_portal_reply *rep)
{
    events(r, rep->events, rep->nevents);
    switch (rep->kind) {
    case MOAT_PORTAL_PAGE:
        if (rep->location) r->location = rep->location;
        answer(r, rep->status, rep->reason, rep->ctype, &rep->body, rep->hdrs, rep->nhdrs);
        break;
    case MOAT_PORTAL_REFUSE:
        if (rep->refusal) moat__refusal(r, rep->refusal, "auth", NULL);
        moat__client_respond_error(r, rep->status, rep->reason);
        break;
    case MOAT_PORTAL_FORBID:
        forbid(r, rep->reason, rep->json, NULL, 0);
        break;
    case MOAT_PORTAL_FAIL:
        fail_closed(r, rep->err);
        break;
    }
    moat_portal_reply_free(rep);
}

static void refuse_too_big(moat_request *r)
{
    moat__refusal(r, "http.rejected", "auth", NULL);
    moat__client_respond_error(r, 413, "portal form over 16 KiB");
}

static int portal_read(moat_request *r, auth_job *job);

/* The portal's next step: answer, read the body or run the job. */
static int portal_step(moat_request *r, auth_job *job, const char *body, size_t len)
{
    char addr[INET6_ADDRSTRLEN];
    moat__auth_client_addr(r->rt->cfg, r->c->peer, r->head, addr, sizeof(addr));
    moat_portal_req req = {
        .head = r->head,
        .arena = r->arena,
        .cfg = r->rt->cfg,
        .tls = tls_cookies(r),
        .json = wants_json(r),
        .addr = addr,
        .body = body,
        .body_len = len,
    };
    moat_portal_reply rep;
    switch (moat_portal_answer(job->portal, &req, &rep)) {
    case MOAT_PORTAL_RUN:
        moat_portal_reply_free(&rep);
        return queue(r, job);
    case MOAT_PORTAL_READ:
        moat_portal_reply_free(&rep);
        return portal_read(r, job);
    default:
        send_reply(r, &rep);
        return MOAT_DONE;
    }
}

/* A portal POST: its body from the WAF (which read it already), from the
 * client, or none. */
static int portal_read(moat_request *r, auth_job *job)
{
    if (r->head->content_length > MOAT_PORTAL_BODY_MAX) {
        refuse_too_big(r);
        return MOAT_DONE;
    }
    if (r->body_held) {
        const moat_buf *b = r->body_held;
        r->body_held = NULL;
        if (r->state != REQ_DONE || b->len > MOAT_PORTAL_BODY_MAX) {
            refuse_too_big(r);
            return MOAT_DONE;
        }
        return portal_step(r, job, b->data ? b->data : "", b->len);
    }
    if (r->state != REQ_BODY) return portal_step(r, job, "", 0);
    job->reading = true; /* not r->internal: that is stage_moat's CSP report */
    moat__client_continue(r->c);
    return MOAT_AGAIN;
}

static int portal_head(moat_request *r, moat_portal_route p)
{
    auth_job *job = job_new(r);
    job->portal = moat_portal_job_new(p);
    r->auth = job;
    return portal_step(r, job, NULL, 0);
}

/* ---- the rules ----------------------------------------------------------- */

static void expired_cookie(moat_request *r, const auth_job *job, const char **hdrs, size_t *n)
{
    if (!job || !job->who.expired) return;
    bool tls = tls_cookies(r);
    hdrs[0] = "Set-Cookie";
    hdrs[1] = moat_session_set_cookie(
        r->arena, tls, tls ? MOAT_SESSION_COOKIE_TLS : MOAT_SESSION_COOKIE_PLAIN, "", 0, "Lax");
    *n = 1;
}

static const char *login_location(moat_request *r, const char *which, const char *rd)
{
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_puts(&b, which);
    if (rd) {
        moat_buf_puts(&b, "?rd=");
        moat_http_url_escape(&b, rd);
    }
    const char *loc = moat_arena_strdup(r->arena, b.data);
    moat_buf_free(&b);
    return loc;
}

/* An anonymous client, or a user without the right, on a protected path. */
static void deny(moat_request *r, auth_job *job, const char *policy, bool authed)
{
    const char *h[4];
    size_t nh = 0;
    expired_cookie(r, job, h, &nh);
    const char *user = job && job->who.authed ? job->who.user.name : NULL;
    moat_seclog_field f[1] = {{"policy", policy}};
    bool token = job && job->who.token;
    bool json = wants_json(r) || token;
    const char *target = r->head->target;
    if (strcmp(policy, "deny") == 0 || (authed && strncmp(policy, "role:", 5) == 0) ||
        (authed && token)) {
        event(r, "authz.denied", user, "the access rules do not allow this user this path", 403, f,
              1);
        forbid(r, "access rules", json, h, nh);
        return;
    }
    event(r, "authz.denied", user,
          authed ? "a second factor is needed for this path" : "login needed for this path",
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
        answer(r, 401, msg, "application/json", &b, h, nh);
        moat_buf_free(&b);
        return;
    }
    const char *which = "/.moat/login";
    if (authed) which = job->who.totp ? "/.moat/mfa" : "/.moat/enroll";
    r->location = login_location(r, which, moat_portal_rd_ok(target) ? target : NULL);
    answer(r, r->head->method_id == HTTP_GET || r->head->method_id == HTTP_HEAD ? 302 : 303,
           "auth redirect", "text/html; charset=utf-8", NULL, h, nh);
}

static bool has_role(const moat_user *u, const char *role)
{
    for (size_t i = 0; i < u->nroles; i++)
        if (strcmp(u->roles[i], role) == 0) return true;
    return false;
}

/* The identity the application receives. */
static void identity(moat_request *r, auth_job *job)
{
    const moat_user *u = &job->who.user;
    moat_buf groups;
    moat_buf_init(&groups);
    r->auth_user = true;
    for (size_t i = 0; i < u->nroles; i++) {
        if (i) moat_buf_putc(&groups, ',');
        moat_buf_puts(&groups, u->roles[i]);
    }
    moat_http_head_set(r->head, r->arena, "Remote-User", u->name);
    moat_http_head_set(r->head, r->arena, "Remote-Groups", groups.len ? groups.data : "");
    const char *secret = r->rt->cfg->auth.identity_secret;
    if (secret && secret[0]) {
        bool mfa = !job->who.token && job->who.sess.mfa;
        char *msg = moat_arena_printf(r->arena, "v1;user=%s;groups=%s;mfa=%d;via=%s;ts=%lld",
                                      u->name, groups.len ? groups.data : "", mfa ? 1 : 0,
                                      job->who.token ? "token" : "session", (long long)time(NULL));
        unsigned char mac[32];
        unsigned int maclen = 0;
        HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, strlen(msg),
             mac, &maclen);
        char hex[65];
        for (unsigned i = 0; i < maclen && i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", mac[i]);
        moat_http_head_set(r->head, r->arena, "X-Moat-Identity",
                           moat_arena_printf(r->arena, "%s;sig=%s", msg, hex));
    }
    moat_buf_free(&groups);
}

/* Applies the rule's policy to who the request is: MOAT_PASS (identity
 * headers set) or MOAT_DONE (answered). */
static int decide(moat_request *r, auth_job *job)
{
    const char *policy = job->policy;
    const moat_session_who *w = &job->who;
    if (w->expired)
        event(r, "session.expired", NULL, "idle or absolute session timeout", 0, NULL, 0);
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
        pass = has_role(&w->user, policy + 5);
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

static void cache_put(moat_runtime *rt, const auth_job *job)
{
    const moat_session_who *w = &job->who;
    if (!rt->auth_cache || !job->version_ok || !w->authed || w->token || w->expired) return;
    moat__auth_cache *c = rt->auth_cache;
    pthread_mutex_lock(&c->mu);
    cache_entry *e = &c->slots[slot_of(job->creds.sid_hash)];
    entry_clear(e);
    memcpy(e->id_hash, job->creds.sid_hash, sizeof(e->id_hash));
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
static bool cache_get(moat_request *r, auth_job *job)
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

/* ---- back from the pool --------------------------------------------------- */

static void after_check(moat_request *r, auth_job *job)
{
    moat_auth_event ev[3];
    events(r, ev, moat_session_token_events(&job->creds, &job->who, ev));
    cache_put(r->rt, job);
    if (decide(r, job) == MOAT_PASS) moat__pipeline_resume(r, MOAT_PASS);
}

/* A job is back: one whose request went away is freed, a failed one fails
 * closed, a portal job takes its next step. */
static void after_work_cb(uv_work_t *w, int status)
{
    auth_job *job = w->data;
    job->queued = false;
    moat_request *r = job->r;
    if (!r) {
        job_free(job);
        return;
    }
    if (status < 0) {
        fail_closed(r, MOAT_EINTERNAL);
        return;
    }
    if (job->portal) {
        (void)portal_step(r, job, NULL, 0);
        return;
    }
    if (job->err) {
        fail_closed(r, job->err);
        return;
    }
    after_check(r, job);
}

/* ---- what the client may not send, what the response may not be -------- */

/* Does the header name[0..n) match entry: a name, or a prefix ending in
 * '*' (any case)? */
static bool header_listed(const char *entry, const char *name, size_t n)
{
    size_t el = strlen(entry);
    if (el && entry[el - 1] == '*')
        return n >= el - 1 && moat_streq_nocase(entry, el - 1, name, el - 1);
    return moat_streq_nocase(entry, el, name, n);
}

/* Removes every header the client sent that claims an identity. The
 * portal's own X-Moat-Csrf stays on portal requests (never forwarded). */
static void strip_identity(moat_request *r)
{
    const moat_strlist *more = &r->rt->cfg->auth.strip_headers;
    moat_http_head *h = r->head;
    bool on_portal = r->rt->store && moat_portal_match(r->path) != MOAT_PORTAL_NONE;
    size_t w = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        const moat_http_header *f = &h->headers[i];
        bool drop = false;
        if (on_portal && moat_strieq_lit(f->name, f->name_len, "X-Moat-Csrf")) {
            h->headers[w++] = *f;
            continue;
        }
        for (size_t k = 0; k < MOAT_ARRAY_LEN(identity_headers) && !drop; k++)
            drop = header_listed(identity_headers[k], f->name, f->name_len);
        for (size_t k = 0; k < more->len && !drop; k++)
            drop = header_listed(more->items[k], f->name, f->name_len);
        if (!drop) h->headers[w++] = *f;
    }
    h->nheaders = w; /* head.c's name filter may keep stale bits: lookups only scan */
}

static void strip_method_override(moat_request *r)
{
    if (r->rt->cfg->auth.keep_method_override) return;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(method_override_headers); i++)
        moat_http_head_remove(r->head, method_override_headers[i]);
}

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
    strip_method_override(r);
    if (!r->rt->store && trusted) return MOAT_PASS;
    strip_identity(r);
    if (!r->rt->store) return MOAT_PASS;
    const char *path = r->path ? r->path : "/";
    moat_portal_route p = moat_portal_match(path);
    if (p != MOAT_PORTAL_NONE) return portal_head(r, p);
    /* The parsed Host (lower-case, no port, no trailing dot): a rule for
     * "admin.example.com" must also hold for "Admin.Example.com.:443". */
    const char *policy = moat__auth_policy(cfg, r->head->host_name, path, r->head->method);
    r->auth_guarded = strcmp(policy, "public") != 0;
    if (strcmp(policy, "deny") == 0) {
        deny(r, NULL, policy, false);
        return MOAT_DONE;
    }
    auth_job *job = job_new(r);
    job->policy = policy;
    moat_session_creds_read(&job->creds, r->head, r->arena, tls_cookies(r));
    moat__auth_client_addr(cfg, c->peer, r->head, job->creds.addr, sizeof(job->creds.addr));
    job->creds.now = (int64_t)time(NULL);
    if (!job->creds.has_sid && !job->creds.has_tok) {
        /* Nothing to look up: no pool round trip. */
        if (strcmp(policy, "public") == 0) return MOAT_PASS;
        deny(r, NULL, policy, false);
        return MOAT_DONE;
    }
    if (cache_get(r, job)) return decide(r, job);
    return queue(r, job);
}

static int auth_body(moat_request *r, const char *data, size_t len)
{
    auth_job *job = r->auth;
    if (!job || !job->reading) return MOAT_PASS;
    if (job->body.len + len > MOAT_PORTAL_BODY_MAX) {
        job->reading = false;
        refuse_too_big(r);
        return MOAT_DONE;
    }
    moat_buf_append(&job->body, data, len);
    return MOAT_PASS;
}

static int auth_end(moat_request *r)
{
    auth_job *job = r->auth;
    if (!job || !job->reading) return MOAT_PASS;
    job->reading = false;
    int rc = portal_step(r, job, job->body.data ? job->body.data : "", job->body.len);
    return rc == MOAT_AGAIN ? MOAT_PASS : rc;
}

const moat_stage moat__stage_auth = {
    .name = "auth",
    .on_request_head = auth_head,
    .on_request_body = auth_body,
    .on_request_end = auth_end,
    .on_response_head = auth_response_head,
};
