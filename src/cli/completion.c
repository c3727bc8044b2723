/* completion.c - `moat completion bash|zsh`: shell completion scripts made
 * from the command tables (cli.h), so a new command or sub-command completes
 * without editing a script. Names and flags are plain words from our own
 * tables; summaries are written into single-quoted zsh strings, so they hold
 * no single quote or colon (checked here: such a character is dropped). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void words(moat_buf *b, const moat_cli_cmd *table)
{
    for (const moat_cli_cmd *c = table; c && c->name; c++)
        if (!c->hidden) moat_buf_printf(b, "%s%s", c == table ? "" : " ", c->name);
}

static void bash_case(moat_buf *b, const char *path, const moat_cli_cmd *c)
{
    moat_buf_printf(b, "    '%s')\n        words='", path);
    if (c->subs) words(b, c->subs);
    moat_buf_printf(b, "%s%s'\n", c->subs && c->flags ? " " : "", c->flags ? c->flags : "");
    moat_buf_printf(b, "        files=%d ;;\n", c->subs && !c->args_free ? 0 : 1);
}

void moat_cli_completion_bash(moat_buf *b)
{
    moat_buf_puts(b, "# bash completion for moat; load with: source <(moat completion bash)\n"
                     "_moat() {\n"
                     "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" path='' words='' files=1 i\n"
                     "    COMPREPLY=()\n"
                     "    # the command path: the words before the cursor that name commands\n"
                     "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
                     "        case \"${COMP_WORDS[i]}\" in -*) ;; *) path=\"${path:+$path }"
                     "${COMP_WORDS[i]}\" ;; esac\n"
                     "    done\n"
                     "    case \"$path\" in\n"
                     "    '')\n        words='");
    words(b, moat_cli_commands);
    moat_buf_puts(b, " --help --version'\n        files=0 ;;\n");
    /* `moat help COMMAND` completes the commands */
    moat_buf_puts(b, "    'help') words='");
    words(b, moat_cli_commands);
    moat_buf_puts(b, "'; files=0 ;;\n");
    for (const moat_cli_cmd *c = moat_cli_commands; c->name; c++) {
        if (strcmp(c->name, "help") == 0 || c->hidden) continue;
        bash_case(b, c->name, c);
        for (const moat_cli_cmd *s = c->subs; s && s->name; s++) {
            char path[128];
            snprintf(path, sizeof(path), "%s %s", c->name, s->name);
            bash_case(b, path, s);
        }
    }
    moat_buf_puts(b, "    *) words='--help' ;;\n"
                     "    esac\n"
                     "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
                     "    if [ \"$files\" = 1 ] && [ \"${cur#-}\" = \"$cur\" ]; then\n"
                     "        COMPREPLY+=($(compgen -f -- \"$cur\"))\n"
                     "    fi\n"
                     "}\n"
                     "complete -F _moat moat\n");
}

static void zsh_item(moat_buf *b, const moat_cli_cmd *c)
{
    moat_buf_printf(b, " '%s:", c->name);
    for (const char *p = c->summary; *p; p++)
        if (*p != '\'' && *p != ':') moat_buf_printf(b, "%c", *p);
    moat_buf_puts(b, "'");
}

static void zsh_list(moat_buf *b, const char *var, const moat_cli_cmd *table)
{
    moat_buf_printf(b, "    local -a %s=(", var);
    for (const moat_cli_cmd *c = table; c->name; c++)
        if (!c->hidden) zsh_item(b, c);
    moat_buf_puts(b, ")\n");
}

void moat_cli_completion_zsh(moat_buf *b)
{
    moat_buf_puts(b, "#compdef moat\n"
                     "# zsh completion for moat; load with: source <(moat completion zsh)\n"
                     "_moat() {\n");
    zsh_list(b, "cmds", moat_cli_commands);
    moat_buf_puts(b, "    if (( CURRENT == 2 )); then _describe 'command' cmds; return; fi\n"
                     "    case $words[2] in\n");
    for (const moat_cli_cmd *c = moat_cli_commands; c->name; c++) {
        if (!c->subs || c->hidden) continue;
        moat_buf_printf(b, "    %s)\n", c->name);
        zsh_list(b, "subs", c->subs);
        moat_buf_printf(b,
                        "        if (( CURRENT == 3 )); then _describe 'sub-command' subs%s;"
                        " else _files; fi ;;\n",
                        c->args_free ? "; _files" : "");
    }
    moat_buf_puts(b, "    *) _files ;;\n"
                     "    esac\n"
                     "}\n"
                     "if [[ $funcstack[1] == _moat ]]; then _moat \"$@\"; "
                     "else compdef _moat moat; fi\n");
}

const moat_cli_cmd moat_cli_completion_subs[] = {
    {.name = "bash", .summary = "the bash script"},
    {.name = "zsh", .summary = "the zsh script"},
    {0},
};

int moat_cli_completion(int argc, char **argv)
{
    static const char usage[] = "usage: moat completion bash|zsh\n"
                                "\n"
                                "Prints a completion script: source <(moat completion bash)\n";
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc != 2 || (strcmp(argv[1], "bash") != 0 && strcmp(argv[1], "zsh") != 0)) {
        fputs(usage, stderr);
        return 2;
    }
    moat_buf b;
    moat_buf_init(&b);
    if (strcmp(argv[1], "bash") == 0)
        moat_cli_completion_bash(&b);
    else
        moat_cli_completion_zsh(&b);
    fwrite(b.data, 1, b.len, stdout);
    moat_buf_free(&b);
    return fflush(stdout) == 0 ? 0 : 1;
}
