/* stage_auth.h - what the auth stage's three files share, private to them:
 * stage_auth.c (the rules, the session cache, the decision, the identity
 * headers) and auth_portal.c (the portal's requests) both run their store
 * work as an auth job of auth_job.c, which owns the thread-pool protocol
 * and the answers the stage gives. Calls go one way: stage_auth.c to
 * auth_portal.c, both to auth_job.c. */
#ifndef MOAT_GATEWAY_STAGE_AUTH_H
#define MOAT_GATEWAY_STAGE_AUTH_H

#include "auth/auth.h"
#include "auth/portal/portal.h"
#include "internal.h"

/* One per request that needs the store: a rule check (who the session or
 * token is) or a portal request (stepped by src/auth/portal). Freed with
 * the request, or, when the request ends while the job runs, once the job
 * is back (its results dropped). */
typedef struct moat__auth_job moat__auth_job;
struct moat__auth_job {
    uv_work_t work;
    moat_request *r;  /* NULL once the request is gone */
    moat_runtime *rt; /* owned ref: the store and settings */
    bool queued;
    uint64_t queued_ns;                                 /* uv_hrtime() when queued (metrics.c) */
    void (*run)(moat__auth_job *job);                   /* on the pool */
    void (*back)(moat_request *r, moat__auth_job *job); /* on the loop, the run done */
    /* a portal request */
    moat_portal_job *portal;
    moat_buf body; /* a POST's body while it is read */
    bool reading;
    /* a rule check */
    const char *policy; /* the rule's policy, borrowed from rt->cfg */
    moat_session_creds creds;
    moat_session_who who;
    int err;          /* a store error: refuse (503) */
    uint64_t version; /* the store's data version before the lookup */
    bool version_ok;
};

/* auth_job.c */
moat__auth_job *moat__auth_job_new(moat_request *r);
/* Runs job->run on the thread pool, then job->back on the loop if the
 * request is still there: MOAT_AGAIN, or MOAT_DONE when the job could not
 * be queued or did not run (answered 503: fail closed). */
int moat__auth_job_queue(moat_request *r, moat__auth_job *job);
/* Records an auth security event of the request (stage "auth"). */
void moat__auth_event(moat_request *r, const char *name, const char *user, const char *reason,
                      int status, const moat_seclog_field *f, size_t nf);
void moat__auth_events(moat_request *r, const moat_auth_event *e, size_t n);
/* The client used HTTPS: TLS to moat, or a trusted proxy that says so. */
bool moat__auth_tls(moat_request *r);
/* The client wants JSON answers (Accept, X-Requested-With). */
bool moat__auth_wants_json(moat_request *r);
/* Answers with moat's own response (body may be NULL), hdrs as pairs. */
void moat__auth_answer(moat_request *r, int status, const char *reason, const char *ctype,
                       const moat_buf *body, const char *const *hdrs, size_t nhdrs);
/* Answers with moat's 403 page (HTML or JSON). */
void moat__auth_forbid(moat_request *r, const char *reason, bool json, const char *const *hdrs,
                       size_t nhdrs);
/* Records store.unavailable (rate-limited) when the store is down. */
void moat__auth_store_unavailable(moat_request *r);
/* The portal's answer when the store cannot be used: 503, a clear message. */
void moat__auth_portal_unavailable(moat_request *r, int err);
/* Records store.available once the store answers again after that. */
void moat__auth_store_available(moat_request *r);
/* Answers 503 after a store error err (fail closed). */
void moat__auth_fail_closed(moat_request *r, int err);

/* auth_portal.c: a request for route p of the portal (moat_portal_match),
 * its body and its end, as the stage's callbacks answer them. */
int moat__auth_portal_head(moat_request *r, moat_portal_route p);
int moat__auth_portal_body(moat_request *r, const char *data, size_t len);
int moat__auth_portal_end(moat_request *r);

#endif
