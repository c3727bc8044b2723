/* test_config.c - unit tests of the config module: defaults, every value
 * type and unit, the address checks, every error message with its place,
 * did-you-mean, ${env:}/${file:} references, the pyproject.toml lookup, the
 * command-line overrides, dump -> load round trips and the generated docs.
 * Each test runs in a fresh temporary directory (chdir'd into, removed after). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/settings.h"
#include "../test_helpers.h"

#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

/* ---- fixtures ------------------------------------------------------------- */

typedef moat_test_dir fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f) return -1;
    if (moat_test_dir_make(f, "config", true) < 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = moat_test_dir_remove(f);
    free(f);
    return rc;
}

/* Loads text written to ./moat.toml (found by the cwd search). */
static moat_config *load_ok(const char *text)
{
    moat_test_write_text("moat.toml", text);
    moat_config *c = NULL;
    char *err = NULL;
    int rc = moat_config_load(NULL, &c, &err);
    if (rc) fail_msg("unexpected error: %s", err);
    assert_null(err);
    assert_non_null(c);
    return c;
}

/* Loads text written to ./moat.toml, expects failure, returns the message. */
static char *load_err(const char *text)
{
    moat_test_write_text("moat.toml", text);
    moat_config *c = (moat_config *)1;
    char *err = NULL;
    assert_int_equal(moat_config_load(NULL, &c, &err), MOAT_ECONFIG);
    assert_null(c);
    assert_non_null(err);
    return err;
}

static void expect_err(const char *text, const char *message)
{
    char *err = load_err(text);
    assert_string_equal(err, message);
    free(err);
}

static char *dump(const moat_config *c)
{
    moat_buf b;
    moat_buf_init(&b);
    moat_config_dump(c, &b);
    return moat_buf_steal(&b);
}

/* ---- defaults ------------------------------------------------------------- */

static void check_defaults(const moat_config *c)
{
    assert_int_equal(c->listen.len, 1);
    assert_string_equal(c->listen.items[0], "127.0.0.1:8080");
    assert_int_equal(c->upstream.len, 1);
    assert_string_equal(c->upstream.items[0], "http://127.0.0.1:8000");
    assert_int_equal(c->hosts.len, 0);
    assert_int_equal(c->workers, 0);
    assert_int_equal(c->trusted_proxies.len, 0);
    assert_int_equal(c->limits.url_bytes, 8192);
    assert_int_equal(c->limits.header_bytes, 16384);
    assert_int_equal(c->limits.headers, 100);
    assert_int_equal(c->limits.body_bytes, 10 * MIB);
    assert_int_equal(c->limits.header_timeout_ms, 10000);
    assert_int_equal(c->limits.body_timeout_ms, 30000);
    assert_int_equal(c->limits.keepalive_timeout_ms, 75000);
    assert_int_equal(c->limits.connections, 10000);
    assert_int_equal(c->limits.upstream_connect_timeout_ms, 5000);
    assert_int_equal(c->limits.upstream_timeout_ms, 60000);
    assert_int_equal(c->limits.upstream_keepalive, 64);
    assert_int_equal(c->limits.drain_timeout_ms, 30000);
    assert_string_equal(c->log.access, "-");
    assert_string_equal(c->log.access_format, "json");
}

static void test_defaults(void **state)
{
    (void)state;
    moat_config *c = moat_config_default();
    check_defaults(c);
    assert_null(c->source);
    unsigned w = moat_config_workers(c);
    assert_true(w >= 1 && w <= 1024);
    moat_config_free(c);

    /* An empty directory: defaults, no source. */
    char *err = NULL;
    assert_int_equal(moat_config_load(NULL, &c, &err), 0);
    assert_null(err);
    check_defaults(c);
    assert_null(c->source);
    moat_config_free(c);

    /* An empty file: defaults, with the file as the source. */
    c = load_ok("");
    check_defaults(c);
    assert_string_equal(c->source, "moat.toml");
    moat_config_free(c);
}

static void test_table_is_consistent(void **state)
{
    (void)state;
    for (size_t i = 0; i < moat__config_nsettings; i++) {
        const moat__config_setting *s = &moat__config_settings[i];
        assert_non_null(s->doc);
        assert_true(strlen(s->doc) > 40);
        /* a setting that takes globs (or a Content-Security-Policy, named
         * `csp`; not tls.ocsp) has them checked when the configuration
         * loads (`moat config check`) */
        if ((s->allowed && strstr(s->allowed, "glob")) ||
            (strlen(s->key) > 4 && strcmp(s->key + strlen(s->key) - 4, ".csp") == 0))
            if (!s->check) fail_msg("%s takes globs or a policy but has no check", s->key);
        /* every key belongs to a declared table and is unique */
        bool table_found = false;
        for (size_t t = 0; t < moat__config_ntables; t++)
            table_found = table_found || moat__config_in_table(s, moat__config_tables[t].name);
        assert_true(table_found);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s->key, moat__config_settings[j].key);
        if (s->type == MOAT__CFG_COUNT || s->type == MOAT__CFG_SIZE ||
            s->type == MOAT__CFG_DURATION)
            assert_true(s->min <= s->max && s->max > 0);
        if (s->type == MOAT__CFG_ENUM) assert_non_null(s->enum_values);
    }
}

/* ---- value types ---------------------------------------------------------- */

static void test_units(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t bytes;
    } sizes[] = {
        {"0", 0},
        {"512", 512},
        {"512B", 512},
        {"512b", 512},
        {"16KiB", 16 * KIB},
        {"16kib", 16 * KIB},
        {"10MiB", 10 * MIB},
        {"1GiB", GIB},
        {"10KB", 10000},
        {"10kB", 10000},
        {"10MB", 10000000},
        {"2GB", 2000000000},
        {"10 MiB", 10 * MIB},
        {"64GiB", 64 * GIB},
    };
    for (size_t i = 0; i < MOAT_ARRAY_LEN(sizes); i++) {
        uint64_t v = 1;
        assert_int_equal(moat__config_parse_size(sizes[i].text, strlen(sizes[i].text), &v), 0);
        assert_true(v == sizes[i].bytes);
    }
    static const char *bad_sizes[] = {"",   "MiB", "1.5MiB", "10 parsecs", "10M", "10K",
                                      "-1", "10 ", " 10",    "10MiB ",     "0x10"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(bad_sizes); i++) {
        uint64_t v;
        assert_int_equal(moat__config_parse_size(bad_sizes[i], strlen(bad_sizes[i]), &v),
                         MOAT_EINVAL);
    }
    uint64_t v;
    assert_int_equal(moat__config_parse_size("99999999999GiB", 14, &v), MOAT_ERANGE);

    static const struct {
        const char *text;
        uint64_t ms;
    } durations[] = {
        {"0", 0},         {"10", 10000},   {"500ms", 500}, {"10s", 10000},
        {"30m", 1800000}, {"2h", 7200000}, {"1 s", 1000},  {"10S", 10000},
    };
    for (size_t i = 0; i < MOAT_ARRAY_LEN(durations); i++) {
        v = 1;
        assert_int_equal(
            moat__config_parse_duration(durations[i].text, strlen(durations[i].text), &v), 0);
        assert_true(v == durations[i].ms);
    }
    static const char *bad_durations[] = {"", "s", "1.5s", "10x", "10 days", "1h30m"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(bad_durations); i++)
        assert_int_equal(
            moat__config_parse_duration(bad_durations[i], strlen(bad_durations[i]), &v),
            MOAT_EINVAL);

    moat_buf b;
    moat_buf_init(&b);
    moat__config_put_size(&b, 10 * MIB);
    moat_buf_putc(&b, ' ');
    moat__config_put_size(&b, 1000);
    moat_buf_putc(&b, ' ');
    moat__config_put_size(&b, 0);
    moat_buf_putc(&b, ' ');
    moat__config_put_duration(&b, 75000);
    moat_buf_putc(&b, ' ');
    moat__config_put_duration(&b, 1500);
    moat_buf_putc(&b, ' ');
    moat__config_put_duration(&b, 3 * 3600000);
    moat_buf_putc(&b, ' ');
    moat__config_put_duration(&b, 0);
    assert_string_equal(b.data, "10MiB 1000B 0B 75s 1500ms 3h 0s");
    moat_buf_free(&b);
}

static void test_types_in_files(void **state)
{
    (void)state;
    moat_config *c = load_ok("listen = \"0.0.0.0:80\"\n"
                             "upstream = [\"unix:/run/app.sock\", \"http://app:8000/\"]\n"
                             "hosts = [\"Example.COM\", \"*.example.com:8443\"]\n"
                             "workers = 4\n"
                             "trusted_proxies = [\"10.0.0.0/8\", \"fd00::/8\", \"192.0.2.7\"]\n"
                             "[limits]\n"
                             "url_bytes = \"16KiB\"\n"
                             "header_bytes = 2048\n"
                             "headers = 50\n"
                             "body_bytes = 0\n"
                             "header_timeout = \"500ms\"\n"
                             "body_timeout = 5\n"
                             "keepalive_timeout = 0\n"
                             "connections = 1000000\n"
                             "upstream_connect_timeout = \"2m\"\n"
                             "upstream_timeout = \"24h\"\n"
                             "upstream_keepalive = 0\n"
                             "drain_timeout = \"0s\"\n"
                             "[log]\n"
                             "access = \"\"\n"
                             "access_format = \"combined\"\n");
    assert_int_equal(c->listen.len, 1);
    assert_string_equal(c->listen.items[0], "0.0.0.0:80");
    assert_int_equal(c->upstream.len, 2);
    assert_string_equal(c->upstream.items[0], "unix:/run/app.sock");
    assert_string_equal(c->upstream.items[1], "http://app:8000/");
    assert_int_equal(c->hosts.len, 2);
    assert_string_equal(c->hosts.items[0], "example.com"); /* stored in lower case */
    assert_string_equal(c->hosts.items[1], "*.example.com:8443");
    assert_int_equal(c->workers, 4);
    assert_int_equal(moat_config_workers(c), 4);
    assert_int_equal(c->trusted_proxies.len, 3);
    assert_int_equal(c->limits.url_bytes, 16 * KIB);
    assert_int_equal(c->limits.header_bytes, 2048);
    assert_int_equal(c->limits.headers, 50);
    assert_int_equal(c->limits.body_bytes, 0);
    assert_int_equal(c->limits.header_timeout_ms, 500);
    assert_int_equal(c->limits.body_timeout_ms, 5000);
    assert_int_equal(c->limits.keepalive_timeout_ms, 0);
    assert_int_equal(c->limits.connections, 1000000);
    assert_int_equal(c->limits.upstream_connect_timeout_ms, 120000);
    assert_int_equal(c->limits.upstream_timeout_ms, 24 * 3600000);
    assert_int_equal(c->limits.upstream_keepalive, 0);
    assert_int_equal(c->limits.drain_timeout_ms, 0);
    assert_string_equal(c->log.access, "");
    assert_string_equal(c->log.access_format, "combined");
    moat_config_free(c);

    /* Inline tables and dotted keys are the same tables. */
    c = load_ok("limits = { headers = 7, body_bytes = \"1MB\" }\nlog.access = \"/var/log/a\"\n");
    assert_int_equal(c->limits.headers, 7);
    assert_int_equal(c->limits.body_bytes, 1000000);
    assert_string_equal(c->log.access, "/var/log/a");
    moat_config_free(c);

    c = load_ok("workers = \"auto\"\n[limits]\nbody_bytes = \"64GiB\"\n");
    assert_int_equal(c->workers, 0);
    assert_true(c->limits.body_bytes == 64 * GIB);
    moat_config_free(c);
}

/* A setting of each type the table does not use yet (bool), stored in a
 * struct of the test's own. */
typedef struct test_struct {
    bool flag;
    uint64_t n;
} test_struct;

static void test_bool_type(void **state)
{
    (void)state;
    const moat__config_setting s = {
        .key = "test.flag",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = offsetof(test_struct, flag),
        .doc = "a test flag",
    };
    test_struct t = {0};
    char *err = NULL;
    assert_int_equal(moat__config_parse_text(&s, "true", &t, &err), 0);
    assert_true(t.flag);
    assert_int_equal(moat__config_parse_text(&s, "false", &t, &err), 0);
    assert_false(t.flag);
    assert_int_equal(moat__config_parse_text(&s, "1", &t, &err), MOAT_ECONFIG);
    assert_string_equal(err, "1:5: 'test.flag' must be true or false, found an integer");
    free(err);
    assert_int_equal(moat__config_parse_text(&s, "\"yes\"", &t, &err), MOAT_ECONFIG);
    assert_string_equal(err, "1:5: 'test.flag' must be true or false, found a string");
    free(err);
    setenv("MOAT_TEST_FLAG", "true", 1);
    assert_int_equal(moat__config_parse_text(&s, "\"${env:MOAT_TEST_FLAG}\"", &t, &err), 0);
    assert_true(t.flag);
    setenv("MOAT_TEST_FLAG", "yes", 1);
    assert_int_equal(moat__config_parse_text(&s, "\"${env:MOAT_TEST_FLAG}\"", &t, &err),
                     MOAT_ECONFIG);
    assert_string_equal(err, "1:5: 'test.flag' must be true or false, found the value of "
                             "${env:MOAT_TEST_FLAG}");
    free(err);
    unsetenv("MOAT_TEST_FLAG");
}

/* ---- the checks ----------------------------------------------------------- */

typedef struct check_case {
    const char *value;
    const char *why; /* NULL = accepted */
} check_case;

static void run_checks(moat__config_check_fn fn, const check_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *v = strdup(cases[i].value);
        const char *why = fn(v);
        if (!cases[i].why && why) fail_msg("%s: unexpected: %s", cases[i].value, why);
        if (cases[i].why && !why) fail_msg("%s: accepted", cases[i].value);
        if (cases[i].why) assert_string_equal(why, cases[i].why);
        free(v);
    }
}

static void test_check_listen(void **state)
{
    (void)state;
    static const check_case cases[] = {
        {"127.0.0.1:8080", NULL},
        {"0.0.0.0:1", NULL},
        {"[::1]:8080", NULL},
        {"[::]:65535", NULL},
        {"localhost:8080", "host names are not accepted here: write an IP address (127.0.0.1 for "
                           "this machine only, 0.0.0.0 for every interface)"},
        {"127.0.0.1", "the port is missing: write ADDRESS:PORT, as in 127.0.0.1:8080"},
        {"[::1]", "the port is missing: write ADDRESS:PORT, as in [::1]:8080"},
        {"::1:8080", "an IPv6 address must be in brackets, as in [::1]:8080"},
        {":8080", "the address is missing (0.0.0.0:PORT listens on every interface)"},
        {"127.0.0.1:0", "the port must be a number from 1 to 65535"},
        {"127.0.0.1:65536", "the port must be a number from 1 to 65535"},
        {"127.0.0.1:80a", "the port must be a number from 1 to 65535"},
        {"127.0.0.1:", "the port is missing after ':'"},
        {"256.0.0.1:80", "not a valid IPv4 address"},
        {"127.1:80", "not a valid IPv4 address"},
        {"[::g]:80", "not a valid IPv6 address"},
        {"[::1:80", "an IPv6 address in brackets is missing its ']'"},
    };
    run_checks(moat__config_check_listen, cases, MOAT_ARRAY_LEN(cases));
}

static void test_check_upstream(void **state)
{
    (void)state;
    static const check_case cases[] = {
        {"http://127.0.0.1:8000", NULL},
        {"http://127.0.0.1:8000/", NULL},
        {"http://[::1]:8000", NULL},
        {"http://app:8000", NULL},
        {"http://my_app.internal:80", NULL},
        {"unix:/run/gunicorn.sock", NULL},
        {"https://app:8443",
         "https:// upstreams are not supported yet: use http://HOST:PORT or unix:/path"},
        {"ftp://app:21", "expected http://HOST:PORT or unix:/path"},
        {"HTTP://app:80", "expected http://HOST:PORT or unix:/path"},
        {"http://app:8000/api", "a path, query or fragment after the port is not supported (moat "
                                "forwards each request's own path)"},
        {"http://app:8000?x=1", "a path, query or fragment after the port is not supported (moat "
                                "forwards each request's own path)"},
        {"http://app", "the port is missing: write http://HOST:PORT"},
        {"http://[::1]", "the port is missing: write http://HOST:PORT"},
        {"http://", "the host is missing: write http://HOST:PORT"},
        {"http://u:p@app:80", "user names and passwords in the URL are not supported"},
        {"http://app:0", "the port must be a number from 1 to 65535"},
        {"http://app:", "the port is missing after ':'"},
        {"http://app:123456789", "the port must be a number from 1 to 65535"},
        {"http://999.0.0.1:80", "not a valid IPv4 address"},
        {"http://::1:80", "an IPv6 address must be in brackets, as in [::1]"},
        {"http://-app:80", "not a valid host name or IP address"},
        {"http://a..b:80", "not a valid host name or IP address"},
        {"unix:run/app.sock", "a Unix socket path must be absolute, as in unix:/run/app.sock"},
    };
    run_checks(moat__config_check_upstream, cases, MOAT_ARRAY_LEN(cases));
    char longpath[200] = "unix:/";
    memset(longpath + 6, 'a', 107);
    longpath[113] = '\0';
    assert_string_equal(moat__config_check_upstream(longpath),
                        "a Unix socket path can be at most 107 bytes long");
    longpath[112] = '\0'; /* 107 bytes: fits */
    assert_null(moat__config_check_upstream(longpath));
}

static void test_check_hosts(void **state)
{
    (void)state;
    static const check_case cases[] = {
        {"example.com", NULL},
        {"localhost", NULL},
        {"*.example.com", NULL},
        {"example.com:8443", NULL},
        {"127.0.0.1", NULL},
        {"127.0.0.1:8080", NULL},
        {"[::1]", NULL},
        {"[::1]:8080", NULL},
        {"*", "\"*\" would accept any host: leave the list empty (hosts = []) if that is really "
              "meant"},
        {"ex*.com", "a wildcard is only allowed as a first label \"*.\""},
        {"*.127.0.0.1", "a wildcard needs a host name after \"*.\""},
        {"exa mple.com", "not a valid host name"},
        {"example.com.", "not a valid host name"},
        {"-example.com", "not a valid host name"},
        {"example.com:0", "the port must be a number from 1 to 65535"},
        {"1.2.3.999", "not a valid IPv4 address"},
        {"::1", "an IPv6 address must be in brackets, as in [::1]"},
        {"[::1]x", "unexpected text after the IPv6 address"},
    };
    run_checks(moat__config_check_host, cases, MOAT_ARRAY_LEN(cases));
    char v[] = "WWW.Example.Com:80";
    assert_null(moat__config_check_host(v));
    assert_string_equal(v, "www.example.com:80");
}

static void test_check_proxies(void **state)
{
    (void)state;
    static const check_case cases[] = {
        {"10.0.0.0/8", NULL},
        {"192.0.2.7", NULL},
        {"192.0.2.7/32", NULL},
        {"0.0.0.0/0", NULL},
        {"fd00::/8", NULL},
        {"::1", NULL},
        {"2001:db8::/32", NULL},
        {"10.0.0.1/8", "bits are set after the prefix length: write the network's first address, "
                       "as in 10.0.0.0/8"},
        {"fd00::1/8", "bits are set after the prefix length: write the network's first address, "
                      "as in 10.0.0.0/8"},
        {"10.0.0.0/33", "the prefix length must be a number from 0 to 32"},
        {"10.0.0.0/", "the prefix length must be a number from 0 to 32"},
        {"fd00::/129", "the prefix length must be a number from 0 to 128"},
        {"10.0.0/8", "not a valid IPv4 address"},
        {"proxy.local", "not a valid IPv4 address"},
        {"fd00::g", "not a valid IPv6 address"},
    };
    run_checks(moat__config_check_proxy, cases, MOAT_ARRAY_LEN(cases));
}

/* ---- error messages ------------------------------------------------------- */

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_err("[limits]\nheaders = 10\nbody_byte = 1\n",
               "moat.toml:3:1: unknown setting 'limits.body_byte' (did you mean "
               "'limits.body_bytes'?)");
    expect_err("upstreams = \"http://a:1\"\n",
               "moat.toml:1:1: unknown setting 'upstreams' (did you mean 'upstream'?)");
    expect_err("# a comment\n\n[limitz]\nheaders = 1\n",
               "moat.toml:3:2: unknown table 'limitz' (did you mean 'limits'?)");
    /* right name, wrong table */
    expect_err("connections = 10\n", "moat.toml:1:1: unknown setting 'connections' (did you mean "
                                     "'limits.connections'?)");
    expect_err("[log]\n  url_bytes = 1\n",
               "moat.toml:2:3: unknown setting 'log.url_bytes' (did you mean "
               "'limits.url_bytes'?)");
    expect_err("frobnicate = true\n", "moat.toml:1:1: unknown setting 'frobnicate'");
    expect_err("[qqq]\nmode = \"x\"\n", "moat.toml:1:2: unknown table 'qqq'");
    expect_err("[waf]\nmode = \"x\"\n",
               "moat.toml:2:8: 'waf.mode' must be one of \"block\", \"detect\" or \"off\", found "
               "\"x\"");
    /* rules across settings */
    expect_err("[tls]\ncert = \"x\"\n",
               "moat.toml: 'tls.cert' has 1 entries and 'tls.key' 0: each certificate needs its "
               "key, in the same order");
    expect_err("[tls]\nlisten = \"127.0.0.1:8443\"\n",
               "moat.toml: 'tls.listen' is set but 'tls.cert' is empty: HTTPS needs a certificate "
               "(moat cert selfsigned writes one for development)");
    expect_err("listen = \"127.0.0.1:8443\"\n[tls]\nlisten = \"127.0.0.1:8443\"\n"
               "cert = \"c\"\nkey = \"k\"\n",
               "moat.toml: '127.0.0.1:8443' is in both 'listen' and 'tls.listen'");
    expect_err("limits.bodybytes = 1\n",
               "moat.toml:1:8: unknown setting 'limits.bodybytes' (did you mean "
               "'limits.body_bytes'?)");
    expect_err("limits = { header = 1 }\n",
               "moat.toml:1:12: unknown setting 'limits.header' (did you mean "
               "'limits.headers'?)");
    expect_err("[limits.extra]\nx = 1\n", "moat.toml:1:9: unknown table 'limits.extra'");
    /* A key written with escapes can't be found in the text: the value's place. */
    expect_err("\"work\\u0000ers\" = 1\n", "moat.toml:1:19: unknown setting 'work?ers' (did you "
                                           "mean 'workers'?)");
    expect_err("limits = 5\n", "moat.toml:1:10: 'limits' must be a table, found an integer");
    expect_err("[[log]]\naccess = \"-\"\n", "moat.toml:1:1: 'log' must be a table, found an array");
}

static void test_type_errors(void **state)
{
    (void)state;
    expect_err("[limits]\nurl_bytes = 8192\nheaders = 10\nheaders_x = 1\n",
               "moat.toml:4:1: unknown setting 'limits.headers_x' (did you mean "
               "'limits.headers'?)");
    expect_err("\n[limits]\n\nheaders   = \"100\"\n",
               "moat.toml:4:13: 'limits.headers' must be an integer, found a string");
    expect_err("[limits]\nheaders = 1.5\n",
               "moat.toml:2:11: 'limits.headers' must be an integer, found a float");
    expect_err("[limits]\nbody_bytes = true\n",
               "moat.toml:2:14: 'limits.body_bytes' must be a size such as 16384, \"16KiB\" or "
               "\"10MiB\", found a boolean");
    expect_err("[limits]\nbody_bytes = \"10 parsecs\"\n",
               "moat.toml:2:14: 'limits.body_bytes' must be a size such as 16384, \"16KiB\" or "
               "\"10MiB\", found \"10 parsecs\"");
    expect_err("[limits]\nheader_timeout = \"10 days\"\n",
               "moat.toml:2:18: 'limits.header_timeout' must be a duration such as 30, "
               "\"500ms\", \"10s\", \"5m\" or \"1h\", found \"10 days\"");
    expect_err("[limits]\nheader_timeout = [10]\n",
               "moat.toml:2:18: 'limits.header_timeout' must be a duration such as 30, "
               "\"500ms\", \"10s\", \"5m\" or \"1h\", found an array");
    expect_err("workers = \"many\"\n",
               "moat.toml:1:11: 'workers' must be \"auto\" or an integer from 1 to 1024, found "
               "\"many\"");
    expect_err("workers = 0\n", "moat.toml:1:11: 'workers' must be \"auto\" or an integer from 1 "
                                "to 1024, found 0");
    expect_err("workers = 2000\n", "moat.toml:1:11: 'workers' must be \"auto\" or an integer "
                                   "from 1 to 1024, found 2000");
    expect_err("[log]\naccess = 1\n", "moat.toml:2:10: 'log.access' must be a string, found an "
                                      "integer");
    expect_err("[log]\naccess_format = \"xml\"\n",
               "moat.toml:2:17: 'log.access_format' must be one of \"json\" or \"combined\", "
               "found \"xml\"");
    expect_err("[log]\naccess_format = 2\n",
               "moat.toml:2:17: 'log.access_format' must be one of \"json\" or \"combined\", "
               "found an integer");
    expect_err("listen = 8080\n",
               "moat.toml:1:10: 'listen' must be a string or an array of strings, found an "
               "integer");
    expect_err("listen = [\"127.0.0.1:1\", 8080]\n",
               "moat.toml:1:26: 'listen' must be an array of strings, found an integer in it");
    expect_err("[log]\naccess = \"a\\u0000b\"\n",
               "moat.toml:2:10: 'log.access' must not contain NUL characters");
    expect_err("listen = [\"localhost:80\"]\n",
               "moat.toml:1:11: invalid 'listen' value \"localhost:80\": host names are not "
               "accepted here: write an IP address (127.0.0.1 for this machine only, 0.0.0.0 for "
               "every interface)");
    expect_err("upstream = \"https://app:443\"\n",
               "moat.toml:1:12: invalid 'upstream' value \"https://app:443\": https:// upstreams "
               "are not supported yet: use http://HOST:PORT or unix:/path");
    expect_err("hosts = [\"ok.example\", \"*\"]\n",
               "moat.toml:1:24: invalid 'hosts' value \"*\": \"*\" would accept any host: leave "
               "the list empty (hosts = []) if that is really meant");
    expect_err("upstream = []\n", "moat.toml:1:12: 'upstream' must not be empty");
    expect_err("listen = [\"127.0.0.1:80\", \"127.0.0.1:80\"]\n",
               "moat.toml:1:27: 'listen' lists \"127.0.0.1:80\" twice");
}

static void test_range_errors(void **state)
{
    (void)state;
    expect_err("[limits]\nheaders = 5000\n",
               "moat.toml:2:11: 'limits.headers' must be between 1 and 1000, found 5000");
    expect_err("[limits]\nheaders = 0\n",
               "moat.toml:2:11: 'limits.headers' must be between 1 and 1000, found 0");
    expect_err("[limits]\nconnections = -1\n",
               "moat.toml:2:15: 'limits.connections' must be between 1 and 1000000, found -1");
    expect_err("[limits]\nurl_bytes = \"2MiB\"\n",
               "moat.toml:2:13: 'limits.url_bytes' must be between 256B and 1MiB, found "
               "\"2MiB\"");
    expect_err("[limits]\nurl_bytes = 100\n",
               "moat.toml:2:13: 'limits.url_bytes' must be between 256B and 1MiB, found 100");
    expect_err("[limits]\nbody_bytes = \"65GiB\"\n",
               "moat.toml:2:14: 'limits.body_bytes' must be between 0B and 64GiB, found "
               "\"65GiB\"");
    expect_err("[limits]\nbody_bytes = \"99999999999999GiB\"\n",
               "moat.toml:2:14: 'limits.body_bytes' must be between 0B and 64GiB, found "
               "\"99999999999999GiB\"");
    expect_err("[limits]\nheader_timeout = \"50ms\"\n",
               "moat.toml:2:18: 'limits.header_timeout' must be between 100ms and 1h, found "
               "\"50ms\"");
    expect_err("[limits]\nupstream_timeout = 9223372036854775807\n",
               "moat.toml:2:20: 'limits.upstream_timeout' must be between 100ms and 24h, found "
               "9223372036854775807");
}

static void test_all_errors_reported(void **state)
{
    (void)state;
    expect_err("workers = 0\nlisten = \"x\"\n[limits]\nheaders = 5000\nbody_byte = 1\n",
               "moat.toml:1:11: 'workers' must be \"auto\" or an integer from 1 to 1024, found 0\n"
               "moat.toml:2:10: invalid 'listen' value \"x\": the port is missing: write "
               "ADDRESS:PORT, as in 127.0.0.1:8080\n"
               "moat.toml:4:11: 'limits.headers' must be between 1 and 1000, found 5000\n"
               "moat.toml:5:1: unknown setting 'limits.body_byte' (did you mean "
               "'limits.body_bytes'?)");
    /* Past 20 messages, the rest are counted. */
    moat_buf b;
    moat_buf_init(&b);
    for (int i = 0; i < 25; i++)
        moat_buf_printf(&b, "bogus%d = 1\n", i);
    char *err = load_err(b.data);
    moat_buf_free(&b);
    assert_non_null(strstr(err, "moat.toml:20:1: unknown setting 'bogus19'\n"
                                "(5 more errors not shown)"));
    assert_null(strstr(err, "bogus20"));
    free(err);
}

static void test_file_errors(void **state)
{
    (void)state;
    /* TOML syntax errors: the reader's message, at its place in the file */
    char *msg = load_err("[limits]\nheaders = \n");
    assert_true(strncmp(msg, "moat.toml:2:", 12) == 0);
    assert_null(strchr(msg, '\n'));
    free(msg);
    moat_config *c = (moat_config *)1;
    char *err = NULL;
    moat_config_source src = {.path = "nope.toml"};
    assert_int_equal(moat_config_load(&src, &c, &err), MOAT_ECONFIG);
    assert_null(c);
    assert_string_equal(err, "cannot read nope.toml: No such file or directory");
    free(err);
    assert_int_equal(mkdir("adir", 0700), 0);
    src.path = "adir";
    assert_int_equal(moat_config_load(&src, &c, &err), MOAT_ECONFIG);
    assert_string_equal(err, "cannot read adir: Is a directory");
    free(err);
}

/* ---- references ----------------------------------------------------------- */

static void test_env_references(void **state)
{
    (void)state;
    setenv("MOAT_TEST_UP", "http://10.0.0.1:9000", 1);
    setenv("MOAT_TEST_LOG", "/var/log/secret-path.log", 1);
    setenv("MOAT_TEST_CONN", "500", 1);
    setenv("MOAT_TEST_BODY", "1MiB", 1);
    unsetenv("MOAT_TEST_MISSING");
    moat_config *c = load_ok("upstream = [\"${env:MOAT_TEST_UP}\", \"unix:/run/b.sock\"]\n"
                             "[limits]\n"
                             "connections = \"${env:MOAT_TEST_CONN}\"\n"
                             "body_bytes = \"${env:MOAT_TEST_BODY}\"\n"
                             "[log]\n"
                             "access = \"${env:MOAT_TEST_LOG}\"\n");
    assert_int_equal(c->upstream.len, 2);
    assert_string_equal(c->upstream.items[0], "http://10.0.0.1:9000");
    assert_string_equal(c->upstream.items[1], "unix:/run/b.sock");
    assert_int_equal(c->limits.connections, 500);
    assert_int_equal(c->limits.body_bytes, MIB);
    assert_string_equal(c->log.access, "/var/log/secret-path.log");
    char *d = dump(c);
    assert_non_null(strstr(d, "\nupstream = [\"${env:MOAT_TEST_UP}\", \"unix:/run/b.sock\"]\n"));
    assert_non_null(strstr(d, "\nconnections = \"${env:MOAT_TEST_CONN}\"\n"));
    assert_non_null(strstr(d, "\naccess = \"${env:MOAT_TEST_LOG}\"\n"));
    assert_null(strstr(d, "10.0.0.1"));
    assert_null(strstr(d, "secret-path"));
    assert_null(strstr(d, "500"));
    free(d);
    moat_config_free(c);

    expect_err("[log]\naccess = \"${env:MOAT_TEST_MISSING}\"\n",
               "moat.toml:2:10: 'log.access' refers to environment variable MOAT_TEST_MISSING, "
               "which is not set");
    expect_err("[log]\naccess = \"${env:BAD-NAME}\"\n",
               "moat.toml:2:10: 'log.access' refers to an invalid environment variable name "
               "(letters, digits and '_' only)");
    expect_err("[log]\naccess = \"${vault:x}\"\n",
               "moat.toml:2:10: 'log.access' has an unknown reference: write \"${env:NAME}\" or "
               "\"${file:PATH}\" (or $${ for a literal ${)");
    expect_err("[log]\naccess = \"/logs/${env:MOAT_TEST_LOG}\"\n",
               "moat.toml:2:10: 'log.access': a reference must be the whole string, as in "
               "\"${env:NAME}\" (write $${ for a literal ${)");
    /* Errors about referenced values never show the value. */
    setenv("MOAT_TEST_UP", "https://secret-host:443", 1);
    expect_err("upstream = \"${env:MOAT_TEST_UP}\"\n",
               "moat.toml:1:12: invalid 'upstream' value (from ${env:MOAT_TEST_UP}): https:// "
               "upstreams are not supported yet: use http://HOST:PORT or unix:/path");
    setenv("MOAT_TEST_CONN", "5000000", 1);
    expect_err("[limits]\nconnections = \"${env:MOAT_TEST_CONN}\"\n",
               "moat.toml:2:15: 'limits.connections' must be between 1 and 1000000, found the "
               "value of ${env:MOAT_TEST_CONN}");
    setenv("MOAT_TEST_CONN", "lots", 1);
    expect_err("[limits]\nconnections = \"${env:MOAT_TEST_CONN}\"\n",
               "moat.toml:2:15: 'limits.connections' must be an integer, found the value of "
               "${env:MOAT_TEST_CONN}");
    /* A literal string is not read as a number: only references are. */
    expect_err("[limits]\nconnections = \"500\"\n",
               "moat.toml:2:15: 'limits.connections' must be an integer, found a string");

    /* "$${" is a literal "${", and the dump writes it back escaped. */
    c = load_ok("[log]\naccess = \"/logs/$${env:X}/a$b$$c\"\n");
    assert_string_equal(c->log.access, "/logs/${env:X}/a$b$$c");
    d = dump(c);
    assert_non_null(strstr(d, "\naccess = \"/logs/$${env:X}/a$b$$c\"\n"));
    free(d);
    moat_config_free(c);
    /* (absolute: a relative path would start from the file's folder) */
    c = load_ok("[log]\naccess = \"/$${env:X}\"\n");
    assert_string_equal(c->log.access, "/${env:X}");
    moat_config_free(c);

    unsetenv("MOAT_TEST_UP");
    unsetenv("MOAT_TEST_LOG");
    unsetenv("MOAT_TEST_CONN");
    unsetenv("MOAT_TEST_BODY");
}

static void test_file_references(void **state)
{
    (void)state;
    assert_int_equal(mkdir("conf", 0700), 0);
    moat_test_write_text("conf/upstream.txt", "unix:/run/from-file.sock\n");
    moat_test_write_text("conf/crlf.txt", "/var/log/crlf.log\r\n");
    moat_test_write_text("conf/two.txt", "/var/log/two\n\n");
    moat_test_write_text("conf/moat.toml", "upstream = \"${file:upstream.txt}\"\n"
                                           "listen = [\"${file:listen.txt}\"]\n"
                                           "[log]\naccess = \"${file:crlf.txt}\"\n");
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    moat_test_write_text("conf/listen.txt", "[::1]:9999");

    moat_config_source src = {.path = "conf/moat.toml"};
    moat_config *c = NULL;
    char *err = NULL;
    assert_int_equal(moat_config_load(&src, &c, &err), 0);
    assert_string_equal(c->source, "conf/moat.toml");
    assert_string_equal(c->upstream.items[0], "unix:/run/from-file.sock");
    assert_string_equal(c->listen.items[0], "[::1]:9999");
    assert_string_equal(c->log.access, "/var/log/crlf.log");
    char *d = dump(c);
    assert_non_null(strstr(d, "\nupstream = [\"${file:upstream.txt}\"]\n"));
    assert_non_null(strstr(d, "\nlisten = [\"${file:listen.txt}\"]\n"));
    assert_non_null(strstr(d, "\naccess = \"${file:crlf.txt}\"\n"));
    assert_null(strstr(d, "from-file"));
    free(d);
    moat_config_free(c);

    /* An absolute path, and only one trailing newline removed. */
    char *text = moat_xasprintf("[log]\naccess = \"${file:%s/conf/two.txt}\"\n", cwd);
    c = load_ok(text);
    free(text);
    assert_string_equal(c->log.access, "/var/log/two\n");
    moat_config_free(c);

    moat_test_write_text("conf/moat.toml", "[log]\naccess = \"${file:missing.txt}\"\n");
    assert_int_equal(moat_config_load(&src, &c, &err), MOAT_ECONFIG);
    assert_string_equal(err, "conf/moat.toml:2:10: 'log.access' refers to file "
                             "conf/missing.txt, which cannot be read: No such file or directory");
    free(err);
    moat_test_write_text("conf/moat.toml", "[log]\naccess = \"${file:}\"\n");
    assert_int_equal(moat_config_load(&src, &c, &err), MOAT_ECONFIG);
    assert_string_equal(err, "conf/moat.toml:2:10: 'log.access' refers to a file but gives no "
                             "path: write \"${file:PATH}\"");
    free(err);

    FILE *fp = fopen("conf/nul.txt", "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite("a\0b", 1, 3, fp), 3);
    fclose(fp);
    moat_test_write_text("conf/moat.toml", "[log]\naccess = \"${file:nul.txt}\"\n");
    assert_int_equal(moat_config_load(&src, &c, &err), MOAT_ECONFIG);
    assert_string_equal(err, "conf/moat.toml:2:10: 'log.access' refers to file conf/nul.txt, "
                             "which contains a NUL byte");
    free(err);

    fp = fopen("conf/big.txt", "wb");
    assert_non_null(fp);
    for (int i = 0; i < 1025; i++) {
        char block[1024];
        memset(block, 'x', sizeof(block));
        fwrite(block, 1, sizeof(block), fp);
    }
    fclose(fp);
    moat_test_write_text("conf/moat.toml", "[log]\naccess = \"${file:big.txt}\"\n");
    assert_int_equal(moat_config_load(&src, &c, &err), MOAT_ECONFIG);
    assert_string_equal(err, "conf/moat.toml:2:10: 'log.access' refers to file conf/big.txt, "
                             "which is larger than 1MiB");
    free(err);
}

/* ---- where the config comes from ------------------------------------------ */

static void test_pyproject(void **state)
{
    (void)state;
    moat_config *c = NULL;
    char *err = NULL;
    moat_test_write_text("pyproject.toml", "[project]\nname = \"app\"\n\n"
                                           "[tool.black]\nline-length = 100\n\n"
                                           "[tool.moat]\nupstream = \"unix:/run/app.sock\"\n\n"
                                           "[tool.moat.limits]\nheaders = 20\n");
    /* found by the cwd search */
    assert_int_equal(moat_config_load(NULL, &c, &err), 0);
    assert_string_equal(c->source, "pyproject.toml");
    assert_string_equal(c->upstream.items[0], "unix:/run/app.sock");
    assert_int_equal(c->limits.headers, 20);
    moat_config_free(c);

    /* given explicitly, also from another directory */
    assert_int_equal(mkdir("sub", 0700), 0);
    assert_int_equal(rename("pyproject.toml", "sub/pyproject.toml"), 0);
    moat_config_source src = {.path = "sub/pyproject.toml"};
    assert_int_equal(moat_config_load(&src, &c, &err), 0);
    assert_string_equal(c->source, "sub/pyproject.toml");
    assert_int_equal(c->limits.headers, 20);
    moat_config_free(c);

    /* errors use the short names and the pyproject's lines */
    moat_test_write_text("sub/pyproject.toml",
                         "[project]\nname = \"app\"\n\n"
                         "[tool.moat.limits]\nheaderz = 20\nbody_bytes = -1\n");
    assert_int_equal(moat_config_load(&src, &c, &err), MOAT_ECONFIG);
    assert_string_equal(err, "sub/pyproject.toml:5:1: unknown setting 'limits.headerz' (did you "
                             "mean 'limits.headers'?)\n"
                             "sub/pyproject.toml:6:14: 'limits.body_bytes' must be between 0B "
                             "and 64GiB, found -1");
    free(err);

    /* no [tool.moat]: an error when named, the defaults when searched */
    moat_test_write_text("sub/pyproject.toml", "[project]\nname = \"app\"\n[tool.black]\nx = 1\n");
    assert_int_equal(moat_config_load(&src, &c, &err), MOAT_ECONFIG);
    assert_string_equal(err, "no [tool.moat] table in sub/pyproject.toml");
    free(err);
    assert_int_equal(rename("sub/pyproject.toml", "pyproject.toml"), 0);
    assert_int_equal(moat_config_load(NULL, &c, &err), 0);
    assert_null(c->source);
    check_defaults(c);
    moat_config_free(c);

    moat_test_write_text("pyproject.toml", "[tool]\nmoat = \"yes\"\n");
    assert_int_equal(moat_config_load(NULL, &c, &err), MOAT_ECONFIG);
    assert_string_equal(err, "pyproject.toml:2:8: 'tool.moat' must be a table, found a string");
    free(err);

    /* moat.toml wins over pyproject.toml */
    moat_test_write_text("pyproject.toml", "[tool.moat]\nworkers = 2\n");
    moat_test_write_text("moat.toml", "workers = 3\n");
    assert_int_equal(moat_config_load(NULL, &c, &err), 0);
    assert_string_equal(c->source, "moat.toml");
    assert_int_equal(c->workers, 3);
    moat_config_free(c);

    /* a file named otherwise is moat's as a whole, even with a [tool] table */
    moat_test_write_text("other.toml", "[tool.moat]\nworkers = 2\n");
    src.path = "other.toml";
    assert_int_equal(moat_config_load(&src, &c, &err), MOAT_ECONFIG);
    assert_string_equal(err, "other.toml:1:2: unknown table 'tool'");
    free(err);
}

static void test_overrides(void **state)
{
    (void)state;
    setenv("MOAT_TEST_UP", "http://10.0.0.1:9000", 1);
    moat_test_write_text("moat.toml",
                         "upstream = [\"${env:MOAT_TEST_UP}\", \"http://10.0.0.2:9000\"]\n"
                         "listen = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n");
    moat_config_source src = {.upstream = "unix:/run/cli.sock", .listen = "[::]:8443"};
    moat_config *c = NULL;
    char *err = NULL;
    assert_int_equal(moat_config_load(&src, &c, &err), 0);
    assert_int_equal(c->upstream.len, 1);
    assert_string_equal(c->upstream.items[0], "unix:/run/cli.sock");
    assert_int_equal(c->listen.len, 1);
    assert_string_equal(c->listen.items[0], "[::]:8443");
    char *d = dump(c);
    assert_non_null(strstr(d, "\nupstream = [\"unix:/run/cli.sock\"]\n"));
    assert_non_null(strstr(d, "\nlisten = [\"[::]:8443\"]\n"));
    assert_null(strstr(d, "MOAT_TEST_UP"));
    free(d);
    moat_config_free(c);

    /* Overrides are checked like file values, and named by their option. */
    src.upstream = "https://app:443";
    src.listen = "localhost:80";
    assert_int_equal(moat_config_load(&src, &c, &err), MOAT_ECONFIG);
    assert_string_equal(err, "--upstream: invalid 'upstream' value \"https://app:443\": https:// "
                             "upstreams are not supported yet: use http://HOST:PORT or "
                             "unix:/path\n"
                             "--listen: invalid 'listen' value \"localhost:80\": host names are "
                             "not accepted here: write an IP address (127.0.0.1 for this machine "
                             "only, 0.0.0.0 for every interface)");
    free(err);

    /* With no file at all. */
    assert_int_equal(unlink("moat.toml"), 0);
    src.upstream = "http://[::1]:8000";
    src.listen = NULL;
    assert_int_equal(moat_config_load(&src, &c, &err), 0);
    assert_null(c->source);
    assert_string_equal(c->upstream.items[0], "http://[::1]:8000");
    assert_string_equal(c->listen.items[0], "127.0.0.1:8080");
    moat_config_free(c);
    unsetenv("MOAT_TEST_UP");
}

/* ---- dump and docs -------------------------------------------------------- */

static void assert_same_values(const moat__config_setting *s, const void *a, const void *b)
{
    const char *pa = (const char *)a + s->offset, *pb = (const char *)b + s->offset;
    switch (s->type) {
    case MOAT__CFG_BOOL:
        assert_int_equal(*(const bool *)pa, *(const bool *)pb);
        break;
    case MOAT__CFG_COUNT:
    case MOAT__CFG_SIZE:
    case MOAT__CFG_DURATION:
    case MOAT__CFG_WORKERS:
        assert_true(*(const uint64_t *)pa == *(const uint64_t *)pb);
        break;
    case MOAT__CFG_DATE:
    case MOAT__CFG_STRING:
    case MOAT__CFG_ENUM: {
        const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;
        assert_int_equal(sa == NULL, sb == NULL); /* unset entry keys */
        if (sa) assert_string_equal(sa, sb);
        break;
    }
    case MOAT__CFG_LIST: {
        const moat_strlist *la = (const moat_strlist *)pa, *lb = (const moat_strlist *)pb;
        assert_int_equal(la->len, lb->len);
        for (size_t j = 0; j < la->len; j++)
            assert_string_equal(la->items[j], lb->items[j]);
        break;
    }
    }
}

static void assert_same_config(const moat_config *a, const moat_config *b)
{
    for (size_t t = 0; t < moat__config_ntables; t++) {
        const moat__config_table *tab = &moat__config_tables[t];
        if (!tab->array) continue;
        const moat_config_array *xa = (const void *)((const char *)a + tab->array_offset);
        const moat_config_array *xb = (const void *)((const char *)b + tab->array_offset);
        assert_int_equal(xa->len, xb->len);
        for (size_t k = 0; k < xa->len; k++)
            for (size_t i = 0; i < moat__config_nsettings; i++)
                if (moat__config_in_table(&moat__config_settings[i], tab->name))
                    assert_same_values(&moat__config_settings[i],
                                       (const char *)xa->items + k * tab->elem_size,
                                       (const char *)xb->items + k * tab->elem_size);
    }
    for (size_t i = 0; i < moat__config_nsettings; i++) {
        const moat__config_setting *s = &moat__config_settings[i];
        if (moat__config_in_array(s)) continue;
        assert_same_values(s, a, b);
        bool ra = a->refs && a->refs[i], rb = b->refs && b->refs[i];
        assert_int_equal(ra, rb);
        if (ra && rb) assert_string_equal(a->refs[i], b->refs[i]);
    }
}

/* dump(c) -> round/moat.toml -> load -> same config, same dump (but for the
 * first line, which names the source). */
static void round_trip(const moat_config *c)
{
    char *d1 = dump(c);
    mkdir("round", 0700);
    moat_test_write_text("round/moat.toml", d1);
    moat_config_source src = {.path = "round/moat.toml"};
    moat_config *c2 = NULL;
    char *err = NULL;
    if (moat_config_load(&src, &c2, &err)) fail_msg("%s\n---\n%s", err, d1);
    assert_same_config(c, c2);
    char *d2 = dump(c2);
    assert_string_equal(strchr(d1, '\n'), strchr(d2, '\n'));
    free(d1);
    free(d2);
    moat_config_free(c2);
}

static void test_dump(void **state)
{
    (void)state;
    moat_config *c = moat_config_default();
    char *d = dump(c);
    /* The top level and [limits] exactly; later tables are checked by the
     * round trip (their rows grow with the features). */
    const char *head = "# moat: effective configuration, all defaults\n"
                       "listen = [\"127.0.0.1:8080\"]\n"
                       "upstream = [\"http://127.0.0.1:8000\"]\n"
                       "hosts = []\n"
                       "workers = \"auto\"\n"
                       "trusted_proxies = []\n"
                       "user = \"nobody\"\n"
                       "group = \"nogroup\"\n"
                       "pid_file = \"\"\n"
                       "\n"
                       "[limits]\n"
                       "url_bytes = \"8KiB\"\n"
                       "header_bytes = \"16KiB\"\n"
                       "headers = 100\n"
                       "body_bytes = \"10MiB\"\n"
                       "header_timeout = \"10s\"\n"
                       "body_timeout = \"30s\"\n"
                       "keepalive_timeout = \"75s\"\n"
                       "connections = 10000\n"
                       "crowded_header_timeout = \"2s\"\n"
                       "client_buffer_bytes = \"32KiB\"\n"
                       "send_timeout = \"1m\"\n"
                       "upstream_connect_timeout = \"5s\"\n"
                       "upstream_timeout = \"1m\"\n"
                       "upstream_keepalive = 64\n"
                       "drain_timeout = \"30s\"\n"
                       "upstream_idle_timeout = \"1s\"\n"
                       "ban_strikes = 0\n"
                       "ban_window = \"1m\"\n"
                       "ban_duration = \"1h\"\n"
                       "ban_on = [\"waf\", \"paths\", \"login\", \"rate\"]\n"
                       "http2_streams = 100\n"
                       "http2_resets = 100\n"
                       "http2_control_frames = 200\n"
                       "\n";
    assert_int_equal(strncmp(d, head, strlen(head)), 0);
    assert_non_null(strstr(d, "\n[log]\naccess = \"-\"\naccess_format = \"json\"\n"));
    assert_non_null(strstr(d, "\n[tls]\nlisten = []\n"));
    assert_non_null(strstr(d, "\n[headers]\ncsp = \"default-src 'none'; script-src 'self';"));
    free(d);
    moat_config_free(c);
    /* every default, from a file: its relative paths resolved against the
     * file's folder, so the dump reloads the same from any other folder */
    c = load_ok("");
    round_trip(c);
    moat_config_free(c);

    setenv("MOAT_TEST_UP", "http://10.0.0.1:9000", 1);
    setenv("MOAT_TEST_CONN", "77", 1);
    moat_test_write_text("secret.txt", "/var/log/x.log\n");
    c = load_ok("listen = [\"0.0.0.0:80\", \"[::]:80\"]\n"
                "upstream = [\"${env:MOAT_TEST_UP}\", \"unix:/run/a \\\"b\\\".sock\"]\n"
                "hosts = [\"example.com\", \"*.example.org:8443\"]\n"
                "workers = 12\n"
                "trusted_proxies = [\"10.0.0.0/8\"]\n"
                "[limits]\n"
                "url_bytes = 1000\n"
                "body_bytes = \"10MB\"\n"
                "header_timeout = \"1500ms\"\n"
                "connections = \"${env:MOAT_TEST_CONN}\"\n"
                "upstream_timeout = 7200\n"
                "keepalive_timeout = 0\n"
                "[log]\n"
                "access = \"${file:secret.txt}\"\n"
                "access_format = \"combined\"\n");
    d = dump(c);
    assert_non_null(strstr(d, "# moat: effective configuration, from moat.toml and the "
                              "defaults\n"));
    assert_non_null(strstr(d, "\nurl_bytes = 1000\n"));
    assert_non_null(strstr(d, "\nbody_bytes = 10000000\n"));
    assert_non_null(strstr(d, "\nheader_timeout = \"1500ms\"\n"));
    assert_non_null(strstr(d, "\nupstream_timeout = \"2h\"\n"));
    assert_non_null(strstr(d, "\nkeepalive_timeout = \"0s\"\n"));
    assert_non_null(strstr(d, "\nworkers = 12\n"));
    assert_non_null(
        strstr(d, "\nupstream = [\"${env:MOAT_TEST_UP}\", \"unix:/run/a \\\"b\\\".sock\"]\n"));
    free(d);
    /* the ${file:} path is relative to round/moat.toml now */
    mkdir("round", 0700);
    moat_test_write_text("round/secret.txt", "/var/log/x.log\n");
    round_trip(c);
    moat_config_free(c);
    unsetenv("MOAT_TEST_UP");
    unsetenv("MOAT_TEST_CONN");
}

/* ---- arrays of tables ([[headers.paths]]) --------------------------------- */

/* headers.csp and headers.paths.csp parse as policies: what a browser would
 * drop in silence is an error that says why. */
static void test_csp_values(void **state)
{
    (void)state;
    static const char *const good[] = {
        "",
        "off",
        "default-src 'self'",
        "default-src 'none'; script-src 'self' 'nonce-abc123==' 'sha256-AbC+/=' "
        "'strict-dynamic'; img-src 'self' data: https://cdn.example.com *.example.com:443/x/ "
        "ws://127.0.0.1:*; upgrade-insecure-requests; report-uri /.moat/csp-report",
        "Default-Src 'SELF' ; ; sandbox allow-scripts allow-forms",
        "default-src 'self', img-src data:", /* two policies, both enforced */
    };
    for (size_t i = 0; i < MOAT_ARRAY_LEN(good); i++) {
        char *text = moat_xasprintf("[headers]\ncsp = \"%s\"\n", good[i]);
        moat_config *c = load_ok(text);
        assert_string_equal(c->headers.csp, good[i]);
        moat_config_free(c);
        free(text);
    }
    static const struct {
        const char *csp, *says;
    } bad[] = {
        {"default-src self", "'self' in default-src is a host name without quotes: keywords "
                             "need single quotes, as in 'self'"},
        {"scirpt-src 'self'", "unknown directive 'scirpt-src' (did you mean 'script-src'?)"},
        {"default-src 'self'; default-src 'none'",
         "'default-src' is given twice: browsers ignore the second (join the sources into one "
         "directive)"},
        {"default-src 'none' 'self'", "'none' in default-src beside other sources"},
        {"default-src 'self' img-src data:",
         "'img-src' in default-src is a directive name: end each directive with ';'"},
        {"default-src 'slef'", "unknown keyword 'slef' in default-src"},
        {"default-src 'self", "'self in default-src: a quoted keyword needs its closing quote"},
        {"default-src https://", "'https://' in default-src is not a source"},
        {"default-src example.com:x", "the port after ':' is missing"},
        {"upgrade-insecure-requests 1", "'upgrade-insecure-requests' takes no value"},
        {"sandbox allow-scripts foo", "'foo' in sandbox: expected a flag"},
        {"report-uri", "'report-uri' needs a value"},
        {"default-src=self", "'default-src=self' is not a directive name"},
        {" ; ", "has no directive"},
    };
    for (size_t i = 0; i < MOAT_ARRAY_LEN(bad); i++) {
        char *text = moat_xasprintf("[headers]\ncsp = \"%s\"\n", bad[i].csp);
        char *err = load_err(text);
        if (!strstr(err, bad[i].says)) fail_msg("%s: %s", bad[i].csp, err);
        assert_non_null(strstr(err, "moat.toml:2:7: invalid 'headers.csp' value"));
        free(err);
        free(text);
        text = moat_xasprintf("[[headers.paths]]\npath = \"/a/\"\ncsp = \"%s\"\n", bad[i].csp);
        err = load_err(text);
        if (!strstr(err, bad[i].says)) fail_msg("paths %s: %s", bad[i].csp, err);
        free(err);
        free(text);
    }
}

static void test_header_paths(void **state)
{
    (void)state;
    setenv("MOAT_TEST_CORP", "same-site", 1);
    moat_config *c = load_ok("[headers]\ncsp = \"default-src 'self'\"\n"
                             "[[headers.paths]]\npath = \"/admin/\"\ncsp = \"default-src 'none'\"\n"
                             "frame_options = \"SAMEORIGIN\"\n"
                             "[[headers.paths]]\npath = \"/embed/\"\nframe_options = \"off\"\n"
                             "corp = \"${env:MOAT_TEST_CORP}\"\n");
    assert_int_equal(c->headers.paths.len, 2);
    const moat_header_rule *r = c->headers.paths.items;
    assert_string_equal(r[0].path, "/admin/");
    assert_string_equal(r[0].csp, "default-src 'none'");
    assert_string_equal(r[0].frame_options, "SAMEORIGIN");
    assert_null(r[0].referrer_policy); /* unset: [headers] applies */
    assert_null(r[0].corp);
    assert_string_equal(r[1].path, "/embed/");
    assert_null(r[1].csp);
    assert_string_equal(r[1].frame_options, "off");
    assert_string_equal(r[1].corp, "same-site");
    assert_string_equal(c->headers.csp, "default-src 'self'");
    char *d = dump(c);
    assert_non_null(strstr(d, "\n[[headers.paths]]\npath = \"/admin/\"\ncsp = \"default-src "
                              "'none'\"\nframe_options = \"SAMEORIGIN\"\n\n[[headers.paths]]\n"
                              "path = \"/embed/\"\nframe_options = \"off\"\n"
                              "corp = \"${env:MOAT_TEST_CORP}\"\n"));
    assert_null(strstr(d, "same-site")); /* the reference, never its value */
    free(d);
    round_trip(c);
    moat_config_free(c);
    unsetenv("MOAT_TEST_CORP");

    expect_err("[[headers.paths]]\ncsp = \"default-src 'none'\"\n",
               "moat.toml:1:1: this [[headers.paths]] entry needs 'path'");
    expect_err("[[headers.paths]]\npath = \"admin\"\n",
               "moat.toml:2:8: invalid 'headers.paths.path' value \"admin\": expected a path "
               "starting with '/' (a path, or a glob with * ** ?, a final $ for that path "
               "alone)");
    expect_err("[[headers.paths]]\npath = \"/a\"\ncsq = \"x\"\n",
               "moat.toml:3:1: unknown setting 'headers.paths.csq' (did you mean "
               "'headers.paths.csp'?)");
    expect_err("[[headers.paths]]\npath = \"/a\"\ncsp = \"a\\r\\nX-Evil: 1\"\n",
               "moat.toml:3:7: invalid 'headers.paths.csp' value \"a\\r\\nX-Evil: 1\": must "
               "not contain line breaks or control characters");
    expect_err("[headers.paths]\npath = \"/a\"\n",
               "moat.toml:1:1: 'headers.paths' must be an array of tables ([[headers.paths]]), "
               "found a table");
    expect_err("[headers]\n\"paths.csp\" = \"x\"\n",
               "moat.toml:2:2: setting 'headers.paths.csp' belongs in a [[headers.paths]] table");
    expect_err("[[headers.paths]]\npath = \"/a\"\nremove = []\n",
               "moat.toml:3:1: unknown setting 'headers.paths.remove'");
    /* no entries: the defaults */
    c = load_ok("");
    assert_int_equal(c->headers.paths.len, 0);
    moat_config_free(c);
}

static void test_audit_ignore_dates(void **state)
{
    (void)state;
    moat_config *c =
        load_ok("[audit]\nignore = [{ id = \"PYSEC-1\", reason = \"unused\", expires = "
                "2028-02-29 }, { id = \"CVE-2\", reason = \"r\", expires = "
                "\"2027-01-31\" }, { id = \"X\", reason = \"r\" }]\n");
    assert_int_equal(c->audit.ignore.len, 3);
    const moat_audit_ignore *ig = c->audit.ignore.items;
    assert_string_equal(ig[0].id, "PYSEC-1");
    assert_string_equal(ig[0].expires, "2028-02-29");
    assert_string_equal(ig[1].expires, "2027-01-31");
    assert_null(ig[2].expires);
    round_trip(c);
    moat_config_free(c);
    expect_err("[[audit.ignore]]\nid = \"A\"\nreason = \"r\"\nexpires = \"2027-02-29\"\n",
               "moat.toml:4:11: 'audit.ignore.expires' must be a date such as 2026-12-31, found "
               "\"2027-02-29\"");
    expect_err("[[audit.ignore]]\nid = \"A\"\nreason = \"r\"\nexpires = 12\n",
               "moat.toml:4:11: 'audit.ignore.expires' must be a date such as 2026-12-31, found an "
               "integer");
    expect_err("[[audit.ignore]]\nid = \"A\"\n", "moat.toml:1:1: this [[audit.ignore]] entry needs "
                                                 "'reason'");
}

static void test_docs(void **state)
{
    (void)state;
    moat_buf b;
    moat_buf_init(&b);
    moat_config_docs(&b);
    assert_true(strncmp(b.data, "# Configuration\n", 16) == 0);
    assert_non_null(strstr(b.data, "## Where moat finds its configuration"));
    assert_non_null(strstr(b.data, "${env:NAME}"));
    assert_non_null(strstr(b.data, "\n## `[limits]`\n"));
    assert_non_null(strstr(b.data, "\n## `[log]`\n"));
    for (size_t i = 0; i < moat__config_nsettings; i++) {
        const moat__config_setting *s = &moat__config_settings[i];
        char *h = moat_xasprintf("\n### `%s`\n\n- Type: ", s->key);
        assert_non_null(strstr(b.data, h));
        free(h);
        assert_non_null(strstr(b.data, s->doc));
    }
    assert_non_null(strstr(b.data, "### `limits.body_bytes`\n\n- Type: size\n- Default: "
                                   "`\"10MiB\"`\n- Allowed: 0B to 64GiB\n"));
    assert_non_null(strstr(b.data, "### `limits.headers`\n\n- Type: integer\n- Default: "
                                   "`100`\n- Allowed: 1 to 1000\n"));
    assert_non_null(strstr(b.data, "- Allowed: `\"json\"`, `\"combined\"`\n"));
    assert_non_null(strstr(b.data, "| [`limits.header_timeout`](#limitsheader_timeout) | "
                                   "duration | `\"10s\"` |\n"));
    /* deterministic */
    moat_buf b2;
    moat_buf_init(&b2);
    moat_config_docs(&b2);
    assert_string_equal(b.data, b2.data);
    moat_buf_free(&b);
    moat_buf_free(&b2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_table_is_consistent),
        T(test_units),
        T(test_types_in_files),
        T(test_bool_type),
        T(test_check_listen),
        T(test_check_upstream),
        T(test_check_hosts),
        T(test_check_proxies),
        T(test_unknown_keys),
        T(test_type_errors),
        T(test_range_errors),
        T(test_all_errors_reported),
        T(test_file_errors),
        T(test_env_references),
        T(test_file_references),
        T(test_pyproject),
        T(test_overrides),
        T(test_dump),
        T(test_header_paths),
        T(test_csp_values),
        T(test_audit_ignore_dates),
        T(test_docs),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
