/* error.c - moat_strerror() generated from MOAT_ERRNO_MAP, and the invariant
 * failure path. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>

const char *moat_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define MOAT__ERR_CASE(name, msg)                                                                  \
    case MOAT_E##name:                                                                             \
        return msg;
        MOAT_ERRNO_MAP(MOAT__ERR_CASE)
#undef MOAT__ERR_CASE
    default:
        return "unknown error";
    }
}

_Noreturn void moat__bug(const char *file, int line, const char *what)
{
    fprintf(stderr, "moat: internal invariant broken at %s:%d: %s\n", file, line, what);
    abort();
}
