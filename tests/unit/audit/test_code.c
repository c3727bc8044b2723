/* test_code.c - unit tests of src/audit/code and src/audit/settings through
 * their public headers: rules on small sources, the taint path, suppression
 * over a multi-line statement, files that do not parse, templates, .env
 * files, and the tree walker's excludes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/code/code.h"
#include "audit/code/tskids.h"
#include "audit/settings/settings.h"
#include "../test_helpers.h"

const TSLanguage *tree_sitter_python(void);

static const moat_audit_code_opts code_opts = {.code = true};

static moat_audit_findings run(const char *src, moat_audit_file_result *res)
{
    moat_audit_findings f = {0};
    moat_audit_code_python("t.py", src, strlen(src), &code_opts, &f, res);
    return f;
}

static const moat_audit_finding *find(const moat_audit_findings *f, const char *rule, unsigned line)
{
    for (size_t i = 0; i < f->len; i++)
        if (!strcmp(f->v[i].rule, rule) && f->v[i].line == line) return &f->v[i];
    return NULL;
}

static void test_rules_and_imports(void **state)
{
    (void)state;
    const char *src = "import subprocess as sp\n"
                      "from os import system\n"
                      "import hashlib\n"
                      "sp.call(cmd, shell=True)\n"
                      "system('ls')\n"
                      "hashlib.md5(b'x', usedforsecurity=False)\n"
                      "obj.system('ls')\n";
    moat_audit_file_result res;
    moat_audit_findings f = run(src, &res);
    assert_null(res.error);
    assert_non_null(find(&f, "B602", 4));
    assert_int_equal(find(&f, "B602", 4)->confidence, MOAT_AUDIT_MEDIUM);
    const moat_audit_finding *b605 = find(&f, "B605", 5);
    assert_non_null(b605);
    assert_int_equal(b605->severity, MOAT_AUDIT_LOW); /* a literal command */
    assert_null(find(&f, "B303", 6));
    assert_null(find(&f, "B605", 7));     /* not os.system */
    assert_non_null(find(&f, "B404", 1)); /* import subprocess */
    assert_int_equal(f.len, 4);           /* B404, B602, B605, B607 (ls) */
    moat_audit_file_result_free(&res);
    moat_audit_findings_free(&f);
}

static void test_taint_path(void **state)
{
    (void)state;
    const char *src = "from flask import request\n"
                      "def view(db):\n"
                      "    a = request.args['q']\n"
                      "    b = 'x' + a.strip()\n"
                      "    c = int(a)\n"
                      "    db.execute(b)\n"
                      "    db.execute(c)\n"
                      "def other(db, a):\n"
                      "    db.execute(a)\n";
    moat_audit_file_result res;
    moat_audit_findings f = run(src, &res);
    const moat_audit_finding *x = find(&f, "MOAT-C110", 6);
    assert_non_null(x);
    assert_int_equal(x->nsteps, 4);
    assert_int_equal(x->steps[0].line, 3);
    assert_non_null(strstr(x->steps[0].what, "request.args"));
    assert_string_equal(x->steps[2].what, "assigned to b");
    assert_int_equal(x->steps[3].line, 6);
    assert_null(find(&f, "MOAT-C110", 7)); /* int() sanitises */
    assert_null(find(&f, "MOAT-C110", 9)); /* another function: not tainted */
    moat_audit_file_result_free(&res);
    moat_audit_findings_free(&f);
}

static void test_suppression_multiline_and_errors(void **state)
{
    (void)state;
    const char *src = "import subprocess\n"
                      "subprocess.call(\n"
                      "    cmd,\n"
                      "    shell=True,  # nosec B602\n"
                      ")\n"
                      "def broken(:\n"
                      "    pass\n"
                      "subprocess.call(cmd, shell=True)\n";
    moat_audit_file_result res;
    moat_audit_findings f = run(src, &res);
    assert_int_equal(res.suppressed, 1);
    assert_null(find(&f, "B602", 2));
    assert_non_null(find(&f, "B602", 8)); /* after the syntax error: still analysed */
    assert_non_null(res.error);
    assert_non_null(strstr(res.error, "t.py:6:"));
    moat_audit_file_result_free(&res);
    moat_audit_findings_free(&f);
}

static void test_templates_and_env(void **state)
{
    (void)state;
    assert_true(moat_audit_code_is_template("a/b/page.html"));
    assert_false(moat_audit_code_is_template("a/b/page.py"));
    const char *t = "<p>{{ x|safe }}</p>\n{{ '|safe' }}\n{% autoescape off %}{% endautoescape %}\n";
    moat_audit_findings f = {0};
    moat_audit_file_result res;
    moat_audit_code_template("p.html", t, strlen(t), &code_opts, &f, &res);
    assert_int_equal(f.len, 2);
    assert_non_null(find(&f, "MOAT-C102", 1));
    assert_non_null(find(&f, "MOAT-C103", 3));
    moat_audit_findings_free(&f);

    assert_true(moat_audit_settings_is_env("x/.env"));
    assert_true(moat_audit_settings_is_env("x/.env.production"));
    assert_false(moat_audit_settings_is_env("x/env.py"));
    const char *e = "export DEBUG=True\nSECRET_KEY='tiny'\nDEBUG_TOOLBAR=1\n";
    moat_audit_settings_env(".env", e, strlen(e), &code_opts, &f, &res);
    assert_int_equal(f.len, 2);
    assert_non_null(find(&f, "security.W018", 1));
    const moat_audit_finding *k = find(&f, "security.W009", 2);
    assert_non_null(k);
    assert_null(strstr(k->snippet, "tiny"));
    moat_audit_findings_free(&f);
}

static void test_settings_not_checkable(void **state)
{
    (void)state;
    const moat_audit_code_opts o = {.settings = true};
    const char *src = "import os\nINSTALLED_APPS = []\nDEBUG = os.getenv('D') == '1'\n"
                      "SECRET_KEY = os.environ['K']\nSESSION_COOKIE_SECURE = True\n"
                      "CSRF_COOKIE_SECURE = True\nSECURE_SSL_REDIRECT = True\n"
                      "SECURE_HSTS_SECONDS = 3600\nSECURE_HSTS_INCLUDE_SUBDOMAINS = True\n"
                      "SECURE_HSTS_PRELOAD = True\n";
    moat_audit_findings f = {0};
    moat_audit_file_result res;
    moat_audit_code_python("settings.py", src, strlen(src), &o, &f, &res);
    assert_int_equal(f.len, 0);
    /* DEBUG folds to False with D unset (None == '1'): checked, no note */
    assert_int_equal(res.nnotes, 1);
    assert_non_null(strstr(res.notes[0], "settings.py:4: SECRET_KEY comes from the environment"));
    moat_audit_file_result_free(&res);
    moat_audit_findings_free(&f);

    /* the default decides: True with D unset is reported on the default */
    const char *src2 = "import os\nINSTALLED_APPS = []\nDEBUG = os.getenv('D', '1') == '1'\n";
    moat_audit_code_python("settings.py", src2, strlen(src2), &o, &f, &res);
    const moat_audit_finding *d = find(&f, "security.W018", 3);
    assert_non_null(d);
    assert_string_equal(d->message, "DEBUG is True when D is not set (the default in the code).");
    moat_audit_file_result_free(&res);
    moat_audit_findings_free(&f);
}

static int count_file(void *arg, const char *path, const char *rel)
{
    (void)path;
    moat_buf *b = arg;
    moat_buf_printf(b, "%s;", rel);
    return 0;
}

static void touch(const char *dir, const char *name)
{
    char *p = moat_xasprintf("%s/%s", dir, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fclose(fp);
    free(p);
}

static void test_walk(void **state)
{
    (void)state;
    char root[] = "/tmp/moat-walk-XXXXXX";
    assert_non_null(mkdtemp(root));
    char *sub = moat_xasprintf("%s/app", root), *venv = moat_xasprintf("%s/venv", root),
         *mig = moat_xasprintf("%s/app/migrations", root);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(venv, 0700), 0);
    assert_int_equal(mkdir(mig, 0700), 0);
    touch(sub, "b.py");
    touch(sub, "a.py");
    touch(venv, "pyvenv.cfg");
    touch(venv, "x.py");
    touch(mig, "0001.py");
    touch(root, "top.py");
    char *lnk = moat_xasprintf("%s/loop", sub);
    assert_int_equal(symlink(root, lnk), 0);
    const char *const excl[] = {"migrations", "app/b.*"};
    moat_buf b;
    moat_buf_init(&b);
    char *err = NULL;
    assert_int_equal(moat_audit_walk(root, excl, 2, count_file, &b, &err), 0);
    assert_string_equal(b.data, "app/a.py;top.py;");
    moat_buf_free(&b);
    assert_true(moat_audit_walk("/nonexistent/moat", NULL, 0, count_file, &b, &err) < 0);
    assert_non_null(strstr(err, "/nonexistent/moat"));
    free(err);
    moat_test_rmtree(root);
    free(lnk);
    free(sub);
    free(venv);
    free(mig);
}

/* The walk's child iterator (tskids.h) gives, under every node, the named
 * children a tree cursor finds, in the same order: hidden grammar nodes
 * looked through (a long module's statement list is a hidden repetition
 * tree deeper than the iterator's inline stack), aliases, comments between
 * arguments, f-string fields, and nodes of a syntax error. */
static size_t kids_match(TSNode n, size_t *deepest)
{
    TSNode *want = NULL;
    size_t nwant = 0, cap = 0, checked = 1;
    TSTreeCursor cur = ts_tree_cursor_new(n);
    if (ts_tree_cursor_goto_first_child(&cur)) {
        do {
            TSNode ch = ts_tree_cursor_current_node(&cur);
            if (!ts_node_is_named(ch)) continue;
            if (nwant == cap) {
                cap = cap ? 2 * cap : 16;
                want = moat_xrealloc(want, cap * sizeof(*want));
            }
            want[nwant++] = ch;
        } while (ts_tree_cursor_goto_next_sibling(&cur));
    }
    ts_tree_cursor_delete(&cur);
    moat__ts_kids k;
    moat__ts_kids_begin(&k, n);
    TSNode got;
    size_t i = 0;
    while (moat__ts_kids_next(&k, &got)) {
        if (k.cap > *deepest) *deepest = k.cap;
        assert_true(i < nwant);
        assert_true(ts_node_eq(got, want[i]));
        assert_int_equal(ts_node_start_byte(got), ts_node_start_byte(want[i]));
        assert_string_equal(ts_node_type(got), ts_node_type(want[i]));
        i++;
    }
    moat__ts_kids_end(&k);
    assert_int_equal(i, nwant);
    for (size_t j = 0; j < nwant; j++)
        checked += kids_match(want[j], deepest);
    free(want);
    return checked;
}

static void test_child_iterator(void **state)
{
    (void)state;
    const char *small = "import os, sys as system\n"
                        "from . import db\n"
                        "@app.route('/x/<int:id>', methods=['GET'])\n"
                        "def f(a, /, b: int = 2, *args, c, **kw) -> str:\n"
                        "    '''doc'''\n"
                        "    x = f\"{a!r:>{b}} and {request.args['q']}\" 'plain' b'raw'\n"
                        "    g(1,  # a comment between arguments\n"
                        "      k=[i for i in range(3) if i], *a, **kw)\n"
                        "    match x:\n"
                        "        case [1, *rest] | {'k': _} if rest: pass\n"
                        "    try:\n"
                        "        y = lambda q=1: q ** -2\n"
                        "    except* (ValueError, TypeError) as e: raise\n"
                        "    return not a and b or c\n"
                        "class C(B, metaclass=M):\n"
                        "    async def m(self): await self.x[1:2, ::3]\n"
                        "print >> sys.stderr, 'py2'\n"
                        "def broken(:\n"
                        "    x = = 1\n";
    moat_buf big;
    moat_buf_init(&big);
    for (int i = 0; i < 70000; i++)
        moat_buf_puts(&big, "x = 1\n");
    const char *srcs[] = {small, big.data};
    size_t lens[] = {strlen(small), big.len}, deepest = 0;
    for (size_t s = 0; s < 2; s++) {
        TSParser *p = ts_parser_new();
        assert_true(ts_parser_set_language(p, tree_sitter_python()));
        TSTree *t = ts_parser_parse_string(p, NULL, srcs[s], (uint32_t)lens[s]);
        assert_non_null(t);
        size_t n = kids_match(ts_tree_root_node(t), &deepest);
        assert_true(n > (s ? 70000u : 100u));
        ts_tree_delete(t);
        ts_parser_delete(p);
    }
    assert_true(deepest > MOAT__TS_KIDS_INLINE); /* the heap part was used */
    moat_buf_free(&big);
}

/* Every node of two trees alike: kind, extent (bytes and points), the
 * parse state it was made in, missing/extra/error marks, its children. */
static size_t trees_match(TSNode a, TSNode b)
{
    TSTreeCursor ca = ts_tree_cursor_new(a), cb = ts_tree_cursor_new(b);
    size_t n = 0;
    for (;;) {
        TSNode x = ts_tree_cursor_current_node(&ca), y = ts_tree_cursor_current_node(&cb);
        n++;
        assert_int_equal(ts_node_symbol(x), ts_node_symbol(y));
        assert_int_equal(ts_node_start_byte(x), ts_node_start_byte(y));
        assert_int_equal(ts_node_end_byte(x), ts_node_end_byte(y));
        assert_int_equal(ts_node_start_point(x).row, ts_node_start_point(y).row);
        assert_int_equal(ts_node_start_point(x).column, ts_node_start_point(y).column);
        assert_int_equal(ts_node_end_point(x).row, ts_node_end_point(y).row);
        assert_int_equal(ts_node_end_point(x).column, ts_node_end_point(y).column);
        assert_int_equal(ts_node_parse_state(x), ts_node_parse_state(y));
        assert_int_equal(ts_node_is_missing(x), ts_node_is_missing(y));
        assert_int_equal(ts_node_is_extra(x), ts_node_is_extra(y));
        assert_int_equal(ts_node_has_error(x), ts_node_has_error(y));
        assert_int_equal(ts_node_child_count(x), ts_node_child_count(y));
        if (ts_tree_cursor_goto_first_child(&ca)) {
            assert_true(ts_tree_cursor_goto_first_child(&cb));
            continue;
        }
        bool done = false;
        while (!ts_tree_cursor_goto_next_sibling(&ca)) {
            if (!ts_tree_cursor_goto_parent(&ca)) {
                done = true;
                break;
            }
            assert_true(ts_tree_cursor_goto_parent(&cb));
        }
        if (done) break;
        assert_true(ts_tree_cursor_goto_next_sibling(&cb));
    }
    ts_tree_cursor_delete(&ca);
    ts_tree_cursor_delete(&cb);
    return n;
}

/* The auditor's parse (moat__ts_python_parse: the grammar with its whole
 * parse table, the scanner's needless restores left out, the lexer's ASCII
 * step) gives the tree the runtime's own parse of the grammar gives, on
 * text that takes every other path: non-ASCII, invalid UTF-8, NUL bytes,
 * CR LF, tabs, form feeds, a byte order mark, nested f-strings and string
 * prefixes, line continuations, dedents past comments, syntax errors. */
static void test_fast_parse_same_tree(void **state)
{
    (void)state;
    static const char nul[] = "x = 1\0y = 2\n\0z";
    static const char *const srcs[] = {
        "",
        "\xef\xbb\xbfimport os\r\nx = os.system('ls')\r\n",
        "def f(\xc3\xa9t\xc3\xa9, \xe4\xb8\xad=1):\n\treturn '\xf0\x9f\x98\x80' + "
        "\"\xe2\x80\x8f\"\n",
        "s = '\xff\xfe bad \xc3'\nt = b'\\x00'\n# \xc3\x28 in a comment\n",
        nul,
        "a = f'{x!r:>{w}} {f\"{y}\"}' rb'\\d' Rb\"\\'\" u'u' F'''{z}\n''' BR'''\\'''\n",
        "if a:\n    if b:\n        pass\n  # a comment at another indent\n# and at none\n"
        "\n    \n\tc = 1\nd = \\\n  2\n",
        "class C:\r\n    def m(self):\r\n\r\n        return [\r\n            1,\r\n        ]\r\n"
        "\f\nx = {'k': (lambda: (yield))}\n",
        "def broken(:\n    x = = 1\n  y = ]\nwhile True print(1)\n\"unterminated\n'''\n",
        "try:\n    pass\nexcept* E as e:\n    raise\nmatch p:\n    case {'k': [1, *r]}: pass\n",
    };
    const TSLanguage *lang = tree_sitter_python();
    size_t nodes = 0;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(srcs); i++) {
        uint32_t len = srcs[i] == nul ? (uint32_t)sizeof(nul) - 1 : (uint32_t)strlen(srcs[i]);
        TSParser *p = ts_parser_new();
        assert_true(ts_parser_set_language(p, lang));
        TSTree *a = ts_parser_parse_string(p, NULL, srcs[i], len);
        TSTree *b = moat__ts_python_parse(srcs[i], len);
        assert_non_null(a);
        assert_non_null(b);
        nodes += trees_match(ts_tree_root_node(a), ts_tree_root_node(b));
        ts_tree_delete(a);
        ts_tree_delete(b);
        ts_parser_delete(p);
    }
    assert_true(nodes > 200); /* 280: every source was compared node by node */
    /* the whole table: the same value for every state and grammar symbol */
    assert_true(moat__ts_python_table_same());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_and_imports),
        cmocka_unit_test(test_taint_path),
        cmocka_unit_test(test_suppression_multiline_and_errors),
        cmocka_unit_test(test_templates_and_env),
        cmocka_unit_test(test_settings_not_checkable),
        cmocka_unit_test(test_walk),
        cmocka_unit_test(test_child_iterator),
        cmocka_unit_test(test_fast_parse_same_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
