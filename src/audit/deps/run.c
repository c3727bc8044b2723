/* cmd_audit_deps.c - `moat audit deps [PATH...]`: the known-vulnerable
 * dependencies of a Python project, from the local OSV database. Options,
 * the ignore list's sources and the exit status live here; reading inputs,
 * matching and the report formats are src/audit/deps. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/deps/deps.h"
#include "cmd.h"
#include "core.h"

static const char usage[] =
    "usage: moat audit deps [PATH...] [--db PATH] [--format FORMAT] [--ignore ID]...\n"
    "                       [--min-severity LEVEL] [--python-version X.Y] [--config FILE]\n"
    "\n"
    "Reports the dependencies with known vulnerabilities, offline, from the local OSV\n"
    "database ('moat db import' / 'moat db update' fill it). PATH is a project folder\n"
    "(default: the current one), a requirements*.txt, pyproject.toml, poetry.lock,\n"
    "Pipfile.lock, uv.lock, pdm.lock or pylock.toml file, or a site-packages folder.\n"
    "Exit status: 0 none found, 1 vulnerable dependencies, 2 error (a file that could not\n"
    "be read or parsed, no database).\n"
    "\n"
    "  -d, --db PATH            the advisory database (default: ~/.cache/moat/osv.db)\n"
    "  -f, --format FORMAT      table (default), json (pip-audit's shape), sarif,\n"
    "                           markdown or cyclonedx\n"
    "  -i, --ignore ID          do not report this advisory (any of its ids or aliases)\n"
    "  -s, --min-severity LEVEL report only advisories rated LEVEL or above (low, medium,\n"
    "                           high, critical); advisories without a rating are reported\n"
    "  -p, --python-version X.Y evaluate environment markers for this Python (default:\n"
    "                           what /usr/bin/python3 says)\n"
    "      --python PATH        ask this interpreter for the marker environment instead\n"
    "  -c, --config FILE        read [tool.moat.audit] (pyproject.toml) or [audit]\n"
    "                           (moat.toml) from FILE (default: the project's own)\n"
    "  -q, --quiet              no warnings about old data or unknown markers\n"
    "  -h, --help               this help\n";

static char *config_for(const char *path)
{
    struct stat sb;
    char *dir;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        dir = moat_xstrdup(path);
    } else {
        const char *slash = strrchr(path, '/');
        dir = slash ? moat_xstrndup(path, (size_t)(slash - path)) : moat_xstrdup(".");
    }
    static const char *const names[] = {"pyproject.toml", "moat.toml"};
    for (size_t i = 0; i < 2; i++) {
        char *p = moat_xasprintf("%s/%s", dir, names[i]);
        if (stat(p, &sb) == 0) {
            free(dir);
            return p;
        }
        free(p);
    }
    free(dir);
    return NULL;
}

/* Reports quote the audited tree (file names, lines of code, package names)
 * and advisory texts: a text report is escaped for the terminal, a JSON one
 * has its unsafe code points escaped (see moat_term_escape). */
static void make_safe(moat_buf *report, bool text)
{
    moat_buf safe;
    moat_buf_init(&safe);
    if (text)
        moat_term_escape(&safe, report->data ? report->data : "", report->len, MOAT_TERM_TEXT);
    else
        moat_json_harden(&safe, report->data ? report->data : "", report->len);
    moat_buf_free(report);
    *report = safe;
}

int moat_cmd_audit_deps(int argc, char **argv)
{
    enum { OPT_PYTHON = 1000 };
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"ignore", required_argument, NULL, 'i'},
                                         {"min-severity", required_argument, NULL, 's'},
                                         {"python-version", required_argument, NULL, 'p'},
                                         {"python", required_argument, NULL, OPT_PYTHON},
                                         {"config", required_argument, NULL, 'c'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dbpath = NULL, *format = "table", *min_sev = NULL, *pyver = NULL, *python = NULL,
               *config = NULL;
    bool quiet = false;
    moat_dep_ignores ignores = {0};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:f:i:s:p:c:qh", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            dbpath = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'i':
            moat_dep_ignores_add(&ignores, optarg, NULL, NULL, NULL, 0);
            break;
        case 's':
            min_sev = optarg;
            break;
        case 'p':
            pyver = optarg;
            break;
        case OPT_PYTHON:
            python = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs(usage, stdout);
            moat_dep_ignores_free(&ignores);
            return 0;
        default:
            fputs(usage, stderr);
            moat_dep_ignores_free(&ignores);
            return 2;
        }
    }
    static const char *const formats[] = {"table", "json", "sarif", "markdown", "cyclonedx"};
    bool fmt_ok = false;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(formats); i++)
        fmt_ok = fmt_ok || !strcmp(format, formats[i]);
    if (!fmt_ok) {
        fprintf(stderr,
                "moat audit deps: unknown format '%s' (table, json, sarif, markdown, "
                "cyclonedx)\n",
                format);
        moat_dep_ignores_free(&ignores);
        return 2;
    }
    if (min_sev && moat_severity_threshold(min_sev) < 0) {
        fprintf(stderr, "moat audit deps: --min-severity must be low, medium, high or critical\n");
        moat_dep_ignores_free(&ignores);
        return 2;
    }
    FILE *diag = stderr;
    size_t problems = 0;
    const char *first = optind < argc ? argv[optind] : ".";
    char *cfg = config ? moat_xstrdup(config) : config_for(first);
    const char *cfg_sev = NULL;
    if (cfg && moat_dep_ignores_load(&ignores, cfg, &cfg_sev, diag, &problems) == MOAT_ENOENT) {
        fprintf(stderr, "moat audit deps: cannot read %s\n", cfg);
        problems++;
    }
    free(cfg);
    if (!min_sev) min_sev = cfg_sev;

    moat_marker_env env = {0};
    moat_deps deps;
    moat_deps_init(&deps, NULL, diag);
    if (pyver) {
        char *env_err = NULL;
        if (moat_marker_env_init(&env, NULL, pyver, &env_err) < 0) {
            fprintf(stderr, "moat audit deps: %s\n", env_err);
            free(env_err);
            moat_marker_env_clear(&env);
            moat_dep_ignores_free(&ignores);
            return 2;
        }
        deps.env = &env;
    } else {
        /* the interpreter is asked only if a marker needs it */
        deps.lazy = &env;
        deps.lazy_python = python;
    }
    if (quiet) deps.env_warned = true;
    if (optind >= argc) {
        moat_deps_collect(&deps, ".");
    } else {
        for (int i = optind; i < argc; i++)
            moat_deps_collect(&deps, argv[i]);
    }
    problems += deps.problems;

    char *defpath = dbpath ? NULL : moat_osvdb_default_path();
    moat_osvdb *db = NULL;
    char *err = NULL;
    int status = 0;
    if (moat_osvdb_open(dbpath ? dbpath : defpath, false, &db, &err) < 0) {
        fprintf(stderr, "moat audit deps: %s\n", err);
        free(err);
        status = 2;
        goto out;
    }
    moat_osvdb_info info;
    if (moat_osvdb_info_get(db, true, &info) == 0) {
        if (info.vulns == 0) {
            fprintf(stderr,
                    "moat audit deps: %s holds no advisories (run 'moat db import' or "
                    "'moat db update')\n",
                    dbpath ? dbpath : defpath);
            status = 2;
        } else if (!quiet && info.age_days > MOAT_OSV_STALE_DAYS) {
            fprintf(stderr,
                    "moat audit deps: warning: the advisory data is old (newest advisory %s, "
                    "%lld days ago); run 'moat db update'\n",
                    info.newest_modified, info.age_days);
        }
    } else {
        fprintf(stderr, "moat audit deps: %s: cannot read the advisory database\n",
                dbpath ? dbpath : defpath);
        status = 2;
    }
    moat_osvdb_info_clear(&info);
    if (status) goto out;
    /* the table and Markdown print summaries only */
    moat_osvdb_want_details(db, strcmp(format, "table") != 0 && strcmp(format, "markdown") != 0);
    moat_deps_opts o = {db, &ignores, min_sev ? moat_severity_threshold(min_sev) : -1,
                        quiet ? NULL : diag};
    moat_deps_result res;
    if (moat_deps_audit(&deps, &o, &res) < 0) {
        fprintf(stderr, "moat audit deps: cannot read the advisory database\n");
        moat_deps_result_free(&res);
        status = 2;
        goto out;
    }
    moat_buf outb;
    moat_buf_init(&outb);
    moat_deps_report(&res, format, &outb);
    make_safe(&outb, !strcmp(format, "table") || !strcmp(format, "markdown"));
    fwrite(outb.data, 1, outb.len, stdout);
    moat_buf_free(&outb);
    if (problems)
        fprintf(stderr,
                "moat audit deps: %zu input problem%s reported above; the rest was "
                "audited\n",
                problems, problems == 1 ? "" : "s");
    status = res.vulnerable ? 1 : problems ? 2 : 0;
    moat_deps_result_free(&res);
out:
    moat_osvdb_close(db);
    free(defpath);
    moat_deps_free(&deps);
    moat_marker_env_clear(&env);
    moat_dep_ignores_free(&ignores);
    return status;
}
