/* db.c - the SQLite advisory store (osv.db): schema, the queries the audit
 * makes (advisories affecting one package version, with aliases merged;
 * the versions of a package it knows) and the summary `moat db info`
 * prints. What a record holds and whether a range matches is osv.c's;
 * reading sources is import.c's. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "deps_int.h"

#define SCHEMA_VERSION "1"

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS vulns(id TEXT PRIMARY KEY, modified TEXT, published TEXT,"
    " withdrawn TEXT, summary TEXT, details TEXT, aliases TEXT NOT NULL, score REAL,"
    " severity TEXT);"
    "CREATE TABLE IF NOT EXISTS affected(id INTEGER PRIMARY KEY, vuln_id TEXT NOT NULL,"
    " package TEXT NOT NULL, ranges TEXT NOT NULL, aliases TEXT NOT NULL, score REAL,"
    " severity TEXT, withdrawn INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS vulns_modified ON vulns(modified);"
    "CREATE INDEX IF NOT EXISTS affected_package ON affected(package, withdrawn);"
    "CREATE INDEX IF NOT EXISTS affected_vuln ON affected(vuln_id);"
    "CREATE TABLE IF NOT EXISTS versions(affected_id INTEGER NOT NULL, package TEXT NOT NULL,"
    " key TEXT NOT NULL, raw TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS versions_key ON versions(package, key, affected_id);"
    "CREATE INDEX IF NOT EXISTS versions_affected ON versions(affected_id);";

char *moat_osvdb_default_path(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && xdg[0] == '/') return moat_xasprintf("%s/moat/osv.db", xdg);
    const char *home = getenv("HOME");
    return moat_xasprintf("%s/.cache/moat/osv.db", home && *home ? home : ".");
}

/* mkdir -p of path's folder. */
static int make_parent(const char *path)
{
    char *dir = moat_xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = 0;
        for (char *p = dir + 1; *p; p++) {
            if (*p != '/') continue;
            *p = 0;
            if (mkdir(dir, 0700) < 0 && errno != EEXIST) rc = MOAT_EIO;
            *p = '/';
        }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) rc = MOAT_EIO;
    }
    free(dir);
    return rc;
}

static int prep(moat_osvdb *db, sqlite3_stmt **st, const char *sql)
{
    return sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK
               ? 0
               : MOAT_EIO;
}

int moat_osvdb_open(const char *path, bool create, moat_osvdb **out, char **err)
{
    *out = NULL;
    *err = NULL;
    struct stat sb;
    if (!create && stat(path, &sb) < 0) {
        *err = moat_xasprintf("%s: no advisory database (run 'moat db import FILE' or "
                              "'moat db update' first)",
                              path);
        return MOAT_ENOENT;
    }
    if (create && make_parent(path) < 0) {
        *err = moat_xasprintf("%s: cannot create its folder: %s", path, strerror(errno));
        return MOAT_EIO;
    }
    moat_osvdb *db = moat_xcalloc(1, sizeof(*db));
    db->path = moat_xstrdup(path);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &db->db, flags, NULL) != SQLITE_OK) goto fail;
    sqlite3_busy_timeout(db->db, 5000);
    if (sqlite3_exec(db->db, schema, NULL, NULL, NULL) != SQLITE_OK) goto fail;
    if (prep(db, &db->ins_vuln,
             "INSERT OR REPLACE INTO vulns(id, modified, published, withdrawn, summary, "
             "details, aliases, score, severity) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)") < 0 ||
        prep(db, &db->del_ver,
             "DELETE FROM versions WHERE affected_id IN "
             "(SELECT id FROM affected WHERE vuln_id = ?1)") < 0 ||
        prep(db, &db->del_aff, "DELETE FROM affected WHERE vuln_id = ?1") < 0 ||
        prep(db, &db->ins_aff,
             "INSERT INTO affected(vuln_id, package, ranges, aliases, score, severity, "
             "withdrawn) VALUES(?1,?2,?3,?4,?5,?6,?7)") < 0 ||
        prep(db, &db->ins_ver,
             "INSERT INTO versions(affected_id, package, key, raw) VALUES(?1,?2,?3,?4)") < 0 ||
        prep(db, &db->q_aff,
             "SELECT id, ranges, vuln_id, aliases, score, severity FROM affected "
             "WHERE package = ?1 AND withdrawn = 0") < 0 ||
        prep(db, &db->q_ver, "SELECT affected_id FROM versions WHERE package = ?1 AND key = ?2") <
            0 ||
        prep(db, &db->q_text, "SELECT summary, details FROM vulns WHERE id = ?1") < 0)
        goto fail;
    *out = db;
    return 0;
fail:
    *err = moat_xasprintf("%s: %s", path, db->db ? sqlite3_errmsg(db->db) : "cannot open");
    moat_osvdb_close(db);
    return MOAT_EIO;
}

void moat_osvdb_close(moat_osvdb *db)
{
    if (!db) return;
    moat__osvdb_cache_clear(db);
    sqlite3_stmt *all[] = {db->ins_vuln, db->del_ver, db->del_aff, db->ins_aff,
                           db->ins_ver,  db->q_aff,   db->q_ver,   db->q_text};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(all); i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(db->db);
    free(db->path);
    free(db);
}

void moat_deps_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void moat_osvdb_want_details(moat_osvdb *db, bool on)
{
    db->no_details = !on;
}

void moat__vuln_clear(moat_vuln *v)
{
    free(v->id);
    moat_deps_strv_free(v->aliases, v->naliases);
    moat_deps_strv_free(v->fixed, v->nfixed);
    free(v->summary);
    free(v->details);
    memset(v, 0, sizeof(*v));
}

void moat_vulns_free(moat_vuln *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        moat__vuln_clear(&v[i]);
    free(v);
}

/* ---- query ----------------------------------------------------------------*/

typedef struct strv {
    char **v;
    size_t n, cap;
} strv;

static bool strv_has(const strv *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0) return true;
    return false;
}

/* Appends x (taking ownership), unless it is there already. */
static void strv_take(strv *s, char *x)
{
    if (strv_has(s, x)) {
        free(x);
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->v = moat_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = x;
}

static void strv_add(strv *s, const char *x)
{
    if (!strv_has(s, x)) strv_take(s, moat_xstrdup(x));
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts version strings by PEP 440 (text order for unparsable ones). */
static int ver_cmp(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    moat_pep440 *vx = NULL, *vy = NULL;
    int c;
    if (moat_pep440_parse(x, strlen(x), &vx) == 0 && moat_pep440_parse(y, strlen(y), &vy) == 0)
        c = moat_pep440_cmp(vx, vy);
    else
        c = strcmp(x, y);
    moat_pep440_free(vx);
    moat_pep440_free(vy);
    return c;
}

static const char *sev_static(const char *s)
{
    static const char *const labels[] = {"critical", "high", "medium", "low", "none"};
    for (size_t i = 0; s && i < MOAT_ARRAY_LEN(labels); i++)
        if (strcmp(s, labels[i]) == 0) return labels[i];
    return NULL;
}

/* ---- the per-package cache ------------------------------------------------
 * An audit asks about one package several times (its version, then each
 * candidate upgrade), so the package's entries are read, and their ranges
 * parsed, once, and kept until another package is asked about. */
typedef struct entry {
    sqlite3_int64 aid;
    moat__osv_range *ranges; /* owned */
    size_t nranges;
    char *id;
    strv names; /* id and aliases */
    strv fixed;
    double score;
    const char *severity;
} entry;

struct moat__osv_cache {
    char *name;
    entry *v;
    size_t len;
};

void moat__osvdb_cache_clear(moat_osvdb *db)
{
    struct moat__osv_cache *c = db->cache;
    if (!c) return;
    for (size_t i = 0; i < c->len; i++) {
        for (size_t k = 0; k < c->v[i].nranges; k++)
            moat__osv_range_clear(&c->v[i].ranges[k]);
        free(c->v[i].ranges);
        free(c->v[i].id);
        moat_deps_strv_free(c->v[i].names.v, c->v[i].names.n);
        moat_deps_strv_free(c->v[i].fixed.v, c->v[i].fixed.n);
    }
    free(c->v);
    free(c->name);
    free(c);
    db->cache = NULL;
}

static int load_package(moat_osvdb *db, const char *name)
{
    if (db->cache && strcmp(db->cache->name, name) == 0) return 0;
    moat__osvdb_cache_clear(db);
    struct moat__osv_cache *c = moat_xcalloc(1, sizeof(*c));
    c->name = moat_xstrdup(name);
    size_t cap = 0;
    int rc;
    sqlite3_bind_text(db->q_aff, 1, name, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(db->q_aff)) == SQLITE_ROW) {
        if (c->len == cap) {
            cap = cap ? cap * 2 : 8;
            c->v = moat_xrealloc(c->v, cap * sizeof(*c->v));
        }
        entry *e = &c->v[c->len++];
        memset(e, 0, sizeof(*e));
        e->aid = sqlite3_column_int64(db->q_aff, 0);
        const char *rt = (const char *)sqlite3_column_text(db->q_aff, 1);
        size_t rn = rt ? (size_t)sqlite3_column_bytes(db->q_aff, 1) : 0;
        e->nranges = 0;
        for (size_t i = 0; i < rn; i++)
            e->nranges += rt[i] == '\x1e';
        e->nranges += rn > 0;
        e->ranges = moat_xcalloc(e->nranges + 1, sizeof(*e->ranges));
        moat_buf fixed;
        moat_buf_init(&fixed);
        for (size_t i = 0, r = 0; i < rn; r++) {
            size_t j = i;
            while (j < rn && rt[j] != '\x1e')
                j++;
            moat__osv_range_decode(rt + i, j - i, &e->ranges[r], &fixed);
            i = j + 1;
        }
        for (size_t i = 0; i < fixed.len; i += strlen(fixed.data + i) + 1)
            strv_add(&e->fixed, fixed.data + i);
        moat_buf_free(&fixed);
        e->id = moat_xstrdup((const char *)sqlite3_column_text(db->q_aff, 2));
        strv_add(&e->names, e->id);
        const char *al = (const char *)sqlite3_column_text(db->q_aff, 3);
        while (al && *al) {
            size_t l = strcspn(al, "\x1f");
            strv_take(&e->names, moat_xstrndup(al, l));
            al += l + (al[l] ? 1 : 0);
        }
        e->score = sqlite3_column_type(db->q_aff, 4) == SQLITE_NULL
                       ? -1
                       : sqlite3_column_double(db->q_aff, 4);
        e->severity = sev_static((const char *)sqlite3_column_text(db->q_aff, 5));
    }
    sqlite3_reset(db->q_aff);
    db->cache = c;
    if (rc != SQLITE_DONE) {
        moat__osvdb_cache_clear(db);
        return MOAT_EIO;
    }
    return 0;
}

/* ---- query ----------------------------------------------------------------*/

/* The affected entries whose `versions` list the version with this key
 * (owned array, *n long); one indexed lookup. */
static sqlite3_int64 *listed_for(moat_osvdb *db, const char *name, const char *key, size_t *n)
{
    sqlite3_int64 *ids = NULL;
    *n = 0;
    sqlite3_bind_text(db->q_ver, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(db->q_ver, 2, key, -1, SQLITE_STATIC);
    while (sqlite3_step(db->q_ver) == SQLITE_ROW) {
        ids = moat_xrealloc(ids, (*n + 1) * sizeof(*ids));
        ids[(*n)++] = sqlite3_column_int64(db->q_ver, 0);
    }
    sqlite3_reset(db->q_ver);
    return ids;
}

typedef struct sort_ver {
    char *text;
    moat_pep440 *v; /* owned; NULL when not PEP 440 */
} sort_ver;

static int sort_ver_cmp(const void *a, const void *b)
{
    const sort_ver *x = a, *y = b;
    if (x->v && y->v) return moat_pep440_cmp(x->v, y->v);
    if (x->v || y->v) return x->v ? -1 : 1;
    return strcmp(x->text, y->text);
}

/* Sorts version strings by PEP 440 (others last, by text), parsing each once. */
static void sort_versions(char **v, size_t n)
{
    if (n < 2) return;
    sort_ver *t = moat_xcalloc(n, sizeof(*t));
    for (size_t i = 0; i < n; i++) {
        t[i].text = v[i];
        if (moat_pep440_parse(v[i], strlen(v[i]), &t[i].v) < 0) t[i].v = NULL;
    }
    qsort(t, n, sizeof(*t), sort_ver_cmp);
    for (size_t i = 0; i < n; i++) {
        v[i] = t[i].text;
        moat_pep440_free(t[i].v);
    }
    free(t);
}

typedef struct name_ref {
    const char *name;
    int hit;
} name_ref;

static int name_ref_cmp(const void *a, const void *b)
{
    int c = strcmp(((const name_ref *)a)->name, ((const name_ref *)b)->name);
    return c ? c : ((const name_ref *)a)->hit - ((const name_ref *)b)->hit;
}

static int find(int *parent, int i)
{
    while (parent[i] != i)
        i = parent[i] = parent[parent[i]];
    return i;
}

/* Which record of the same vulnerability names the group: PYSEC (the PyPA
 * database's own) first, then GHSA, then any other, each by text. */
static int id_rank(const char *id)
{
    if (strncmp(id, "PYSEC-", 6) == 0) return 0;
    if (strncmp(id, "GHSA-", 5) == 0) return 1;
    return 2;
}

static bool better_id(const char *a, const char *b)
{
    int ra = id_rank(a), rb = id_rank(b);
    return ra < rb || (ra == rb && strcmp(a, b) < 0);
}

typedef struct grp {
    int root, hit;
} grp;

static int grp_cmp(const void *a, const void *b)
{
    const grp *x = a, *y = b;
    return x->root != y->root ? x->root - y->root : x->hit - y->hit;
}

int moat_osvdb_query(moat_osvdb *db, const char *name, const moat_pep440 *v, const char *raw,
                     moat_vuln **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (load_package(db, name) < 0) return MOAT_EIO;
    const struct moat__osv_cache *c = db->cache;
    if (c->len == 0) return 0;
    char *key;
    if (v) {
        key = moat__pep440_key(v);
    } else {
        key = moat_xasprintf("~%s", raw);
        for (char *k = key; *k; k++)
            *k = (char)tolower((unsigned char)*k);
    }
    /* the entries whose `versions` list this exact version */
    size_t nlisted;
    sqlite3_int64 *first = listed_for(db, name, key, &nlisted);
    free(key);
    /* the affected entries (borrowed from the cache) */
    const entry **hits = moat_xcalloc(c->len, sizeof(*hits));
    size_t nh = 0;
    for (size_t r = 0; r < c->len; r++) {
        const entry *e = &c->v[r];
        bool affected = false;
        for (size_t i = 0; i < nlisted && !affected; i++)
            affected = first[i] == e->aid;
        for (size_t i = 0; v && i < e->nranges && !affected; i++)
            affected = moat__osv_range_affects(&e->ranges[i], v);
        if (affected) hits[nh++] = e;
    }
    free(first);
    if (nh == 0) {
        free(hits);
        return 0;
    }
    /* several entries of one record, or several records of one
     * vulnerability (ids and aliases overlap): one group each. Every
     * (name, hit) pair sorted by name: equal neighbours join groups. */
    int *parent = moat_xcalloc(nh, sizeof(*parent));
    for (size_t i = 0; i < nh; i++)
        parent[i] = (int)i;
    size_t np = 0;
    for (size_t i = 0; i < nh; i++)
        np += hits[i]->names.n;
    name_ref *pairs = moat_xcalloc(np + 1, sizeof(*pairs));
    np = 0;
    for (size_t i = 0; i < nh; i++)
        for (size_t k = 0; k < hits[i]->names.n; k++)
            pairs[np++] = (name_ref){hits[i]->names.v[k], (int)i};
    qsort(pairs, np, sizeof(*pairs), name_ref_cmp);
    for (size_t i = 1; i < np; i++)
        if (strcmp(pairs[i].name, pairs[i - 1].name) == 0)
            parent[find(parent, pairs[i].hit)] = find(parent, pairs[i - 1].hit);
    free(pairs);
    grp *g = moat_xcalloc(nh, sizeof(*g));
    for (size_t i = 0; i < nh; i++)
        g[i] = (grp){find(parent, (int)i), (int)i};
    qsort(g, nh, sizeof(*g), grp_cmp);
    free(parent);

    moat_vuln *res = moat_xcalloc(nh, sizeof(*res));
    size_t nres = 0;
    for (size_t s = 0; s < nh;) {
        size_t e = s;
        while (e < nh && g[e].root == g[s].root)
            e++;
        const entry *best = hits[g[s].hit];
        strv names = {0}, fixed = {0};
        double score = -1;
        const char *sev = NULL;
        for (size_t k = s; k < e; k++) {
            const entry *h = hits[g[k].hit];
            if (better_id(h->id, best->id)) best = h;
            for (size_t m = 0; m < h->names.n; m++)
                strv_add(&names, h->names.v[m]);
            for (size_t m = 0; m < h->fixed.n; m++)
                strv_add(&fixed, h->fixed.v[m]);
            if (h->score > score) score = h->score;
            if (h->severity && !sev) sev = h->severity;
        }
        moat_vuln *r = &res[nres++];
        r->id = moat_xstrdup(best->id);
        sqlite3_bind_text(db->q_text, 1, best->id, -1, SQLITE_STATIC);
        if (sqlite3_step(db->q_text) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(db->q_text, 0);
            r->summary = moat_xstrdup(t ? t : "");
            t = db->no_details ? NULL : (const char *)sqlite3_column_text(db->q_text, 1);
            r->details = moat_xstrdup(t ? t : "");
        } else {
            r->summary = moat_xstrdup("");
            r->details = moat_xstrdup("");
        }
        sqlite3_reset(db->q_text);
        r->score = score;
        r->severity = score >= 0 ? moat_cvss_label(score) : sev;
        r->aliases = moat_xcalloc(names.n + 1, sizeof(char *));
        for (size_t k = 0; k < names.n; k++) {
            if (strcmp(names.v[k], r->id) == 0)
                free(names.v[k]);
            else
                r->aliases[r->naliases++] = names.v[k];
        }
        free(names.v);
        qsort(r->aliases, r->naliases, sizeof(char *), str_cmp);
        r->fixed = fixed.v;
        r->nfixed = fixed.n;
        sort_versions(r->fixed, r->nfixed);
        s = e;
    }
    free(g);
    free(hits);
    qsort(res, nres, sizeof(*res), str_cmp); /* id is the first member */
    *out = res;
    *nout = nres;
    return 0;
}

/* Whether entry e is one of vulns (by id or alias). */
static bool is_one_of(const entry *e, const moat_vuln *vulns, size_t n)
{
    for (size_t k = 0; k < e->names.n; k++)
        for (size_t i = 0; i < n; i++) {
            if (strcmp(e->names.v[k], vulns[i].id) == 0) return true;
            for (size_t a = 0; a < vulns[i].naliases; a++)
                if (strcmp(e->names.v[k], vulns[i].aliases[a]) == 0) return true;
        }
    return false;
}

bool moat__osvdb_affects_any(moat_osvdb *db, const char *name, const moat_pep440 *v,
                             const moat_vuln *vulns, size_t n)
{
    if (load_package(db, name) < 0) return true; /* cannot tell: not a fix */
    const struct moat__osv_cache *c = db->cache;
    /* the ranges first: most candidates that fail, fail there, without a
     * lookup of the `versions` lists */
    bool relevant = false;
    for (size_t r = 0; r < c->len; r++) {
        const entry *e = &c->v[r];
        bool affected = false;
        for (size_t i = 0; i < e->nranges && !affected; i++)
            affected = moat__osv_range_affects(&e->ranges[i], v);
        if (affected && is_one_of(e, vulns, n)) return true;
        relevant = relevant || !affected;
    }
    if (!relevant) return false;
    char *key = moat__pep440_key(v);
    size_t nlisted;
    sqlite3_int64 *first = listed_for(db, name, key, &nlisted);
    free(key);
    bool any = false;
    for (size_t r = 0; r < c->len && !any; r++) {
        const entry *e = &c->v[r];
        bool listed = false;
        for (size_t i = 0; i < nlisted && !listed; i++)
            listed = first[i] == e->aid;
        any = listed && is_one_of(e, vulns, n);
    }
    free(first);
    return any;
}

int moat_osvdb_known_versions(moat_osvdb *db, const char *name, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    strv s = {0};
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db->db, "SELECT DISTINCT raw FROM versions WHERE package = ?1", -1, &q,
                           NULL) != SQLITE_OK)
        return MOAT_EIO;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    while (sqlite3_step(q) == SQLITE_ROW)
        strv_add(&s, (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    if (sqlite3_prepare_v2(db->db, "SELECT ranges FROM affected WHERE package = ?1", -1, &q,
                           NULL) != SQLITE_OK) {
        moat_deps_strv_free(s.v, s.n);
        return MOAT_EIO;
    }
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(q, 0);
        while (t && *t) {
            size_t l = strcspn(t, "\x1e\x1f");
            if (l > 1 && !(t[0] == 'i' && l == 2 && t[1] == '0')) {
                strv_take(&s, moat_xstrndup(t + 1, l - 1));
            }
            t += l + (t[l] ? 1 : 0);
        }
    }
    sqlite3_finalize(q);
    /* keep PEP 440 versions only, one spelling per version */
    size_t k = 0;
    for (size_t i = 0; i < s.n; i++) {
        moat_pep440 *v = NULL;
        if (moat_pep440_parse(s.v[i], strlen(s.v[i]), &v) == 0)
            s.v[k++] = s.v[i];
        else
            free(s.v[i]);
        moat_pep440_free(v);
    }
    s.n = k;
    sort_versions(s.v, s.n);
    k = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (k && ver_cmp(&s.v[k - 1], &s.v[i]) == 0)
            free(s.v[i]); /* "1.1" and "1.1.0" are one version */
        else
            s.v[k++] = s.v[i];
    }
    s.n = k;
    *out = s.v;
    *n = s.n;
    return 0;
}

void moat__osvdb_read_begin(moat_osvdb *db)
{
    sqlite3_exec(db->db, "BEGIN", NULL, NULL, NULL);
}

void moat__osvdb_read_end(moat_osvdb *db)
{
    sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL);
}

/* ---- info -----------------------------------------------------------------*/

static long long count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

static char *text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    char *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW &&
        sqlite3_column_text(q, 0))
        s = moat_xstrdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    return s;
}

/* Seconds since the epoch of an RFC 3339 UTC time ("2024-10-10T17:35:05Z",
 * fractions ignored), or -1. */
static long long parse_time(const char *s)
{
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) return -1;
    return (long long)timegm(&tm);
}

int moat_osvdb_info_get(moat_osvdb *db, bool quick, moat_osvdb_info *info)
{
    memset(info, 0, sizeof(*info));
    info->vulns = count(db->db, "SELECT count(*) FROM vulns");
    info->newest_modified = text(db->db, "SELECT max(modified) FROM vulns");
    long long t = parse_time(info->newest_modified);
    info->age_days = t < 0 ? -1 : ((long long)time(NULL) - t) / 86400;
    if (quick) return info->vulns < 0 ? MOAT_EIO : 0;
    info->withdrawn = count(db->db, "SELECT count(*) FROM vulns WHERE withdrawn IS NOT NULL");
    info->packages = count(db->db, "SELECT count(DISTINCT package) FROM affected");
    info->aliases = count(db->db, "SELECT coalesce(sum(json_array_length(aliases)), 0) FROM vulns");
    info->imported_at = text(db->db, "SELECT value FROM meta WHERE key = 'imported_at'");
    info->source = text(db->db, "SELECT value FROM meta WHERE key = 'source'");
    return info->vulns < 0 ? MOAT_EIO : 0;
}

void moat_osvdb_info_clear(moat_osvdb_info *info)
{
    free(info->imported_at);
    free(info->source);
    free(info->newest_modified);
    memset(info, 0, sizeof(*info));
}
