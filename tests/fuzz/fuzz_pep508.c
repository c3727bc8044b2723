/* fuzz_pep508.c - libFuzzer target for PEP 508: the input is parsed as a
 * requirement and, separately, evaluated as a marker against a fixed
 * environment. Results must be 0/1 or an error with a message. Seeds in
 * tests/fuzz/corpus/pep508/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/deps/deps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    moat_marker_env env = {0};
    char *err = NULL;
    moat_marker_env_init(&env, NULL, "3.11.4", &err);
    free(err);
    moat_pep508_req r;
    if (moat_pep508_parse((const char *)data, size, &r, &err) == 0) {
        MOAT_BUG_ON(!r.name || !r.spec);
        if (r.marker) {
            int v = moat_marker_eval(r.marker, &env, "", &err);
            MOAT_BUG_ON(v < 0 && !err);
            free(err);
        }
        moat_pep508_clear(&r);
    } else {
        MOAT_BUG_ON(!err);
        free(err);
    }
    char *m = moat_xstrndup((const char *)data, size);
    err = NULL;
    int v = moat_marker_eval(m, &env, "dev", &err);
    MOAT_BUG_ON(v != 0 && v != 1 && !err);
    free(err);
    free(m);
    moat_marker_env_clear(&env);
    return 0;
}
