/* test_conn.c - the connection layer (src/net/conn.c) on a real loop over
 * real loopback sockets: corked writes arrive as one stream, a peer that
 * does not read makes the writer congested and then drained, closing is
 * once and last, and a connect that fails before it starts never calls
 * back. Bounded: every transfer has a fixed size, the loop ends when no
 * handle is left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/conn.h"

#define BIG (16u * 1024 * 1024) /* well over MOAT_CONN_WRITE_HIGH and what sockets buffer */

typedef struct pair {
    uv_loop_t loop;
    uv_tcp_t listener;
    uint16_t port;
    moat_conn cli, srv;
    bool accepted;
    int connected_status, connected_calls;
    char peer[64];
    uint16_t local_port;
    size_t srv_got; /* bytes the server read */
    char first[16]; /* the first bytes it read */
    size_t cli_got; /* bytes the client read */
    bool congested; /* the server's writes were congested at some point */
    bool drained;   /* ...and drained again */
    int srv_eof, closed_cli, closed_srv;
    char *big;
} pair;

static void on_closed(moat_conn *c)
{
    pair *p = c->owner;
    if (c == &p->cli)
        p->closed_cli++;
    else
        p->closed_srv++;
}

static void srv_written(moat_conn *c, int status)
{
    pair *p = c->owner;
    assert_int_equal(status, 0);
    if (p->congested && moat_conn_drained(c)) p->drained = true;
}

static void srv_read(moat_conn *c, int status)
{
    pair *p = c->owner;
    if (status < 0) { /* the client closed: K2 */
        p->srv_eof++;
        moat_conn_close(c);
        assert_int_equal(moat_conn_write(c, &(uv_buf_t){.base = (char *)"x", .len = 1}, 1),
                         MOAT_ECLOSED); /* K5 */
        return;
    }
    size_t room = sizeof(p->first) - 1 - p->srv_got;
    if (p->srv_got < sizeof(p->first) - 1)
        memcpy(p->first + p->srv_got, c->in.data, c->in.len < room ? c->in.len : room);
    p->srv_got += c->in.len;
    moat_buf_reset(&c->in);
    if (p->srv_got < 11) return;
    /* The whole greeting is in: answer with more than the watermark. */
    uv_buf_t b = uv_buf_init(p->big, BIG);
    assert_int_equal(moat_conn_write(c, &b, 1), 0);
    p->congested = moat_conn_congested(c);
}

static void cli_read(moat_conn *c, int status)
{
    pair *p = c->owner;
    assert_int_equal(status, 0);
    p->cli_got += c->in.len;
    moat_buf_reset(&c->in);
    if (p->cli_got == BIG) moat_conn_close(c);
}

static void cli_written(moat_conn *c, int status)
{
    (void)c;
    assert_int_equal(status, 0);
}

static void cli_connected(moat_conn *c, int status)
{
    pair *p = c->owner;
    p->connected_calls++;
    p->connected_status = status;
    assert_int_equal(status, 0);
    /* K6: two writes while corked leave as one. */
    moat_conn_cork(c);
    assert_int_equal(moat_conn_write(c, &(uv_buf_t){.base = (char *)"hello ", .len = 6}, 1), 0);
    assert_int_equal(moat_conn_write(c, &(uv_buf_t){.base = (char *)"world", .len = 5}, 1), 0);
    assert_int_equal(c->out.len, 11);
    assert_int_equal(moat_conn_uncork(c), 0);
    assert_int_equal(c->out.len, 0);
    moat_conn_read(c, true);
}

static const moat_conn_cbs srv_cbs = {
    .read = srv_read, .written = srv_written, .closed = on_closed};
static const moat_conn_cbs cli_cbs = {
    .read = cli_read, .written = cli_written, .connected = cli_connected, .closed = on_closed};

static void on_connection(uv_stream_t *l, int status)
{
    pair *p = l->data;
    assert_int_equal(status, 0);
    assert_false(p->accepted);
    p->accepted = true;
    assert_int_equal(
        moat_conn_accept(&p->srv, &p->loop, l, p, &srv_cbs, &moat_transport_plain, NULL), 0);
    moat_conn_peer(&p->srv, p->peer, sizeof(p->peer));
    p->local_port = moat_conn_local_port(&p->srv);
    moat_conn_read(&p->srv, true);
    uv_close((uv_handle_t *)l, NULL);
}

static void listen_loopback(pair *p)
{
    assert_int_equal(uv_loop_init(&p->loop), 0);
    uv_tcp_init(&p->loop, &p->listener);
    p->listener.data = p;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_bind(&p->listener, (const struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&p->listener, 8, on_connection), 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    assert_int_equal(uv_tcp_getsockname(&p->listener, (struct sockaddr *)&ss, &len), 0);
    p->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Unreferenced, so it never keeps the loop alive: it fires only when the
 * exchange is stuck. */
static void on_guard(uv_timer_t *t)
{
    (void)t;
    fail_msg("the exchange did not finish in 30 s");
}

static void test_conn_plain(void **state)
{
    (void)state;
    pair *p = calloc(1, sizeof(*p));
    p->big = malloc(BIG);
    memset(p->big, 'b', BIG);
    listen_loopback(p);
    char url[64], err[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", p->port);
    moat_upstream_target t;
    assert_int_equal(moat_upstream_parse(url, &t, err, sizeof(err)), 0);
    assert_int_equal(moat_conn_connect(&p->cli, &p->loop, &t, p, &cli_cbs), 0);
    uv_timer_t guard;
    uv_timer_init(&p->loop, &guard);
    uv_timer_start(&guard, on_guard, 30000, 0);
    uv_unref((uv_handle_t *)&guard);
    uv_run(&p->loop, UV_RUN_DEFAULT); /* ends when both connections are closed */
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    assert_int_equal(p->connected_calls, 1);
    assert_true(p->accepted);
    assert_string_equal(p->peer, "127.0.0.1");
    assert_int_equal(p->local_port, p->port);
    assert_int_equal(p->srv_got, 11);
    assert_string_equal(p->first, "hello world");
    assert_int_equal(p->cli_got, BIG);
    assert_true(p->congested); /* K4: over the watermark while the peer lagged */
    assert_true(p->drained);   /* ...and under half of it once it read */
    assert_int_equal(p->srv_eof, 1);
    assert_int_equal(p->closed_cli, 1); /* K7: once */
    assert_int_equal(p->closed_srv, 1);
    assert_int_equal(uv_loop_close(&p->loop), 0);
    free(p->big);
    free(p);
}

/* A connect that fails before it starts (no address family): the error
 * comes back at once, connected never runs, closed runs once. */
static void never_connected(moat_conn *c, int status)
{
    (void)c;
    (void)status;
    fail_msg("connected ran after a connect that failed to start");
}

static void test_conn_connect_fails_early(void **state)
{
    (void)state;
    pair *p = calloc(1, sizeof(*p));
    assert_int_equal(uv_loop_init(&p->loop), 0);
    moat_upstream_target t;
    memset(&t, 0, sizeof(t)); /* ss_family AF_UNSPEC */
    static const moat_conn_cbs cbs = {.read = cli_read,
                                      .written = cli_written,
                                      .connected = never_connected,
                                      .closed = on_closed};
    assert_true(moat_conn_connect(&p->cli, &p->loop, &t, p, &cbs) < 0);
    assert_true(p->cli.closing);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    assert_int_equal(p->closed_cli, 1);
    assert_int_equal(uv_loop_close(&p->loop), 0);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conn_plain),
        cmocka_unit_test(test_conn_connect_fails_early),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
