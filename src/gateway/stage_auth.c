/* stage_auth.c - authentication at the gateway: the login portal under
 * /.moat/ (HTML forms and a JSON API), sessions in a cookie, bearer tokens,
 * [[auth.rules]] and the identity headers the application receives.
 * Identity headers a client sends are always removed (unless the peer is a
 * trusted proxy and no rule needs moat to authenticate). Every store call and
 * every password hash runs on the libuv thread pool (uv_queue_work): the
 * stage answers MOAT_AGAIN and resumes the pipeline, or answers, when the
 * job is back. A request that ends while its job runs leaves the job to free
 * itself (arena defer). Fail closed: a store error answers 503. The password
 * and TOTP logic itself is src/auth's; the tables are src/store's. */
#include <http_parser.h>
#include <jansson.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "internal.h"
#include "store/store.h"

#define BODY_MAX (16 * 1024)
#define COOKIE_TLS "__Host-moat_session"
#define COOKIE_PLAIN "moat_session"
#define CSRF_TLS "__Host-moat_csrf"
#define CSRF_PLAIN "moat_csrf"

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

typedef enum {
    P_NONE,       /* not a portal request: enforce the rules */
    P_ACCOUNT,    /* GET /.moat/ */
    P_LOGIN,      /* GET/POST /.moat/login */
    P_MFA,        /* GET/POST /.moat/mfa */
    P_ENROLL,     /* GET/POST /.moat/enroll */
    P_LOGOUT,     /* POST /.moat/logout */
    P_PASSWORD,   /* GET/POST /.moat/password */
    P_API_LOGIN,  /* POST /.moat/api/login */
    P_API_SESS,   /* GET /.moat/api/session */
    P_API_LOGOUT, /* POST /.moat/api/logout */
} portal;

static const struct {
    const char *path;
    portal p;
} portal_paths[] = {
    {"/.moat/", P_ACCOUNT},
    {"/.moat/login", P_LOGIN},
    {"/.moat/mfa", P_MFA},
    {"/.moat/enroll", P_ENROLL},
    {"/.moat/logout", P_LOGOUT},
    {"/.moat/password", P_PASSWORD},
    {"/.moat/api/login", P_API_LOGIN},
    {"/.moat/api/session", P_API_SESS},
    {"/.moat/api/logout", P_API_LOGOUT},
};

static portal portal_of(const char *path)
{
    for (size_t i = 0; path && i < MOAT_ARRAY_LEN(portal_paths); i++)
        if (strcmp(path, portal_paths[i].path) == 0) return portal_paths[i].p;
    return P_NONE;
}

bool moat__auth_portal_path(const char *path)
{
    return portal_of(path) != P_NONE;
}

/* Per-request state (arena): the parsed form or query, and the body of a
 * portal POST while it is read. */
typedef struct auth_req {
    moat__form form;
    portal p;
    moat_buf body;
    bool reading;
} auth_req;

static void areq_free(void *arg)
{
    auth_req *a = arg;
    if (a->body.data) explicit_bzero(a->body.data, a->body.len);
    moat_buf_free(&a->body);
}

static auth_req *areq(moat_request *r)
{
    if (!r->auth) {
        auth_req *a = moat_arena_calloc(r->arena, sizeof(*a));
        moat_buf_init(&a->body);
        moat_arena_defer(r->arena, areq_free, a);
        r->auth = a;
    }
    return r->auth;
}

static moat__form *form_of(moat_request *r)
{
    return &areq(r)->form;
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

/* ---- the job run on the thread pool -------------------------------------- */

typedef struct auth_job {
    uv_work_t work;
    moat_request *r;  /* NULL once the request is gone (the job frees itself) */
    moat_runtime *rt; /* owned ref: the store and settings */
    bool queued;
    portal p;
    bool post;
    const char *policy; /* the rule's policy (P_NONE), borrowed from rt->cfg */
    /* in: owned copies, wiped when freed */
    char sid_hash[MOAT_SECRET_HASH_LEN + 1];
    char tok_hash[MOAT_SECRET_HASH_LEN + 1];
    bool has_sid, has_tok;
    char *name, *pw, *code, *newpw, *newpw2, *secret;
    bool remember, everywhere;
    char addr[INET6_ADDRSTRLEN];
    int64_t now;
    /* out */
    int err;            /* a store error: refuse (503) */
    bool authed, token; /* who the request is, and how */
    bool expired;       /* the cookie named a session that expired (now deleted) */
    moat_session sess;
    moat_user user; /* when authed, or after a successful login */
    moat_login_result login;
    bool ok;          /* the action succeeded */
    const char *why;  /* why it did not (static, safe to show) */
    bool new_session; /* a session was created: set its cookie */
    char new_sid[MOAT_SESSION_ID_LEN + 1];
    moat_session made;
    bool ended; /* the session ended (logout): clear the cookie */
    size_t ended_n;
    char *totp_uri, *secret_b32; /* enrollment page */
    char *qr_svg;
    char recovery[MOAT_RECOVERY_CODES][MOAT_RECOVERY_CODE_LEN + 1];
    bool mfa_failed;
    bool checked;          /* a secret was checked: job->login says how it went (MFA, password) */
    moat_login_result tok; /* the bearer token's check (has_tok) */
    bool totp;             /* the user has a second factor */
    uint64_t version;      /* the store's data version before the lookup */
    bool version_ok;
    bool from_cache;
} auth_job;

static void wipe_free(char *s)
{
    if (!s) return;
    explicit_bzero(s, strlen(s));
    free(s);
}

static void job_free(auth_job *job)
{
    wipe_free(job->name);
    wipe_free(job->pw);
    wipe_free(job->code);
    wipe_free(job->newpw);
    wipe_free(job->newpw2);
    wipe_free(job->secret);
    wipe_free(job->totp_uri);
    wipe_free(job->secret_b32);
    free(job->qr_svg);
    moat_user_clear(&job->user);
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

/* Resolves the session cookie or bearer token into a user. */
static void resolve(auth_job *job, moat_store *st, const moat_config *cfg)
{
    int64_t idle = (int64_t)(cfg->auth.session_idle_ms / 1000);
    if (job->has_sid) {
        int rc = moat_store_session_get(st, job->sid_hash, &job->sess);
        if (rc == MOAT_ENOENT) return;
        if (rc < 0) {
            job->err = rc;
            return;
        }
        if (job->now >= job->sess.expires || job->now - job->sess.last_seen >= idle) {
            job->expired = true;
            job->err = moat_store_session_delete(st, job->sid_hash);
            return;
        }
        rc = moat_store_user_get_id(st, job->sess.user_id, &job->user);
        if (rc == MOAT_ENOENT) {
            job->err = moat_store_session_delete(st, job->sid_hash);
            return;
        }
        if (rc < 0) {
            job->err = rc;
            return;
        }
        if (job->user.locked) {
            moat_user_clear(&job->user);
            job->err = moat_store_session_delete(st, job->sid_hash);
            return;
        }
        /* Touched at most every 15 s: the idle limit is that coarse, the
         * store is written that much less. */
        if (job->now - job->sess.last_seen >= 15) {
            rc = moat_store_session_touch(st, job->sid_hash, job->now);
            if (rc < 0) {
                job->err = rc;
                return;
            }
        }
        job->authed = true;
        job->totp = job->user.totp_secret != NULL;
        return;
    }
    if (job->has_tok) {
        /* Token guessing counts against the client address, like a login. */
        moat_auth_settings as;
        moat_auth_settings_from_config(cfg, &as);
        int rc = moat_auth_token(st, &as, job->tok_hash, job->addr, job->now, &job->tok);
        if (rc < 0) {
            job->err = rc;
            return;
        }
        if (job->tok.status != MOAT_LOGIN_OK) return;
        rc = moat_store_user_get_id(st, job->tok.user_id, &job->user);
        if (rc == MOAT_ENOENT) return;
        if (rc < 0) {
            job->err = rc;
            return;
        }
        if (job->user.locked) {
            moat_user_clear(&job->user);
            return;
        }
        job->authed = job->token = true;
        job->totp = job->user.totp_secret != NULL;
    }
}

/* A new session for user id: a fresh id (never the one the client sent:
 * no fixation), the old one deleted. */
static void make_session(auth_job *job, moat_store *st, const moat_config *cfg, int64_t uid,
                         bool mfa)
{
    if (job->has_sid) {
        int rc = moat_store_session_delete(st, job->sid_hash);
        if (rc < 0 && rc != MOAT_ENOENT) {
            job->err = rc;
            return;
        }
    }
    moat_session_id_new(job->new_sid);
    moat_session *m = &job->made;
    memset(m, 0, sizeof(*m));
    moat_secret_hash(job->new_sid, strlen(job->new_sid), m->id_hash);
    m->user_id = uid;
    m->created = m->last_seen = job->now;
    bool remember = job->remember && cfg->auth.remember_ms;
    if (job->has_sid && job->authed && !job->remember)
        m->expires = job->sess.expires; /* a step-up keeps the login's lifetime */
    else
        m->expires =
            job->now +
            (int64_t)((remember ? cfg->auth.remember_ms : cfg->auth.session_lifetime_ms) / 1000);
    m->mfa = mfa;
    uint8_t raw[32];
    moat_random(raw, sizeof(raw));
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(m->csrf + 2 * i, 3, "%02x", raw[i]);
    int rc = moat_store_session_create(st, m);
    if (rc < 0) {
        job->err = rc;
        return;
    }
    job->new_session = true;
}

static void qr_svg(auth_job *job)
{
    QRcode *qr = QRcode_encodeString(job->totp_uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr) return;
    int w = qr->width, q = 4, size = w + 2 * q;
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_printf(&b,
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                    "height=\"%d\" role=\"img\" aria-label=\"QR code of the authenticator "
                    "secret\" shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
                    "fill=\"#fff\"/><path fill=\"#000\" d=\"",
                    size, size, size * 6, size * 6, size, size);
    for (int y = 0; y < w; y++)
        for (int x = 0; x < w; x++)
            if (qr->data[y * w + x] & 1) moat_buf_printf(&b, "M%d %dh1v1h-1z", x + q, y + q);
    moat_buf_puts(&b, "\"/></svg>");
    QRcode_free(qr);
    job->qr_svg = moat_buf_steal(&b);
}

static void enroll_show(auth_job *job, const moat_auth_settings *st)
{
    uint8_t key[MOAT_TOTP_SECRET_LEN];
    moat_random(key, sizeof(key));
    moat_buf b;
    moat_buf_init(&b);
    moat_base32_encode(&b, key, sizeof(key));
    job->secret_b32 = moat_buf_steal(&b);
    moat_buf_init(&b);
    moat_totp_uri(&b, &st->totp, st->issuer, job->user.name, key, sizeof(key));
    job->totp_uri = moat_buf_steal(&b);
    explicit_bzero(key, sizeof(key));
    qr_svg(job);
}

static void enroll_finish(auth_job *job, moat_store *s, const moat_config *cfg,
                          const moat_auth_settings *st)
{
    uint8_t key[64];
    int n = job->secret ? moat_base32_decode(job->secret, strlen(job->secret), key, sizeof(key))
                        : MOAT_EINVAL;
    uint64_t step = 0;
    if (n != MOAT_TOTP_SECRET_LEN || !job->code ||
        moat_totp_verify(&st->totp, key, (size_t)n, job->code, strlen(job->code),
                         (uint64_t)job->now, 0, &step) < 0) {
        job->why = "The code does not match the secret. Check the authenticator app's clock and "
                   "try again.";
        job->mfa_failed = true;
        /* Show the same secret again. */
        if (n == MOAT_TOTP_SECRET_LEN) {
            job->secret_b32 = moat_xstrdup(job->secret);
            moat_buf b;
            moat_buf_init(&b);
            moat_totp_uri(&b, &st->totp, st->issuer, job->user.name, key, (size_t)n);
            job->totp_uri = moat_buf_steal(&b);
            qr_svg(job);
        }
        explicit_bzero(key, sizeof(key));
        return;
    }
    int rc = moat_store_totp_set(s, job->user.id, key, (size_t)n);
    explicit_bzero(key, sizeof(key));
    if (rc == 0) rc = moat_store_totp_use(s, job->user.id, step);
    const char *hashes[MOAT_RECOVERY_CODES];
    char hbuf[MOAT_RECOVERY_CODES][MOAT_SECRET_HASH_LEN + 1];
    for (size_t i = 0; rc == 0 && i < MOAT_RECOVERY_CODES; i++) {
        moat_recovery_code_new(job->recovery[i]);
        moat_recovery_code_hash(job->recovery[i], strlen(job->recovery[i]), hbuf[i]);
        hashes[i] = hbuf[i];
    }
    if (rc == 0) rc = moat_store_recovery_set(s, job->user.id, hashes, MOAT_RECOVERY_CODES);
    if (rc < 0) {
        job->err = rc;
        return;
    }
    job->ok = true;
    make_session(job, s, cfg, job->user.id, true);
}

static void do_login(auth_job *job, moat_store *s, const moat_config *cfg,
                     const moat_auth_settings *st)
{
    const char *pw = job->pw ? job->pw : "";
    size_t codelen = job->code ? strlen(job->code) : 0;
    int rc = moat_auth_login(s, st, job->name ? job->name : "", pw, strlen(pw),
                             codelen ? job->code : NULL, codelen, job->addr, job->now, &job->login);
    if (rc < 0) {
        job->err = rc;
        return;
    }
    if (job->login.status != MOAT_LOGIN_OK) return;
    moat_user_clear(&job->user);
    rc = moat_store_user_get_id(s, job->login.user_id, &job->user);
    if (rc < 0) {
        job->err = rc;
        return;
    }
    job->ok = true;
    make_session(job, s, cfg, job->login.user_id, job->login.mfa);
}

/* What a session form answers (429) when the limiter refused the check. */
#define TOO_MANY "Too many failed attempts for this account or from this address. Try again later."

static void do_password(auth_job *job, moat_store *s, const moat_config *cfg,
                        const moat_auth_settings *st)
{
    const char *cur = job->pw ? job->pw : "";
    int rc = moat_auth_check_password(s, st, job->user.id, cur, strlen(cur), job->addr, job->now,
                                      &job->login);
    if (rc < 0) {
        job->err = rc;
        return;
    }
    job->checked = true;
    if (job->login.status != MOAT_LOGIN_OK) {
        job->why =
            job->login.status == MOAT_LOGIN_BAD ? "The current password is wrong." : TOO_MANY;
        return;
    }
    const char *np = job->newpw ? job->newpw : "";
    if (!job->newpw2 || strcmp(np, job->newpw2) != 0) {
        job->why = "The two new passwords differ.";
        return;
    }
    if (moat_password_policy_check(&st->policy, job->user.name, np, strlen(np), &job->why) < 0)
        return;
    char *hash = NULL;
    rc = moat_password_hash(&st->argon2, np, strlen(np), &hash);
    if (rc == 0) rc = moat_store_user_set_password(s, job->user.id, hash, true);
    free(hash);
    if (rc < 0) {
        job->err = rc;
        return;
    }
    job->ok = true;
    job->has_sid = false; /* ended with the others */
    make_session(job, s, cfg, job->user.id, job->sess.mfa);
}

static void work_cb(uv_work_t *w)
{
    auth_job *job = w->data;
    moat_store *s = job->rt->store;
    const moat_config *cfg = job->rt->cfg;
    moat_auth_settings st;
    moat_auth_settings_from_config(cfg, &st);
    if (job->p == P_LOGIN || job->p == P_API_LOGIN) {
        /* Housekeeping rides on logins, at most once a minute per process:
         * sessions past their limits and expired tokens leave the store
         * (a session is also deleted when it is next presented). */
        static _Atomic int64_t last_purge;
        int64_t last = atomic_load(&last_purge);
        if (job->now - last >= 60 && atomic_compare_exchange_strong(&last_purge, &last, job->now))
            (void)moat_store_purge(s, job->now, (int64_t)(cfg->auth.session_idle_ms / 1000));
        /* The old session (if any) only matters for rotation. */
        if (job->has_sid) {
            moat_session old;
            if (moat_store_session_get(s, job->sid_hash, &old) != 0) job->has_sid = false;
        }
        do_login(job, s, cfg, &st);
        return;
    }
    resolve(job, s, cfg);
    if (job->err || !job->authed || !job->post) return;
    if (job->token) return; /* the portal's actions need a session */
    switch (job->p) {
    case P_MFA: {
        const char *code = job->code ? job->code : "";
        int rc = moat_auth_verify_code(s, &st, job->user.id, code, strlen(code), job->addr,
                                       job->now, &job->login);
        if (rc < 0) {
            job->err = rc;
            return;
        }
        job->checked = true;
        if (job->login.status != MOAT_LOGIN_OK) {
            job->mfa_failed = true;
            job->why = job->login.status == MOAT_LOGIN_BAD
                           ? "That code is not right (or was used already)."
                           : TOO_MANY;
            return;
        }
        job->ok = true;
        make_session(job, s, cfg, job->user.id, true);
        return;
    }
    case P_ENROLL:
        if (job->user.totp_secret && !job->sess.mfa) return;
        enroll_finish(job, s, cfg, &st);
        return;
    case P_LOGOUT:
    case P_API_LOGOUT:
        if (job->everywhere) {
            job->err = moat_store_sessions_end_user(s, job->user.id, &job->ended_n);
        } else {
            job->err = moat_store_session_delete(s, job->sid_hash);
            job->ended_n = 1;
        }
        job->ended = job->err == 0;
        return;
    case P_PASSWORD:
        do_password(job, s, cfg, &st);
        return;
    default:
        return;
    }
}

/* The GET of the enrollment page makes a secret; only for a session that
 * may enroll (no second factor yet, or one already presented). */
static void work_enroll_get(auth_job *job)
{
    moat_auth_settings st;
    moat_auth_settings_from_config(job->rt->cfg, &st);
    if (job->authed && !job->token && (!job->user.totp_secret || job->sess.mfa))
        enroll_show(job, &st);
}

static void work_entry(uv_work_t *w)
{
    auth_job *job = w->data;
    if (job->p == P_NONE && job->rt->store_watch)
        job->version_ok = moat_store_data_version(job->rt->store_watch, &job->version) == 0;
    work_cb(w);
    if (job->p == P_ENROLL && !job->post && !job->err) work_enroll_get(job);
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

static const char *session_cookie_name(moat_request *r)
{
    return tls_cookies(r) ? COOKIE_TLS : COOKIE_PLAIN;
}

static const char *csrf_cookie_name(moat_request *r)
{
    return tls_cookies(r) ? CSRF_TLS : CSRF_PLAIN;
}

static const char *set_cookie(moat_request *r, const char *name, const char *value, int64_t max_age,
                              const char *samesite)
{
    char age[48] = "";
    if (max_age >= 0) snprintf(age, sizeof(age), "; Max-Age=%lld", (long long)max_age);
    return moat_arena_printf(r->arena, "%s=%s; Path=/%s; HttpOnly; SameSite=%s%s", name, value,
                             tls_cookies(r) ? "; Secure" : "", samesite, age);
}

/* Headers of an answer: up to 4 pairs. */
typedef struct hdrs {
    const char *v[8];
    size_t n;
} hdrs;

static void hdr(hdrs *h, const char *name, const char *value)
{
    if (h->n >= 4) return;
    h->v[2 * h->n] = name;
    h->v[2 * h->n + 1] = value;
    h->n++;
}

static void session_cookie_hdrs(moat_request *r, auth_job *job, hdrs *h)
{
    if (job->new_session) {
        int64_t age = -1;
        if (job->remember && r->rt->cfg->auth.remember_ms)
            age = (int64_t)(r->rt->cfg->auth.remember_ms / 1000);
        hdr(h, "Set-Cookie", set_cookie(r, session_cookie_name(r), job->new_sid, age, "Lax"));
    } else if (job->ended || job->expired) {
        hdr(h, "Set-Cookie", set_cookie(r, session_cookie_name(r), "", 0, "Lax"));
    }
}

static void answer(moat_request *r, int status, const char *reason, const char *ctype,
                   const moat_buf *body, const hdrs *h)
{
    r->internal = true;
    moat__client_respond(r, status, reason, ctype, body ? body->data : "", body ? body->len : 0,
                         h ? h->v : NULL, h ? h->n : 0);
}

static void redirect(moat_request *r, int status, const char *location, const hdrs *h)
{
    r->location = location;
    answer(r, status, "auth redirect", "text/html; charset=utf-8", NULL, h);
}

static void fail_closed(moat_request *r, int err)
{
    moat_error("auth store: %s", moat_strerror(err));
    moat__refusal(r, "authz.denied", "auth", "store.url");
    moat__client_respond_error(r, 503, "the auth store failed: refused (fail closed)");
}

/* ---- HTML ---------------------------------------------------------------- */

static void page_start(moat_buf *b, const char *title)
{
    moat_buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                     "<meta name=\"referrer\" content=\"no-referrer\"><title>");
    moat__html_escape(b, title);
    moat_buf_puts(b, "</title></head><body><main><h1>");
    moat__html_escape(b, title);
    moat_buf_puts(b, "</h1>\n");
}

static void page_end(moat_buf *b)
{
    moat_buf_puts(b, "</main></body></html>\n");
}

static void error_para(moat_buf *b, const char *msg)
{
    if (!msg) return;
    moat_buf_puts(b, "<p role=\"alert\" id=\"error\">");
    moat__html_escape(b, msg);
    moat_buf_puts(b, "</p>\n");
}

static void hidden(moat_buf *b, const char *name, const char *value)
{
    if (!value) return;
    moat_buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    moat__html_escape(b, value);
    moat_buf_puts(b, "\">\n");
}

static void field(moat_buf *b, const char *name, const char *label, const char *type,
                  const char *autocomplete, bool required, const char *extra)
{
    moat_buf_printf(b,
                    "<p><label for=\"%s\">%s</label><br><input id=\"%s\" name=\"%s\" type=\"%s\" "
                    "autocomplete=\"%s\"%s%s></p>\n",
                    name, label, name, name, type, autocomplete, required ? " required" : "",
                    extra ? extra : "");
}

static const char *rd_of(const moat__form *f)
{
    const char *rd = f ? moat__form_get(f, "rd") : NULL;
    return moat__auth_rd_ok(rd) ? rd : NULL;
}

static void login_page(moat_request *r, int status, const char *msg, const char *rd,
                       const char *csrf, hdrs *h)
{
    moat_buf b;
    moat_buf_init(&b);
    page_start(&b, "Log in");
    error_para(&b, msg);
    moat_buf_puts(&b, "<form method=\"post\" action=\"/.moat/login\">\n");
    hidden(&b, "csrf", csrf);
    hidden(&b, "rd", rd);
    field(&b, "username", "User name", "text", "username", true, " autofocus");
    field(&b, "password", "Password", "password", "current-password", true, NULL);
    field(&b, "code", "Authenticator code or recovery code (if you set one up)", "text",
          "one-time-code", false, " inputmode=\"numeric\"");
    if (r->rt->cfg->auth.remember_ms)
        moat_buf_puts(&b, "<p><input id=\"remember\" name=\"remember\" type=\"checkbox\" "
                          "value=\"1\"> <label for=\"remember\">Remember me on this "
                          "device</label></p>\n");
    moat_buf_puts(&b, "<p><button type=\"submit\">Log in</button></p></form>\n");
    page_end(&b);
    answer(r, status, status == 200 ? "login page" : "login refused", "text/html; charset=utf-8",
           &b, h);
    moat_buf_free(&b);
}

/* The login form's CSRF token: a random value in a cookie of its own that
 * the form repeats (no session exists yet to bind it to). */
static const char *login_csrf(moat_request *r, hdrs *h)
{
    uint8_t raw[24];
    moat_random(raw, sizeof(raw));
    char *tok = moat_arena_alloc(r->arena, 49);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(tok + 2 * i, 3, "%02x", raw[i]);
    hdr(h, "Set-Cookie", set_cookie(r, csrf_cookie_name(r), tok, -1, "Strict"));
    return tok;
}

static const char *cookie_value(moat_request *r, const char *name)
{
    const char *found = NULL;
    for (size_t i = 0; i < r->head->nheaders; i++) {
        moat_http_header *hh = &r->head->headers[i];
        if (!moat_strieq_lit(hh->name, hh->name_len, "Cookie")) continue;
        const char *v;
        size_t n;
        int rc = moat__cookie_get(hh->value, hh->value_len, name, &v, &n);
        if (rc == MOAT_EINVAL || (rc == 0 && found)) return NULL;
        if (rc == 0) found = moat_arena_strndup(r->arena, v, n);
    }
    return found;
}

static bool csrf_ok(const char *want, const char *got)
{
    return want && got && want[0] && moat_ct_equal(want, strlen(want), got, strlen(got));
}

static void account_page(moat_request *r, auth_job *job, const char *msg)
{
    moat_buf b;
    moat_buf_init(&b);
    page_start(&b, "Your account");
    error_para(&b, msg);
    moat_buf_puts(&b, "<p>Logged in as <strong id=\"user\">");
    moat__html_escape(&b, job->user.name);
    moat_buf_puts(&b, "</strong>");
    if (job->user.nroles) {
        moat_buf_puts(&b, " (roles: <span id=\"roles\">");
        for (size_t i = 0; i < job->user.nroles; i++) {
            if (i) moat_buf_puts(&b, ", ");
            moat__html_escape(&b, job->user.roles[i]);
        }
        moat_buf_puts(&b, "</span>)");
    }
    moat_buf_printf(&b, ". Second factor: <span id=\"mfa\">%s</span>.</p>\n<ul>",
                    job->sess.mfa           ? "presented"
                    : job->user.totp_secret ? "set up, not presented in this session"
                                            : "not set up");
    if (!job->user.totp_secret || job->sess.mfa)
        moat_buf_puts(&b, "<li><a href=\"/.moat/enroll\">Set up an authenticator app</a></li>");
    if (job->user.totp_secret && !job->sess.mfa)
        moat_buf_puts(&b, "<li><a href=\"/.moat/mfa\">Enter an authenticator code</a></li>");
    moat_buf_puts(&b, "<li><a href=\"/.moat/password\">Change the password</a></li></ul>\n"
                      "<form method=\"post\" action=\"/.moat/logout\">");
    hidden(&b, "csrf", job->sess.csrf);
    moat_buf_puts(&b, "<button type=\"submit\">Log out</button></form>\n"
                      "<form method=\"post\" action=\"/.moat/logout\">");
    hidden(&b, "csrf", job->sess.csrf);
    hidden(&b, "everywhere", "1");
    moat_buf_puts(&b, "<button type=\"submit\">Log out everywhere</button></form>\n");
    page_end(&b);
    hdrs h = {0};
    session_cookie_hdrs(r, job, &h);
    answer(r, 200, "account page", "text/html; charset=utf-8", &b, &h);
    moat_buf_free(&b);
}

static void mfa_page(moat_request *r, auth_job *job, int status, const char *msg, const char *rd)
{
    moat_buf b;
    moat_buf_init(&b);
    page_start(&b, "Second factor");
    error_para(&b, msg);
    moat_buf_puts(&b, "<p>Enter the code your authenticator app shows, or a recovery "
                      "code.</p>\n<form method=\"post\" action=\"/.moat/mfa\">\n");
    hidden(&b, "csrf", job->sess.csrf);
    hidden(&b, "rd", rd);
    field(&b, "code", "Code", "text", "one-time-code", true, " inputmode=\"numeric\" autofocus");
    moat_buf_puts(&b, "<p><button type=\"submit\">Continue</button></p></form>\n");
    page_end(&b);
    answer(r, status, "mfa page", "text/html; charset=utf-8", &b, NULL);
    moat_buf_free(&b);
}

static void enroll_page(moat_request *r, auth_job *job, int status, const char *msg, const char *rd)
{
    moat_buf b;
    moat_buf_init(&b);
    page_start(&b, "Set up an authenticator app");
    error_para(&b, msg);
    moat_buf_puts(&b, "<p>Scan this code with an authenticator app, or type the secret in; "
                      "then enter the code the app shows.</p>\n<figure>");
    if (job->qr_svg) moat_buf_puts(&b, job->qr_svg);
    moat_buf_puts(&b, "<figcaption>Secret: <code id=\"secret\">");
    moat__html_escape(&b, job->secret_b32);
    moat_buf_puts(&b, "</code></figcaption></figure>\n<form method=\"post\" "
                      "action=\"/.moat/enroll\">\n");
    hidden(&b, "csrf", job->sess.csrf);
    hidden(&b, "secret", job->secret_b32);
    hidden(&b, "rd", rd);
    field(&b, "code", "Code from the app", "text", "one-time-code", true,
          " inputmode=\"numeric\" autofocus");
    moat_buf_puts(&b, "<p><button type=\"submit\">Turn on</button></p></form>\n");
    page_end(&b);
    answer(r, status, "enroll page", "text/html; charset=utf-8", &b, NULL);
    moat_buf_free(&b);
}

static void recovery_page(moat_request *r, auth_job *job, const char *rd)
{
    moat_buf b;
    moat_buf_init(&b);
    page_start(&b, "Authenticator app set up");
    moat_buf_puts(&b, "<p>Keep these recovery codes somewhere safe. Each works once, in place "
                      "of a code from the app. They are not shown again.</p>\n<ul "
                      "id=\"recovery\">");
    for (size_t i = 0; i < MOAT_RECOVERY_CODES; i++)
        moat_buf_printf(&b, "<li><code>%s</code></li>", job->recovery[i]);
    moat_buf_puts(&b, "</ul>\n<p><a id=\"continue\" href=\"");
    moat__html_escape(&b, rd ? rd : "/.moat/");
    moat_buf_puts(&b, "\">Continue</a></p>\n");
    page_end(&b);
    hdrs h = {0};
    session_cookie_hdrs(r, job, &h);
    answer(r, 200, "mfa enrolled", "text/html; charset=utf-8", &b, &h);
    moat_buf_free(&b);
}

static void password_page(moat_request *r, auth_job *job, int status, const char *msg)
{
    moat_buf b;
    moat_buf_init(&b);
    page_start(&b, "Change the password");
    error_para(&b, msg);
    moat_buf_puts(&b, "<form method=\"post\" action=\"/.moat/password\">\n");
    hidden(&b, "csrf", job->sess.csrf);
    field(&b, "password", "Current password", "password", "current-password", true, NULL);
    field(&b, "new", "New password", "password", "new-password", true, NULL);
    field(&b, "new2", "New password again", "password", "new-password", true, NULL);
    moat_buf_puts(&b, "<p><button type=\"submit\">Change</button></p></form>\n");
    page_end(&b);
    answer(r, status, "password page", "text/html; charset=utf-8", &b, NULL);
    moat_buf_free(&b);
}

static void json_user(moat_buf *b, const moat_user *u, bool mfa)
{
    moat_buf_puts(b, "{\"user\":");
    moat_buf_put_json_string(b, u->name, strlen(u->name));
    moat_buf_puts(b, ",\"roles\":[");
    for (size_t i = 0; i < u->nroles; i++) {
        if (i) moat_buf_putc(b, ',');
        moat_buf_put_json_string(b, u->roles[i], strlen(u->roles[i]));
    }
    moat_buf_printf(b, "],\"mfa\":%s", mfa ? "true" : "false");
}

static void json_error(moat_request *r, int status, const char *msg, const hdrs *h)
{
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_puts(&b, "{\"error\":");
    moat_buf_put_json_string(&b, msg, strlen(msg));
    moat_buf_puts(&b, "}");
    answer(r, status, msg, "application/json", &b, h);
    moat_buf_free(&b);
}

/* ---- after the job ------------------------------------------------------- */

static const char *login_reason(const moat_login_result *lr)
{
    return lr->reason ? lr->reason : "login failed";
}

/* The user field of a failure's event: the name when it names a user, else
 * a keyed tag of it (it may be a password typed into the wrong field). */
static const char *logged_name(moat_request *r, const moat_login_result *lr, const char *name)
{
    if (!name) return NULL;
    if (lr->user_id > 0) return name;
    char *tag = moat_arena_alloc(r->arena, MOAT_NAME_TAG_LEN + 1);
    moat_auth_name_tag(name, tag);
    return tag;
}

/* The lockout events a failure caused: the account's counter of its kind
 * (mfa: the second factor's) and the client address's. */
static void record_locks(moat_request *r, const char *who, const moat_login_result *lr, bool mfa,
                         const moat_seclog_field *f, size_t nf)
{
    if (lr->locked_until)
        event(r, mfa ? "auth.mfa.lockout" : "auth.lockout", who,
              mfa ? "second factor locked after wrong codes" : "account locked after failed logins",
              0, f, nf);
    if (lr->throttled_until)
        event(r, "auth.lockout", who, "client address throttled after failures", 0, f, nf);
}

static bool code_failure(const moat_login_result *lr)
{
    return lr->reason &&
           (strcmp(lr->reason, "bad_code") == 0 || strcmp(lr->reason, "mfa_locked") == 0);
}

static void record_login(moat_request *r, auth_job *job)
{
    const moat_login_result *lr = &job->login;
    if (lr->status == MOAT_LOGIN_OK) {
        moat_seclog_field f[2] = {{"factors", lr->mfa ? "2" : "1"},
                                  {"rehashed", lr->rehashed ? "true" : "false"}};
        event(r, "auth.login.success", job->user.name, "password accepted", 0, f, 2);
        event(r, "session.created", job->user.name, "session started at login", 0, NULL, 0);
        return;
    }
    const char *who = logged_name(r, lr, job->name ? job->name : "");
    moat_seclog_field f[2] = {{"cause", login_reason(lr)}, {"via", "login"}};
    bool mfa = code_failure(lr);
    if (mfa) event(r, "auth.mfa.failure", who, "wrong, reused or locked code at login", 401, f, 2);
    event(r, "auth.login.failure", who, "login refused", 401, f, 1);
    record_locks(r, who, lr, mfa, f, 1);
}

/* A bearer token that matched no live token, or came from a throttled
 * address. */
static void record_token(moat_request *r, auth_job *job)
{
    if (!job->has_tok || job->tok.status == MOAT_LOGIN_OK) return;
    moat_seclog_field f[1] = {{"cause", login_reason(&job->tok)}};
    event(r, "auth.token.failure", NULL,
          job->tok.status == MOAT_LOGIN_THROTTLED ? "bearer token from a throttled address"
                                                  : "unknown, revoked or expired bearer token",
          0, f, 1);
    record_locks(r, NULL, &job->tok, false, f, 1);
}

static void after_login(moat_request *r, auth_job *job, const char *rd)
{
    record_login(r, job);
    bool api = job->p == P_API_LOGIN;
    hdrs h = {0};
    if (!job->ok) {
        const char *msg = "Wrong user name, password or code, or the account is locked.";
        if (api) {
            hdr(&h, "WWW-Authenticate", "Bearer realm=\"moat\"");
            json_error(r, 401, "login failed", &h);
            return;
        }
        const char *csrf = login_csrf(r, &h);
        login_page(r, 401, msg, rd, csrf, &h);
        return;
    }
    session_cookie_hdrs(r, job, &h);
    if (api) {
        moat_buf b;
        moat_buf_init(&b);
        json_user(&b, &job->user, job->made.mfa);
        moat_buf_puts(&b, "}");
        answer(r, 200, "logged in", "application/json", &b, &h);
        moat_buf_free(&b);
        return;
    }
    hdr(&h, "Set-Cookie", set_cookie(r, csrf_cookie_name(r), "", 0, "Strict"));
    redirect(r, 303, rd ? rd : "/", &h);
}

static const char *login_location(moat_request *r, const char *which, const char *rd)
{
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_puts(&b, which);
    if (rd) {
        moat_buf_puts(&b, "?rd=");
        moat__url_escape(&b, rd);
    }
    const char *loc = moat_arena_strdup(r->arena, b.data);
    moat_buf_free(&b);
    return loc;
}

static bool wants_json(moat_request *r)
{
    moat_http_header *x = moat_http_head_find(r->head, "X-Requested-With");
    if (x && moat_strieq_lit(x->value, x->value_len, "XMLHttpRequest")) return true;
    return moat__wants_json(r->head);
}

/* What a portal page needing a session answers without one. */
static void need_login(moat_request *r, auth_job *job, const char *rd)
{
    hdrs h = {0};
    session_cookie_hdrs(r, job, &h);
    if (job->p >= P_API_LOGIN || wants_json(r)) {
        hdr(&h, "WWW-Authenticate", "Bearer realm=\"moat\"");
        json_error(r, 401, "not logged in", &h);
        return;
    }
    redirect(r, r->head->method_id == HTTP_POST ? 303 : 302, login_location(r, "/.moat/login", rd),
             &h);
}

static void after_portal(moat_request *r, auth_job *job)
{
    moat__form *f = form_of(r);
    const char *rd = rd_of(f);
    if (job->expired)
        event(r, "session.expired", NULL, "idle or absolute session timeout", 0, NULL, 0);
    if (job->p == P_LOGIN || job->p == P_API_LOGIN) {
        after_login(r, job, rd);
        return;
    }
    record_token(r, job);
    if (!job->authed || (job->token && job->p != P_API_SESS)) {
        need_login(r, job, rd);
        return;
    }
    const char *user = job->user.name;
    hdrs h = {0};
    switch (job->p) {
    case P_ACCOUNT:
        account_page(r, job, NULL);
        return;
    case P_API_SESS: {
        moat_buf b;
        moat_buf_init(&b);
        json_user(&b, &job->user, !job->token && job->sess.mfa);
        if (!job->token) {
            moat_buf_puts(&b, ",\"csrf\":");
            moat_buf_put_json_string(&b, job->sess.csrf, strlen(job->sess.csrf));
            int64_t idle_end =
                job->sess.last_seen + (int64_t)(r->rt->cfg->auth.session_idle_ms / 1000);
            moat_buf_printf(
                &b, ",\"expires\":%lld",
                (long long)(idle_end < job->sess.expires ? idle_end : job->sess.expires));
        }
        moat_buf_puts(&b, "}");
        answer(r, 200, "session", "application/json", &b, NULL);
        moat_buf_free(&b);
        return;
    }
    case P_API_LOGOUT:
    case P_LOGOUT:
        if (!job->ended) break; /* refused before: answered by the caller */
        event(r, "session.ended", user, job->everywhere ? "logged out everywhere" : "logged out", 0,
              NULL, 0);
        session_cookie_hdrs(r, job, &h);
        if (job->p == P_API_LOGOUT) {
            answer(r, 204, "logged out", NULL, NULL, &h);
        } else {
            redirect(r, 303, "/.moat/login", &h);
        }
        return;
    case P_MFA:
        if (!job->post) {
            mfa_page(r, job, 200, NULL, rd);
        } else if (job->ok) {
            event(r, "session.created", user, "session rotated at MFA step-up", 0, NULL, 0);
            session_cookie_hdrs(r, job, &h);
            redirect(r, 303, rd ? rd : "/", &h);
        } else {
            const moat_login_result *lr = &job->login;
            moat_seclog_field ff[2] = {{"cause", login_reason(lr)}, {"via", "step-up"}};
            bool refused = job->checked && lr->status != MOAT_LOGIN_BAD;
            event(r, "auth.mfa.failure", user,
                  refused ? "code refused at step-up: locked or throttled"
                          : "wrong or reused code at step-up",
                  refused ? 429 : 401, ff, 2);
            record_locks(r, user, lr, true, ff, 1);
            mfa_page(r, job, refused ? 429 : 401, job->why, rd);
        }
        return;
    case P_ENROLL:
        if (job->user.totp_secret && !job->sess.mfa && !job->ok) {
            redirect(r, 303, login_location(r, "/.moat/mfa", "/.moat/enroll"), NULL);
        } else if (!job->post) {
            enroll_page(r, job, 200, NULL, rd);
        } else if (job->ok) {
            event(r, "session.created", user, "session rotated at MFA enrollment", 0, NULL, 0);
            recovery_page(r, job, rd);
        } else {
            event(r, "auth.mfa.failure", user, "wrong code at enrollment", 400, NULL, 0);
            if (!job->secret_b32) {
                moat__client_respond_error(r, 400, "bad enrollment form");
                return;
            }
            enroll_page(r, job, 400, job->why, rd);
        }
        return;
    case P_PASSWORD:
        if (!job->post) {
            password_page(r, job, 200, NULL);
        } else if (job->ok) {
            event(r, "session.ended", user, "password changed: every session ended", 0, NULL, 0);
            event(r, "session.created", user, "new session after the password change", 0, NULL, 0);
            session_cookie_hdrs(r, job, &h);
            redirect(r, 303, "/.moat/", &h);
        } else {
            const moat_login_result *lr = &job->login;
            bool refused =
                job->checked && lr->status != MOAT_LOGIN_OK && lr->status != MOAT_LOGIN_BAD;
            if (job->checked && lr->status != MOAT_LOGIN_OK) {
                moat_seclog_field ff[2] = {{"cause", login_reason(lr)}, {"via", "password-change"}};
                event(r, "auth.password.failure", user,
                      refused ? "password change refused: locked or throttled"
                              : "wrong current password at a password change",
                      refused ? 429 : 400, ff, 2);
                record_locks(r, user, lr, false, ff, 1);
            }
            password_page(r, job, refused ? 429 : 400, job->why);
        }
        return;
    default:
        break;
    }
    moat__client_respond_error(r, 500, "unexpected portal state");
}

/* An anonymous client, or a user without the right, on a protected path. */
static void deny(moat_request *r, auth_job *job, const char *policy, bool authed)
{
    hdrs h = {0};
    if (job) session_cookie_hdrs(r, job, &h);
    const char *user = job && job->authed ? job->user.name : NULL;
    moat_seclog_field f[1] = {{"policy", policy}};
    bool json = wants_json(r) || (job && job->token);
    const char *target = r->head->target;
    if (strcmp(policy, "deny") == 0 || (authed && strncmp(policy, "role:", 5) == 0) ||
        (authed && job && job->token)) {
        event(r, "authz.denied", user, "the access rules do not allow this user this path", 403, f,
              1);
        moat_buf b;
        moat_buf_init(&b);
        moat__error_page(&b, r->rt->page_template, 403, r->id, json);
        answer(r, 403, "access rules", json ? "application/json" : "text/html; charset=utf-8", &b,
               &h);
        moat_buf_free(&b);
        return;
    }
    event(r, "authz.denied", user,
          authed ? "a second factor is needed for this path" : "login needed for this path",
          json ? 401 : 302, f, 1);
    if (json) {
        hdr(&h, "WWW-Authenticate",
            authed ? "Bearer realm=\"moat\", error=\"insufficient_user_authentication\""
                   : "Bearer realm=\"moat\"");
        json_error(r, 401, authed ? "second factor needed" : "login needed", &h);
        return;
    }
    const char *which = "/.moat/login";
    if (authed) which = job->totp ? "/.moat/mfa" : "/.moat/enroll";
    redirect(r, r->head->method_id == HTTP_GET || r->head->method_id == HTTP_HEAD ? 302 : 303,
             login_location(r, which, moat__auth_rd_ok(target) ? target : NULL), &h);
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
    moat_buf groups;
    moat_buf_init(&groups);
    r->auth_user = true;
    for (size_t i = 0; i < job->user.nroles; i++) {
        if (i) moat_buf_putc(&groups, ',');
        moat_buf_puts(&groups, job->user.roles[i]);
    }
    moat_http_head_set(r->head, r->arena, "Remote-User", job->user.name);
    moat_http_head_set(r->head, r->arena, "Remote-Groups", groups.len ? groups.data : "");
    const char *secret = r->rt->cfg->auth.identity_secret;
    if (secret && secret[0]) {
        bool mfa = !job->token && job->sess.mfa;
        char *msg = moat_arena_printf(r->arena, "v1;user=%s;groups=%s;mfa=%d;via=%s;ts=%lld",
                                      job->user.name, groups.len ? groups.data : "", mfa ? 1 : 0,
                                      job->token ? "token" : "session", (long long)time(NULL));
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
    if (job->expired)
        event(r, "session.expired", NULL, "idle or absolute session timeout", 0, NULL, 0);
    bool pass = false;
    if (strcmp(policy, "public") == 0) {
        pass = true;
    } else if (!job->authed) {
        deny(r, job, policy, false);
        return MOAT_DONE;
    } else if (strcmp(policy, "authenticated") == 0) {
        pass = true;
    } else if (strcmp(policy, "mfa") == 0) {
        pass = !job->token && job->sess.mfa;
    } else if (strncmp(policy, "role:", 5) == 0) {
        pass = has_role(&job->user, policy + 5);
    }
    if (!pass) {
        deny(r, job, policy, true);
        return MOAT_DONE;
    }
    if (job->authed) identity(r, job);
    return MOAT_PASS;
}

static void cache_put(moat_runtime *rt, const auth_job *job)
{
    if (!rt->auth_cache || !job->version_ok || !job->authed || job->token || job->expired) return;
    moat__auth_cache *c = rt->auth_cache;
    pthread_mutex_lock(&c->mu);
    cache_entry *e = &c->slots[slot_of(job->sid_hash)];
    entry_clear(e);
    memcpy(e->id_hash, job->sid_hash, sizeof(e->id_hash));
    e->version = job->version;
    e->filled_ms = moat_now_ms();
    e->sess = job->sess;
    e->user_id = job->user.id;
    e->name = moat_xstrdup(job->user.name);
    e->roles = roles_dup(job->user.roles, job->user.nroles);
    e->nroles = job->user.nroles;
    e->totp = job->totp;
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
    if (!rt->auth_cache || !job->has_sid || loop_version(r, &version) < 0) return false;
    moat__auth_cache *c = rt->auth_cache;
    int64_t idle = (int64_t)(rt->cfg->auth.session_idle_ms / 1000);
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    cache_entry *e = &c->slots[slot_of(job->sid_hash)];
    if (e->id_hash[0] && strcmp(e->id_hash, job->sid_hash) == 0 && e->version == version &&
        moat_now_ms() - e->filled_ms < CACHE_TTL_MS && job->now < e->sess.expires &&
        job->now - e->sess.last_seen < idle) {
        job->sess = e->sess;
        job->user.id = e->user_id;
        job->user.name = moat_xstrdup(e->name);
        job->user.roles = roles_dup(e->roles, e->nroles);
        job->user.nroles = e->nroles;
        job->totp = e->totp;
        job->authed = true;
        job->from_cache = true;
        hit = true;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void after_check(moat_request *r, auth_job *job)
{
    record_token(r, job);
    cache_put(r->rt, job);
    if (decide(r, job) == MOAT_PASS) moat__pipeline_resume(r, MOAT_PASS);
}

/* What every job's completion does first: a job whose request went away is
 * freed, a failed one fails closed. Returns the request to go on with, or
 * NULL when nothing is left to do. */
static moat_request *job_landed(auth_job *job, int status)
{
    job->queued = false;
    moat_request *r = job->r;
    if (!r) {
        job_free(job);
        return NULL;
    }
    if (status < 0 && !job->err) job->err = MOAT_EINTERNAL;
    if (job->err) {
        fail_closed(r, job->err);
        return NULL;
    }
    return r;
}

static void after_work_cb(uv_work_t *w, int status)
{
    auth_job *job = w->data;
    moat_request *r = job_landed(job, status);
    if (!r) return;
    if (job->p == P_NONE)
        after_check(r, job);
    else
        after_portal(r, job);
}

/* ---- the stage ------------------------------------------------------------ */

static auth_job *job_new(moat_request *r, portal p)
{
    auth_job *job = moat_xcalloc(1, sizeof(*job));
    job->r = r;
    job->rt = moat__runtime_ref(r->rt);
    job->p = p;
    job->post = r->head->method_id == HTTP_POST;
    job->now = (int64_t)time(NULL);
    moat__auth_client_addr(r->rt->cfg, r->c->peer, r->head, job->addr, sizeof(job->addr));
    moat_arena_defer(r->arena, job_release, job);
    const char *sid = cookie_value(r, session_cookie_name(r));
    if (sid && sid[0] && strlen(sid) == MOAT_SESSION_ID_LEN) {
        moat_secret_hash(sid, strlen(sid), job->sid_hash);
        job->has_sid = true;
    }
    moat_http_header *a = moat_http_head_find(r->head, "Authorization");
    if (!job->has_sid && a && a->value_len > 7 && moat_strieq_lit(a->value, 7, "Bearer ")) {
        const char *t = a->value + 7;
        size_t n = a->value_len - 7;
        while (n && *t == ' ') {
            t++;
            n--;
        }
        if (n == MOAT_TOKEN_LEN) {
            moat_secret_hash(t, n, job->tok_hash);
            job->has_tok = true;
        }
    }
    return job;
}

/* Runs fn(job) on the thread pool, then after on the loop; a job that
 * cannot be queued fails closed (MOAT_DONE). */
static int queue_fn(moat_request *r, auth_job *job, uv_work_cb fn, uv_after_work_cb after)
{
    job->queued = true;
    job->work.data = job;
    if (uv_queue_work(&r->c->w->loop, &job->work, fn, after) < 0) {
        job->queued = false;
        fail_closed(r, MOAT_EINTERNAL);
        return MOAT_DONE;
    }
    return MOAT_AGAIN;
}

static int queue(moat_request *r, auth_job *job)
{
    return queue_fn(r, job, work_entry, after_work_cb);
}

static char *dup_field(const moat__form *f, const char *key, size_t max)
{
    const char *v = moat__form_get(f, key);
    if (!v || strlen(v) > max) return NULL;
    return moat_xstrdup(v);
}

/* Takes what the job needs from a parsed form or JSON body. */
static void job_inputs(auth_job *job, const moat__form *f)
{
    job->name = dup_field(f, "username", MOAT_USER_NAME_MAX);
    job->pw = dup_field(f, "password", MOAT_PASSWORD_MAX);
    job->code = dup_field(f, "code", 64);
    job->newpw = dup_field(f, "new", MOAT_PASSWORD_MAX);
    job->newpw2 = dup_field(f, "new2", MOAT_PASSWORD_MAX);
    job->secret = dup_field(f, "secret", 128);
    const char *rem = moat__form_get(f, "remember");
    job->remember = rem && strcmp(rem, "1") == 0;
    const char *ev = moat__form_get(f, "everywhere");
    job->everywhere = ev && strcmp(ev, "1") == 0;
    if (job->code && !job->code[0]) {
        free(job->code);
        job->code = NULL;
    }
}

/* JSON login body -> the same fields as the form. */
static int json_form(moat_request *r, const char *body, size_t len, moat__form *f)
{
    json_error_t e;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return MOAT_EINVAL;
    }
    memset(f, 0, sizeof(*f));
    static const char *const keys[] = {"username", "password", "code", "remember"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(keys); i++) {
        json_t *v = json_object_get(root, keys[i]);
        if (!v) continue;
        const char *s = json_is_string(v) ? json_string_value(v) : json_is_true(v) ? "1" : NULL;
        if (!s) continue;
        f->keys[f->n] = keys[i];
        f->vals[f->n] = moat_arena_strdup(r->arena, s);
        f->n++;
    }
    json_decref(root);
    return 0;
}

static bool content_type_is(moat_request *r, const char *type)
{
    moat_http_header *ct = moat_http_head_find(r->head, "Content-Type");
    if (!ct) return false;
    size_t n = strlen(type);
    return ct->value_len >= n && moat_strieq_lit(ct->value, n, type) &&
           (ct->value_len == n || ct->value[n] == ';' || ct->value[n] == ' ');
}

/* A portal POST whose body is complete. */
static int portal_post(moat_request *r, portal p, const char *body, size_t len)
{
    moat__form *f = form_of(r);
    int rc;
    if (p == P_API_LOGIN) {
        /* A JSON body cannot come from another site's form without a CORS
         * preflight: that is this endpoint's CSRF protection. */
        if (!content_type_is(r, "application/json")) {
            moat__refusal(r, "http.rejected", "auth", NULL);
            moat__client_respond_error(r, 415, "login API takes application/json");
            return MOAT_DONE;
        }
        rc = json_form(r, body, len, f);
    } else if (p == P_API_LOGOUT) {
        rc = 0;
    } else {
        if (!content_type_is(r, "application/x-www-form-urlencoded")) {
            moat__refusal(r, "http.rejected", "auth", NULL);
            moat__client_respond_error(r, 415,
                                       "portal forms are application/x-www-form-urlencoded");
            return MOAT_DONE;
        }
        rc = moat__form_parse(r->arena, body, len, f);
    }
    if (rc < 0) {
        moat__refusal(r, "http.rejected", "auth", NULL);
        moat__client_respond_error(r, 400, "malformed form");
        return MOAT_DONE;
    }
    if (p == P_LOGIN) {
        /* Login CSRF: the form must repeat the token of its own cookie. */
        if (!csrf_ok(cookie_value(r, csrf_cookie_name(r)), moat__form_get(f, "csrf"))) {
            moat__refusal(r, "authz.denied", "auth", NULL);
            moat__client_respond_error(r, 403, "missing or wrong CSRF token");
            return MOAT_DONE;
        }
    }
    auth_job *job = job_new(r, p);
    job_inputs(job, f);
    return queue(r, job);
}

/* After the job of a session form: the CSRF token must be the session's. */
static bool session_csrf_ok(moat_request *r, auth_job *job)
{
    if (!job->post || job->p == P_LOGIN || job->p == P_API_LOGIN) return true;
    const char *got;
    if (job->p == P_API_LOGOUT) {
        moat_http_header *x = moat_http_head_find(r->head, "X-Moat-Csrf");
        got = x ? x->value : NULL;
    } else {
        got = moat__form_get(form_of(r), "csrf");
    }
    return csrf_ok(job->sess.csrf, got);
}

/* The CSRF token of a session form is only known once the session is read
 * (on the pool): the job reads the session first, and the action runs in a
 * second job when the token matched. */
static void csrf_work(uv_work_t *w)
{
    auth_job *job = w->data;
    resolve(job, job->rt->store, job->rt->cfg);
}

static void after_csrf_check(uv_work_t *w, int status)
{
    auth_job *job = w->data;
    moat_request *r = job_landed(job, status);
    if (!r) return;
    if (!job->authed || job->token) {
        after_portal(r, job);
        return;
    }
    if (!session_csrf_ok(r, job)) {
        event(r, "authz.denied", job->user.name, "CSRF token missing or wrong", 403, NULL, 0);
        moat_buf b;
        moat_buf_init(&b);
        bool json = job->p == P_API_LOGOUT || wants_json(r);
        moat__error_page(&b, r->rt->page_template, 403, r->id, json);
        answer(r, 403, "missing or wrong CSRF token",
               json ? "application/json" : "text/html; charset=utf-8", &b, NULL);
        moat_buf_free(&b);
        return;
    }
    /* The token matched: run the action (it reads the session again). */
    moat_user_clear(&job->user);
    job->authed = false;
    queue(r, job);
}

static int portal_post_session(moat_request *r, portal p, const char *body, size_t len)
{
    if (p == P_LOGIN || p == P_API_LOGIN) return portal_post(r, p, body, len);
    moat__form *f = form_of(r);
    if (p != P_API_LOGOUT && len > 0) {
        if (!content_type_is(r, "application/x-www-form-urlencoded") ||
            moat__form_parse(r->arena, body, len, f) < 0) {
            moat__refusal(r, "http.rejected", "auth", NULL);
            moat__client_respond_error(r, 400, "malformed form");
            return MOAT_DONE;
        }
    }
    auth_job *job = job_new(r, p);
    job_inputs(job, f);
    return queue_fn(r, job, csrf_work, after_csrf_check);
}

static int portal_head(moat_request *r, portal p)
{
    int m = r->head->method_id;
    bool get = m == HTTP_GET || m == HTTP_HEAD;
    bool post_only = p == P_LOGOUT || p == P_API_LOGIN || p == P_API_LOGOUT;
    bool get_only = p == P_ACCOUNT || p == P_API_SESS;
    if ((get && post_only) || (m == HTTP_POST && get_only) || (!get && m != HTTP_POST)) {
        moat__refusal(r, "http.rejected", "auth", NULL);
        moat__client_respond_error(r, 405, "method not allowed on this portal page");
        return MOAT_DONE;
    }
    if (get) {
        if (p == P_LOGIN) {
            hdrs h = {0};
            const char *csrf = login_csrf(r, &h);
            const char *q = strchr(r->head->target, '?');
            moat__form qf = {0};
            if (q) (void)moat__form_parse(r->arena, q + 1, strlen(q + 1), &qf);
            login_page(r, 200, NULL, rd_of(&qf), csrf, &h);
            return MOAT_DONE;
        }
        moat__form *qf = form_of(r);
        const char *q = strchr(r->head->target, '?');
        if (q && moat__form_parse(r->arena, q + 1, strlen(q + 1), qf) < 0)
            memset(qf, 0, sizeof(*qf));
        return queue(r, job_new(r, p));
    }
    if (r->head->content_length > BODY_MAX) {
        moat__refusal(r, "http.rejected", "auth", NULL);
        moat__client_respond_error(r, 413, "portal form over 16 KiB");
        return MOAT_DONE;
    }
    if (r->body_held) {
        /* The WAF read the body already (and passed it): take it from there. */
        const moat_buf *b = r->body_held;
        r->body_held = NULL;
        if (r->state != REQ_DONE || b->len > BODY_MAX) {
            moat__refusal(r, "http.rejected", "auth", NULL);
            moat__client_respond_error(r, 413, "portal form over 16 KiB");
            return MOAT_DONE;
        }
        return portal_post_session(r, p, b->data ? b->data : "", b->len);
    }
    if (r->state != REQ_BODY) return portal_post_session(r, p, "", 0);
    auth_req *a = areq(r);
    a->p = p;
    a->reading = true; /* not r->internal: that is stage_moat's CSP report */
    moat__client_continue(r->c);
    return MOAT_AGAIN;
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
    bool on_portal = r->rt->store && portal_of(r->path) != P_NONE;
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
    portal p = portal_of(path);
    if (p != P_NONE) return portal_head(r, p);
    /* The parsed Host (lower-case, no port, no trailing dot): a rule for
     * "admin.example.com" must also hold for "Admin.Example.com.:443". */
    const char *policy = moat__auth_policy(cfg, r->head->host_name, path, r->head->method);
    r->auth_guarded = strcmp(policy, "public") != 0;
    if (strcmp(policy, "deny") == 0) {
        deny(r, NULL, policy, false);
        return MOAT_DONE;
    }
    auth_job *job = job_new(r, P_NONE);
    job->policy = policy;
    if (!job->has_sid && !job->has_tok) {
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
    auth_req *bs = r->auth;
    if (!bs || !bs->reading) return MOAT_PASS;
    if (bs->body.len + len > BODY_MAX) {
        bs->reading = false;
        moat__refusal(r, "http.rejected", "auth", NULL);
        moat__client_respond_error(r, 413, "portal form over 16 KiB");
        return MOAT_DONE;
    }
    moat_buf_append(&bs->body, data, len);
    return MOAT_PASS;
}

static int auth_end(moat_request *r)
{
    auth_req *bs = r->auth;
    if (!bs || !bs->reading) return MOAT_PASS;
    bs->reading = false;
    int rc = portal_post_session(r, bs->p, bs->body.data ? bs->body.data : "", bs->body.len);
    return rc == MOAT_AGAIN ? MOAT_PASS : rc;
}

const moat_stage moat__stage_auth = {
    .name = "auth",
    .on_request_head = auth_head,
    .on_request_body = auth_body,
    .on_request_end = auth_end,
    .on_response_head = auth_response_head,
};
