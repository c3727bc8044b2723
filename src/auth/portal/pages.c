/* pages.c - what the portal answers, written into a reply: the HTML pages
 * (self-contained, no script, escaped text), the JSON of the API, the
 * session and CSRF cookies, redirects and the security events the gateway
 * records for the portal. Nothing here decides: portal.c does. */
#include <stdio.h>
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

static void page_start(moat_buf *b, const char *title)
{
    moat_buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                     "<meta name=\"referrer\" content=\"no-referrer\"><title>");
    moat_portal_html_escape(b, title);
    moat_buf_puts(b, "</title></head><body><main><h1>");
    moat_portal_html_escape(b, title);
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
    moat_portal_html_escape(b, msg);
    moat_buf_puts(b, "</p>\n");
}

static void hidden(moat_buf *b, const char *name, const char *value)
{
    if (!value) return;
    moat_buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    moat_portal_html_escape(b, value);
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

#define HTML "text/html; charset=utf-8"

void moat__portal_login_page(const moat_portal_req *req, moat_portal_reply *rep, int status,
                             const char *msg, const char *rd, const char *csrf)
{
    moat_buf *b = &rep->body;
    page_start(b, "Log in");
    error_para(b, msg);
    moat_buf_puts(b, "<form method=\"post\" action=\"/.moat/login\">\n");
    hidden(b, "csrf", csrf);
    hidden(b, "rd", rd);
    field(b, "username", "User name", "text", "username", true, " autofocus");
    field(b, "password", "Password", "password", "current-password", true, NULL);
    field(b, "code", "Authenticator code or recovery code (if you set one up)", "text",
          "one-time-code", false, " inputmode=\"numeric\"");
    if (req->cfg->auth.remember_ms)
        moat_buf_puts(b, "<p><input id=\"remember\" name=\"remember\" type=\"checkbox\" "
                         "value=\"1\"> <label for=\"remember\">Remember me on this "
                         "device</label></p>\n");
    moat_buf_puts(b, "<p><button type=\"submit\">Log in</button></p></form>\n");
    page_end(b);
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
    moat_buf *b = &rep->body;
    page_start(b, "Your account");
    moat_buf_puts(b, "<p>Logged in as <strong id=\"user\">");
    moat_portal_html_escape(b, u->name);
    moat_buf_puts(b, "</strong>");
    if (u->nroles) {
        moat_buf_puts(b, " (roles: <span id=\"roles\">");
        for (size_t i = 0; i < u->nroles; i++) {
            if (i) moat_buf_puts(b, ", ");
            moat_portal_html_escape(b, u->roles[i]);
        }
        moat_buf_puts(b, "</span>)");
    }
    moat_buf_printf(b, ". Second factor: <span id=\"mfa\">%s</span>.</p>\n<ul>",
                    sess->mfa        ? "presented"
                    : u->totp_secret ? "set up, not presented in this session"
                                     : "not set up");
    if (!u->totp_secret || sess->mfa)
        moat_buf_puts(b, "<li><a href=\"/.moat/enroll\">Set up an authenticator app</a></li>");
    if (u->totp_secret && !sess->mfa)
        moat_buf_puts(b, "<li><a href=\"/.moat/mfa\">Enter an authenticator code</a></li>");
    moat_buf_puts(b, "<li><a href=\"/.moat/password\">Change the password</a></li></ul>\n"
                     "<form method=\"post\" action=\"/.moat/logout\">");
    hidden(b, "csrf", sess->csrf);
    moat_buf_puts(b, "<button type=\"submit\">Log out</button></form>\n"
                     "<form method=\"post\" action=\"/.moat/logout\">");
    hidden(b, "csrf", sess->csrf);
    hidden(b, "everywhere", "1");
    moat_buf_puts(b, "<button type=\"submit\">Log out everywhere</button></form>\n");
    page_end(b);
    moat__portal_session_cookie(req, job, rep);
    moat__portal_page(rep, 200, "account page", HTML);
}

void moat__portal_mfa_page(moat_portal_job *job, moat_portal_reply *rep, int status,
                           const char *msg, const char *rd)
{
    moat_buf *b = &rep->body;
    page_start(b, "Second factor");
    error_para(b, msg);
    moat_buf_puts(b, "<p>Enter the code your authenticator app shows, or a recovery "
                     "code.</p>\n<form method=\"post\" action=\"/.moat/mfa\">\n");
    hidden(b, "csrf", job->who.sess.csrf);
    hidden(b, "rd", rd);
    field(b, "code", "Code", "text", "one-time-code", true, " inputmode=\"numeric\" autofocus");
    moat_buf_puts(b, "<p><button type=\"submit\">Continue</button></p></form>\n");
    page_end(b);
    moat__portal_page(rep, status, "mfa page", HTML);
}

void moat__portal_enroll_page(moat_portal_job *job, moat_portal_reply *rep, int status,
                              const char *msg, const char *rd)
{
    moat_buf *b = &rep->body;
    page_start(b, "Set up an authenticator app");
    error_para(b, msg);
    moat_buf_puts(b, "<p>Scan this code with an authenticator app, or type the secret in; "
                     "then enter the code the app shows.</p>\n<figure>");
    if (job->qr_svg) moat_buf_puts(b, job->qr_svg);
    moat_buf_puts(b, "<figcaption>Secret: <code id=\"secret\">");
    moat_portal_html_escape(b, job->enr.secret_b32);
    moat_buf_puts(b, "</code></figcaption></figure>\n<form method=\"post\" "
                     "action=\"/.moat/enroll\">\n");
    hidden(b, "csrf", job->who.sess.csrf);
    hidden(b, "secret", job->enr.secret_b32);
    hidden(b, "rd", rd);
    field(b, "code", "Code from the app", "text", "one-time-code", true,
          " inputmode=\"numeric\" autofocus");
    moat_buf_puts(b, "<p><button type=\"submit\">Turn on</button></p></form>\n");
    page_end(b);
    moat__portal_page(rep, status, "enroll page", HTML);
}

void moat__portal_recovery_page(const moat_portal_req *req, moat_portal_job *job,
                                moat_portal_reply *rep, const char *rd)
{
    moat_buf *b = &rep->body;
    page_start(b, "Authenticator app set up");
    moat_buf_puts(b, "<p>Keep these recovery codes somewhere safe. Each works once, in place "
                     "of a code from the app. They are not shown again.</p>\n<ul "
                     "id=\"recovery\">");
    for (size_t i = 0; i < MOAT_RECOVERY_CODES; i++)
        moat_buf_printf(b, "<li><code>%s</code></li>", job->recovery[i]);
    moat_buf_puts(b, "</ul>\n<p><a id=\"continue\" href=\"");
    moat_portal_html_escape(b, rd ? rd : "/.moat/");
    moat_buf_puts(b, "\">Continue</a></p>\n");
    page_end(b);
    moat__portal_session_cookie(req, job, rep);
    moat__portal_page(rep, 200, "mfa enrolled", HTML);
}

void moat__portal_password_page(moat_portal_job *job, moat_portal_reply *rep, int status,
                                const char *msg)
{
    moat_buf *b = &rep->body;
    page_start(b, "Change the password");
    error_para(b, msg);
    moat_buf_puts(b, "<form method=\"post\" action=\"/.moat/password\">\n");
    hidden(b, "csrf", job->who.sess.csrf);
    field(b, "password", "Current password", "password", "current-password", true, NULL);
    field(b, "new", "New password", "password", "new-password", true, NULL);
    field(b, "new2", "New password again", "password", "new-password", true, NULL);
    moat_buf_puts(b, "<p><button type=\"submit\">Change</button></p></form>\n");
    page_end(b);
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
