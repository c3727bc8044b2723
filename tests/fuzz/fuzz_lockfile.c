/* fuzz_lockfile.c - libFuzzer target for the lock-file and pyproject
 * readers: the first byte picks the format (pyproject.toml, poetry.lock,
 * uv.lock, pdm.lock, pylock.toml, Pipfile.lock), the rest is the file.
 * Seeds in tests/fuzz/corpus/lockfile/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/deps/deps_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"x/pyproject.toml", "x/poetry.lock", "x/uv.lock",
                                        "x/pdm.lock",       "x/pylock.toml", "x/Pipfile.lock"};
    if (size < 1) return 0;
    moat_marker_env env = {0};
    char *err = NULL;
    moat_marker_env_init(&env, NULL, "3.11", &err);
    free(err);
    moat_deps d;
    moat_deps_init(&d, &env, NULL);
    moat__deps_parse_lock(&d, names[data[0] % MOAT_ARRAY_LEN(names)], (const char *)data + 1,
                          size - 1);
    for (size_t i = 0; i < d.len; i++)
        MOAT_BUG_ON(!d.v[i].name);
    moat_deps_free(&d);
    moat_marker_env_clear(&env);
    return 0;
}
