/* auth_portal.c - the login portal's requests at the gateway. The portal
 * itself (routes, forms, pages, the JSON API, its store work) is
 * src/auth/portal's; this file only carries a request to it and its reply
 * back: moat_portal_answer on the loop says whether to read the body (at
 * most MOAT_PORTAL_BODY_MAX, from the WAF that read it already or from the
 * client), to run the job on the thread pool (moat_portal_run, through
 * auth_job.c) or to send the reply, whose events are recorded first. */
#include <arpa/inet.h>

#include "stage_auth.h"

bool moat__auth_portal_path(const char *path)
{
    return moat_portal_match(path) != MOAT_PORTAL_NONE;
}

static void send_reply(moat_request *r, moat_portal_reply *rep)
{
    if (rep->kind != MOAT_PORTAL_FAIL) moat__auth_store_available(r);
    moat__auth_events(r, rep->events, rep->nevents);
    switch (rep->kind) {
    case MOAT_PORTAL_PAGE:
        if (rep->location) r->location = rep->location;
        moat__auth_answer(r, rep->status, rep->reason, rep->ctype, &rep->body, rep->hdrs,
                          rep->nhdrs);
        break;
    case MOAT_PORTAL_REFUSE:
        if (rep->refusal) moat__refusal(r, rep->refusal, "auth", NULL);
        moat__client_respond_error(r, rep->status, rep->reason);
        break;
    case MOAT_PORTAL_FORBID:
        moat__auth_forbid(r, rep->reason, rep->json, NULL, 0);
        break;
    case MOAT_PORTAL_FAIL:
        moat__auth_portal_unavailable(r, rep->err);
        break;
    }
    moat_portal_reply_free(rep);
}

static void refuse_too_big(moat_request *r)
{
    moat__refusal(r, "http.rejected", "auth", NULL);
    moat__client_respond_error(r, 413, "portal form over 16 KiB");
}

static int portal_read(moat_request *r, moat__auth_job *job);

/* The portal's next step: answer, read the body or run the job. */
static int portal_step(moat_request *r, moat__auth_job *job, const char *body, size_t len)
{
    char addr[INET6_ADDRSTRLEN];
    moat__auth_client_addr(r->rt->cfg, r->c->peer, r->head, addr, sizeof(addr));
    moat_portal_req req = {
        .head = r->head,
        .arena = r->arena,
        .cfg = r->rt->cfg,
        .tls = moat__auth_tls(r),
        .json = moat__auth_wants_json(r),
        .addr = addr,
        .body = body,
        .body_len = len,
        .look = r->rt->look,
    };
    moat_portal_reply rep;
    switch (moat_portal_answer(job->portal, &req, &rep)) {
    case MOAT_PORTAL_RUN:
        moat_portal_reply_free(&rep);
        return moat__auth_job_queue(r, job);
    case MOAT_PORTAL_READ:
        moat_portal_reply_free(&rep);
        return portal_read(r, job);
    default:
        send_reply(r, &rep);
        return MOAT_DONE;
    }
}

/* A POST's body: from the WAF (which read it already), from the client, or
 * none. */
static int portal_read(moat_request *r, moat__auth_job *job)
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

static void portal_run(moat__auth_job *job)
{
    moat_portal_run(job->portal, job->rt->store, job->rt->cfg);
}

static void portal_back(moat_request *r, moat__auth_job *job)
{
    (void)portal_step(r, job, NULL, 0);
}

int moat__auth_portal_head(moat_request *r, moat_portal_route p)
{
    moat__auth_job *job = moat__auth_job_new(r);
    job->portal = moat_portal_job_new(p);
    job->run = portal_run;
    job->back = portal_back;
    r->auth = job;
    return portal_step(r, job, NULL, 0);
}

int moat__auth_portal_body(moat_request *r, const char *data, size_t len)
{
    moat__auth_job *job = r->auth;
    if (!job || !job->reading) return MOAT_PASS;
    if (job->body.len + len > MOAT_PORTAL_BODY_MAX) {
        job->reading = false;
        refuse_too_big(r);
        return MOAT_DONE;
    }
    moat_buf_append(&job->body, data, len);
    return MOAT_PASS;
}

int moat__auth_portal_end(moat_request *r)
{
    moat__auth_job *job = r->auth;
    if (!job || !job->reading) return MOAT_PASS;
    job->reading = false;
    int rc = portal_step(r, job, job->body.data ? job->body.data : "", job->body.len);
    return rc == MOAT_AGAIN ? MOAT_PASS : rc;
}
