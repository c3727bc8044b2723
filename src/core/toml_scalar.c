/* toml_scalar.c - the TOML reader's scalar values: the four string forms with
 * their escapes, integers, floats, booleans and the four date-time kinds,
 * each checked against the TOML 1.0.0 grammar with the error placed on the
 * offending character. Where values go in the tree is toml.c's business.
 * The input was checked to be UTF-8 before parsing starts, so multi-byte
 * characters are copied through without decoding. */
#include "toml_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef moat__toml_parser parser;
#define FOUND(off) MOAT__TOML_FOUND(P, (off))

static int at(const parser *P, size_t off)
{
    return off < P->len ? P->s[off] : -1;
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_control(int c)
{
    return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

/* ---- strings ------------------------------------------------------------ */

static void put_utf8(moat_buf *out, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    moat_buf_append(out, b, n);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* P->pos is on the 'u' or 'U' of an escape that began at esc. */
static int unicode_escape(parser *P, size_t esc, moat_buf *out)
{
    int ndigits = P->s[P->pos] == 'u' ? 4 : 8;
    uint32_t cp = 0;
    P->pos++;
    for (int i = 0; i < ndigits; i++) {
        int d = hex_value(at(P, P->pos));
        if (d < 0)
            return moat__toml_fail(P, P->pos,
                                   "expected %d hexadecimal digits in \\%c escape, found %s",
                                   ndigits, ndigits == 4 ? 'u' : 'U', FOUND(P->pos));
        cp = cp << 4 | (uint32_t)d;
        P->pos++;
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return moat__toml_fail(P, esc,
                               "escape \\%.*s is not a Unicode scalar value (expected U+0000 to "
                               "U+D7FF or U+E000 to U+10FFFF)",
                               ndigits + 1, (const char *)P->s + esc + 1);
    put_utf8(out, cp);
    return 0;
}

static bool is_newline_at(const parser *P, size_t off)
{
    return at(P, off) == '\n' || (at(P, off) == '\r' && at(P, off + 1) == '\n');
}

/* P->pos is on a backslash inside a basic string. */
static int escape(parser *P, moat_buf *out, bool multiline)
{
    size_t esc = P->pos;
    int c = at(P, ++P->pos);
    char simple = 0;
    switch (c) {
    case 'b':
        simple = '\b';
        break;
    case 't':
        simple = '\t';
        break;
    case 'n':
        simple = '\n';
        break;
    case 'f':
        simple = '\f';
        break;
    case 'r':
        simple = '\r';
        break;
    case '"':
        simple = '"';
        break;
    case '\\':
        simple = '\\';
        break;
    case 'u':
    case 'U':
        return unicode_escape(P, esc, out);
    default:
        break;
    }
    if (simple) {
        moat_buf_putc(out, simple);
        P->pos++;
        return 0;
    }
    if (multiline && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
        /* Line-ending backslash: only whitespace may follow it on its line;
         * then all whitespace and newlines up to the next character go. */
        size_t i = P->pos;
        while (at(P, i) == ' ' || at(P, i) == '\t')
            i++;
        if (!is_newline_at(P, i))
            return moat__toml_fail(P, i,
                                   "expected end of line after line-ending backslash, found %s "
                                   "(only whitespace may follow it)",
                                   FOUND(i));
        for (;;) {
            if (at(P, i) == ' ' || at(P, i) == '\t' || at(P, i) == '\n')
                i++;
            else if (is_newline_at(P, i))
                i += 2;
            else
                break;
        }
        P->pos = i;
        return 0;
    }
    if (c < 0)
        return moat__toml_fail(P, P->pos, "expected an escape after '\\', found end of file");
    return moat__toml_fail(P, esc,
                           "invalid escape '\\' followed by %s; expected one of \\b \\t \\n \\f "
                           "\\r \\\" \\\\ \\uXXXX \\UXXXXXXXX",
                           FOUND(P->pos));
}

/* Counts the run of quote characters q at P->pos (at most 5 are taken: two
 * may belong to the content, three close the string). Returns how many of
 * them are content, or -1 when fewer than three (the string goes on). */
static int closing_quotes(parser *P, int q)
{
    size_t n = 0;
    while (n < 5 && at(P, P->pos + n) == q)
        n++;
    if (n < 3) return -1;
    P->pos += n;
    return (int)n - 3;
}

/* Shared by both string kinds: basic strings have escapes, literal ones not. */
static int string_body(parser *P, moat_buf *out, bool multiline, int q)
{
    size_t open = P->pos;
    const char *kind = q == '"' ? "string" : "literal string";
    P->pos += multiline ? 3 : 1;
    if (multiline && is_newline_at(P, P->pos)) P->pos += at(P, P->pos) == '\r' ? 2 : 1;
    for (;;) {
        size_t run = P->pos;
        while (P->pos < P->len) {
            int c = P->s[P->pos];
            if (c == q || c == '\\' || is_control(c)) break;
            P->pos++;
        }
        moat_buf_append(out, P->s + run, P->pos - run);
        int c = at(P, P->pos);
        if (c == q) {
            if (!multiline) {
                P->pos++;
                return 0;
            }
            int extra = closing_quotes(P, q);
            if (extra >= 0) {
                for (int i = 0; i < extra; i++)
                    moat_buf_putc(out, (char)q);
                return 0;
            }
            while (at(P, P->pos) == q) {
                moat_buf_putc(out, (char)q);
                P->pos++;
            }
        } else if (c == '\\') {
            if (q == '\'') {
                moat_buf_putc(out, '\\');
                P->pos++;
            } else if (escape(P, out, multiline) < 0) {
                return -1;
            }
        } else if (multiline && is_newline_at(P, P->pos)) {
            size_t n = at(P, P->pos) == '\r' ? 2 : 1;
            moat_buf_append(out, P->s + P->pos, n);
            P->pos += n;
        } else if (c < 0 || c == '\n' || (c == '\r' && is_newline_at(P, P->pos))) {
            int line, col;
            moat__toml_locate(P, open, &line, &col);
            return moat__toml_fail(P, P->pos,
                                   "expected closing %s of the %s%s that starts at line %d, column "
                                   "%d, found %s",
                                   multiline ? (q == '"' ? "\"\"\"" : "'''")
                                             : (q == '"' ? "'\"'" : "\"'\""),
                                   multiline ? "multi-line " : "", kind, line, col, FOUND(P->pos));
        } else {
            return moat__toml_fail(P, P->pos,
                                   "found %s in a %s; control characters must be written as "
                                   "escapes (and cannot appear in literal strings)",
                                   FOUND(P->pos), kind);
        }
    }
}

int moat__toml_basic_string(parser *P, moat_buf *out, bool multiline)
{
    return string_body(P, out, multiline, '"');
}

int moat__toml_literal_string(parser *P, moat_buf *out, bool multiline)
{
    return string_body(P, out, multiline, '\'');
}

/* ---- numbers -------------------------------------------------------------- */

/* The error for something at off that starts no value. A word gets quoted
 * whole, since "found 'f'" says little about "fals". */
static int not_a_value(parser *P, size_t off)
{
    size_t end = off;
    while (end < P->len && end - off < 32 &&
           ((P->s[end] >= 'a' && P->s[end] <= 'z') || (P->s[end] >= 'A' && P->s[end] <= 'Z')))
        end++;
    if (end > off)
        return moat__toml_fail(P, off,
                               "expected a value, found '%.*s' (strings must be quoted; booleans "
                               "are true and false, floats inf and nan)",
                               (int)(end - off), (const char *)P->s + off);
    return moat__toml_fail(P, off,
                           "expected a value (string, number, boolean, date-time, array or inline "
                           "table), found %s",
                           FOUND(off));
}

static bool is_number_char(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '.' || c == '+' || c == '-';
}

static int digit_value(int c, int base)
{
    int d = hex_value(c);
    return d >= 0 && d < base ? d : -1;
}

static const char *base_name(int base)
{
    switch (base) {
    case 16:
        return "a hexadecimal digit";
    case 8:
        return "an octal digit";
    case 2:
        return "a binary digit";
    default:
        return "a digit";
    }
}

/* Reads digits of the given base with single underscores between them,
 * from P->pos up to end; copies the digits (without underscores) to out. */
static int digits(parser *P, size_t end, int base, moat_buf *out, const char *after)
{
    if (P->pos >= end || digit_value(P->s[P->pos], base) < 0)
        return moat__toml_fail(P, P->pos, "expected %s after %s, found %s", base_name(base), after,
                               FOUND(P->pos));
    for (;;) {
        moat_buf_putc(out, (char)P->s[P->pos]);
        P->pos++;
        if (P->pos < end && P->s[P->pos] == '_') {
            if (P->pos + 1 >= end || digit_value(P->s[P->pos + 1], base) < 0)
                return moat__toml_fail(P, P->pos,
                                       "'_' in a number must sit between two digits, found %s "
                                       "after it",
                                       FOUND(P->pos + 1));
            P->pos++;
            continue;
        }
        if (P->pos >= end || digit_value(P->s[P->pos], base) < 0) return 0;
    }
}

/* Converts the digits in text (no sign, no underscores) to an int64. */
static int to_int64(parser *P, size_t start, const char *text, int base, bool negative,
                    int64_t *out)
{
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        uint64_t d = (uint64_t)digit_value((unsigned char)*p, base);
        if (v > (limit - d) / (uint64_t)base)
            return moat__toml_fail(P, start,
                                   "integer is out of range (expected -9223372036854775808 to "
                                   "9223372036854775807)");
        v = v * (uint64_t)base + d;
    }
    if (negative)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return 0;
}

/* When a number failed to parse and the bare word at start holds ':', '/'
 * or two '.' (an address, a URL, a version), the user meant a string: say
 * so instead of "expected a digit". */
static void bare_word_hint(parser *P, size_t start)
{
    size_t end = start, dots = 0;
    bool other = false;
    while (end < P->len && end - start < 80 && !strchr(" \t\r\n,]}#", P->s[end])) {
        if (P->s[end] == '.') dots++;
        if (P->s[end] == ':' || P->s[end] == '/') other = true;
        end++;
    }
    /* "1.5." is a float with a stray dot, "1.2.3" a version */
    if (end - start >= 80 || (!other && (dots < 2 || P->s[end - 1] == '.'))) return;
    int n = (int)(end - start);
    const char *w = (const char *)P->s + start;
    moat__toml_fail(P, start,
                    "expected a value, found '%.*s' (strings need quotes: write \"%.*s\")", n, w, n,
                    w);
}

static int number(parser *P, moat_toml_value *v)
{
    size_t start = P->pos, end = P->pos;
    while (end < P->len && is_number_char(P->s[end]))
        end++;
    moat_buf text;
    moat_buf_init(&text);
    int rc = -1;
    int c0 = at(P, P->pos);
    bool has_sign = c0 == '+' || c0 == '-', negative = c0 == '-';
    if (has_sign) {
        moat_buf_putc(&text, (char)c0);
        P->pos++;
    }
    size_t rest = end - P->pos;
    if (rest == 3 &&
        (memcmp(P->s + P->pos, "inf", 3) == 0 || memcmp(P->s + P->pos, "nan", 3) == 0)) {
        v->type = MOAT_TOML_FLOAT;
        if (P->s[P->pos] == 'i')
            v->u.fp = negative ? -INFINITY : INFINITY;
        else
            v->u.fp = negative ? -NAN : NAN;
        P->pos = end;
        rc = 0;
        goto out;
    }
    if (P->pos + 1 < end && P->s[P->pos] == '0' &&
        (P->s[P->pos + 1] == 'x' || P->s[P->pos + 1] == 'o' || P->s[P->pos + 1] == 'b')) {
        int base = P->s[P->pos + 1] == 'x' ? 16 : P->s[P->pos + 1] == 'o' ? 8 : 2;
        if (has_sign) {
            moat__toml_fail(P, start,
                            "a sign is not allowed on hexadecimal, octal or binary integers");
            goto out;
        }
        P->pos += 2;
        const char *after = base == 16 ? "'0x'" : base == 8 ? "'0o'" : "'0b'";
        if (digits(P, end, base, &text, after) < 0) goto out;
        if (P->pos != end) {
            moat__toml_fail(P, P->pos, "expected %s, found %s", base_name(base), FOUND(P->pos));
            goto out;
        }
        v->type = MOAT_TOML_INTEGER;
        rc = to_int64(P, start, text.data, base, false, &v->u.integer);
        goto out;
    }
    if (P->pos < end && !is_digit(P->s[P->pos])) {
        not_a_value(P, P->pos);
        goto out;
    }
    size_t int_start = P->pos;
    if (digits(P, end, 10, &text, "the sign") < 0) goto out;
    if (P->s[int_start] == '0' && P->pos - int_start > 1) {
        moat__toml_fail(P, int_start + 1, "leading zeros are not allowed in numbers, found %s",
                        FOUND(int_start + 1));
        goto out;
    }
    bool is_float = false;
    if (P->pos < end && P->s[P->pos] == '.') {
        is_float = true;
        moat_buf_putc(&text, '.');
        P->pos++;
        if (digits(P, end, 10, &text, "the decimal point") < 0) goto out;
    }
    if (P->pos < end && (P->s[P->pos] == 'e' || P->s[P->pos] == 'E')) {
        is_float = true;
        moat_buf_putc(&text, 'e');
        P->pos++;
        if (P->pos < end && (P->s[P->pos] == '+' || P->s[P->pos] == '-')) {
            moat_buf_putc(&text, (char)P->s[P->pos]);
            P->pos++;
        }
        if (digits(P, end, 10, &text, "the exponent") < 0) goto out;
    }
    if (P->pos != end) {
        moat__toml_fail(P, P->pos, "expected a digit%s, found %s",
                        is_float ? "" : ", '.' or an exponent", FOUND(P->pos));
        goto out;
    }
    if (!is_float) {
        v->type = MOAT_TOML_INTEGER;
        const char *d = text.data + has_sign;
        rc = to_int64(P, start, d, 10, negative, &v->u.integer);
        goto out;
    }
    /* The text now has the C syntax strtod wants; the C locale's '.' is
     * assumed (moat never calls setlocale). */
    char *stop;
    double d = strtod(text.data, &stop);
    MOAT_BUG_ON(*stop != '\0');
    if (isinf(d)) {
        moat__toml_fail(P, start, "float is out of range (larger than about 1.8e308)");
        goto out;
    }
    v->type = MOAT_TOML_FLOAT;
    v->u.fp = d;
    rc = 0;
out:
    if (rc) bare_word_hint(P, start);
    moat_buf_free(&text);
    return rc;
}

/* ---- date-times ----------------------------------------------------------- */

/* Reads exactly n digits at P->pos; what names them in the error. */
static int fixed_digits(parser *P, int n, const char *what, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        int c = at(P, P->pos);
        if (!is_digit(c))
            return moat__toml_fail(P, P->pos, "expected %d-digit %s, found %s", n, what,
                                   FOUND(P->pos));
        v = v * 10 + (c - '0');
        P->pos++;
    }
    *out = v;
    return 0;
}

static int expect_char(parser *P, char c, const char *what)
{
    if (at(P, P->pos) != c)
        return moat__toml_fail(P, P->pos, "expected '%c' %s, found %s", c, what, FOUND(P->pos));
    P->pos++;
    return 0;
}

static int range(parser *P, size_t off, int v, int lo, int hi, const char *what)
{
    if (v < lo || v > hi)
        return moat__toml_fail(P, off, "%s %02d is out of range (expected %02d to %02d)", what, v,
                               lo, hi);
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m < 1 || m > 12) return 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* YYYY-MM-DD at P->pos, appended to out. */
static int date(parser *P, moat_buf *out)
{
    size_t start = P->pos;
    int y = 0, m = 0, d = 0;
    if (fixed_digits(P, 4, "year", &y) < 0 || expect_char(P, '-', "after the year") < 0) return -1;
    size_t moff = P->pos;
    if (fixed_digits(P, 2, "month", &m) < 0 || expect_char(P, '-', "after the month") < 0)
        return -1;
    size_t doff = P->pos;
    if (fixed_digits(P, 2, "day", &d) < 0) return -1;
    if (range(P, moff, m, 1, 12, "month") < 0) return -1;
    if (d < 1 || d > days_in_month(y, m))
        return moat__toml_fail(P, doff,
                               "day %02d is out of range for %04d-%02d (expected 01 to %02d)", d, y,
                               m, days_in_month(y, m));
    moat_buf_append(out, P->s + start, P->pos - start);
    return 0;
}

/* HH:MM:SS[.fraction] at P->pos, appended to out. */
static int time_of_day(parser *P, moat_buf *out)
{
    size_t start = P->pos;
    int h = 0, m = 0, s = 0;
    if (fixed_digits(P, 2, "hour", &h) < 0 || expect_char(P, ':', "after the hour") < 0) return -1;
    size_t moff = P->pos;
    if (fixed_digits(P, 2, "minute", &m) < 0) return -1;
    if (at(P, P->pos) != ':')
        return moat__toml_fail(P, P->pos, "expected ':' and seconds after the minute, found %s",
                               FOUND(P->pos));
    P->pos++;
    size_t soff = P->pos;
    if (fixed_digits(P, 2, "second", &s) < 0) return -1;
    if (range(P, start, h, 0, 23, "hour") < 0 || range(P, moff, m, 0, 59, "minute") < 0 ||
        range(P, soff, s, 0, 60, "second") < 0)
        return -1;
    if (at(P, P->pos) == '.') {
        P->pos++;
        if (!is_digit(at(P, P->pos)))
            return moat__toml_fail(
                P, P->pos, "expected a digit after the '.' in the time, found %s", FOUND(P->pos));
        while (is_digit(at(P, P->pos)))
            P->pos++;
    }
    moat_buf_append(out, P->s + start, P->pos - start);
    return 0;
}

static int datetime(parser *P, moat_toml_value *v, bool has_date)
{
    moat_buf out;
    moat_buf_init(&out);
    if (!has_date) {
        if (time_of_day(P, &out) < 0) goto fail;
        v->type = MOAT_TOML_TIME_LOCAL;
        v->u.datetime = moat_buf_steal(&out);
        return 0;
    }
    if (date(P, &out) < 0) goto fail;
    int c = at(P, P->pos);
    /* A space separates date and time only when a time follows it; else it
     * ends a local date ("d = 2024-01-01 # comment"). */
    if (!(c == 'T' || c == 't' || (c == ' ' && is_digit(at(P, P->pos + 1))))) {
        v->type = MOAT_TOML_DATE_LOCAL;
        v->u.datetime = moat_buf_steal(&out);
        return 0;
    }
    P->pos++;
    moat_buf_putc(&out, 'T');
    if (time_of_day(P, &out) < 0) goto fail;
    c = at(P, P->pos);
    if (c == 'Z' || c == 'z') {
        P->pos++;
        moat_buf_putc(&out, 'Z');
        v->type = MOAT_TOML_DATETIME;
    } else if (c == '+' || c == '-') {
        size_t start = P->pos++;
        int h = 0, m = 0;
        if (fixed_digits(P, 2, "offset hour", &h) < 0 ||
            expect_char(P, ':', "between the offset's hours and minutes") < 0)
            goto fail;
        size_t moff = P->pos;
        if (fixed_digits(P, 2, "offset minute", &m) < 0 ||
            range(P, start + 1, h, 0, 23, "offset hour") < 0 ||
            range(P, moff, m, 0, 59, "offset minute") < 0)
            goto fail;
        moat_buf_append(&out, P->s + start, P->pos - start);
        v->type = MOAT_TOML_DATETIME;
    } else {
        v->type = MOAT_TOML_DATETIME_LOCAL;
    }
    v->u.datetime = moat_buf_steal(&out);
    return 0;
fail:
    moat_buf_free(&out);
    return -1;
}

int moat__toml_scalar(parser *P, moat_toml_value *v)
{
    const unsigned char *p = P->s + P->pos;
    size_t left = P->len - P->pos;
    if (left >= 4 && memcmp(p, "true", 4) == 0) {
        v->type = MOAT_TOML_BOOL;
        v->u.boolean = true;
        P->pos += 4;
        return 0;
    }
    if (left >= 5 && memcmp(p, "false", 5) == 0) {
        v->type = MOAT_TOML_BOOL;
        v->u.boolean = false;
        P->pos += 5;
        return 0;
    }
    if (left >= 5 && is_digit(p[0]) && is_digit(p[1]) && is_digit(p[2]) && is_digit(p[3]) &&
        p[4] == '-')
        return datetime(P, v, true);
    if (left >= 3 && is_digit(p[0]) && is_digit(p[1]) && p[2] == ':') return datetime(P, v, false);
    if (left > 0 && (is_digit(p[0]) || p[0] == '+' || p[0] == '-' || p[0] == 'i' || p[0] == 'n'))
        return number(P, v);
    return not_a_value(P, P->pos);
}
