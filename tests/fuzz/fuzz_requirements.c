/* fuzz_requirements.c - libFuzzer target for pip's requirements format: the
 * input is parsed as a requirements.txt (includes it names are looked up
 * beside a path that does not exist, so they fail cleanly), with markers
 * evaluated against a fixed environment. Every dependency it yields must
 * carry a normalised name and a file. Seeds in tests/fuzz/corpus/requirements/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/deps/deps_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    moat_marker_env env = {0};
    char *err = NULL;
    moat_marker_env_init(&env, NULL, "3.11", &err);
    free(err);
    moat_deps d;
    moat_deps_init(&d, &env, NULL);
    moat__deps_parse_requirements(&d, "/nonexistent-moat-fuzz/requirements.txt", (const char *)data,
                                  size);
    for (size_t i = 0; i < d.len; i++) {
        MOAT_BUG_ON(!d.v[i].name || !d.v[i].file);
        MOAT_BUG_ON(!d.v[i].version && !d.v[i].spec && !d.v[i].note);
    }
    moat_deps_free(&d);
    moat_marker_env_clear(&env);
    return 0;
}
