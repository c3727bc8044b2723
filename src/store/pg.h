/* pg.h - inside the store: what `moat store` needs of the PostgreSQL
 * backend beyond backend.h's contract. */
#ifndef MOAT_STORE_PG_H
#define MOAT_STORE_PG_H

#include "backend.h"

/* As moat__pg_open, but a database without moat's schema, or with an older
 * or newer one, is opened too: for ->migrate only (`moat store migrate`). */
int moat__pg_open_migrate(const char *url, moat__backend **out, char **errmsg);
/* The URL the backend was opened with, its password cut out. */
const char *moat__pg_shown(moat__backend *b);

#endif
