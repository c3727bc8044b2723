/* fuzz_pep440.c - libFuzzer target for PEP 440: the input is parsed as a
 * version and as a specifier set. Invariants: a version equals itself, its
 * normalised text parses back to an equal version, and matching never
 * crashes. Seeds in tests/fuzz/corpus/pep440/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/deps/deps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    moat_pep440 *v = NULL;
    if (moat_pep440_parse(s, size, &v) == 0) {
        MOAT_BUG_ON(moat_pep440_cmp(v, v) != 0);
        char *t = moat_pep440_str(v);
        moat_pep440 *w = NULL;
        MOAT_BUG_ON(moat_pep440_parse(t, strlen(t), &w) != 0);
        MOAT_BUG_ON(moat_pep440_cmp(v, w) != 0);
        moat_pep440_free(w);
        free(t);
    }
    moat_pep440_specset *set = NULL;
    if (moat_pep440_specset_parse(s, size, &set, NULL) == 0) {
        char *t = moat_pep440_specset_str(set);
        if (v) {
            (void)moat_pep440_specset_contains(set, v, -1);
            (void)moat_pep440_specset_contains(set, v, 1);
        }
        moat_pep440 *one = NULL;
        if (moat_pep440_parse("1.0", 3, &one) == 0) {
            (void)moat_pep440_specset_contains(set, one, -1);
            moat_pep440_free(one);
        }
        free(t);
        moat_pep440_specset_free(set);
    }
    moat_pep440_free(v);
    return 0;
}
