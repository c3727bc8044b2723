/* toml.c - temporary: replaced by the TOML reader. */
#include "core.h"
int moat_toml_parse(const char *src, size_t len, moat_toml_value **out, moat_toml_error *err)
{
    (void)src; (void)len; *out = NULL; err->line = 1; err->col = 1; err->message[0] = 0;
    return MOAT_EPARSE;
}
void moat_toml_free(moat_toml_value *v) { (void)v; }
const moat_toml_value *moat_toml_get(const moat_toml_value *t, const char *k) { (void)t; (void)k; return NULL; }
const char *moat_toml_type_name(moat_toml_type t) { (void)t; return "?"; }
