/* osv.c - the OSV record: validating one record and storing its PyPI
 * entries, deciding whether a version falls in a range by the OSV schema's
 * rules, and CVSS v3 base scores. Reading files, zips and YAML trees is
 * import.c's; the SQL and the merging of results are db.c's. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "deps_int.h"

/* ---- CVSS v3.x ------------------------------------------------------------*/

static double roundup(double x)
{
    long long i = llround(x * 100000.0);
    if (i % 10000 == 0) return (double)i / 100000.0;
    return (floor((double)i / 10000.0) + 1.0) / 10.0;
}

double moat_cvss3_score(const char *vec)
{
    if (!vec || strncmp(vec, "CVSS:3.", 7) != 0) return -1;
    char m[8] = {0}; /* AV AC PR UI S C I A */
    static const char *const names[] = {"AV", "AC", "PR", "UI", "S", "C", "I", "A"};
    const char *p = strchr(vec, '/');
    while (p && *p == '/') {
        p++;
        const char *colon = strchr(p, ':');
        if (!colon || !colon[1]) return -1;
        size_t kl = (size_t)(colon - p);
        for (size_t i = 0; i < 8; i++)
            if (strlen(names[i]) == kl && memcmp(p, names[i], kl) == 0) m[i] = colon[1];
        p = strchr(colon, '/');
    }
    for (size_t i = 0; i < 8; i++)
        if (!m[i]) return -1;
    double av, ac, pr, ui, c[3];
    bool changed = m[4] == 'C';
    if (m[4] != 'C' && m[4] != 'U') return -1;
    switch (m[0]) {
    case 'N':
        av = 0.85;
        break;
    case 'A':
        av = 0.62;
        break;
    case 'L':
        av = 0.55;
        break;
    case 'P':
        av = 0.2;
        break;
    default:
        return -1;
    }
    if (m[1] == 'L')
        ac = 0.77;
    else if (m[1] == 'H')
        ac = 0.44;
    else
        return -1;
    switch (m[2]) {
    case 'N':
        pr = 0.85;
        break;
    case 'L':
        pr = changed ? 0.68 : 0.62;
        break;
    case 'H':
        pr = changed ? 0.5 : 0.27;
        break;
    default:
        return -1;
    }
    if (m[3] == 'N')
        ui = 0.85;
    else if (m[3] == 'R')
        ui = 0.62;
    else
        return -1;
    for (int i = 0; i < 3; i++) {
        char x = m[5 + i];
        if (x == 'H')
            c[i] = 0.56;
        else if (x == 'L')
            c[i] = 0.22;
        else if (x == 'N')
            c[i] = 0;
        else
            return -1;
    }
    double iss = 1 - (1 - c[0]) * (1 - c[1]) * (1 - c[2]);
    double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * pow(iss - 0.02, 15) : 6.42 * iss;
    double expl = 8.22 * av * ac * pr * ui;
    if (impact <= 0) return 0;
    double s = changed ? 1.08 * (impact + expl) : impact + expl;
    return roundup(s < 10 ? s : 10);
}

const char *moat_cvss_label(double score)
{
    if (score < 0) return NULL;
    if (score == 0) return "none";
    if (score < 4) return "low";
    if (score < 7) return "medium";
    if (score < 9) return "high";
    return "critical";
}

/* ---- range evaluation -----------------------------------------------------*/

static const char *const event_kinds[] = {"introduced", "fixed", "last_affected", "limit"};

static int event_cmp(const moat__osv_event *a, const moat__osv_event *b)
{
    if (!a->v || !b->v) return a->v ? 1 : b->v ? -1 : 0;
    return moat_pep440_cmp(a->v, b->v);
}

void moat__osv_range_parse(json_t *events, moat__osv_range *out)
{
    size_t n = json_array_size(events);
    out->ev = n ? moat_xcalloc(n, sizeof(*out->ev)) : NULL;
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(events, i);
        for (int k = 0; k < 4; k++) {
            json_t *s = json_object_get(e, event_kinds[k]);
            if (!json_is_string(s)) continue;
            const char *t = json_string_value(s);
            moat__osv_event x = {k, NULL};
            if (!(k == 0 && strcmp(t, "0") == 0) &&
                moat_pep440_parse(t, json_string_length(s), &x.v) < 0)
                break; /* not PEP 440: ignored */
            /* insertion sort keeps events of equal versions in their order */
            size_t j = out->n;
            while (j > 0 && event_cmp(&out->ev[j - 1], &x) > 0) {
                out->ev[j] = out->ev[j - 1];
                j--;
            }
            out->ev[j] = x;
            out->n++;
            break;
        }
    }
}

void moat__osv_range_clear(moat__osv_range *r)
{
    for (size_t i = 0; i < r->n; i++)
        moat_pep440_free(r->ev[i].v);
    free(r->ev);
    r->ev = NULL;
    r->n = 0;
}

bool moat__osv_range_affects(const moat__osv_range *r, const moat_pep440 *v)
{
    bool affected = false;
    for (size_t i = 0; i < r->n; i++) {
        int c = r->ev[i].v ? moat_pep440_cmp(v, r->ev[i].v) : 1;
        switch (r->ev[i].kind) {
        case 0:
            if (c >= 0) affected = true;
            break;
        case 1:
        case 3:
            if (c >= 0) affected = false;
            break;
        case 2:
            if (c > 0) affected = false;
            break;
        }
    }
    return affected;
}

bool moat__osv_text_ok(const char *t)
{
    if (!t || !*t) return false;
    for (; *t; t++)
        if ((unsigned char)*t < 0x20) return false;
    return true;
}

/* The stored form of a range: events as a kind letter (i, f, l, m) and the
 * version, separated by US (0x1f), ranges separated by RS (0x1e). Faster to
 * read back than JSON, and nothing a version can contain. */
void moat__osv_range_encode(json_t *events, moat_buf *out)
{
    static const char letters[] = "iflm";
    if (out->len) moat_buf_putc(out, '\x1e');
    size_t start = out->len, i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        for (int k = 0; k < 4; k++) {
            const char *t = json_string_value(json_object_get(e, event_kinds[k]));
            if (!moat__osv_text_ok(t)) continue;
            if (out->len > start) moat_buf_putc(out, '\x1f');
            moat_buf_putc(out, letters[k]);
            moat_buf_puts(out, t);
            break;
        }
    }
}

void moat__osv_range_decode(const char *s, size_t n, moat__osv_range *out, moat_buf *fixed)
{
    size_t count = 1;
    for (size_t i = 0; i < n; i++)
        count += s[i] == '\x1f';
    out->ev = moat_xcalloc(count, sizeof(*out->ev));
    out->n = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '\x1f')
            j++;
        if (j > i + 1) {
            const char *t = s + i + 1;
            size_t tl = j - i - 1;
            int k = s[i] == 'i' ? 0 : s[i] == 'f' ? 1 : s[i] == 'l' ? 2 : 3;
            if (k == 1 && fixed) {
                moat_buf_append(fixed, t, tl);
                moat_buf_putc(fixed, 0);
            }
            moat__osv_event x = {k, NULL};
            if ((k == 0 && tl == 1 && t[0] == '0') || moat_pep440_parse(t, tl, &x.v) == 0) {
                size_t m = out->n;
                while (m > 0 && event_cmp(&out->ev[m - 1], &x) > 0) {
                    out->ev[m] = out->ev[m - 1];
                    m--;
                }
                out->ev[m] = x;
                out->n++;
            }
        }
        i = j + 1;
    }
}

bool moat__osv_events_affect(json_t *events, const moat_pep440 *v)
{
    moat__osv_range r;
    moat__osv_range_parse(events, &r);
    bool a = moat__osv_range_affects(&r, v);
    moat__osv_range_clear(&r);
    return a;
}

/* ---- storing a record -----------------------------------------------------*/

static void skip(FILE *diag, moat_osvdb_stats *st, const char *where, const char *id,
                 const char *why)
{
    st->skipped++;
    if (diag)
        fprintf(diag, "%s: record%s%s skipped: %s\n", where, id ? " " : "", id ? id : "", why);
}

/* The first line of details (or the summary), at most 160 bytes, owned. */
static char *one_line(json_t *rec)
{
    json_t *s = json_object_get(rec, "summary");
    if (!json_is_string(s) || !json_string_length(s)) s = json_object_get(rec, "details");
    const char *t = json_is_string(s) ? json_string_value(s) : "";
    while (isspace((unsigned char)*t))
        t++;
    size_t n = strcspn(t, "\r\n");
    if (n > 160) {
        n = 157;
        while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80)
            n--; /* whole UTF-8 chars */
        return moat_xasprintf("%.*s...", (int)n, t);
    }
    return moat_xstrndup(t, n);
}

static int db_fail(moat_osvdb *db, char **err)
{
    if (err) *err = moat_xasprintf("%s: %s", db->path, sqlite3_errmsg(db->db));
    return MOAT_EIO;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : MOAT_EIO;
}

/* Checks the shape of one affected entry; returns NULL if fine. */
static const char *check_affected(json_t *a)
{
    if (!json_is_object(a)) return "an 'affected' entry is not an object";
    json_t *pkg = json_object_get(a, "package");
    if (pkg && !json_is_object(pkg)) return "'package' is not an object";
    json_t *ranges = json_object_get(a, "ranges");
    if (ranges && !json_is_array(ranges)) return "'ranges' is not an array";
    size_t i;
    json_t *r;
    json_array_foreach(ranges, i, r)
    {
        if (!json_is_object(r) || !json_is_string(json_object_get(r, "type")))
            return "a range has no 'type'";
        json_t *ev = json_object_get(r, "events");
        if (!json_is_array(ev)) return "a range has no 'events' array";
        size_t j;
        json_t *e;
        json_array_foreach(ev, j, e)
        {
            int found = 0;
            for (int k = 0; k < 4; k++)
                if (json_is_string(json_object_get(e, event_kinds[k]))) found++;
            if (!json_is_object(e) || found != 1)
                return "an event is not one of introduced, fixed, last_affected, limit";
        }
    }
    json_t *vs = json_object_get(a, "versions");
    if (vs && !json_is_array(vs)) return "'versions' is not an array";
    json_t *v;
    json_array_foreach(vs, i, v)
    {
        if (!json_is_string(v)) return "a 'versions' entry is not a string";
    }
    return NULL;
}

static const char *severity_of(json_t *rec, double *score)
{
    *score = -1;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(rec, "severity"), i, s)
    {
        const char *type = json_string_value(json_object_get(s, "type"));
        const char *vec = json_string_value(json_object_get(s, "score"));
        if (type && vec && strncmp(type, "CVSS_V3", 7) == 0) {
            double x = moat_cvss3_score(vec);
            if (x > *score) *score = x;
        }
    }
    if (*score >= 0) return moat_cvss_label(*score);
    /* GitHub's own label, when there is no CVSS v3 vector */
    const char *lab =
        json_string_value(json_object_get(json_object_get(rec, "database_specific"), "severity"));
    if (!lab) return NULL;
    if (strcasecmp(lab, "critical") == 0) return "critical";
    if (strcasecmp(lab, "high") == 0) return "high";
    if (strcasecmp(lab, "moderate") == 0 || strcasecmp(lab, "medium") == 0) return "medium";
    if (strcasecmp(lab, "low") == 0) return "low";
    return NULL;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

int moat__osv_store(moat_osvdb *db, json_t *rec, const char *where, FILE *diag,
                    moat_osvdb_stats *st, char **err)
{
    st->records++;
    if (!json_is_object(rec)) {
        skip(diag, st, where, NULL, "not a JSON object");
        return 0;
    }
    json_t *jid = json_object_get(rec, "id");
    if (!json_is_string(jid) || json_string_length(jid) == 0 || json_string_length(jid) > 200) {
        skip(diag, st, where, NULL, "no 'id' string");
        return 0;
    }
    const char *id = json_string_value(jid);
    json_t *aff = json_object_get(rec, "affected");
    if (aff && !json_is_array(aff)) {
        skip(diag, st, where, id, "'affected' is not an array");
        return 0;
    }
    json_t *aliases = json_object_get(rec, "aliases");
    if (aliases && !json_is_array(aliases)) {
        skip(diag, st, where, id, "'aliases' is not an array");
        return 0;
    }
    size_t i;
    json_t *a;
    json_array_foreach(aliases, i, a)
    {
        if (!json_is_string(a)) {
            skip(diag, st, where, id, "an alias is not a string");
            return 0;
        }
    }
    json_t *withdrawn = json_object_get(rec, "withdrawn");
    json_t *modified = json_object_get(rec, "modified");
    if ((withdrawn && !json_is_string(withdrawn)) || (modified && !json_is_string(modified))) {
        skip(diag, st, where, id, "'modified' or 'withdrawn' is not a string");
        return 0;
    }
    bool pypi = false;
    json_array_foreach(aff, i, a)
    {
        const char *why = check_affected(a);
        if (why) {
            skip(diag, st, where, id, why);
            return 0;
        }
        const char *eco =
            json_string_value(json_object_get(json_object_get(a, "package"), "ecosystem"));
        const char *name =
            json_string_value(json_object_get(json_object_get(a, "package"), "name"));
        if (eco && name && strcmp(eco, "PyPI") == 0) pypi = true;
    }
    if (!pypi) {
        st->other++;
        return 0;
    }

    moat__osvdb_cache_clear(db);
    /* replace whatever an earlier import stored under this id */
    sqlite3_bind_text(db->del_ver, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(db->del_aff, 1, id, -1, SQLITE_STATIC);
    if (step_done(db->del_ver) < 0 || step_done(db->del_aff) < 0) return db_fail(db, err);

    double score;
    const char *sev = severity_of(rec, &score);
    char *summary = one_line(rec);
    char *alias_json = aliases ? json_dumps(aliases, JSON_COMPACT) : moat_xstrdup("[]");
    sqlite3_stmt *s = db->ins_vuln;
    bind_text(s, 1, id);
    bind_text(s, 2, json_string_value(modified));
    bind_text(s, 3, json_string_value(json_object_get(rec, "published")));
    bind_text(s, 4, json_string_value(withdrawn));
    bind_text(s, 5, summary);
    bind_text(s, 6, json_string_value(json_object_get(rec, "details")));
    bind_text(s, 7, alias_json);
    if (score >= 0)
        sqlite3_bind_double(s, 8, score);
    else
        sqlite3_bind_null(s, 8);
    bind_text(s, 9, sev);
    int rc = step_done(s);
    sqlite3_clear_bindings(s);
    free(summary);
    free(alias_json);
    if (rc < 0) return db_fail(db, err);

    /* aliases for the lookups: one string, separated by US (0x1f) */
    moat_buf alias_text;
    moat_buf_init(&alias_text);
    moat_buf_puts(&alias_text, "");
    json_array_foreach(aliases, i, a)
    {
        const char *t = json_string_value(a);
        if (!moat__osv_text_ok(t)) continue;
        if (alias_text.len) moat_buf_putc(&alias_text, '\x1f');
        moat_buf_puts(&alias_text, t);
    }

    json_array_foreach(aff, i, a)
    {
        json_t *pkg = json_object_get(a, "package");
        const char *eco = json_string_value(json_object_get(pkg, "ecosystem"));
        json_t *jname = json_object_get(pkg, "name");
        if (!eco || strcmp(eco, "PyPI") != 0 || !json_is_string(jname)) continue;
        char *name = moat_pep503_name(json_string_value(jname), json_string_length(jname));
        /* keep the ranges whose versions are PEP 440 ordered; GIT ranges
         * (commit hashes) say nothing about release numbers */
        moat_buf ranges;
        moat_buf_init(&ranges);
        moat_buf_puts(&ranges, "");
        size_t j;
        json_t *r;
        json_array_foreach(json_object_get(a, "ranges"), j, r)
        {
            const char *type = json_string_value(json_object_get(r, "type"));
            if (strcmp(type, "ECOSYSTEM") == 0 || strcmp(type, "SEMVER") == 0)
                moat__osv_range_encode(json_object_get(r, "events"), &ranges);
        }
        sqlite3_bind_text(db->ins_aff, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(db->ins_aff, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(db->ins_aff, 3, ranges.data, -1, SQLITE_STATIC);
        sqlite3_bind_text(db->ins_aff, 4, alias_text.data, -1, SQLITE_STATIC);
        if (score >= 0)
            sqlite3_bind_double(db->ins_aff, 5, score);
        else
            sqlite3_bind_null(db->ins_aff, 5);
        bind_text(db->ins_aff, 6, sev);
        sqlite3_bind_int(db->ins_aff, 7, withdrawn ? 1 : 0);
        rc = step_done(db->ins_aff);
        moat_buf_free(&ranges);
        if (rc < 0) {
            free(name);
            moat_buf_free(&alias_text);
            return db_fail(db, err);
        }
        sqlite3_int64 aid = sqlite3_last_insert_rowid(db->db);
        json_t *v;
        json_array_foreach(json_object_get(a, "versions"), j, v)
        {
            const char *raw = json_string_value(v);
            moat_pep440 *pv = NULL;
            char *key;
            if (moat_pep440_parse(raw, json_string_length(v), &pv) == 0) {
                key = moat__pep440_key(pv);
                moat_pep440_free(pv);
            } else {
                /* not PEP 440: matched by its lower-case text only */
                st->bad_versions++;
                key = moat_xasprintf("~%s", raw);
                for (char *k = key; *k; k++)
                    *k = (char)tolower((unsigned char)*k);
            }
            sqlite3_bind_int64(db->ins_ver, 1, aid);
            sqlite3_bind_text(db->ins_ver, 2, name, -1, SQLITE_STATIC);
            sqlite3_bind_text(db->ins_ver, 3, key, -1, SQLITE_STATIC);
            sqlite3_bind_text(db->ins_ver, 4, raw, -1, SQLITE_STATIC);
            rc = step_done(db->ins_ver);
            free(key);
            if (rc < 0) {
                free(name);
                moat_buf_free(&alias_text);
                return db_fail(db, err);
            }
        }
        free(name);
    }
    moat_buf_free(&alias_text);
    st->stored++;
    if (withdrawn) st->withdrawn++;
    return 0;
}
