/* man.c - `moat manpages DIR`, run by the build: the manual pages made from
 * the command table and the settings reference, so they cannot drift from
 * the program. moat(1) lists the commands; moat-CMD(1) is the command's own
 * --help (and each sub-command's, when it has its own) turned into roff;
 * moat.toml(5) is `moat config docs` (Markdown) turned into roff. The two
 * converters know only the shapes those texts use: "usage:" lines, paragraphs
 * and two-column lists; headings, paragraphs, bullets and code fences. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config/config.h"

/* Appends n bytes of text as roff: backslashes and hyphens escaped; the
 * caller starts each output line with "\&" so a leading '.' or '\'' is text. */
static void esc(moat_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            moat_buf_puts(b, "\\e");
        else if (s[i] == '-')
            moat_buf_puts(b, "\\-");
        else
            moat_buf_putc(b, s[i]);
    }
}

static void text_line(moat_buf *b, const char *s, size_t n)
{
    moat_buf_puts(b, "\\&");
    esc(b, s, n);
    moat_buf_putc(b, '\n');
}

static size_t indent_of(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] == ' ')
        i++;
    return i;
}

/* The start of the first run of two or more spaces in s[from..n), or 0. */
static size_t gap(const char *s, size_t from, size_t n)
{
    for (size_t i = from; i + 1 < n; i++)
        if (s[i] == ' ' && s[i + 1] == ' ') return i;
    return 0;
}

/* A --help text as roff: the "usage:" lines as a synopsis (under the
 * heading syn_heading: ".SH SYNOPSIS", or nothing inside a sub-section),
 * then paragraphs, and "  TAG   text" lines (with deeper-indented
 * continuations) as tagged paragraphs. */
static void help_to_roff(moat_buf *b, const char *help, const char *syn_heading)
{
    const char *p = help, *end = help + strlen(help);
    bool in_usage = true, in_item = false, need_pp = true;
    bool started = false;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *line = p;
        p = nl ? nl + 1 : end;
        size_t ind = indent_of(line, n);
        if (in_usage) {
            if (!started && n >= 7 && strncmp(line, "usage: ", 7) == 0) {
                if (syn_heading) moat_buf_printf(b, "%s\n", syn_heading);
                moat_buf_puts(b, ".nf\n");
                text_line(b, line + 7, n - 7);
                started = true;
                continue;
            }
            if (started && ind >= 7 && n > ind) {
                text_line(b, line + 7, n - 7);
                continue;
            }
            if (started) moat_buf_puts(b, ".fi\n");
            in_usage = false;
            if (syn_heading) moat_buf_puts(b, ".SH DESCRIPTION\n");
        }
        if (ind == n) { /* blank */
            in_item = false;
            need_pp = true;
            continue;
        }
        size_t g = gap(line, ind, n);
        /* an item: "  TAG  text" (TAG at column 2), or "WORD  text" */
        bool item = g > ind && ind <= 2 && (ind == 2 || !memchr(line, ' ', g));
        if (item) {
            size_t t = g;
            while (t < n && line[t] == ' ')
                t++;
            moat_buf_puts(b, ".TP\n\\fB");
            esc(b, line + ind, g - ind);
            moat_buf_puts(b, "\\fR\n");
            text_line(b, line + t, n - t);
            in_item = true;
            need_pp = false;
            continue;
        }
        if (ind > 2 && in_item) {
            text_line(b, line + ind, n - ind);
            continue;
        }
        if (need_pp || in_item) moat_buf_puts(b, ".PP\n");
        in_item = need_pp = false;
        text_line(b, line + ind, n - ind);
    }
    if (in_usage && started) moat_buf_puts(b, ".fi\n");
}

/* Inline Markdown: `code` and **bold** in bold, [text](url) as text (an
 * external url follows in angle brackets). */
static void md_inline(moat_buf *b, const char *s, size_t n)
{
    moat_buf_puts(b, "\\&");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '`') {
            const char *close = memchr(s + i + 1, '`', n - i - 1);
            if (close) {
                moat_buf_puts(b, "\\fB");
                esc(b, s + i + 1, (size_t)(close - s - i - 1));
                moat_buf_puts(b, "\\fR");
                i = (size_t)(close - s);
                continue;
            }
        }
        if (s[i] == '*' && i + 1 < n && s[i + 1] == '*') {
            const char *close = NULL;
            for (size_t j = i + 2; j + 1 < n; j++)
                if (s[j] == '*' && s[j + 1] == '*') {
                    close = s + j;
                    break;
                }
            if (close) {
                moat_buf_puts(b, "\\fB");
                esc(b, s + i + 2, (size_t)(close - s - i - 2));
                moat_buf_puts(b, "\\fR");
                i = (size_t)(close - s) + 1;
                continue;
            }
        }
        if (s[i] == '[') {
            const char *rb = memchr(s + i, ']', n - i);
            if (rb && rb + 1 < s + n && rb[1] == '(') {
                const char *rp = memchr(rb, ')', (size_t)(s + n - rb));
                if (rp) {
                    esc(b, s + i + 1, (size_t)(rb - s - i - 1));
                    if (strncmp(rb + 2, "http", 4) == 0) {
                        moat_buf_puts(b, " <");
                        esc(b, rb + 2, (size_t)(rp - rb - 2));
                        moat_buf_puts(b, ">");
                    }
                    i = (size_t)(rp - s);
                    continue;
                }
            }
        }
        if (s[i] == '\\')
            moat_buf_puts(b, "\\e");
        else if (s[i] == '-')
            moat_buf_puts(b, "\\-");
        else
            moat_buf_putc(b, s[i]);
    }
    moat_buf_putc(b, '\n');
}

/* A heading's text without its backquotes. */
static void heading(moat_buf *b, const char *macro, const char *s, size_t n)
{
    moat_buf_printf(b, "%s \"", macro);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '`') continue;
        if (s[i] == '"') continue;
        if (s[i] == '\\')
            moat_buf_puts(b, "\\e");
        else if (s[i] == '-')
            moat_buf_puts(b, "\\-");
        else
            moat_buf_putc(b, s[i]);
    }
    moat_buf_puts(b, "\"\n");
}

/* The configuration reference (Markdown) as the body of moat.toml(5). The
 * summary table is left out: the sections after it say the same. */
static void md_to_roff(moat_buf *b, const char *md)
{
    const char *p = md, *end = md + strlen(md);
    bool fence = false, need_pp = true;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *line = p;
        p = nl ? nl + 1 : end;
        if (n >= 3 && strncmp(line, "```", 3) == 0) {
            moat_buf_puts(b, fence ? ".fi\n.RE\n" : ".PP\n.RS 4\n.nf\n");
            fence = !fence;
            need_pp = true;
            continue;
        }
        if (fence) {
            text_line(b, line, n);
            continue;
        }
        if (n == 0) {
            need_pp = true;
            continue;
        }
        if (line[0] == '|' || strncmp(line, "<!--", 4) == 0 || strncmp(line, "# ", 2) == 0)
            continue;
        if (strncmp(line, "## ", 3) == 0) {
            heading(b, ".SH", line + 3, n - 3);
            need_pp = false;
            continue;
        }
        if (strncmp(line, "### ", 4) == 0) {
            heading(b, ".SS", line + 4, n - 4);
            need_pp = false;
            continue;
        }
        if (strncmp(line, "- ", 2) == 0) {
            moat_buf_puts(b, ".IP \\(bu 2\n");
            md_inline(b, line + 2, n - 2);
            need_pp = true;
            continue;
        }
        if (need_pp) moat_buf_puts(b, ".PP\n");
        need_pp = false;
        md_inline(b, line, n);
    }
}

static void th(moat_buf *b, const char *name, int section)
{
    moat_buf_puts(b, ".TH \"");
    for (const char *s = name; *s; s++)
        moat_buf_putc(b, (char)(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s));
    moat_buf_printf(b, "\" %d \"\" \"moat %s\" \"moat manual\"\n", section, MOAT_VERSION);
}

static int write_page(const char *dir, const char *name, const moat_buf *b)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "moat manpages: %s: %s\n", path, strerror(errno));
        return 1;
    }
    fwrite(b->data, 1, b->len, f);
    if (fclose(f) != 0) {
        fprintf(stderr, "moat manpages: %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static bool listed(const moat_cli_cmd *c)
{
    return !c->hidden && strcmp(c->name, "help") != 0;
}

static void see_also(moat_buf *b, const char *self)
{
    moat_buf_puts(b, ".SH \"SEE ALSO\"\n");
    bool first = true;
    if (strcmp(self, "moat") != 0) {
        moat_buf_puts(b, "\\fBmoat\\fR(1)");
        first = false;
    }
    for (const moat_cli_cmd *c = moat_cli_commands; c->name; c++) {
        if (!listed(c)) continue;
        char name[64];
        snprintf(name, sizeof(name), "moat-%s", c->name);
        if (strcmp(name, self) == 0) continue;
        moat_buf_printf(b, "%s\\fBmoat\\-%s\\fR(1)", first ? "" : ",\n", c->name);
        first = false;
    }
    if (strcmp(self, "moat.toml") != 0) moat_buf_puts(b, ",\n\\fBmoat.toml\\fR(5)");
    moat_buf_puts(b, "\n");
}

static int main_page(const char *dir)
{
    moat_buf b;
    moat_buf_init(&b);
    th(&b, "moat", 1);
    moat_buf_puts(&b, ".SH NAME\nmoat \\- secures Python web applications\n"
                      ".SH SYNOPSIS\n.nf\n"
                      "\\fBmoat\\fR [\\fB\\-\\-version\\fR] [\\fB\\-\\-help\\fR] "
                      "\\fICOMMAND\\fR [\\fIARGS\\fR]\n.fi\n"
                      ".SH DESCRIPTION\n"
                      ".PP\n"
                      "moat is a security gateway in front of a Python web application "
                      "(\\fBmoat serve\\fR) and an auditor of its source tree "
                      "(\\fBmoat audit\\fR). Each command has its own page, "
                      "\\fBmoat\\-\\fR\\fICOMMAND\\fR(1), and its own "
                      "\\fB\\-\\-help\\fR.\n"
                      ".SH COMMANDS\n");
    for (const moat_cli_cmd *c = moat_cli_commands; c->name; c++) {
        if (c->hidden) continue;
        moat_buf_printf(&b, ".TP\n\\fB%s\\fR\n", c->name);
        text_line(&b, c->summary, strlen(c->summary));
        if (listed(c)) moat_buf_printf(&b, "See \\fBmoat\\-%s\\fR(1).\n", c->name);
    }
    moat_buf_puts(&b, ".SH \"EXIT STATUS\"\n"
                      ".PP\n"
                      "0 success; 1 failure, or findings for the auditors; 2 a usage or "
                      "input error (an unknown command or option, a missing argument).\n"
                      ".SH ENVIRONMENT\n"
                      ".TP\n\\fBNO_COLOR\\fR\n"
                      "respected: moat prints no colour codes at all, so its output reads the "
                      "same on a terminal, in a pipe and in a log.\n"
                      ".SH FILES\n"
                      ".TP\n\\fImoat.toml\\fR, \\fIpyproject.toml\\fR\n"
                      "the configuration, found in the current folder; see "
                      "\\fBmoat.toml\\fR(5).\n");
    see_also(&b, "moat");
    int rc = write_page(dir, "moat.1", &b);
    moat_buf_free(&b);
    return rc;
}

static int command_page(const char *dir, const moat_cli_cmd *c, moat_cli_help_fn help)
{
    char self[64], file[80];
    snprintf(self, sizeof(self), "moat-%s", c->name);
    snprintf(file, sizeof(file), "%s.1", self);
    moat_buf b, h;
    moat_buf_init(&b);
    moat_buf_init(&h);
    th(&b, self, 1);
    moat_buf_printf(&b, ".SH NAME\nmoat\\-%s \\- ", c->name);
    esc(&b, c->summary, strlen(c->summary));
    moat_buf_putc(&b, '\n');
    int rc = 0;
    if (help(c, NULL, &h) != 0 || !h.len) {
        fprintf(stderr, "moat manpages: 'moat %s --help' failed\n", c->name);
        rc = 1;
        goto out;
    }
    help_to_roff(&b, h.data, ".SH SYNOPSIS");
    /* sub-commands with a help of their own: one sub-section each */
    bool any = false;
    moat_buf prev;
    moat_buf_init(&prev);
    moat_buf_append(&prev, h.data, h.len);
    for (const moat_cli_cmd *s = c->subs; s && s->name; s++) {
        if (s->hidden) continue;
        moat_buf sh;
        moat_buf_init(&sh);
        if (help(c, s, &sh) == 0 && sh.len && strstr(prev.data, sh.data) == NULL) {
            if (!any) moat_buf_puts(&b, ".SH COMMANDS\n");
            any = true;
            moat_buf_printf(&b, ".SS \"moat %s %s\"\n", c->name, s->name);
            help_to_roff(&b, sh.data, NULL);
            moat_buf_putc(&prev, '\n');
            moat_buf_append(&prev, sh.data, sh.len);
        }
        moat_buf_free(&sh);
    }
    moat_buf_free(&prev);
    see_also(&b, self);
    rc = write_page(dir, file, &b);
out:
    moat_buf_free(&h);
    moat_buf_free(&b);
    return rc;
}

static int config_page(const char *dir)
{
    moat_buf b, md;
    moat_buf_init(&b);
    moat_buf_init(&md);
    th(&b, "moat.toml", 5);
    moat_buf_puts(&b, ".SH NAME\nmoat.toml \\- the configuration of moat\n"
                      ".SH SYNOPSIS\n.nf\n\\fImoat.toml\\fR\n"
                      "\\fIpyproject.toml\\fR, table \\fB[tool.moat]\\fR\n.fi\n"
                      ".SH DESCRIPTION\n");
    moat_config_docs(&md);
    md_to_roff(&b, md.data);
    see_also(&b, "moat.toml");
    int rc = write_page(dir, "moat.toml.5", &b);
    moat_buf_free(&md);
    moat_buf_free(&b);
    return rc;
}

int moat_cli_manpages(const char *dir, moat_cli_help_fn help)
{
    int rc = main_page(dir);
    for (const moat_cli_cmd *c = moat_cli_commands; c->name; c++)
        if (listed(c)) rc |= command_page(dir, c, help);
    rc |= config_page(dir);
    return rc;
}
