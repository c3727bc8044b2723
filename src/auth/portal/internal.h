/* internal.h - the portal's job, shared by its files (private to
 * src/auth/portal): portal.c steps it on the loop, run.c on the pool,
 * pages.c renders what it found. */
#ifndef MOAT_AUTH_PORTAL_INTERNAL_H
#define MOAT_AUTH_PORTAL_INTERNAL_H

#include "portal.h"

enum { ST_START, ST_BODY, ST_CSRF, ST_RAN };

struct moat_portal_job {
    moat_portal_route p;
    int state;
    bool post;
    bool csrf_phase;     /* the run only reads the session (its CSRF token) */
    moat_http_form form; /* the form or query (arena strings) */
    moat_session_creds creds;
    /* in: owned copies, wiped when freed */
    char *name, *pw, *code, *newpw, *newpw2, *secret;
    bool remember, everywhere;
    /* out */
    int err; /* a store error: refuse (503) */
    moat_session_who who;
    moat_login_result login;
    bool ok;          /* the action succeeded */
    const char *why;  /* why it did not (static, safe to show) */
    bool new_session; /* a session was started: set its cookie */
    char new_sid[MOAT_SESSION_ID_LEN + 1];
    moat_session made;
    bool ended; /* the session ended (logout): clear the cookie */
    size_t ended_n;
    moat_enrollment enr; /* enrollment page: enr.secret_b32 set */
    char *qr_svg;
    char recovery[MOAT_RECOVERY_CODES][MOAT_RECOVERY_CODE_LEN + 1];
    bool checked; /* a secret was checked: login says how it went (MFA, password) */
};

/* pages.c */
void moat__portal_event(moat_portal_reply *rep, const char *name, const char *user,
                        const char *reason, int status, const moat_seclog_field *f, size_t nf);
void moat__portal_hdr(moat_portal_reply *rep, const char *name, const char *value);
const char *moat__portal_set_cookie(const moat_portal_req *req, const char *name, const char *value,
                                    int64_t max_age, const char *samesite);
const char *moat__portal_csrf_cookie(const moat_portal_req *req);
void moat__portal_session_cookie(const moat_portal_req *req, moat_portal_job *job,
                                 moat_portal_reply *rep);
void moat__portal_page(moat_portal_reply *rep, int status, const char *reason, const char *ctype);
void moat__portal_redirect(moat_portal_reply *rep, int status, const char *location);
void moat__portal_refuse(moat_portal_reply *rep, int status, const char *reason, const char *event);
const char *moat__portal_login_csrf(const moat_portal_req *req, moat_portal_reply *rep);
/* What a form answers (429) when the limiter refused the check. */
#define MOAT_PORTAL_TOO_MANY                                                                       \
    "Too many failed attempts for this account or from this address. Try again later."
/* username: shown again after a refused login (NULL: empty field) */
void moat__portal_login_page(const moat_portal_req *req, moat_portal_reply *rep, int status,
                             const char *msg, const char *rd, const char *csrf,
                             const char *username);
void moat__portal_account_page(const moat_portal_req *req, moat_portal_job *job,
                               moat_portal_reply *rep);
void moat__portal_mfa_page(const moat_portal_req *req, moat_portal_job *job, moat_portal_reply *rep,
                           int status, const char *msg, const char *rd);
void moat__portal_enroll_page(const moat_portal_req *req, moat_portal_job *job,
                              moat_portal_reply *rep, int status, const char *msg, const char *rd);
void moat__portal_recovery_page(const moat_portal_req *req, moat_portal_job *job,
                                moat_portal_reply *rep, const char *rd);
void moat__portal_password_page(const moat_portal_req *req, moat_portal_job *job,
                                moat_portal_reply *rep, int status, const char *msg);
void moat__portal_json_user(moat_buf *b, const moat_user *u, bool mfa);
void moat__portal_json_error(moat_portal_reply *rep, int status, const char *msg);

/* template.c: see there for the language */
typedef struct moat__tvar {
    const char *name;
    const char *value;       /* NULL or "": false in {{#name}} */
    const char *const *list; /* or a list: {{#name}} repeats, {{.}} is the item */
    size_t nlist;
} moat__tvar;
/* Renders tmpl with v into out. 0, or -1 with *why (static) when the
 * template is malformed (why may be NULL). */
int moat__tmpl_render(moat_buf *out, const char *tmpl, const moat__tvar *v, size_t nv,
                      const char **why);

/* look.c */
enum {
    MOAT__TMPL_LAYOUT,
    MOAT__TMPL_LOGIN,
    MOAT__TMPL_MFA,
    MOAT__TMPL_ENROLL,
    MOAT__TMPL_RECOVERY,
    MOAT__TMPL_ACCOUNT,
    MOAT__TMPL_PASSWORD,
    MOAT__TMPL_ERROR,
    MOAT__TMPL_CSS,
    MOAT__TMPL_COUNT
};
/* Template i: the folder's, or the built-in one (look may be NULL). */
const char *moat__look_text(const moat_portal_look *look, int i);
/* The layout around content (HTML) with the [portal] branding. */
void moat__look_layout(const moat_portal_look *look, const moat_config *cfg, moat_buf *out,
                       const char *title, const char *content);

#endif
