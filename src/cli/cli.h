/* cli.h - the moat command line as data: one table of commands, each
 * {name, fn, summary} with an optional table of sub-commands. The same
 * tables dispatch argv, print the usage lists (`moat help`, `moat --help`),
 * suggest "did you mean" for a mistyped name, and generate the shell
 * completion scripts (`moat completion bash|zsh`). */
#ifndef MOAT_CLI_H
#define MOAT_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "core.h"

/* A command's function takes its own argv (argv[0] is its name) and returns
 * the exit status: 0 ok, 1 failure or findings, 2 usage or input error. */
typedef int (*moat_cli_fn)(int argc, char **argv);

typedef struct moat_cli_cmd moat_cli_cmd;
struct moat_cli_cmd {
    const char *name;
    moat_cli_fn fn;           /* NULL: dispatch to subs[] by argv[1] */
    const char *summary;      /* one line, no newline */
    const moat_cli_cmd *subs; /* sub-commands, ended by {0}; may be NULL */
    const char *flags;        /* options offered by completion, space-separated */
    /* A group with fn and subs: fn parses argv itself, and argv[1] need not
     * name a sub-command when args_free (`moat audit PATH`). */
    bool args_free;
    /* Not listed in usage or completion, never suggested: build-time tools
     * (`moat manpages DIR`). */
    bool hidden;
};

/* The top-level table (main.c), ended by {0}. */
extern const moat_cli_cmd moat_cli_commands[];

/* The sub-command tables the command files define. */
extern const moat_cli_cmd moat_cli_audit_subs[], moat_cli_user_subs[], moat_cli_log_subs[],
    moat_cli_cert_subs[], moat_cli_db_subs[], moat_cli_config_subs[], moat_cli_completion_subs[];

/* Finds name in the table; NULL when absent. */
const moat_cli_cmd *moat_cli_find(const moat_cli_cmd *table, const char *name);

/* The closest name in the table (edit distance at most 2, or a prefix);
 * NULL when none is close. */
const char *moat_cli_suggest(const moat_cli_cmd *table, const char *name);

/* Prints "PREFIX: unknown command 'NAME'" with a did-you-mean when one is
 * close, then usage (may be NULL) to stderr; returns 2. */
int moat_cli_unknown(const char *prefix, const moat_cli_cmd *table, const char *name,
                     const char *usage);

/* Appends "  name   summary" lines for the table (indent spaces first). */
void moat_cli_list(moat_buf *out, const moat_cli_cmd *table, const char *prefix, int width);

/* The front of `moat NAME SUB [--config FILE] [ARGS...]` (moat ban, moat
 * store): no SUB or -h/--help prints usage; SUB must be one of subs (NULL
 * terminated); options are --config/-c and --help/-h. Returns -1 with *sub,
 * *config (NULL when not given) set and optind at the first argument, or
 * the exit status (0 after help, 2 on a usage error). */
int moat_cli_sub_config(int argc, char **argv, const char *name, const char *usage,
                        const char *const *subs, const char **sub, const char **config);

/* Runs cmd with argv (argv[0] is cmd->name): a group without fn dispatches
 * on argv[1] (help/--help/-h print usage; unknown names exit 2 with a
 * did-you-mean); a group with fn checks argv[1] against subs[] unless it is
 * an option or cmd->args_free, then calls fn. usage is the group's text. */
int moat_cli_run(const moat_cli_cmd *cmd, int argc, char **argv, const char *usage);

/* Writes the manual pages (man.c): moat.1, moat-CMD.1 for every listed
 * command and moat.toml.5, into dir. help(c, sub, out) appends the --help
 * text of `moat c [sub]` (sub may be NULL) and returns its exit status. */
typedef int (*moat_cli_help_fn)(const moat_cli_cmd *c, const moat_cli_cmd *sub, moat_buf *out);
int moat_cli_manpages(const char *dir, moat_cli_help_fn help);

/* Started as root, hands the regular files a command just wrote (paths,
 * NULL-terminated; missing ones skipped) to the account moat serves as
 * (`user`, `group` of cfg), so `moat serve` and its SIGHUP reloads can read
 * and rewrite them; prints what it did. Not root, cfg NULL or read from no
 * file: nothing.
 * Symlinks and files root does not own are left alone. (owner.c) */
struct moat_config;
void moat_cli_give(const struct moat_config *cfg, const char *const *paths);

/* `-o FILE` for commands whose report goes to stdout: points stdout at
 * path (created mode 0600: reports may quote what they found) and returns
 * the saved descriptor to give moat_cli_stdout_restore, or -1 with a
 * message printed. (owner.c) */
int moat_cli_stdout_to(const char *prefix, const char *path);
/* Flushes stdout into the file and points it back at saved; returns 0, or
 * 1 when the report could not be written. */
int moat_cli_stdout_restore(const char *prefix, const char *path, int saved);

/* `moat completion bash|zsh` (completion.c). */
int moat_cli_completion(int argc, char **argv);
void moat_cli_completion_bash(moat_buf *out);
void moat_cli_completion_zsh(moat_buf *out);

#endif
