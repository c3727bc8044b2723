/* fuzz_acme.c - libFuzzer target for what moat reads from an ACME CA: the
 * input is parsed as a directory, an order, an authorization (for both
 * challenge types moat answers) and a problem document, so every check in
 * src/acme/parse.c runs on it. Seeds in tests/fuzz/corpus/acme/. */
#include <stdint.h>
#include <stdlib.h>

#include "acme/acme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char *err = NULL;
    moat_acme_directory d;
    if (moat_acme_parse_directory(text, size, &d, &err) == 0) moat_acme_directory_free(&d);
    free(err);
    err = NULL;
    moat_acme_order o;
    if (moat_acme_parse_order(text, size, &o, &err) == 0) moat_acme_order_free(&o);
    free(err);
    static const char *const types[] = {"tls-alpn-01", "http-01"};
    for (size_t i = 0; i < 2; i++) {
        err = NULL;
        moat_acme_authz a;
        if (moat_acme_parse_authz(text, size, types[i], &a, &err) == 0) moat_acme_authz_free(&a);
        free(err);
    }
    moat_acme_problem p;
    if (moat_acme_parse_problem(text, size, &p) == 0) moat_acme_problem_free(&p);
    return 0;
}
