/* cmd_audit_deps.c - `moat audit deps [PATH...]`: the options, turned into
 * a moat_audit_job for the deps analyser's run (src/audit/deps/run.c, via the
 * registry in src/audit/engine.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/engine.h"
#include "cli.h"
#include "cmd.h"
#include "core.h"

static const char usage[] =
    "usage: moat audit deps [PATH...] [-r FILE]... [--db PATH] [--format FORMAT] [-o FILE]\n"
    "                       [--ignore ID]... [--severity LEVEL] [--python-version X.Y]\n"
    "                       [--config FILE]\n"
    "\n"
    "Reports the dependencies with known vulnerabilities, offline, from the local OSV\n"
    "database ('moat db import' / 'moat db update' fill it). PATH is a project folder\n"
    "(default: the current one), a requirements*.txt, pyproject.toml, poetry.lock,\n"
    "Pipfile.lock, uv.lock, pdm.lock or pylock.toml file, or a site-packages folder.\n"
    "Exit status: 0 none found, 1 vulnerable dependencies, 2 error (a file that could not\n"
    "be read or parsed, no database).\n"
    "\n"
    "  -r, --requirement FILE   audit this requirements file (as PATH; pip-audit's -r)\n"
    "  -d, --db PATH            the advisory database (default: ~/.cache/moat/osv.db)\n"
    "  -f, --format FORMAT      text (or table, the default), json (pip-audit's shape),\n"
    "                           sarif, markdown or cyclonedx\n"
    "  -o, --output FILE        write the report to FILE instead of standard output\n"
    "  -i, --ignore ID          do not report this advisory (any of its ids or aliases);\n"
    "                           also --ignore-vuln ID, as pip-audit spells it\n"
    "  -s, --severity LEVEL     report only advisories rated LEVEL or above (low, medium,\n"
    "                           high, critical); advisories without a rating are reported;\n"
    "                           also --min-severity\n"
    "  -p, --python-version X.Y evaluate environment markers for this Python (default:\n"
    "                           what /usr/bin/python3 says)\n"
    "      --python PATH        ask this interpreter for the marker environment instead\n"
    "  -c, --config FILE        read [tool.moat.audit] (pyproject.toml) or [audit]\n"
    "                           (moat.toml) from FILE (default: the project's own)\n"
    "  -q, --quiet              no warnings about old data or unknown markers\n"
    "      --strict             also exit 1 when an unpinned requirement's range allows\n"
    "                           affected versions (the report gives the safe floor)\n"
    "  -h, --help               this help\n";

int moat_cmd_audit_deps(int argc, char **argv)
{
    enum { OPT_PYTHON = 1000, OPT_STRICT };
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"requirement", required_argument, NULL, 'r'},
                                         {"ignore", required_argument, NULL, 'i'},
                                         {"ignore-vuln", required_argument, NULL, 'i'},
                                         {"severity", required_argument, NULL, 's'},
                                         {"min-severity", required_argument, NULL, 's'},
                                         {"python-version", required_argument, NULL, 'p'},
                                         {"python", required_argument, NULL, OPT_PYTHON},
                                         {"config", required_argument, NULL, 'c'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"strict", no_argument, NULL, OPT_STRICT},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    moat_audit_job job = {.deps_format = "table"};
    const char **ignore = NULL, **paths = moat_xcalloc((size_t)argc + 1, sizeof(char *));
    const char *output = NULL;
    size_t nignore = 0, npaths = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:f:o:r:i:s:p:c:qh", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            job.db = optarg;
            break;
        case 'f':
            /* "text", as every other auditor says, is the table */
            job.deps_format = strcmp(optarg, "text") == 0 ? "table" : optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'r':
            paths[npaths++] = optarg;
            break;
        case 'i':
            ignore = moat_xrealloc(ignore, (nignore + 1) * sizeof(*ignore));
            ignore[nignore++] = optarg;
            break;
        case 's':
            job.min_severity = optarg;
            break;
        case 'p':
            job.python_version = optarg;
            break;
        case OPT_PYTHON:
            job.python = optarg;
            break;
        case 'c':
            job.config = optarg;
            break;
        case OPT_STRICT:
            job.strict = true;
            break;
        case 'q':
            job.quiet = true;
            break;
        case 'h':
            fputs(usage, stdout);
            free(ignore);
            free(paths);
            return 0;
        default:
            fputs(usage, stderr);
            free(ignore);
            free(paths);
            return 2;
        }
    }
    for (int i = optind; i < argc; i++)
        paths[npaths++] = argv[i];
    job.paths = paths;
    job.npaths = npaths;
    job.ignore = (const char *const *)ignore;
    job.nignore = nignore;
    int saved = output ? moat_cli_stdout_to("moat audit deps", output) : -1;
    int rc = 2;
    if (!output || saved >= 0) {
        rc = moat_audit_analyser_find("deps")->run(&job);
        if (output && moat_cli_stdout_restore("moat audit deps", output, saved)) rc = 2;
    }
    free(ignore);
    free(paths);
    return rc;
}
