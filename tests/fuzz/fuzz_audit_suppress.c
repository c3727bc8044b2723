/* fuzz_audit_suppress.c - libFuzzer target for the suppression comments
 * (`# nosec [IDS]`, `# moat: ignore[IDS]`, `# pragma: allowlist secret`;
 * moat_audit_suppressed, src/audit/report/suppress.c), read from every line
 * of the files the auditor scans. The first two bytes pick the line range,
 * the third the rule id and finding kind; the rest is the file. Beyond
 * crashes and overreads (the text is not NUL-terminated here), a range is
 * covered exactly when one of its lines is. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    static const char *const rules[] = {"B608", "MOAT-C101", "security.W004", "x"};
    static const char *const kinds[] = {"code", "secret", "dependency", ""};
    unsigned first = data[0] % 8, last = data[1] % 8;
    const char *rule = rules[data[2] & 3];
    const char *kind = kinds[(data[2] >> 2) & 3];
    size_t len = size - 3;
    /* an exact-size copy, so ASan sees a read past the end */
    char *text = malloc(len ? len : 1);
    if (!text) return 0;
    memcpy(text, data + 3, len);
    bool any = moat_audit_suppressed(text, len, first, last, rule, kind);
    if (first > 0) {
        bool one = false;
        unsigned hi = last < first ? first : last;
        for (unsigned l = first; l <= hi && !one; l++)
            one = moat_audit_suppressed(text, len, l, l, rule, kind);
        MOAT_BUG_ON(any != one);
    } else {
        MOAT_BUG_ON(any);
    }
    /* Python comments: ascending offsets of '#' bytes; the Python form
     * only ever suppresses what the text form does */
    size_t nc = 0;
    size_t *cm = moat_audit_py_comments(text, len, &nc);
    for (size_t i = 0; i < nc; i++) {
        MOAT_BUG_ON(cm[i] >= len || text[cm[i]] != '#');
        MOAT_BUG_ON(i > 0 && cm[i] <= cm[i - 1]);
    }
    bool py = moat_audit_suppressed_py(text, len, cm, nc, first, last, rule, kind);
    MOAT_BUG_ON(py && !any);
    free(cm);
    free(text);
    return 0;
}
