/* fuzz_audit_baseline.c - libFuzzer target for the `--baseline FILE`
 * loader (moat_audit_baseline_load, src/audit/report/baseline.c): any bytes
 * as the file must load or give an error message, never crash or leak; and
 * every fingerprint a loaded baseline holds must be found by
 * moat_audit_baseline_has. The loader reads files, so each input goes
 * through a private file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof(path), "/tmp/moat-fuzz-baseline-%d.json", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    moat_audit_baseline *b = NULL;
    char *err = NULL;
    int rc = moat_audit_baseline_load(path, &b, &err);
    if (rc == 0) {
        MOAT_BUG_ON(!b || err);
        /* what it loaded, it finds */
        json_t *root = json_loadb((const char *)data, size, 0, NULL);
        json_t *list = root ? json_object_get(root, "findings") : NULL;
        size_t i;
        json_t *item;
        json_array_foreach(list, i, item)
        {
            const char *s = json_string_value(json_object_get(item, "fingerprint"));
            MOAT_BUG_ON(!s || !moat_audit_baseline_has(b, s));
        }
        json_decref(root);
        moat_audit_baseline_free(b);
    } else {
        MOAT_BUG_ON(b || !err || !*err);
        free(err);
    }
    return 0;
}
