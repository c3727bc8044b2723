/* cmd_audit.c - `moat audit`: dispatches to the sub-commands (deps, code,
 * settings, secrets: src/cli/cmd_audit_*.c parse their options) and, with no
 * sub-command, fills one moat_audit_job and runs every analyser of the
 * registry (src/audit/engine.h) on one tree, each printing its own report,
 * then one summary; or, with --format json|sarif, one combined report (each
 * auditor's captured and merged: one SARIF run per auditor). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/engine.h"
#include "cli.h"
#include "cmd.h"

static const char usage[] =
    "usage: moat audit [PATH] [--format text|json|sarif] [-o FILE] [--db PATH]\n"
    "                  [--config FILE]\n"
    "       moat audit deps|code|settings|secrets [ARGS]  (see 'moat audit SUB --help')\n"
    "       moat audit rules [--markdown]\n"
    "\n"
    "With no sub-command, runs every auditor on PATH (default: the current folder):\n"
    "  deps       known-vulnerable dependencies (needs the advisory database: moat db)\n"
    "  code       dangerous code in Python sources and templates\n"
    "  settings   insecure Django/Flask settings\n"
    "  secrets    hard-coded secrets in every text file\n"
    "each prints its report, then one summary. With --format json or sarif, one\n"
    "report of them all: a SARIF log with one run per auditor (one upload for code\n"
    "scanning), or one JSON object with each auditor's report and verdict.\n"
    "Exit status: 0 clean, 1 findings, 2 error. Without an advisory database deps\n"
    "says how to get it and the rest is audited.\n"
    "\n"
    "  -f, --format FMT  text (default), json or sarif (SARIF 2.1.0)\n"
    "  -o, --output FILE write the report to FILE instead of standard output\n"
    "  -d, --db PATH     advisory database for deps (default: see 'moat db --help')\n"
    "  -c, --config FILE moat.toml or pyproject.toml with [audit] settings\n"
    "  -h, --help        this help\n";

const moat_cli_cmd moat_cli_audit_subs[] = {
    {.name = "deps",
     .fn = moat_cmd_audit_deps,
     .summary = "known-vulnerable dependencies of a Python project (offline)",
     .flags = "--requirement --db --format --output --ignore --ignore-vuln --severity "
              "--min-severity --python-version --python --config --quiet --strict --help"},
    {.name = "code",
     .fn = moat_cmd_audit_code,
     .summary = "dangerous code in the app's Python sources and templates",
     .flags = "--format --output --baseline --config --severity --severity-level --confidence "
              "--confidence-level --skip --exclude --list-rules --help"},
    {.name = "settings",
     .fn = moat_cmd_audit_code,
     .summary = "insecure Django/Flask settings",
     .flags = "--format --output --baseline --config --severity --severity-level --confidence "
              "--confidence-level --skip --exclude --list-rules --help"},
    {.name = "rules",
     .fn = moat_cmd_audit_rules,
     .summary = "the code and settings rules (--markdown: docs/audit-code.md)",
     .flags = "--markdown --help"},
    {.name = "secrets",
     .fn = moat_cmd_audit_secrets,
     .summary = "find hard-coded secrets in a source tree",
     .flags = "--format --output --baseline --exclude --max-file-size --list-rules --help"},
    {0},
};

enum { NONE = -1 }; /* a part with nothing to audit */

static const char *verdict(int rc)
{
    return rc == NONE                     ? "nothing to audit"
           : rc == 0                      ? "clean"
           : rc == 1                      ? "findings"
           : rc == MOAT_AUDIT_NOT_CHECKED ? "not checked (no advisory database: moat db update)"
                                          : "error";
}

/* Runs an analyser with its report (stdout) captured into *out. */
static int run_captured(const moat_audit_analyser *an, const moat_audit_job *job, moat_buf *out)
{
    FILE *tmp = tmpfile();
    if (!tmp) {
        fprintf(stderr, "moat audit: cannot make a temporary file\n");
        return 2;
    }
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    if (saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
        if (saved >= 0) close(saved);
        fclose(tmp);
        return 2;
    }
    int rc = an->run(job);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    rewind(tmp);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), tmp)) > 0)
        moat_buf_append(out, buf, n);
    fclose(tmp);
    return rc;
}

/* --format json|sarif: every auditor's report in one document. SARIF: the
 * runs of each auditor's log in one log; JSON: {"path", "auditors": {NAME:
 * {"verdict", "report"}}}. */
static int run_combined(const char *path, moat_audit_job *job, moat_audit_format fmt,
                        const char *config)
{
    bool sarif = fmt == MOAT_AUDIT_SARIF;
    json_t *doc = json_object(), *runs = json_array(), *auditors = json_object();
    int worst = 0;
    for (size_t i = 0; i < MOAT_AUDIT_NANALYSERS; i++) {
        const moat_audit_analyser *an = &moat_audit_analysers[i];
        int rc = NONE;
        json_t *report = NULL;
        if (an->wants(path)) {
            moat_buf out;
            moat_buf_init(&out);
            job->config = strcmp(an->name, "secrets") == 0 ? NULL : config;
            job->format = fmt;
            job->deps_format = sarif ? "sarif" : "json";
            rc = run_captured(an, job, &out);
            json_error_t jerr;
            report = out.len ? json_loadb(out.data, out.len, 0, &jerr) : NULL;
            moat_buf_free(&out);
            if (!report && rc != 2 && rc != MOAT_AUDIT_NOT_CHECKED) {
                fprintf(stderr, "moat audit: the %s report is not valid JSON\n", an->name);
                rc = 2;
            }
            if (rc == 2 || (rc == 1 && worst == 0)) worst = rc;
        }
        if (sarif && report) {
            if (!json_object_get(doc, "version")) {
                json_object_set(doc, "$schema", json_object_get(report, "$schema"));
                json_object_set(doc, "version", json_object_get(report, "version"));
            }
            json_array_extend(runs, json_object_get(report, "runs"));
        } else if (!sarif) {
            json_t *a = json_object();
            json_object_set_new(a, "verdict", json_string(verdict(rc)));
            json_object_set_new(a, "report", report ? json_incref(report) : json_null());
            json_object_set_new(auditors, an->name, a);
        }
        json_decref(report);
    }
    if (sarif) {
        if (!json_object_get(doc, "version")) {
            json_object_set_new(doc, "$schema",
                                json_string("https://json.schemastore.org/sarif-2.1.0.json"));
            json_object_set_new(doc, "version", json_string("2.1.0"));
        }
        json_object_set_new(doc, "runs", runs);
        json_decref(auditors);
    } else {
        json_object_set_new(doc, "path", json_string(path));
        json_object_set_new(doc, "auditors", auditors);
        json_decref(runs);
    }
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!text) return 2;
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_puts(&b, text);
    moat_buf_putc(&b, '\n');
    free(text);
    moat_audit_make_safe(&b, false);
    fwrite(b.data, 1, b.len, stdout);
    moat_buf_free(&b);
    return worst;
}

static int run_all(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},     {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *db = NULL, *config = NULL, *output = NULL;
    moat_audit_format fmt = MOAT_AUDIT_TEXT;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:c:f:o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            db = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'f':
            if (moat_audit_format_parse(optarg, &fmt) < 0) {
                fprintf(stderr, "moat audit: unknown format '%s' (text, json or sarif)\n", optarg);
                return 2;
            }
            break;
        case 'o':
            output = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "moat audit: one PATH at most\n%s", usage);
        return 2;
    }
    const char *path = optind < argc ? argv[optind] : ".";
    moat_audit_job job = {
        .paths = &path, .npaths = 1, .config = config, .db = db, .combined = true};
    int saved = output ? moat_cli_stdout_to("moat audit", output) : -1;
    if (output && saved < 0) return 2;
    int worst = 0;
    if (fmt != MOAT_AUDIT_TEXT) {
        worst = run_combined(path, &job, fmt, config);
    } else {
        int rcs[MOAT_AUDIT_NANALYSERS];
        for (size_t i = 0; i < MOAT_AUDIT_NANALYSERS; i++) {
            const moat_audit_analyser *an = &moat_audit_analysers[i];
            printf("%s== moat audit %s\n", i ? "\n" : "", an->name);
            fflush(stdout);
            if (!an->wants(path)) {
                printf("no requirements*.txt, pyproject.toml, lock file or *.dist-info: nothing "
                       "to audit\n");
                rcs[i] = NONE;
                continue;
            }
            /* secrets reads no configuration file */
            job.config = strcmp(an->name, "secrets") == 0 ? NULL : config;
            rcs[i] = an->run(&job);
            fflush(stdout);
            fflush(stderr);
            if (rcs[i] == 2 || (rcs[i] == 1 && worst == 0)) worst = rcs[i];
        }
        printf("\n== moat audit: summary for %s\n", path);
        for (size_t i = 0; i < MOAT_AUDIT_NANALYSERS; i++)
            printf("  %-9s %s\n", moat_audit_analysers[i].name, verdict(rcs[i]));
    }
    if (output && moat_cli_stdout_restore("moat audit", output, saved)) worst = 2;
    return worst;
}

int moat_cmd_audit(int argc, char **argv)
{
    const moat_cli_cmd *sub = argc >= 2 ? moat_cli_find(moat_cli_audit_subs, argv[1]) : NULL;
    if (sub) return sub->fn(argc - 1, argv + 1);
    return run_all(argc, argv);
}
