/* cmd_audit_code.c - `moat audit code` and `moat audit settings`: the
 * options, turned into a moat_audit_job for the analysers' runs
 * (src/audit/code/run.c, via the registry in src/audit/engine.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/code/code.h"
#include "audit/engine.h"
#include "audit/settings/settings.h"
#include "cmd.h"
#include "core.h"

static const char usage[] =
    "usage: moat audit code [PATH...] [options]\n"
    "       moat audit settings [PATH...] [options]\n"
    "\n"
    "code      dangerous code in Python sources (Bandit-compatible ids, data flow from\n"
    "          request data to SQL, shell, eval, files, redirects, outgoing requests) and\n"
    "          escaping turned off in Jinja2/Django templates\n"
    "settings  Django settings (the checks of manage.py check --deploy), Flask configs\n"
    "          and .env files\n"
    "\n"
    "PATH is a folder (default: the current one) or a file. Exit status: 0 no findings,\n"
    "1 findings, 2 usage or input error (also when a file could not be read; files\n"
    "with syntax errors are reported and what parsed is analysed).\n"
    "\n"
    "  -f, --format FMT      text (default), json or sarif (SARIF 2.1.0)\n"
    "  -o, --output FILE     write the report to FILE instead of standard output\n"
    "  -b, --baseline FILE   report only findings not in FILE (an earlier --format json\n"
    "                        report); findings are matched by fingerprint, not line\n"
    "  -c, --config FILE     moat.toml or pyproject.toml (default: the one in PATH)\n"
    "      --severity LEVEL  report only findings of at least LEVEL (low, medium, high);\n"
    "                        also --severity-level, as Bandit spells it\n"
    "      --confidence LEVEL  the same for confidence (also --confidence-level)\n"
    "      --skip IDS        rule ids not run, comma-separated (adds to audit.skip)\n"
    "  -x, --exclude GLOB    files and folders skipped (adds to audit.exclude)\n"
    "      --list-rules      print the rules as a Markdown table and exit\n"
    "  -h, --help            this help\n"
    "\n"
    "Silence one finding with '# nosec ID' or '# moat: ignore[ID]' on any line of its\n"
    "statement. See docs/audit-code.md.\n";

static void add_str(char ***v, size_t *n, char *s)
{
    *v = moat_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = s;
}

static void split_ids(char ***v, size_t *n, const char *s)
{
    while (*s) {
        size_t k = strcspn(s, ", ");
        if (k) *v = moat_xrealloc(*v, (*n + 1) * sizeof(**v));
        (*v)[(*n)++] = moat_xstrndup(s, k);
        s += k;
        while (*s == ',' || *s == ' ')
            s++;
    }
}

static void print_rules(bool settings_mode)
{
    moat_buf b;
    moat_buf_init(&b);
    if (settings_mode)
        moat_audit_rules_markdown(&b, moat_audit_settings_rules, moat_audit_settings_nrules);
    else
        moat_audit_rules_markdown(&b, moat_audit_code_rules, moat_audit_code_nrules);
    fwrite(b.data, 1, b.len, stdout);
    moat_buf_free(&b);
}

int moat_cmd_audit_code(int argc, char **argv)
{
    enum { OPT_SEVERITY = 1000, OPT_CONFIDENCE, OPT_SKIP, OPT_EXCLUDE, OPT_LIST };
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"baseline", required_argument, NULL, 'b'},
        {"config", required_argument, NULL, 'c'},
        {"severity", required_argument, NULL, OPT_SEVERITY},
        {"severity-level", required_argument, NULL, OPT_SEVERITY},
        {"confidence-level", required_argument, NULL, OPT_CONFIDENCE},
        {"confidence", required_argument, NULL, OPT_CONFIDENCE},
        {"skip", required_argument, NULL, OPT_SKIP},
        {"exclude", required_argument, NULL, OPT_EXCLUDE},
        {"list-rules", no_argument, NULL, OPT_LIST},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    if (argc < 1) {
        fputs(usage, stderr);
        return 2;
    }
    bool settings_mode = strcmp(argv[0], "settings") == 0;
    moat_audit_job job = {0};
    char **skip = NULL, **exclude = NULL;
    size_t nskip = 0, nexclude = 0;
    int ch, rc = 2;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "f:o:b:c:x:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (moat_audit_format_parse(optarg, &job.format) < 0) {
                fprintf(stderr, "moat audit: unknown format '%s' (text, json or sarif)\n", optarg);
                goto out;
            }
            break;
        case 'o':
            job.output = optarg;
            break;
        case 'b':
            job.baseline = optarg;
            break;
        case 'c':
            job.config = optarg;
            break;
        case OPT_SEVERITY:
            job.severity = optarg;
            break;
        case OPT_CONFIDENCE:
            job.confidence = optarg;
            break;
        case OPT_SKIP:
            split_ids(&skip, &nskip, optarg);
            break;
        case 'x':
        case OPT_EXCLUDE:
            add_str(&exclude, &nexclude, moat_xstrdup(optarg));
            break;
        case OPT_LIST:
            print_rules(settings_mode);
            rc = 0;
            goto out;
        case 'h':
            fputs(usage, stdout);
            rc = 0;
            goto out;
        default:
            fputs(usage, stderr);
            goto out;
        }
    }
    job.paths = (const char *const *)argv + optind;
    job.npaths = (size_t)(argc - optind);
    job.skip = (const char *const *)skip;
    job.nskip = nskip;
    job.exclude = (const char *const *)exclude;
    job.nexclude = nexclude;
    rc = moat_audit_analyser_find(settings_mode ? "settings" : "code")->run(&job);
out:
    for (size_t i = 0; i < nskip; i++)
        free(skip[i]);
    free(skip);
    for (size_t i = 0; i < nexclude; i++)
        free(exclude[i]);
    free(exclude);
    return rc;
}

int moat_cmd_audit_rules(int argc, char **argv)
{
    static const char rules_usage[] =
        "usage: moat audit rules [--markdown]\n"
        "\n"
        "Lists the rules of `moat audit code` and `moat audit settings`: id,\n"
        "severity, confidence, CWE and name. With --markdown, prints\n"
        "docs/audit-code.md (its prose and the rule tables it is generated from).\n";
    bool markdown = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--markdown")) {
            markdown = true;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(rules_usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "moat audit rules: unexpected argument '%s'\n%s", argv[i], rules_usage);
            return 2;
        }
    }
    moat_buf b;
    moat_buf_init(&b);
    if (markdown) {
        moat_audit_code_docs(&b);
    } else {
        const struct {
            const moat_audit_rule *v;
            size_t n;
        } tabs[] = {{moat_audit_code_rules, moat_audit_code_nrules},
                    {moat_audit_settings_rules, moat_audit_settings_nrules}};
        for (size_t t = 0; t < MOAT_ARRAY_LEN(tabs); t++)
            for (size_t i = 0; i < tabs[t].n; i++) {
                const moat_audit_rule *r = &tabs[t].v[i];
                moat_buf_printf(&b, "%-14s %-6s %-6s CWE-%-5u %s\n", r->id,
                                moat_audit_level_name(r->severity),
                                moat_audit_level_name(r->confidence), r->cwe, r->name);
            }
    }
    int rc = fwrite(b.data, 1, b.len, stdout) == b.len && fflush(stdout) == 0 ? 0 : 2;
    moat_buf_free(&b);
    return rc;
}
