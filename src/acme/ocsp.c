/* ocsp.c - is the served certificate revoked? OCSP (RFC 6960) through
 * OpenSSL's OCSP API and libcurl, on a certificate thread: the ACME thread
 * (client.c) for its certificate, the thread started here for tls.cert
 * files. An answer counts only when it is signed by the certificate's
 * issuer (or a responder it delegated to), covers this certificate, echoes
 * the nonce if it carries one, and its thisUpdate/nextUpdate hold now. A
 * good answer is stapled (src/net/tls.c) and kept in the state folder's
 * ocsp/ for the next start and `moat cert status`; what to do about a
 * revoked certificate is the caller's (ACME orders a new one). CRLs and
 * ACME renewal information are not consulted. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acme.h"
#include "internal.h"
#include "net/net.h"

#define MAX_ANSWER (64 * 1024)
#define SKEW_S 300                 /* clock skew allowed on thisUpdate/nextUpdate */
#define MAX_AGE_S (14 * 86400L)    /* an answer older than this is refused */
#define FIRST_RETRY_MS (60 * 1000) /* after a failure; doubles up to the refresh */

struct moat__ocsp {
    moat__curl *cu;
    CURL *h;
    bool (*stopping)(void *);
    void *arg;
    bool managed;
    moat_seclog *log;
    char *dir; /* the state folder's ocsp/ */
    uint64_t refresh_ms;
};

/* ---- the chain and the answer ------------------------------------------------ */

/* The leaf and its issuer (the next certificate of the chain file). */
static int chain_load(const char *path, X509 **leaf, X509 **issuer)
{
    *leaf = *issuer = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return MOAT_ENOENT;
    *leaf = PEM_read_X509(f, NULL, NULL, NULL);
    if (*leaf) *issuer = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    if (*leaf && *issuer) return 0;
    X509_free(*leaf);
    *leaf = NULL;
    return MOAT_EINVAL;
}

/* The first http(s) responder URL of the leaf's AIA, owned; NULL: none. */
static char *responder_url(X509 *leaf)
{
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(leaf);
    char *out = NULL;
    for (int i = 0; urls && i < sk_OPENSSL_STRING_num(urls) && !out; i++) {
        const char *u = sk_OPENSSL_STRING_value(urls, i);
        if (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) out = moat_xstrdup(u);
    }
    X509_email_free(urls);
    return out;
}

static int64_t gt_unix(const ASN1_GENERALIZEDTIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return (int64_t)timegm(&tm);
}

static void fail(moat_ocsp_info *out, const char *why)
{
    out->status = MOAT_OCSP_FAILED;
    snprintf(out->reason, sizeof(out->reason), "%s", why);
}

/* Checks the DER answer for leaf (issued by issuer) and fills out. req:
 * the request it answers (its nonce is checked), NULL for a stored one. */
static void verify(const unsigned char *der, size_t len, X509 *leaf, X509 *issuer,
                   OCSP_REQUEST *req, moat_ocsp_info *out)
{
    memset(out, 0, sizeof(*out));
    const unsigned char *p = der;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
    OCSP_BASICRESP *bs = NULL;
    OCSP_CERTID *id = NULL;
    X509_STORE *store = NULL;
    STACK_OF(X509) *untrusted = NULL;
    if (!resp || p != der + len) {
        fail(out, "the answer is not an OCSP response");
        goto out;
    }
    int rs = OCSP_response_status(resp);
    if (rs != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        char why[96];
        snprintf(why, sizeof(why), "the responder answered '%s'", OCSP_response_status_str(rs));
        fail(out, why);
        goto out;
    }
    if (!(bs = OCSP_response_get1_basic(resp))) {
        fail(out, "the answer is not a basic OCSP response");
        goto out;
    }
    /* nonce optional (responders with cached answers leave it out), but a
     * different one is a replayed or misdirected answer */
    if (req && OCSP_check_nonce(req, bs) == 0) {
        fail(out, "the answer's nonce is not the one moat sent");
        goto out;
    }
    /* The signer must chain to this certificate's issuer: the issuer itself
     * is the only trust anchor (a partial chain), and OCSP_basic_verify
     * then requires the signer to be the issuer or a responder the issuer
     * delegated to (id-kp-OCSPSigning). */
    store = X509_STORE_new();
    untrusted = sk_X509_new_null();
    if (!store || !untrusted || X509_STORE_add_cert(store, issuer) != 1 ||
        X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN) != 1 ||
        !sk_X509_push(untrusted, issuer)) {
        fail(out, "out of memory");
        goto out;
    }
    X509_up_ref(issuer); /* the stack's reference */
    if (OCSP_basic_verify(bs, untrusted, store, 0) <= 0) {
        fail(out, "the answer is not signed by the certificate's issuer or its responder");
        goto out;
    }
    id = OCSP_cert_to_id(EVP_sha1(), leaf, issuer);
    int st = -1, reason = -1;
    ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
    if (!id || OCSP_resp_find_status(bs, id, &st, &reason, &rev, &thisupd, &nextupd) != 1) {
        fail(out, "the answer does not cover this certificate");
        goto out;
    }
    if (OCSP_check_validity(thisupd, nextupd, SKEW_S, MAX_AGE_S) != 1) {
        fail(out, "the answer is out of date (thisUpdate/nextUpdate)");
        goto out;
    }
    out->this_update = gt_unix(thisupd);
    out->next_update = gt_unix(nextupd);
    if (st == V_OCSP_CERTSTATUS_GOOD) {
        out->status = MOAT_OCSP_GOOD;
    } else if (st == V_OCSP_CERTSTATUS_REVOKED) {
        out->status = MOAT_OCSP_REVOKED;
        out->revoked_at = gt_unix(rev);
        snprintf(out->reason, sizeof(out->reason), "%s",
                 reason >= 0 ? OCSP_crl_reason_str(reason) : "no reason given");
    } else {
        out->status = MOAT_OCSP_UNKNOWN;
        snprintf(out->reason, sizeof(out->reason), "the responder does not know the certificate");
    }
out:
    OCSP_CERTID_free(id);
    sk_X509_pop_free(untrusted, X509_free);
    X509_STORE_free(store);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    ERR_clear_error();
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* The stored answer's file for the chain file path (named by a hash of the
 * path, so a renewal overwrites it instead of adding one). Owned. */
static char *stored_path(const char *dir, const char *chain)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)chain, strlen(chain), d);
    char h[33];
    hex(d, 16, h);
    return moat_xasprintf("%s/%s.der", dir, h);
}

static int read_stored(const char *file, unsigned char **der, size_t *len, int64_t *mtime)
{
    char *data;
    struct stat st;
    if (stat(file, &st) < 0) return MOAT_ENOENT;
    int rc = moat_read_file(file, &data, len);
    if (rc < 0) return rc;
    if (*len == 0 || *len > MAX_ANSWER) {
        free(data);
        return MOAT_EINVAL;
    }
    *der = (unsigned char *)data;
    *mtime = (int64_t)st.st_mtime;
    return 0;
}

int moat_ocsp_stored(const moat_config *cfg, const char *cert_path, moat_ocsp_info *out)
{
    memset(out, 0, sizeof(*out));
    X509 *leaf, *issuer;
    if (chain_load(cert_path, &leaf, &issuer) < 0) {
        snprintf(out->reason, sizeof(out->reason),
                 "not checked: the chain file has no issuer certificate after the leaf");
        return MOAT_EINVAL;
    }
    char *url = responder_url(leaf);
    if (!url) {
        snprintf(out->reason, sizeof(out->reason),
                 "not checked: the certificate names no OCSP responder");
        X509_free(leaf);
        X509_free(issuer);
        return MOAT_EINVAL;
    }
    free(url);
    moat_acme_paths p;
    moat_acme_paths_init(cfg, &p);
    char *file = stored_path(p.ocsp, cert_path);
    unsigned char *der = NULL;
    size_t len = 0;
    int64_t mtime = 0;
    int rc = read_stored(file, &der, &len, &mtime);
    if (rc == 0) {
        verify(der, len, leaf, issuer, NULL, out);
        out->checked = mtime;
    }
    free(der);
    free(file);
    moat_acme_paths_free(&p);
    X509_free(leaf);
    X509_free(issuer);
    return rc < 0 ? MOAT_ENOENT : 0;
}

/* ---- asking the responder ------------------------------------------------------ */

static size_t body_cb(char *p, size_t size, size_t n, void *arg)
{
    moat_buf *b = arg;
    if (b->len + size * n > MAX_ANSWER) return 0;
    moat_buf_append(b, p, size * n);
    return size * n;
}

static int progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    moat__ocsp *o = arg;
    return o->stopping(o->arg) ? 1 : 0;
}

/* POSTs the request (RFC 6960 A.1) to url; the answer's DER in *body. */
static int ask(moat__ocsp *o, const char *url, OCSP_REQUEST *req, moat_buf *body, char *why,
               size_t whylen)
{
    unsigned char *der = NULL;
    int len = i2d_OCSP_REQUEST(req, &der);
    if (len <= 0) {
        snprintf(why, whylen, "cannot encode the OCSP request");
        return MOAT_EIO;
    }
    moat__curl *cu = o->cu;
    cu->reset(o->h);
    char cerr[CURL_ERROR_SIZE] = {0};
    struct curl_slist *hdrs = cu->slist_append(NULL, "Content-Type: application/ocsp-request");
    cu->setopt(o->h, CURLOPT_URL, url);
    cu->setopt(o->h, CURLOPT_WRITEFUNCTION, body_cb);
    cu->setopt(o->h, CURLOPT_WRITEDATA, body);
    cu->setopt(o->h, CURLOPT_ERRORBUFFER, cerr);
    cu->setopt(o->h, CURLOPT_PROTOCOLS_STR, "http,https");
    cu->setopt(o->h, CURLOPT_CONNECTTIMEOUT, 10L);
    cu->setopt(o->h, CURLOPT_TIMEOUT, 30L);
    cu->setopt(o->h, CURLOPT_NOSIGNAL, 1L);
    cu->setopt(o->h, CURLOPT_XFERINFOFUNCTION, progress_cb);
    cu->setopt(o->h, CURLOPT_XFERINFODATA, o);
    cu->setopt(o->h, CURLOPT_NOPROGRESS, 0L);
    cu->setopt(o->h, CURLOPT_USERAGENT, "moat/" MOAT_VERSION " (OCSP)");
    cu->setopt(o->h, CURLOPT_HTTPHEADER, hdrs);
    cu->setopt(o->h, CURLOPT_POSTFIELDS, (const char *)der);
    cu->setopt(o->h, CURLOPT_POSTFIELDSIZE, (long)len);
    CURLcode cc = cu->perform(o->h);
    cu->slist_free_all(hdrs);
    OPENSSL_free(der);
    if (cc != CURLE_OK) {
        snprintf(why, whylen, "cannot reach the OCSP responder %s: %s", url,
                 cerr[0] ? cerr : cu->strerror(cc));
        return MOAT_EIO;
    }
    long status = 0;
    cu->getinfo(o->h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200 || body->len == 0) {
        snprintf(why, whylen, "the OCSP responder %s answered HTTP %ld", url, status);
        return MOAT_EIO;
    }
    return 0;
}

static int write_stored(const char *dir, const char *file, const moat_buf *der)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) return MOAT_EIO;
    char *tmp = moat_xasprintf("%s.new", file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? MOAT_EIO : 0;
    if (fd >= 0) {
        size_t off = 0;
        while (rc == 0 && off < der->len) {
            ssize_t w = write(fd, der->data + off, der->len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0)
                rc = MOAT_EIO;
            else
                off += (size_t)w;
        }
        if (close(fd) < 0) rc = MOAT_EIO;
    }
    if (rc == 0 && rename(tmp, file) < 0) rc = MOAT_EIO;
    if (rc < 0) unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- the checker ------------------------------------------------------------- */

moat__ocsp *moat__ocsp_new(const moat_config *cfg, moat_seclog *log, moat__curl *cu, CURL *h,
                           bool managed, bool (*stopping)(void *), void *arg)
{
    moat__ocsp *o = moat_xcalloc(1, sizeof(*o));
    o->cu = cu;
    o->h = h;
    o->stopping = stopping;
    o->arg = arg;
    o->managed = managed;
    o->log = log;
    o->refresh_ms = cfg->tls.ocsp_refresh_ms;
    moat_acme_paths p;
    moat_acme_paths_init(cfg, &p);
    o->dir = p.ocsp;
    p.ocsp = NULL;
    moat_acme_paths_free(&p);
    return o;
}

void moat__ocsp_free(moat__ocsp *o)
{
    if (!o) return;
    free(o->dir);
    free(o);
}

uint64_t moat__ocsp_due_in(const moat__ocsp_cert *c)
{
    uint64_t now = moat_now_ms();
    return c->next_ms > now ? c->next_ms - now : 0;
}

static uint64_t jitter(uint64_t ms, unsigned pct)
{
    uint32_t r;
    moat_random(&r, sizeof(r));
    uint64_t span = ms * pct / 100;
    return ms - span + (uint64_t)r % (2 * span + 1);
}

static void stamp(char *out, size_t n, int64_t t)
{
    out[0] = '\0';
    if (t <= 0) return;
    struct tm tm;
    time_t tt = (time_t)t;
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
}

static void event(moat__ocsp *o, const char *name, moat_seclog_severity sev, const char *reason,
                  const char *path, X509 *leaf, const char *url, const moat_ocsp_info *in,
                  int64_t next)
{
    char tu[32], nu[32], ra[32], nc[32], serial[128] = "";
    stamp(tu, sizeof(tu), in ? in->this_update : 0);
    stamp(nu, sizeof(nu), in ? in->next_update : 0);
    stamp(ra, sizeof(ra), in ? in->revoked_at : 0);
    stamp(nc, sizeof(nc), next);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
    char *s = bn ? BN_bn2hex(bn) : NULL;
    /* hex in groups of 8 ("7EF20570.04CC1A2B..."): one long hex run would
     * look like a token to the log's redaction, and "CC:" like a key */
    for (size_t i = 0, k = 0; s && s[i] && k + 3 < sizeof(serial); i++) {
        if (i && i % 8 == 0) serial[k++] = '.';
        serial[k++] = s[i];
        serial[k] = '\0';
    }
    OPENSSL_free(s);
    BN_free(bn);
    moat_seclog_field f[] = {
        {"cert", path},
        {"serial", serial},
        {"ocsp_url", url},
        {"this_update", tu[0] ? tu : NULL},
        {"next_update", nu[0] ? nu : NULL},
        {"revoked_at", ra[0] ? ra : NULL},
        {"revocation_reason",
         in && in->status == MOAT_OCSP_REVOKED && in->reason[0] ? in->reason : NULL},
        {"next_check", nc[0] ? nc : NULL},
    };
    moat_seclog_event ev = {.event = name,
                            .severity = sev,
                            .reason = reason,
                            .stage = "ocsp",
                            .config_key = "tls.ocsp",
                            .fields = f,
                            .nfields = sizeof(f) / sizeof(f[0])};
    moat_seclog_record(o->log, &ev);
}

/* The next check after an answer: the refresh, or half of what is left of
 * the answer's validity if that is sooner; never sooner than a second. */
static uint64_t next_after(moat__ocsp *o, const moat_ocsp_info *in)
{
    uint64_t ms = o->refresh_ms;
    int64_t now = (int64_t)time(NULL);
    if (in->next_update > now) {
        uint64_t half = (uint64_t)(in->next_update - now) * 1000 / 2;
        if (half < ms) ms = half;
    }
    ms = jitter(ms, 10);
    return ms < 1000 ? 1000 : ms;
}

static uint64_t backoff(moat__ocsp *o, unsigned failures)
{
    uint64_t ms = o->refresh_ms < FIRST_RETRY_MS ? o->refresh_ms : FIRST_RETRY_MS;
    for (unsigned i = 1; i < failures && ms < o->refresh_ms; i++)
        ms *= 2;
    if (ms > o->refresh_ms) ms = o->refresh_ms;
    return jitter(ms, 20);
}

moat_ocsp_status moat__ocsp_poll(moat__ocsp *o, moat__ocsp_cert *c)
{
    X509 *leaf, *issuer;
    if (chain_load(c->path, &leaf, &issuer) < 0) {
        /* no chain (yet), or no issuer in it: nothing to ask about */
        c->next_ms = moat_now_ms() + o->refresh_ms;
        return MOAT_OCSP_NONE;
    }
    unsigned char fp[32];
    unsigned int n = 0;
    X509_digest(leaf, EVP_sha256(), fp, &n);
    char *file = stored_path(o->dir, c->path);
    moat_ocsp_status got = MOAT_OCSP_NONE;
    if (memcmp(fp, c->fp, 32) != 0) {
        /* a new certificate (start, renewal, a replaced file): check it at
         * once, and staple its stored answer meanwhile if still good; the
         * old one's answer is needed no more (handshakes are over) */
        static const unsigned char none[32];
        if (memcmp(c->fp, none, 32) != 0) moat_tls_staple_set(c->fp, NULL, 0, 0);
        memcpy(c->fp, fp, 32);
        c->next_ms = 0;
        c->failures = 0;
        c->status = MOAT_OCSP_NONE;
        unsigned char *der = NULL;
        size_t len = 0;
        int64_t mtime;
        moat_ocsp_info in;
        if (read_stored(file, &der, &len, &mtime) == 0) {
            verify(der, len, leaf, issuer, NULL, &in);
            if (in.status == MOAT_OCSP_GOOD) moat_tls_staple_set(fp, der, len, in.next_update);
        }
        free(der);
    }
    char *url = responder_url(leaf);
    if (moat__ocsp_due_in(c) > 0) goto out;
    if (!url) {
        if (c->status != MOAT_OCSP_NONE || c->next_ms == 0)
            moat_info("ocsp: %s names no OCSP responder: revocation is not checked", c->path);
        c->next_ms = moat_now_ms() + o->refresh_ms;
        goto out;
    }
    moat_ocsp_info in;
    memset(&in, 0, sizeof(in));
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf, issuer);
    char why[512] = "";
    moat_buf body;
    moat_buf_init(&body);
    if (!req || !id || !OCSP_request_add0_id(req, id)) {
        OCSP_CERTID_free(id);
        snprintf(why, sizeof(why), "cannot make the OCSP request");
    } else if (OCSP_request_add1_nonce(req, NULL, -1) != 1) {
        snprintf(why, sizeof(why), "cannot make the OCSP request's nonce");
    } else if (ask(o, url, req, &body, why, sizeof(why)) == 0) {
        verify((const unsigned char *)body.data, body.len, leaf, issuer, req, &in);
        if (in.status == MOAT_OCSP_FAILED || in.status == MOAT_OCSP_UNKNOWN)
            snprintf(why, sizeof(why), "%s (%s)", in.reason, url);
    }
    OCSP_REQUEST_free(req);
    ERR_clear_error();
    if (o->stopping(o->arg)) goto out_body; /* stopped mid-way: not a failure */
    if (in.status == MOAT_OCSP_GOOD || in.status == MOAT_OCSP_REVOKED) {
        got = in.status;
        c->status = in.status;
        c->failures = 0;
        c->next_ms = moat_now_ms() + next_after(o, &in);
        if (write_stored(o->dir, file, &body) < 0)
            moat_warn("ocsp: cannot store the answer in %s: %s", o->dir, strerror(errno));
        if (in.status == MOAT_OCSP_GOOD) {
            moat_tls_staple_set(fp, (const unsigned char *)body.data, body.len, in.next_update);
            moat_info("ocsp: %s is good (answer valid until %lld); stapled", c->path,
                      (long long)in.next_update);
        } else {
            moat_tls_staple_set(fp, NULL, 0, 0);
            const char *what = o->managed
                                   ? "the CA revoked the served certificate (OCSP): a new one is "
                                     "ordered now"
                                   : "the CA revoked the served certificate (OCSP): moat cannot "
                                     "replace a tls.cert file; replace it and reload";
            moat_warn("ocsp: %s: %s (%s)", c->path, what, in.reason);
            event(o, "cert.revoked", MOAT_SECLOG_CRITICAL, what, c->path, leaf, url, &in,
                  o->managed ? 0 : (int64_t)time(NULL) + (int64_t)(moat__ocsp_due_in(c) / 1000));
        }
    } else {
        got = MOAT_OCSP_FAILED;
        c->failures++;
        c->next_ms = moat_now_ms() + backoff(o, c->failures);
        char *reason = moat_xasprintf("%s; the certificate stays served%s", why,
                                      c->status == MOAT_OCSP_GOOD
                                          ? " with its last good answer stapled until it expires"
                                          : "");
        moat_warn("ocsp: %s: %s", c->path, reason);
        event(o, "cert.ocsp_failed", MOAT_SECLOG_WARNING, reason, c->path, leaf, url,
              in.status == MOAT_OCSP_UNKNOWN ? &in : NULL,
              (int64_t)time(NULL) + (int64_t)(moat__ocsp_due_in(c) / 1000));
        free(reason);
    }
out_body:
    moat_buf_free(&body);
out:
    free(url);
    free(file);
    X509_free(leaf);
    X509_free(issuer);
    return got;
}

/* ---- the tls.cert thread ----------------------------------------------------- */

struct moat_ocsp {
    pthread_t thread;
    moat__sleeper sleep;
    moat__curl cu;
    CURL *h;
    moat__ocsp *checker;
    moat__ocsp_cert *certs;
    size_t ncerts;
};

static bool static_stopping(void *arg)
{
    moat_ocsp *s = arg;
    return moat__sleeper_stopping(&s->sleep);
}

static void *static_run(void *arg)
{
    moat_ocsp *s = arg;
    while (!static_stopping(s)) {
        uint64_t wait = 3600 * 1000; /* at least hourly: the files may change */
        for (size_t i = 0; i < s->ncerts && !static_stopping(s); i++) {
            moat__ocsp_poll(s->checker, &s->certs[i]);
            uint64_t d = moat__ocsp_due_in(&s->certs[i]);
            if (d < wait) wait = d;
        }
        (void)moat__sleeper_nap(&s->sleep, wait + 50);
    }
    return NULL;
}

int moat_ocsp_start(const moat_config *cfg, moat_seclog *log, moat_ocsp **out, char **err)
{
    *out = NULL;
    if (!cfg->tls.ocsp || cfg->tls.acme.on || cfg->tls.cert.len == 0) return 0;
    moat_ocsp *s = moat_xcalloc(1, sizeof(*s));
    if (moat__acme_load_curl(&s->cu, err) < 0 || !(s->h = s->cu.init())) {
        if (!*err) *err = moat_xstrdup("libcurl failed to start");
        free(s);
        return MOAT_EIO;
    }
    s->checker = moat__ocsp_new(cfg, log, &s->cu, s->h, false, static_stopping, s);
    s->ncerts = cfg->tls.cert.len;
    s->certs = moat_xcalloc(s->ncerts, sizeof(*s->certs));
    for (size_t i = 0; i < s->ncerts; i++)
        s->certs[i].path = moat_xstrdup(cfg->tls.cert.items[i]);
    moat__sleeper_init(&s->sleep);
    if (pthread_create(&s->thread, NULL, static_run, s) != 0) {
        *err = moat_xstrdup("cannot start the OCSP thread");
        s->thread = 0;
        moat_ocsp_stop(s);
        return MOAT_EIO;
    }
    *out = s;
    return 0;
}

void moat_ocsp_wake(moat_ocsp *s)
{
    if (!s) return;
    moat__sleeper_wake(&s->sleep);
}

void moat_ocsp_stop(moat_ocsp *s)
{
    if (!s) return;
    moat__sleeper_stop(&s->sleep);
    if (s->thread) pthread_join(s->thread, NULL);
    if (s->h) s->cu.cleanup(s->h); /* libcurl stays loaded, as in client.c */
    moat__ocsp_free(s->checker);
    for (size_t i = 0; i < s->ncerts; i++)
        free(s->certs[i].path);
    free(s->certs);
    moat__sleeper_destroy(&s->sleep);
    free(s);
}
