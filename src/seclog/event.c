/* event.c - the event catalogue (docs/events.md) and the formatting of one
 * event into the body of its line: standard fields in a fixed order, then
 * the event's own fields, every value redacted and bounded. Runs on the
 * recording thread; the chain fields (seq, epoch, mac) are the writer's. */
#include <string.h>

#include "internal.h"

static const moat_seclog_event_info catalogue[] = {
    {"http.rejected", MOAT_SECLOG_WARNING,
     "moat refused a request that was not clean HTTP/1.1 (ambiguous framing, bad syntax) or "
     "that crossed one of the limits"},
    {"http.h2_refused", MOAT_SECLOG_NOTICE,
     "a client spoke HTTP/2 with prior knowledge (the PRI * HTTP/2.0 preface) to an HTTP/1.1 "
     "listener; answered 501 and closed"},
    {"http.method_refused", MOAT_SECLOG_NOTICE,
     "the request's method is unknown (501) or is CONNECT (405), which a reverse proxy does "
     "not serve"},
    {"http.version_refused", MOAT_SECLOG_NOTICE,
     "the request line names an HTTP version other than 1.0 or 1.1; answered 505"},
    {"http.expect_refused", MOAT_SECLOG_NOTICE,
     "the request carried an Expect other than 100-continue; answered 417"},
    {"stage.error", MOAT_SECLOG_ERROR,
     "a stage of moat's pipeline failed internally; the request was refused with 500"},
    {"connections.crowded", MOAT_SECLOG_WARNING,
     "a worker reached limits.connections: connections that had sent nothing were closed, "
     "oldest first, to admit new ones (one event per episode)"},
    {"http.upgrade_refused", MOAT_SECLOG_NOTICE,
     "a request asked to switch protocols to something other than WebSocket (h2c, ...): the "
     "Upgrade was removed and the request went on as ordinary HTTP/1.1"},
    {"path.denied", MOAT_SECLOG_WARNING,
     "the path is one moat never lets through (version control, environment files, sources, "
     "backups, databases, debug consoles); the client got 404 as if it did not exist"},
    {"host.denied", MOAT_SECLOG_WARNING,
     "the Host header named a site that is not in the allow-list"},
    {"waf.blocked", MOAT_SECLOG_WARNING,
     "the web application firewall refused the request: its rules matched an attack pattern, "
     "or the body could not be inspected (it does not parse, or it is over waf.inspect_bytes); "
     "'why' says which"},
    {"waf.detected", MOAT_SECLOG_NOTICE,
     "the web application firewall matched an attack pattern; in detect mode the request went "
     "through"},
    {"waf.uninspected", MOAT_SECLOG_NOTICE,
     "a request body was larger than waf.inspect_bytes: its first part was inspected and the "
     "rest passed uninspected (waf.over_limit = \"pass\")"},
    {"auth.login.success", MOAT_SECLOG_INFO, "a user logged in"},
    {"auth.login.failure", MOAT_SECLOG_WARNING,
     "a login failed: unknown user, wrong password or code, locked account or throttled "
     "address (the client is not told which)"},
    {"auth.lockout", MOAT_SECLOG_WARNING,
     "too many failed logins: the account or the client is locked out for a while"},
    {"auth.mfa.failure", MOAT_SECLOG_WARNING,
     "a second-factor code (TOTP or recovery code) was wrong or reused, or was refused unseen "
     "because the second factor, the account or the client address is locked"},
    {"auth.mfa.lockout", MOAT_SECLOG_WARNING,
     "too many wrong second-factor codes: the account's second factor is locked for a while"},
    {"auth.password.failure", MOAT_SECLOG_WARNING,
     "the current password given to change the password was wrong, or the check was refused "
     "because the account or the client address is locked"},
    {"auth.token.failure", MOAT_SECLOG_WARNING,
     "a bearer token matched no live token, or came from a throttled client address"},
    {"session.created", MOAT_SECLOG_INFO, "a session began"},
    {"session.ended", MOAT_SECLOG_INFO, "a session ended: logout, password change or revocation"},
    {"session.expired", MOAT_SECLOG_INFO, "a session expired (idle or absolute timeout)"},
    {"authz.denied", MOAT_SECLOG_WARNING,
     "the access rules do not allow this user (or an anonymous client) this path"},
    {"store.unavailable", MOAT_SECLOG_ERROR,
     "the auth store cannot be used (deleted, replaced, unreadable or damaged): protected "
     "paths answer 503 until it opens again"},
    {"store.available", MOAT_SECLOG_NOTICE,
     "the auth store answers again after a store.unavailable (its file opened again, or "
     "Redis is reachable again): protected paths are served again"},
    {"csp.violation", MOAT_SECLOG_NOTICE,
     "a browser reported that a page broke its Content-Security-Policy"},
    {"csp.suppressed", MOAT_SECLOG_NOTICE,
     "more CSP violation reports arrived than the rate limit logs (20 a minute per client "
     "address, 200 in all): the rest were answered but not logged"},
    {"config.reloaded", MOAT_SECLOG_NOTICE,
     "the configuration was reloaded, or a reload was refused and the old one kept"},
    {"response.replaced", MOAT_SECLOG_NOTICE,
     "moat replaced the application's response with its generic page: a 5xx error page, a "
     "Python debug page or a directory listing"},
    {"response.cookie.fixed", MOAT_SECLOG_NOTICE,
     "the application set a cookie browsers would refuse or misread (an invalid or repeated "
     "SameSite, SameSite=None without Secure, a __Host- or __Secure- cookie breaking its "
     "prefix's rules); moat mended it"},
    {"response.cookie.dropped", MOAT_SECLOG_WARNING,
     "the application set a cookie that is not a valid cookie, or a __Host- or __Secure- "
     "cookie that cannot be mended over plain HTTP; moat dropped it"},
    {"upstream.error", MOAT_SECLOG_ERROR,
     "the application could not be reached, timed out or answered with a broken response"},
    {"cert.issued", MOAT_SECLOG_NOTICE,
     "ACME: a certificate was obtained from the CA and is served ([tls.acme])"},
    {"cert.renewed", MOAT_SECLOG_NOTICE,
     "ACME: a renewed certificate replaced the one served, without a restart"},
    {"cert.failed", MOAT_SECLOG_ERROR,
     "ACME: obtaining or renewing the certificate failed; the certificate served (if any) "
     "stays, and moat tries again later"},
    {"cert.revoked", MOAT_SECLOG_CRITICAL,
     "OCSP: the CA revoked the served certificate; an ACME one is replaced at once, a tls.cert "
     "one must be replaced by hand (reported at every check)"},
    {"cert.ocsp_failed", MOAT_SECLOG_WARNING,
     "OCSP: the certificate's responder gave no usable answer (unreachable, unsigned, out of "
     "date, unknown certificate); the certificate stays served and moat asks again later"},
    {"rate.limited", MOAT_SECLOG_WARNING,
     "a client sent more requests than a [[limits.rate]] entry allows within its window: it got "
     "429 with Retry-After (one event per counter and window, however many were refused)"},
    {"ban.added", MOAT_SECLOG_WARNING,
     "a client address collected limits.ban_strikes refusals within limits.ban_window: every "
     "instance sharing the state store refuses it until the ban ends"},
    {"ban.refused", MOAT_SECLOG_NOTICE,
     "a banned client address was refused with 429 before any other work (one event per ban, "
     "however many requests it sent)"},
    {"log.start", MOAT_SECLOG_NOTICE, "a new chain of security log entries began"},
    {"log.continued", MOAT_SECLOG_INFO,
     "a new log file began; it continues the chain of the file before it"},
    {"log.seal", MOAT_SECLOG_INFO,
     "the sealing key evolved to a new epoch; the previous key was erased"},
    {"log.opened", MOAT_SECLOG_INFO, "moat started writing to an existing security log"},
    {"log.closed", MOAT_SECLOG_INFO, "moat stopped writing the security log cleanly"},
    {"log.dropped", MOAT_SECLOG_WARNING,
     "security log entries were lost (the queue was full or the disk refused them)"},
};

const moat_seclog_event_info *moat_seclog_catalogue(size_t *count)
{
    *count = MOAT_ARRAY_LEN(catalogue);
    return catalogue;
}

const moat_seclog_event_info *moat_seclog_event_lookup(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(catalogue); i++)
        if (strcmp(catalogue[i].name, name) == 0) return &catalogue[i];
    return NULL;
}

const char *moat_seclog_severity_name(moat_seclog_severity s)
{
    static const char *const names[] = {"debug", "info", "notice", "warning", "error", "critical"};
    return (unsigned)s < MOAT_ARRAY_LEN(names) ? names[s] : "info";
}

/* Appends s as a bounded JSON string member; with redact, secrets masked. */
static void put_member(moat_buf *b, moat_buf *tmp, const char *name, const char *s, size_t max,
                       bool redact)
{
    size_t n = strlen(s);
    const char *v = s;
    if (redact) {
        moat_buf_reset(tmp);
        moat_seclog_redact_text(tmp, s, n);
        v = tmp->data ? tmp->data : "";
        n = tmp->len;
    }
    size_t cut = moat__seclog_utf8_cut(v, n, max);
    moat_buf_putc(b, ',');
    moat_buf_put_json_string(b, name, strlen(name));
    moat_buf_putc(b, ':');
    if (cut == n) {
        moat_buf_put_json_string(b, v, n);
    } else {
        /* The cut value with a visible mark, as one string. */
        moat_buf mark;
        moat_buf_init(&mark);
        moat_buf_append(&mark, v, cut);
        moat_buf_puts(&mark, "[...]");
        moat_buf_put_json_string(b, mark.data, mark.len);
        moat_buf_free(&mark);
    }
}

void moat__seclog_format_head(moat_buf *b, const char *event, moat_seclog_severity sev,
                              const struct timespec *ts)
{
    moat_buf_puts(b, "\"time\":\"");
    moat__seclog_put_time(b, ts);
    moat_buf_puts(b, "\",\"event\":");
    /* Event names are ours, but keep the line well-formed whatever is passed. */
    char name[64];
    size_t n = 0;
    for (const char *p = event ? event : "unknown"; *p && n < sizeof(name) - 1; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        name[n++] = ok ? c : '_';
    }
    if (n == 0) name[n++] = '_';
    moat_buf_put_json_string(b, name, n);
    moat_buf_puts(b, ",\"severity\":\"");
    moat_buf_puts(b, moat_seclog_severity_name(sev));
    moat_buf_putc(b, '"');
}

static const char *const reserved[] = {"seq",      "epoch",      "mac",    "time",   "event",
                                       "severity", "request_id", "client", "user",   "method",
                                       "path",     "status",     "stage",  "reason", "config_key"};

static bool is_reserved(const char *name)
{
    for (size_t i = 0; i < MOAT_ARRAY_LEN(reserved); i++)
        if (strcmp(reserved[i], name) == 0) return true;
    return false;
}

void moat__seclog_format_event(moat_buf *b, const moat_seclog_event *ev, bool keep_query,
                               const struct timespec *ts)
{
    moat_buf tmp;
    moat_buf_init(&tmp);
    moat__seclog_format_head(b, ev->event, ev->severity, ts);
    if (ev->request_id) put_member(b, &tmp, "request_id", ev->request_id, 64, false);
    if (ev->client) put_member(b, &tmp, "client", ev->client, 128, true);
    if (ev->user) put_member(b, &tmp, "user", ev->user, 256, true);
    if (ev->method) put_member(b, &tmp, "method", ev->method, 32, true);
    if (ev->path) {
        moat_buf p;
        moat_buf_init(&p);
        moat_seclog_redact_path(&p, ev->path, keep_query);
        put_member(b, &tmp, "path", p.data ? p.data : "", MOAT__SECLOG_PATH_MAX, false);
        moat_buf_free(&p);
    }
    if (ev->status > 0) {
        moat_buf_puts(b, ",\"status\":");
        moat__seclog_put_u64(b, (uint64_t)ev->status);
    }
    if (ev->stage) put_member(b, &tmp, "stage", ev->stage, 64, false);
    if (ev->reason) put_member(b, &tmp, "reason", ev->reason, MOAT__SECLOG_VALUE_MAX, true);
    if (ev->config_key) put_member(b, &tmp, "config_key", ev->config_key, 128, false);

    /* The event's own fields: names cleaned, made unique, kept off the
     * standard names; values redacted by name, then by look. */
    char names[MOAT__SECLOG_FIELDS_MAX][68];
    size_t nnames = 0;
    for (size_t i = 0; i < ev->nfields && nnames < MOAT__SECLOG_FIELDS_MAX; i++) {
        const moat_seclog_field *f = &ev->fields[i];
        if (!f->name || !f->value) continue;
        char name[68];
        size_t n = 0;
        for (const char *p = f->name; *p && n < 64; p++) {
            char c = *p;
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
            name[n++] = ok ? c : '_';
        }
        if (n == 0) name[n++] = '_';
        name[n] = '\0';
        if (is_reserved(name)) {
            memmove(name + 2, name, n + 1);
            name[0] = 'x';
            name[1] = '_';
            if (n + 2 > 64) name[64] = '\0';
        }
        bool dup = false;
        for (size_t k = 0; k < nnames; k++)
            dup |= strcmp(names[k], name) == 0;
        if (dup) continue;
        memcpy(names[nnames++], name, sizeof(name));
        if (moat_seclog_secret_name(f->name, strlen(f->name)))
            put_member(b, &tmp, name, "[redacted]", 16, false);
        else
            put_member(b, &tmp, name, f->value, MOAT__SECLOG_VALUE_MAX, true);
    }
    moat_buf_free(&tmp);
}
