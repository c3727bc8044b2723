/* test_tls.c - unit tests of TLS session tickets (src/net/tls.c): a client
 * SSL in memory talks to moat_tls_conn, and the clock ticket rotation reads
 * is replaced, so every step of the key schedule is checked exactly: a
 * ticket resumes while its key is current, resumes (and is renewed) for one
 * period after that, and is refused from two periods after its key's birth.
 * Also OCSP stapling: the staple table reaches the handshakes that ask. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../test_helpers.h"
#include "net/net.h"

#define PERIOD 10000u /* ms */

static uint64_t fake_now = 1000000;
static uint64_t fake_clock(void)
{
    return fake_now;
}

typedef struct fixture {
    moat_test_dir tmp;
    char cert[96], key[96];
    moat_tls_ctx *server;
    SSL_CTX *client;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f || moat_test_dir_make(&f->tmp, "tls-test", false) < 0) {
        free(f);
        return -1;
    }
    snprintf(f->cert, sizeof(f->cert), "%s/c.pem", f->tmp.dir);
    snprintf(f->key, sizeof(f->key), "%s/k.pem", f->tmp.dir);
    char *names[] = {"localhost"};
    char err[256];
    if (moat_cert_selfsigned(f->cert, f->key, names, 1, 1, err, sizeof(err)) < 0) return -1;
    moat_tls__ticket_clock = fake_clock;
    moat_tls_tickets_configure(true, PERIOD);
    char *certs[] = {f->cert}, *keys[] = {f->key};
    if (moat_tls_ctx_new(certs, keys, 1, false, &f->server, err, sizeof(err)) < 0) return -1;
    f->client = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(f->client, SSL_VERIFY_NONE, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    moat_tls_ctx_free(f->server);
    SSL_CTX_free(f->client);
    moat_test_dir_remove(&f->tmp);
    free(f);
    return 0;
}

/* Bytes waiting in a memory BIO, appended to b. */
static void take(BIO *bio, moat_buf *b)
{
    char buf[16384];
    int n;
    while ((n = BIO_read(bio, buf, sizeof(buf))) > 0)
        moat_buf_append(b, buf, (size_t)n);
}

/* A full connection (handshake, one byte each way so TLS 1.3 tickets
 * arrive) with the given session offered; returns the client's session
 * (owned) and whether it was reused. */
static bool want_status; /* the client asks for the OCSP staple ... */
static moat_buf stapled; /* ... and what it got lands here */

static SSL_SESSION *connect_once(fixture *f, int version, SSL_SESSION *offer, bool *reused)
{
    SSL *c = SSL_new(f->client);
    SSL_set_min_proto_version(c, version);
    SSL_set_max_proto_version(c, version);
    SSL_set_tlsext_host_name(c, "localhost");
    if (want_status) SSL_set_tlsext_status_type(c, TLSEXT_STATUSTYPE_ocsp);
    BIO *crd = BIO_new(BIO_s_mem()), *cwr = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(crd, -1);
    SSL_set_bio(c, crd, cwr);
    if (offer) assert_int_equal(SSL_set_session(c, offer), 1);
    SSL_set_connect_state(c);
    moat_tls_conn *s = moat_tls_conn_new(f->server);
    moat_buf plain, send, wire;
    moat_buf_init(&plain);
    moat_buf_init(&send);
    moat_buf_init(&wire);
    bool sent = false;
    char got = 0;
    for (int round = 0; round < 20; round++) {
        if (!sent && SSL_is_init_finished(c)) {
            assert_int_equal(SSL_write(c, "x", 1), 1);
            sent = true;
        } else if (!SSL_is_init_finished(c)) {
            SSL_do_handshake(c);
        }
        moat_buf_reset(&wire);
        take(cwr, &wire);
        if (wire.len)
            assert_int_equal(moat_tls_conn_feed(s, wire.data, wire.len, &plain, &send), 0);
        if (plain.len && send.len == 0) {
            assert_int_equal(moat_tls_conn_write(s, "y", 1, &send), 0);
            moat_buf_reset(&plain);
        }
        if (send.len) {
            BIO_write(crd, send.data, (int)send.len);
            moat_buf_reset(&send);
        }
        if (SSL_is_init_finished(c) && SSL_read(c, &got, 1) == 1) break;
    }
    assert_int_equal(got, 'y');
    *reused = SSL_session_reused(c);
    if (want_status) {
        const unsigned char *p = NULL;
        long n = SSL_get_tlsext_status_ocsp_resp(c, &p);
        moat_buf_reset(&stapled);
        if (p && n > 0) moat_buf_append(&stapled, (const char *)p, (size_t)n);
    }
    SSL_SESSION *sess = SSL_get1_session(c);
    SSL_shutdown(c); /* freed without it, the client's session is not resumable */
    moat_tls_conn_free(s);
    SSL_free(c);
    moat_buf_free(&plain);
    moat_buf_free(&send);
    moat_buf_free(&wire);
    return sess;
}

static void schedule(void **state, int version)
{
    fixture *f = *state;
    bool reused;
    fake_now += 10 * PERIOD; /* whatever came before, a fresh key now */
    uint64_t t0 = fake_now;
    SSL_SESSION *s0 = connect_once(f, version, NULL, &reused);
    assert_false(reused);
    assert_true(SSL_SESSION_has_ticket(s0));

    /* current key: resumes */
    fake_now = t0 + PERIOD - 1;
    SSL_SESSION *s1 = connect_once(f, version, s0, &reused);
    assert_true(reused);
    SSL_SESSION_free(s1);

    /* past one period (the next connection comes late): a new key; the old
     * one still opens s0 (and renews it) */
    fake_now = t0 + PERIOD + PERIOD / 2;
    s1 = connect_once(f, version, s0, &reused);
    assert_true(reused);
    SSL_SESSION_free(s1);
    fake_now = t0 + 2 * PERIOD - 1;
    s1 = connect_once(f, version, s0, &reused);
    assert_true(reused);
    SSL_SESSION_free(s1);

    /* two periods after its key was made: erased, full handshake */
    fake_now = t0 + 2 * PERIOD;
    s1 = connect_once(f, version, s0, &reused);
    assert_false(reused);
    SSL_SESSION_free(s0);

    /* a long idle gap: both keys go at once, never one kept past its time */
    fake_now += PERIOD / 2;
    s0 = connect_once(f, version, s1, &reused); /* s1's key is current: resumes */
    assert_true(reused);
    SSL_SESSION_free(s0);
    fake_now += 5 * PERIOD;
    s0 = connect_once(f, version, s1, &reused);
    assert_false(reused);
    SSL_SESSION_free(s0);
    SSL_SESSION_free(s1);
}

static void test_ticket_schedule_tls12(void **state)
{
    schedule(state, TLS1_2_VERSION);
}

static void test_ticket_schedule_tls13(void **state)
{
    schedule(state, TLS1_3_VERSION);
}

/* OCSP stapling (moat_tls_staple_set): what the table holds for the served
 * leaf goes to clients that ask, only while it is valid, and only for that
 * leaf. The bytes are opaque to the TLS layer (src/acme verifies them). */
static size_t staple_once(fixture *f, int version)
{
    bool reused;
    want_status = true;
    SSL_SESSION *sess = connect_once(f, version, NULL, &reused);
    want_status = false;
    SSL_SESSION_free(sess);
    return stapled.len;
}

static void staples(void **state, int version)
{
    fixture *f = *state;
    FILE *cf = fopen(f->cert, "r");
    assert_non_null(cf);
    X509 *x = PEM_read_X509(cf, NULL, NULL, NULL);
    fclose(cf);
    assert_non_null(x);
    unsigned char fp[32], other[32];
    unsigned int n = 0;
    assert_int_equal(X509_digest(x, EVP_sha256(), fp, &n), 1);
    X509_free(x);
    memcpy(other, fp, 32);
    other[0] ^= 1;
    moat_buf_init(&stapled);
    static const unsigned char answer[] = "an OCSP answer";
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(staple_once(f, version), 0); /* nothing yet */
    moat_tls_staple_set(other, answer, sizeof(answer), now + 3600);
    assert_int_equal(staple_once(f, version), 0); /* another certificate's */
    moat_tls_staple_set(fp, answer, sizeof(answer), now + 3600);
    assert_int_equal(staple_once(f, version), sizeof(answer));
    assert_memory_equal(stapled.data, answer, sizeof(answer));
    moat_tls_staple_set(fp, answer, sizeof(answer), now - 1); /* past its nextUpdate */
    assert_int_equal(staple_once(f, version), 0);
    moat_tls_staple_set(fp, answer, sizeof(answer), now + 3600);
    moat_tls_staple_set(fp, NULL, 0, 0); /* removed (revoked) */
    assert_int_equal(staple_once(f, version), 0);
    moat_tls_staple_set(other, NULL, 0, 0);
    moat_buf_free(&stapled);
}

static void test_staple_tls12(void **state)
{
    staples(state, TLS1_2_VERSION);
}

static void test_staple_tls13(void **state)
{
    staples(state, TLS1_3_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticket_schedule_tls12),
        cmocka_unit_test(test_ticket_schedule_tls13),
        cmocka_unit_test(test_staple_tls12),
        cmocka_unit_test(test_staple_tls13),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
