/* dump.c - the effective settings as TOML, generated from the settings
 * table. The output is a valid moat.toml: loading it gives the same config.
 * Values that came from ${env:...} / ${file:...} references are printed as
 * the references (kept in moat_config.refs), never as the secrets they hold. */
#include "settings.h"

#include <inttypes.h>
#include <string.h>

void moat__config_put_value(moat_buf *b, const moat__config_setting *s, const void *base)
{
    const void *p = (const char *)base + s->offset;
    switch (s->type) {
    case MOAT__CFG_BOOL:
        moat_buf_puts(b, *(const bool *)p ? "true" : "false");
        break;
    case MOAT__CFG_COUNT:
        moat_buf_printf(b, "%" PRIu64, *(const uint64_t *)p);
        break;
    case MOAT__CFG_SIZE: {
        uint64_t v = *(const uint64_t *)p;
        if (v && v % 1024 == 0) { /* "16KiB" reads better than 16384 */
            moat_buf_putc(b, '"');
            moat__config_put_size(b, v);
            moat_buf_putc(b, '"');
        } else {
            moat_buf_printf(b, "%" PRIu64, v);
        }
        break;
    }
    case MOAT__CFG_DURATION:
        moat_buf_putc(b, '"');
        moat__config_put_duration(b, *(const uint64_t *)p);
        moat_buf_putc(b, '"');
        break;
    case MOAT__CFG_WORKERS: {
        uint64_t v = *(const uint64_t *)p;
        if (v)
            moat_buf_printf(b, "%" PRIu64, v);
        else
            moat_buf_puts(b, "\"auto\"");
        break;
    }
    case MOAT__CFG_DATE: {
        const char *v = *(char *const *)p;
        moat_buf_puts(b, v ? v : "1970-01-01");
        break;
    }
    case MOAT__CFG_STRING:
    case MOAT__CFG_ENUM: {
        const char *v = *(char *const *)p;
        moat__config_put_string(b, v ? v : "", v ? strlen(v) : 0, true);
        break;
    }
    case MOAT__CFG_LIST: {
        const moat_strlist *l = p;
        moat_buf_putc(b, '[');
        for (size_t i = 0; i < l->len; i++) {
            if (i) moat_buf_puts(b, ", ");
            moat__config_put_string(b, l->items[i], strlen(l->items[i]), true);
        }
        moat_buf_putc(b, ']');
        break;
    }
    }
}

/* [[NAME]] entries, with the keys each one sets (unset keys inherit). */
static void dump_entries(const moat__config_table *tab, const moat_config *c, moat_buf *out)
{
    const moat_config_array *arr = (const moat_config_array *)((const char *)c + tab->array_offset);
    for (size_t k = 0; k < arr->len; k++) {
        const void *elem = (const char *)arr->items + k * tab->elem_size;
        moat_buf_printf(out, "\n[[%s]]\n", tab->name);
        for (size_t i = 0; i < moat__config_nsettings; i++) {
            const moat__config_setting *s = &moat__config_settings[i];
            if (!moat__config_in_table(s, tab->name)) continue;
            const void *p = (const char *)elem + s->offset;
            if ((s->type == MOAT__CFG_STRING || s->type == MOAT__CFG_ENUM ||
                 s->type == MOAT__CFG_DATE) &&
                !*(char *const *)p)
                continue;
            moat_buf_printf(out, "%s = ", s->key + strlen(tab->name) + 1);
            const char *ref = arr->refs[k * moat__config_nsettings + i];
            if (ref)
                moat_buf_puts(out, ref);
            else
                moat__config_put_value(out, s, elem);
            moat_buf_putc(out, '\n');
        }
    }
}

void moat_config_dump(const moat_config *c, moat_buf *out)
{
    moat_buf_puts(out, "# moat: effective configuration, ");
    if (c->source) {
        /* A comment runs to the end of the line: keep the name on it. */
        moat_buf_puts(out, "from ");
        for (const char *p = c->source; *p; p++)
            moat_buf_putc(out, (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
        moat_buf_puts(out, " and the defaults\n");
    } else {
        moat_buf_puts(out, "all defaults\n");
    }
    for (size_t t = 0; t < moat__config_ntables; t++) {
        const char *table = moat__config_tables[t].name;
        if (moat__config_tables[t].array) {
            dump_entries(&moat__config_tables[t], c, out);
            continue;
        }
        /* [tls.acme] turns ACME on by being there: only when it is on */
        if (strcmp(table, "tls.acme") == 0 && !c->tls.acme.on) continue;
        if (table[0]) moat_buf_printf(out, "\n[%s]\n", table);
        for (size_t i = 0; i < moat__config_nsettings; i++) {
            const moat__config_setting *s = &moat__config_settings[i];
            if (!moat__config_in_table(s, table)) continue;
            const char *name = table[0] ? s->key + strlen(table) + 1 : s->key;
            moat_buf_printf(out, "%s = ", name);
            if (c->refs && c->refs[i])
                moat_buf_puts(out, c->refs[i]);
            else
                moat__config_put_value(out, s, c);
            moat_buf_putc(out, '\n');
        }
    }
}
