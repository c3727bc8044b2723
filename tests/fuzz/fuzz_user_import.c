/* fuzz_user_import.c - libFuzzer target for the parser of `moat user import`
 * files (CSV and JSON): parses the input, checks the rows it accepts (no
 * hashing is run) and frees everything. Crashes, leaks, sanitizer reports
 * and timeouts are the findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = moat_xstrndup((const char *)data, size);
    moat_import im;
    char *err = NULL;
    int rc = moat_import_parse("fuzz.csv", text, strlen(text), &im, &err);
    if (rc == 0) {
        MOAT_BUG_ON(err != NULL);
        for (size_t i = 0; i < im.n; i++)
            MOAT_BUG_ON(!im.rows[i].name || !im.rows[i].hash);
        if (moat_import_check(&im, "fuzz.csv", &err) < 0) MOAT_BUG_ON(!err || !err[0]);
        moat_import_free(&im);
    } else {
        MOAT_BUG_ON(rc != MOAT_EPARSE || !err || strncmp(err, "fuzz.csv:", 9) != 0);
        MOAT_BUG_ON(im.n != 0);
    }
    free(err);
    free(text);
    return 0;
}
