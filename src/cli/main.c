/* main.c - the moat command line: the command table (cli.h) and main(),
 * which dispatches argv through it. The only place that exits; commands
 * return an exit status (0 ok, 1 failure or findings, 2 usage or input
 * error). Adding a command is one row here and its function. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "config/config.h"
#include "core.h"
#include "gateway/gateway.h"
#include "net/net.h"

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
    "Signals: SIGHUP reloads the configuration ('moat reload' sends it and reports\n"
    "the outcome); SIGUSR1 reopens the access and security logs (after logrotate);\n"
    "SIGTERM drains and stops.\n";

static const char usage_config[] =
    "usage: moat config check [FILE] [--print] [--upstream URL] [--listen ADDR:PORT]\n"
    "       moat config docs\n"
    "\n"
    "check  validates FILE (or the config found in the current directory): every\n"
    "       setting, every glob, and that the TLS certificates and keys load and\n"
    "       match. Prints one line when it is valid; exit status 1 if invalid.\n"
    "docs   prints the reference of every setting (docs/configuration.md).\n"
    "\n"
    "  -p, --print            print the effective settings as TOML (relative paths\n"
    "                         resolved, references as written)\n"
    "  -u, --upstream URL     as 'moat serve --upstream'\n"
    "  -l, --listen ADDR:PORT as 'moat serve --listen'\n"
    "  -h, --help             this help\n";

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

static int cmd_config_docs(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_config, stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "moat config docs: unexpected argument '%s'\n%s", argv[1], usage_config);
        return 2;
    }
    moat_buf out;
    moat_buf_init(&out);
    moat_config_docs(&out);
    fwrite(out.data, 1, out.len, stdout);
    moat_buf_free(&out);
    return 0;
}

/* Prints a message that may quote the file (an untrusted repository's)
 * escaped for the terminal. */
static void print_escaped(FILE *fp, const char *msg)
{
    moat_buf e;
    moat_buf_init(&e);
    moat_term_escape(&e, msg, strlen(msg), MOAT_TERM_TEXT);
    fprintf(fp, "%s\n", e.data ? e.data : "");
    moat_buf_free(&e);
}

/* What loading the config does not prove: that the certificates and keys
 * load as `moat serve` will load them, and match. */
static int check_tls(const moat_config *cfg)
{
    if (!cfg->tls.cert.len) return 0;
    moat_tls_ctx *t = NULL;
    char err[512] = "";
    size_t n = cfg->tls.cert.len < cfg->tls.key.len ? cfg->tls.cert.len : cfg->tls.key.len;
    int rc = moat_tls_ctx_new(cfg->tls.cert.items, cfg->tls.key.items, n,
                              strcmp(cfg->tls.profile, "modern") == 0, &t, err, sizeof(err));
    if (rc < 0) {
        char *msg = moat_xasprintf("%s: tls: %s", cfg->source ? cfg->source : "configuration",
                                   err[0] ? err : moat_strerror(rc));
        print_escaped(stderr, msg);
        free(msg);
        return 1;
    }
    moat_tls_ctx_free(t);
    return 0;
}

static int cmd_config_check(int argc, char **argv)
{
    static const struct option opts[] = {{"upstream", required_argument, NULL, 'u'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"print", no_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    moat_config_source src = {0};
    bool print = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "u:l:ph", opts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            src.upstream = optarg;
            break;
        case 'l':
            src.listen = optarg;
            break;
        case 'p':
            print = true;
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
        print_escaped(stderr, err);
        free(err);
        return 1;
    }
    if (check_tls(cfg)) {
        moat_config_free(cfg);
        return 1;
    }
    if (print) {
        moat_buf dump, out;
        moat_buf_init(&dump);
        moat_buf_init(&out);
        moat_config_dump(cfg, &dump);
        /* The dump's strings are TOML basic strings, where \uXXXX means the
         * same as the code point: C1 and bidi controls are shown escaped. */
        moat_json_harden(&out, dump.data ? dump.data : "", dump.len);
        moat_buf_free(&dump);
        fwrite(out.data, 1, out.len, stdout);
        moat_buf_free(&out);
    }
    /* one line, on stderr like nginx -t: stdout is the dump's alone */
    char *line =
        moat_xasprintf("moat: configuration OK (%s)", cfg->source ? cfg->source : "defaults");
    print_escaped(stderr, line);
    free(line);
    moat_config_free(cfg);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- the command table ---------------------------------------------------- */

const moat_cli_cmd moat_cli_config_subs[] = {
    {.name = "check",
     .fn = cmd_config_check,
     .summary = "validate a configuration (--print: the effective settings)",
     .flags = "--print --upstream --listen --help"},
    {.name = "docs",
     .fn = cmd_config_docs,
     .summary = "print the configuration reference (Markdown)"},
    {0},
};

const moat_cli_cmd moat_cli_log_subs[] = {
    {.name = "init",
     .fn = NULL,
     .summary = "create the log's MAC key",
     .flags = "--config --force --help"},
    {.name = "verify",
     .fn = NULL,
     .summary = "check the log's hash chain and MACs",
     .flags = "--key --key-file --anchor --help"},
    {.name = "why",
     .fn = NULL,
     .summary = "explain the security events of one request",
     .flags = "--config --file --help"},
    {0},
};

const moat_cli_cmd moat_cli_user_subs[] = {
    {.name = "add", .fn = NULL, .summary = "add a user"},
    {.name = "passwd", .fn = NULL, .summary = "set a new password"},
    {.name = "list", .fn = NULL, .summary = "list the users"},
    {.name = "del", .fn = NULL, .summary = "delete a user"},
    {.name = "lock", .fn = NULL, .summary = "lock an account"},
    {.name = "unlock", .fn = NULL, .summary = "end a lock"},
    {.name = "roles", .fn = NULL, .summary = "replace the user's roles"},
    {.name = "mfa", .fn = NULL, .summary = "enroll or reset a second factor"},
    {.name = "recovery", .fn = NULL, .summary = "replace the user's recovery codes"},
    {.name = "import", .fn = NULL, .summary = "add users from CSV or JSON"},
    {.name = "token", .fn = NULL, .summary = "create, list or revoke bearer tokens"},
    {.name = "logout", .fn = NULL, .summary = "end every session of the user"},
    {0},
};

const moat_cli_cmd moat_cli_cert_subs[] = {
    {.name = "selfsigned",
     .fn = NULL,
     .summary = "write a self-signed development certificate",
     .flags = "--cert --key --days --config --help"},
    {.name = "status",
     .fn = NULL,
     .summary = "list the served certificates, issuers, expiry and next renewal",
     .flags = "--config --help"},
    {.name = "renew",
     .fn = NULL,
     .summary = "renew the ACME certificate now (revoked or compromised)",
     .flags = "--config --help"},
    {0},
};

const moat_cli_cmd moat_cli_db_subs[] = {
    {.name = "import",
     .fn = NULL,
     .summary = "read OSV records into the database",
     .flags = "--db --quiet --help"},
    {.name = "update",
     .fn = NULL,
     .summary = "download the OSV PyPI export and import it",
     .flags = "--db --url --quiet --help"},
    {.name = "info", .fn = NULL, .summary = "the database's size and age", .flags = "--db --help"},
    {0},
};

static const moat_cli_cmd moat_cli_ban_subs[] = {
    {.name = "list", .fn = NULL, .summary = "the bans in force", .flags = "--config --help"},
    {.name = "remove", .fn = NULL, .summary = "lift a ban", .flags = "--config --help"},
    {0},
};

static const moat_cli_cmd moat_cli_waf_subs[] = {
    {.name = "tune",
     .fn = NULL,
     .summary = "propose waf.exclude entries from a security log written in detect mode",
     .flags = "--help"},
    {0},
};

static const moat_cli_cmd moat_cli_store_subs[] = {
    {.name = "migrate",
     .fn = NULL,
     .summary = "bring the stores' schemas to this moat's version",
     .flags = "--config --help"},
    {.name = "copy",
     .fn = NULL,
     .summary = "copy every user from one users store to another (SQLite, PostgreSQL)",
     .flags = "--help"},
    {0},
};

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);
static int cmd_manpages(int argc, char **argv);

const moat_cli_cmd moat_cli_commands[] = {
    {.name = "serve",
     .fn = cmd_serve,
     .summary = "run the security gateway in front of the app",
     .flags = "--config --upstream --listen --quiet --help"},
    {.name = "reload",
     .fn = moat_cmd_reload,
     .summary = "reload the running gateway's configuration and report the outcome",
     .flags = "--config --pid-file --timeout --help"},
    {.name = "status",
     .fn = moat_cmd_status,
     .summary = "whether the gateway runs: pid, uptime, listeners, last reload",
     .flags = "--config --pid-file --format --help"},
    {.name = "cert",
     .fn = moat_cmd_cert,
     .summary = "write a self-signed development certificate",
     .subs = moat_cli_cert_subs},
    {.name = "config",
     .fn = NULL,
     .summary = "check a configuration, print the configuration reference",
     .subs = moat_cli_config_subs},
    {.name = "log",
     .fn = moat_cmd_log,
     .summary = "the security event log: init, verify, why",
     .subs = moat_cli_log_subs},
    {.name = "waf",
     .fn = moat_cmd_waf,
     .summary = "the web application firewall: tune (exclusions from a detect-mode log)",
     .subs = moat_cli_waf_subs},
    {.name = "user",
     .fn = moat_cmd_user,
     .summary = "users, passwords, second factors and tokens for the gateway",
     .subs = moat_cli_user_subs,
     .flags = "--config --create --role --expires --help"},
    {.name = "audit",
     .fn = moat_cmd_audit,
     .summary = "all four auditors on one tree, with one summary",
     .subs = moat_cli_audit_subs,
     .flags = "--db --config --help",
     .args_free = true},
    {.name = "db",
     .fn = moat_cmd_db,
     .summary = "the local OSV advisory database: import, update, info",
     .subs = moat_cli_db_subs},
    {.name = "store",
     .fn = moat_cmd_store,
     .summary = "the users and state stores: migrate their schemas, copy users between them",
     .subs = moat_cli_store_subs},
    {.name = "ban",
     .fn = moat_cmd_ban,
     .summary = "client addresses banned for bad behaviour: list, remove",
     .subs = moat_cli_ban_subs},
    {.name = "completion",
     .fn = moat_cli_completion,
     .summary = "print a shell completion script: bash or zsh",
     .subs = moat_cli_completion_subs},
    {.name = "version", .fn = cmd_version, .summary = "print moat's version (also -V, --version)"},
    {.name = "help", .fn = cmd_help, .summary = "this list, or the help of one command"},
    {.name = "manpages",
     .fn = cmd_manpages,
     .summary = "write the manual pages into a folder (run by the build)",
     .hidden = true},
    {0},
};

/* The usage of a group: its commands from the table. */
static void group_usage(moat_buf *b, const moat_cli_cmd *c)
{
    moat_buf_printf(b, "usage: moat %s COMMAND [ARGS]\n\n%s.\n\ncommands:\n", c->name, c->summary);
    moat_cli_list(b, c->subs, NULL, 12);
    moat_buf_printf(b, "\nRun 'moat %s COMMAND --help' for the options of a command.\n", c->name);
}

static void main_usage(moat_buf *b)
{
    moat_buf_puts(b, "usage: moat [--version] [--help] COMMAND [ARGS]\n"
                     "\n"
                     "moat secures Python web applications.\n"
                     "\n"
                     "commands:\n");
    for (const moat_cli_cmd *c = moat_cli_commands; c->name; c++) {
        if (c->hidden) continue;
        moat_buf_printf(b, "  %-16s %s\n", c->name, c->summary);
        if (c->args_free || !c->fn) moat_cli_list(b, c->subs, c->name, 16);
    }
    moat_buf_puts(b, "\nRun 'moat COMMAND --help' for the options of a command.\n");
}

static int print_usage(FILE *fp, int status)
{
    moat_buf b;
    moat_buf_init(&b);
    main_usage(&b);
    fwrite(b.data, 1, b.len, fp);
    moat_buf_free(&b);
    return status;
}

/* Runs a command from the table; a group without its own usage text gets
 * one made from its table. */
static int run(const moat_cli_cmd *c, int argc, char **argv)
{
    if (c->fn) return moat_cli_run(c, argc, argv, NULL);
    moat_buf b;
    moat_buf_init(&b);
    if (strcmp(c->name, "config") == 0)
        moat_buf_puts(&b, usage_config);
    else
        group_usage(&b, c);
    int rc = moat_cli_run(c, argc, argv, b.data);
    moat_buf_free(&b);
    return rc;
}

/* `moat help [COMMAND]`: the list, or `moat COMMAND --help`. */
static int cmd_help(int argc, char **argv)
{
    if (argc < 2) return print_usage(stdout, 0);
    const moat_cli_cmd *c = moat_cli_find(moat_cli_commands, argv[1]);
    if (!c || c->fn == cmd_help)
        return moat_cli_unknown("moat help", moat_cli_commands, argv[1], NULL);
    char *sub[] = {argv[1], "--help", NULL};
    return run(c, 2, sub);
}

static int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs("usage: moat version\n\nPrints moat's version; the same as 'moat --version' "
              "and 'moat -V'.\n",
              stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "usage: moat version\n");
        return 2;
    }
    printf("moat %s\n", MOAT_VERSION);
    return 0;
}

/* The --help text of `moat c [sub]`, read from a child process: commands
 * print their help to stdout, and a child keeps the getopt state and any
 * exit path of the command away from this process. */
static int help_text(const moat_cli_cmd *c, const moat_cli_cmd *sub, moat_buf *out)
{
    int fds[2];
    if (pipe(fds) != 0) return 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return 1;
    }
    if (pid == 0) {
        close(fds[0]);
        if (dup2(fds[1], STDOUT_FILENO) < 0) _exit(1);
        close(fds[1]);
        if (!freopen("/dev/null", "w", stderr)) _exit(1);
        char *argv[] = {(char *)c->name, sub ? (char *)sub->name : "--help", "--help", NULL};
        int rc = run(c, sub ? 3 : 2, argv);
        fflush(stdout);
        _exit(rc);
    }
    close(fds[1]);
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0)
        moat_buf_append(out, buf, (size_t)n);
    close(fds[0]);
    int st = 0;
    if (waitpid(pid, &st, 0) < 0) return 1;
    moat_buf_putc(out, '\0');
    out->len--;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static int cmd_manpages(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: moat manpages DIR\n", stderr);
        return 2;
    }
    return moat_cli_manpages(argv[1], help_text);
}

int main(int argc, char **argv)
{
    if (argc < 2) return print_usage(stderr, 2);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("moat %s\n", MOAT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) return print_usage(stdout, 0);
    const moat_cli_cmd *c = moat_cli_find(moat_cli_commands, cmd);
    if (!c) {
        moat_cli_unknown("moat", moat_cli_commands, cmd, NULL);
        return print_usage(stderr, 2);
    }
    return run(c, argc - 1, argv + 1);
}
