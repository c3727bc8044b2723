/* cmd_audit_secrets.c - `moat audit secrets [PATH]`: the options, turned
 * into a moat_audit_job for the secrets analyser's run
 * (src/audit/secrets/run.c, via the registry in src/audit/engine.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/code/code.h" /* moat_audit_rules_markdown */
#include "audit/engine.h"
#include "audit/secrets/secrets.h"
#include "cli.h"
#include "cmd.h"
#include "core.h"

static const char usage[] =
    "usage: moat audit secrets [PATH] [--format text|json|sarif] [-o FILE] [--baseline FILE]\n"
    "                          [--exclude GLOB]... [--max-file-size BYTES]\n"
    "\n"
    "Finds hard-coded secrets (cloud keys, service tokens, private keys, JWTs,\n"
    "passwords in URLs, high-entropy values of secret-looking names) in every text\n"
    "file under PATH (default: the current directory). Secrets are masked in every\n"
    "output. Exit status 0 clean, 1 findings, 2 usage or input error (also when a\n"
    "file could not be read; files over the size limit are only listed).\n"
    "\n"
    "  -f, --format FMT        text (default), json or sarif (SARIF 2.1.0)\n"
    "  -o, --output FILE       write the report to FILE instead of standard output\n"
    "  -b, --baseline FILE     ignore findings recorded in FILE (an earlier --format json\n"
    "                          report): only new secrets fail\n"
    "  -x, --exclude GLOB      skip files and folders matching GLOB (a glob without '/' is\n"
    "                          matched against names, one with '/' against the path from\n"
    "                          PATH); .git, node_modules, caches and virtualenvs always are\n"
    "      --max-file-size N   skip (and list) files larger than N bytes (default 4194304)\n"
    "      --list-rules        print the rules as a Markdown table and exit\n"
    "  -h, --help              this help\n"
    "\n"
    "Suppress one line with a comment on it: 'pragma: allowlist secret', or\n"
    "'# moat: ignore[MOAT-S-AWS]'; 'pragma: allowlist nextline secret' covers the next.\n";

int moat_cmd_audit_secrets(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},   {"output", required_argument, NULL, 'o'},
        {"baseline", required_argument, NULL, 'b'}, {"max-file-size", required_argument, NULL, 'm'},
        {"exclude", required_argument, NULL, 'x'},  {"list-rules", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    moat_audit_job job = {0};
    uint64_t max_bytes = MOAT_SECRETS_MAX_FILE_BYTES;
    const char **exclude = NULL; /* borrowed from argv */
    const char *output = NULL;
    size_t nexclude = 0;
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "f:o:b:x:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (moat_audit_format_parse(optarg, &job.format) < 0) {
                fprintf(stderr, "moat audit secrets: unknown format '%s' (text, json, sarif)\n",
                        optarg);
                return 2;
            }
            break;
        case 'b':
            job.baseline = optarg;
            break;
        case 'o':
            output = optarg;
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

    job.paths = (const char *const *)&root;
    job.npaths = 1;
    job.max_file_bytes = (size_t)max_bytes;
    job.exclude = (const char *const *)exclude;
    job.nexclude = nexclude;
    int saved = output ? moat_cli_stdout_to("moat audit secrets", output) : -1;
    int rc = 2;
    if (!output || saved >= 0) {
        rc = moat_audit_analyser_find("secrets")->run(&job);
        if (output && moat_cli_stdout_restore("moat audit secrets", output, saved)) rc = 2;
    }
    free(exclude);
    return rc;
}
