/* cmd_audit_secrets.c - `moat audit secrets [PATH]`: walks the tree with the
 * secrets analyser (src/audit/secrets), drops what a --baseline already
 * knows, and prints the report (src/audit/report) as text, JSON or SARIF.
 * Exit status 0 clean, 1 findings, 2 usage or input error or a file that
 * could not be read. Files skipped for size or unreadable are listed in the
 * report, not findings. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/code/code.h" /* moat_audit_rules_markdown */
#include "audit/secrets/secrets.h"
#include "cmd.h"
#include "core.h"

static const char usage[] =
    "usage: moat audit secrets [PATH] [--format text|json|sarif] [--baseline FILE]\n"
    "                          [--exclude GLOB]... [--max-file-size BYTES]\n"
    "\n"
    "Finds hard-coded secrets (cloud keys, service tokens, private keys, JWTs,\n"
    "passwords in URLs, high-entropy values of secret-looking names) in every text\n"
    "file under PATH (default: the current directory). Secrets are masked in every\n"
    "output. Exit status 0 clean, 1 findings, 2 usage or input error (also when a\n"
    "file could not be read; files over the size limit are only listed).\n"
    "\n"
    "  -f, --format FMT        text (default), json or sarif (SARIF 2.1.0)\n"
    "  -b, --baseline FILE     ignore findings recorded in FILE (an earlier --format json\n"
    "                          report): only new secrets fail\n"
    "      --exclude GLOB      skip files and folders matching GLOB (a glob without '/' is\n"
    "                          matched against names, one with '/' against the path from\n"
    "                          PATH); .git, node_modules, caches and virtualenvs always are\n"
    "      --max-file-size N   skip (and list) files larger than N bytes (default 4194304)\n"
    "      --list-rules        print the rules as a Markdown table and exit\n"
    "  -h, --help              this help\n"
    "\n"
    "Suppress one line with a comment on it: 'pragma: allowlist secret', or\n"
    "'# moat: ignore[MOAT-S-AWS]'; 'pragma: allowlist nextline secret' covers the next.\n";

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

int moat_cmd_audit_secrets(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"baseline", required_argument, NULL, 'b'},
                                         {"max-file-size", required_argument, NULL, 'm'},
                                         {"exclude", required_argument, NULL, 'x'},
                                         {"list-rules", no_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    moat_audit_format fmt = MOAT_AUDIT_TEXT;
    const char *baseline_path = NULL;
    uint64_t max_bytes = MOAT_SECRETS_MAX_FILE_BYTES;
    const char **exclude = NULL; /* borrowed from argv */
    size_t nexclude = 0;
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "f:b:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (moat_audit_format_parse(optarg, &fmt) < 0) {
                fprintf(stderr, "moat audit secrets: unknown format '%s' (text, json, sarif)\n",
                        optarg);
                return 2;
            }
            break;
        case 'b':
            baseline_path = optarg;
            break;
        case 'm':
            if (moat_parse_u64(optarg, strlen(optarg), &max_bytes) < 0 || max_bytes == 0 ||
                max_bytes > SIZE_MAX) {
                fprintf(stderr, "moat audit secrets: --max-file-size wants a byte count > 0\n");
                return 2;
            }
            break;
        case 'x':
            exclude = moat_xrealloc(exclude, (nexclude + 1) * sizeof(*exclude));
            exclude[nexclude++] = optarg;
            break;
        case 'L': {
            size_t n;
            const moat_audit_rule *rules = moat_secrets_rules(&n);
            moat_buf b;
            moat_buf_init(&b);
            moat_audit_rules_markdown(&b, rules, n);
            fwrite(b.data, 1, b.len, stdout);
            moat_buf_free(&b);
            free(exclude);
            return 0;
        }
        case 'h':
            fputs(usage, stdout);
            free(exclude);
            return 0;
        default:
            fputs(usage, stderr);
            free(exclude);
            return 2;
        }
    }
    const char *root = ".";
    if (optind < argc) root = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "moat audit secrets: unexpected argument '%s'\n%s", argv[optind], usage);
        free(exclude);
        return 2;
    }

    moat_audit_baseline *baseline = NULL;
    if (baseline_path) {
        char *err = NULL;
        if (moat_audit_baseline_load(baseline_path, &baseline, &err) < 0) {
            fprintf(stderr, "moat audit secrets: %s\n", err);
            free(err);
            free(exclude);
            return 2;
        }
    }
    moat_secrets *s = NULL;
    if (moat_secrets_new(&s) < 0) {
        moat_audit_baseline_free(baseline);
        free(exclude);
        return 2;
    }
    moat_audit_findings found = {0};
    moat_secrets_stats st = {0};
    moat_buf notes;
    moat_buf_init(&notes);
    char *err = NULL;
    int rc = moat_secrets_scan_tree(s, root, exclude, nexclude, (size_t)max_bytes, &found, &st,
                                    &notes, &err);
    moat_secrets_free(s);
    free(exclude);
    if (rc < 0) {
        fprintf(stderr, "moat audit secrets: %s\n", err ? err : moat_strerror(rc));
        free(err);
        moat_buf_free(&notes);
        moat_audit_findings_free(&found);
        moat_audit_baseline_free(baseline);
        return 2;
    }
    moat_audit_findings_finish(&found);
    size_t baselined = baseline ? moat_audit_findings_drop_baseline(&found, baseline) : 0;

    /* One note per line becomes one report error ("path: why"). */
    size_t nerrors = 0;
    char **errors = NULL;
    for (char *p = notes.data; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        errors = moat_xrealloc(errors, (nerrors + 1) * sizeof(*errors));
        errors[nerrors++] = p;
        p = nl ? nl + 1 : p + strlen(p);
    }
    size_t nrules;
    const moat_audit_rule *rules = moat_secrets_rules(&nrules);
    const moat_audit_rule *const tables[] = {rules};
    moat_audit_report report = {.findings = &found,
                                .rule_tables = tables,
                                .rule_counts = &nrules,
                                .ntables = 1,
                                .errors = (const char *const *)errors,
                                .nerrors = nerrors,
                                .files = st.files,
                                .suppressed = st.suppressed,
                                .baselined = baselined};
    moat_buf out;
    moat_buf_init(&out);
    moat_audit_render(&out, &report, fmt);
    make_safe(&out, fmt == MOAT_AUDIT_TEXT);
    fwrite(out.data, 1, out.len, stdout);
    /* fail closed: a file that could not be read was not audited */
    int status = st.unreadable ? 2 : found.len ? 1 : 0;
    if (fflush(stdout) != 0) status = 2;
    moat_buf_free(&out);
    free(errors);
    moat_buf_free(&notes);
    moat_audit_findings_free(&found);
    moat_audit_baseline_free(baseline);
    return status;
}
