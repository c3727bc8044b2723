/* run.c - the deps analyser's run (`moat audit deps`, and within
 * `moat audit`): the known-vulnerable dependencies of a Python project, from
 * the local OSV database. The ignore list's sources and the exit status live
 * here; reading inputs, matching and the report formats are the rest of
 * src/audit/deps; the options are src/cli/cmd_audit_deps.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/deps/deps.h"
#include "audit/secrets/secrets.h"
#include "audit/engine.h"
#include "core.h"

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

static const char *deps_format(const moat_audit_job *job)
{
    if (job->deps_format) return job->deps_format;
    return job->format == MOAT_AUDIT_JSON    ? "json"
           : job->format == MOAT_AUDIT_SARIF ? "sarif"
                                             : "table";
}

int moat_audit_deps_run(const moat_audit_job *job)
{
    const char *dbpath = job->db, *format = deps_format(job), *min_sev = job->min_severity,
               *pyver = job->python_version, *python = job->python, *config = job->config;
    bool quiet = job->quiet;
    moat_dep_ignores ignores = {0};
    for (size_t i = 0; i < job->nignore; i++)
        moat_dep_ignores_add(&ignores, job->ignore[i], NULL, NULL, NULL, 0);
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
    const char *first = job->npaths ? job->paths[0] : ".";
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
    if (!job->npaths) {
        moat_deps_collect(&deps, ".");
    } else {
        for (size_t i = 0; i < job->npaths; i++)
            moat_deps_collect(&deps, job->paths[i]);
    }
    problems += deps.problems;

    char *defpath = dbpath ? NULL : moat_osvdb_default_path();
    moat_osvdb *db = NULL;
    char *err = NULL;
    int status = 0;
    int orc = moat_osvdb_open(dbpath ? dbpath : defpath, false, &db, &err);
    if (orc == MOAT_ENOENT && job->combined) {
        /* moat audit PATH: the other analysers still run; say how to get it */
        fprintf(stderr,
                "moat audit deps: %s: no advisory database, dependencies not checked; get it "
                "with 'moat db update' (OSV's PyPI advisories) or 'moat db import FILE'\n",
                dbpath ? dbpath : defpath);
        free(err);
        status = MOAT_AUDIT_NOT_CHECKED;
        goto out;
    }
    if (orc < 0) {
        fprintf(stderr, "moat audit deps: %s\n", err);
        free(err);
        status = 2;
        goto out;
    }
    moat_osvdb_info info;
    if (moat_osvdb_info_get(db, true, &info) == 0) {
        if (info.vulns == 0) {
            fprintf(stderr,
                    "moat audit deps: %s holds no advisories%s (run 'moat db import' or "
                    "'moat db update')\n",
                    dbpath ? dbpath : defpath, job->combined ? ", dependencies not checked" : "");
            status = job->combined ? MOAT_AUDIT_NOT_CHECKED : 2;
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
    moat_audit_make_safe(&outb, !strcmp(format, "table") || !strcmp(format, "markdown"));
    /* the human formats echo input lines and URLs: no secret in them */
    if ((!strcmp(format, "table") || !strcmp(format, "markdown")) && outb.data)
        moat_secrets_mask(moat_secrets_shared(), NULL, outb.data);
    fwrite(outb.data, 1, outb.len, stdout);
    moat_buf_free(&outb);
    if (problems)
        fprintf(stderr,
                "moat audit deps: %zu input problem%s reported above; the rest was "
                "audited\n",
                problems, problems == 1 ? "" : "s");
    status = res.vulnerable || (job->strict && res.ranges_affected) ? 1 : problems ? 2 : 0;
    moat_deps_result_free(&res);
out:
    moat_osvdb_close(db);
    free(defpath);
    moat_deps_free(&deps);
    moat_marker_env_clear(&env);
    moat_dep_ignores_free(&ignores);
    return status;
}
