/* pages.c - what the portal answers, written into a reply: the HTML pages
 * (which values each template gets; the markup is in templates/, see
 * look.c and template.c; no script, escaped text), the JSON of the API, the
 * session and CSRF cookies, redirects and the security events the gateway
 * records for the portal. Nothing here decides: portal.c does. */
#include <string.h>

#include "internal.h"

#define COOKIE_CSRF_TLS "__Host-moat_csrf"
#define COOKIE_CSRF_PLAIN "moat_csrf"

void moat_portal_html_escape(moat_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            moat_buf_puts(b, "&amp;");
            break;
        case '<':
            moat_buf_puts(b, "&lt;");
            break;
        case '>':
            moat_buf_puts(b, "&gt;");
            break;
        case '"':
            moat_buf_puts(b, "&quot;");
            break;
        case '\'':
            moat_buf_puts(b, "&#39;");
            break;
        default:
            moat_buf_putc(b, *s);
        }
    }
}

void moat_portal_reply_free(moat_portal_reply *rep)
{
    moat_buf_free(&rep->body);
}

void moat__portal_event(moat_portal_reply *rep, const char *name, const char *user,
                        const char *reason, int status, const moat_seclog_field *f, size_t nf)
{
    MOAT_BUG_ON(rep->nevents >= MOAT_PORTAL_EVENTS || nf > 2);
    moat_auth_event *e = &rep->events[rep->nevents++];
    e->name = name;
    e->user = user;
    e->reason = reason;
    e->status = status;
    for (size_t i = 0; i < nf; i++)
        e->fields[i] = f[i];
    e->nfields = nf;
}

/* Headers of an answer: up to 4 pairs. */
void moat__portal_hdr(moat_portal_reply *rep, const char *name, const char *value)
{
    if (rep->nhdrs >= 4) return;
    rep->hdrs[2 * rep->nhdrs] = name;
    rep->hdrs[2 * rep->nhdrs + 1] = value;
    rep->nhdrs++;
}

const char *moat__portal_set_cookie(const moat_portal_req *req, const char *name, const char *value,
                                    int64_t max_age, const char *samesite)
{
    return moat_session_set_cookie(req->arena, req->tls, name, value, max_age, samesite);
}

const char *moat__portal_csrf_cookie(const moat_portal_req *req)
{
    return req->tls ? COOKIE_CSRF_TLS : COOKIE_CSRF_PLAIN;
}

void moat__portal_session_cookie(const moat_portal_req *req, moat_portal_job *job,
                                 moat_portal_reply *rep)
{
    const char *name = req->tls ? MOAT_SESSION_COOKIE_TLS : MOAT_SESSION_COOKIE_PLAIN;
    if (job->new_session) {
        int64_t age = -1;
        if (job->remember && req->cfg->auth.remember_ms)
            age = (int64_t)(req->cfg->auth.remember_ms / 1000);
        moat__portal_hdr(rep, "Set-Cookie",
                         moat__portal_set_cookie(req, name, job->new_sid, age, "Lax"));
    } else if (job->ended || job->who.expired) {
        moat__portal_hdr(rep, "Set-Cookie", moat__portal_set_cookie(req, name, "", 0, "Lax"));
    }
}

void moat__portal_page(moat_portal_reply *rep, int status, const char *reason, const char *ctype)
{
    rep->kind = MOAT_PORTAL_PAGE;
    rep->status = status;
    rep->reason = reason;
    rep->ctype = ctype;
}

void moat__portal_redirect(moat_portal_reply *rep, int status, const char *location)
{
    rep->location = location;
    moat__portal_page(rep, status, "auth redirect", "text/html; charset=utf-8");
}

void moat__portal_refuse(moat_portal_reply *rep, int status, const char *reason, const char *event)
{
    rep->kind = MOAT_PORTAL_REFUSE;
    rep->status = status;
    rep->reason = reason;
    rep->refusal = event;
}

/* ---- HTML ---------------------------------------------------------------- */

#define HTML "text/html; charset=utf-8"

/* Page template tmpl with v, inside the layout, as rep's body. */
static void render(const moat_portal_req *req, moat_portal_reply *rep, const char *title, int tmpl,
                   const moat__tvar *v, size_t nv)
{
    moat_buf content;
    moat_buf_init(&content);
    /* templates were checked when the look was loaded: this cannot fail */
    (void)moat__tmpl_render(&content, moat__look_text(req->look, tmpl), v, nv, NULL);
    moat__look_layout(req->look, req->cfg, &rep->body, title, content.data ? content.data : "");
    moat_buf_free(&content);
}

void moat__portal_login_page(const moat_portal_req *req, moat_portal_reply *rep, int status,
                             const char *msg, const char *rd, const char *csrf,
                             const char *username)
{
    moat__tvar v[] = {
        {.name = "error", .value = msg},
        {.name = "csrf", .value = csrf},
        {.name = "rd", .value = rd},
        {.name = "username", .value = username && strlen(username) <= 256 ? username : NULL},
        {.name = "remember", .value = req->cfg->auth.remember_ms ? "1" : NULL},
    };
    render(req, rep, "Log in", MOAT__TMPL_LOGIN, v, MOAT_ARRAY_LEN(v));
    moat__portal_page(rep, status, status == 200 ? "login page" : "login refused", HTML);
}

/* The login form's CSRF token: a random value in a cookie of its own that
 * the form repeats (no session exists yet to bind it to). */
const char *moat__portal_login_csrf(const moat_portal_req *req, moat_portal_reply *rep)
{
    char *tok = moat_arena_alloc(req->arena, 49);
    moat_session_csrf_new(tok, 24);
    moat__portal_hdr(
        rep, "Set-Cookie",
        moat__portal_set_cookie(req, moat__portal_csrf_cookie(req), tok, -1, "Strict"));
    return tok;
}

void moat__portal_account_page(const moat_portal_req *req, moat_portal_job *job,
                               moat_portal_reply *rep)
{
    const moat_user *u = &job->who.user;
    const moat_session *sess = &job->who.sess;
    moat_buf roles;
    moat_buf_init(&roles);
    for (size_t i = 0; i < u->nroles; i++) {
        if (i) moat_buf_puts(&roles, ", ");
        moat_buf_puts(&roles, u->roles[i]);
    }
    moat__tvar v[] = {
        {.name = "user", .value = u->name},
        {.name = "roles", .list = (const char *const *)u->roles, .nlist = u->nroles},
        {.name = "roles_text", .value = roles.data},
        {.name = "mfa",
         .value = sess->mfa        ? "presented"
                  : u->totp_secret ? "set up, not presented in this session"
                                   : "not set up"},
        {.name = "can_enroll", .value = !u->totp_secret || sess->mfa ? "1" : NULL},
        {.name = "can_step_up", .value = u->totp_secret && !sess->mfa ? "1" : NULL},
        {.name = "csrf", .value = sess->csrf},
    };
    /* Reached from GET /.moat/logout: the same page, its title the question. */
    const char *title = job->p == MOAT_PORTAL_LOGOUT ? "Log out" : "Your account";
    render(req, rep, title, MOAT__TMPL_ACCOUNT, v, MOAT_ARRAY_LEN(v));
    moat_buf_free(&roles);
    moat__portal_session_cookie(req, job, rep);
    moat__portal_page(rep, 200, "account page", HTML);
}

void moat__portal_mfa_page(const moat_portal_req *req, moat_portal_job *job, moat_portal_reply *rep,
                           int status, const char *msg, const char *rd)
{
    moat__tvar v[] = {
        {.name = "error", .value = msg},
        {.name = "csrf", .value = job->who.sess.csrf},
        {.name = "rd", .value = rd},
    };
    render(req, rep, "Second factor", MOAT__TMPL_MFA, v, MOAT_ARRAY_LEN(v));
    moat__portal_page(rep, status, "mfa page", HTML);
}

void moat__portal_enroll_page(const moat_portal_req *req, moat_portal_job *job,
                              moat_portal_reply *rep, int status, const char *msg, const char *rd)
{
    moat__tvar v[] = {
        {.name = "error", .value = msg},
        {.name = "qr", .value = job->qr_svg},
        {.name = "secret", .value = job->enr.secret_b32},
        {.name = "csrf", .value = job->who.sess.csrf},
        {.name = "rd", .value = rd},
    };
    render(req, rep, "Set up an authenticator app", MOAT__TMPL_ENROLL, v, MOAT_ARRAY_LEN(v));
    moat__portal_page(rep, status, "enroll page", HTML);
}

void moat__portal_recovery_page(const moat_portal_req *req, moat_portal_job *job,
                                moat_portal_reply *rep, const char *rd)
{
    const char *codes[MOAT_RECOVERY_CODES];
    for (size_t i = 0; i < MOAT_RECOVERY_CODES; i++)
        codes[i] = job->recovery[i];
    moat__tvar v[] = {
        {.name = "codes", .list = codes, .nlist = MOAT_RECOVERY_CODES},
        {.name = "next", .value = rd ? rd : "/.moat/"},
    };
    render(req, rep, "Authenticator app set up", MOAT__TMPL_RECOVERY, v, MOAT_ARRAY_LEN(v));
    moat__portal_session_cookie(req, job, rep);
    moat__portal_page(rep, 200, "mfa enrolled", HTML);
}

void moat__portal_password_page(const moat_portal_req *req, moat_portal_job *job,
                                moat_portal_reply *rep, int status, const char *msg)
{
    moat__tvar v[] = {
        {.name = "error", .value = msg},
        {.name = "csrf", .value = job->who.sess.csrf},
    };
    render(req, rep, "Change the password", MOAT__TMPL_PASSWORD, v, MOAT_ARRAY_LEN(v));
    moat__portal_page(rep, status, "password page", HTML);
}

/* ---- JSON ---------------------------------------------------------------- */

void moat__portal_json_user(moat_buf *b, const moat_user *u, bool mfa)
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

void moat__portal_json_error(moat_portal_reply *rep, int status, const char *msg)
{
    moat_buf_puts(&rep->body, "{\"error\":");
    moat_buf_put_json_string(&rep->body, msg, strlen(msg));
    moat_buf_puts(&rep->body, "}");
    moat__portal_page(rep, status, msg, "application/json");
}
