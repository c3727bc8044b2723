/* cmd_audit.c - `moat audit`: dispatches to the four auditors (deps, code,
 * settings, secrets) and, with no sub-command, runs all four on one tree,
 * each printing its own report, then one summary. The auditors themselves
 * live in src/cmd_audit_*.c and src/audit/; this file only sequences them. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/deps/deps.h"
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
    "sub-commands one by one. Exit status: 0 clean, 1 findings, 2 error.\n"
    "\n"
    "  --db PATH       advisory database for deps (default: see 'moat db --help')\n"
    "  --config FILE   moat.toml or pyproject.toml with [audit] settings\n";

typedef struct part {
    const char *name;
    int (*run)(int argc, char **argv);
} part;

enum { NONE = -1 }; /* a part with nothing to audit */

static const char *verdict(int rc)
{
    return rc == NONE ? "nothing to audit" : rc == 0 ? "clean" : rc == 1 ? "findings" : "error";
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
    char *path = optind < argc ? argv[optind] : ".";
    static const part parts[] = {
        {"deps", moat_cmd_audit_deps},
        {"code", moat_cmd_audit_code},
        {"settings", moat_cmd_audit_code},
        {"secrets", moat_cmd_audit_secrets},
    };
    int rcs[MOAT_AUDIT_PARTS], worst = 0;
    for (size_t i = 0; i < MOAT_AUDIT_PARTS; i++) {
        char *sub[6];
        int n = 0;
        sub[n++] = (char *)parts[i].name;
        sub[n++] = path;
        if (db && strcmp(parts[i].name, "deps") == 0) {
            sub[n++] = "--db";
            sub[n++] = (char *)db;
        }
        if (config && strcmp(parts[i].name, "secrets") != 0) {
            sub[n++] = "--config";
            sub[n++] = (char *)config;
        }
        sub[n] = NULL;
        printf("%s== moat audit %s\n", i ? "\n" : "", parts[i].name);
        fflush(stdout);
        struct stat st;
        if (strcmp(parts[i].name, "deps") == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
            !moat_deps_dir_has_inputs(path)) {
            printf("no requirements*.txt, pyproject.toml, lock file or *.dist-info: nothing to "
                   "audit\n");
            rcs[i] = NONE;
            continue;
        }
        rcs[i] = parts[i].run(n, sub);
        fflush(stdout);
        fflush(stderr);
        if (rcs[i] == 2 || (rcs[i] == 1 && worst == 0)) worst = rcs[i];
    }
    printf("\n== moat audit: summary for %s\n", path);
    for (size_t i = 0; i < MOAT_AUDIT_PARTS; i++)
        printf("  %-9s %s\n", parts[i].name, verdict(rcs[i]));
    return worst;
}

int moat_cmd_audit(int argc, char **argv)
{
    if (argc >= 2) {
        const char *sub = argv[1];
        if (strcmp(sub, "deps") == 0) return moat_cmd_audit_deps(argc - 1, argv + 1);
        if (strcmp(sub, "code") == 0 || strcmp(sub, "settings") == 0)
            return moat_cmd_audit_code(argc - 1, argv + 1);
        if (strcmp(sub, "secrets") == 0) return moat_cmd_audit_secrets(argc - 1, argv + 1);
    }
    return run_all(argc, argv);
}
