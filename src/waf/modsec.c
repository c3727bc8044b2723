/* modsec.c - the libmodsecurity 3 engine: one ModSecurity instance for the
 * process (its log callback is how matched rules reach us), one rule set per
 * loaded config, one Transaction per request. The rule set is read-only
 * once loaded and shared by the worker threads; the CRS's per-IP and global
 * collections, the one piece of shared mutable state in the engine, are not
 * initialised (waf.c removes rule 901321), so transactions on different
 * threads share nothing they write. What a verdict means is waf.c's and the
 * gateway's business. */
#include <modsecurity/intervention.h>
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct mtx {
    Transaction *t;
    moat_waf_verdict *v; /* where the log callback writes; NULL between phases */
    bool failed;
} mtx;

static ModSecurity *msc;
static pthread_once_t msc_once = PTHREAD_ONCE_INIT;

/* Called by libmodsecurity for every rule that logs, with the pointer given
 * to msc_new_transaction (our mtx). */
static void on_log(void *data, const void *msg)
{
    mtx *m = data;
    if (!m || !m->v || !msg) return;
    moat__waf_note_match(m->v, msg);
}

static void msc_start(void)
{
    msc = msc_init();
    msc_set_connector_info(msc, "moat/" MOAT_VERSION);
    msc_set_log_cb(msc, on_log);
}

/* "Rules error. File: F. Line: L. Column: C. Invalid input: X" ->
 * "F:L:C: Invalid input: X"; other messages are kept as they are. */
static char *format_error(const char *name, const char *e)
{
    if (!e) return moat_xasprintf("%s: rules did not load", name);
    const char *f = strstr(e, "File: ");
    const char *l = f ? strstr(f, ". Line: ") : NULL;
    const char *c = l ? strstr(l, ". Column: ") : NULL;
    if (!f || !l || !c) return moat_xasprintf("%s: %s", name, e);
    const char *rest = strchr(c + 10, '.');
    int flen = (int)(l - (f + 6));
    long line = strtol(l + 8, NULL, 10), col = strtol(c + 10, NULL, 10);
    const char *why = rest ? rest + 1 : "";
    while (*why == ' ')
        why++;
    size_t wl = strlen(why);
    while (wl && (why[wl - 1] == '\n' || why[wl - 1] == ' '))
        wl--;
    return moat_xasprintf("%.*s:%ld:%ld: %.*s", flen, f + 6, line, col, (int)wl, why);
}

static int load(const moat__waf_source *src, size_t n, void **out, char **err)
{
    pthread_once(&msc_once, msc_start);
    RulesSet *rs = msc_create_rules_set();
    for (size_t i = 0; i < n; i++) {
        const char *e = NULL;
        int rc = src[i].text ? msc_rules_add(rs, src[i].text, &e)
                             : msc_rules_add_file(rs, src[i].name, &e);
        if (rc < 0) {
            char *msg = format_error(src[i].name, e);
            /* generated text has no file name of its own: say which part */
            if (src[i].text && strncmp(msg, "<<", 2) == 0) {
                char *m2 = moat_xasprintf("%s (%s)", msg, src[i].name);
                free(msg);
                msg = m2;
            }
            *err = msg;
            free((void *)e);
            msc_rules_cleanup(rs);
            return MOAT_ECONFIG;
        }
    }
    *out = rs;
    return 0;
}

static void unload(void *rules)
{
    if (rules) msc_rules_cleanup(rules);
}

static void *tx_new(void *rules, const char *client, const char *server, const char *method,
                    const char *uri, int http_minor)
{
    mtx *m = moat_xcalloc(1, sizeof(*m));
    m->t = msc_new_transaction(msc, rules, m);
    if (!m->t) {
        m->failed = true;
        return m;
    }
    if (msc_process_connection(m->t, client && client[0] ? client : "0.0.0.0", 0,
                               server ? server : "127.0.0.1", 0) != 1 ||
        msc_process_uri(m->t, uri, method, http_minor == 0 ? "1.0" : "1.1") != 1)
        m->failed = true;
    return m;
}

static void tx_header(void *tx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    mtx *m = tx;
    if (m->failed) return;
    if (msc_add_n_request_header(m->t, (const unsigned char *)name, nlen,
                                 (const unsigned char *)value, vlen) != 1)
        m->failed = true;
}

/* Reads the intervention the last phase left; true when it is disruptive. */
static bool intervene(mtx *m, moat_waf_verdict *v)
{
    ModSecurityIntervention it = {.status = 200};
    int rc = msc_intervention(m->t, &it);
    bool disruptive = rc && it.disruptive;
    if (disruptive) {
        v->attack = true;
        v->status = it.status >= 400 && it.status < 500 ? it.status : 403;
        if (it.log) moat__waf_note_match(v, it.log);
    }
    free(it.log);
    free(it.url);
    return disruptive;
}

static bool tx_head(void *tx, moat_waf_verdict *v)
{
    mtx *m = tx;
    if (m->failed) {
        v->engine_err = true;
        return true;
    }
    m->v = v;
    int rc = msc_process_request_headers(m->t);
    bool done = intervene(m, v);
    m->v = NULL;
    if (rc != 1) {
        v->engine_err = true;
        return true;
    }
    return done;
}

static void tx_body(void *tx, const char *data, size_t len, moat_waf_verdict *v)
{
    mtx *m = tx;
    if (m->failed) {
        v->engine_err = true;
        return;
    }
    m->v = v;
    /* Its result is 0 when the body crosses SecRequestBodyLimit, which with
     * ProcessPartial only means the rest is not inspected (INBOUND_DATA_ERROR
     * tells the rules). */
    if (len) (void)msc_append_request_body(m->t, (const unsigned char *)data, len);
    /* An append over SecRequestBodyLimit may already have intervened. */
    if (!intervene(m, v) && !m->failed) {
        if (msc_process_request_body(m->t) != 1) m->failed = true;
        intervene(m, v);
    }
    m->v = NULL;
    if (m->failed) v->engine_err = true;
}

static void tx_free(void *tx)
{
    mtx *m = tx;
    if (!m) return;
    if (m->t) msc_transaction_cleanup(m->t); /* no phase 5: nothing is audit-logged */
    free(m);
}

const moat__waf_engine moat__waf_modsec = {
    .name = "libmodsecurity3",
    .load = load,
    .unload = unload,
    .tx_new = tx_new,
    .tx_header = tx_header,
    .tx_head = tx_head,
    .tx_body = tx_body,
    .tx_free = tx_free,
};
