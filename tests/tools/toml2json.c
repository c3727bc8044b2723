/* toml2json.c - reads a TOML document (argv[1], or stdin) with moat's reader
 * and prints it in toml-test's tagged JSON encoding on stdout (exit 0), or
 * "FILE:LINE:COL: message" on stderr (exit 1). A test tool only: it trusts
 * the tree it walks to be what moat_toml_parse promises. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static void put_string(moat_buf *b, const char *s, size_t len)
{
    moat_buf_put_json_string(b, s, len);
}

static void put_tagged(moat_buf *b, const char *type, const char *value, size_t len)
{
    moat_buf_puts(b, "{\"type\":\"");
    moat_buf_puts(b, type);
    moat_buf_puts(b, "\",\"value\":");
    put_string(b, value, len);
    moat_buf_putc(b, '}');
}

static void put_value(moat_buf *b, const moat_toml_value *v)
{
    char num[64];
    switch (v->type) {
    case MOAT_TOML_STRING:
        put_tagged(b, "string", v->u.str.ptr, v->u.str.len);
        break;
    case MOAT_TOML_INTEGER:
        snprintf(num, sizeof(num), "%" PRId64, v->u.integer);
        put_tagged(b, "integer", num, strlen(num));
        break;
    case MOAT_TOML_FLOAT:
        if (isnan(v->u.fp))
            snprintf(num, sizeof(num), "nan");
        else if (isinf(v->u.fp))
            snprintf(num, sizeof(num), "%sinf", v->u.fp < 0 ? "-" : "");
        else
            snprintf(num, sizeof(num), "%.17g", v->u.fp);
        put_tagged(b, "float", num, strlen(num));
        break;
    case MOAT_TOML_BOOL:
        put_tagged(b, "bool", v->u.boolean ? "true" : "false", v->u.boolean ? 4 : 5);
        break;
    case MOAT_TOML_DATETIME:
        put_tagged(b, "datetime", v->u.datetime, strlen(v->u.datetime));
        break;
    case MOAT_TOML_DATETIME_LOCAL:
        put_tagged(b, "datetime-local", v->u.datetime, strlen(v->u.datetime));
        break;
    case MOAT_TOML_DATE_LOCAL:
        put_tagged(b, "date-local", v->u.datetime, strlen(v->u.datetime));
        break;
    case MOAT_TOML_TIME_LOCAL:
        put_tagged(b, "time-local", v->u.datetime, strlen(v->u.datetime));
        break;
    case MOAT_TOML_ARRAY:
        moat_buf_putc(b, '[');
        for (size_t i = 0; i < v->u.array.len; i++) {
            if (i) moat_buf_putc(b, ',');
            put_value(b, v->u.array.items[i]);
        }
        moat_buf_putc(b, ']');
        break;
    case MOAT_TOML_TABLE:
        moat_buf_putc(b, '{');
        for (size_t i = 0; i < v->u.table.len; i++) {
            if (i) moat_buf_putc(b, ',');
            put_string(b, v->u.table.items[i].key, v->u.table.items[i].key_len);
            moat_buf_putc(b, ':');
            put_value(b, v->u.table.items[i].value);
        }
        moat_buf_putc(b, '}');
        break;
    }
}

static int read_stdin(char **out, size_t *len)
{
    moat_buf b;
    moat_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        moat_buf_append(&b, chunk, n);
    if (ferror(stdin)) {
        moat_buf_free(&b);
        return MOAT_EIO;
    }
    *len = b.len;
    *out = moat_buf_steal(&b);
    return 0;
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "<stdin>";
    char *src;
    size_t len;
    int rc = argc > 1 ? moat_read_file(argv[1], &src, &len) : read_stdin(&src, &len);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", name, moat_strerror(rc));
        return 2;
    }
    moat_toml_value *root;
    moat_toml_error err;
    if (moat_toml_parse(src, len, &root, &err) < 0) {
        fprintf(stderr, "%s:%d:%d: %s\n", name, err.line, err.col, err.message);
        free(src);
        return 1;
    }
    moat_buf out;
    moat_buf_init(&out);
    put_value(&out, root);
    moat_buf_putc(&out, '\n');
    fwrite(out.data, 1, out.len, stdout);
    moat_buf_free(&out);
    moat_toml_free(root);
    free(src);
    return 0;
}
