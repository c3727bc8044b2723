/* run.c - the portal's store work, on the thread pool: a login (with the
 * housekeeping purge), and for a session's forms the session read again
 * and the action (second factor, enrollment, logout, password change). Every
 * password hash and store call of the portal happens here; the request is
 * never touched (it may be gone). A store error lands in job->err. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define TOO_MANY MOAT_PORTAL_TOO_MANY

/* A new session for uid (rotation): a step-up keeps the login's expiry. */
static void start(moat_portal_job *job, moat_store *s, const moat_config *cfg, int64_t uid,
                  bool mfa)
{
    const moat_session *keep = job->creds.has_sid && job->who.authed ? &job->who.sess : NULL;
    int rc = moat_session_start(s, cfg, &job->creds, keep, uid, mfa, job->remember, job->new_sid,
                                &job->made);
    if (rc < 0) {
        job->err = rc;
        return;
    }
    job->new_session = true;
}

static void do_login(moat_portal_job *job, moat_store *s, const moat_config *cfg,
                     const moat_auth_settings *st)
{
    const char *pw = job->pw ? job->pw : "";
    size_t codelen = job->code ? strlen(job->code) : 0;
    int rc = moat_auth_login(s, st, job->name ? job->name : "", pw, strlen(pw),
                             codelen ? job->code : NULL, codelen, job->creds.addr, job->creds.now,
                             &job->login);
    if (rc < 0) {
        job->err = rc;
        return;
    }
    if (job->login.status != MOAT_LOGIN_OK) return;
    moat_user_clear(&job->who.user);
    rc = moat_store_user_get_id(s, job->login.user_id, &job->who.user);
    if (rc < 0) {
        job->err = rc;
        return;
    }
    job->ok = true;
    start(job, s, cfg, job->login.user_id, job->login.mfa);
}

static void do_mfa(moat_portal_job *job, moat_store *s, const moat_config *cfg,
                   const moat_auth_settings *st)
{
    const char *code = job->code ? job->code : "";
    int rc = moat_auth_verify_code(s, st, job->who.user.id, code, strlen(code), job->creds.addr,
                                   job->creds.now, &job->login);
    if (rc < 0) {
        job->err = rc;
        return;
    }
    job->checked = true;
    if (job->login.status != MOAT_LOGIN_OK) {
        job->why = job->login.status == MOAT_LOGIN_BAD
                       ? "That code is not right (or was used already)."
                       : TOO_MANY;
        return;
    }
    job->ok = true;
    start(job, s, cfg, job->who.user.id, true);
}

static void enroll_show(moat_portal_job *job)
{
    job->qr_svg = moat_enrollment_qr_svg(job->enr.uri);
}

static void do_enroll(moat_portal_job *job, moat_store *s, const moat_config *cfg,
                      const moat_auth_settings *st)
{
    bool ok = false;
    int rc = 0;
    if (moat_enrollment_from_b32(&job->enr, st, job->who.user.name, job->secret) == 0)
        rc = moat_enrollment_finish(s, st, &job->enr, job->who.user.id, job->code, job->creds.now,
                                    &ok, job->recovery);
    if (rc < 0) {
        job->err = rc;
        return;
    }
    if (!ok) {
        job->why = "The code does not match the secret. Check the authenticator app's clock and "
                   "try again.";
        if (job->enr.secret_b32) enroll_show(job); /* the same secret again */
        return;
    }
    moat_enrollment_clear(&job->enr);
    job->ok = true;
    start(job, s, cfg, job->who.user.id, true);
}

static void do_logout(moat_portal_job *job, moat_store *s)
{
    if (job->everywhere) {
        job->err = moat_session_end_user(s, job->who.user.id, &job->ended_n);
    } else {
        job->err = moat_session_end(s, job->creds.sid_hash);
        job->ended_n = 1;
    }
    job->ended = job->err == 0;
}

static void do_password(moat_portal_job *job, moat_store *s, const moat_config *cfg,
                        const moat_auth_settings *st)
{
    const moat_user *u = &job->who.user;
    const char *cur = job->pw ? job->pw : "";
    int rc = moat_auth_check_password(s, st, u->id, cur, strlen(cur), job->creds.addr,
                                      job->creds.now, &job->login);
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
    if (moat_password_policy_check(&st->policy, u->name, np, strlen(np), &job->why) < 0) return;
    char *hash = NULL;
    rc = moat_password_hash(&st->argon2, np, strlen(np), &hash);
    if (rc == 0) rc = moat_store_user_set_password(s, u->id, hash, true);
    free(hash);
    if (rc < 0) {
        job->err = rc;
        return;
    }
    job->ok = true;
    job->creds.has_sid = false; /* ended with the others */
    start(job, s, cfg, u->id, job->who.sess.mfa);
}

static void resolve(moat_portal_job *job, moat_store *s, const moat_config *cfg)
{
    moat_user_clear(&job->who.user);
    job->err = moat_session_resolve(s, cfg, &job->creds, &job->who);
}

void moat_portal_run(moat_portal_job *job, moat_store *s, const moat_config *cfg)
{
    moat_auth_settings st;
    moat_auth_settings_from_config(cfg, &st);
    if (job->csrf_phase) {
        resolve(job, s, cfg);
        return;
    }
    if (job->p == MOAT_PORTAL_LOGIN || job->p == MOAT_PORTAL_API_LOGIN) {
        moat_session_purge(s, cfg, job->creds.now);
        /* The old session (if any) only matters for rotation. */
        if (job->creds.has_sid && !moat_session_exists(s, job->creds.sid_hash))
            job->creds.has_sid = false;
        do_login(job, s, cfg, &st);
        return;
    }
    resolve(job, s, cfg);
    if (job->err || !job->who.authed || job->who.token) return; /* the actions need a session */
    if (!job->post) {
        /* The GET of the enrollment page makes a secret; only for a session
         * that may enroll (no second factor yet, or one already presented). */
        if (job->p == MOAT_PORTAL_ENROLL && (!job->who.user.totp_secret || job->who.sess.mfa)) {
            moat_enrollment_new(&job->enr, &st, job->who.user.name);
            enroll_show(job);
        }
        return;
    }
    switch (job->p) {
    case MOAT_PORTAL_MFA:
        do_mfa(job, s, cfg, &st);
        return;
    case MOAT_PORTAL_ENROLL:
        if (job->who.user.totp_secret && !job->who.sess.mfa) return;
        do_enroll(job, s, cfg, &st);
        return;
    case MOAT_PORTAL_LOGOUT:
    case MOAT_PORTAL_API_LOGOUT:
        do_logout(job, s);
        return;
    case MOAT_PORTAL_PASSWORD:
        do_password(job, s, cfg, &st);
        return;
    default:
        return;
    }
}
