/* deps.h - the public header of moat's dependency auditor (moat audit deps,
 * moat db): PEP 440 versions and specifiers, PEP 503 names, the OSV advisory
 * store, the dependency collector for every Python pinning format, and the
 * audit that joins them. Uses only core (and jansson, sqlite3, libyaml,
 * libzip, libcurl); nothing of the gateway. */
#ifndef MOAT_AUDIT_DEPS_H
#define MOAT_AUDIT_DEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core.h"

/* ---- PEP 440 versions (pep440.c) -----------------------------------------
 * Numbers are kept as digit strings, so "20240101123456789012" compares
 * right; nothing overflows. */
typedef struct moat_pep440 moat_pep440;

/* Parses s[0..n) (surrounding whitespace, a leading 'v' and any case are
 * accepted, as packaging does). Returns 0 and an owned *out, or MOAT_EPARSE. */
int moat_pep440_parse(const char *s, size_t n, moat_pep440 **out);
void moat_pep440_free(moat_pep440 *v);
/* <0, 0, >0 as a is lower, equal or higher (local labels included). */
int moat_pep440_cmp(const moat_pep440 *a, const moat_pep440 *b);
bool moat_pep440_is_prerelease(const moat_pep440 *v); /* has a pre or dev part */
bool moat_pep440_is_postrelease(const moat_pep440 *v);
/* The normalised form ("1!2.0rc1.post0.dev3+ubuntu.1"), owned. */
char *moat_pep440_str(const moat_pep440 *v);

/* ---- PEP 440 specifier sets -----------------------------------------------*/
typedef struct moat_pep440_specset moat_pep440_specset;

/* Parses ">=1.0, !=1.3.*, <2" (empty is the set that allows everything).
 * Returns 0 and an owned *out, or MOAT_EPARSE with an owned message in
 * *err (when err is not NULL). */
int moat_pep440_specset_parse(const char *s, size_t n, moat_pep440_specset **out, char **err);
void moat_pep440_specset_free(moat_pep440_specset *s);
/* Whether v is in the set. prereleases: -1 for packaging's default rule
 * (pre-releases only when a specifier names one), 0 never, 1 always. */
bool moat_pep440_specset_contains(const moat_pep440_specset *s, const moat_pep440 *v,
                                  int prereleases);
/* Number of specifiers, and whether the set pins one exact version
 * ("==X" without a wildcard, or "===X"); *pinned is borrowed. */
size_t moat_pep440_specset_len(const moat_pep440_specset *s);
bool moat_pep440_specset_pinned(const moat_pep440_specset *s, const char **pinned);
/* Canonical text of the set, owned ("<2,>=1.0": packaging's str()). */
char *moat_pep440_specset_str(const moat_pep440_specset *s);

/* PEP 503 name normalisation into an owned string: lower case, runs of
 * '-', '_' and '.' become one '-'. */
char *moat_pep503_name(const char *s, size_t n);

/* ---- the OSV advisory store (db.c, osv.c, import.c) ----------------------
 * One SQLite file. Only PyPI entries are kept; names are PEP 503 names. */
typedef struct moat_osvdb moat_osvdb;

/* True when dir holds something `moat audit deps` reads: requirements*.txt,
 * pyproject.toml, a lock file, or *.dist-info folders (site-packages). */
bool moat_deps_dir_has_inputs(const char *dir);

/* $XDG_CACHE_HOME/moat/osv.db, else $HOME/.cache/moat/osv.db (owned). */
char *moat_osvdb_default_path(void);
/* Opens (create: creating it and its folder if missing) the database. On
 * failure returns a negative code and an owned message in *err. */
int moat_osvdb_open(const char *path, bool create, moat_osvdb **out, char **err);
void moat_osvdb_close(moat_osvdb *db);

typedef struct moat_osvdb_stats {
    size_t records;      /* records read */
    size_t stored;       /* records stored (new or replaced) */
    size_t skipped;      /* malformed records, each reported on diag */
    size_t other;        /* records with no PyPI package */
    size_t withdrawn;    /* stored but withdrawn */
    size_t bad_versions; /* `versions` entries that are not PEP 440 */
} moat_osvdb_stats;

/* Imports OSV records from path: a JSON file (one record or an array), an
 * NDJSON file, an OSV zip export, or a folder (searched recursively for
 * .json, .yaml and .yml files: the PyPA advisory-database tree). All of it
 * in one transaction; a malformed record is reported on diag (file:line)
 * and skipped. Returns 0, or a negative code with an owned *err. */
int moat_osvdb_import(moat_osvdb *db, const char *path, FILE *diag, moat_osvdb_stats *st,
                      char **err);

/* Downloads url (the OSV PyPI zip export) with libcurl and imports it. */
int moat_osvdb_update(moat_osvdb *db, const char *url, FILE *diag, moat_osvdb_stats *st,
                      char **err);
#define MOAT_OSV_PYPI_URL "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"

typedef struct moat_osvdb_info {
    long long vulns, withdrawn, packages, aliases;
    char *imported_at;     /* owned, RFC 3339 UTC, NULL if never */
    char *source;          /* owned: what the last import read */
    char *newest_modified; /* owned: newest `modified` of any record */
    long long age_days;    /* days since newest_modified; -1 unknown */
} moat_osvdb_info;
/* Data older than this many days draws a warning. */
#define MOAT_OSV_STALE_DAYS 7
/* quick: only vulns, newest_modified and age_days (what an audit needs). */
int moat_osvdb_info_get(moat_osvdb *db, bool quick, moat_osvdb_info *info);
void moat_osvdb_info_clear(moat_osvdb_info *info);

/* One advisory that affects a version, aliases merged. */
typedef struct moat_vuln {
    char *id;       /* owned */
    char **aliases; /* owned, sorted, without id */
    size_t naliases;
    char **fixed; /* owned: fixed versions from the matching ranges, sorted */
    size_t nfixed;
    char *summary;        /* owned: one line */
    char *details;        /* owned */
    double score;         /* CVSS base score, -1 when the record has none */
    const char *severity; /* static: "critical", "high", "medium", "low", "none" or NULL */
} moat_vuln;

/* The advisories affecting package name (PEP 503) at version (parsed v, or
 * raw when the version is not PEP 440: then only `versions` lists are
 * matched, by string). Withdrawn records are skipped; records that are the
 * same vulnerability (one's id among the other's aliases) are merged.
 * *out is owned (moat_vulns_free). */
int moat_osvdb_query(moat_osvdb *db, const char *name, const moat_pep440 *v, const char *raw,
                     moat_vuln **out, size_t *n);
void moat_vulns_free(moat_vuln *v, size_t n);
/* Whether moat_osvdb_query fills moat_vuln.details (default true); a
 * report that prints only summaries saves reading them. */
void moat_osvdb_want_details(moat_osvdb *db, bool on);
/* Every version of a package the database knows (from `versions` lists and
 * range events), owned, sorted by PEP 440 (unparsable ones dropped). */
int moat_osvdb_known_versions(moat_osvdb *db, const char *name, char ***out, size_t *n);
void moat_deps_strv_free(char **v, size_t n);

/* CVSS v3.x base score of a vector ("CVSS:3.1/AV:N/..."), or -1. */
double moat_cvss3_score(const char *vector);
/* "critical"... for a score, NULL for < 0. */
const char *moat_cvss_label(double score);

/* ---- PEP 508 requirements and markers (pep508.c) -------------------------*/

/* The values markers are evaluated against. Owned strings; NULL for a value
 * that is unknown (a marker reading it is an error, and the requirement is
 * kept: unknown never hides a dependency). */
typedef struct moat_marker_env {
    char *python_version, *python_full_version, *os_name, *sys_platform, *platform_system,
        *platform_machine, *platform_release, *platform_version, *implementation_name,
        *implementation_version, *platform_python_implementation;
} moat_marker_env;

/* Fills env for the interpreter python (NULL: /usr/bin/python3) by running
 * it once; with python_version ("3.11" or "3.11.4") the Python values come
 * from that and the platform's from uname(2) instead. Returns 0, or a
 * negative code with an owned *err (env then holds what uname knows). */
int moat_marker_env_init(moat_marker_env *env, const char *python, const char *python_version,
                         char **err);
void moat_marker_env_clear(moat_marker_env *env);

typedef struct moat_pep508_req {
    char *name; /* as written */
    char **extras;
    size_t nextras;
    moat_pep440_specset *spec; /* owned, never NULL (empty set allows all) */
    char *url;                 /* owned: "name @ URL", or NULL */
    char *marker;              /* owned: the marker text, or NULL */
} moat_pep508_req;

/* Parses one PEP 508 requirement. Returns 0, or MOAT_EPARSE with an owned
 * message in *err. */
int moat_pep508_parse(const char *s, size_t n, moat_pep508_req *out, char **err);
void moat_pep508_clear(moat_pep508_req *r);
/* Evaluates marker text against env with `extra` ("" for none). Returns 1
 * true, 0 false, MOAT_EPARSE (bad marker) or MOAT_EINVAL (a value env does
 * not know); *err owned on failure. */
int moat_marker_eval(const char *marker, const moat_marker_env *env, const char *extra, char **err);

/* ---- dependencies (collect.c, requirements.c, locks.c) --------------------*/

typedef struct moat_dep {
    char *name;    /* owned, PEP 503 */
    char *display; /* owned, as written */
    char *version; /* owned: the pinned version, NULL when not pinned */
    char *spec;    /* owned: the allowed range when not pinned ("" for any), or NULL */
    char *note;    /* owned: why it cannot be audited (URL, VCS, path), or NULL */
    char *file;    /* owned: where it was found */
    unsigned line; /* 1-based; 0 unknown */
} moat_dep;

typedef struct moat_deps {
    moat_dep *v;
    size_t len, cap;
    size_t problems;            /* parse problems reported (file:line) */
    FILE *diag;                 /* borrowed: where problems are reported */
    const moat_marker_env *env; /* borrowed */
    char *env_err;              /* owned: why the marker environment is incomplete, said once */
    char **read;                /* owned: requirements files already read (real paths) */
    size_t nread;
    bool env_warned;
    /* When env is NULL and lazy is set, the first marker fills lazy for the
     * interpreter lazy_python (moat_marker_env_init) and uses it: Python
     * is run only for a project that has markers. Both borrowed. */
    moat_marker_env *lazy;
    const char *lazy_python;
    struct moat_deps *parent; /* borrowed: whose environment to use, or NULL */
} moat_deps;

void moat_deps_init(moat_deps *d, const moat_marker_env *env, FILE *diag);
void moat_deps_free(moat_deps *d);
/* Adds one dependency (strings copied). */
void moat_deps_add(moat_deps *d, const char *name, const char *version, const char *spec,
                   const char *note, const char *file, unsigned line);
/* Reports a problem "file:line: message" on diag and counts it. */
void moat_deps_problem(moat_deps *d, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reads one input by its name (requirements*.txt / *.in, pyproject.toml,
 * poetry.lock, Pipfile.lock, uv.lock, pdm.lock, pylock*.toml) or a
 * site-packages folder; a project folder is searched for all of them (a
 * lock file, when there is one, stands for pyproject.toml's ranges).
 * Returns 0, or MOAT_ENOENT / MOAT_EINVAL when path is nothing it reads
 * (reported on diag). */
int moat_deps_collect(moat_deps *d, const char *path);
int moat_deps_read_requirements(moat_deps *d, const char *path);
int moat_deps_read_pyproject(moat_deps *d, const char *path);
int moat_deps_read_lock(moat_deps *d, const char *path); /* by file name */
int moat_deps_read_site_packages(moat_deps *d, const char *path);

/* ---- the audit (audit.c) and its reports (report.c) -----------------------*/

typedef struct moat_dep_ignore {
    char *id;      /* owned: an advisory id or any of its aliases */
    char *reason;  /* owned, may be NULL (command line) */
    char *expires; /* owned "YYYY-MM-DD" (applies through that day), or NULL */
    char *file;    /* owned: where it was written, NULL for the command line */
    unsigned line;
} moat_dep_ignore;

typedef struct moat_dep_ignores {
    moat_dep_ignore *v;
    size_t len, cap;
} moat_dep_ignores;

void moat_dep_ignores_add(moat_dep_ignores *ig, const char *id, const char *reason,
                          const char *expires, const char *file, unsigned line);
void moat_dep_ignores_free(moat_dep_ignores *ig);
/* Reads `ignore` and `min_severity` from [tool.moat.audit] of a
 * pyproject.toml or [audit] of a moat.toml, if the file has them. Problems
 * are reported on diag with file:line and counted in *problems.
 * *min_severity is set (static string) when the file names one. */
int moat_dep_ignores_load(moat_dep_ignores *ig, const char *path, const char **min_severity,
                          FILE *diag, size_t *problems);

/* Score that a --min-severity label stands for (low 0.1, medium 4, high 7,
 * critical 9), or -1 for an unknown label. */
double moat_severity_threshold(const char *label);

typedef struct moat_dep_result {
    const moat_dep *dep; /* borrowed from the moat_deps audited */
    moat_vuln *vulns;    /* owned: the advisories reported */
    size_t nvulns;
    size_t ignored, below; /* advisories hidden by ignores / --min-severity */
    char *fix;             /* owned: smallest known version above fixing all, or NULL */
    /* a range instead of a pin: the known versions it allows, and of those
     * the ones some advisory affects (owned) */
    size_t range_known;
    char **range_affected;
    size_t nrange_affected;
    char *range_floor; /* owned: the smallest clean version above every affected one, or NULL */
} moat_dep_result;

typedef struct moat_deps_result {
    moat_dep_result *v; /* owned, one per distinct dependency */
    size_t len;
    size_t vulnerable; /* pinned dependencies with at least one advisory */
    size_t nvulns, ignored, below, unaudited, ranges_affected;
    char today[11]; /* the date ignores were checked against */
} moat_deps_result;

typedef struct moat_deps_opts {
    moat_osvdb *db;                  /* borrowed */
    const moat_dep_ignores *ignores; /* borrowed, may be NULL */
    double min_score;                /* -1: report every severity */
    FILE *diag;                      /* borrowed: warnings (expired ignores) */
} moat_deps_opts;

int moat_deps_audit(const moat_deps *deps, const moat_deps_opts *o, moat_deps_result *out);
void moat_deps_result_free(moat_deps_result *r);

/* Writes the report: format "table", "json" (pip-audit's shape), "sarif",
 * "markdown" or "cyclonedx". MOAT_EINVAL for another format. */
int moat_deps_report(const moat_deps_result *r, const char *format, moat_buf *out);

#endif
