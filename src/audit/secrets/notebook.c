/* notebook.c - Jupyter notebooks (.ipynb): a notebook is JSON whose cells
 * hold source lines as JSON strings, so a secret in a cell is escaped in the
 * file (\" and \n). Each JSON string value is decoded with a map from every
 * decoded byte back to its offset in the file, scanned as code, and its
 * spans mapped back, so lines, columns and masking refer to the notebook
 * file. Strings under "image/..." keys (base64 pictures) are skipped. A file
 * that is not JSON (jansson decides) is scanned as plain text instead. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "audit/secrets/internal.h"

typedef struct decoder {
    moat_buf out;
    size_t *map;
    size_t cap;
} decoder;

static void put(decoder *d, char ch, size_t from)
{
    if (d->out.len + 2 > d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->map = moat_xrealloc(d->map, d->cap * sizeof(size_t));
    }
    d->map[d->out.len] = from;
    moat_buf_putc(&d->out, ch);
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        int x = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (x < 0) return -1;
        v = v * 16 + x;
    }
    return v;
}

static void put_utf8(decoder *d, unsigned cp, size_t from)
{
    if (cp < 0x80) {
        put(d, (char)cp, from);
    } else if (cp < 0x800) {
        put(d, (char)(0xC0 | (cp >> 6)), from);
        put(d, (char)(0x80 | (cp & 0x3F)), from);
    } else if (cp < 0x10000) {
        put(d, (char)(0xE0 | (cp >> 12)), from);
        put(d, (char)(0x80 | ((cp >> 6) & 0x3F)), from);
        put(d, (char)(0x80 | (cp & 0x3F)), from);
    } else {
        put(d, (char)(0xF0 | (cp >> 18)), from);
        put(d, (char)(0x80 | ((cp >> 12) & 0x3F)), from);
        put(d, (char)(0x80 | ((cp >> 6) & 0x3F)), from);
        put(d, (char)(0x80 | (cp & 0x3F)), from);
    }
}

/* Decodes the JSON string whose opening quote is at p[i]; returns the offset
 * of its closing quote, or 0 when it is not a valid JSON string. */
static size_t decode(decoder *d, const char *p, size_t n, size_t i)
{
    moat_buf_reset(&d->out);
    for (i++; i < n && p[i] != '"'; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch < 0x20) return 0;
        if (ch != '\\') {
            put(d, (char)ch, i);
            continue;
        }
        if (i + 1 >= n) return 0;
        size_t at = i++;
        switch (p[i]) {
        case 'n':
            put(d, '\n', at);
            break;
        case 't':
            put(d, '\t', at);
            break;
        case 'r':
            put(d, '\r', at);
            break;
        case 'b':
            put(d, '\b', at);
            break;
        case 'f':
            put(d, '\f', at);
            break;
        case '"':
        case '\\':
        case '/':
            put(d, p[i], at);
            break;
        case 'u': {
            if (n - i < 5) return 0;
            int cp = hex4(p + i + 1);
            if (cp < 0) return 0;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && n - i >= 7 && p[i + 1] == '\\' && p[i + 2] == 'u') {
                int lo = hex4(p + i + 3);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* a lone surrogate */
            put_utf8(d, (unsigned)cp, at);
            break;
        }
        default:
            return 0;
        }
    }
    if (i >= n) return 0;
    if (d->out.len + 1 > d->cap) {
        d->cap = d->out.len + 1;
        d->map = moat_xrealloc(d->map, d->cap * sizeof(size_t));
    }
    d->map[d->out.len] = i; /* one past the last byte: the closing quote */
    return i;
}

void moat__secrets_scan_notebook(moat__secrets_scan *c)
{
    const char *p = c->raw;
    size_t n = c->rawlen;
    json_error_t jerr;
    json_t *doc = json_loadb(p, n, JSON_DECODE_ANY, &jerr);
    if (!doc) {
        moat__secrets_segment sg = {.p = p, .n = n, .kind = MOAT__SECRETS_OTHER};
        moat__secrets_scan_segment(c, &sg);
        return;
    }
    json_decref(doc);
    decoder d = {0};
    moat_buf_init(&d.out);
    char key[32] = "";
    size_t i = 0;
    bool ok = true;
    while (i < n) {
        if (p[i] != '"') {
            i++;
            continue;
        }
        size_t close = decode(&d, p, n, i);
        if (!close) {
            ok = false;
            break;
        }
        size_t j = close + 1;
        while (j < n && (p[j] == ' ' || p[j] == '\t' || p[j] == '\n' || p[j] == '\r'))
            j++;
        if (j < n && p[j] == ':') {
            size_t kn = d.out.len < sizeof(key) - 1 ? d.out.len : sizeof(key) - 1;
            memcpy(key, d.out.data, kn);
            key[kn] = '\0';
        } else if (strncmp(key, "image/", 6) != 0 && d.out.len > 0) {
            moat__secrets_segment sg = {
                .p = d.out.data, .n = d.out.len, .map = d.map, .kind = MOAT__SECRETS_CODE};
            moat__secrets_scan_segment(c, &sg);
        }
        i = close + 1;
    }
    if (!ok) {
        c->len = 0;
        moat__secrets_segment sg = {.p = p, .n = n, .kind = MOAT__SECRETS_OTHER};
        moat__secrets_scan_segment(c, &sg);
    }
    moat_buf_free(&d.out);
    free(d.map);
}
