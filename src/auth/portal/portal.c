/* portal.c - the portal's routes and its steps on the loop: which page a
 * path is, which methods it takes, the form or JSON body (and its CSRF
 * token), then what the job found turned into a page, a redirect or JSON,
 * with the security events the gateway records. A session form's CSRF
 * token is only known once the session is read, so its job runs twice: the
 * first run reads the session, the action runs once the token matched. The
 * pages are pages.c's, the store work run.c's. */
#include <http_parser.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const struct {
    const char *path;
    moat_portal_route p;
} routes[] = {
    {"/.moat/", MOAT_PORTAL_ACCOUNT},
    {"/.moat/login", MOAT_PORTAL_LOGIN},
    {"/.moat/mfa", MOAT_PORTAL_MFA},
    {"/.moat/enroll", MOAT_PORTAL_ENROLL},
    {"/.moat/logout", MOAT_PORTAL_LOGOUT},
    {"/.moat/password", MOAT_PORTAL_PASSWORD},
    {"/.moat/api/login", MOAT_PORTAL_API_LOGIN},
    {"/.moat/api/session", MOAT_PORTAL_API_SESSION},
    {"/.moat/api/logout", MOAT_PORTAL_API_LOGOUT},
};

moat_portal_route moat_portal_match(const char *path)
{
    for (size_t i = 0; path && i < MOAT_ARRAY_LEN(routes); i++)
        if (strcmp(path, routes[i].path) == 0) return routes[i].p;
    return MOAT_PORTAL_NONE;
}

bool moat_portal_rd_ok(const char *rd)
{
    /* A path on this site: "/x", never "//host", "/\host" or a scheme. */
    if (!rd || rd[0] != '/' || rd[1] == '/' || rd[1] == '\\') return false;
    size_t n = strlen(rd);
    if (n > 2048) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rd[i];
        if (c <= 0x20 || c == 0x7f || c == '\\' || c >= 0x80) return false;
    }
    /* %2F%2F and friends: the browser may decode before it resolves. */
    if (strncmp(rd, "/%2f", 4) == 0 || strncmp(rd, "/%2F", 4) == 0 || strncmp(rd, "/%5c", 4) == 0 ||
        strncmp(rd, "/%5C", 4) == 0)
        return false;
    return true;
}

moat_portal_job *moat_portal_job_new(moat_portal_route route)
{
    moat_portal_job *job = moat_xcalloc(1, sizeof(*job));
    job->p = route;
    return job;
}

static void wipe_free(char *s)
{
    if (!s) return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void moat_portal_job_free(moat_portal_job *job)
{
    if (!job) return;
    wipe_free(job->name);
    wipe_free(job->pw);
    wipe_free(job->code);
    wipe_free(job->newpw);
    wipe_free(job->newpw2);
    wipe_free(job->secret);
    moat_enrollment_clear(&job->enr);
    free(job->qr_svg);
    moat_user_clear(&job->who.user);
    explicit_bzero(job, sizeof(*job));
    free(job);
}

/* ---- input ---------------------------------------------------------------- */

static char *dup_field(const moat_http_form *f, const char *key, size_t max)
{
    const char *v = moat_http_form_get(f, key);
    if (!v || strlen(v) > max) return NULL;
    return moat_xstrdup(v);
}

/* Takes what the run needs from the parsed form or JSON body, and who the
 * request is from its cookie or token. */
static int run(moat_portal_job *job, const moat_portal_req *req, int state)
{
    const moat_http_form *f = &job->form;
    job->name = dup_field(f, "username", MOAT_USER_NAME_MAX);
    job->pw = dup_field(f, "password", MOAT_PASSWORD_MAX);
    job->code = dup_field(f, "code", 64);
    job->newpw = dup_field(f, "new", MOAT_PASSWORD_MAX);
    job->newpw2 = dup_field(f, "new2", MOAT_PASSWORD_MAX);
    job->secret = dup_field(f, "secret", 128);
    const char *rem = moat_http_form_get(f, "remember");
    job->remember = rem && strcmp(rem, "1") == 0;
    const char *ev = moat_http_form_get(f, "everywhere");
    job->everywhere = ev && strcmp(ev, "1") == 0;
    if (job->code && !job->code[0]) {
        free(job->code);
        job->code = NULL;
    }
    moat_session_creds_read(&job->creds, req->head, req->arena, req->tls);
    snprintf(job->creds.addr, sizeof(job->creds.addr), "%s", req->addr ? req->addr : "");
    job->creds.now = (int64_t)time(NULL);
    job->csrf_phase = state == ST_CSRF;
    job->state = state;
    return MOAT_PORTAL_RUN;
}

/* JSON login body -> the same fields as the form. */
static int json_form(const moat_portal_req *req, moat_http_form *f)
{
    json_error_t e;
    json_t *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
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
        f->vals[f->n] = moat_arena_strdup(req->arena, s);
        f->n++;
    }
    json_decref(root);
    return 0;
}

static bool content_type_is(const moat_portal_req *req, const char *type)
{
    moat_http_header *ct = moat_http_head_find(req->head, "Content-Type");
    if (!ct) return false;
    size_t n = strlen(type);
    return ct->value_len >= n && moat_strieq_lit(ct->value, n, type) &&
           (ct->value_len == n || ct->value[n] == ';' || ct->value[n] == ' ');
}

static const char *rd_of(const moat_http_form *f)
{
    const char *rd = f ? moat_http_form_get(f, "rd") : NULL;
    return moat_portal_rd_ok(rd) ? rd : NULL;
}

/* The first step: the method, then a page that needs no store, the body,
 * or the run. */
static int start(moat_portal_job *job, const moat_portal_req *req, moat_portal_reply *rep)
{
    moat_portal_route p = job->p;
    int m = req->head->method_id;
    bool get = m == HTTP_GET || m == HTTP_HEAD;
    /* GET /.moat/logout (where an app's own "Log out" link can send the
     * user) only asks: the account page, whose form POSTs with the token. */
    bool post_only = p == MOAT_PORTAL_API_LOGIN || p == MOAT_PORTAL_API_LOGOUT;
    bool get_only = p == MOAT_PORTAL_ACCOUNT || p == MOAT_PORTAL_API_SESSION;
    if ((get && post_only) || (m == HTTP_POST && get_only) || (!get && m != HTTP_POST)) {
        moat__portal_refuse(rep, 405, "method not allowed on this portal page", "http.rejected");
        return MOAT_PORTAL_ANSWER;
    }
    job->post = m == HTTP_POST;
    if (job->post) {
        job->state = ST_BODY;
        return MOAT_PORTAL_READ;
    }
    const char *q = strchr(req->head->target, '?');
    if (p == MOAT_PORTAL_LOGIN) {
        const char *csrf = moat__portal_login_csrf(req, rep);
        moat_http_form qf = {0};
        if (q) (void)moat_http_form_parse(req->arena, q + 1, strlen(q + 1), &qf);
        moat__portal_login_page(req, rep, 200, NULL, rd_of(&qf), csrf, NULL);
        return MOAT_PORTAL_ANSWER;
    }
    if (q && moat_http_form_parse(req->arena, q + 1, strlen(q + 1), &job->form) < 0)
        memset(&job->form, 0, sizeof(job->form));
    return run(job, req, ST_RAN);
}

/* A login POST whose body is complete. */
static int login_body(moat_portal_job *job, const moat_portal_req *req, moat_portal_reply *rep)
{
    moat_http_form *f = &job->form;
    int rc;
    if (job->p == MOAT_PORTAL_API_LOGIN) {
        /* A JSON body cannot come from another site's form without a CORS
         * preflight: that is this endpoint's CSRF protection. */
        if (!content_type_is(req, "application/json")) {
            moat__portal_refuse(rep, 415, "login API takes application/json", "http.rejected");
            return MOAT_PORTAL_ANSWER;
        }
        rc = json_form(req, f);
    } else {
        if (!content_type_is(req, "application/x-www-form-urlencoded")) {
            moat__portal_refuse(rep, 415, "portal forms are application/x-www-form-urlencoded",
                                "http.rejected");
            return MOAT_PORTAL_ANSWER;
        }
        rc = moat_http_form_parse(req->arena, req->body, req->body_len, f);
    }
    if (rc < 0) {
        moat__portal_refuse(rep, 400, "malformed form", "http.rejected");
        return MOAT_PORTAL_ANSWER;
    }
    if (job->p == MOAT_PORTAL_LOGIN) {
        /* Login CSRF: the form must repeat the token of its own cookie. */
        const char *want =
            moat_http_head_cookie(req->head, req->arena, moat__portal_csrf_cookie(req));
        if (!moat_session_csrf_ok(want, moat_http_form_get(f, "csrf"))) {
            moat__portal_refuse(rep, 403, "missing or wrong CSRF token", "authz.denied");
            return MOAT_PORTAL_ANSWER;
        }
    }
    return run(job, req, ST_RAN);
}

/* A POST whose body is complete. */
static int body(moat_portal_job *job, const moat_portal_req *req, moat_portal_reply *rep)
{
    if (job->p == MOAT_PORTAL_LOGIN || job->p == MOAT_PORTAL_API_LOGIN)
        return login_body(job, req, rep);
    if (job->p != MOAT_PORTAL_API_LOGOUT && req->body_len > 0) {
        if (!content_type_is(req, "application/x-www-form-urlencoded") ||
            moat_http_form_parse(req->arena, req->body, req->body_len, &job->form) < 0) {
            moat__portal_refuse(rep, 400, "malformed form", "http.rejected");
            return MOAT_PORTAL_ANSWER;
        }
    }
    return run(job, req, ST_CSRF);
}

/* ---- after the run ------------------------------------------------------- */

static const char *login_reason(const moat_login_result *lr)
{
    return lr->reason ? lr->reason : "login failed";
}

/* The user field of a failure's event: the name when it names a user, else
 * a keyed tag of it (it may be a password typed into the wrong field). */
static const char *logged_name(const moat_portal_req *req, const moat_login_result *lr,
                               const char *name)
{
    if (!name) return NULL;
    if (lr->user_id > 0) return name;
    char *tag = moat_arena_alloc(req->arena, MOAT_NAME_TAG_LEN + 1);
    moat_auth_name_tag(name, tag);
    return tag;
}

/* The lockout events a failure caused. */
static void record_locks(moat_portal_reply *rep, const char *who, const moat_login_result *lr,
                         bool mfa, const moat_seclog_field *f, size_t nf)
{
    MOAT_BUG_ON(rep->nevents + 2 > MOAT_PORTAL_EVENTS);
    rep->nevents += moat_auth_lock_events(who, lr, mfa, f, nf, rep->events + rep->nevents);
}

static bool code_failure(const moat_login_result *lr)
{
    return lr->reason &&
           (strcmp(lr->reason, "bad_code") == 0 || strcmp(lr->reason, "mfa_locked") == 0);
}

static void record_login(const moat_portal_req *req, moat_portal_job *job, moat_portal_reply *rep)
{
    const moat_login_result *lr = &job->login;
    if (lr->status == MOAT_LOGIN_OK) {
        moat_seclog_field f[2] = {{"factors", lr->mfa ? "2" : "1"},
                                  {"rehashed", lr->rehashed ? "true" : "false"}};
        moat__portal_event(rep, "auth.login.success", job->who.user.name, "password accepted", 0, f,
                           2);
        moat__portal_event(rep, "session.created", job->who.user.name, "session started at login",
                           0, NULL, 0);
        return;
    }
    const char *who = logged_name(req, lr, job->name ? job->name : "");
    moat_seclog_field f[2] = {{"cause", login_reason(lr)}, {"via", "login"}};
    bool mfa = code_failure(lr);
    if (mfa)
        moat__portal_event(rep, "auth.mfa.failure", who, "wrong, reused or locked code at login",
                           401, f, 2);
    moat__portal_event(rep, "auth.login.failure", who, "login refused",
                       lr->status == MOAT_LOGIN_THROTTLED ? 429 : 401, f, 1);
    record_locks(rep, who, lr, mfa, f, 1);
}

/* A bearer token that matched no live token, or came from a throttled
 * address. */
static void record_token(moat_portal_job *job, moat_portal_reply *rep)
{
    MOAT_BUG_ON(rep->nevents + 3 > MOAT_PORTAL_EVENTS);
    rep->nevents += moat_session_token_events(&job->creds, &job->who, rep->events + rep->nevents);
}

/* The Retry-After of an answer the limiter refused (429): when it would let
 * the next attempt be checked. */
static void retry_after(const moat_portal_req *req, moat_portal_reply *rep,
                        const moat_login_result *lr, int64_t now)
{
    int64_t secs = moat_login_retry_after(lr, now);
    if (secs > 0)
        moat__portal_hdr(rep, "Retry-After",
                         moat_arena_printf(req->arena, "%lld", (long long)secs));
}

static void after_login(const moat_portal_req *req, moat_portal_job *job, moat_portal_reply *rep,
                        const char *rd)
{
    record_login(req, job, rep);
    bool api = job->p == MOAT_PORTAL_API_LOGIN;
    if (!job->ok && job->login.status == MOAT_LOGIN_THROTTLED) {
        /* The client address is throttled: checked before the name is
         * looked up, so this says nothing about the account. A locked
         * account is answered below exactly as a wrong password. */
        retry_after(req, rep, &job->login, job->creds.now);
        if (api) {
            moat__portal_json_error(rep, 429, "too many failed attempts");
            return;
        }
        moat__portal_login_page(req, rep, 429, MOAT_PORTAL_TOO_MANY, rd,
                                moat__portal_login_csrf(req, rep), job->name);
        return;
    }
    if (!job->ok) {
        if (api) {
            moat__portal_hdr(rep, "WWW-Authenticate", "Bearer realm=\"moat\"");
            moat__portal_json_error(rep, 401, "login failed");
            return;
        }
        const char *csrf = moat__portal_login_csrf(req, rep);
        moat__portal_login_page(req, rep, 401,
                                "Wrong user name, password or code, or the account is locked.", rd,
                                csrf, job->name);
        return;
    }
    moat__portal_session_cookie(req, job, rep);
    if (api) {
        moat__portal_json_user(&rep->body, &job->who.user, job->made.mfa);
        moat_buf_puts(&rep->body, "}");
        moat__portal_page(rep, 200, "logged in", "application/json");
        return;
    }
    moat__portal_hdr(rep, "Set-Cookie",
                     moat__portal_set_cookie(req, moat__portal_csrf_cookie(req), "", 0, "Strict"));
    moat__portal_redirect(rep, 303, rd ? rd : "/");
}

const char *moat_portal_page_url(moat_arena *a, const char *page, const char *rd)
{
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_puts(&b, page);
    if (rd && moat_portal_rd_ok(rd)) {
        moat_buf_puts(&b, "?rd=");
        moat_http_url_escape(&b, rd);
    }
    const char *loc = moat_arena_strdup(a, b.data);
    moat_buf_free(&b);
    return loc;
}

/* What a portal page needing a session answers without one. */
static void need_login(const moat_portal_req *req, moat_portal_job *job, moat_portal_reply *rep,
                       const char *rd)
{
    moat__portal_session_cookie(req, job, rep);
    if (job->p >= MOAT_PORTAL_API_LOGIN || req->json) {
        if (job->creds.has_tok && job->who.tok.status == MOAT_LOGIN_THROTTLED) {
            /* A bearer token from a throttled address, not even looked at. */
            retry_after(req, rep, &job->who.tok, job->creds.now);
            moat__portal_json_error(rep, 429, "too many failed attempts");
            return;
        }
        moat__portal_hdr(rep, "WWW-Authenticate", "Bearer realm=\"moat\"");
        moat__portal_json_error(rep, 401, "not logged in");
        return;
    }
    moat__portal_redirect(rep, req->head->method_id == HTTP_POST ? 303 : 302,
                          moat_portal_page_url(req->arena, "/.moat/login", rd));
}

static void api_session(const moat_portal_req *req, moat_portal_job *job, moat_portal_reply *rep)
{
    const moat_session *sess = &job->who.sess;
    moat_buf *b = &rep->body;
    moat__portal_json_user(b, &job->who.user, !job->who.token && sess->mfa);
    if (!job->who.token) {
        moat_buf_puts(b, ",\"csrf\":");
        moat_buf_put_json_string(b, sess->csrf, strlen(sess->csrf));
        int64_t idle_end = sess->last_seen + (int64_t)(req->cfg->auth.session_idle_ms / 1000);
        moat_buf_printf(b, ",\"expires\":%lld",
                        (long long)(idle_end < sess->expires ? idle_end : sess->expires));
    }
    moat_buf_puts(b, "}");
    moat__portal_page(rep, 200, "session", "application/json");
}

static void after_mfa(moat_portal_job *job, moat_portal_reply *rep, const char *rd,
                      const moat_portal_req *req)
{
    const char *user = job->who.user.name;
    if (!job->post) {
        moat__portal_mfa_page(req, job, rep, 200, NULL, rd);
    } else if (job->ok) {
        moat__portal_event(rep, "session.created", user, "session rotated at MFA step-up", 0, NULL,
                           0);
        moat__portal_session_cookie(req, job, rep);
        moat__portal_redirect(rep, 303, rd ? rd : "/");
    } else {
        const moat_login_result *lr = &job->login;
        moat_seclog_field ff[2] = {{"cause", login_reason(lr)}, {"via", "step-up"}};
        bool refused = job->checked && lr->status != MOAT_LOGIN_BAD;
        moat__portal_event(rep, "auth.mfa.failure", user,
                           refused ? "code refused at step-up: locked or throttled"
                                   : "wrong or reused code at step-up",
                           refused ? 429 : 401, ff, 2);
        record_locks(rep, user, lr, true, ff, 1);
        if (refused) retry_after(req, rep, lr, job->creds.now);
        moat__portal_mfa_page(req, job, rep, refused ? 429 : 401, job->why, rd);
    }
}

static void after_enroll(moat_portal_job *job, moat_portal_reply *rep, const char *rd,
                         const moat_portal_req *req)
{
    const char *user = job->who.user.name;
    if (job->who.user.totp_secret && !job->who.sess.mfa && !job->ok) {
        moat__portal_redirect(rep, 303,
                              moat_portal_page_url(req->arena, "/.moat/mfa", "/.moat/enroll"));
    } else if (!job->post) {
        moat__portal_enroll_page(req, job, rep, 200, NULL, rd);
    } else if (job->ok) {
        moat__portal_event(rep, "session.created", user, "session rotated at MFA enrollment", 0,
                           NULL, 0);
        moat__portal_recovery_page(req, job, rep, rd);
    } else {
        moat__portal_event(rep, "auth.mfa.failure", user, "wrong code at enrollment", 400, NULL, 0);
        if (!job->enr.secret_b32) {
            moat__portal_refuse(rep, 400, "bad enrollment form", NULL);
            return;
        }
        moat__portal_enroll_page(req, job, rep, 400, job->why, rd);
    }
}

static void after_password(moat_portal_job *job, moat_portal_reply *rep, const moat_portal_req *req)
{
    const char *user = job->who.user.name;
    if (!job->post) {
        moat__portal_password_page(req, job, rep, 200, NULL);
    } else if (job->ok) {
        moat__portal_event(rep, "session.ended", user, "password changed: every session ended", 0,
                           NULL, 0);
        moat__portal_event(rep, "session.created", user, "new session after the password change", 0,
                           NULL, 0);
        moat__portal_session_cookie(req, job, rep);
        moat__portal_redirect(rep, 303, "/.moat/");
    } else {
        const moat_login_result *lr = &job->login;
        bool refused = job->checked && lr->status != MOAT_LOGIN_OK && lr->status != MOAT_LOGIN_BAD;
        if (job->checked && lr->status != MOAT_LOGIN_OK) {
            moat_seclog_field ff[2] = {{"cause", login_reason(lr)}, {"via", "password-change"}};
            moat__portal_event(rep, "auth.password.failure", user,
                               refused ? "password change refused: locked or throttled"
                                       : "wrong current password at a password change",
                               refused ? 429 : 400, ff, 2);
            record_locks(rep, user, lr, false, ff, 1);
        }
        if (refused) retry_after(req, rep, lr, job->creds.now);
        moat__portal_password_page(req, job, rep, refused ? 429 : 400, job->why);
    }
}

static void after_run(const moat_portal_req *req, moat_portal_job *job, moat_portal_reply *rep)
{
    const char *rd = rd_of(&job->form);
    if (job->who.expired)
        moat__portal_event(rep, "session.expired", NULL, "idle or absolute session timeout", 0,
                           NULL, 0);
    if (job->p == MOAT_PORTAL_LOGIN || job->p == MOAT_PORTAL_API_LOGIN) {
        after_login(req, job, rep, rd);
        return;
    }
    record_token(job, rep);
    if (!job->who.authed || (job->who.token && job->p != MOAT_PORTAL_API_SESSION)) {
        need_login(req, job, rep, rd);
        return;
    }
    switch (job->p) {
    case MOAT_PORTAL_ACCOUNT:
        moat__portal_account_page(req, job, rep);
        return;
    case MOAT_PORTAL_API_SESSION:
        api_session(req, job, rep);
        return;
    case MOAT_PORTAL_API_LOGOUT:
    case MOAT_PORTAL_LOGOUT:
        if (!job->post) {
            moat__portal_account_page(req, job, rep);
            return;
        }
        if (!job->ended) break;
        moat__portal_event(rep, "session.ended", job->who.user.name,
                           job->everywhere ? "logged out everywhere" : "logged out", 0, NULL, 0);
        moat__portal_session_cookie(req, job, rep);
        if (job->p == MOAT_PORTAL_API_LOGOUT)
            moat__portal_page(rep, 204, "logged out", NULL);
        else
            moat__portal_redirect(rep, 303, "/.moat/login");
        return;
    case MOAT_PORTAL_MFA:
        after_mfa(job, rep, rd, req);
        return;
    case MOAT_PORTAL_ENROLL:
        after_enroll(job, rep, rd, req);
        return;
    case MOAT_PORTAL_PASSWORD:
        after_password(job, rep, req);
        return;
    default:
        break;
    }
    moat__portal_refuse(rep, 500, "unexpected portal state", NULL);
}

/* After the first run of a session form: the token must be the session's. */
static int after_csrf(const moat_portal_req *req, moat_portal_job *job, moat_portal_reply *rep)
{
    if (!job->who.authed || job->who.token) {
        after_run(req, job, rep);
        return MOAT_PORTAL_ANSWER;
    }
    const char *got;
    if (job->p == MOAT_PORTAL_API_LOGOUT) {
        moat_http_header *x = moat_http_head_find(req->head, "X-Moat-Csrf");
        got = x ? x->value : NULL;
    } else {
        got = moat_http_form_get(&job->form, "csrf");
    }
    if (!moat_session_csrf_ok(job->who.sess.csrf, got)) {
        moat__portal_event(rep, "authz.denied", job->who.user.name, "CSRF token missing or wrong",
                           403, NULL, 0);
        rep->kind = MOAT_PORTAL_FORBID;
        rep->status = 403;
        rep->reason = "missing or wrong CSRF token";
        rep->json = job->p == MOAT_PORTAL_API_LOGOUT || req->json;
        return MOAT_PORTAL_ANSWER;
    }
    /* The token matched: run the action (it reads the session again). */
    job->csrf_phase = false;
    job->state = ST_RAN;
    return MOAT_PORTAL_RUN;
}

int moat_portal_answer(moat_portal_job *job, const moat_portal_req *req, moat_portal_reply *rep)
{
    memset(rep, 0, sizeof(*rep));
    moat_buf_init(&rep->body);
    if (job->state >= ST_CSRF && job->err) {
        rep->kind = MOAT_PORTAL_FAIL;
        rep->status = 503;
        rep->err = job->err;
        return MOAT_PORTAL_ANSWER;
    }
    switch (job->state) {
    case ST_START:
        return start(job, req, rep);
    case ST_BODY:
        return body(job, req, rep);
    case ST_CSRF:
        return after_csrf(req, job, rep);
    default:
        after_run(req, job, rep);
        return MOAT_PORTAL_ANSWER;
    }
}
