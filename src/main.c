/* main.c - the moat command line: parses argv and dispatches to the
 * commands. The only place that exits; commands return an exit status
 * (0 ok, 1 failure or findings, 2 usage or input error). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config/config.h"
#include "core.h"
#include "gateway/gateway.h"
#include "net/net.h"

int moat_cmd_cert(int argc, char **argv); /* cmd_cert.c */

static const char usage_main[] =
    "usage: moat [--version] [--help] COMMAND [ARGS]\n"
    "\n"
    "moat secures Python web applications.\n"
    "\n"
    "commands:\n"
    "  serve          run the security gateway in front of the app\n"
    "  cert           write a self-signed development certificate\n"
    "  config check   validate a configuration and print the effective settings\n"
    "  config docs    print the configuration reference (Markdown)\n"
    "  log            the security event log: init, verify, why\n"
    "  waf            the web application firewall: tune (exclusions from a detect-mode log)\n"
    "  user           users, passwords, second factors and tokens for the gateway\n"
    "  audit          all four auditors below on one tree, with one summary\n"
    "  audit code     dangerous code in the app's Python sources and templates\n"
    "  audit settings insecure Django/Flask settings\n"
    "  audit secrets  find hard-coded secrets in a source tree\n"
    "  audit deps     known-vulnerable dependencies of a Python project (offline)\n"
    "  db             the local OSV advisory database: import, update, info\n"
    "\n"
    "Run 'moat COMMAND --help' for the options of a command.\n";

static const char usage_serve[] =
    "usage: moat serve [--config FILE] [--upstream URL] [--listen ADDR:PORT]\n"
    "\n"
    "Runs the gateway. With no --config, moat.toml or a pyproject.toml with a\n"
    "[tool.moat] table in the current directory is used if present; otherwise\n"
    "secure defaults apply.\n"
    "\n"
    "  -c, --config FILE      moat.toml, or pyproject.toml with [tool.moat]\n"
    "  -u, --upstream URL     the app: http://HOST:PORT or unix:/PATH (replaces 'upstream')\n"
    "  -l, --listen ADDR:PORT where to listen, e.g. 127.0.0.1:8080 (replaces 'listen')\n"
    "  -q, --quiet            log only warnings and errors\n"
    "  -h, --help             this help\n"
    "\n"
    "Signals: SIGHUP reloads the configuration; SIGTERM drains and stops.\n";

static const char usage_config[] =
    "usage: moat config check [FILE] [--upstream URL] [--listen ADDR:PORT]\n"
    "       moat config docs\n"
    "\n"
    "check  validates FILE (or the config found in the current directory) and\n"
    "       prints the effective settings as TOML; exit status 1 if invalid.\n"
    "docs   prints the reference of every setting (docs/configuration.md).\n";

static int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"upstream", required_argument, NULL, 'u'},
        {"listen", required_argument, NULL, 'l'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    moat_config_source src = {0};
    int ch;
    while ((ch = getopt_long(argc, argv, "c:u:l:qh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            src.path = optarg;
            break;
        case 'u':
            src.upstream = optarg;
            break;
        case 'l':
            src.listen = optarg;
            break;
        case 'q':
            moat_log_set_level(MOAT_LOG_WARN);
            break;
        case 'h':
            fputs(usage_serve, stdout);
            return 0;
        default:
            fputs(usage_serve, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "moat serve: unexpected argument '%s'\n%s", argv[optind], usage_serve);
        return 2;
    }
    return moat_gateway_serve(&src);
}

static int cmd_config(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_config, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "docs") == 0) {
        moat_buf out;
        moat_buf_init(&out);
        moat_config_docs(&out);
        fwrite(out.data, 1, out.len, stdout);
        moat_buf_free(&out);
        return 0;
    }
    if (strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "moat config: unknown command '%s'\n%s", argv[1], usage_config);
        return 2;
    }
    static const struct option opts[] = {{"upstream", required_argument, NULL, 'u'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    moat_config_source src = {0};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "u:l:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            src.upstream = optarg;
            break;
        case 'l':
            src.listen = optarg;
            break;
        case 'h':
            fputs(usage_config, stdout);
            return 0;
        default:
            fputs(usage_config, stderr);
            return 2;
        }
    }
    if (optind < argc) src.path = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "moat config check: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    moat_config *cfg = NULL;
    char *err = NULL;
    if (moat_config_load(&src, &cfg, &err) < 0) {
        /* the message quotes the file, which may be an untrusted repository's */
        moat_buf e;
        moat_buf_init(&e);
        moat_term_escape(&e, err, strlen(err), MOAT_TERM_TEXT);
        fprintf(stderr, "%s\n", e.data);
        moat_buf_free(&e);
        free(err);
        return 1;
    }
    moat_buf dump, out;
    moat_buf_init(&dump);
    moat_buf_init(&out);
    moat_config_dump(cfg, &dump);
    /* The dump's strings are TOML basic strings, where \uXXXX means the same
     * as the code point: C1 and bidi controls are shown escaped. */
    moat_json_harden(&out, dump.data ? dump.data : "", dump.len);
    moat_buf_free(&dump);
    fwrite(out.data, 1, out.len, stdout);
    fprintf(stderr, "moat: configuration OK (%s)\n", cfg->source ? cfg->source : "defaults");
    moat_buf_free(&out);
    moat_config_free(cfg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("moat %s\n", MOAT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0) return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "cert") == 0) return moat_cmd_cert(argc - 1, argv + 1);
    if (strcmp(cmd, "config") == 0) return cmd_config(argc - 1, argv + 1);
    if (strcmp(cmd, "log") == 0) return moat_cmd_log(argc - 1, argv + 1);
    if (strcmp(cmd, "waf") == 0) return moat_cmd_waf(argc - 1, argv + 1);
    if (strcmp(cmd, "user") == 0) return moat_cmd_user(argc - 1, argv + 1);
    if (strcmp(cmd, "audit") == 0) return moat_cmd_audit(argc - 1, argv + 1);
    if (strcmp(cmd, "db") == 0) return moat_cmd_db(argc - 1, argv + 1);
    fprintf(stderr, "moat: unknown command '%s'\n\n%s", cmd, usage_main);
    return 2;
}
