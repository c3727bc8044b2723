/* test_decode.c - unit tests of the content-coding decoder (decode.c): the
 * Content-Encoding list, each coding fed whole and a byte at a time, gzip
 * members, zlib vs raw deflate, lists decoded last coding first, the output
 * cap, bombs, and every way a body can fail to decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "http/http.h"

static const char text[] = "Traceback (most recent call last):\n  File \"app.py\", line 1\n"
                           "KeyError: 'the quick brown fox jumps over the lazy dog'\n";

/* Compresses in with zlib's windowBits (31 gzip, 15 zlib, -15 raw). */
static void zcomp(const void *in, size_t len, int wbits, moat_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, wbits, 9, Z_DEFAULT_STRATEGY), Z_OK);
    moat_buf_reserve(out, deflateBound(&z, (uLong)len) + 64);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = (unsigned char *)out->data + out->len;
    z.avail_out = (uInt)(out->cap - out->len);
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out->len += z.total_out;
    deflateEnd(&z);
}

static moat_http_decoder *dec_new(const char *codings, size_t cap)
{
    moat_http_decoder *d = NULL;
    const char *why = NULL;
    assert_int_equal(moat_http_decoder_new(codings, strlen(codings), cap, &d, &why), 0);
    assert_non_null(d);
    return d;
}

/* Decodes body with codings, whole or a byte at a time; returns the
 * first non-zero result (or finish's) and the output in out. */
static int run(const char *codings, const moat_buf *body, size_t cap, bool bytewise, moat_buf *out)
{
    moat_http_decoder *d = dec_new(codings, cap);
    int rc = 0;
    if (bytewise) {
        for (size_t i = 0; i < body->len && rc == 0; i++)
            rc = moat_http_decoder_feed(d, body->data + i, 1, out);
    } else {
        rc = moat_http_decoder_feed(d, body->data, body->len, out);
    }
    if (rc == 0) rc = moat_http_decoder_finish(d, out);
    moat_http_decoder_free(d);
    return rc;
}

static void test_codings_list(void **state)
{
    (void)state;
    moat_http_decoder *d;
    const char *why;
    const char *none[] = {"", "identity", " IDENTITY ", ",, identity ,"};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        d = (moat_http_decoder *)1;
        assert_int_equal(moat_http_decoder_new(none[i], strlen(none[i]), 100, &d, &why), 0);
        assert_null(d);
    }
    const char *bad[] = {"compress",
                         "zstd",
                         "gzip, zstd",
                         "gzip;q=1",
                         "gzipx",
                         "x-compress",
                         "gzip,gzip,gzip,gzip,gzip"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_int_equal(moat_http_decoder_new(bad[i], strlen(bad[i]), 100, &d, &why), MOAT_EINVAL);
        assert_null(d);
        assert_non_null(why);
    }
    const char *good[] = {"gzip",
                          "x-gzip",
                          "GZip",
                          "deflate",
                          "br",
                          "gzip, br",
                          "br,\tgzip",
                          "gzip,,identity,br",
                          "gzip,gzip,gzip,gzip"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        moat_http_decoder_free(dec_new(good[i], 100));
}

static void check_roundtrip(const char *codings, int wbits)
{
    moat_buf enc, out;
    moat_buf_init(&enc);
    zcomp(text, sizeof(text) - 1, wbits, &enc);
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        moat_buf_init(&out);
        assert_int_equal(run(codings, &enc, 4096, bytewise, &out), 0);
        assert_int_equal(out.len, sizeof(text) - 1);
        assert_memory_equal(out.data, text, out.len);
        moat_buf_free(&out);
    }
    moat_buf_free(&enc);
}

static void test_gzip_deflate(void **state)
{
    (void)state;
    check_roundtrip("gzip", 31);
    check_roundtrip("x-gzip", 31);
    check_roundtrip("deflate", 15);  /* zlib-wrapped */
    check_roundtrip("deflate", -15); /* raw, as some servers send it */
}

static void test_gzip_members(void **state)
{
    (void)state;
    /* Two members: both decoded (some browsers show the second). */
    moat_buf enc, out;
    moat_buf_init(&enc);
    moat_buf_init(&out);
    zcomp("first ", 6, 31, &enc);
    zcomp("second", 6, 31, &enc);
    assert_int_equal(run("gzip", &enc, 100, false, &out), 0);
    assert_int_equal(out.len, 12);
    assert_memory_equal(out.data, "first second", 12);
    /* Garbage after the member: not a valid body. */
    moat_buf_reset(&out);
    moat_buf_append(&enc, "junk", 4);
    assert_int_equal(run("gzip", &enc, 100, false, &out), MOAT_EPARSE);
    moat_buf_free(&enc);
    moat_buf_free(&out);
}

static void test_broken_streams(void **state)
{
    (void)state;
    moat_buf enc, bad, out;
    moat_buf_init(&enc);
    moat_buf_init(&out);
    zcomp(text, sizeof(text) - 1, 31, &enc);
    /* cut short */
    moat_buf_init(&bad);
    moat_buf_append(&bad, enc.data, enc.len - 5);
    assert_int_equal(run("gzip", &bad, 4096, false, &out), MOAT_EPARSE);
    moat_buf_free(&bad);
    /* a wrong CRC */
    moat_buf_init(&bad);
    moat_buf_append(&bad, enc.data, enc.len);
    bad.data[bad.len - 8] ^= 1;
    assert_int_equal(run("gzip", &bad, 4096, true, &out), MOAT_EPARSE);
    moat_buf_free(&bad);
    /* not gzip at all */
    moat_buf_init(&bad);
    moat_buf_append(&bad, text, sizeof(text) - 1);
    assert_int_equal(run("gzip", &bad, 4096, false, &out), MOAT_EPARSE);
    assert_int_equal(run("deflate", &bad, 4096, false, &out), MOAT_EPARSE);
    assert_int_equal(run("br", &bad, 4096, false, &out), MOAT_EPARSE);
    moat_buf_free(&bad);
    /* zlib stream with trailing bytes */
    moat_buf_init(&bad);
    zcomp(text, sizeof(text) - 1, 15, &bad);
    moat_buf_append(&bad, "x", 1);
    assert_int_equal(run("deflate", &bad, 4096, false, &out), MOAT_EPARSE);
    moat_buf_free(&bad);
    /* one byte of deflate: cannot even tell zlib from raw */
    moat_buf_init(&bad);
    moat_buf_append(&bad, "x", 1);
    assert_int_equal(run("deflate", &bad, 4096, false, &out), MOAT_EPARSE);
    moat_buf_free(&bad);
    /* no body at all: nothing to decode, nothing wrong */
    moat_buf_init(&bad);
    assert_int_equal(run("gzip, br", &bad, 4096, false, &out), 0);
    moat_buf_free(&enc);
    moat_buf_free(&out);
}

static void test_cap(void **state)
{
    (void)state;
    moat_buf enc, out;
    moat_buf_init(&enc);
    moat_buf_init(&out);
    size_t n = sizeof(text) - 1;
    zcomp(text, n, 31, &enc);
    assert_int_equal(run("gzip", &enc, n, false, &out), 0); /* exactly the cap */
    assert_int_equal(out.len, n);
    moat_buf_reset(&out);
    assert_int_equal(run("gzip", &enc, n - 1, true, &out), MOAT_ETOOBIG);
    assert_int_equal(out.len, n - 1);
    assert_memory_equal(out.data, text, n - 1);
    /* every later feed says the same */
    moat_http_decoder *d = dec_new("gzip", 10);
    assert_int_equal(moat_http_decoder_feed(d, enc.data, enc.len, &out), MOAT_ETOOBIG);
    assert_int_equal(moat_http_decoder_feed(d, enc.data, 1, &out), MOAT_ETOOBIG);
    assert_int_equal(moat_http_decoder_finish(d, &out), MOAT_ETOOBIG);
    moat_http_decoder_free(d);
    moat_buf_free(&enc);
    moat_buf_free(&out);
}

static void test_lists_and_bombs(void **state)
{
    (void)state;
    /* "deflate, gzip": deflate applied first, so gzip is undone first. */
    moat_buf inner, outer, out;
    moat_buf_init(&inner);
    moat_buf_init(&outer);
    moat_buf_init(&out);
    zcomp(text, sizeof(text) - 1, 15, &inner);
    zcomp(inner.data, inner.len, 31, &outer);
    assert_int_equal(run("deflate, gzip", &outer, 4096, true, &out), 0);
    assert_int_equal(out.len, sizeof(text) - 1);
    moat_buf_reset(&out);
    assert_int_equal(run("gzip, deflate", &outer, 4096, false, &out), MOAT_EPARSE);
    /* A bomb: 8 MiB of zeros in two layers stops at the cap. */
    size_t big = 8u << 20;
    char *zeros = calloc(1, big);
    moat_buf_reset(&inner);
    moat_buf_reset(&outer);
    zcomp(zeros, big, 31, &inner);
    zcomp(inner.data, inner.len, 31, &outer);
    moat_buf_reset(&out);
    assert_int_equal(run("gzip, gzip", &outer, 65536, false, &out), MOAT_ETOOBIG);
    assert_int_equal(out.len, 65536);
    /* The inner layers are bounded too: raw deflate made of a million
     * empty stored blocks decodes to nothing, yet its gzip wrapper must not
     * be unwrapped for ever. */
    moat_buf empty;
    moat_buf_init(&empty);
    for (int i = 0; i < 1000000; i++)
        moat_buf_append(&empty, "\x00\x00\x00\xff\xff", 5);
    moat_buf_append(&empty, "\x01\x00\x00\xff\xff", 5);
    moat_buf_reset(&out);
    assert_int_equal(run("deflate", &empty, 1024, false, &out), 0); /* alone: fine, empty */
    assert_int_equal(out.len, 0);
    moat_buf_reset(&outer);
    zcomp(empty.data, empty.len, 31, &outer);
    assert_true(outer.len < 65536);
    assert_int_equal(run("deflate, gzip", &outer, 1024, false, &out), MOAT_ETOOBIG);
    moat_buf_free(&empty);
    free(zeros);
    moat_buf_free(&inner);
    moat_buf_free(&outer);
    moat_buf_free(&out);
}

static void test_brotli(void **state)
{
    (void)state;
    /* brotli.compress(b"hello brotli, hello brotli, hello brotli!") */
    static const char br[] = "\x1b\x28\x00\xf8\x05\x6a\x87\xd3\xfa\xed\xad\x53\x44\x71\x3c\xa9"
                             "\x14\x61\x2a\x1e\x08\xa7\xc1\xaa\xf3\xb3\x29\x01";
    static const char want[] = "hello brotli, hello brotli, hello brotli!";
    moat_buf enc, out;
    moat_buf_init(&enc);
    moat_buf_init(&out);
    moat_buf_append(&enc, br, sizeof(br) - 1);
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        moat_buf_reset(&out);
        assert_int_equal(run("br", &enc, 4096, bytewise, &out), 0);
        assert_int_equal(out.len, sizeof(want) - 1);
        assert_memory_equal(out.data, want, out.len);
    }
    moat_buf_reset(&out);
    assert_int_equal(run("br", &enc, 10, false, &out), MOAT_ETOOBIG);
    assert_int_equal(out.len, 10);
    /* br then gzip: "br, gzip" */
    moat_buf gz;
    moat_buf_init(&gz);
    zcomp(br, sizeof(br) - 1, 31, &gz);
    moat_buf_reset(&out);
    assert_int_equal(run("br, gzip", &gz, 4096, true, &out), 0);
    assert_int_equal(out.len, sizeof(want) - 1);
    /* cut short, and with a byte after the end */
    moat_buf_reset(&out);
    enc.len -= 3;
    assert_int_equal(run("br", &enc, 4096, false, &out), MOAT_EPARSE);
    enc.len += 3;
    moat_buf_append(&enc, "x", 1);
    assert_int_equal(run("br", &enc, 4096, false, &out), MOAT_EPARSE);
    moat_buf_free(&gz);
    moat_buf_free(&enc);
    moat_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codings_list), cmocka_unit_test(test_gzip_deflate),
        cmocka_unit_test(test_gzip_members), cmocka_unit_test(test_broken_streams),
        cmocka_unit_test(test_cap),          cmocka_unit_test(test_lists_and_bombs),
        cmocka_unit_test(test_brotli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
