/* py.c - what the code rules share: tree-sitter node helpers, the imports of
 * a file (to resolve `sp.call` to `subprocess.call`), literal recognition,
 * the taint state of one function, and turning a node into a finding (with
 * the statement's lines checked for suppression comments and secrets masked
 * in the snippet). The rules themselves are in analyse.c. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/code/internal.h"
#include "audit/secrets/secrets.h"

bool moat__py_is(TSNode n, const char *type)
{
    if (ts_node_is_null(n)) return false;
    const char *t = ts_node_type(n);
    return t[0] == type[0] && strcmp(t, type) == 0;
}

/* ts_node_child_by_field_name looks the name up among the grammar's field
 * names with a string comparison each time; the rules pass string literals,
 * so a small per-thread cache keyed by the name's address does it once. */
TSNode moat__py_field(TSNode n, const char *name)
{
    static _Thread_local struct {
        const char *name;
        TSFieldId id;
    } cache[64];
    size_t slot = (size_t)(((uintptr_t)name ^ ((uintptr_t)name >> 6)) % 64);
    if (cache[slot].name != name) {
        cache[slot].id =
            ts_language_field_id_for_name(tree_sitter_python(), name, (uint32_t)strlen(name));
        cache[slot].name = name;
    }
    return cache[slot].id ? ts_node_child_by_field_id(n, cache[slot].id) : (TSNode){0};
}

const char *moat__py_text(const moat__py_ctx *c, TSNode n, size_t *len)
{
    uint32_t a = ts_node_start_byte(n), b = ts_node_end_byte(n);
    if (b > c->len) b = (uint32_t)c->len;
    if (a > b) a = b;
    *len = b - a;
    return c->src + a;
}

bool moat__py_text_is(const moat__py_ctx *c, TSNode n, const char *lit)
{
    if (ts_node_is_null(n)) return false;
    size_t len;
    const char *t = moat__py_text(c, n, &len);
    return len == strlen(lit) && memcmp(t, lit, len) == 0;
}

unsigned moat__py_line(TSNode n)
{
    return ts_node_start_point(n).row + 1;
}

static bool dotted_into(const moat__py_ctx *c, TSNode n, moat_buf *b, int depth)
{
    if (depth > 32) return false;
    if (moat__py_is(n, "identifier")) {
        size_t len;
        const char *t = moat__py_text(c, n, &len);
        moat_buf_append(b, t, len);
        return true;
    }
    if (moat__py_is(n, "attribute")) {
        if (!dotted_into(c, moat__py_field(n, "object"), b, depth + 1)) return false;
        TSNode a = moat__py_field(n, "attribute");
        if (ts_node_is_null(a)) return false;
        size_t len;
        const char *t = moat__py_text(c, a, &len);
        moat_buf_putc(b, '.');
        moat_buf_append(b, t, len);
        return true;
    }
    return false;
}

char *moat__py_dotted(const moat__py_ctx *c, TSNode n)
{
    moat_buf b;
    moat_buf_init(&b);
    if (ts_node_is_null(n) || !dotted_into(c, n, &b, 0)) {
        moat_buf_free(&b);
        return NULL;
    }
    return moat_buf_steal(&b);
}

char *moat__py_qualname(const moat__py_ctx *c, TSNode n)
{
    char *d = moat__py_dotted(c, n);
    if (!d) return NULL;
    size_t head = strcspn(d, ".");
    for (size_t i = c->nimp; i-- > 0;) {
        const moat__py_import *im = &c->imp[i];
        if (im->alias && strlen(im->alias) == head && memcmp(im->alias, d, head) == 0) {
            char *q = moat_xasprintf("%s%s", im->qual, d + head);
            free(d);
            return q;
        }
    }
    return d;
}

bool moat__py_imported_like(const moat__py_ctx *c, const char *sub)
{
    for (size_t i = 0; i < c->nimp; i++)
        if (strstr(c->imp[i].qual, sub)) return true;
    return false;
}

static void add_import(moat__py_ctx *c, char *alias, char *qual)
{
    if (c->nimp == c->capimp) {
        c->capimp = c->capimp ? 2 * c->capimp : 8;
        c->imp = moat_xrealloc(c->imp, c->capimp * sizeof(*c->imp));
    }
    c->imp[c->nimp++] = (moat__py_import){alias, qual};
}

static char *node_str(const moat__py_ctx *c, TSNode n)
{
    size_t len;
    const char *t = moat__py_text(c, n, &len);
    return moat_xstrndup(t, len);
}

/* Node types that hold statements: imports are looked for only in them.
 * A table by grammar symbol, built once (a string comparison per node and
 * type was a visible share of the whole audit). */
static unsigned char *holders; /* indexed by TSSymbol; lives as long as the process */
static uint32_t nholders;
static pthread_once_t holders_once = PTHREAD_ONCE_INIT;

static void holders_init(void)
{
    static const char *const types[] = {"module",
                                        "block",
                                        "if_statement",
                                        "elif_clause",
                                        "else_clause",
                                        "for_statement",
                                        "while_statement",
                                        "try_statement",
                                        "except_clause",
                                        "finally_clause",
                                        "with_statement",
                                        "function_definition",
                                        "class_definition",
                                        "decorated_definition",
                                        "match_statement",
                                        "case_clause",
                                        "ERROR"};
    const TSLanguage *lang = tree_sitter_python();
    nholders = ts_language_symbol_count(lang);
    holders = moat_xcalloc(nholders ? nholders : 1, 1);
    for (uint32_t sym = 0; sym < nholders; sym++) {
        const char *name = ts_language_symbol_name(lang, (TSSymbol)sym);
        if (!name) continue;
        for (size_t i = 0; i < MOAT_ARRAY_LEN(types); i++)
            if (!strcmp(name, types[i])) holders[sym] = 1;
    }
}

static bool holds_statements(TSNode n)
{
    pthread_once(&holders_once, holders_init);
    TSSymbol sym = ts_node_symbol(n);
    return sym == (TSSymbol)-1 /* ERROR */ || (sym < nholders && holders[sym]);
}

static void import_statement(moat__py_ctx *c, TSNode n)
{
    bool from = moat__py_is(n, "import_from_statement");
    TSNode mod = from ? moat__py_field(n, "module_name") : (TSNode){0};
    char *prefix = from && !ts_node_is_null(mod) ? node_str(c, mod) : NULL;
    if (prefix) add_import(c, NULL, moat_xstrdup(prefix));
    uint32_t cnt = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode ch = ts_node_named_child(n, i);
        if (from && ts_node_eq(ch, mod)) continue;
        TSNode name = ch, alias = {0};
        if (moat__py_is(ch, "aliased_import")) {
            name = moat__py_field(ch, "name");
            alias = moat__py_field(ch, "alias");
        } else if (!moat__py_is(ch, "dotted_name")) {
            continue;
        }
        if (ts_node_is_null(name)) continue;
        char *nm = node_str(c, name);
        bool dots = prefix && prefix[strspn(prefix, ".")] == '\0'; /* from . import db */
        char *qual =
            prefix ? moat_xasprintf("%s%s%s", prefix, dots ? "" : ".", nm) : moat_xstrdup(nm);
        if (!ts_node_is_null(alias))
            add_import(c, node_str(c, alias), qual);
        else if (prefix)
            add_import(c, moat_xstrdup(nm), qual);
        else
            add_import(c, NULL, qual);
        free(nm);
    }
    free(prefix);
}

/* Whether n's source text contains lit: a subtree without the word cannot
 * hold the construct a walk looks for, and one scan of its bytes is far
 * cheaper than visiting its nodes. */
bool moat__py_text_has(const moat__py_ctx *c, TSNode n, const char *lit)
{
    size_t len;
    const char *t = moat__py_text(c, n, &len);
    return memmem(t, len, lit, strlen(lit)) != NULL;
}

static void imports_in(moat__py_ctx *c, TSNode n, int depth)
{
    if (depth > MOAT__PY_MAX_DEPTH) return;
    moat__ts_kids k;
    moat__ts_kids_begin(&k, n);
    TSNode ch;
    while (moat__ts_kids_next(&k, &ch)) {
        if (moat__py_is(ch, "import_statement") || moat__py_is(ch, "import_from_statement"))
            import_statement(c, ch);
        else if (holds_statements(ch) && moat__py_text_has(c, ch, "import"))
            imports_in(c, ch, depth + 1); /* (an import statement says "import") */
    }
    moat__ts_kids_end(&k);
}

void moat__py_collect_imports(moat__py_ctx *c, TSNode n, int depth)
{
    imports_in(c, n, depth);
}

void moat__py_imports_free(moat__py_ctx *c)
{
    for (size_t i = 0; i < c->nimp; i++) {
        free(c->imp[i].alias);
        free(c->imp[i].qual);
    }
    free(c->imp);
    c->imp = NULL;
    c->nimp = c->capimp = 0;
}

static bool plain_string(TSNode n)
{
    if (!moat__py_is(n, "string")) return false;
    uint32_t cnt = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < cnt; i++)
        if (moat__py_is(ts_node_named_child(n, i), "interpolation")) return false;
    return true;
}

bool moat__py_is_str(TSNode n)
{
    if (moat__py_is(n, "concatenated_string")) {
        uint32_t cnt = ts_node_named_child_count(n);
        for (uint32_t i = 0; i < cnt; i++)
            if (!plain_string(ts_node_named_child(n, i))) return false;
        return cnt > 0;
    }
    return plain_string(n);
}

static void str_parts(const moat__py_ctx *c, TSNode n, moat_buf *b)
{
    uint32_t cnt = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode ch = ts_node_named_child(n, i);
        if (moat__py_is(ch, "string_content")) {
            size_t len;
            const char *t = moat__py_text(c, ch, &len);
            moat_buf_append(b, t, len);
        } else if (moat__py_is(ch, "string")) {
            str_parts(c, ch, b);
        } else if (moat__py_is(ch, "interpolation")) {
            moat_buf_puts(b, "{}");
        }
    }
}

char *moat__py_str_value(const moat__py_ctx *c, TSNode n)
{
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_puts(&b, "");
    str_parts(c, n, &b);
    return moat_buf_steal(&b);
}

bool moat__py_is_const(TSNode n, int depth)
{
    if (ts_node_is_null(n) || depth > 32) return false;
    const char *t = ts_node_type(n);
    if (!strcmp(t, "integer") || !strcmp(t, "float") || !strcmp(t, "true") || !strcmp(t, "false") ||
        !strcmp(t, "none"))
        return true;
    if (!strcmp(t, "string") || !strcmp(t, "concatenated_string")) return moat__py_is_str(n);
    if (!strcmp(t, "parenthesized_expression"))
        return moat__py_is_const(ts_node_named_child(n, 0), depth + 1);
    if (!strcmp(t, "binary_operator"))
        return moat__py_is_const(moat__py_field(n, "left"), depth + 1) &&
               moat__py_is_const(moat__py_field(n, "right"), depth + 1);
    return false;
}

/* ---- taint ---------------------------------------------------------------- */

moat__py_var *moat__py_var_get(moat__py_scope *s, const char *name, size_t n, bool create)
{
    for (size_t i = 0; i < s->len; i++)
        if (strlen(s->v[i].name) == n && memcmp(s->v[i].name, name, n) == 0) return &s->v[i];
    if (!create) return NULL;
    if (s->len == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->v = moat_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    moat__py_var *v = &s->v[s->len++];
    memset(v, 0, sizeof(*v));
    v->name = moat_xstrndup(name, n);
    return v;
}

void moat__py_steps_free(moat__py_steps *s)
{
    for (size_t i = 0; i < s->len; i++) {
        free(s->v[i].what);
        free(s->v[i].path);
    }
    s->len = 0;
}

void moat__py_scope_free(moat__py_scope *s)
{
    for (size_t i = 0; i < s->len; i++) {
        free(s->v[i].name);
        moat__py_steps_free(&s->v[i].steps);
    }
    free(s->v);
    memset(s, 0, sizeof(*s));
}

void moat__py_steps_copy(moat__py_steps *dst, const moat__py_steps *src)
{
    moat__py_steps_free(dst);
    for (size_t i = 0; i < src->len; i++)
        dst->v[i] = (moat_audit_step){src->v[i].line, moat_xstrdup(src->v[i].what),
                                      src->v[i].path ? moat_xstrdup(src->v[i].path) : NULL};
    dst->len = src->len;
}

void moat__py_steps_add(moat__py_steps *s, unsigned line, char *what)
{
    if (s->len == MOAT__PY_MAX_STEPS) {
        /* keep the source (first) and the latest steps */
        free(s->v[1].what);
        free(s->v[1].path);
        memmove(&s->v[1], &s->v[2], (MOAT__PY_MAX_STEPS - 2) * sizeof(s->v[0]));
        s->len--;
    }
    s->v[s->len++] = (moat_audit_step){line, what, NULL};
}

/* Attributes of a request object that carry what the client sent: Flask
 * (args, form, ...), Django (GET, POST, ...), Starlette/FastAPI. */
static const char *const source_attrs[] = {
    "args",         "form",      "json",     "values",   "cookies", "headers",      "data",
    "files",        "get_json",  "get_data", "stream",   "environ", "view_args",    "GET",
    "POST",         "COOKIES",   "META",     "body",     "FILES",   "query_params", "path_params",
    "query_string", "full_path", "url",      "path_info"};

/* The variable a request object was passed in as (a helper's parameter), or NULL. */
static moat__py_var *reqobj_var(const moat__py_ctx *c, TSNode obj)
{
    if (!c->scope || !c->scope->nreqobj || !moat__py_is(obj, "identifier")) return NULL;
    size_t len;
    const char *t = moat__py_text(c, obj, &len);
    moat__py_var *v = moat__py_var_get(c->scope, t, len, false);
    return v && v->reqobj ? v : NULL;
}

static bool is_source(const moat__py_ctx *c, TSNode n)
{
    if (!moat__py_is(n, "attribute")) return false;
    TSNode obj = moat__py_field(n, "object");
    bool req = moat__py_text_is(c, obj, "request") || moat__py_text_is(c, obj, "self.request") ||
               moat__py_text_is(c, obj, "flask.request") || reqobj_var(c, obj);
    if (!req) return false;
    TSNode a = moat__py_field(n, "attribute");
    for (size_t i = 0; i < MOAT_ARRAY_LEN(source_attrs); i++)
        if (moat__py_text_is(c, a, source_attrs[i])) return true;
    return false;
}

/* Calls whose result no longer carries the data in a dangerous form. */
static const char *const sanitizers[] = {
    "int",    "float",      "bool",      "len",          "escape",  "secure_filename",
    "quote",  "quote_plus", "url_for",   "reverse",      "abs",     "round",
    "hash",   "UUID",       "safe_join", "literal_eval", "isdigit", "isalnum",
    "count",  "startswith", "endswith",  "fullmatch",    "match",   "exists",
    "isfile", "isdir",      "type",      "isinstance",   "id",      "ord"};

static bool sanitizer(const moat__py_ctx *c, TSNode fn)
{
    TSNode name = moat__py_is(fn, "attribute") ? moat__py_field(fn, "attribute") : fn;
    if (!moat__py_is(name, "identifier")) return false;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(sanitizers); i++)
        if (moat__py_text_is(c, name, sanitizers[i])) return true;
    return false;
}

static char *clip(const moat__py_ctx *c, TSNode n)
{
    size_t len;
    const char *t = moat__py_text(c, n, &len);
    size_t nl = strcspn(t, "\n");
    if (nl < len) len = nl;
    if (len > 60) return moat_xasprintf("%.57s...", t);
    return moat_xstrndup(t, len);
}

static bool tainted(moat__py_ctx *c, TSNode n, moat__py_steps *steps, int depth);

/* Request data can only be in n if it names a request or a tainted variable
 * is in scope: one scan of n's text spares the walk of most expressions
 * (and of large literals). */
bool moat__py_reqobj(moat__py_ctx *c, TSNode n, moat__py_steps *steps)
{
    if (moat__py_text_is(c, n, "request") || moat__py_text_is(c, n, "self.request")) {
        /* the name, unless this function made it something else */
        size_t len;
        const char *t = moat__py_text(c, n, &len);
        moat__py_var *v = c->scope ? moat__py_var_get(c->scope, t, len, false) : NULL;
        if (v && !v->reqobj && v->nonconst) return false;
        if (v && v->reqobj) moat__py_steps_copy(steps, &v->steps);
        return true;
    }
    moat__py_var *v = reqobj_var(c, n);
    if (!v) return false;
    moat__py_steps_copy(steps, &v->steps);
    return true;
}

bool moat__py_tainted(moat__py_ctx *c, TSNode n, moat__py_steps *steps, int depth)
{
    if (ts_node_is_null(n)) return false;
    bool any = c->returns.len > 0 || (c->attrs && c->attrs->len) || (c->scope && c->scope->nreqobj);
    for (size_t i = 0; c->scope && i < c->scope->len && !any; i++)
        any = c->scope->v[i].tainted;
    if (!any) {
        size_t len;
        const char *t = moat__py_text(c, n, &len);
        if (!memmem(t, len, "request", 7)) return false;
    }
    return tainted(c, n, steps, depth);
}

static bool tainted_children(moat__py_ctx *c, TSNode n, moat__py_steps *steps, int depth)
{
    moat__ts_kids k;
    moat__ts_kids_begin(&k, n);
    TSNode ch;
    bool hit = false;
    while (!hit && moat__ts_kids_next(&k, &ch))
        hit = tainted(c, ch, steps, depth + 1);
    moat__ts_kids_end(&k);
    return hit;
}

static bool tainted(moat__py_ctx *c, TSNode n, moat__py_steps *steps, int depth)
{
    if (ts_node_is_null(n) || depth > 48) return false;
    const char *t = ts_node_type(n);
    if (!strcmp(t, "identifier")) {
        size_t len;
        const char *name = moat__py_text(c, n, &len);
        moat__py_var *v = c->scope ? moat__py_var_get(c->scope, name, len, false) : NULL;
        if (!v || !v->tainted) return false;
        moat__py_steps_copy(steps, &v->steps);
        return true;
    }
    if (!strcmp(t, "attribute")) {
        if (is_source(c, n)) {
            moat__py_var *rv = reqobj_var(c, moat__py_field(n, "object"));
            moat__py_steps_free(steps);
            if (rv) moat__py_steps_copy(steps, &rv->steps); /* came in as a parameter */
            char *what = clip(c, n);
            moat__py_steps_add(steps, moat__py_line(n), moat_xasprintf("request data: %s", what));
            free(what);
            return true;
        }
        /* obj.x = request data earlier in the function; self.x anywhere in the class */
        size_t len;
        const char *name = moat__py_text(c, n, &len);
        if (len <= 128 && !memchr(name, '(', len) && !memchr(name, '[', len)) {
            moat__py_var *v = c->scope ? moat__py_var_get(c->scope, name, len, false) : NULL;
            if ((!v || !v->tainted) && c->attrs && len > 5 && !memcmp(name, "self.", 5))
                v = moat__py_var_get(c->attrs, name, len, false);
            if (v && v->tainted) {
                moat__py_steps_copy(steps, &v->steps);
                return true;
            }
        }
        return tainted(c, moat__py_field(n, "object"), steps, depth + 1);
    }
    if (!strcmp(t, "subscript")) return tainted(c, moat__py_field(n, "value"), steps, depth + 1);
    if (!strcmp(t, "call")) {
        TSNode fn = moat__py_field(n, "function");
        if (sanitizer(c, fn)) return false;
        if (moat__py_call_returns(c, n, steps, depth)) return true;
        if (moat__py_is(fn, "identifier") && c->returns.len) {
            size_t len;
            const char *name = moat__py_text(c, fn, &len);
            moat__py_var *v = moat__py_var_get(&c->returns, name, len, false);
            if (v) {
                moat__py_steps_copy(steps, &v->steps);
                moat__py_steps_add(steps, moat__py_line(n),
                                   moat_xasprintf("returned by %.*s()", (int)len, name));
                return true;
            }
        }
        if (moat__py_is(fn, "attribute") && tainted(c, fn, steps, depth + 1)) return true;
        return tainted(c, moat__py_field(n, "arguments"), steps, depth + 1);
    }
    if (!strcmp(t, "comparison_operator") || !strcmp(t, "not_operator") || !strcmp(t, "lambda") ||
        !strcmp(t, "integer") || !strcmp(t, "float") || !strcmp(t, "string_content") ||
        !strcmp(t, "comment"))
        return false;
    if (!strcmp(t, "keyword_argument"))
        return tainted(c, moat__py_field(n, "value"), steps, depth + 1);
    if (!strcmp(t, "conditional_expression")) {
        /* a if cond else b: the condition does not flow into the value */
        uint32_t cnt = ts_node_named_child_count(n);
        for (uint32_t i = 0; i < cnt; i++)
            if (i != 1 && tainted(c, ts_node_named_child(n, i), steps, depth + 1)) return true;
        return false;
    }
    return tainted_children(c, n, steps, depth);
}

/* ---- findings --------------------------------------------------------------- */

bool moat__py_skipped(const moat__py_ctx *c, const char *rule)
{
    for (size_t i = 0; c->o && i < c->o->nskip; i++)
        if (strcmp(c->o->skip[i], rule) == 0) return true;
    return false;
}

static const char *const simple_stmts[] = {
    "expression_statement", "return_statement", "assert_statement",      "delete_statement",
    "raise_statement",      "import_statement", "import_from_statement", "global_statement",
    "nonlocal_statement",   "print_statement",  "exec_statement",        "decorator",
    "type_alias_statement"};

/* The lines a suppression comment may be on: the whole simple statement the
 * node is in, or from a compound statement's first line to the node. */
static void stmt_range(const moat__py_ctx *c, TSNode at, unsigned *first, unsigned *last)
{
    *first = moat__py_line(at);
    *last = ts_node_end_point(at).row + 1;
    for (size_t i = c->depth; i-- > 0;) {
        TSNode s = c->stack[i];
        const char *t = ts_node_type(s);
        for (size_t k = 0; k < MOAT_ARRAY_LEN(simple_stmts); k++)
            if (!strcmp(t, simple_stmts[k])) {
                *first = moat__py_line(s);
                unsigned e = ts_node_end_point(s).row + 1;
                if (e > *last) *last = e;
                return;
            }
        if (strstr(t, "_statement") || strstr(t, "_definition") || strstr(t, "_clause") ||
            !strcmp(t, "block") || !strcmp(t, "module")) {
            if (strcmp(t, "block") != 0 && strcmp(t, "module") != 0) *first = moat__py_line(s);
            return;
        }
    }
}

/* The line of src holding byte offset at: [*start, *end). */
static void line_bounds(const char *src, size_t len, size_t at, size_t *start, size_t *end)
{
    if (at > len) at = len;
    size_t a = at;
    while (a > 0 && src[a - 1] != '\n')
        a--;
    size_t b = at;
    while (b < len && src[b] != '\n')
        b++;
    *start = a;
    *end = b;
}

#define SNIPPET_MAX 400

/* The whole line (cut only after masking: a cut secret is not recognised). */
static char *snippet_at(const char *src, size_t len, size_t at, size_t *line_start)
{
    size_t a, b;
    line_bounds(src, len, at, &a, &b);
    if (b > a && src[b - 1] == '\r') b--;
    *line_start = a;
    return moat_xstrndup(src + a, b - a);
}

static void cut_snippet(char *snippet)
{
    if (strlen(snippet) > SNIPPET_MAX) snippet[SNIPPET_MAX] = '\0';
}

void moat__audit_line_finding(moat_audit_findings *out, const moat_audit_rule *r, const char *kind,
                              const char *path, const char *src, size_t len, size_t at,
                              moat_audit_level sev, moat_audit_level conf, const char *msg)
{
    moat_audit_finding *f = moat_audit_findings_push(out);
    f->rule = moat_xstrdup(r->id);
    f->kind = moat_xstrdup(kind);
    f->severity = sev ? sev : r->severity;
    f->confidence = conf ? conf : r->confidence;
    f->cwe = r->cwe;
    f->path = moat_xstrdup(path);
    unsigned line = 1;
    for (size_t i = 0; i < at && i < len; i++)
        if (src[i] == '\n') line++;
    size_t ls;
    f->snippet = len ? snippet_at(src, len, at, &ls) : NULL;
    if (!len) ls = 0;
    if (f->snippet) {
        moat_secrets_mask(moat_secrets_shared(), path, f->snippet);
        cut_snippet(f->snippet);
    }
    f->line = f->end_line = line;
    f->col = (unsigned)(at - ls) + 1;
    f->message = moat_xstrdup(msg ? msg : r->message);
}

void moat__py_note(moat__py_ctx *c, TSNode at, char *text)
{
    moat_audit_file_result *r = c->res;
    r->notes = moat_xrealloc(r->notes, (r->nnotes + 1) * sizeof(*r->notes));
    r->notes[r->nnotes++] = moat_xasprintf("%s:%u: %s", c->path, moat__py_line(at), text);
    free(text);
}

void moat_audit_file_result_free(moat_audit_file_result *res)
{
    free(res->error);
    for (size_t i = 0; i < res->nnotes; i++)
        free(res->notes[i]);
    free(res->notes);
    memset(res, 0, sizeof(*res));
}

void moat__py_report(moat__py_ctx *c, moat_code_rule rule, TSNode at, moat_audit_level sev,
                     moat_audit_level conf, const char *msg, const moat__py_steps *steps,
                     const char *sink, TSNode mask)
{
    MOAT_BUG_ON(rule >= MOAT_CODE__COUNT);
    if (!moat__py_enabled(c, rule)) return;
    moat__py_report_rule(c, &moat_audit_code_rules[rule], "code", at, sev, conf, msg, steps, sink,
                         mask);
}

void moat__py_report_rule(moat__py_ctx *c, const moat_audit_rule *r, const char *kind, TSNode at,
                          moat_audit_level sev, moat_audit_level conf, const char *msg,
                          const moat__py_steps *steps, const char *sink, TSNode mask)
{
    if (!ts_node_is_null(mask)) {
        /* Recorded before any skip or suppression: another finding on the
         * same line must not print what this one would have hidden. */
        size_t a = ts_node_start_byte(mask), b = ts_node_end_byte(mask);
        while (a < b && c->src[a] != '"' && c->src[a] != '\'')
            a++; /* r, b, u prefixes */
        if (c->nmasks == c->capmasks) {
            c->capmasks = c->capmasks ? c->capmasks * 2 : 8;
            c->masks = moat_xrealloc(c->masks, c->capmasks * sizeof(*c->masks));
        }
        c->masks[c->nmasks][0] = a;
        c->masks[c->nmasks][1] = b;
        c->nmasks++;
    }
    if (moat__py_skipped(c, r->id)) return;
    unsigned first, last;
    stmt_range(c, at, &first, &last);
    if (moat__py_suppressed(c, first, last, r->id, kind)) {
        c->res->suppressed++;
        return;
    }
    moat_audit_finding *f = moat_audit_findings_push(c->out);
    f->rule = moat_xstrdup(r->id);
    f->kind = moat_xstrdup(kind);
    f->severity = sev ? sev : r->severity;
    f->confidence = conf ? conf : r->confidence;
    f->cwe = r->cwe;
    f->path = moat_xstrdup(c->path);
    TSPoint p = ts_node_start_point(at);
    f->line = p.row + 1;
    f->col = p.column + 1;
    f->end_line = ts_node_end_point(at).row + 1;
    f->message = moat_xstrdup(msg ? msg : r->message);
    size_t ls;
    f->snippet = snippet_at(c->src, c->len, ts_node_start_byte(at), &ls);
    if (steps && steps->len) {
        size_t n = steps->len + (sink ? 1 : 0);
        f->steps = moat_xcalloc(n, sizeof(*f->steps));
        for (size_t i = 0; i < steps->len; i++)
            f->steps[i] =
                (moat_audit_step){steps->v[i].line, moat_xstrdup(steps->v[i].what),
                                  steps->v[i].path ? moat_xstrdup(steps->v[i].path) : NULL};
        if (sink)
            f->steps[steps->len] =
                (moat_audit_step){f->line, moat_xasprintf("reaches %s", sink), NULL};
        f->nsteps = n;
    }
}

static int by_start(const void *a, const void *b)
{
    const size_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

void moat__py_finish_snippets(moat__py_ctx *c)
{
    size_t *starts = NULL, nlines = 0, maxmask = 0;
    if (c->out->len > c->first_finding) {
        /* line starts, once: the snippet is line f->line of src, whole */
        nlines = 1;
        for (size_t i = 0; i < c->len; i++)
            nlines += c->src[i] == '\n';
        starts = moat_xmalloc(nlines * sizeof(*starts));
        size_t l = 0;
        starts[l++] = 0;
        for (size_t i = 0; i < c->len; i++)
            if (c->src[i] == '\n') starts[l++] = i + 1;
        if (c->nmasks > 1) qsort(c->masks, c->nmasks, sizeof(*c->masks), by_start);
        for (size_t m = 0; m < c->nmasks; m++)
            if (c->masks[m][1] - c->masks[m][0] > maxmask)
                maxmask = c->masks[m][1] - c->masks[m][0];
    }
    for (size_t i = c->first_finding; i < c->out->len; i++) {
        moat_audit_finding *f = &c->out->v[i];
        if (!f->snippet) continue;
        size_t ls = f->line >= 1 && f->line <= nlines ? starts[f->line - 1] : 0;
        size_t sl = strlen(f->snippet);
        size_t from = ls > maxmask ? ls - maxmask : 0, lo = 0, hi = c->nmasks;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (c->masks[mid][0] < from)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t m = lo; m < c->nmasks && c->masks[m][0] < ls + sl; m++)
            for (size_t k = c->masks[m][0]; k < c->masks[m][1]; k++) {
                if (k < ls || k - ls >= sl) continue;
                char ch = f->snippet[k - ls];
                if (ch != '"' && ch != '\'' && ch != '\n') f->snippet[k - ls] = '*';
            }
        moat_secrets_mask(moat_secrets_shared(), c->path, f->snippet);
        cut_snippet(f->snippet);
    }
    free(starts);
    moat_audit_findings_merge(c->out, c->first_finding);
    free(c->comments);
    c->comments = NULL;
    free(c->masks);
    c->masks = NULL;
    c->nmasks = c->capmasks = 0;
}

bool moat__py_suppressed(moat__py_ctx *c, unsigned first, unsigned last, const char *id,
                         const char *kind)
{
    if (!c->comments) c->comments = moat_audit_py_comments(c->src, c->len, &c->ncomments);
    return moat_audit_suppressed_py(c->src, c->len, c->comments, c->ncomments, first, last, id,
                                    kind);
}
