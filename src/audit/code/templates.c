/* templates.c - Jinja2 and Django templates: the `|safe` filter and
 * `{% autoescape false %}` / `{% autoescape off %}` blocks, found inside
 * `{{ }}` and `{% %}` tags (text outside tags is HTML and ignored). Template
 * comments `{# nosec #}` suppress as `# nosec` does in Python. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "audit/code/internal.h"

bool moat_audit_code_is_template(const char *path)
{
    static const char *const exts[] = {".html",   ".htm",  ".jinja", ".jinja2", ".j2",
                                       ".djhtml", ".tmpl", ".jhtml", ".xml.j2"};
    size_t n = strlen(path);
    for (size_t i = 0; i < MOAT_ARRAY_LEN(exts); i++) {
        size_t k = strlen(exts[i]);
        if (n > k && strcasecmp(path + n - k, exts[i]) == 0) return true;
    }
    return false;
}

static bool word_at(const char *p, const char *end, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(end - p) < n || strncasecmp(p, w, n) != 0) return false;
    return p + n == end || !(isalnum((unsigned char)p[n]) || p[n] == '_');
}

static unsigned line_of(const char *src, size_t at)
{
    unsigned line = 1;
    for (size_t i = 0; i < at; i++)
        if (src[i] == '\n') line++;
    return line;
}

static void report(const char *path, const char *src, size_t len, size_t at, size_t tag_end,
                   moat_code_rule id, const moat_audit_code_opts *o, moat_audit_findings *out,
                   moat_audit_file_result *res)
{
    const char *rule = moat_audit_code_rules[id].id;
    for (size_t i = 0; o && i < o->nskip; i++)
        if (!strcmp(o->skip[i], rule)) return;
    unsigned first = line_of(src, at), last = line_of(src, tag_end);
    if (moat_audit_suppressed(src, len, first, last, rule, "code")) {
        res->suppressed++;
        return;
    }
    moat__audit_line_finding(out, &moat_audit_code_rules[id], "code", path, src, len, at, 0, 0,
                             NULL);
}

void moat_audit_code_template(const char *path, const char *src, size_t len,
                              const moat_audit_code_opts *o, moat_audit_findings *out,
                              moat_audit_file_result *res)
{
    memset(res, 0, sizeof(*res));
    const char *end = src + len;
    for (const char *p = src; p + 1 < end; p++) {
        if (p[0] != '{' || (p[1] != '{' && p[1] != '%')) continue;
        const char close = p[1] == '{' ? '}' : '%';
        const char *q = p + 2, *tag_end = NULL;
        for (; q + 1 < end; q++)
            if (q[0] == close && q[1] == '}') {
                tag_end = q;
                break;
            }
        if (!tag_end) break;
        if (close == '%') {
            const char *w = p + 2;
            while (w < tag_end && (*w == '-' || *w == '+' || isspace((unsigned char)*w)))
                w++;
            if (word_at(w, tag_end, "autoescape")) {
                w += 10;
                while (w < tag_end && isspace((unsigned char)*w))
                    w++;
                if (word_at(w, tag_end, "false") || word_at(w, tag_end, "off"))
                    report(path, src, len, (size_t)(p - src), (size_t)(tag_end - src),
                           MOAT_CODE_MOAT_C103, o, out, res);
            }
        }
        for (const char *f = p + 2; f < tag_end; f++) {
            if (*f == '"' || *f == '\'') { /* skip string literals inside the tag */
                const char *s = memchr(f + 1, *f, (size_t)(tag_end - f - 1));
                if (!s) break;
                f = s;
                continue;
            }
            if (*f != '|') continue;
            const char *w = f + 1;
            while (w < tag_end && isspace((unsigned char)*w))
                w++;
            if (word_at(w, tag_end, "safe"))
                report(path, src, len, (size_t)(f - src), (size_t)(tag_end - src),
                       MOAT_CODE_MOAT_C102, o, out, res);
        }
        p = tag_end + 1;
    }
}
