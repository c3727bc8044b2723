/* fuzz_toml.c - libFuzzer target for the TOML reader: parses the input, and
 * for a document it accepts walks the whole tree (checking the invariants a
 * consumer relies on and looking every key up again) before freeing it.
 * Crashes, leaks, sanitizer reports and timeouts are the findings; inputs
 * that found bugs are kept in tests/fuzz/corpus/toml/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const moat_toml_value *v, int depth)
{
    size_t n = 1;
    MOAT_BUG_ON(depth > 1000);
    MOAT_BUG_ON(v->line < 1 || v->col < 1);
    MOAT_BUG_ON(strcmp(moat_toml_type_name(v->type), "unknown") == 0);
    switch (v->type) {
    case MOAT_TOML_STRING:
        MOAT_BUG_ON(v->u.str.ptr[v->u.str.len] != '\0');
        break;
    case MOAT_TOML_DATETIME:
    case MOAT_TOML_DATETIME_LOCAL:
    case MOAT_TOML_DATE_LOCAL:
    case MOAT_TOML_TIME_LOCAL:
        MOAT_BUG_ON(strlen(v->u.datetime) < 8);
        break;
    case MOAT_TOML_ARRAY:
        for (size_t i = 0; i < v->u.array.len; i++)
            n += walk(v->u.array.items[i], depth + 1);
        break;
    case MOAT_TOML_TABLE:
        for (size_t i = 0; i < v->u.table.len; i++) {
            const moat_toml_kv *kv = &v->u.table.items[i];
            MOAT_BUG_ON(kv->key[kv->key_len] != '\0');
            /* Keys without NUL bytes must be found again by lookup. */
            if (strlen(kv->key) == kv->key_len) MOAT_BUG_ON(moat_toml_get(v, kv->key) != kv->value);
            n += walk(kv->value, depth + 1);
        }
        break;
    default:
        break;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, so reads past the end are caught by ASan. */
    char *src = malloc(size ? size : 1);
    if (!src) return 0;
    if (size) memcpy(src, data, size);
    moat_toml_value *root = NULL;
    moat_toml_error err;
    int rc = moat_toml_parse(src, size, &root, &err);
    MOAT_BUG_ON((rc == 0) != (root != NULL));
    if (root) {
        MOAT_BUG_ON(root->type != MOAT_TOML_TABLE);
        walk(root, 0);
        moat_toml_free(root);
    } else {
        MOAT_BUG_ON(rc != MOAT_EPARSE);
        MOAT_BUG_ON(err.line < 1 || err.col < 1);
        MOAT_BUG_ON(memchr(err.message, '\0', sizeof(err.message)) == NULL);
        MOAT_BUG_ON(err.message[0] == '\0');
    }
    free(src);
    return 0;
}
