/* tls.c - TLS termination with OpenSSL 3 over memory BIOs, so the event loop
 * owns the sockets and OpenSSL only transforms bytes: ciphertext in,
 * plaintext out, and the other way. One SSL_CTX per certificate; SNI picks
 * the one whose names cover the requested host. Profiles follow Mozilla's
 * "intermediate" (TLS 1.2 + 1.3) and "modern" (TLS 1.3 only) settings.
 *
 * Session ticket keys are process-wide, not per context: every worker and
 * every certificate uses them, and a reload (a new context) keeps them, so
 * tickets survive reloads. They live in one page kept out of core dumps and
 * swap, are made with RAND_priv_bytes, rotate lazily when the ticket
 * callback runs, and are erased two periods after they were made.
 *
 * OCSP answers are stapled from a process-wide table the certificate
 * threads fill (src/acme/ocsp.c); this file only hands them out. */
#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "net.h"

#define MAX_NAMES 64

typedef struct tls_cert {
    SSL_CTX *ctx;
    char *names[MAX_NAMES]; /* DNS names (lower case), owned */
    size_t nnames;
} tls_cert;

struct moat_tls_ctx {
    tls_cert *certs; /* certs[0] is the default */
    size_t ncerts;
    bool managed; /* serves the process-wide ACME certificate (see below) */
    bool http2;   /* ALPN offers h2 before http/1.1 (moat_tls_ctx_set_http2) */
};

struct moat_tls_conn {
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    bool failed;
};

static const char intermediate_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

static void ssl_error(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, errlen, "%s '%s': %s", what, path, e ? buf : "unknown error");
    ERR_clear_error();
}

static int acme_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                     const unsigned char *in, unsigned int inlen);

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    int acme = acme_alpn(ssl, out, outlen, in, inlen);
    if (acme >= 0) return acme;
    static const unsigned char http11[] = "\x08http/1.1";
    static const unsigned char h2_http11[] = "\x02h2\x08http/1.1"; /* ours first */
    const moat_tls_ctx *t = arg;
    bool h2 = t && t->http2;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, h2 ? h2_http11 : http11,
                              h2 ? sizeof(h2_http11) - 1 : sizeof(http11) - 1, in,
                              inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = sel;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK; /* no common protocol: carry on without ALPN */
}

static bool name_matches(const char *pattern, const char *host)
{
    if (strcasecmp(pattern, host) == 0) return true;
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(host, '.');
        return dot && dot != host && strcasecmp(pattern + 1, dot) == 0;
    }
    return false;
}

static int servername_cb(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    moat_tls_ctx *t = arg;
    const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!host) return SSL_TLSEXT_ERR_OK;
    for (size_t i = 0; i < t->ncerts; i++)
        for (size_t j = 0; j < t->certs[i].nnames; j++)
            if (name_matches(t->certs[i].names[j], host)) {
                if (i != 0) SSL_set_SSL_CTX(ssl, t->certs[i].ctx);
                return SSL_TLSEXT_ERR_OK;
            }
    return SSL_TLSEXT_ERR_OK; /* unknown name: the default certificate */
}

static void collect_names(tls_cert *c, X509 *x)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && c->nnames < MAX_NAMES; i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type == GEN_IPADD) {
            /* IP literals, so a certificate for 127.0.0.1 also allows Host 127.0.0.1 */
            const unsigned char *ip = ASN1_STRING_get0_data(g->d.iPAddress);
            int iplen = ASN1_STRING_length(g->d.iPAddress);
            char text[INET6_ADDRSTRLEN + 2];
            if (iplen == 4 && inet_ntop(AF_INET, ip, text, sizeof(text)))
                c->names[c->nnames++] = moat_xstrdup(text);
            else if (iplen == 16 && inet_ntop(AF_INET6, ip, text + 1, sizeof(text) - 2)) {
                text[0] = '[';
                size_t l = strlen(text);
                text[l] = ']';
                text[l + 1] = '\0';
                c->names[c->nnames++] = moat_xstrdup(text);
            }
            continue;
        }
        if (g->type != GEN_DNS) continue;
        const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
        int len = ASN1_STRING_length(g->d.dNSName);
        if (len <= 0 || memchr(d, '\0', (size_t)len)) continue;
        char *n = moat_xstrndup((const char *)d, (size_t)len);
        for (char *p = n; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        c->names[c->nnames++] = n;
    }
    GENERAL_NAMES_free(sans);
    if (c->nnames == 0) {
        /* No SAN: fall back to the subject's CN (old certificates). */
        char cn[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0)
            c->names[c->nnames++] = moat_xstrdup(cn);
    }
}

/* ---- session ticket keys ------------------------------------------------------ */

typedef struct ticket_key {
    unsigned char name[16]; /* sent in the clear in every ticket: picks the key */
    unsigned char aes[32];  /* AES-256-CBC */
    unsigned char hmac[32]; /* HMAC-SHA256 */
    uint64_t born_ms;       /* moat_now_ms() when made; 0: no key */
} ticket_key;

typedef struct ticket_keys {
    ticket_key cur, prev; /* cur encrypts; both decrypt */
} ticket_keys;

static pthread_mutex_t tickets_lock = PTHREAD_MUTEX_INITIALIZER;
static ticket_keys *tickets;   /* one page, under tickets_lock */
static bool tickets_on = true; /* set before the contexts are made */
static uint64_t tickets_period_ms = 12 * 3600 * 1000;
uint64_t (*moat_tls__ticket_clock)(void) = moat_now_ms;

void moat_tls_tickets_configure(bool enabled, uint64_t rotation_ms)
{
    MOAT_BUG_ON(rotation_ms == 0);
    pthread_mutex_lock(&tickets_lock);
    tickets_on = enabled;
    tickets_period_ms = rotation_ms;
    pthread_mutex_unlock(&tickets_lock);
}

static void key_new(ticket_key *k, uint64_t now)
{
    /* A failing CSPRNG must not yield a guessable key: stop (fail closed). */
    MOAT_BUG_ON(RAND_bytes(k->name, sizeof(k->name)) != 1);
    MOAT_BUG_ON(RAND_priv_bytes(k->aes, sizeof(k->aes)) != 1);
    MOAT_BUG_ON(RAND_priv_bytes(k->hmac, sizeof(k->hmac)) != 1);
    k->born_ms = now ? now : 1;
}

static void key_erase(ticket_key *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

/* Brings the keys up to date at time now; tickets_lock held. A key encrypts
 * for one period after it was made and decrypts for two; whatever the gaps
 * between calls, no key outlives that. */
static void tickets_rotate(uint64_t now)
{
    if (!tickets) {
        _Static_assert(sizeof(ticket_keys) <= 4096, "ticket keys fit one page");
        void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        MOAT_BUG_ON(page == MAP_FAILED);
        (void)madvise(page, 4096, MADV_DONTDUMP); /* best effort: not in core dumps */
        (void)mlock(page, 4096);                  /* best effort: not in swap */
        tickets = page;
    }
    uint64_t p = tickets_period_ms;
    ticket_key *cur = &tickets->cur, *prev = &tickets->prev;
    if (prev->born_ms && now - prev->born_ms >= 2 * p) key_erase(prev);
    if (!cur->born_ms || now - cur->born_ms >= 2 * p) {
        key_erase(prev);
        key_erase(cur);
        key_new(cur, now);
    } else if (now - cur->born_ms >= p) {
        *prev = *cur;
        key_new(cur, now);
    }
}

/* Encrypts a new ticket (enc = 1) or finds the key of a ticket (enc = 0):
 * 1 ok, 2 ok but renew the ticket (made with the previous key), 0 unknown
 * key (full handshake), -1 error. Called on any worker thread. */
static int ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    (void)ssl;
    ticket_key k;
    int rc = 1;
    pthread_mutex_lock(&tickets_lock);
    tickets_rotate(moat_tls__ticket_clock());
    if (enc) {
        k = tickets->cur;
    } else if (memcmp(key_name, tickets->cur.name, 16) == 0) {
        k = tickets->cur;
    } else if (tickets->prev.born_ms && memcmp(key_name, tickets->prev.name, 16) == 0) {
        k = tickets->prev;
        rc = 2;
    } else {
        rc = 0;
    }
    pthread_mutex_unlock(&tickets_lock);
    if (rc == 0) return 0;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof(k.hmac)),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
    const EVP_CIPHER *aes = EVP_aes_256_cbc();
    if (enc) {
        memcpy(key_name, k.name, 16);
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) != 1 ||
            EVP_EncryptInit_ex(cctx, aes, NULL, k.aes, iv) != 1)
            rc = -1;
    } else if (EVP_DecryptInit_ex(cctx, aes, NULL, k.aes, iv) != 1) {
        rc = -1;
    }
    if (rc > 0 && EVP_MAC_CTX_set_params(hctx, params) != 1) rc = -1;
    OPENSSL_cleanse(&k, sizeof(k));
    return rc;
}

static void tickets_setup(SSL_CTX *ctx)
{
    pthread_mutex_lock(&tickets_lock);
    bool on = tickets_on;
    pthread_mutex_unlock(&tickets_lock);
    if (!on) {
        /* TLS 1.2: no tickets, session ids from the cache; TLS 1.3: the
         * tickets carry only a cache id ("stateful"), nothing encrypted. */
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        return;
    }
    MOAT_BUG_ON(SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1);
}

/* ---- OCSP stapling -------------------------------------------------------------
 * The certificate threads (src/acme) put each served certificate's latest
 * good OCSP answer here, keyed by the leaf's SHA-256; a handshake that asks
 * for the status (status_request) gets a copy while it is within its
 * nextUpdate. Contexts come and go with reloads; the answers do not. */

#define MAX_STAPLES 64

typedef struct staple {
    unsigned char fp[32];
    unsigned char *der;
    size_t len;
    int64_t until; /* Unix seconds: the answer's nextUpdate */
} staple;

static pthread_mutex_t staples_lock = PTHREAD_MUTEX_INITIALIZER;
static staple staples[MAX_STAPLES]; /* under staples_lock */
static size_t nstaples;

void moat_tls_staple_set(const unsigned char fp[32], const unsigned char *der, size_t len,
                         int64_t until)
{
    unsigned char *copy = der ? moat_xmalloc(len) : NULL;
    if (der) memcpy(copy, der, len);
    pthread_mutex_lock(&staples_lock);
    size_t i = 0;
    while (i < nstaples && memcmp(staples[i].fp, fp, 32) != 0)
        i++;
    unsigned char *old = i < nstaples ? staples[i].der : NULL;
    if (!der) {
        if (i < nstaples) staples[i] = staples[--nstaples];
    } else if (i < nstaples || nstaples < MAX_STAPLES) {
        if (i == nstaples) nstaples++;
        staples[i] = (staple){.der = copy, .len = len, .until = until};
        memcpy(staples[i].fp, fp, 32);
        copy = NULL;
    }
    pthread_mutex_unlock(&staples_lock);
    free(old);
    free(copy);
}

static int status_cb(SSL *ssl, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&staples_lock);
    bool any = nstaples > 0;
    pthread_mutex_unlock(&staples_lock);
    X509 *x = SSL_get_certificate(ssl);
    unsigned char fp[32];
    unsigned int n = 0;
    if (!any || !x || X509_digest(x, EVP_sha256(), fp, &n) != 1 || n != 32) {
        ERR_clear_error();
        return SSL_TLSEXT_ERR_NOACK;
    }
    unsigned char *copy = NULL;
    size_t len = 0;
    int64_t now = (int64_t)time(NULL);
    pthread_mutex_lock(&staples_lock);
    for (size_t i = 0; i < nstaples; i++)
        if (memcmp(staples[i].fp, fp, 32) == 0 && now < staples[i].until) {
            copy = OPENSSL_memdup(staples[i].der, staples[i].len);
            len = staples[i].len;
            break;
        }
    pthread_mutex_unlock(&staples_lock);
    if (!copy) return SSL_TLSEXT_ERR_NOACK;
    if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)len) != 1) { /* OpenSSL owns copy */
        OPENSSL_free(copy);
        ERR_clear_error();
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

static int load_cert(moat_tls_ctx *t, tls_cert *c, const char *cert, const char *key, bool modern,
                     char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ssl_error(err, errlen, "cannot create a TLS context for", cert);
        return MOAT_EIO;
    }
    c->ctx = ctx;
    SSL_CTX_set_min_proto_version(ctx, modern ? TLS1_3_VERSION : TLS1_2_VERSION);
    /* Mozilla: no server cipher preference (clients pick what is fast for
     * them among strong suites); no compression (CRIME); no renegotiation. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (!modern && SSL_CTX_set_cipher_list(ctx, intermediate_ciphers) != 1) {
        ssl_error(err, errlen, "cipher list rejected for", cert);
        return MOAT_EIO;
    }
    SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384");
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    static const unsigned char sid[] = "moat";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, t);
    SSL_CTX_set_tlsext_servername_callback(ctx, servername_cb);
    SSL_CTX_set_tlsext_servername_arg(ctx, t);
    SSL_CTX_set_dh_auto(ctx, 1);
    SSL_CTX_set_tlsext_status_cb(ctx, status_cb); /* OCSP stapling, see above */
    tickets_setup(ctx);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        ssl_error(err, errlen, "cannot load certificate", cert);
        return MOAT_EIO;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ssl_error(err, errlen, "cannot load private key", key);
        return MOAT_EIO;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "private key '%s' does not match certificate '%s'", key, cert);
        ERR_clear_error();
        return MOAT_EIO;
    }
    collect_names(c, SSL_CTX_get0_certificate(ctx));
    return 0;
}

int moat_tls_ctx_new(char *const *certs, char *const *keys, size_t n, bool modern,
                     moat_tls_ctx **out, char *err, size_t errlen)
{
    moat_tls_ctx *t = moat_xcalloc(1, sizeof(*t));
    t->certs = moat_xcalloc(n ? n : 1, sizeof(*t->certs));
    for (size_t i = 0; i < n; i++) {
        t->ncerts++;
        if (load_cert(t, &t->certs[i], certs[i], keys[i], modern, err, errlen) < 0) {
            moat_tls_ctx_free(t);
            return MOAT_EIO;
        }
    }
    *out = t;
    return 0;
}

void moat_tls_ctx_free(moat_tls_ctx *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->ncerts; i++) {
        SSL_CTX_free(t->certs[i].ctx);
        for (size_t j = 0; j < t->certs[i].nnames; j++)
            free(t->certs[i].names[j]);
    }
    free(t->certs);
    free(t);
}

size_t moat_tls_ctx_names(const moat_tls_ctx *t, const char **names, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < t->ncerts; i++)
        for (size_t j = 0; j < t->certs[i].nnames && k < max; j++)
            names[k++] = t->certs[i].names[j];
    return k;
}

static SSL *managed_ssl_new(void);

moat_tls_conn *moat_tls_conn_new(moat_tls_ctx *t)
{
    moat_tls_conn *c = moat_xcalloc(1, sizeof(*c));
    c->ssl = t->managed ? managed_ssl_new() : SSL_new(t->certs[0].ctx);
    MOAT_BUG_ON(!c->ssl);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    MOAT_BUG_ON(!c->rbio || !c->wbio);
    BIO_set_mem_eof_return(c->rbio, -1);
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_accept_state(c->ssl);
    return c;
}

void moat_tls_conn_free(moat_tls_conn *c)
{
    if (!c) return;
    SSL_free(c->ssl);
    free(c);
}

static bool acme_only(const moat_tls_conn *c);

static void drain(moat_tls_conn *c, moat_buf *send)
{
    char buf[16384];
    int n;
    while ((n = BIO_read(c->wbio, buf, sizeof(buf))) > 0)
        moat_buf_append(send, buf, (size_t)n);
}

int moat_tls_conn_feed(moat_tls_conn *c, const char *cipher, size_t n, moat_buf *plain,
                       moat_buf *send)
{
    if (c->failed) return MOAT_EIO;
    while (n > 0) {
        int w = BIO_write(c->rbio, cipher, n > INT32_MAX ? INT32_MAX : (int)n);
        if (w <= 0) return MOAT_EIO;
        cipher += w;
        n -= (size_t)w;
    }
    for (;;) {
        moat_buf_reserve(plain, 16384);
        int r = SSL_read(c->ssl, plain->data + plain->len, 16384);
        if (r > 0 && acme_only(c)) continue; /* RFC 8737: no application data */
        if (r > 0) {
            plain->len += (size_t)r;
            plain->data[plain->len] = '\0';
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        drain(c, send);
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && acme_only(c) &&
            SSL_is_init_finished(c->ssl)) {
            /* The validation handshake is all there is: close it. */
            SSL_shutdown(c->ssl);
            drain(c, send);
            ERR_clear_error();
            return MOAT_ECLOSED;
        }
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
        if (e == SSL_ERROR_ZERO_RETURN) return MOAT_ECLOSED;
        c->failed = true;
        ERR_clear_error();
        return MOAT_EIO;
    }
}

int moat_tls_conn_write(moat_tls_conn *c, const char *plain, size_t n, moat_buf *send)
{
    if (c->failed) return MOAT_EIO;
    while (n > 0) {
        int chunk = n > 65536 ? 65536 : (int)n;
        int w = SSL_write(c->ssl, plain, chunk);
        if (w <= 0) {
            c->failed = true;
            ERR_clear_error();
            return MOAT_EIO;
        }
        plain += w;
        n -= (size_t)w;
        drain(c, send);
    }
    return 0;
}

void moat_tls_conn_shutdown(moat_tls_conn *c, moat_buf *send)
{
    if (c->failed || !SSL_is_init_finished(c->ssl)) return;
    SSL_shutdown(c->ssl);
    drain(c, send);
    ERR_clear_error();
}

bool moat_tls_conn_ready(const moat_tls_conn *c)
{
    return SSL_is_init_finished(c->ssl);
}

/* ---- the managed (ACME) certificate ------------------------------------------
 * One certificate for the whole process, obtained and renewed by src/acme on
 * its own thread: a new one is swapped in under a lock, and each new
 * connection takes a reference to whatever is current, so connections in
 * flight keep the old one and no reload is needed. Until a first certificate
 * exists the context has none: ordinary handshakes fail (no certificate to
 * offer), and only TLS-ALPN-01 validations (acme-tls/1) complete. */

static pthread_mutex_t managed_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *managed_ctx;     /* under managed_lock */
static moat_tls_ctx managed_sni; /* no certificates of its own: SNI keeps the default */
static moat_tls_challenge_fn challenge_fn;
static const unsigned char acme_tls1[] = "\x0a"
                                         "acme-tls/1";

static int acme_hello(SSL *ssl, int *alert, void *arg);

static SSL_CTX *bare_ctx_new(bool modern)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    MOAT_BUG_ON(!ctx);
    SSL_CTX_set_min_proto_version(ctx, modern ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, &managed_sni);
    SSL_CTX_set_client_hello_cb(ctx, acme_hello, NULL);
    return ctx;
}

int moat_tls_managed_set(const char *cert, const char *key, bool modern, char *err, size_t errlen)
{
    SSL_CTX *ctx;
    if (cert) {
        tls_cert c = {0};
        int rc = load_cert(&managed_sni, &c, cert, key, modern, err, errlen);
        for (size_t j = 0; j < c.nnames; j++)
            free(c.names[j]);
        if (rc < 0) {
            SSL_CTX_free(c.ctx);
            return rc;
        }
        ctx = c.ctx;
        SSL_CTX_set_client_hello_cb(ctx, acme_hello, NULL);
    } else {
        ctx = bare_ctx_new(modern);
    }
    pthread_mutex_lock(&managed_lock);
    SSL_CTX *old = managed_ctx;
    managed_ctx = ctx;
    pthread_mutex_unlock(&managed_lock);
    SSL_CTX_free(old); /* connections made with it hold their own references */
    return 0;
}

int moat_tls_ctx_new_managed(moat_tls_ctx **out)
{
    pthread_mutex_lock(&managed_lock);
    bool ready = managed_ctx != NULL;
    pthread_mutex_unlock(&managed_lock);
    if (!ready) return MOAT_EINVAL;
    moat_tls_ctx *t = moat_xcalloc(1, sizeof(*t));
    t->certs = moat_xcalloc(1, sizeof(*t->certs));
    t->managed = true;
    *out = t;
    return 0;
}

void moat_tls_set_challenge(moat_tls_challenge_fn fn)
{
    pthread_mutex_lock(&managed_lock);
    challenge_fn = fn;
    pthread_mutex_unlock(&managed_lock);
}

static SSL *managed_ssl_new(void)
{
    pthread_mutex_lock(&managed_lock);
    SSL *ssl = SSL_new(managed_ctx);
    pthread_mutex_unlock(&managed_lock);
    return ssl;
}

/* RFC 8737: a client offering acme-tls/1 is the CA validating a name; it
 * gets the challenge certificate for that name and nothing else. The
 * certificate must be in place before OpenSSL picks the signature
 * algorithm, which comes before the ALPN callback: so it is set from the
 * raw ClientHello here, and the ALPN callback (acme_alpn) only agrees. */
static int acme_ex;
static pthread_once_t acme_ex_once = PTHREAD_ONCE_INIT;

static void acme_ex_init(void)
{
    acme_ex = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    MOAT_BUG_ON(acme_ex < 0);
}

/* The SSL ex_data slot marking a TLS-ALPN-01 validation handshake. */
static int acme_ex_index(void)
{
    pthread_once(&acme_ex_once, acme_ex_init);
    return acme_ex;
}

static bool offers_acme(SSL *ssl)
{
    const unsigned char *p;
    size_t n;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
                                   &n) ||
        n < 2 || (size_t)((p[0] << 8) | p[1]) != n - 2)
        return false;
    for (size_t i = 2; i < n;) {
        size_t l = p[i];
        if (i + 1 + l > n) return false;
        if (l == sizeof(acme_tls1) - 2 && memcmp(p + i + 1, acme_tls1 + 1, l) == 0) return true;
        i += 1 + l;
    }
    return false;
}

/* The host_name of the server_name extension, NUL-terminated into out. */
static bool hello_sni(SSL *ssl, char *out, size_t outlen)
{
    const unsigned char *p;
    size_t n;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &n) || n < 5) return false;
    size_t list = (size_t)((p[0] << 8) | p[1]);
    size_t len = (size_t)((p[3] << 8) | p[4]);
    if (list != n - 2 || p[2] != TLSEXT_NAMETYPE_host_name || 5 + len > n || len == 0 ||
        len >= outlen || memchr(p + 5, '\0', len))
        return false;
    memcpy(out, p + 5, len);
    out[len] = '\0';
    return true;
}

static int acme_hello(SSL *ssl, int *alert, void *arg)
{
    (void)arg;
    if (!offers_acme(ssl)) return SSL_CLIENT_HELLO_SUCCESS;
    pthread_mutex_lock(&managed_lock);
    moat_tls_challenge_fn fn = challenge_fn;
    pthread_mutex_unlock(&managed_lock);
    char host[256];
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    if (!fn || !hello_sni(ssl, host, sizeof(host)) || fn(host, &x, &k) < 0) {
        *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
        return SSL_CLIENT_HELLO_ERROR;
    }
    int ok = SSL_use_certificate(ssl, x) == 1 && SSL_use_PrivateKey(ssl, k) == 1;
    X509_free(x);
    EVP_PKEY_free(k);
    if (!ok) {
        ERR_clear_error();
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    SSL_set_ex_data(ssl, acme_ex_index(), (void *)acme_tls1);
    return SSL_CLIENT_HELLO_SUCCESS;
}

static int acme_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                     const unsigned char *in, unsigned int inlen)
{
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, acme_tls1, sizeof(acme_tls1) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return -1;
    /* only where acme_hello put the challenge certificate in place */
    if (!SSL_get_ex_data(ssl, acme_ex_index())) return -1;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static bool acme_only(const moat_tls_conn *c)
{
    if (!SSL_get_ex_data(c->ssl, acme_ex_index())) return false;
    const unsigned char *p;
    unsigned int n;
    SSL_get0_alpn_selected(c->ssl, &p, &n);
    return n == sizeof(acme_tls1) - 2 && memcmp(p, acme_tls1 + 1, n) == 0;
}

void moat_tls_ctx_set_http2(moat_tls_ctx *t, bool on)
{
    t->http2 = on;
    /* the managed certificate's SSL_CTX calls alpn_select with &managed_sni */
    if (t->managed) managed_sni.http2 = on;
}

bool moat_tls_conn_h2(const moat_tls_conn *c)
{
    const unsigned char *p = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(c->ssl, &p, &n);
    return n == 2 && memcmp(p, "h2", 2) == 0;
}
