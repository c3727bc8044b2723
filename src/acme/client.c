/* client.c - the RFC 8555 client and its thread. One thread per process
 * owns the whole exchange with the CA (libcurl, loaded when ACME is on, as
 * `moat db update` does) so nothing here ever runs on an event loop: it
 * sleeps until the stored certificate reaches two thirds of its lifetime,
 * then walks directory -> nonce -> account -> order -> authorizations ->
 * challenges -> finalize -> certificate, stores the key and chain in the
 * state folder and swaps them into the TLS layer. Failures wait with
 * jittered exponential backoff and never sooner than the CA's Retry-After;
 * the certificate already served stays served. Secrets (keys, the EAB MAC
 * key) never reach a log line. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
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

#define MAX_BODY (1024 * 1024)
#define POLL_TRIES 60

typedef moat__curl curl_api; /* internal.h: shared with ocsp.c */

struct moat_acme {
    pthread_t thread;
    moat__sleeper sleep; /* wake: look at the files again (SIGHUP) */
    moat_seclog *log;
    /* a copy of [tls.acme]: the config may be reloaded and freed meanwhile */
    char *directory, *email, *ca_bundle, *challenge, *eab_kid, *eab_hmac;
    char **domains;
    size_t ndomains;
    uint64_t retry_ms;
    bool modern;
    moat_acme_paths paths;
    curl_api cu;
    CURL *h;
    /* one attempt's state */
    moat_acme_directory dir;
    EVP_PKEY *account;
    char *jwk, *thumbprint, *kid, *nonce;
    int64_t retry_after; /* the CA's Retry-After of the last answer, seconds; 0 = none */
    char *problem;       /* the last problem document's type */
    /* revocation (ocsp.c): NULL with tls.ocsp off */
    moat__ocsp *ocsp;
    moat__ocsp_cert ocsp_cert;
    bool revoked; /* the OCSP responder said so: replace it now */
};

typedef struct response {
    long status;
    moat_buf body;
    char *location, *nonce, *retry_after, *content_type;
} response;

/* ---- small helpers --------------------------------------------------------- */

static char *b64url(const unsigned char *data, size_t n)
{
    char *out = moat_xmalloc(4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return out;
}

static char *b64url_str(const char *s)
{
    return b64url((const unsigned char *)s, strlen(s));
}

/* base64url (padding optional) to bytes; returns the length or -1. */
static int b64url_decode(const char *in, unsigned char *out, size_t outlen)
{
    size_t n = strlen(in);
    if (n == 0 || n > 1024) return -1;
    char *t = moat_xmalloc(n + 4);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '=') break;
        t[k++] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    size_t pad = (4 - k % 4) % 4;
    if (pad == 3) {
        free(t);
        return -1;
    }
    for (size_t i = 0; i < pad; i++)
        t[k++] = '=';
    t[k] = '\0';
    int len = -1;
    if (k / 4 * 3 <= outlen + 2) {
        unsigned char *buf = moat_xmalloc(k / 4 * 3 + 1);
        len = EVP_DecodeBlock(buf, (unsigned char *)t, (int)k);
        if (len >= 0) {
            len -= (int)pad;
            if ((size_t)len > outlen)
                len = -1;
            else
                memcpy(out, buf, (size_t)len);
        }
        OPENSSL_cleanse(buf, k / 4 * 3 + 1);
        free(buf);
    }
    OPENSSL_cleanse(t, n + 4);
    free(t);
    return len;
}

int moat__acme_load_curl(curl_api *c, char **err)
{
    memset(c, 0, sizeof(*c));
    c->lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!c->lib) {
        *err = moat_xasprintf("cannot load libcurl (libcurl.so.4): %s", dlerror());
        return MOAT_EIO;
    }
    CURLcode (*global_init)(long);
    *(void **)&global_init = dlsym(c->lib, "curl_global_init");
    *(void **)&c->init = dlsym(c->lib, "curl_easy_init");
    *(void **)&c->setopt = dlsym(c->lib, "curl_easy_setopt");
    *(void **)&c->perform = dlsym(c->lib, "curl_easy_perform");
    *(void **)&c->getinfo = dlsym(c->lib, "curl_easy_getinfo");
    *(void **)&c->cleanup = dlsym(c->lib, "curl_easy_cleanup");
    *(void **)&c->reset = dlsym(c->lib, "curl_easy_reset");
    *(void **)&c->strerror = dlsym(c->lib, "curl_easy_strerror");
    *(void **)&c->slist_append = dlsym(c->lib, "curl_slist_append");
    *(void **)&c->slist_free_all = dlsym(c->lib, "curl_slist_free_all");
    if (!global_init || !c->init || !c->setopt || !c->perform || !c->getinfo || !c->cleanup ||
        !c->reset || !c->strerror || !c->slist_append || !c->slist_free_all) {
        *err = moat_xstrdup("libcurl.so.4 lacks the functions moat needs");
        dlclose(c->lib);
        c->lib = NULL;
        return MOAT_EIO;
    }
    global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static bool stopping(moat_acme *a)
{
    return moat__sleeper_stopping(&a->sleep);
}

/* Sleeps up to ms (monotonic clock); false when asked to stop. */
static bool nap(moat_acme *a, uint64_t ms)
{
    return moat__sleeper_nap(&a->sleep, ms);
}

/* ---- HTTP ---------------------------------------------------------------------- */

static size_t body_cb(char *p, size_t size, size_t n, void *arg)
{
    response *r = arg;
    if (r->body.len + size * n > MAX_BODY) return 0;
    moat_buf_append(&r->body, p, size * n);
    return size * n;
}

static char *header_value(const char *line, size_t n, const char *name)
{
    size_t l = strlen(name);
    if (n <= l + 1 || strncasecmp(line, name, l) != 0 || line[l] != ':') return NULL;
    const char *v = line + l + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    return moat_xstrndup(v, (size_t)(end - v));
}

static size_t header_cb(char *p, size_t size, size_t n, void *arg)
{
    response *r = arg;
    size_t len = size * n;
    char *v;
    if ((v = header_value(p, len, "Location"))) {
        free(r->location);
        r->location = v;
    } else if ((v = header_value(p, len, "Replay-Nonce"))) {
        free(r->nonce);
        r->nonce = v;
    } else if ((v = header_value(p, len, "Retry-After"))) {
        free(r->retry_after);
        r->retry_after = v;
    } else if ((v = header_value(p, len, "Content-Type"))) {
        free(r->content_type);
        r->content_type = v;
    }
    return len;
}

static void response_free(response *r)
{
    moat_buf_free(&r->body);
    free(r->location);
    free(r->nonce);
    free(r->retry_after);
    free(r->content_type);
    memset(r, 0, sizeof(*r));
}

/* Retry-After: delay-seconds or an HTTP date; 0 when absent or unreadable. */
static int64_t retry_after_seconds(const char *v)
{
    if (!v) return 0;
    uint64_t s;
    if (moat_parse_u64(v, strlen(v), &s) == 0) return s > 86400 * 7 ? 86400 * 7 : (int64_t)s;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end) return 0;
    int64_t d = (int64_t)timegm(&tm) - (int64_t)time(NULL);
    return d < 0 ? 0 : d > 86400 * 7 ? 86400 * 7 : d;
}

static int progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return stopping(arg) ? 1 : 0;
}

/* method: "GET", "HEAD" or "POST" (body: a JWS). */
static int http(moat_acme *a, const char *method, const char *url, const char *body, response *r,
                char **err)
{
    memset(r, 0, sizeof(*r));
    moat_buf_init(&r->body);
    a->retry_after = 0;
    curl_api *cu = &a->cu;
    cu->reset(a->h);
    char cerr[CURL_ERROR_SIZE] = {0};
    struct curl_slist *hdrs = NULL;
    cu->setopt(a->h, CURLOPT_URL, url);
    cu->setopt(a->h, CURLOPT_WRITEFUNCTION, body_cb);
    cu->setopt(a->h, CURLOPT_WRITEDATA, r);
    cu->setopt(a->h, CURLOPT_HEADERFUNCTION, header_cb);
    cu->setopt(a->h, CURLOPT_HEADERDATA, r);
    cu->setopt(a->h, CURLOPT_ERRORBUFFER, cerr);
    cu->setopt(a->h, CURLOPT_PROTOCOLS_STR, "https,http");
    cu->setopt(a->h, CURLOPT_CONNECTTIMEOUT, 15L);
    cu->setopt(a->h, CURLOPT_TIMEOUT, 60L);
    cu->setopt(a->h, CURLOPT_NOSIGNAL, 1L);
    /* a stop (SIGTERM) must not wait for a slow CA */
    cu->setopt(a->h, CURLOPT_XFERINFOFUNCTION, progress_cb);
    cu->setopt(a->h, CURLOPT_XFERINFODATA, a);
    cu->setopt(a->h, CURLOPT_NOPROGRESS, 0L);
    cu->setopt(a->h, CURLOPT_USERAGENT, "moat/" MOAT_VERSION " (ACME)");
    if (a->ca_bundle[0]) cu->setopt(a->h, CURLOPT_CAINFO, a->ca_bundle);
    if (strcmp(method, "HEAD") == 0) cu->setopt(a->h, CURLOPT_NOBODY, 1L);
    if (body) {
        hdrs = cu->slist_append(hdrs, "Content-Type: application/jose+json");
        cu->setopt(a->h, CURLOPT_HTTPHEADER, hdrs);
        cu->setopt(a->h, CURLOPT_POSTFIELDS, body);
        cu->setopt(a->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode cc = cu->perform(a->h);
    if (hdrs) cu->slist_free_all(hdrs);
    if (cc != CURLE_OK) {
        *err =
            moat_xasprintf("cannot reach the CA (%s): %s", url, cerr[0] ? cerr : cu->strerror(cc));
        response_free(r);
        return MOAT_EIO;
    }
    cu->getinfo(a->h, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->nonce) {
        free(a->nonce);
        a->nonce = moat_xstrdup(r->nonce);
    }
    a->retry_after = retry_after_seconds(r->retry_after);
    return 0;
}

/* A CA error answer: *err gets its problem (type and detail). */
static int problem(moat_acme *a, const char *what, response *r, char **err)
{
    moat_acme_problem p;
    free(a->problem);
    a->problem = NULL;
    if (moat_acme_parse_problem(r->body.data ? r->body.data : "", r->body.len, &p) == 0) {
        *err = moat_xasprintf("%s: the CA answered %ld %s%s%s%s", what, r->status, p.type,
                              p.detail[0] ? " (" : "", p.detail, p.detail[0] ? ")" : "");
        a->problem = moat_xstrdup(p.type);
        moat_acme_problem_free(&p);
    } else {
        *err = moat_xasprintf("%s: the CA answered %ld", what, r->status);
    }
    return MOAT_EIO;
}

/* ---- JWS (RFC 7515, ES256) ---------------------------------------------------- */

static int account_key(moat_acme *a, char **err)
{
    FILE *f = fopen(a->paths.account, "r");
    if (f) {
        a->account = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (!a->account) {
            ERR_clear_error();
            *err = moat_xasprintf("%s: not a PEM private key", a->paths.account);
            return MOAT_EIO;
        }
    } else {
        a->account = EVP_EC_gen("P-256");
        if (!a->account) {
            *err = moat_xstrdup("cannot make an account key");
            return MOAT_EIO;
        }
        char *tmp = moat_xasprintf("%s.new", a->paths.account);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        FILE *w = fd >= 0 ? fdopen(fd, "w") : NULL;
        bool ok = w && PEM_write_PrivateKey(w, a->account, NULL, NULL, 0, NULL, NULL);
        if (w)
            ok = fclose(w) == 0 && ok;
        else if (fd >= 0)
            close(fd);
        if (!ok || rename(tmp, a->paths.account) < 0) {
            *err = moat_xasprintf("cannot write %s: %s", a->paths.account, strerror(errno));
            unlink(tmp);
            free(tmp);
            return MOAT_EIO;
        }
        free(tmp);
    }
    BIGNUM *x = NULL, *y = NULL;
    if (!EVP_PKEY_get_bn_param(a->account, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
        !EVP_PKEY_get_bn_param(a->account, OSSL_PKEY_PARAM_EC_PUB_Y, &y)) {
        BN_free(x);
        BN_free(y);
        *err = moat_xasprintf("%s: not a P-256 key", a->paths.account);
        return MOAT_EIO;
    }
    unsigned char xb[32], yb[32];
    BN_bn2binpad(x, xb, 32);
    BN_bn2binpad(y, yb, 32);
    BN_free(x);
    BN_free(y);
    char *xs = b64url(xb, 32), *ys = b64url(yb, 32);
    /* RFC 7638: the members in lexicographic order, no spaces */
    a->jwk = moat_xasprintf("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", xs, ys);
    free(xs);
    free(ys);
    unsigned char d[32];
    EVP_Digest(a->jwk, strlen(a->jwk), d, NULL, EVP_sha256(), NULL);
    a->thumbprint = b64url(d, 32);
    return 0;
}

static char *es256(EVP_PKEY *key, const char *input)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[128];
    size_t derlen = sizeof(der);
    char *out = NULL;
    if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(md, der, &derlen, (const unsigned char *)input, strlen(input)) == 1) {
        const unsigned char *p = der;
        ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
        if (sig) {
            unsigned char raw[64];
            BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
            BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
            out = b64url(raw, 64);
            ECDSA_SIG_free(sig);
        }
    }
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return out;
}

static char *jws(const char *protected_json, const char *payload, EVP_PKEY *key)
{
    char *p64 = b64url_str(protected_json), *b64 = b64url_str(payload);
    char *input = moat_xasprintf("%s.%s", p64, b64);
    char *sig = es256(key, input);
    char *out =
        sig ? moat_xasprintf("{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", p64,
                             b64, sig)
            : NULL;
    free(p64);
    free(b64);
    free(input);
    free(sig);
    return out;
}

/* RFC 8555 7.3.4: the account key (JWK) signed with the EAB MAC key. */
static char *eab_binding(moat_acme *a, char **err)
{
    unsigned char mac_key[256];
    int klen = b64url_decode(a->eab_hmac, mac_key, sizeof(mac_key));
    if (klen <= 0) {
        *err = moat_xstrdup("tls.acme.eab_hmac is not base64url");
        return NULL;
    }
    json_t *prot =
        json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", a->eab_kid, "url", a->dir.new_account);
    char *pj = json_dumps(prot, JSON_COMPACT);
    json_decref(prot);
    char *p64 = b64url_str(pj), *b64 = b64url_str(a->jwk);
    char *input = moat_xasprintf("%s.%s", p64, b64);
    unsigned char mac[32];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), mac_key, klen, (const unsigned char *)input, strlen(input), mac, &maclen);
    OPENSSL_cleanse(mac_key, sizeof(mac_key));
    char *sig = b64url(mac, maclen);
    char *out = moat_xasprintf("{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}",
                               p64, b64, sig);
    free(pj);
    free(p64);
    free(b64);
    free(input);
    free(sig);
    return out;
}

static int fetch_nonce(moat_acme *a, char **err)
{
    response r;
    if (http(a, "HEAD", a->dir.new_nonce, NULL, &r, err) < 0) return MOAT_EIO;
    bool ok = r.nonce != NULL;
    response_free(&r);
    if (!ok) *err = moat_xstrdup("the CA gave no Replay-Nonce");
    return ok ? 0 : MOAT_EIO;
}

/* A signed POST (payload NULL: POST-as-GET). The account is named by its
 * key (jwk) until it has a URL (kid). badNonce answers are retried with the
 * nonce they carry (RFC 8555 6.5), a bounded number of times. */
static int post(moat_acme *a, const char *url, const char *payload, response *r, char **err)
{
    memset(r, 0, sizeof(*r)); /* freeable whatever happens */
    for (int attempt = 0;; attempt++) {
        if (!a->nonce && fetch_nonce(a, err) < 0) return MOAT_EIO;
        json_t *prot = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", a->nonce, "url", url);
        if (a->kid)
            json_object_set_new(prot, "kid", json_string(a->kid));
        else
            json_object_set_new(prot, "jwk", json_loads(a->jwk, 0, NULL));
        char *pj = json_dumps(prot, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(prot);
        free(a->nonce);
        a->nonce = NULL; /* each nonce is used once */
        char *body = jws(pj, payload ? payload : "", a->account);
        free(pj);
        if (!body) {
            *err = moat_xstrdup("cannot sign the request");
            return MOAT_EIO;
        }
        int rc = http(a, "POST", url, body, r, err);
        free(body);
        if (rc < 0) return rc;
        if (r->status == 400 && attempt < 10) {
            moat_acme_problem p;
            bool bad_nonce = false;
            if (moat_acme_parse_problem(r->body.data ? r->body.data : "", r->body.len, &p) == 0) {
                bad_nonce = strcmp(p.type, "badNonce") == 0;
                moat_acme_problem_free(&p);
            }
            if (bad_nonce) {
                response_free(r);
                continue;
            }
        }
        return 0;
    }
}

/* ---- the order ------------------------------------------------------------------ */

static int new_account(moat_acme *a, char **err)
{
    json_t *pl = json_pack("{s:b}", "termsOfServiceAgreed", 1);
    if (a->email[0]) {
        char *mailto = moat_xasprintf("mailto:%s", a->email);
        json_object_set_new(pl, "contact", json_pack("[s]", mailto));
        free(mailto);
    }
    if (a->eab_kid[0]) {
        char *eab = eab_binding(a, err);
        if (!eab) {
            json_decref(pl);
            return MOAT_EINVAL;
        }
        json_object_set_new(pl, "externalAccountBinding", json_loads(eab, 0, NULL));
        free(eab);
    } else if (a->dir.eab_required) {
        json_decref(pl);
        *err = moat_xstrdup("the CA requires external account binding: set tls.acme.eab_kid "
                            "and tls.acme.eab_hmac");
        return MOAT_EINVAL;
    }
    char *payload = json_dumps(pl, JSON_COMPACT);
    json_decref(pl);
    response r;
    int rc = post(a, a->dir.new_account, payload, &r, err);
    free(payload);
    if (rc < 0) return rc;
    if ((r.status != 200 && r.status != 201) || !r.location) {
        rc = problem(a, "account", &r, err);
    } else {
        a->kid = moat_xstrdup(r.location);
    }
    response_free(&r);
    return rc;
}

static int get_order(moat_acme *a, const char *url, moat_acme_order *o, char **err)
{
    response r;
    if (post(a, url, NULL, &r, err) < 0) return MOAT_EIO;
    int rc = r.status == 200
                 ? moat_acme_parse_order(r.body.data ? r.body.data : "", r.body.len, o, err)
                 : problem(a, "order", &r, err);
    response_free(&r);
    return rc;
}

/* Waits for the CA: Retry-After when it gave one, else 1 s then 2 s. */
static bool poll_wait(moat_acme *a, int i)
{
    uint64_t ms = a->retry_after > 0 ? (uint64_t)a->retry_after * 1000 : (i < 5 ? 500 : 2000);
    if (ms > 60000) ms = 60000;
    return nap(a, ms);
}

static int authorize(moat_acme *a, const char *url, char **err)
{
    bool alpn = strcmp(a->challenge, "tls-alpn-01") == 0;
    bool answered = false;
    for (int i = 0; i < POLL_TRIES; i++) {
        response r;
        if (post(a, url, NULL, &r, err) < 0) return MOAT_EIO;
        if (r.status != 200) {
            int rc = problem(a, "authorization", &r, err);
            response_free(&r);
            return rc;
        }
        moat_acme_authz az;
        int rc = moat_acme_parse_authz(r.body.data, r.body.len, a->challenge, &az, err);
        response_free(&r);
        if (rc < 0) return rc;
        if (az.status == MOAT_ACME_VALID) {
            moat_acme_authz_free(&az);
            return 0;
        }
        if (az.status == MOAT_ACME_INVALID || az.challenge_status == MOAT_ACME_INVALID) {
            *err = moat_xasprintf("%s for %s failed, %s", a->challenge, az.domain,
                                  az.error ? az.error : "the CA could not validate it");
            moat_acme_authz_free(&az);
            return MOAT_EIO;
        }
        if (!answered && az.challenge_status == MOAT_ACME_PENDING) {
            char *keyauth = moat_xasprintf("%s.%s", az.token, a->thumbprint);
            rc = moat__acme_answer_add(alpn, alpn ? az.domain : az.token, keyauth);
            free(keyauth);
            if (rc < 0) {
                *err = moat_xstrdup("cannot prepare the challenge answer");
                moat_acme_authz_free(&az);
                return rc;
            }
            rc = post(a, az.url, "{}", &r, err);
            if (rc == 0 && r.status != 200) rc = problem(a, "challenge", &r, err);
            response_free(&r);
            answered = true;
            if (rc < 0) {
                moat_acme_authz_free(&az);
                return rc;
            }
        }
        moat_acme_authz_free(&az);
        if (!poll_wait(a, i)) return MOAT_ECLOSED;
    }
    *err = moat_xasprintf("the CA did not decide the authorization in time (%s)", url);
    return MOAT_ETIMEOUT;
}

static char *csr_der_b64(moat_acme *a, EVP_PKEY *key)
{
    X509_REQ *req = X509_REQ_new();
    char *out = NULL;
    X509_REQ_set_version(req, 0);
    X509_REQ_set_pubkey(req, key);
    X509_NAME *name = X509_REQ_get_subject_name(req);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)a->domains[0], -1,
                               -1, 0);
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    for (size_t i = 0; i < a->ndomains; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
        ASN1_STRING_set(ia5, a->domains[i], -1);
        GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
        sk_GENERAL_NAME_push(gens, g);
    }
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
    GENERAL_NAMES_free(gens);
    if (ext) sk_X509_EXTENSION_push(exts, ext);
    if (ext && X509_REQ_add_extensions(req, exts) && X509_REQ_sign(req, key, EVP_sha256())) {
        unsigned char *der = NULL;
        int len = i2d_X509_REQ(req, &der);
        if (len > 0) out = b64url(der, (size_t)len);
        OPENSSL_free(der);
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    ERR_clear_error();
    return out;
}

static int write_private(const char *path, const char *data, size_t len, mode_t mode)
{
    char *tmp = moat_xasprintf("%s.new", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    int rc = fd < 0 ? MOAT_EIO : 0;
    if (fd >= 0) {
        if (fchmod(fd, mode) < 0) rc = MOAT_EIO;
        size_t off = 0;
        while (rc == 0 && off < len) {
            ssize_t w = write(fd, data + off, len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0)
                rc = MOAT_EIO;
            else
                off += (size_t)w;
        }
        if (rc == 0 && fsync(fd) < 0) rc = MOAT_EIO;
        if (close(fd) < 0) rc = MOAT_EIO;
    }
    if (rc == 0 && rename(tmp, path) < 0) rc = MOAT_EIO;
    if (rc < 0) unlink(tmp);
    free(tmp);
    return rc;
}

/* Checks the chain's first certificate belongs to key, then stores key and
 * chain (key first: a reload in between finds a mismatch and keeps what
 * it serves) and serves them. */
static int store(moat_acme *a, EVP_PKEY *key, const char *pem, size_t len, char **err)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    bool match = leaf && X509_check_private_key(leaf, key) == 1;
    X509_free(leaf);
    ERR_clear_error();
    if (!match) {
        *err = moat_xstrdup("the CA's certificate does not match the key moat sent");
        return MOAT_EIO;
    }
    BIO *kb = BIO_new(BIO_s_secmem());
    if (!kb) kb = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL);
    char *kdata;
    long klen = BIO_get_mem_data(kb, &kdata);
    int rc = write_private(a->paths.key, kdata, (size_t)klen, 0600);
    BIO_free(kb);
    if (rc == 0) rc = write_private(a->paths.cert, pem, len, 0644);
    if (rc < 0) {
        *err =
            moat_xasprintf("cannot store the certificate in %s: %s", a->paths.dir, strerror(errno));
        return rc;
    }
    char why[512];
    if (moat_tls_managed_set(a->paths.cert, a->paths.key, a->modern, why, sizeof(why)) < 0) {
        *err = moat_xasprintf("the new certificate does not load: %s", why);
        return MOAT_EIO;
    }
    return 0;
}

static void attempt_reset(moat_acme *a)
{
    moat_acme_directory_free(&a->dir);
    EVP_PKEY_free(a->account);
    a->account = NULL;
    free(a->jwk);
    free(a->thumbprint);
    free(a->kid);
    free(a->nonce);
    free(a->problem);
    a->jwk = a->thumbprint = a->kid = a->nonce = a->problem = NULL;
    a->retry_after = 0;
}

static int obtain(moat_acme *a, char **err)
{
    attempt_reset(a);
    if (mkdir(a->paths.dir, 0700) < 0 && errno != EEXIST) {
        *err = moat_xasprintf("cannot create %s: %s", a->paths.dir, strerror(errno));
        return MOAT_EIO;
    }
    response r;
    if (http(a, "GET", a->directory, NULL, &r, err) < 0) return MOAT_EIO;
    int rc = r.status == 200 ? moat_acme_parse_directory(r.body.data ? r.body.data : "", r.body.len,
                                                         &a->dir, err)
                             : problem(a, "directory", &r, err);
    response_free(&r);
    if (rc < 0) return rc;
    if ((rc = account_key(a, err)) < 0 || (rc = new_account(a, err)) < 0) return rc;

    json_t *ids = json_array();
    for (size_t i = 0; i < a->ndomains; i++)
        json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "dns", "value", a->domains[i]));
    json_t *pl = json_pack("{s:o}", "identifiers", ids);
    char *payload = json_dumps(pl, JSON_COMPACT);
    json_decref(pl);
    rc = post(a, a->dir.new_order, payload, &r, err);
    free(payload);
    if (rc < 0) return rc;
    moat_acme_order o;
    char *order_url = r.location ? moat_xstrdup(r.location) : NULL;
    if (r.status != 201 || !order_url)
        rc = problem(a, "new order", &r, err);
    else
        rc = moat_acme_parse_order(r.body.data ? r.body.data : "", r.body.len, &o, err);
    response_free(&r);
    if (rc < 0) {
        free(order_url);
        return rc;
    }
    for (size_t i = 0; rc == 0 && i < o.nauthorizations; i++)
        rc = authorize(a, o.authorizations[i], err);
    moat__acme_answers_clear();
    EVP_PKEY *key = NULL;
    for (int i = 0; rc == 0 && o.status != MOAT_ACME_VALID; i++) {
        if (o.status == MOAT_ACME_INVALID) {
            *err = moat_xasprintf("the CA refused the order: %s",
                                  o.error ? o.error : "no reason given");
            rc = MOAT_EIO;
            break;
        }
        if (o.status == MOAT_ACME_READY && !key) {
            key = EVP_EC_gen("P-256");
            char *csr = key ? csr_der_b64(a, key) : NULL;
            if (!csr) {
                *err = moat_xstrdup("cannot make the certificate request");
                rc = MOAT_EIO;
                break;
            }
            char *fin = moat_xasprintf("{\"csr\":\"%s\"}", csr);
            free(csr);
            rc = post(a, o.finalize, fin, &r, err);
            free(fin);
            if (rc == 0 && r.status != 200) rc = problem(a, "finalize", &r, err);
            response_free(&r);
            if (rc < 0) break;
        } else if (i >= POLL_TRIES) {
            *err = moat_xstrdup("the CA did not issue the certificate in time");
            rc = MOAT_ETIMEOUT;
            break;
        } else if (!poll_wait(a, i)) {
            rc = MOAT_ECLOSED;
            break;
        }
        moat_acme_order_free(&o);
        rc = get_order(a, order_url, &o, err);
        if (rc < 0) break;
    }
    free(order_url);
    if (rc == 0 && (!key || !o.certificate)) {
        *err = moat_xstrdup("the order became valid without moat's certificate request");
        rc = MOAT_EIO;
    }
    if (rc == 0) {
        rc = post(a, o.certificate, NULL, &r, err);
        if (rc == 0 && r.status != 200) rc = problem(a, "certificate download", &r, err);
        if (rc == 0) rc = store(a, key, r.body.data ? r.body.data : "", r.body.len, err);
        response_free(&r);
    }
    moat_acme_order_free(&o);
    EVP_PKEY_free(key);
    return rc;
}

/* ---- the thread ------------------------------------------------------------------ */

static void event(moat_acme *a, const char *name, moat_seclog_severity sev, const char *reason,
                  const moat_acme_certinfo *ci, int64_t next)
{
    char nb[32] = "", na[32] = "", nx[32] = "";
    moat_seclog_field f[4];
    size_t nf = 0;
    struct tm tm;
    time_t t;
    char *names = NULL;
    if (ci) {
        t = (time_t)ci->not_after;
        strftime(na, sizeof(na), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
        t = (time_t)ci->not_before;
        strftime(nb, sizeof(nb), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
        f[nf++] = (moat_seclog_field){"not_after", na};
        f[nf++] = (moat_seclog_field){"issuer", ci->issuer};
    }
    if (next) {
        t = (time_t)next;
        strftime(nx, sizeof(nx), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
        f[nf++] = (moat_seclog_field){"next_attempt", nx};
    }
    moat_buf b;
    moat_buf_init(&b);
    for (size_t i = 0; i < a->ndomains; i++)
        moat_buf_printf(&b, "%s%s", i ? "," : "", a->domains[i]);
    names = moat_buf_steal(&b);
    f[nf++] = (moat_seclog_field){"domains", names};
    moat_seclog_event ev = {.event = name,
                            .severity = sev,
                            .reason = reason,
                            .stage = "acme",
                            .config_key = "tls.acme",
                            .fields = f,
                            .nfields = nf};
    moat_seclog_record(a->log, &ev);
    free(names);
}

static void *run(void *arg)
{
    moat_acme *a = arg;
    unsigned failures = 0;
    while (!stopping(a)) {
        moat_acme_certinfo ci;
        bool have = moat_acme_cert_info(a->paths.cert, &ci) == 0;
        bool good = have && moat__acme_covers(&ci, a->domains, a->ndomains) &&
                    moat__acme_pair_ok(a->paths.cert, a->paths.key);
        bool asked = access(a->paths.renew, F_OK) == 0; /* moat cert renew */
        int64_t now = (int64_t)time(NULL);
        if (good && !asked && !a->revoked && now < moat_acme_renew_at(&ci)) {
            /* Revoked (OCSP): order a new one at once, as `moat cert renew`. */
            if (a->ocsp && moat__ocsp_poll(a->ocsp, &a->ocsp_cert) == MOAT_OCSP_REVOKED) {
                a->revoked = true;
                continue;
            }
            if (stopping(a)) break;
            /* Wake at least hourly: the wall clock may jump (suspend, NTP). */
            int64_t left = moat_acme_renew_at(&ci) - (int64_t)time(NULL);
            uint64_t wait = left > 3600 ? 3600 * 1000
                            : left > 0  ? (uint64_t)left * 1000 + 200
                                        : 200;
            if (a->ocsp && moat__ocsp_due_in(&a->ocsp_cert) + 50 < wait)
                wait = moat__ocsp_due_in(&a->ocsp_cert) + 50;
            if (!nap(a, wait)) break;
            continue;
        }
        moat_info("acme: %s the certificate for %s from %s", have ? "renewing" : "obtaining",
                  a->domains[0], a->directory);
        char *err = NULL;
        int rc = obtain(a, &err);
        moat__acme_answers_clear();
        if (rc == MOAT_ECLOSED || stopping(a)) { /* stopped mid-way: not a failure */
            free(err);
            break;
        }
        if (rc == 0) {
            failures = 0;
            bool was_revoked = a->revoked;
            a->revoked = false;
            if (asked) unlink(a->paths.renew);
            moat_acme_certinfo nci;
            moat_acme_cert_info(a->paths.cert, &nci);
            moat_info("acme: certificate for %s issued by %s, valid until %lld; served now",
                      a->domains[0], nci.issuer, (long long)nci.not_after);
            event(a, have ? "cert.renewed" : "cert.issued", MOAT_SECLOG_NOTICE,
                  was_revoked ? "a new certificate replaced the revoked one served"
                  : have      ? "a renewed certificate replaced the one served"
                              : "a certificate was obtained and is served",
                  &nci, moat_acme_renew_at(&nci));
            continue;
        }
        /* Backoff: retry * 2^failures, capped at a day, jittered +-20%,
         * never sooner than the CA asked (Retry-After, rateLimited). */
        uint64_t delay = a->retry_ms;
        for (unsigned i = 0; i < failures && delay < 86400000; i++)
            delay *= 2;
        if (delay > 86400000) delay = 86400000;
        failures++;
        uint32_t rnd;
        moat_random(&rnd, sizeof(rnd));
        delay = delay * 8 / 10 + (uint64_t)rnd % (delay * 4 / 10 + 1);
        if (a->retry_after > 0 && delay < (uint64_t)a->retry_after * 1000)
            delay = (uint64_t)a->retry_after * 1000;
        int64_t next = (int64_t)time(NULL) + (int64_t)(delay / 1000);
        const char *meanwhile =
            !have   ? "; HTTPS handshakes fail until a certificate is obtained"
            : !good ? "; the stored certificate does not match the key or the configured "
                      "names: it is served meanwhile only if it loaded"
            : ci.not_after <= now ? "; the served certificate has expired: clients refuse it "
                                    "until a new one is obtained"
            : a->revoked          ? "; the revoked certificate is still served meanwhile"
                                  : "; the current certificate is still served";
        char *reason = moat_xasprintf("%s%s", err ? err : "unknown error", meanwhile);
        moat_warn("acme: %s; next attempt in %llu s", reason, (unsigned long long)(delay / 1000));
        event(a, "cert.failed", MOAT_SECLOG_ERROR, reason, have ? &ci : NULL, next);
        free(reason);
        free(err);
        if (!nap(a, delay)) break;
    }
    attempt_reset(a);
    return NULL;
}

static bool ocsp_stopping(void *arg)
{
    return stopping(arg);
}

static int challenge_cb(const char *host, struct x509_st **cert, struct evp_pkey_st **key)
{
    return moat__acme_alpn_answer(host, cert, key);
}

void moat_acme_serve_stored(const moat_config *cfg, bool *had)
{
    moat_acme_paths p;
    moat_acme_paths_init(cfg, &p);
    char why[512];
    bool modern = moat_config_tls_profile(cfg) == MOAT_TLS_MODERN;
    *had = access(p.cert, F_OK) == 0 &&
           moat_tls_managed_set(p.cert, p.key, modern, why, sizeof(why)) == 0;
    if (!*had) {
        if (access(p.cert, F_OK) == 0)
            moat_warn("acme: the stored certificate %s does not load (%s): obtaining a new one",
                      p.cert, why);
        moat_tls_managed_set(NULL, NULL, modern, why, sizeof(why));
    }
    moat_tls_set_challenge(challenge_cb);
    moat_acme_paths_free(&p);
}

int moat_acme_start(const moat_config *cfg, moat_seclog *log, moat_acme **out, char **err)
{
    moat_acme *a = moat_xcalloc(1, sizeof(*a));
    if (moat__acme_load_curl(&a->cu, err) < 0 || !(a->h = a->cu.init())) {
        if (!*err) *err = moat_xstrdup("libcurl failed to start");
        if (a->cu.lib) dlclose(a->cu.lib);
        free(a);
        return MOAT_EIO;
    }
    const moat_strlist *d = cfg->tls.acme.domains.len ? &cfg->tls.acme.domains : &cfg->hosts;
    a->ndomains = d->len;
    a->domains = moat_xcalloc(d->len, sizeof(char *));
    for (size_t i = 0; i < d->len; i++)
        a->domains[i] = moat_xstrdup(d->items[i]);
    a->log = log;
    a->directory = moat_xstrdup(cfg->tls.acme.directory);
    a->email = moat_xstrdup(cfg->tls.acme.email);
    a->ca_bundle = moat_xstrdup(cfg->tls.acme.ca_bundle);
    a->challenge = moat_xstrdup(cfg->tls.acme.challenge);
    a->eab_kid = moat_xstrdup(cfg->tls.acme.eab_kid);
    a->eab_hmac = moat_xstrdup(cfg->tls.acme.eab_hmac);
    a->retry_ms = cfg->tls.acme.retry_ms;
    a->modern = moat_config_tls_profile(cfg) == MOAT_TLS_MODERN;
    moat_acme_paths_init(cfg, &a->paths);
    if (cfg->tls.ocsp) {
        a->ocsp = moat__ocsp_new(cfg, log, &a->cu, a->h, true, ocsp_stopping, a);
        a->ocsp_cert.path = moat_xstrdup(a->paths.cert);
    }
    moat__sleeper_init(&a->sleep);
    if (pthread_create(&a->thread, NULL, run, a) != 0) {
        *err = moat_xstrdup("cannot start the certificate thread");
        a->thread = 0;
        moat_acme_stop(a);
        return MOAT_EIO;
    }
    *out = a;
    return 0;
}

void moat_acme_wake(moat_acme *a)
{
    if (!a) return;
    moat__sleeper_wake(&a->sleep);
}

void moat_acme_stop(moat_acme *a)
{
    if (!a) return;
    moat__sleeper_stop(&a->sleep);
    if (a->thread) pthread_join(a->thread, NULL);
    moat__acme_answers_clear();
    attempt_reset(a);
    if (a->h) a->cu.cleanup(a->h);
    /* libcurl stays loaded: unloading it under OpenSSL's atexit handlers is
     * not safe. */
    for (size_t i = 0; i < a->ndomains; i++)
        free(a->domains[i]);
    free(a->domains);
    free(a->directory);
    free(a->email);
    free(a->ca_bundle);
    free(a->challenge);
    free(a->eab_kid);
    if (a->eab_hmac) OPENSSL_cleanse(a->eab_hmac, strlen(a->eab_hmac));
    free(a->eab_hmac);
    moat_acme_paths_free(&a->paths);
    moat__ocsp_free(a->ocsp);
    free(a->ocsp_cert.path);
    moat__sleeper_destroy(&a->sleep);
    free(a);
}
