/* template.c - the small template language of the portal's pages, error
 * pages and stylesheet (templates/ at the top of the repository):
 * {{name}} inserts a value HTML-escaped, {{{name}}} as it is (HTML moat
 * made itself, the QR code), {{#name}}...{{/name}} shows its inside when the
 * value is set or repeats it for each item of a list ({{.}} is the item),
 * {{^name}}...{{/name}} shows it when the value is not set. A name the page
 * does not give is empty. Logic-less on purpose: what a page shows is
 * decided in pages.c, how it looks in the template. */
#include <string.h>

#include "internal.h"

#define TAG_MAX 64

static const moat__tvar *lookup(const moat__tvar *v, size_t nv, const char *name, size_t n)
{
    for (size_t i = 0; i < nv; i++)
        if (strlen(v[i].name) == n && memcmp(v[i].name, name, n) == 0) return &v[i];
    return NULL;
}

static bool truthy(const moat__tvar *t)
{
    return t && ((t->value && t->value[0]) || t->nlist);
}

/* The end of the tag that starts at p ("{{"): the first "}}" (or "}}}"
 * for a raw tag). NULL when there is none or the name is too long. */
static const char *tag_end(const char *p, const char *end, bool raw)
{
    const char *close = raw ? "}}}" : "}}";
    size_t cl = raw ? 3 : 2;
    const char *q = p + cl;
    for (; q + cl <= end && (size_t)(q - p) <= TAG_MAX + 4; q++)
        if (memcmp(q, close, cl) == 0) return q;
    return NULL;
}

/* Where the section name[0..n) opened before p closes: the "{{/name}}"
 * that balances it, or NULL. */
static const char *section_close(const char *p, const char *end, const char *name, size_t n)
{
    int depth = 1;
    for (const char *q = p; q + 5 + n <= end; q++) { /* "{{/" name "}}" */
        if (q[0] != '{' || q[1] != '{') continue;
        char k = q[2];
        if ((k == '#' || k == '^' || k == '/') && memcmp(q + 3, name, n) == 0 && q[3 + n] == '}' &&
            q[4 + n] == '}') {
            depth += k == '/' ? -1 : 1;
            if (depth == 0) return q;
        }
    }
    return NULL;
}

static int render(moat_buf *out, const char *p, const char *end, const moat__tvar *v, size_t nv,
                  const char *item, const char **why)
{
    while (p < end) {
        const char *t = memmem(p, (size_t)(end - p), "{{", 2);
        if (!t) {
            moat_buf_append(out, p, (size_t)(end - p));
            return 0;
        }
        moat_buf_append(out, p, (size_t)(t - p));
        bool raw = t + 2 < end && t[2] == '{';
        const char *e = tag_end(t, end, raw);
        if (!e) {
            *why = "a {{ without its }} (or a name over 64 characters)";
            return -1;
        }
        const char *name = t + (raw ? 3 : 2);
        size_t n = (size_t)(e - name);
        p = e + (raw ? 3 : 2);
        char kind = n ? name[0] : 0;
        if (kind == '#' || kind == '^') {
            name++;
            n--;
            const char *close = section_close(p, end, name, n);
            if (!close || n == 0) {
                *why = "a {{#section}} or {{^section}} without its {{/section}}";
                return -1;
            }
            const moat__tvar *var = lookup(v, nv, name, n);
            int rc = 0;
            if (kind == '^') {
                if (!truthy(var)) rc = render(out, p, close, v, nv, item, why);
            } else if (var && var->nlist) {
                for (size_t i = 0; i < var->nlist && rc == 0; i++)
                    rc = render(out, p, close, v, nv, var->list[i], why);
            } else if (truthy(var)) {
                rc = render(out, p, close, v, nv, item, why);
            } else {
                /* check the inside once, so a broken template fails at load */
                moat_buf scratch;
                moat_buf_init(&scratch);
                rc = render(&scratch, p, close, NULL, 0, NULL, why);
                moat_buf_free(&scratch);
            }
            if (rc < 0) return rc;
            p = close + 5 + n; /* past "{{/" name "}}" */
            continue;
        }
        if (kind == '/') {
            *why = "a {{/section}} that no {{#section}} opened";
            return -1;
        }
        if (n == 1 && name[0] == '.') {
            moat_portal_html_escape(out, item);
            continue;
        }
        const moat__tvar *var = lookup(v, nv, name, n);
        if (!var || !var->value) continue;
        if (raw)
            moat_buf_puts(out, var->value);
        else
            moat_portal_html_escape(out, var->value);
    }
    return 0;
}

int moat__tmpl_render(moat_buf *out, const char *tmpl, const moat__tvar *v, size_t nv,
                      const char **why)
{
    const char *dummy;
    return render(out, tmpl, tmpl + strlen(tmpl), v, nv, NULL, why ? why : &dummy);
}
