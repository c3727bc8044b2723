/* test_net.c - unit tests of the net module: listen and upstream address
 * parsing, trusted-proxy CIDR matching, listening sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "net/net.h"

static void test_addr_parse(void **state)
{
    (void)state;
    moat_addr a;
    assert_int_equal(moat_addr_parse("127.0.0.1:8080", &a), 0);
    assert_string_equal(a.text, "127.0.0.1:8080");
    assert_int_equal(a.port, 8080);
    assert_int_equal(moat_addr_parse("[::1]:443", &a), 0);
    assert_string_equal(a.text, "[::1]:443");
    assert_int_equal(moat_addr_parse("0.0.0.0:1", &a), 0);
    const char *bad[] = {"localhost:80",
                         "127.0.0.1",
                         "127.0.0.1:0",
                         "127.0.0.1:65536",
                         "[::1]443",
                         "::1:80",
                         "1.2.3.4:8a",
                         "[::1]:",
                         "",
                         ":80",
                         "1.2.3.4:-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(moat_addr_parse(bad[i], &a), MOAT_EINVAL);
}

static void test_upstream_parse(void **state)
{
    (void)state;
    moat_upstream_target t;
    char err[256];
    assert_int_equal(moat_upstream_parse("http://127.0.0.1:8000", &t, err, sizeof(err)), 0);
    assert_false(t.is_unix);
    assert_int_equal(t.addr.port, 8000);
    assert_int_equal(moat_upstream_parse("http://[::1]:9000/", &t, err, sizeof(err)), 0);
    assert_int_equal(moat_upstream_parse("http://localhost:8000", &t, err, sizeof(err)), 0);
    assert_int_equal(moat_upstream_parse("unix:/run/gunicorn.sock", &t, err, sizeof(err)), 0);
    assert_true(t.is_unix);
    assert_string_equal(t.path, "/run/gunicorn.sock");
    const char *bad[] = {"https://127.0.0.1:8000",
                         "http://127.0.0.1",
                         "http://127.0.0.1:0",
                         "unix:relative.sock",
                         "http://:80",
                         "http://1.2.3.4:80/app",
                         "ftp://x:1",
                         "http://[::1]80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(moat_upstream_parse(bad[i], &t, err, sizeof(err)), MOAT_EINVAL);
}

static void test_cidr(void **state)
{
    (void)state;
    char *list[] = {"10.0.0.0/8", "192.168.1.7", "fd00::/8", "127.0.0.1/32"};
    assert_true(moat_ip_in_list("10.1.2.3", list, 4));
    assert_true(moat_ip_in_list("192.168.1.7", list, 4));
    assert_false(moat_ip_in_list("192.168.1.8", list, 4));
    assert_true(moat_ip_in_list("fd12::1", list, 4));
    assert_false(moat_ip_in_list("fe80::1", list, 4));
    assert_true(moat_ip_in_list("127.0.0.1", list, 4));
    assert_false(moat_ip_in_list("127.0.0.2", list, 4));
    assert_false(moat_ip_in_list("not-an-ip", list, 4));
    char *odd[] = {"10.0.0.0/33", "10.0.0.0/x", "1.2.3.0/24"};
    assert_false(moat_ip_in_list("10.0.0.1", odd, 2));
    assert_true(moat_ip_in_list("1.2.3.200", odd, 3));
}

static void test_listen_fd(void **state)
{
    (void)state;
    moat_addr a;
    char err[256];
    int fd1, fd2;
    assert_int_equal(moat_addr_parse("127.0.0.1:0", &a), MOAT_EINVAL);
    /* Bind an ephemeral port through a first socket, then share it. */
    assert_int_equal(moat_addr_parse("127.0.0.1:1", &a), 0);
    struct sockaddr_in *in = (struct sockaddr_in *)&a.ss;
    in->sin_port = 0;
    assert_int_equal(moat_listen_fd(&a, 16, &fd1, err, sizeof(err)), 0);
    struct sockaddr_in bound;
    socklen_t len = sizeof(bound);
    getsockname(fd1, (struct sockaddr *)&bound, &len);
    in->sin_port = bound.sin_port;
    assert_int_equal(moat_listen_fd(&a, 16, &fd2, err, sizeof(err)), 0); /* SO_REUSEPORT */
    close(fd1);
    close(fd2);
}

/* Deadlines: a deadline pushed back fires at the later time, once; a
 * stopped one never fires; one brought forward fires at the earlier time.
 * Only lower bounds on the loop's clock are asserted (a busy machine makes
 * everything later, never earlier). */
typedef struct fired {
    int count;
    int before_marker; /* count when the 250 ms marker ran */
    uint64_t at;
} fired;

static void on_deadline(moat_deadline *d)
{
    fired *f = d->data;
    f->count++;
    f->at = uv_now(d->timer.loop);
}

/* A plain libuv timer due at 250 ms notes whether the deadline had fired
 * by then: libuv runs due timers in the order of their due times, so this
 * does not depend on how busy the machine is. */
static void on_marker(uv_timer_t *t)
{
    fired *f = t->data;
    f->before_marker = f->count;
}

static void run_deadline(uint64_t first, uint64_t second, bool stop, fired *f, uint64_t *start)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    moat_deadline d;
    moat_deadline_init(&loop, &d, f);
    uv_timer_t marker;
    uv_timer_init(&loop, &marker);
    marker.data = f;
    *start = uv_now(&loop);
    uv_timer_start(&marker, on_marker, 250, 0);
    moat_deadline_set(&d, first, on_deadline);
    if (stop)
        moat_deadline_stop(&d);
    else
        moat_deadline_set(&d, second, on_deadline);
    uv_run(&loop, UV_RUN_DEFAULT); /* returns once no timer is armed */
    uv_close((uv_handle_t *)&d.timer, NULL);
    uv_close((uv_handle_t *)&marker, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_deadline(void **state)
{
    (void)state;
    fired f = {0};
    uint64_t start;
    run_deadline(20, 80, false, &f, &start); /* pushed back */
    assert_int_equal(f.count, 1);
    assert_true(f.at - start >= 80);
    assert_int_equal(f.before_marker, 1);
    f = (fired){0};
    run_deadline(20, 600, false, &f, &start); /* pushed past the marker */
    assert_int_equal(f.count, 1);
    assert_true(f.at - start >= 600); /* (a stalled loop may run both at once) */
    f = (fired){0};
    run_deadline(20, 0, true, &f, &start); /* stopped */
    assert_int_equal(f.count, 0);
    f = (fired){0};
    run_deadline(500, 30, false, &f, &start); /* brought forward */
    assert_int_equal(f.count, 1);
    assert_int_equal(f.before_marker, 1); /* at 30 ms, not at 500 */
    assert_true(f.at - start >= 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_parse), cmocka_unit_test(test_upstream_parse),
        cmocka_unit_test(test_cidr),       cmocka_unit_test(test_listen_fd),
        cmocka_unit_test(test_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
