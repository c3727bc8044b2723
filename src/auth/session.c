/* session.c - the session lifecycle over the store: reading who a request
 * is from its session cookie or bearer token (absolute expiry, idle limit,
 * deleted or locked users), starting a session (a fresh id at every login
 * and step-up: rotation, no fixation), ending one or all of a user's, and
 * the CSRF token a session carries. The only caller of the store's session
 * functions. Synchronous: the gateway runs these on the thread pool; where
 * the cookie comes from and what the answer looks like is the caller's. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"

void moat_session_creds_read(moat_session_creds *c, const moat_http_head *head, moat_arena *a,
                             bool tls)
{
    const char *sid =
        moat_http_head_cookie(head, a, tls ? MOAT_SESSION_COOKIE_TLS : MOAT_SESSION_COOKIE_PLAIN);
    if (sid && sid[0] && strlen(sid) == MOAT_SESSION_ID_LEN) {
        moat_secret_hash(sid, strlen(sid), c->sid_hash);
        c->has_sid = true;
    }
    const moat_http_header *auth = NULL;
    for (size_t i = 0; i < head->nheaders && !auth; i++)
        if (moat_strieq_lit(head->headers[i].name, head->headers[i].name_len, "Authorization"))
            auth = &head->headers[i];
    if (c->has_sid || !auth || auth->value_len <= 7 || !moat_strieq_lit(auth->value, 7, "Bearer "))
        return;
    const char *t = auth->value + 7;
    size_t n = auth->value_len - 7;
    while (n && *t == ' ') {
        t++;
        n--;
    }
    if (n == MOAT_TOKEN_LEN) {
        moat_secret_hash(t, n, c->tok_hash);
        c->has_tok = true;
    }
}

static int resolve_session(moat_store *s, const moat_config *cfg, const moat_session_creds *c,
                           moat_session_who *w)
{
    int64_t idle = (int64_t)(cfg->auth.session_idle_ms / 1000);
    int rc = moat_store_session_get(s, c->sid_hash, &w->sess);
    if (rc == MOAT_ENOENT) return 0;
    if (rc < 0) return rc;
    if (c->now >= w->sess.expires || c->now - w->sess.last_seen >= idle) {
        w->expired = true;
        return moat_store_session_delete(s, c->sid_hash);
    }
    rc = moat_store_user_get_id(s, w->sess.user_id, &w->user);
    if (rc == MOAT_ENOENT) return moat_store_session_delete(s, c->sid_hash);
    if (rc < 0) return rc;
    if (w->user.locked) {
        moat_user_clear(&w->user);
        return moat_store_session_delete(s, c->sid_hash);
    }
    if (c->now - w->sess.last_seen >= MOAT_SESSION_TOUCH_S) {
        rc = moat_store_session_touch(s, c->sid_hash, c->now);
        if (rc < 0) return rc;
    }
    w->authed = true;
    w->totp = w->user.totp_secret != NULL;
    return 0;
}

static int resolve_token(moat_store *s, const moat_config *cfg, const moat_session_creds *c,
                         moat_session_who *w)
{
    /* Token guessing counts against the client address, like a login. */
    moat_auth_settings as;
    moat_auth_settings_from_config(cfg, &as);
    int rc = moat_auth_token(s, &as, c->tok_hash, c->addr, c->now, &w->tok);
    if (rc < 0) return rc;
    if (w->tok.status != MOAT_LOGIN_OK) return 0;
    rc = moat_store_user_get_id(s, w->tok.user_id, &w->user);
    if (rc == MOAT_ENOENT) return 0;
    if (rc < 0) return rc;
    if (w->user.locked) {
        moat_user_clear(&w->user);
        return 0;
    }
    w->authed = w->token = true;
    w->totp = w->user.totp_secret != NULL;
    return 0;
}

int moat_session_resolve(moat_store *s, const moat_config *cfg, const moat_session_creds *c,
                         moat_session_who *w)
{
    memset(w, 0, sizeof(*w));
    if (c->has_sid) return resolve_session(s, cfg, c, w);
    if (c->has_tok) return resolve_token(s, cfg, c, w);
    return 0;
}

void moat_session_csrf_new(char *out, size_t nbytes)
{
    uint8_t raw[64];
    MOAT_BUG_ON(nbytes > sizeof(raw));
    moat_random(raw, nbytes);
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

bool moat_session_csrf_ok(const char *want, const char *got)
{
    return want && got && want[0] && moat_ct_equal(want, strlen(want), got, strlen(got));
}

int moat_session_start(moat_store *s, const moat_config *cfg, const moat_session_creds *c,
                       const moat_session *keep, int64_t uid, bool mfa, bool remember,
                       char new_sid[MOAT_SESSION_ID_LEN + 1], moat_session *made)
{
    if (c->has_sid) {
        int rc = moat_store_session_delete(s, c->sid_hash);
        if (rc < 0 && rc != MOAT_ENOENT) return rc;
    }
    moat_session_id_new(new_sid);
    memset(made, 0, sizeof(*made));
    moat_secret_hash(new_sid, strlen(new_sid), made->id_hash);
    made->user_id = uid;
    made->created = made->last_seen = c->now;
    bool remembered = remember && cfg->auth.remember_ms;
    if (keep && !remember)
        made->expires = keep->expires; /* a step-up keeps the login's lifetime */
    else
        made->expires =
            c->now +
            (int64_t)((remembered ? cfg->auth.remember_ms : cfg->auth.session_lifetime_ms) / 1000);
    made->mfa = mfa;
    moat_session_csrf_new(made->csrf, 32);
    return moat_store_session_create(s, made);
}

int moat_session_end(moat_store *s, const char *id_hash)
{
    return moat_store_session_delete(s, id_hash);
}

int moat_session_end_user(moat_store *s, int64_t uid, size_t *n)
{
    return moat_store_sessions_end_user(s, uid, n);
}

bool moat_session_exists(moat_store *s, const char *id_hash)
{
    moat_session old;
    return moat_store_session_get(s, id_hash, &old) == 0;
}

void moat_session_purge(moat_store *s, const moat_config *cfg, int64_t now)
{
    static _Atomic int64_t last_purge;
    int64_t last = atomic_load(&last_purge);
    if (now - last >= 60 && atomic_compare_exchange_strong(&last_purge, &last, now))
        (void)moat_store_purge(s, now, (int64_t)(cfg->auth.session_idle_ms / 1000));
}

const char *moat_session_set_cookie(moat_arena *a, bool tls, const char *name, const char *value,
                                    int64_t max_age, const char *samesite)
{
    char age[48] = "";
    if (max_age >= 0) snprintf(age, sizeof(age), "; Max-Age=%lld", (long long)max_age);
    return moat_arena_printf(a, "%s=%s; Path=/%s; HttpOnly; SameSite=%s%s", name, value,
                             tls ? "; Secure" : "", samesite, age);
}

static void auth_event(moat_auth_event *e, const char *name, const char *who, const char *reason,
                       const moat_seclog_field *f, size_t nf)
{
    MOAT_BUG_ON(nf > 2);
    memset(e, 0, sizeof(*e));
    e->name = name;
    e->user = who;
    e->reason = reason;
    for (size_t i = 0; i < nf; i++)
        e->fields[i] = f[i];
    e->nfields = nf;
}

size_t moat_auth_lock_events(const char *who, const moat_login_result *lr, bool mfa,
                             const moat_seclog_field *f, size_t nf, moat_auth_event out[2])
{
    size_t n = 0;
    if (lr->locked_until)
        auth_event(&out[n++], mfa ? "auth.mfa.lockout" : "auth.lockout", who,
                   mfa ? "second factor locked after wrong codes"
                       : "account locked after failed logins",
                   f, nf);
    if (lr->throttled_until)
        auth_event(&out[n++], "auth.lockout", who, "client address throttled after failures", f,
                   nf);
    return n;
}

size_t moat_session_token_events(const moat_session_creds *c, const moat_session_who *w,
                                 moat_auth_event out[3])
{
    const moat_login_result *tok = &w->tok;
    if (!c->has_tok || tok->status == MOAT_LOGIN_OK) return 0;
    moat_seclog_field f[1] = {{"cause", tok->reason ? tok->reason : "login failed"}};
    auth_event(&out[0], "auth.token.failure", NULL,
               tok->status == MOAT_LOGIN_THROTTLED ? "bearer token from a throttled address"
                                                   : "unknown, revoked or expired bearer token",
               f, 1);
    return 1 + moat_auth_lock_events(NULL, tok, false, f, 1, out + 1);
}

const char *moat_auth_event_key(const char *event)
{
    if (strcmp(event, "authz.denied") == 0) return "auth.rules";
    if (strncmp(event, "auth.mfa.", 9) == 0) return "auth.mfa_failures";
    if (strcmp(event, "auth.token.failure") == 0) return "auth.address_failures";
    if (strncmp(event, "auth.", 5) == 0 && strcmp(event, "auth.login.success") != 0)
        return "auth.lockout_failures";
    if (strcmp(event, "session.expired") == 0) return "auth.session_idle";
    if (strcmp(event, "store.unavailable") == 0) return "store.url";
    if (strcmp(event, "store.available") == 0) return "store.url";
    return NULL;
}
