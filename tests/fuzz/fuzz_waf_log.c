/* fuzz_waf_log.c - libFuzzer target for the reader of the WAF engine's log
 * lines (moat__waf_note_match): the lines quote request data, so any bytes,
 * split into lines at '\n', must fill a bounded verdict and never crash or
 * overrun. Seeds in tests/fuzz/corpus/waf_log are real libmodsecurity lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "waf/internal.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *text = moat_xstrndup((const char *)data, size);
    moat_waf_verdict v;
    memset(&v, 0, sizeof(v));
    char *line = text;
    while (line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        moat__waf_note_match(&v, line);
        line = nl ? nl + 1 : NULL;
    }
    if (v.nmatches > MOAT_WAF_MAX_MATCHES) abort();
    for (size_t i = 0; i < v.nmatches; i++)
        if (strlen(v.matches[i].data) > 96 || strlen(v.matches[i].id) >= sizeof(v.matches[i].id))
            abort();
    free(text);
    return 0;
}
