/* deps_int.h - names shared inside the deps module (not part of deps.h). */
#ifndef MOAT_AUDIT_DEPS_INT_H
#define MOAT_AUDIT_DEPS_INT_H

#include <jansson.h>
#include <sqlite3.h>

#include "deps.h"

struct moat_osvdb {
    sqlite3 *db;
    char *path; /* owned */
    sqlite3_stmt *ins_vuln, *del_ver, *del_aff, *ins_aff, *ins_ver;
    sqlite3_stmt *q_aff, *q_ver, *q_text;
    struct moat__osv_cache *cache; /* owned: the last package asked about (db.c) */
    bool no_details;               /* moat_osvdb_want_details(db, false) */
};

/* Whether any advisory of package name that is one of vulns (by id or
 * alias) affects version v (db.c): the check of a candidate upgrade. */
bool moat__osvdb_affects_any(moat_osvdb *db, const char *name, const moat_pep440 *v,
                             const moat_vuln *vulns, size_t n);

/* One read transaction around many lookups (db.c). */
void moat__osvdb_read_begin(moat_osvdb *db);
void moat__osvdb_read_end(moat_osvdb *db);

/* Forgets the cached package (db.c); storing records calls it. */
void moat__osvdb_cache_clear(moat_osvdb *db);

/* The equality key of a version: its normalised text with trailing ".0"s of
 * the release dropped, so two versions are equal exactly when their keys
 * are (owned). */
char *moat__pep440_key(const moat_pep440 *v);

/* Validates one OSV record and stores its PyPI entries (osv.c). A malformed
 * record is reported on diag as "where: ..." and counted in st->skipped;
 * returns a negative code only for a database failure (*err owned). */
int moat__osv_store(moat_osvdb *db, json_t *rec, const char *where, FILE *diag,
                    moat_osvdb_stats *st, char **err);

/* One range's events, parsed and sorted by version ("0" first; events of
 * equal versions keep their order). */
typedef struct moat__osv_event {
    int kind;       /* 0 introduced, 1 fixed, 2 last_affected, 3 limit */
    moat_pep440 *v; /* owned; NULL for introduced "0" (before everything) */
} moat__osv_event;
typedef struct moat__osv_range {
    moat__osv_event *ev; /* owned */
    size_t n;
} moat__osv_range;
void moat__osv_range_parse(json_t *events, moat__osv_range *out);
/* The stored form of ranges (osv.c): moat__osv_range_encode appends one
 * range's events; moat__osv_range_decode reads one range back (the text
 * between RS separators), appending each `fixed` version NUL-terminated to
 * fixed when it is not NULL. */
void moat__osv_range_encode(json_t *events, moat_buf *out);
void moat__osv_range_decode(const char *s, size_t n, moat__osv_range *out, moat_buf *fixed);
/* A non-empty string without control bytes (what the stored form can hold). */
bool moat__osv_text_ok(const char *t);
void moat__osv_range_clear(moat__osv_range *r);
bool moat__osv_range_affects(const moat__osv_range *r, const moat_pep440 *v);

/* Whether version v falls in one range's events (a JSON array of event
 * objects), by the OSV schema's rules: events sorted by version with "0"
 * first; introduced opens, fixed closes at, last_affected closes after,
 * limit closes at. Events whose version is not PEP 440 are ignored. */
bool moat__osv_events_affect(json_t *events, const moat_pep440 *v);

/* Converts a YAML document to jansson (plain true/false become booleans,
 * plain null/~ null, every other scalar a string). Returns NULL and fills
 * err on failure (yaml.c). */
json_t *moat__yaml_to_json(const char *text, size_t len, char *err, size_t errlen);

/* The marker environment of d, filled on first use (see moat_deps.lazy);
 * NULL when there is none (requirements.c). */
const moat_marker_env *moat__deps_env(moat_deps *d);

/* Adds a parsed PEP 508 requirement found at file:line, if its marker holds
 * for the target (requirements.c; every input that holds them uses it). */
void moat__deps_add_req(moat_deps *d, const moat_pep508_req *r, const char *file, unsigned line);

/* Frees the strings of one result (db.c). */
void moat__vuln_clear(moat_vuln *v);

/* The readers on text in memory instead of a file (for the fuzz targets):
 * path names the format (requirements.txt, pyproject.toml, poetry.lock,
 * uv.lock, pdm.lock, pylock.toml, Pipfile.lock) and the place problems are
 * reported at. */
void moat__deps_parse_requirements(moat_deps *d, const char *path, const char *data, size_t len);
void moat__deps_parse_lock(moat_deps *d, const char *path, const char *data, size_t len);

#endif
