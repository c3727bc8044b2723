/* fuzz_http_authority.c - the Host parser (moat_http_authority_parse) and
 * the allow-list's view of it: whatever it accepts is host[:port] with a
 * name of DNS characters or an IP literal and a port 1..65535, so no byte a
 * list or URL parser downstream would split on (',', '@', '/', '%', ';',
 * whitespace) ever passes. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *v = (const char *)data;
    const char *name;
    size_t nlen;
    int port;
    if (moat_http_authority_parse(v, size, &name, &nlen, &port) != 0) return 0;
    assert(name == v && nlen >= 1 && nlen <= size);
    assert(port == -1 || (port >= 1 && port <= 65535));
    assert(port != -1 || nlen == size);
    for (size_t i = 0; i < size; i++) {
        unsigned char c = data[i];
        assert(c > 0x20 && c < 0x7f);
        assert(!strchr(",@/%;?#\\\"'<>{}|^`", c));
    }
    if (v[0] == '[') assert(v[nlen - 1] == ']');
    return 0;
}
