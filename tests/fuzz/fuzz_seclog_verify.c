/* fuzz_seclog_verify.c - libFuzzer target for the security log verifier:
 * any bytes, as one to four log files, verified with and without a key and
 * with an anchor, must give a verdict, never crash, hang or leak. The first
 * byte picks the options; "\0\1" separates files. The seeds in
 * tests/fuzz/corpus/seclog_verify are real logs sealed with the fixed key
 * K0 = 32 bytes of 0x42 (and unsealed ones), so mutations reach the MACs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seclog/internal.h"
#include "seclog/seclog.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static char *vkey;
    if (!vkey) {
        uint8_t k0[32];
        memset(k0, 0x42, sizeof(k0));
        moat_buf b;
        moat_buf_init(&b);
        moat__seclog_vkey_encode(k0, &b);
        vkey = moat_buf_steal(&b);
    }
    /* Each epoch step is an HMAC: keep crafted epoch numbers cheap. */
    moat__seclog_verify_max_epoch_jump = 256;
    if (size < 1) return 0;
    unsigned mode = data[0];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    moat_seclog_input in[4];
    size_t n = 0;
    while (n < 4) {
        const char *sep = NULL;
        for (const char *q = p; q + 1 < end; q++)
            if (q[0] == '\0' && q[1] == '\1') {
                sep = q;
                break;
            }
        in[n].name = n == 0 ? "a" : n == 1 ? "b" : n == 2 ? "c" : "d";
        in[n].data = p;
        in[n].len = (size_t)((sep && n < 3 ? sep : end) - p);
        n++;
        if (!sep || n == 4) break;
        p = sep + 2;
    }
    moat_seclog_verify_opts o = {.key = (mode & 1) ? vkey : NULL,
                                 .anchor = (mode & 2) ? "5:0123456789abcdef" : NULL};
    moat_seclog_verdict v;
    moat_seclog_verify(in, n, &o, &v);
    moat_seclog_verdict_free(&v);
    /* The line readers on their own. */
    const char *line = in[0].data, *stop = in[0].data + in[0].len;
    while (line < stop) {
        const char *nl = memchr(line, '\n', (size_t)(stop - line));
        size_t len = (size_t)((nl ? nl : stop) - line);
        moat_seclog_entry e;
        if (moat_seclog_entry_parse(line, len, &e) == 0) moat_seclog_entry_free(&e);
        uint64_t seq, epoch;
        uint8_t mac[32];
        size_t plen;
        moat__seclog_frame(line, len, &seq, &epoch, mac, &plen);
        line = nl ? nl + 1 : stop;
    }
    return 0;
}
