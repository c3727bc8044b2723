/* cmd_audit.c - `moat audit`: dispatches to the sub-commands (deps, code,
 * settings, secrets: src/cli/cmd_audit_*.c parse their options) and, with no
 * sub-command, fills one moat_audit_job and runs every analyser of the
 * registry (src/audit/engine.h) on one tree, each printing its own report,
 * then one summary. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "audit/engine.h"
#include "cli.h"
#include "cmd.h"

static const char usage[] =
    "usage: moat audit [PATH] [--db PATH] [--config FILE]\n"
    "       moat audit deps|code|settings|secrets [ARGS]  (see 'moat audit SUB --help')\n"
    "\n"
    "With no sub-command, runs every auditor on PATH (default: the current folder):\n"
    "  deps       known-vulnerable dependencies (needs the advisory database: moat db)\n"
    "  code       dangerous code in Python sources and templates\n"
    "  settings   insecure Django/Flask settings\n"
    "  secrets    hard-coded secrets in every text file\n"
    "each prints its report, then one summary. For JSON or SARIF, run the\n"
    "sub-commands one by one. Exit status: 0 clean, 1 findings, 2 error. Without\n"
    "an advisory database deps says how to get it and the rest is audited.\n"
    "\n"
    "  --db PATH       advisory database for deps (default: see 'moat db --help')\n"
    "  --config FILE   moat.toml or pyproject.toml with [audit] settings\n";

const moat_cli_cmd moat_cli_audit_subs[] = {
    {.name = "deps",
     .fn = moat_cmd_audit_deps,
     .summary = "known-vulnerable dependencies of a Python project (offline)",
     .flags = "--db --format --ignore --min-severity --python-version --python --config --quiet "
              "--strict --help"},
    {.name = "code",
     .fn = moat_cmd_audit_code,
     .summary = "dangerous code in the app's Python sources and templates",
     .flags = "--format --output --baseline --config --severity --confidence --skip --exclude "
              "--list-rules --help"},
    {.name = "settings",
     .fn = moat_cmd_audit_code,
     .summary = "insecure Django/Flask settings",
     .flags = "--format --output --baseline --config --severity --confidence --skip --exclude "
              "--list-rules --help"},
    {.name = "secrets",
     .fn = moat_cmd_audit_secrets,
     .summary = "find hard-coded secrets in a source tree",
     .flags = "--format --baseline --exclude --max-file-size --list-rules --help"},
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

static int run_all(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *db = NULL, *config = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            db = optarg;
            break;
        case 'c':
            config = optarg;
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
    int rcs[MOAT_AUDIT_NANALYSERS], worst = 0;
    for (size_t i = 0; i < MOAT_AUDIT_NANALYSERS; i++) {
        const moat_audit_analyser *an = &moat_audit_analysers[i];
        printf("%s== moat audit %s\n", i ? "\n" : "", an->name);
        fflush(stdout);
        if (!an->wants(path)) {
            printf("no requirements*.txt, pyproject.toml, lock file or *.dist-info: nothing to "
                   "audit\n");
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
    return worst;
}

int moat_cmd_audit(int argc, char **argv)
{
    const moat_cli_cmd *sub = argc >= 2 ? moat_cli_find(moat_cli_audit_subs, argv[1]) : NULL;
    if (sub) return sub->fn(argc - 1, argv + 1);
    return run_all(argc, argv);
}
