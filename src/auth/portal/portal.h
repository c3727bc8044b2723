/* portal.h - the login portal under /.moat/: HTML forms (log in, second
 * factor, enrollment, password change, log out, the account page) and a JSON
 * API (login, session, logout), behind three calls. The gateway asks
 * moat_portal_match whether a path is the portal's; then, for one request,
 * it calls moat_portal_answer on its loop, which says what to do next: read
 * the body, run the job on the thread pool (moat_portal_run: the store and
 * password hashing), or answer with the reply it filled. The portal never
 * sees a connection: the gateway sends the reply and records its events. */
#ifndef MOAT_AUTH_PORTAL_H
#define MOAT_AUTH_PORTAL_H

#include "auth/auth.h"

typedef enum {
    MOAT_PORTAL_NONE,        /* not the portal's */
    MOAT_PORTAL_ACCOUNT,     /* GET /.moat/ */
    MOAT_PORTAL_LOGIN,       /* GET/POST /.moat/login */
    MOAT_PORTAL_MFA,         /* GET/POST /.moat/mfa */
    MOAT_PORTAL_ENROLL,      /* GET/POST /.moat/enroll */
    MOAT_PORTAL_LOGOUT,      /* POST /.moat/logout */
    MOAT_PORTAL_PASSWORD,    /* GET/POST /.moat/password */
    MOAT_PORTAL_API_LOGIN,   /* POST /.moat/api/login */
    MOAT_PORTAL_API_SESSION, /* GET /.moat/api/session */
    MOAT_PORTAL_API_LOGOUT,  /* POST /.moat/api/logout */
} moat_portal_route;

/* The portal's route for a (normalised) path; MOAT_PORTAL_NONE for others. */
moat_portal_route moat_portal_match(const char *path);

/* Longest form or JSON body a portal page takes (the gateway answers 413). */
#define MOAT_PORTAL_BODY_MAX (16 * 1024)

/* The request, as the gateway tells it, on its loop. */
typedef struct moat_portal_req {
    moat_http_head *head;
    moat_arena *arena; /* the request's: forms and cookies land here */
    const moat_config *cfg;
    bool tls;         /* the client uses HTTPS: __Host- cookies with Secure */
    bool json;        /* the client wants JSON answers (Accept, X-Requested-With) */
    const char *addr; /* the client's address for throttling */
    const char *body; /* the whole body, once MOAT_PORTAL_READ asked for it */
    size_t body_len;
    const struct moat_portal_look *look; /* the runtime's (moat_portal_look_new); NULL: built in */
} moat_portal_req;

typedef enum {
    MOAT_PORTAL_PAGE,   /* the portal's own answer: status, ctype, body, hdrs, location */
    MOAT_PORTAL_REFUSE, /* the gateway's generic page for status (refusal: its event) */
    MOAT_PORTAL_FORBID, /* the gateway's 403 page, JSON when json */
    MOAT_PORTAL_FAIL,   /* the store failed (err): refuse, fail closed */
} moat_portal_kind;

#define MOAT_PORTAL_EVENTS 8
typedef struct moat_portal_reply {
    moat_portal_kind kind;
    int status;
    const char *reason; /* for the logs */
    const char *ctype;  /* NULL: no body */
    moat_buf body;
    const char *hdrs[8]; /* (name, value) pairs, arena strings */
    size_t nhdrs;
    const char *location;                       /* a redirect's */
    const char *refusal;                        /* REFUSE: the event to record with it, or NULL */
    bool json;                                  /* FORBID */
    int err;                                    /* FAIL */
    moat_auth_event events[MOAT_PORTAL_EVENTS]; /* record these first, in order (strings
                                                 * live as long as the job) */
    size_t nevents;
} moat_portal_reply;
void moat_portal_reply_free(moat_portal_reply *rep);

typedef struct moat_portal_job moat_portal_job;
moat_portal_job *moat_portal_job_new(moat_portal_route route);
/* Wipes the secrets the job holds. Not while moat_portal_run runs. */
void moat_portal_job_free(moat_portal_job *job);

enum {
    MOAT_PORTAL_ANSWER, /* rep is filled: send it (then moat_portal_reply_free) */
    MOAT_PORTAL_READ,   /* read the whole body into req->body, then call again */
    MOAT_PORTAL_RUN,    /* call moat_portal_run on the thread pool, then again */
};
/* On the loop: the next step of job for req. The first call checks the
 * method; later calls take the body, then what the run found. */
int moat_portal_answer(moat_portal_job *job, const moat_portal_req *req, moat_portal_reply *rep);
/* On the thread pool: the job's store work. Touches nothing of the request
 * (the request may be gone by then). */
void moat_portal_run(moat_portal_job *job, moat_store *s, const moat_config *cfg);

/* True when rd is a path on this site to return to after a login. */
bool moat_portal_rd_ok(const char *rd);
/* The URL of portal page (e.g. "/.moat/login") that returns to rd after it,
 * when rd is one moat_portal_rd_ok takes (else just the page), in a. */
const char *moat_portal_page_url(moat_arena *a, const char *page, const char *rd);
/* Appends s escaped for HTML text and attribute values. */
void moat_portal_html_escape(moat_buf *b, const char *s);

/* How moat's pages look ([portal]: templates, stylesheet, logo), loaded
 * once per runtime, on any thread; read-only afterwards. 0, or a negative
 * code with *err (owned) saying which file and why. */
typedef struct moat_portal_look moat_portal_look;
int moat_portal_look_new(const moat_config *cfg, moat_portal_look **out, char **err);
void moat_portal_look_free(moat_portal_look *look);
/* The error page laid out like the portal, with {status}, {reason},
 * {message} and {request_id} for the gateway to fill. Owned by look. */
const char *moat_portal_look_error(const moat_portal_look *look);
/* The files moat serves for its pages (GET, no session needed). */
#define MOAT_PORTAL_CSS_PATH "/.moat/moat.css"
#define MOAT_PORTAL_LOGO_PATH "/.moat/logo"
/* True when path is one of them (the logo only when one is set), with its
 * bytes (owned by look) and type. */
bool moat_portal_look_asset(const moat_portal_look *look, const char *path, const char **body,
                            size_t *len, const char **ctype);

#endif
