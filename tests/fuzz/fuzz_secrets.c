/* fuzz_secrets.c - libFuzzer target for the secrets analyser: the first
 * byte picks the file kind (code, .env, notebook, other), the rest is the
 * file. Every finding must point inside the input (line and column), carry
 * a snippet without the line ending, and the list must finish (sort and
 * fingerprint) cleanly. Crashes, leaks, sanitizer reports and timeouts are
 * the findings; inputs that found bugs go to tests/fuzz/corpus/secrets/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/secrets/secrets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static moat_secrets *S;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"app.py", ".env", "nb.ipynb", "notes.txt"};
    if (!S && moat_secrets_new(&S) < 0) abort();
    if (size == 0) return 0;
    const char *path = paths[data[0] % 4];
    size--;
    /* A private copy, so reads past the end are caught by ASan. */
    char *src = malloc(size ? size : 1);
    if (!src) return 0;
    memcpy(src, data + 1, size);
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += src[i] == '\n';
    moat_audit_findings f = {0};
    size_t suppressed = 0;
    MOAT_BUG_ON(moat_secrets_scan(S, path, src, size, &f, &suppressed) != 0);
    for (size_t i = 0; i < f.len; i++) {
        const moat_audit_finding *x = &f.v[i];
        MOAT_BUG_ON(x->line < 1 || x->line > lines || x->col < 1 || x->col > size);
        MOAT_BUG_ON(!x->snippet || strchr(x->snippet, '\n'));
        MOAT_BUG_ON(!x->rule || strncmp(x->rule, "MOAT-S-", 7) != 0);
        MOAT_BUG_ON(!x->message || strchr(x->message, '\n'));
    }
    moat_audit_findings_finish(&f);
    moat_audit_findings_free(&f);
    /* moat_secrets_mask: only '*' replaces bytes, never a line ending, and
     * the length stays */
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, src, size);
        text[size] = '\0';
        size_t n = strlen(text);
        char *orig = malloc(n + 1);
        if (orig) {
            memcpy(orig, text, n + 1);
            moat_secrets_mask(S, path, text);
            MOAT_BUG_ON(strlen(text) != n);
            for (size_t i = 0; i < n; i++)
                MOAT_BUG_ON(text[i] != orig[i] && (text[i] != '*' || orig[i] == '\n'));
            free(orig);
        }
        free(text);
    }
    free(src);
    return 0;
}
