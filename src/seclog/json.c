/* json.c - the JSON the security log needs and no more: writing strings
 * (always valid UTF-8, control characters escaped) and RFC 3339 times, and
 * reading a line back as one flat object of scalars for `moat log why` and
 * the verifier. Nested values are refused: the writer never produces them. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void moat__seclog_json_member(moat_buf *b, const char *name, const char *value, size_t n)
{
    moat_buf_putc(b, ',');
    moat_buf_put_json_string(b, name, strlen(name));
    moat_buf_putc(b, ':');
    moat_buf_put_json_string(b, value, n);
}

static char *digits_to(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* By hand rather than printf: it runs for every event on the gateway's
 * threads. */
void moat__seclog_put_time(moat_buf *b, const struct timespec *ts)
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    char s[32], *p = s;
    p = digits_to(p, (unsigned)(tm.tm_year + 1900) % 10000, 4);
    *p++ = '-';
    p = digits_to(p, (unsigned)tm.tm_mon + 1, 2);
    *p++ = '-';
    p = digits_to(p, (unsigned)tm.tm_mday, 2);
    *p++ = 'T';
    p = digits_to(p, (unsigned)tm.tm_hour, 2);
    *p++ = ':';
    p = digits_to(p, (unsigned)tm.tm_min, 2);
    *p++ = ':';
    p = digits_to(p, (unsigned)tm.tm_sec, 2);
    *p++ = '.';
    p = digits_to(p, (unsigned)(ts->tv_nsec / 1000) % 1000000, 6);
    *p++ = 'Z';
    moat_buf_append(b, s, (size_t)(p - s));
}

void moat__seclog_put_u64(moat_buf *b, uint64_t v)
{
    char s[24];
    size_t i = sizeof(s);
    do {
        s[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    moat_buf_append(b, s + i, sizeof(s) - i);
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int moat__seclog_parse_time(const char *s, time_t *out)
{
    /* YYYY-MM-DDTHH:MM:SS[.frac]Z */
    size_t n = strlen(s);
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return MOAT_EPARSE;
    struct tm tm = {0};
    int y, mo, d, h, mi, sec;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
        return MOAT_EPARSE;
    size_t i = 19;
    if (s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i + 1 != n || s[i] != 'Z') return MOAT_EPARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return MOAT_EPARSE;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out = timegm(&tm);
    return 0;
}

/* ---- reading ------------------------------------------------------------- */

typedef struct reader {
    const char *p, *end;
} reader;

static void skip_ws(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(moat_buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    moat_buf_append(b, u, n);
}

/* A JSON string at r->p (the opening quote); decoded into b. No NUL. */
static int read_string(reader *r, moat_buf *b)
{
    if (r->p >= r->end || *r->p != '"') return MOAT_EPARSE;
    r->p++;
    while (r->p < r->end) {
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') {
            r->p++;
            return 0;
        }
        if (c < 0x20) return MOAT_EPARSE;
        if (c == '\\') {
            if (r->end - r->p < 2) return MOAT_EPARSE;
            char e = r->p[1];
            r->p += 2;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                moat_buf_putc(b, e);
                break;
            case 'b':
                moat_buf_putc(b, '\b');
                break;
            case 'f':
                moat_buf_putc(b, '\f');
                break;
            case 'n':
                moat_buf_putc(b, '\n');
                break;
            case 'r':
                moat_buf_putc(b, '\r');
                break;
            case 't':
                moat_buf_putc(b, '\t');
                break;
            case 'u': {
                unsigned cp;
                if (r->end - r->p < 4 || hex4(r->p, &cp)) return MOAT_EPARSE;
                r->p += 4;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
                        hex4(r->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
                        return MOAT_EPARSE;
                    r->p += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return MOAT_EPARSE;
                }
                if (cp == 0) return MOAT_EPARSE;
                put_utf8(b, cp);
                break;
            }
            default:
                return MOAT_EPARSE;
            }
            continue;
        }
        size_t k = moat_utf8_len((const unsigned char *)r->p, (size_t)(r->end - r->p));
        if (k == 0) return MOAT_EPARSE;
        moat_buf_append(b, r->p, k);
        r->p += k;
    }
    return MOAT_EPARSE;
}

/* A JSON number, true, false or null: its text into b. */
static int read_scalar(reader *r, moat_buf *b)
{
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(words); i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(r->end - r->p) >= n && memcmp(r->p, words[i], n) == 0) {
            moat_buf_append(b, r->p, n);
            r->p += n;
            return 0;
        }
    }
    const char *s = r->p;
    if (r->p < r->end && *r->p == '-') r->p++;
    if (r->p >= r->end) return MOAT_EPARSE;
    if (*r->p == '0') {
        r->p++;
    } else if (*r->p >= '1' && *r->p <= '9') {
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    } else {
        return MOAT_EPARSE;
    }
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        const char *d = r->p;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
        if (r->p == d) return MOAT_EPARSE;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) r->p++;
        const char *d = r->p;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
        if (r->p == d) return MOAT_EPARSE;
    }
    moat_buf_append(b, s, (size_t)(r->p - s));
    return 0;
}

void moat_seclog_entry_free(moat_seclog_entry *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->n; i++) {
        free(e->names[i]);
        free(e->values[i]);
    }
    free(e->names);
    free(e->values);
    free(e->is_string);
    memset(e, 0, sizeof(*e));
}

int moat_seclog_entry_parse(const char *line, size_t len, moat_seclog_entry *out)
{
    memset(out, 0, sizeof(*out));
    reader r = {line, line + len};
    size_t cap = 0;
    moat_buf name, value;
    moat_buf_init(&name);
    moat_buf_init(&value);
    skip_ws(&r);
    if (r.p >= r.end || *r.p != '{') goto fail;
    r.p++;
    skip_ws(&r);
    if (r.p < r.end && *r.p == '}') {
        r.p++;
        goto done;
    }
    for (;;) {
        skip_ws(&r);
        moat_buf_reset(&name);
        moat_buf_reset(&value);
        if (read_string(&r, &name) < 0) goto fail;
        skip_ws(&r);
        if (r.p >= r.end || *r.p != ':') goto fail;
        r.p++;
        skip_ws(&r);
        bool is_string = r.p < r.end && *r.p == '"';
        if ((is_string ? read_string(&r, &value) : read_scalar(&r, &value)) < 0) goto fail;
        /* A C string must hold it whole (read_string refuses \u0000, but a
         * raw NUL byte is no valid UTF-8 lead either way: check anyway). */
        if (memchr(name.data ? name.data : "", '\0', name.len) ||
            memchr(value.data ? value.data : "", '\0', value.len))
            goto fail;
        for (size_t i = 0; i < out->n; i++)
            if (strcmp(out->names[i], name.data ? name.data : "") == 0) goto fail;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            out->names = moat_xrealloc(out->names, cap * sizeof(char *));
            out->values = moat_xrealloc(out->values, cap * sizeof(char *));
            out->is_string = moat_xrealloc(out->is_string, cap * sizeof(bool));
        }
        out->names[out->n] = moat_xstrndup(name.data ? name.data : "", name.len);
        out->values[out->n] = moat_xstrndup(value.data ? value.data : "", value.len);
        out->is_string[out->n] = is_string;
        out->n++;
        skip_ws(&r);
        if (r.p < r.end && *r.p == ',') {
            r.p++;
            continue;
        }
        if (r.p < r.end && *r.p == '}') {
            r.p++;
            break;
        }
        goto fail;
    }
done:
    skip_ws(&r);
    if (r.p != r.end) goto fail;
    moat_buf_free(&name);
    moat_buf_free(&value);
    return 0;
fail:
    moat_buf_free(&name);
    moat_buf_free(&value);
    moat_seclog_entry_free(out);
    return MOAT_EPARSE;
}

const char *moat_seclog_entry_get(const moat_seclog_entry *e, const char *name)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->names[i], name) == 0) return e->values[i];
    return NULL;
}
