/* load.c - building a config: finding the file (moat.toml, or [tool.moat] in
 * pyproject.toml), walking its tables against the settings table, resolving
 * ${env:NAME} / ${file:PATH} references, converting and checking each value,
 * then applying the command-line overrides. Every error is collected, one
 * line each with FILE:LINE:COL, so a bad file is fixed in one pass. The
 * defaults go through the same path from the table's default texts, so a
 * default cannot break its own rules. Loading reads the environment and
 * files: run it on one thread (start-up, reload), never on a worker loop. */
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ERRORS 20
#define MAX_CONFIG_FILE (16 * 1024 * 1024)
#define MAX_REF_FILE (1024 * 1024)

/* Where a value was written: a command-line option, a line and column of
 * the file, or (line 0) nowhere in particular. */
typedef struct place {
    const char *opt;
    int line, col;
} place;

typedef struct loader {
    const char *file; /* name in messages, or NULL: messages start at LINE:COL */
    const char *src;  /* the file's text, to find where keys are written; may be NULL */
    size_t src_len;
    const char *dir; /* where relative ${file:...} paths start from */
    char **refs;     /* moat_config.refs to record references in, or NULL */
    moat_buf errs;   /* the messages, one a line */
    size_t nerrs;
} loader;

/* A value as the converters see it. Strings are already resolved. */
typedef struct scalar {
    moat_toml_type type;
    int64_t i;
    bool b;
    char *text; /* owned; strings only */
    size_t len;
    const char *ref; /* the "${...}" text the string came from (borrowed), else NULL */
    place at;
} scalar;

static void fail(loader *ld, place at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(loader *ld, place at, const char *fmt, ...)
{
    if (++ld->nerrs > MAX_ERRORS) return;
    if (ld->errs.len) moat_buf_putc(&ld->errs, '\n');
    if (at.opt)
        moat_buf_printf(&ld->errs, "%s: ", at.opt);
    else if (at.line > 0)
        moat_buf_printf(&ld->errs, "%s%s%d:%d: ", ld->file ? ld->file : "", ld->file ? ":" : "",
                        at.line, at.col);
    va_list ap;
    va_start(ap, fmt);
    moat_buf_vprintf(&ld->errs, fmt, ap);
    va_end(ap);
}

/* "a string", "an integer", ... for "found ..." in messages. */
static const char *a_type(moat_toml_type t)
{
    switch (t) {
    case MOAT_TOML_STRING:
        return "a string";
    case MOAT_TOML_INTEGER:
        return "an integer";
    case MOAT_TOML_FLOAT:
        return "a float";
    case MOAT_TOML_BOOL:
        return "a boolean";
    case MOAT_TOML_DATETIME:
    case MOAT_TOML_DATETIME_LOCAL:
        return "a date-time";
    case MOAT_TOML_DATE_LOCAL:
        return "a date";
    case MOAT_TOML_TIME_LOCAL:
        return "a time";
    case MOAT_TOML_ARRAY:
        return "an array";
    case MOAT_TOML_TABLE:
        return "a table";
    }
    return "a value";
}

/* A key as it may be shown: quoted TOML keys can hold control characters,
 * which must not reach a terminal or a log. Returns an owned string. */
static char *printable(const char *s, size_t n)
{
    char *p = moat_xstrndup(s, n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) p[i] = '?';
    return p;
}

/* The value part of "found ...": the value as written, or for a value that
 * came from a reference, the reference (its value may be a secret). Owned. */
static char *found(const scalar *sc)
{
    moat_buf b;
    moat_buf_init(&b);
    if (sc->ref)
        moat_buf_printf(&b, "the value of %s", sc->ref);
    else if (sc->type == MOAT_TOML_STRING)
        moat__config_put_string(&b, sc->text, sc->len, false);
    else if (sc->type == MOAT_TOML_INTEGER)
        moat_buf_printf(&b, "%" PRId64, sc->i);
    else if (sc->type == MOAT_TOML_BOOL)
        moat_buf_puts(&b, sc->b ? "true" : "false");
    else
        moat_buf_puts(&b, a_type(sc->type));
    return moat_buf_steal(&b);
}

/* ---- references ----------------------------------------------------------- */

/* Reads at most cap bytes of a file. Returns 0, an errno value, or -1 when
 * the file is larger than cap. *out is owned and NUL-terminated. */
static int read_capped(const char *path, size_t cap, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    moat_buf b;
    moat_buf_init(&b);
    for (;;) {
        moat_buf_reserve(&b, 65536);
        ssize_t r = read(fd, b.data + b.len, 65536);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            moat_buf_free(&b);
            return e;
        }
        if (r == 0) break;
        b.len += (size_t)r;
        b.data[b.len] = '\0';
        if (b.len > cap) {
            close(fd);
            moat_buf_free(&b);
            return -1;
        }
    }
    close(fd);
    *len = b.len;
    *out = moat_buf_steal(&b);
    return 0;
}

static bool is_env_name(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9')) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

/* body is what is between "${" and "}". */
static int resolve_ref(loader *ld, const char *key, const char *body, size_t n, place at,
                       char **out, size_t *outlen)
{
    if (n >= 4 && memcmp(body, "env:", 4) == 0) {
        if (!is_env_name(body + 4, n - 4)) {
            fail(ld, at,
                 "'%s' refers to an invalid environment variable name (letters, digits and '_' "
                 "only)",
                 key);
            return -1;
        }
        char *name = moat_xstrndup(body + 4, n - 4);
        const char *val = getenv(name);
        if (!val) {
            fail(ld, at, "'%s' refers to environment variable %s, which is not set", key, name);
            free(name);
            return -1;
        }
        free(name);
        *outlen = strlen(val);
        *out = moat_xstrndup(val, *outlen);
        return 0;
    }
    if (n >= 5 && memcmp(body, "file:", 5) == 0) {
        const char *p = body + 5;
        size_t plen = n - 5;
        if (plen == 0) {
            fail(ld, at, "'%s' refers to a file but gives no path: write \"${file:PATH}\"", key);
            return -1;
        }
        char *path =
            p[0] == '/' ? moat_xstrndup(p, plen) : moat_xasprintf("%s/%.*s", ld->dir, (int)plen, p);
        char *shown = printable(path, strlen(path));
        char *data = NULL;
        size_t len = 0;
        int rc = read_capped(path, MAX_REF_FILE, &data, &len);
        if (rc == -1)
            fail(ld, at, "'%s' refers to file %s, which is larger than 1MiB", key, shown);
        else if (rc)
            fail(ld, at, "'%s' refers to file %s, which cannot be read: %s", key, shown,
                 strerror(rc));
        else if (memchr(data, '\0', len))
            fail(ld, at, "'%s' refers to file %s, which contains a NUL byte", key, shown);
        free(path);
        free(shown);
        if (rc || memchr(data, '\0', len)) {
            free(data);
            return -1;
        }
        /* Files written by editors and `echo` end with a newline that is not
         * part of the secret. */
        if (len && data[len - 1] == '\n') len--;
        if (len && data[len - 1] == '\r') len--;
        data[len] = '\0';
        *out = data;
        *outlen = len;
        return 0;
    }
    fail(ld, at,
         "'%s' has an unknown reference: write \"${env:NAME}\" or \"${file:PATH}\" (or $${ for a "
         "literal ${)",
         key);
    return -1;
}

/* Turns a TOML string into the text it stands for: a whole-string reference
 * is resolved, "$${" becomes "${", and any other "${" is an error (references
 * are whole values only: half-expanded strings hide mistakes). */
static int resolve(loader *ld, const char *key, const char *s, size_t n, place at, scalar *sc)
{
    if (memchr(s, '\0', n)) {
        fail(ld, at, "'%s' must not contain NUL characters", key);
        return -1;
    }
    if (n >= 3 && s[0] == '$' && s[1] == '{' && s[n - 1] == '}') {
        sc->ref = s;
        return resolve_ref(ld, key, s + 2, n - 3, at, &sc->text, &sc->len);
    }
    moat_buf b;
    moat_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '$' && i + 2 < n && s[i + 1] == '$' && s[i + 2] == '{') {
            moat_buf_puts(&b, "${");
            i += 2;
        } else if (s[i] == '$' && i + 1 < n && s[i + 1] == '{') {
            fail(ld, at,
                 "'%s': a reference must be the whole string, as in \"${env:NAME}\" (write $${ "
                 "for a literal ${)",
                 key);
            moat_buf_free(&b);
            return -1;
        } else {
            moat_buf_putc(&b, s[i]);
        }
    }
    sc->len = b.len;
    sc->text = moat_buf_steal(&b);
    return 0;
}

static int get_scalar(loader *ld, const char *key, const moat_toml_value *v, scalar *sc)
{
    memset(sc, 0, sizeof(*sc));
    sc->type = v->type;
    sc->at = (place){NULL, v->line, v->col};
    if (v->type == MOAT_TOML_INTEGER) sc->i = v->u.integer;
    if (v->type == MOAT_TOML_BOOL) sc->b = v->u.boolean;
    if (v->type == MOAT_TOML_STRING)
        return resolve(ld, key, v->u.str.ptr, v->u.str.len, sc->at, sc);
    if (v->type == MOAT_TOML_DATE_LOCAL) {
        sc->text = moat_xstrdup(v->u.datetime);
        sc->len = strlen(sc->text);
    }
    return 0;
}

/* ---- conversions ---------------------------------------------------------- */

static void *field(const moat__config_setting *s, void *base)
{
    return (char *)base + s->offset;
}

static void put_bound(moat_buf *b, const moat__config_setting *s, uint64_t v)
{
    if (s->type == MOAT__CFG_SIZE)
        moat__config_put_size(b, v);
    else if (s->type == MOAT__CFG_DURATION)
        moat__config_put_duration(b, v);
    else
        moat_buf_printf(b, "%" PRIu64, v);
}

static void fail_range(loader *ld, const moat__config_setting *s, const scalar *sc)
{
    moat_buf lo, hi;
    moat_buf_init(&lo);
    moat_buf_init(&hi);
    put_bound(&lo, s, s->min);
    put_bound(&hi, s, s->max);
    char *f = found(sc);
    fail(ld, sc->at, "'%s' must be between %s and %s, found %s", s->key, lo.data, hi.data, f);
    free(f);
    moat_buf_free(&lo);
    moat_buf_free(&hi);
}

/* "'KEY' must be EXPECTED, found X": X is the value when show_value (the
 * type was right, the value wrong), else the TOML type that was found. */
static void fail_found(loader *ld, const moat__config_setting *s, const scalar *sc, bool show_value,
                       const char *expected)
{
    char *f = show_value ? found(sc) : NULL;
    fail(ld, sc->at, "'%s' must be %s, found %s", s->key, expected, f ? f : a_type(sc->type));
    free(f);
}

static int to_u64(loader *ld, const moat__config_setting *s, const scalar *sc, uint64_t *out)
{
    uint64_t v = 0;
    int rc = 0;
    if (sc->type == MOAT_TOML_INTEGER) {
        if (sc->i < 0) {
            fail_range(ld, s, sc);
            return -1;
        }
        v = (uint64_t)sc->i;
        if (s->type == MOAT__CFG_DURATION) {
            if (v > UINT64_MAX / 1000) rc = MOAT_ERANGE;
            v *= 1000;
        }
    } else if (sc->type == MOAT_TOML_STRING) {
        if (s->type == MOAT__CFG_SIZE)
            rc = moat__config_parse_size(sc->text, sc->len, &v);
        else if (s->type == MOAT__CFG_DURATION)
            rc = moat__config_parse_duration(sc->text, sc->len, &v);
        else if (s->type == MOAT__CFG_WORKERS && strcmp(sc->text, "auto") == 0) {
            *out = 0;
            return 0;
        } else if (sc->ref) /* "${env:N}" can only give text; read it as the number it holds */
            rc = moat_parse_u64(sc->text, sc->len, &v);
        else
            rc = MOAT_EINVAL;
    } else {
        rc = MOAT_EINVAL;
    }
    bool typed = sc->type == MOAT_TOML_INTEGER || sc->type == MOAT_TOML_STRING;
    /* workers: one message for every mistake, as "auto" is part of the range */
    if (rc == MOAT_EINVAL || (s->type == MOAT__CFG_WORKERS && (rc || v < s->min || v > s->max))) {
        switch (s->type) {
        case MOAT__CFG_SIZE:
            fail_found(ld, s, sc, typed, "a size such as 16384, \"16KiB\" or \"10MiB\"");
            break;
        case MOAT__CFG_DURATION:
            fail_found(ld, s, sc, typed,
                       "a duration such as 30, \"500ms\", \"10s\", \"5m\" or \"1h\"");
            break;
        case MOAT__CFG_WORKERS:
            fail_found(ld, s, sc, typed, "\"auto\" or an integer from 1 to 1024");
            break;
        default:
            fail_found(ld, s, sc, sc->ref != NULL, "an integer");
        }
        return -1;
    }
    if (rc || v < s->min || v > s->max) {
        fail_range(ld, s, sc);
        return -1;
    }
    *out = v;
    return 0;
}

/* Runs the setting's check on a string or list item; the message shows the
 * value as written unless it came from a reference. */
static bool check_text(loader *ld, const moat__config_setting *s, scalar *sc)
{
    if (!s->check) return true;
    char *orig = found(sc);
    const char *why = s->check(sc->text);
    sc->len = strlen(sc->text);
    if (why) {
        if (sc->ref)
            fail(ld, sc->at, "invalid '%s' value (from %s): %s", s->key, sc->ref, why);
        else
            fail(ld, sc->at, "invalid '%s' value %s: %s", s->key, orig, why);
    }
    free(orig);
    return why == NULL;
}

static void record_ref(loader *ld, const moat__config_setting *s, char *toml_text)
{
    if (!ld->refs || s < moat__config_settings ||
        s >= moat__config_settings + moat__config_nsettings) {
        free(toml_text);
        return;
    }
    size_t i = (size_t)(s - moat__config_settings);
    free(ld->refs[i]);
    ld->refs[i] = toml_text;
}

static char *ref_text(const char *ref)
{
    moat_buf b;
    moat_buf_init(&b);
    moat__config_put_string(&b, ref, strlen(ref), false);
    return moat_buf_steal(&b);
}

/* Scalars: everything but lists. On success stores the value (a string's
 * text moves to the config: sc->text becomes NULL) and records whether it
 * came from a reference; on failure reports and leaves the old value. */
/* "YYYY-MM-DD" naming a real day (Gregorian). */
static bool is_date(const char *t)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!t || strlen(t) != 10 || t[4] != '-' || t[7] != '-') return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (t[i] < '0' || t[i] > '9')) return false;
    int y = (t[0] - '0') * 1000 + (t[1] - '0') * 100 + (t[2] - '0') * 10 + (t[3] - '0');
    int m = (t[5] - '0') * 10 + (t[6] - '0'), d = (t[8] - '0') * 10 + (t[9] - '0');
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

static void set_scalar(loader *ld, const moat__config_setting *s, scalar *sc, void *base)
{
    void *dst = field(s, base);
    switch (s->type) {
    case MOAT__CFG_BOOL: {
        bool v;
        if (sc->type == MOAT_TOML_BOOL)
            v = sc->b;
        else if (sc->ref && strcmp(sc->text, "true") == 0)
            v = true;
        else if (sc->ref && strcmp(sc->text, "false") == 0)
            v = false;
        else {
            fail_found(ld, s, sc, sc->ref != NULL, "true or false");
            return;
        }
        *(bool *)dst = v;
        break;
    }
    case MOAT__CFG_COUNT:
    case MOAT__CFG_SIZE:
    case MOAT__CFG_DURATION:
    case MOAT__CFG_WORKERS: {
        uint64_t v;
        if (to_u64(ld, s, sc, &v)) return;
        *(uint64_t *)dst = v;
        break;
    }
    case MOAT__CFG_DATE: {
        if ((sc->type != MOAT_TOML_DATE_LOCAL && sc->type != MOAT_TOML_STRING) ||
            !is_date(sc->text)) {
            fail_found(ld, s, sc, sc->type == MOAT_TOML_STRING, "a date such as 2026-12-31");
            return;
        }
        char **p = dst;
        free(*p);
        *p = sc->text;
        sc->text = NULL;
        break;
    }
    case MOAT__CFG_STRING:
    case MOAT__CFG_ENUM: {
        if (sc->type != MOAT_TOML_STRING && s->type == MOAT__CFG_STRING) {
            fail_found(ld, s, sc, false, "a string");
            return;
        }
        if (s->type == MOAT__CFG_ENUM) {
            bool ok = false;
            for (size_t i = 0; sc->type == MOAT_TOML_STRING && s->enum_values[i]; i++)
                if (strcmp(sc->text, s->enum_values[i]) == 0) ok = true;
            if (!ok) {
                moat_buf exp;
                moat_buf_init(&exp);
                moat_buf_puts(&exp, "one of ");
                for (size_t i = 0; s->enum_values[i]; i++) {
                    if (i) moat_buf_puts(&exp, s->enum_values[i + 1] ? ", " : " or ");
                    moat_buf_printf(&exp, "\"%s\"", s->enum_values[i]);
                }
                fail_found(ld, s, sc, sc->type == MOAT_TOML_STRING, exp.data);
                moat_buf_free(&exp);
                return;
            }
        } else if (!check_text(ld, s, sc)) {
            return;
        }
        char **p = dst;
        free(*p);
        *p = sc->text;
        sc->text = NULL; /* now the config's */
        break;
    }
    case MOAT__CFG_LIST:
        MOAT_BUG_ON(s->type == MOAT__CFG_LIST); /* set_value handles lists */
    }
    record_ref(ld, s, sc->ref ? ref_text(sc->ref) : NULL);
}

static void free_list(moat_strlist *l)
{
    for (size_t i = 0; i < l->len; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

static void set_list(loader *ld, const moat__config_setting *s, const moat_toml_value *v,
                     void *base)
{
    const moat_toml_value *const *items;
    size_t n;
    place at = {NULL, v->line, v->col};
    if (v->type == MOAT_TOML_STRING) {
        items = &v;
        n = 1;
    } else if (v->type == MOAT_TOML_ARRAY) {
        items = (const moat_toml_value *const *)v->u.array.items;
        n = v->u.array.len;
    } else {
        fail(ld, at, "'%s' must be a string or an array of strings, found %s", s->key,
             a_type(v->type));
        return;
    }
    moat_strlist list = {moat_xcalloc(n ? n : 1, sizeof(char *)), 0};
    moat_buf refs;
    moat_buf_init(&refs);
    moat_buf_putc(&refs, '[');
    bool ok = true, any_ref = false;
    for (size_t i = 0; i < n; i++) {
        const moat_toml_value *item = items[i];
        if (item->type != MOAT_TOML_STRING) {
            fail(ld, (place){NULL, item->line, item->col},
                 "'%s' must be an array of strings, found %s in it", s->key, a_type(item->type));
            ok = false;
            continue;
        }
        scalar sc;
        if (get_scalar(ld, s->key, item, &sc) || !check_text(ld, s, &sc)) {
            free(sc.text);
            ok = false;
            continue;
        }
        bool dup = false;
        for (size_t j = 0; s->unique && j < list.len; j++)
            dup = dup || strcmp(list.items[j], sc.text) == 0;
        if (dup) {
            char *f = found(&sc);
            fail(ld, sc.at, "'%s' lists %s twice", s->key, f);
            free(f);
            free(sc.text);
            ok = false;
            continue;
        }
        if (list.len) moat_buf_puts(&refs, ", ");
        if (sc.ref)
            moat__config_put_string(&refs, sc.ref, strlen(sc.ref), false);
        else
            moat__config_put_string(&refs, sc.text, sc.len, true);
        any_ref = any_ref || sc.ref;
        list.items[list.len++] = sc.text;
    }
    moat_buf_putc(&refs, ']');
    if (ok && list.len < s->min) {
        if (s->min == 1)
            fail(ld, at, "'%s' must not be empty", s->key);
        else
            fail(ld, at, "'%s' must have at least %" PRIu64 " entries", s->key, s->min);
        ok = false;
    }
    if (ok && s->max && list.len > s->max) {
        fail(ld, at, "'%s' can have at most %" PRIu64 " entries", s->key, s->max);
        ok = false;
    }
    if (!ok) {
        free_list(&list);
        moat_buf_free(&refs);
        return;
    }
    moat_strlist *dst = field(s, base);
    free_list(dst);
    *dst = list;
    record_ref(ld, s, any_ref ? moat_buf_steal(&refs) : NULL);
    moat_buf_free(&refs);
}

static void set_value(loader *ld, const moat__config_setting *s, const moat_toml_value *v,
                      void *base)
{
    if (s->type == MOAT__CFG_LIST) {
        set_list(ld, s, v, base);
        return;
    }
    scalar sc;
    if (get_scalar(ld, s->key, v, &sc) == 0) set_scalar(ld, s, &sc, base);
    free(sc.text);
}

/* ---- walking the file ----------------------------------------------------- */

static const moat__config_setting *find_setting(const char *key)
{
    for (size_t i = 0; i < moat__config_nsettings; i++)
        if (strcmp(moat__config_settings[i].key, key) == 0) return &moat__config_settings[i];
    return NULL;
}

static bool is_table_name(const char *name)
{
    for (size_t i = 0; i < moat__config_ntables; i++)
        if (moat__config_tables[i].name[0] && !moat__config_tables[i].array &&
            strcmp(moat__config_tables[i].name, name) == 0)
            return true;
    return false;
}

static const char *leaf(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}

/* The known key closest to an unknown one: within edit distance 2, else a
 * setting of the same name in another table ('headers' for 'limits.headers'). */
static const char *suggest(const char *key, const char *prefix)
{
    const char *best = NULL;
    size_t bestd = 3;
    if (moat__config_array_table(prefix)) { /* an entry takes its own keys only */
        for (size_t i = 0; i < moat__config_nsettings; i++) {
            const moat__config_setting *s = &moat__config_settings[i];
            size_t d = moat_edit_distance(key, s->key);
            if (moat__config_in_table(s, prefix) && d < bestd) {
                best = s->key;
                bestd = d;
            }
        }
        return best;
    }
    for (size_t i = 0; i < moat__config_nsettings; i++) {
        size_t d = moat_edit_distance(key, moat__config_settings[i].key);
        if (d < bestd) {
            best = moat__config_settings[i].key;
            bestd = d;
        }
    }
    for (size_t i = 0; i < moat__config_ntables; i++) {
        if (!moat__config_tables[i].name[0]) continue;
        size_t d = moat_edit_distance(key, moat__config_tables[i].name);
        if (d < bestd) {
            best = moat__config_tables[i].name;
            bestd = d;
        }
    }
    for (size_t i = 0; !best && i < moat__config_nsettings; i++)
        if (strcmp(leaf(key), leaf(moat__config_settings[i].key)) == 0)
            best = moat__config_settings[i].key;
    return best;
}

/* Byte offset of 1-based column col in line[0..n): the reader counts
 * columns in code points. */
static size_t col_to_off(const char *line, size_t n, int col)
{
    size_t off = 0;
    for (int c = 1; c < col && off < n; c++) {
        off++;
        while (off < n && ((unsigned char)line[off] & 0xC0) == 0x80)
            off++;
    }
    return off;
}

static int off_to_col(const char *line, size_t off)
{
    int col = 1;
    for (size_t i = 0; i < off; i++)
        if (((unsigned char)line[i] & 0xC0) != 0x80) col++;
    return col;
}

/* The reader gives positions of values, not keys. A key sits on its value's
 * line, before it; a table's key is on its header's line. Find it there, so
 * "unknown setting" points at the key; fall back to the value. */
static place key_place(const loader *ld, const moat_toml_kv *kv)
{
    const moat_toml_value *v = kv->value;
    place at = {NULL, v->line, v->col};
    if (!ld->src || v->line < 1 || v->col < 1 || kv->key_len == 0) return at;
    const char *p = ld->src, *end = ld->src + ld->src_len;
    for (int l = 1; l < v->line; l++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (!p) return at;
        p++;
    }
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t linelen = (size_t)((eol ? eol : end) - p);
    size_t lim = v->type == MOAT_TOML_TABLE ? linelen : col_to_off(p, linelen, v->col);
    const char *hit = NULL;
    for (size_t i = 0; i + kv->key_len <= lim; i++) {
        if (memcmp(p + i, kv->key, kv->key_len) == 0) {
            hit = p + i;
            if (v->type == MOAT_TOML_TABLE) break; /* the header's first mention */
        }
    }
    if (hit) at.col = off_to_col(p, (size_t)(hit - p));
    return at;
}

static void walk(loader *ld, const moat_toml_value *t, const char *prefix, void *base);

#define MAX_ARRAY_ENTRIES 1000

/* [[NAME]] entries: each table becomes an element struct that starts from
 * the element settings' defaults (unset when they have none), then takes the
 * table's keys; required keys must be there. */
static void add_entries(loader *ld, const moat__config_table *tab, const moat_toml_value *v,
                        void *base)
{
    if (v->type != MOAT_TOML_ARRAY) {
        fail(ld, (place){NULL, v->line, v->col},
             "'%s' must be an array of tables ([[%s]]), found %s", tab->name, tab->name,
             a_type(v->type));
        return;
    }
    moat_config_array *arr = (moat_config_array *)((char *)base + tab->array_offset);
    for (size_t k = 0; k < v->u.array.len; k++) {
        const moat_toml_value *item = v->u.array.items[k];
        place at = {NULL, item->line, item->col};
        if (item->type != MOAT_TOML_TABLE) {
            fail(ld, at, "each '%s' entry must be a table, found %s", tab->name,
                 a_type(item->type));
            continue;
        }
        if (arr->len >= MAX_ARRAY_ENTRIES) {
            fail(ld, at, "too many [[%s]] entries (at most %d)", tab->name, MAX_ARRAY_ENTRIES);
            return;
        }
        size_t n = arr->len;
        arr->items = moat_xrealloc(arr->items, (n + 1) * tab->elem_size);
        arr->refs = moat_xrealloc(arr->refs, (n + 1) * moat__config_nsettings * sizeof(char *));
        void *elem = (char *)arr->items + n * tab->elem_size;
        memset(elem, 0, tab->elem_size);
        memset(arr->refs + n * moat__config_nsettings, 0, moat__config_nsettings * sizeof(char *));
        arr->len = n + 1;
        for (size_t i = 0; i < moat__config_nsettings; i++) {
            const moat__config_setting *s = &moat__config_settings[i];
            if (!s->def || !moat__config_in_table(s, tab->name)) continue;
            char *err;
            int rc = moat__config_parse_text(s, s->def, elem, &err);
            MOAT_BUG_ON(rc != 0);
        }
        char **saved = ld->refs;
        ld->refs = arr->refs + n * moat__config_nsettings;
        walk(ld, item, tab->name, elem);
        ld->refs = saved;
        for (size_t i = 0; i < moat__config_nsettings; i++) {
            const moat__config_setting *s = &moat__config_settings[i];
            if (!s->required || !moat__config_in_table(s, tab->name)) continue;
            MOAT_BUG_ON(s->type != MOAT__CFG_STRING && s->type != MOAT__CFG_ENUM &&
                        s->type != MOAT__CFG_DATE);
            if (!*(char **)field(s, elem) && !moat_toml_get(item, leaf(s->key)))
                fail(ld, at, "this [[%s]] entry needs '%s'", tab->name, leaf(s->key));
        }
    }
}

static void walk(loader *ld, const moat_toml_value *t, const char *prefix, void *base)
{
    for (size_t i = 0; i < t->u.table.len; i++) {
        const moat_toml_kv *kv = &t->u.table.items[i];
        char *key = printable(kv->key, kv->key_len);
        char *full = prefix[0] ? moat_xasprintf("%s.%s", prefix, key) : moat_xstrdup(key);
        bool clean = strlen(kv->key) == kv->key_len && strcmp(key, kv->key) == 0;
        const moat__config_setting *s = clean ? find_setting(full) : NULL;
        /* A quoted dotted key ("paths.csp" in [headers]) names a setting of
         * another table, whose values live in another struct. */
        const moat__config_setting *elsewhere = NULL;
        if (s && !moat__config_in_table(s, prefix)) {
            elsewhere = s;
            s = NULL;
        }
        /* Arrays of tables hang off the config itself, never off an entry. */
        const moat__config_table *arr = clean && !s && !moat__config_array_table(prefix)
                                            ? moat__config_array_table(full)
                                            : NULL;
        if (arr) {
            add_entries(ld, arr, kv->value, base);
        } else if (s) {
            set_value(ld, s, kv->value, base);
        } else if (clean && !moat__config_array_table(prefix) && is_table_name(full)) {
            if (kv->value->type == MOAT_TOML_TABLE)
                walk(ld, kv->value, full, base);
            else
                fail(ld, (place){NULL, kv->value->line, kv->value->col},
                     "'%s' must be a table, found %s", full, a_type(kv->value->type));
        } else if (elsewhere) {
            char *tab = moat_xstrndup(full, (size_t)(leaf(full) - 1 - full));
            bool in_array = moat__config_array_table(tab) != NULL;
            fail(ld, key_place(ld, kv), "setting '%s' belongs in a %s%s%s table", full,
                 in_array ? "[[" : "[", tab, in_array ? "]]" : "]");
            free(tab);
        } else {
            const char *hint = suggest(full, prefix);
            fail(ld, key_place(ld, kv), "unknown %s '%s'%s%s%s",
                 kv->value->type == MOAT_TOML_TABLE ? "table" : "setting", full,
                 hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
        }
        free(full);
        free(key);
    }
}

/* ---- finding and reading the file ----------------------------------------- */

static bool is_pyproject(const char *path)
{
    const char *slash = strrchr(path, '/');
    return strcmp(slash ? slash + 1 : path, "pyproject.toml") == 0;
}

/* Reads and parses path and returns the table holding moat's settings (the
 * root, or [tool.moat] of a pyproject.toml). Returns NULL with nothing
 * reported when the file is missing or has no [tool.moat] and !required;
 * NULL with an error reported otherwise. *text and *root are owned by the
 * caller; ld keeps pointing at them. */
static const moat_toml_value *open_config(loader *ld, const char *path, bool required, char **text,
                                          moat_toml_value **root)
{
    size_t len = 0;
    int rc = read_capped(path, MAX_CONFIG_FILE, text, &len);
    if (rc == ENOENT && !required) return NULL;
    if (rc == -1) {
        fail(ld, (place){0}, "cannot read %s: larger than 16MiB", path);
        return NULL;
    }
    if (rc) {
        fail(ld, (place){0}, "cannot read %s: %s", path, strerror(rc));
        return NULL;
    }
    ld->file = path;
    ld->src = *text;
    ld->src_len = len;
    moat_toml_error err;
    if (moat_toml_parse(*text, len, root, &err)) {
        fail(ld, (place){NULL, err.line, err.col}, "%s", err.message);
        return NULL;
    }
    if (!is_pyproject(path)) return *root;
    const moat_toml_value *tool = moat_toml_get(*root, "tool");
    const moat_toml_value *moat =
        tool && tool->type == MOAT_TOML_TABLE ? moat_toml_get(tool, "moat") : NULL;
    if (!moat) {
        if (required) fail(ld, (place){0}, "no [tool.moat] table in %s", path);
        return NULL;
    }
    if (moat->type != MOAT_TOML_TABLE) {
        fail(ld, (place){NULL, moat->line, moat->col}, "'tool.moat' must be a table, found %s",
             a_type(moat->type));
        return NULL;
    }
    return moat;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return moat_xstrdup(".");
    if (slash == path) return moat_xstrdup("/");
    return moat_xstrndup(path, (size_t)(slash - path));
}

/* A path setting's value made absolute against dir (owned), or NULL when it
 * is absolute already or not a path ("-", "", a URL). */
static char *absolute(const char *dir, const char *v)
{
    const char *p = v, *scheme = "";
    if (strncmp(v, "sqlite:", 7) == 0) {
        p = v + 7;
        scheme = "sqlite:";
    } else if (strstr(v, "://")) {
        return NULL;
    }
    if (!*p || p[0] == '/' || strcmp(p, "-") == 0) return NULL;
    if (p[0] == '.' && p[1] == '/') p += 2;
    return moat_xasprintf("%s%s%s%s", scheme, dir, strcmp(dir, "/") == 0 ? "" : "/", p);
}

/* Relative paths in the settings marked path (given or default) start from
 * the configuration file's folder, like ${file:...}: the same file then
 * means the same path to `moat serve`, `moat user` and `moat log`, wherever
 * they are started. */
static void resolve_paths(moat_config *c, const char *dir)
{
    char *abs_dir = realpath(dir, NULL);
    const char *base = abs_dir ? abs_dir : dir;
    for (size_t i = 0; i < moat__config_nsettings; i++) {
        const moat__config_setting *s = &moat__config_settings[i];
        if (!s->path || moat__config_in_array(s)) continue;
        if (s->type == MOAT__CFG_STRING) {
            char **v = field(s, c);
            char *a = *v ? absolute(base, *v) : NULL;
            if (a) {
                free(*v);
                *v = a;
            }
        } else if (s->type == MOAT__CFG_LIST) {
            moat_strlist *l = field(s, c);
            for (size_t k = 0; k < l->len; k++) {
                char *a = absolute(base, l->items[k]);
                if (a) {
                    free(l->items[k]);
                    l->items[k] = a;
                }
            }
        }
    }
    free(abs_dir);
}

/* log.security left out: the security log goes beside the store's
 * database ("sqlite:/var/lib/moat/moat.db" -> /var/lib/moat/security.log),
 * in moat's state folder: that folder is writable by moat's user already
 * (SQLite writes its journal there), which the log needs for rotation, and
 * the log stays off standard output, where the access log goes. */
static void default_security_log(moat_config *c, const moat_toml_value *tbl)
{
    const moat_toml_value *log = tbl ? moat_toml_get(tbl, "log") : NULL;
    if (log && log->type == MOAT_TOML_TABLE && moat_toml_get(log, "security")) return;
    const char *users = moat_config_store_users(c);
    const char *db = users && strncmp(users, "sqlite:", 7) == 0 ? users + 7 : "";
    const char *slash = strrchr(db, '/');
    free(c->log.security);
    if (!slash)
        c->log.security = moat_xstrdup("security.log");
    else
        c->log.security =
            moat_xasprintf("%.*s/security.log", slash == db ? 0 : (int)(slash - db), db);
}

/* [tls.acme] turns ACME on by being there, even empty. Its secret may only
 * come from a reference: written in the file it would sit in backups and
 * version control. */
static void note_acme(moat_config *c, const moat_toml_value *tbl)
{
    const moat_toml_value *tls = tbl ? moat_toml_get(tbl, "tls") : NULL;
    const moat_toml_value *acme =
        tls && tls->type == MOAT_TOML_TABLE ? moat_toml_get(tls, "acme") : NULL;
    c->tls.acme.on = acme && acme->type == MOAT_TOML_TABLE;
}

bool moat__config_from_ref(const moat_config *c, const char *key)
{
    for (size_t i = 0; i < moat__config_nsettings; i++)
        if (strcmp(moat__config_settings[i].key, key) == 0) return c->refs && c->refs[i];
    return false;
}

/* store.url is both roles in one file; store.users and store.state split
 * them: naming a store.url of its own with either is ambiguous (its
 * default, as `moat config dump` writes it, is not). */
static bool nonempty(const moat_toml_value *st, const char *key)
{
    const moat_toml_value *v = moat_toml_get(st, key);
    return v && (v->type != MOAT_TOML_STRING || v->u.str.len > 0);
}

static void store_conflict(loader *ld, const moat_config *c, const moat_toml_value *tbl,
                           const char *dir)
{
    const moat_toml_value *st = tbl ? moat_toml_get(tbl, "store") : NULL;
    if (!st || st->type != MOAT_TOML_TABLE || !moat_toml_get(st, "url")) return;
    const char *other = nonempty(st, "users") ? "users" : nonempty(st, "state") ? "state" : NULL;
    if (!other) return;
    char *abs_dir = realpath(dir, NULL);
    char *def = absolute(abs_dir ? abs_dir : dir, "sqlite:moat.db"); /* store.url's default */
    bool is_default = def && c->store.url && strcmp(def, c->store.url) == 0;
    free(def);
    free(abs_dir);
    if (!is_default)
        fail(ld, (place){.opt = ld->file ? ld->file : "configuration"},
             "'store.url' (both roles in one SQLite file) and 'store.%s' are both set: for "
             "separate roles set 'store.users' and 'store.state' and remove 'store.url'",
             other);
}

/* --upstream / --listen: one value that replaces the list. */
static void apply_override(loader *ld, moat_config *c, const char *key, const char *opt,
                           const char *value)
{
    const moat__config_setting *s = find_setting(key);
    MOAT_BUG_ON(!s || s->type != MOAT__CFG_LIST);
    scalar sc = {.type = MOAT_TOML_STRING, .text = moat_xstrdup(value), .len = strlen(value)};
    sc.at.opt = opt;
    if (!check_text(ld, s, &sc)) {
        free(sc.text);
        return;
    }
    moat_strlist *dst = field(s, c);
    free_list(dst);
    dst->items = moat_xcalloc(1, sizeof(char *));
    dst->items[0] = sc.text;
    dst->len = 1;
    record_ref(ld, s, NULL);
}

int moat_config_load(const moat_config_source *src, moat_config **out, char **errmsg)
{
    static const moat_config_source none;
    if (!src) src = &none;
    *out = NULL;
    *errmsg = NULL;
    moat_config *c = moat_config_default();
    loader ld = {.refs = c->refs};
    moat_buf_init(&ld.errs);
    char *text = NULL;
    moat_toml_value *root = NULL;
    const moat_toml_value *tbl;
    const char *path = src->path;
    if (path) {
        tbl = open_config(&ld, path, true, &text, &root);
    } else {
        path = "moat.toml";
        tbl = open_config(&ld, path, false, &text, &root);
        if (!tbl && !ld.nerrs && !root) {
            free(text);
            text = NULL;
            path = "pyproject.toml";
            tbl = open_config(&ld, path, false, &text, &root);
        }
    }
    char *dir = dir_of(path);
    ld.dir = dir;
    if (tbl) {
        c->source = moat_xstrdup(path);
        walk(&ld, tbl, "", c);
        if (!ld.nerrs) resolve_paths(c, dir);
    }
    if (!ld.nerrs) store_conflict(&ld, c, tbl, dir);
    if (!ld.nerrs) default_security_log(c, tbl);
    if (!ld.nerrs) note_acme(c, tbl);
    if (src->upstream) apply_override(&ld, c, "upstream", "--upstream", src->upstream);
    if (src->listen) apply_override(&ld, c, "listen", "--listen", src->listen);
    if (!ld.nerrs) {
        char *why = moat__config_crosscheck(c);
        if (why) {
            fail(&ld, (place){.opt = c->source ? c->source : "configuration"}, "%s", why);
            free(why);
        }
    }
    moat_toml_free(root);
    free(text);
    free(dir);
    if (ld.nerrs) {
        if (ld.nerrs > MAX_ERRORS)
            moat_buf_printf(&ld.errs, "\n(%zu more errors not shown)", ld.nerrs - MAX_ERRORS);
        *errmsg = moat_buf_steal(&ld.errs);
        moat_config_free(c);
        return MOAT_ECONFIG;
    }
    moat_buf_free(&ld.errs);
    *out = c;
    return 0;
}

/* ---- defaults, freeing ---------------------------------------------------- */

int moat__config_parse_text(const moat__config_setting *s, const char *text, void *base,
                            char **errmsg)
{
    loader ld = {.dir = "."};
    moat_buf_init(&ld.errs);
    char *doc = moat_xasprintf("v = %s\n", text);
    moat_toml_value *root = NULL;
    moat_toml_error err;
    if (moat_toml_parse(doc, strlen(doc), &root, &err))
        fail(&ld, (place){NULL, err.line, err.col}, "%s", err.message);
    else
        set_value(&ld, s, moat_toml_get(root, "v"), base);
    moat_toml_free(root);
    free(doc);
    *errmsg = NULL;
    if (ld.nerrs) {
        *errmsg = moat_buf_steal(&ld.errs);
        return MOAT_ECONFIG;
    }
    moat_buf_free(&ld.errs);
    return 0;
}

moat_config *moat_config_default(void)
{
    moat_config *c = moat_xcalloc(1, sizeof(*c));
    c->refs = moat_xcalloc(moat__config_nsettings, sizeof(char *));
    for (size_t i = 0; i < moat__config_nsettings; i++) {
        const moat__config_setting *s = &moat__config_settings[i];
        if (moat__config_in_array(s)) continue; /* per entry (add_entries) */
        char *err;
        int rc = moat__config_parse_text(s, s->def, c, &err);
        if (rc) moat_error("the default of %s is invalid: %s", s->key, err);
        MOAT_BUG_ON(rc != 0);
    }
    return c;
}

void moat__config_free_value(const moat__config_setting *s, void *base)
{
    void *p = field(s, base);
    if (s->type == MOAT__CFG_STRING || s->type == MOAT__CFG_ENUM || s->type == MOAT__CFG_DATE) {
        free(*(char **)p);
        *(char **)p = NULL;
    } else if (s->type == MOAT__CFG_LIST) {
        free_list(p);
    }
}

static void free_entries(const moat__config_table *tab, moat_config *c)
{
    moat_config_array *arr = (moat_config_array *)((char *)c + tab->array_offset);
    for (size_t k = 0; k < arr->len; k++) {
        void *elem = (char *)arr->items + k * tab->elem_size;
        for (size_t i = 0; i < moat__config_nsettings; i++) {
            if (!moat__config_in_table(&moat__config_settings[i], tab->name)) continue;
            moat__config_free_value(&moat__config_settings[i], elem);
            free(arr->refs[k * moat__config_nsettings + i]);
        }
    }
    free(arr->items);
    free(arr->refs);
    *arr = (moat_config_array){0};
}

void moat_config_free(moat_config *c)
{
    if (!c) return;
    for (size_t t = 0; t < moat__config_ntables; t++)
        if (moat__config_tables[t].array) free_entries(&moat__config_tables[t], c);
    for (size_t i = 0; i < moat__config_nsettings; i++) {
        if (moat__config_in_array(&moat__config_settings[i])) continue;
        moat__config_free_value(&moat__config_settings[i], c);
        if (c->refs) free(c->refs[i]);
    }
    free(c->refs);
    free(c->source);
    free(c);
}

bool moat_config_holds_secret(const moat_config *c)
{
    if (!c->source) return false;
    for (size_t i = 0; i < moat__config_nsettings; i++) {
        const moat__config_setting *s = &moat__config_settings[i];
        if (!s->secret || s->type != MOAT__CFG_STRING || moat__config_in_array(s)) continue;
        char *const *v = field(s, (void *)c);
        if (*v && **v && !(c->refs && c->refs[i])) return true;
    }
    return false;
}

unsigned moat_config_workers(const moat_config *c)
{
    if (c->workers) return (unsigned)c->workers;
    /* The CPUs this process may run on (taskset, cpusets), not all the
     * machine's. */
    long n = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
    if (n < 1) n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 1024) n = 1024;
    return (unsigned)n;
}
