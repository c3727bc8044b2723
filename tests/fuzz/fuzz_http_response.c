/* fuzz_http_response.c - libFuzzer target for the response parser: the same
 * harness as fuzz_http_request.c (whole run against a run cut and paused at
 * random, invariants on every head, http-parser as the differential oracle of
 * every response handed on), built for upstream responses; whether the
 * request was HEAD is drawn from the input's hash. */
#define FUZZ_HTTP_RESPONSE 1
#include "fuzz_http_request.c"
