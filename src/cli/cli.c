/* cli.c - dispatch, "did you mean" and usage lists from the command tables
 * (cli.h). */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

const moat_cli_cmd *moat_cli_find(const moat_cli_cmd *table, const char *name)
{
    for (const moat_cli_cmd *c = table; c && c->name; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

const char *moat_cli_suggest(const moat_cli_cmd *table, const char *name)
{
    const char *best = NULL;
    size_t best_d = 3, n = strlen(name);
    for (const moat_cli_cmd *c = table; c && c->name; c++) {
        if (c->hidden) continue;
        size_t d = moat_edit_distance(name, c->name);
        if (n >= 2 && strncmp(c->name, name, n) == 0) d = 1; /* a prefix */
        if (d < best_d) {
            best_d = d;
            best = c->name;
        }
    }
    return best;
}

int moat_cli_unknown(const char *prefix, const moat_cli_cmd *table, const char *name,
                     const char *usage)
{
    /* name comes from argv: escape it for the terminal */
    moat_buf e;
    moat_buf_init(&e);
    moat_term_escape(&e, name, strlen(name), MOAT_TERM_TEXT);
    const char *hint = moat_cli_suggest(table, name);
    fprintf(stderr, "%s: unknown command '%s'", prefix, e.data ? e.data : "");
    if (hint) fprintf(stderr, " (did you mean '%s'?)", hint);
    fputs("\n", stderr);
    if (usage) fprintf(stderr, "\n%s", usage);
    moat_buf_free(&e);
    return 2;
}

void moat_cli_list(moat_buf *out, const moat_cli_cmd *table, const char *prefix, int width)
{
    for (const moat_cli_cmd *c = table; c && c->name; c++) {
        if (c->hidden) continue;
        char name[64];
        snprintf(name, sizeof(name), "%s%s%s", prefix ? prefix : "", prefix ? " " : "", c->name);
        moat_buf_printf(out, "  %-*s %s\n", width, name, c->summary);
    }
}

static bool is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

int moat_cli_run(const moat_cli_cmd *cmd, int argc, char **argv, const char *usage)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "moat %s", cmd->name);
    if (cmd->fn) {
        if (cmd->subs && !cmd->args_free && argc >= 2 && argv[1][0] != '-' && !is_help(argv[1]) &&
            !moat_cli_find(cmd->subs, argv[1])) {
            /* the command prints "unknown command" and its own usage; the
             * hint comes last, where the eye lands */
            if (usage) return moat_cli_unknown(prefix, cmd->subs, argv[1], usage);
            cmd->fn(argc, argv);
            const char *hint = moat_cli_suggest(cmd->subs, argv[1]);
            if (hint) fprintf(stderr, "%s: did you mean '%s'?\n", prefix, hint);
            return 2;
        }
        return cmd->fn(argc, argv);
    }
    if (argc < 2) {
        if (usage) fputs(usage, stderr);
        return 2;
    }
    if (is_help(argv[1])) {
        if (usage) fputs(usage, stdout);
        return 0;
    }
    const moat_cli_cmd *sub = moat_cli_find(cmd->subs, argv[1]);
    if (!sub || !sub->fn) return moat_cli_unknown(prefix, cmd->subs, argv[1], usage);
    return sub->fn(argc - 1, argv + 1);
}

int moat_cli_sub_config(int argc, char **argv, const char *name, const char *usage,
                        const char *const *subs, const char **sub, const char **config)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    *sub = argv[1];
    *config = NULL;
    size_t i = 0;
    while (subs[i] && strcmp(subs[i], *sub) != 0)
        i++;
    if (!subs[i]) {
        moat_arena *a = moat_arena_new();
        fprintf(stderr, "moat %s: unknown command '%s'\n%s", name, moat_term_str(a, *sub), usage);
        moat_arena_free(a);
        return 2;
    }
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            *config = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    return -1;
}
