/* analyse.c - the Python rules: one walk over the tree-sitter tree of a file,
 * in source order, with the taint state of the current function updated at
 * each assignment so that a sink sees what flowed into it before. Bandit's
 * checks keep Bandit's ids and trigger conditions (docs/audit-code.md lists
 * where moat differs on purpose). Parsing errors do not stop the walk: what
 * tree-sitter recovered is analysed and the file is reported. */
#include <ctype.h>
#include <fnmatch.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/code/internal.h"

#define L MOAT_AUDIT_LOW
#define M MOAT_AUDIT_MEDIUM
#define H MOAT_AUDIT_HIGH

#define IS moat__py_is
#define FIELD moat__py_field
#define TEXT_IS moat__py_text_is

static const TSNode NONE = {0};

/* ---- patterns ------------------------------------------------------------
 * Compiled once, on first use. */
static regex_t password_re, sql_re;
static pthread_once_t regex_once = PTHREAD_ONCE_INIT;

static void regex_compile(void)
{
    /* Bandit's RE_CANDIDATES and SIMPLE_SQL_RE. */
#define W "(pas+wo?r?d|pass(phrase)?|pwd|token|secrete?)"
    MOAT_BUG_ON(regcomp(&password_re, "(^" W "$|_" W "_|^" W "_|_" W "$)",
                        REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0);
#undef W
    MOAT_BUG_ON(regcomp(&sql_re,
                        "(select[[:space:]].*from[[:space:]]|delete[[:space:]]+from[[:space:]]|"
                        "insert[[:space:]]+into[[:space:]].*values|update[[:space:]].*"
                        "set[[:space:]])",
                        REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0);
}

/* Files may be analysed on several threads at once. */
static void regex_init(void)
{
    pthread_once(&regex_once, regex_compile);
}

static bool password_name(const moat__py_ctx *c, TSNode n)
{
    if (ts_node_is_null(n)) return false;
    size_t len;
    const char *t = moat__py_text(c, n, &len);
    char *s = moat_xstrndup(t, len);
    bool m = regexec(&password_re, s, 0, NULL, 0) == 0;
    free(s);
    return m;
}

/* ---- calls ---------------------------------------------------------------- */

typedef struct kwarg {
    TSNode name, value;
} kwarg;

typedef struct callinfo {
    TSNode node, func;
    char *qual;  /* owned; NULL when the callee is not a dotted name */
    TSNode name; /* the last identifier of the callee, or null */
    TSNode pos[8];
    size_t npos;
    kwarg kw[24];
    size_t nkw;
} callinfo;

static void call_init(moat__py_ctx *c, TSNode n, callinfo *ci)
{
    memset(ci, 0, sizeof(*ci));
    ci->node = n;
    ci->func = FIELD(n, "function");
    ci->qual = moat__py_qualname(c, ci->func);
    if (IS(ci->func, "identifier"))
        ci->name = ci->func;
    else if (IS(ci->func, "attribute"))
        ci->name = FIELD(ci->func, "attribute");
    TSNode args = FIELD(n, "arguments");
    if (!IS(args, "argument_list")) return;
    uint32_t cnt = ts_node_named_child_count(args);
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode a = ts_node_named_child(args, i);
        if (IS(a, "comment")) continue;
        if (IS(a, "keyword_argument")) {
            if (ci->nkw < MOAT_ARRAY_LEN(ci->kw))
                ci->kw[ci->nkw++] = (kwarg){FIELD(a, "name"), FIELD(a, "value")};
        } else if (!IS(a, "dictionary_splat")) { /* f(*args) counts, as for Bandit */
            if (ci->npos < MOAT_ARRAY_LEN(ci->pos)) ci->pos[ci->npos++] = a;
        }
    }
}

static TSNode kw_get(const moat__py_ctx *c, const callinfo *ci, const char *name)
{
    for (size_t i = 0; i < ci->nkw; i++)
        if (TEXT_IS(c, ci->kw[i].name, name)) return ci->kw[i].value;
    return NONE;
}

static bool name_is(const moat__py_ctx *c, const callinfo *ci, const char *name)
{
    return !ts_node_is_null(ci->name) && TEXT_IS(c, ci->name, name);
}

static bool name_in(const moat__py_ctx *c, const callinfo *ci, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (name_is(c, ci, names[i])) return true;
    return false;
}

static bool qual_is(const callinfo *ci, const char *q)
{
    return ci->qual && ci->qual[0] == q[0] && strcmp(ci->qual, q) == 0;
}

static bool qual_in(const callinfo *ci, const char *const *qs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (qual_is(ci, qs[i])) return true;
    return false;
}

/* Whether the dotted qualname has a part equal to part ("hashlib" in
 * "hashlib.new"), as Bandit's `'x' in qualname.split('.')`. */
static bool qual_has_part(const callinfo *ci, const char *part)
{
    if (!ci->qual) return false;
    size_t n = strlen(part);
    for (const char *p = ci->qual; p;) {
        size_t k = strcspn(p, ".");
        if (k == n && memcmp(p, part, n) == 0) return true;
        p = p[k] ? p + k + 1 : NULL;
    }
    return false;
}

/* The last part of a dotted value ("PROTOCOL_SSLv2" of ssl.PROTOCOL_SSLv2). */
static bool last_part_in(const moat__py_ctx *c, TSNode v, const char *const *names, size_t n)
{
    if (ts_node_is_null(v)) return false;
    TSNode last = IS(v, "attribute") ? FIELD(v, "attribute") : v;
    if (!IS(last, "identifier")) return false;
    for (size_t i = 0; i < n; i++)
        if (TEXT_IS(c, last, names[i])) return true;
    return false;
}

static bool is_false(TSNode v)
{
    return IS(v, "false") || IS(v, "none");
}

/* A literal, or a name the module assigns only literals to (LAYOUT = "...")
 * and the current function does not assign. */
static bool value_const(moat__py_ctx *c, TSNode v)
{
    if (moat__py_is_const(v, 0)) return true;
    if (!IS(v, "identifier") || !c->module || c->scope == c->module) return false;
    size_t len;
    const char *t = moat__py_text(c, v, &len);
    if (moat__py_var_get(c->scope, t, len, false)) return false;
    moat__py_var *m = moat__py_var_get(c->module, t, len, false);
    return m && !m->nonconst && !m->tainted;
}

/* Confidence for a call whose dangerous argument is v: literal LOW, other
 * MEDIUM, request data HIGH (with its path in steps). */
/* Bandit's B703 "secure" values: literals, names of this function (or the
 * module) only ever assigned secure values, and str.format, %, + and
 * containers built from them ('<b>{}</b>'.format(name), (a, '')). */
static bool secure_value(moat__py_ctx *c, TSNode n, int depth)
{
    if (ts_node_is_null(n) || depth > 16) return false;
    if (moat__py_is_const(n, 0)) return true;
    if (IS(n, "identifier")) {
        if (!c->scope) return false;
        size_t len;
        const char *t = moat__py_text(c, n, &len);
        /* only this scope's assignments count (Bandit: a module variable
         * may be reassigned anywhere, a parameter is the caller's) */
        moat__py_var *v = moat__py_var_get(c->scope, t, len, false);
        return v && !v->nonconst && !v->tainted;
    }
    if (IS(n, "call")) {
        TSNode fn = FIELD(n, "function");
        if (!IS(fn, "attribute") || !TEXT_IS(c, FIELD(fn, "attribute"), "format") ||
            !secure_value(c, FIELD(fn, "object"), depth + 1))
            return false;
        return secure_value(c, FIELD(n, "arguments"), depth + 1);
    }
    if (IS(n, "binary_operator"))
        return secure_value(c, FIELD(n, "left"), depth + 1) &&
               secure_value(c, FIELD(n, "right"), depth + 1);
    if (IS(n, "keyword_argument")) return secure_value(c, FIELD(n, "value"), depth + 1);
    if (IS(n, "parenthesized_expression") || IS(n, "tuple") || IS(n, "list") || IS(n, "set") ||
        IS(n, "list_splat") || IS(n, "dictionary") || IS(n, "pair") || IS(n, "dictionary_splat") ||
        IS(n, "argument_list") || IS(n, "expression_list")) {
        uint32_t cnt = ts_node_named_child_count(n);
        for (uint32_t i = 0; i < cnt; i++) {
            TSNode e = ts_node_named_child(n, i);
            if (IS(e, "comment")) continue;
            if (!secure_value(c, e, depth + 1)) return false;
        }
        return true;
    }
    return false;
}

static moat_audit_level arg_conf(moat__py_ctx *c, TSNode v, moat__py_steps *steps)
{
    if (moat__py_tainted(c, v, steps, 0)) return H;
    if (value_const(c, v)) return L;
    return M;
}

static char *sink_name(const moat__py_ctx *c, const callinfo *ci)
{
    if (ci->qual) return moat_xasprintf("%s()", ci->qual);
    size_t len;
    const char *t = ts_node_is_null(ci->name) ? "call" : moat__py_text(c, ci->name, &len);
    if (ts_node_is_null(ci->name)) len = 4;
    return moat_xasprintf("%.*s()", (int)len, t);
}

/* Reports rule with the data-flow path when steps has one. */
static void report_flow(moat__py_ctx *c, moat_code_rule rule, const callinfo *ci,
                        moat_audit_level sev, moat_audit_level conf, const char *msg,
                        moat__py_steps *steps)
{
    char *sink = steps->len ? sink_name(c, ci) : NULL;
    moat__py_report(c, rule, ci->node, sev, conf, msg, steps, sink, NONE);
    free(sink);
    moat__py_steps_free(steps);
}

/* Whether any rule of a family runs: the family's check returns at once
 * when none does. */
static bool any_enabled(const moat__py_ctx *c, const moat_code_rule *rules, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (moat__py_enabled(c, rules[i])) return true;
    return false;
}
#define FAMILY_ENABLED(c, ...)                                                                     \
    any_enabled((c), (const moat_code_rule[]){__VA_ARGS__},                                        \
                sizeof((const moat_code_rule[]){__VA_ARGS__}) / sizeof(moat_code_rule))

/* ---- Bandit's blacklisted calls (B3xx): one finding per call ---------- */

typedef struct blacklist {
    moat_code_rule id;
    const char *const *quals;
    size_t n;
} blacklist;

static const char *const bl_pickle[] = {"pickle.loads",
                                        "pickle.load",
                                        "pickle.Unpickler",
                                        "cPickle.loads",
                                        "cPickle.load",
                                        "cPickle.Unpickler",
                                        "dill.loads",
                                        "dill.load",
                                        "dill.Unpickler",
                                        "shelve.open",
                                        "jsonpickle.decode",
                                        "shelve.DbfilenameShelf",
                                        "jsonpickle.unpickler.decode",
                                        "jsonpickle.unpickler.Unpickler",
                                        "pandas.read_pickle"};
static const char *const bl_marshal[] = {"marshal.load", "marshal.loads"};
/* hashlib's own constructors are B324 now (today's Bandit; 1.6 said B303) */
static const char *const bl_md5[] = {"Crypto.Hash.MD2.new",
                                     "Crypto.Hash.MD4.new",
                                     "Crypto.Hash.MD5.new",
                                     "Crypto.Hash.SHA.new",
                                     "Cryptodome.Hash.MD2.new",
                                     "Cryptodome.Hash.MD4.new",
                                     "Cryptodome.Hash.MD5.new",
                                     "Cryptodome.Hash.SHA.new",
                                     "cryptography.hazmat.primitives.hashes.MD5",
                                     "cryptography.hazmat.primitives.hashes.SHA1"};
static const char *const bl_mktemp[] = {"tempfile.mktemp"};
static const char *const bl_eval[] = {"eval"};
static const char *const bl_mark_safe[] = {"django.utils.safestring.mark_safe"};
static const char *const bl_random[] = {
    "random.random",      "random.randrange",  "random.randint", "random.choice",
    "random.uniform",     "random.triangular", "random.choices", "random.sample",
    "random.getrandbits", "random.randbytes",  "random.Random"};
static const char *const bl_ciphers[] = {
    "Crypto.Cipher.ARC2.new",
    "Crypto.Cipher.ARC4.new",
    "Crypto.Cipher.Blowfish.new",
    "Crypto.Cipher.DES.new",
    "Crypto.Cipher.XOR.new",
    "Cryptodome.Cipher.ARC2.new",
    "Cryptodome.Cipher.ARC4.new",
    "Cryptodome.Cipher.Blowfish.new",
    "Cryptodome.Cipher.DES.new",
    "Cryptodome.Cipher.XOR.new",
    "cryptography.hazmat.primitives.ciphers.algorithms.ARC4",
    "cryptography.hazmat.primitives.ciphers.algorithms.Blowfish",
    "cryptography.hazmat.primitives.ciphers.algorithms.IDEA",
    "cryptography.hazmat.primitives.ciphers.algorithms.CAST5",
    "cryptography.hazmat.primitives.ciphers.algorithms.SEED",
    "cryptography.hazmat.primitives.ciphers.algorithms.TripleDES"};
static const char *const bl_modes[] = {"cryptography.hazmat.primitives.ciphers.modes.ECB"};
static const char *const bl_urlopen[] = {"urllib.urlopen",
                                         "urllib.request.urlopen",
                                         "urllib.urlretrieve",
                                         "urllib.request.urlretrieve",
                                         "urllib.URLopener",
                                         "urllib.request.URLopener",
                                         "urllib.FancyURLopener",
                                         "urllib.request.FancyURLopener",
                                         "urllib2.urlopen",
                                         "urllib2.Request",
                                         "six.moves.urllib.request.urlopen",
                                         "six.moves.urllib.request.urlretrieve",
                                         "six.moves.urllib.request.URLopener",
                                         "six.moves.urllib.request.FancyURLopener"};
static const char *const bl_telnet[] = {"telnetlib.Telnet"};
static const char *const bl_ctree[] = {
    "xml.etree.cElementTree.parse", "xml.etree.cElementTree.iterparse",
    "xml.etree.cElementTree.fromstring", "xml.etree.cElementTree.XMLParser"};
static const char *const bl_etree[] = {
    "xml.etree.ElementTree.parse", "xml.etree.ElementTree.iterparse",
    "xml.etree.ElementTree.fromstring", "xml.etree.ElementTree.XMLParser"};
static const char *const bl_expatreader[] = {"xml.sax.expatreader.create_parser"};
static const char *const bl_expatbuilder[] = {"xml.dom.expatbuilder.parse",
                                              "xml.dom.expatbuilder.parseString"};
static const char *const bl_sax[] = {"xml.sax.parse", "xml.sax.parseString", "xml.sax.make_parser"};
static const char *const bl_minidom[] = {"xml.dom.minidom.parse", "xml.dom.minidom.parseString"};
static const char *const bl_pulldom[] = {"xml.dom.pulldom.parse", "xml.dom.pulldom.parseString"};
static const char *const bl_ftp[] = {"ftplib.FTP"};
static const char *const bl_unverified[] = {"ssl._create_unverified_context"};

static const blacklist blacklists[] = {
    {MOAT_CODE_B301, bl_pickle, MOAT_ARRAY_LEN(bl_pickle)},
    {MOAT_CODE_B302, bl_marshal, MOAT_ARRAY_LEN(bl_marshal)},
    {MOAT_CODE_B303, bl_md5, MOAT_ARRAY_LEN(bl_md5)},
    {MOAT_CODE_B306, bl_mktemp, MOAT_ARRAY_LEN(bl_mktemp)},
    {MOAT_CODE_B307, bl_eval, MOAT_ARRAY_LEN(bl_eval)},
    {MOAT_CODE_B308, bl_mark_safe, MOAT_ARRAY_LEN(bl_mark_safe)},
    {MOAT_CODE_B311, bl_random, MOAT_ARRAY_LEN(bl_random)},
    {MOAT_CODE_B304, bl_ciphers, MOAT_ARRAY_LEN(bl_ciphers)},
    {MOAT_CODE_B305, bl_modes, MOAT_ARRAY_LEN(bl_modes)},
    {MOAT_CODE_B310, bl_urlopen, MOAT_ARRAY_LEN(bl_urlopen)},
    {MOAT_CODE_B312, bl_telnet, MOAT_ARRAY_LEN(bl_telnet)},
    {MOAT_CODE_B313, bl_ctree, MOAT_ARRAY_LEN(bl_ctree)},
    {MOAT_CODE_B314, bl_etree, MOAT_ARRAY_LEN(bl_etree)},
    {MOAT_CODE_B315, bl_expatreader, MOAT_ARRAY_LEN(bl_expatreader)},
    {MOAT_CODE_B316, bl_expatbuilder, MOAT_ARRAY_LEN(bl_expatbuilder)},
    {MOAT_CODE_B317, bl_sax, MOAT_ARRAY_LEN(bl_sax)},
    {MOAT_CODE_B318, bl_minidom, MOAT_ARRAY_LEN(bl_minidom)},
    {MOAT_CODE_B319, bl_pulldom, MOAT_ARRAY_LEN(bl_pulldom)},
    {MOAT_CODE_B321, bl_ftp, MOAT_ARRAY_LEN(bl_ftp)},
    {MOAT_CODE_B323, bl_unverified, MOAT_ARRAY_LEN(bl_unverified)},
};

/* ---- Bandit's blacklisted imports (B4xx): `import x`, `from x import y`,
 * __import__("x") and importlib.import_module("x"); the first list (in id
 * order) a name starts with reports, once per statement ------------------ */

static const char *const bi_telnet[] = {"telnetlib"};
static const char *const bi_ftp[] = {"ftplib"};
static const char *const bi_pickle[] = {"pickle", "cPickle", "dill", "shelve"};
static const char *const bi_subprocess[] = {"subprocess"};
static const char *const bi_etree[] = {"xml.etree.cElementTree", "xml.etree.ElementTree"};
static const char *const bi_sax[] = {"xml.sax"};
static const char *const bi_expat[] = {"xml.dom.expatbuilder"};
static const char *const bi_minidom[] = {"xml.dom.minidom"};
static const char *const bi_pulldom[] = {"xml.dom.pulldom"};
static const char *const bi_xmlrpc[] = {"xmlrpclib", "xmlrpc"};
static const char *const bi_httpoxy[] = {
    "wsgiref.handlers.CGIHandler", "twisted.web.twcgi.CGIScript", "twisted.web.twcgi.CGIDirectory"};
static const char *const bi_pycrypto[] = {"Crypto.Cipher",    "Crypto.Hash",      "Crypto.IO",
                                          "Crypto.Protocol",  "Crypto.PublicKey", "Crypto.Random",
                                          "Crypto.Signature", "Crypto.Util"};
static const char *const bi_pyghmi[] = {"pyghmi"};

static const blacklist import_blacklists[] = {
    {MOAT_CODE_B401, bi_telnet, MOAT_ARRAY_LEN(bi_telnet)},
    {MOAT_CODE_B402, bi_ftp, MOAT_ARRAY_LEN(bi_ftp)},
    {MOAT_CODE_B403, bi_pickle, MOAT_ARRAY_LEN(bi_pickle)},
    {MOAT_CODE_B404, bi_subprocess, MOAT_ARRAY_LEN(bi_subprocess)},
    {MOAT_CODE_B405, bi_etree, MOAT_ARRAY_LEN(bi_etree)},
    {MOAT_CODE_B406, bi_sax, MOAT_ARRAY_LEN(bi_sax)},
    {MOAT_CODE_B407, bi_expat, MOAT_ARRAY_LEN(bi_expat)},
    {MOAT_CODE_B408, bi_minidom, MOAT_ARRAY_LEN(bi_minidom)},
    {MOAT_CODE_B409, bi_pulldom, MOAT_ARRAY_LEN(bi_pulldom)},
    {MOAT_CODE_B411, bi_xmlrpc, MOAT_ARRAY_LEN(bi_xmlrpc)},
    {MOAT_CODE_B412, bi_httpoxy, MOAT_ARRAY_LEN(bi_httpoxy)},
    {MOAT_CODE_B413, bi_pycrypto, MOAT_ARRAY_LEN(bi_pycrypto)},
    {MOAT_CODE_B415, bi_pyghmi, MOAT_ARRAY_LEN(bi_pyghmi)},
};

/* The import rule whose list names[0..n) hits first (Bandit: for each list,
 * for each imported name, `name.startswith(entry)`; calls match exactly). */
static const blacklist *import_hit(const char *const *names, size_t n, bool exact,
                                   const char **which)
{
    for (size_t b = 0; b < MOAT_ARRAY_LEN(import_blacklists); b++) {
        const blacklist *bl = &import_blacklists[b];
        for (size_t k = 0; k < n; k++)
            for (size_t i = 0; i < bl->n; i++) {
                const char *q = bl->quals[i];
                if (q[0] && q[0] != names[k][0]) continue; /* most names: no call */
                if (exact ? !strcmp(names[k], q) : !strncmp(names[k], q, strlen(q))) {
                    *which = names[k];
                    return bl;
                }
            }
    }
    return NULL;
}

static void report_import(moat__py_ctx *c, TSNode at, const blacklist *bl, const char *name)
{
    const char *m = moat_audit_code_rules[bl->id].message;
    size_t ml = strlen(m);
    if (ml && m[ml - 1] == '.') ml--;
    char *msg = moat_xasprintf("%.*s: %s.", (int)ml, m, name);
    moat__py_report(c, bl->id, at, 0, 0, msg, NULL, NULL, NONE);
    free(msg);
}

static bool any_import_rule(const moat__py_ctx *c)
{
    for (size_t b = 0; b < MOAT_ARRAY_LEN(import_blacklists); b++)
        if (moat__py_enabled(c, import_blacklists[b].id)) return true;
    return false;
}

static void check_import(moat__py_ctx *c, TSNode n)
{
    if (!any_import_rule(c)) return;
    bool from = IS(n, "import_from_statement");
    TSNode mod = from ? FIELD(n, "module_name") : NONE;
    char *prefix = NULL;
    if (!ts_node_is_null(mod)) {
        size_t len;
        const char *t = moat__py_text(c, mod, &len);
        while (len && *t == '.') { /* Bandit reads node.module: no leading dots */
            t++;
            len--;
        }
        prefix = moat_xstrndup(t, len);
    }
    char *names[64] = {0};
    size_t nn = 0;
    uint32_t cnt = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < cnt && nn < MOAT_ARRAY_LEN(names); i++) {
        TSNode ch = ts_node_named_child(n, i);
        if (from && ts_node_eq(ch, mod)) continue;
        if (IS(ch, "aliased_import")) ch = FIELD(ch, "name");
        if (!IS(ch, "dotted_name") && !IS(ch, "wildcard_import")) continue;
        size_t len;
        const char *t = moat__py_text(c, ch, &len);
        names[nn++] = prefix && *prefix ? moat_xasprintf("%s.%.*s", prefix, (int)len, t)
                                        : moat_xstrndup(t, len);
    }
    const char *which = NULL;
    const blacklist *bl = import_hit((const char *const *)names, nn, false, &which);
    if (bl && moat__py_enabled(c, bl->id)) report_import(c, n, bl, which);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(prefix);
}

/* __import__("x") and importlib.import_module("x") import x (B4xx). */
static bool check_import_call(moat__py_ctx *c, const callinfo *ci)
{
    bool dunder = IS(ci->func, "identifier") && TEXT_IS(c, ci->func, "__import__");
    if (!dunder && !qual_is(ci, "importlib.import_module") && !qual_is(ci, "importlib.__import__"))
        return false;
    TSNode arg = ci->npos ? ci->pos[0] : kw_get(c, ci, "name");
    if (!moat__py_is_str(arg) || !any_import_rule(c)) return true;
    char *name = moat__py_str_value(c, arg);
    const char *which = NULL;
    const blacklist *bl = import_hit((const char *const *)&name, 1, true, &which);
    if (bl && moat__py_enabled(c, bl->id)) report_import(c, ci->node, bl, which);
    free(name);
    return true;
}

static void check_blacklist(moat__py_ctx *c, const callinfo *ci)
{
    if (check_import_call(c, ci)) return;
    if (!ci->qual) return;
    for (size_t b = 0; b < MOAT_ARRAY_LEN(blacklists); b++) {
        const blacklist *bl = &blacklists[b];
        for (size_t i = 0; i < bl->n; i++) {
            const char *q = bl->quals[i];
            if (q[0] != ci->qual[0]) continue;
            if (strpbrk(q, "*?[") ? fnmatch(q, ci->qual, 0) != 0 : strcmp(q, ci->qual) != 0)
                continue;
            moat_code_rule id = bl->id;
            moat__py_steps steps = {0};
            moat_audit_level sev = 0, conf = 0;
            TSNode arg = ci->npos ? ci->pos[0] : NONE;
            if (id == MOAT_CODE_B303) {
                /* hashlib.md5(..., usedforsecurity=False) says it is no security control */
                if (is_false(kw_get(c, ci, "usedforsecurity"))) return;
            } else if (id == MOAT_CODE_B307) {
                conf = arg_conf(c, arg, &steps);
                if (conf == H) sev = H;
            } else if (id == MOAT_CODE_B301 || id == MOAT_CODE_B302) {
                if (moat__py_tainted(c, arg, &steps, 0)) sev = H;
            }
            report_flow(c, id, ci, sev, conf, NULL, &steps);
            return;
        }
    }
    /* Bandit checks calls against the import lists too (exactly):
     * wsgiref.handlers.CGIHandler().run(app), twcgi.CGIDirectory(...) */
    const char *q = ci->qual, *which = NULL;
    const blacklist *bl = any_import_rule(c) ? import_hit(&q, 1, true, &which) : NULL;
    if (bl && moat__py_enabled(c, bl->id)) report_import(c, ci->node, bl, which);
}

/* ---- shell (B602-B607, Bandit's injection_shell) ---------------------- */

static const char *const sh_subprocess[] = {"subprocess.Popen", "subprocess.call",
                                            "subprocess.check_call", "subprocess.check_output",
                                            "subprocess.run"};
/* subprocess.getoutput runs its string in a shell: Bandit's B605 list */
static const char *const sh_shell[] = {"os.system",
                                       "os.popen",
                                       "os.popen2",
                                       "os.popen3",
                                       "os.popen4",
                                       "popen2.popen2",
                                       "popen2.popen3",
                                       "popen2.popen4",
                                       "popen2.Popen3",
                                       "popen2.Popen4",
                                       "commands.getoutput",
                                       "commands.getstatusoutput",
                                       "subprocess.getoutput",
                                       "subprocess.getstatusoutput"};
static const char *const sh_noshell[] = {
    "os.execl",  "os.execle",  "os.execlp",  "os.execlpe",  "os.execv",    "os.execve",
    "os.execvp", "os.execvpe", "os.spawnl",  "os.spawnle",  "os.spawnlp",  "os.spawnlpe",
    "os.spawnv", "os.spawnve", "os.spawnvp", "os.spawnvpe", "os.startfile"};

static bool has_shell(const moat__py_ctx *c, const callinfo *ci)
{
    TSNode v = kw_get(c, ci, "shell");
    if (ts_node_is_null(v)) return false;
    if (IS(v, "false") || IS(v, "none")) return false;
    if (IS(v, "integer")) return !TEXT_IS(c, v, "0");
    if (IS(v, "list") || IS(v, "dictionary")) return ts_node_named_child_count(v) > 0;
    return true;
}

static bool partial_path(moat__py_ctx *c, TSNode v)
{
    if (IS(v, "list") && ts_node_named_child_count(v) > 0) v = ts_node_named_child(v, 0);
    if (!moat__py_is_str(v)) return false;
    char *s = moat__py_str_value(c, v);
    bool full = s[0] == '/' || s[0] == '\\' || s[0] == '.' ||
                (((s[0] | 32) >= 'a' && (s[0] | 32) <= 'z') && s[1] == ':');
    free(s);
    return !full;
}

static void check_shell(moat__py_ctx *c, const callinfo *ci)
{
    bool sub = qual_in(ci, sh_subprocess, MOAT_ARRAY_LEN(sh_subprocess));
    bool shell = qual_in(ci, sh_shell, MOAT_ARRAY_LEN(sh_shell));
    bool noshell = qual_in(ci, sh_noshell, MOAT_ARRAY_LEN(sh_noshell));
    bool withshell = has_shell(c, ci);
    TSNode arg = ci->npos ? ci->pos[0] : kw_get(c, ci, "args");
    moat__py_steps steps = {0};
    if (sub && withshell && !ts_node_is_null(arg)) {
        moat_audit_level conf = arg_conf(c, arg, &steps);
        if (conf == L)
            report_flow(c, MOAT_CODE_B602, ci, L, H,
                        "subprocess call with shell=True seems safe, but may be changed in the "
                        "future; consider rewriting without shell",
                        &steps);
        else
            report_flow(c, MOAT_CODE_B602, ci, H, conf,
                        conf == H ? "subprocess call with shell=True runs request data in a shell."
                                  : NULL,
                        &steps);
    } else if (sub && !withshell) {
        bool t = !ts_node_is_null(arg) && moat__py_tainted(c, arg, &steps, 0);
        report_flow(c, MOAT_CODE_B603, ci, t ? H : 0, 0,
                    t ? "subprocess call runs a program or arguments taken from the request."
                      : NULL,
                    &steps);
    } else if (!sub && withshell) {
        report_flow(c, MOAT_CODE_B604, ci, 0, 0, NULL, &steps);
    }
    if (shell && ci->npos) {
        moat_audit_level conf = arg_conf(c, ci->pos[0], &steps);
        if (conf == L)
            report_flow(c, MOAT_CODE_B605, ci, L, H,
                        "Starting a process with a shell: seems safe, but may be changed in the "
                        "future; consider rewriting without shell",
                        &steps);
        else
            report_flow(c, MOAT_CODE_B605, ci, H, conf,
                        conf == H ? "A shell runs a command built from request data." : NULL,
                        &steps);
    }
    if (noshell) {
        bool t = false;
        for (size_t i = 0; i < ci->npos && !t; i++)
            t = moat__py_tainted(c, ci->pos[i], &steps, 0);
        report_flow(c, MOAT_CODE_B606, ci, t ? H : 0, t ? H : 0,
                    t ? "Starting a process with request data in its arguments." : NULL, &steps);
    }
    if ((sub || shell || noshell) && ci->npos && partial_path(c, ci->pos[0]))
        moat__py_report(c, MOAT_CODE_B607, ci->node, 0, 0, NULL, NULL, NULL, NONE);
}

/* ---- the other call rules ------------------------------------------------ */

static const char *const http_verbs[] = {"get", "options", "head",   "post",
                                         "put", "patch",   "delete", "request"};
static const char *const bad_ssl[] = {"PROTOCOL_SSLv2", "SSLv2_METHOD",     "SSLv23_METHOD",
                                      "PROTOCOL_SSLv3", "PROTOCOL_TLSv1",   "SSLv3_METHOD",
                                      "TLSv1_METHOD",   "PROTOCOL_TLSv1_1", "TLSv1_1_METHOD"};
static const char *const safe_loaders[] = {"SafeLoader", "CSafeLoader"};
static const char *const safe_types[] = {"mark_safe", "SafeText", "SafeUnicode", "SafeString",
                                         "SafeBytes"};
static const char *const redirects[] = {"redirect", "HttpResponseRedirect",
                                        "HttpResponsePermanentRedirect", "RedirectResponse"};
static const char *const file_sinks[] = {"open",
                                         "io.open",
                                         "codecs.open",
                                         "os.open",
                                         "flask.send_file",
                                         "send_file",
                                         "FileResponse",
                                         "django.http.FileResponse",
                                         "os.remove",
                                         "os.unlink",
                                         "os.rmdir",
                                         "shutil.rmtree",
                                         "pathlib.Path",
                                         "Path",
                                         "shutil.copyfile",
                                         "os.listdir"};
static const char *const sql_calls[] = {"execute", "executemany", "executescript", "raw",
                                        "mogrify"};
static const char *const weak_hashes[] = {"md4", "md5", "sha", "sha1"};
static const char *const weak_crypt[] = {"METHOD_CRYPT", "METHOD_MD5", "METHOD_BLOWFISH"};
static const char *const httpx_attrs[] = {"get",    "options", "head",       "post",
                                          "put",    "patch",   "delete",     "request",
                                          "stream", "Client",  "AsyncClient"};

/* Whether n is a string-building expression whose literal parts read as SQL
 * (B608 reports it; the SQL call then need not report the same flow). */
static bool sql_built(moat__py_ctx *c, TSNode n);

/* ---- the rule families of a call: each its own function, run only when one
 * of its rules is enabled (check_calls) ---------------------------------- */

static void call_http(moat__py_ctx *c, const callinfo *ci)
{
    moat__py_steps steps = {0};
    bool requests_lib =
        ci->qual && (!strncmp(ci->qual, "requests.", 9) || !strncmp(ci->qual, "httpx.", 6));
    bool verb = name_in(c, ci, http_verbs, MOAT_ARRAY_LEN(http_verbs));

    bool httpx = ci->qual && !strncmp(ci->qual, "httpx.", 6) &&
                 name_in(c, ci, httpx_attrs, MOAT_ARRAY_LEN(httpx_attrs));
    /* B501 (Bandit: 'requests' anywhere in the qualname; httpx's clients too) */
    if (((ci->qual && strstr(ci->qual, "requests") && verb) || httpx) &&
        is_false(kw_get(c, ci, "verify")))
        moat__py_report(c, MOAT_CODE_B501, ci->node, 0, 0, NULL, NULL, NULL, NONE);
    /* B113: requests waits forever without a timeout or with timeout=None;
     * httpx has a default, so only its timeout=None */
    TSNode timeout = kw_get(c, ci, "timeout");
    if (requests_lib && verb && !strncmp(ci->qual, "requests.", 9) && !name_is(c, ci, "request")) {
        if (ts_node_is_null(timeout))
            moat__py_report(c, MOAT_CODE_B113, ci->node, 0, 0, NULL, NULL, NULL, NONE);
        else if (IS(timeout, "none"))
            moat__py_report(c, MOAT_CODE_B113, ci->node, 0, 0,
                            "Requests call with timeout set to None.", NULL, NULL, NONE);
    }
    if (httpx && IS(timeout, "none"))
        moat__py_report(c, MOAT_CODE_B113, ci->node, 0, 0,
                        "Call to httpx with timeout set to None.", NULL, NULL, NONE);
    /* MOAT-C108: SSRF */
    if ((requests_lib && verb) || qual_is(ci, "urllib.request.urlopen") ||
        qual_is(ci, "urllib.request.Request") || qual_is(ci, "urllib.urlopen") ||
        qual_is(ci, "urllib2.urlopen")) {
        TSNode url = kw_get(c, ci, "url");
        if (ts_node_is_null(url))
            url = name_is(c, ci, "request") ? (ci->npos > 1 ? ci->pos[1] : NONE)
                                            : (ci->npos ? ci->pos[0] : NONE);
        if (moat__py_tainted(c, url, &steps, 0))
            report_flow(c, MOAT_CODE_MOAT_C108, ci, 0, 0, NULL, &steps);
    }
}

static void call_flask_debug(moat__py_ctx *c, const callinfo *ci)
{
    /* B201 */
    if (ci->qual && name_is(c, ci, "run") && moat__py_imported_like(c, "flask") &&
        IS(ci->func, "attribute") && IS(kw_get(c, ci, "debug"), "true"))
        moat__py_report(c, MOAT_CODE_B201, ci->node, 0, 0, NULL, NULL, NULL, NONE);
}

static void call_tarfile(moat__py_ctx *c, const callinfo *ci)
{
    /* B202, as today's Bandit: only filter="data" makes extractall safe
     * ("fully_trusted", "tar" or a callable do not); a members= list is
     * MEDIUM, members=a_function(...) LOW (it may well filter) */
    if (!name_is(c, ci, "extractall") || !moat__py_imported_like(c, "tarfile")) return;
    TSNode filter = kw_get(c, ci, "filter"), members = kw_get(c, ci, "members");
    if (moat__py_is_str(filter)) {
        char *f = moat__py_str_value(c, filter);
        bool data = !strcmp(f, "data");
        free(f);
        if (data) return;
    }
    if (IS(members, "call"))
        moat__py_report(c, MOAT_CODE_B202, ci->node, L, L,
                        "tarfile extractall(members=function(...)): make sure the function "
                        "discards dangerous members.",
                        NULL, NULL, NONE);
    else if (!ts_node_is_null(members))
        moat__py_report(c, MOAT_CODE_B202, ci->node, M, M,
                        "tarfile extractall(members=...): check that the members were validated.",
                        NULL, NULL, NONE);
    else
        moat__py_report(c, MOAT_CODE_B202, ci->node, H, H, NULL, NULL, NULL, NONE);
}

/* The text of a literal string, or an attribute's last name (crypt.METHOD_MD5),
 * as Bandit's call_args reads arguments (owned, or NULL). */
static char *arg_word(moat__py_ctx *c, TSNode v)
{
    if (moat__py_is_str(v)) return moat__py_str_value(c, v);
    if (IS(v, "attribute")) v = FIELD(v, "attribute");
    if (!IS(v, "identifier")) return NULL;
    size_t n;
    const char *t = moat__py_text(c, v, &n);
    return moat_xstrndup(t, n);
}

static bool word_in(const char *w, const char *const *set, size_t n, bool nocase)
{
    for (size_t i = 0; w && i < n; i++)
        if (nocase ? !strcasecmp(w, set[i]) : !strcmp(w, set[i])) return true;
    return false;
}

static void call_weak_hash(moat__py_ctx *c, const callinfo *ci)
{
    /* B324, as today's Bandit: hashlib.md4/md5/sha/sha1(...) and
     * hashlib.new(<one of them>) unless usedforsecurity is given and not
     * True; crypt.crypt(pw, METHOD_CRYPT/MD5/BLOWFISH) and crypt.mksalt(...). */
    if (!ci->qual) return;
    const char *last = strrchr(ci->qual, '.');
    last = last ? last + 1 : ci->qual;
    if (qual_has_part(ci, "hashlib")) {
        TSNode ufs = kw_get(c, ci, "usedforsecurity");
        if (!ts_node_is_null(ufs) && !IS(ufs, "true")) return;
        char *name = NULL;
        if (word_in(last, weak_hashes, MOAT_ARRAY_LEN(weak_hashes), false))
            name = moat_xstrdup(last);
        else if (!strcmp(last, "new")) {
            name = arg_word(c, ci->npos ? ci->pos[0] : kw_get(c, ci, "name"));
            if (!moat__py_is_str(ci->npos ? ci->pos[0] : kw_get(c, ci, "name")) ||
                !word_in(name, weak_hashes, MOAT_ARRAY_LEN(weak_hashes), true)) {
                free(name);
                name = NULL;
            }
        }
        if (!name) return;
        for (char *p = name; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        char *msg = moat_xasprintf("Use of weak %s hash for security. Consider "
                                   "usedforsecurity=False.",
                                   name);
        size_t before = c->out->len;
        moat__py_report(c, MOAT_CODE_B324, ci->node, H, H, msg, NULL, NULL, NONE);
        /* Bandit 1.6 called hashlib.md5/sha1 B303 */
        if (c->out->len > before && strcmp(last, "new") != 0)
            c->out->v[before].aliases = moat_xstrdup("B303");
        free(msg);
        free(name);
    } else if (qual_has_part(ci, "crypt") && (!strcmp(last, "crypt") || !strcmp(last, "mksalt"))) {
        bool crypt = !strcmp(last, "crypt");
        TSNode a = crypt ? (ci->npos > 1 ? ci->pos[1] : kw_get(c, ci, "salt"))
                         : (ci->npos ? ci->pos[0] : kw_get(c, ci, "method"));
        char *w = arg_word(c, a);
        if (word_in(w, weak_crypt, MOAT_ARRAY_LEN(weak_crypt), false)) {
            char *msg = moat_xasprintf("Use of insecure crypt.%s hash function.", w);
            moat__py_report(c, MOAT_CODE_B324, ci->node, M, H, msg, NULL, NULL, NONE);
            free(msg);
        }
        free(w);
    }
}

static void call_tls(moat__py_ctx *c, const callinfo *ci)
{
    /* B502 / B504 */
    if (qual_is(ci, "ssl.wrap_socket")) {
        TSNode v = kw_get(c, ci, "ssl_version");
        if (ts_node_is_null(v))
            moat__py_report(c, MOAT_CODE_B504, ci->node, 0, 0, NULL, NULL, NULL, NONE);
        else if (last_part_in(c, v, bad_ssl, MOAT_ARRAY_LEN(bad_ssl)))
            moat__py_report(c, MOAT_CODE_B502, ci->node, 0, 0, NULL, NULL, NULL, NONE);
    } else if (qual_is(ci, "pyOpenSSL.SSL.Context") || qual_is(ci, "OpenSSL.SSL.Context")) {
        TSNode v = kw_get(c, ci, "method");
        if (ts_node_is_null(v) && ci->npos) v = ci->pos[0];
        if (last_part_in(c, v, bad_ssl, MOAT_ARRAY_LEN(bad_ssl)))
            moat__py_report(c, MOAT_CODE_B502, ci->node, 0, 0, NULL, NULL, NULL, NONE);
    } else if (last_part_in(c, kw_get(c, ci, "method"), bad_ssl, MOAT_ARRAY_LEN(bad_ssl)) ||
               last_part_in(c, kw_get(c, ci, "ssl_version"), bad_ssl, MOAT_ARRAY_LEN(bad_ssl))) {
        moat__py_report(c, MOAT_CODE_B502, ci->node, M, M,
                        "Function call with an insecure SSL/TLS protocol version.", NULL, NULL,
                        NONE);
    }
}

static void call_yaml(moat__py_ctx *c, const callinfo *ci)
{
    moat__py_steps steps = {0};
    /* B506 */
    TSNode loader = kw_get(c, ci, "Loader");
    if (ts_node_is_null(loader) && ci->npos > 1) loader = ci->pos[1]; /* yaml.load(s, SafeLoader) */
    if (qual_has_part(ci, "yaml") && name_is(c, ci, "load") &&
        !last_part_in(c, loader, safe_loaders, MOAT_ARRAY_LEN(safe_loaders))) {
        bool t = ci->npos && moat__py_tainted(c, ci->pos[0], &steps, 0);
        report_flow(c, MOAT_CODE_B506, ci, t ? H : 0, 0, NULL, &steps);
    }
}

static void call_exec(moat__py_ctx *c, const callinfo *ci)
{
    moat__py_steps steps = {0};
    /* B102 */
    if (IS(ci->func, "identifier") && TEXT_IS(c, ci->func, "exec")) {
        moat_audit_level conf = arg_conf(c, ci->npos ? ci->pos[0] : NONE, &steps);
        report_flow(c, MOAT_CODE_B102, ci, conf == H ? H : 0, conf, NULL, &steps);
    }
}

static void call_django_extra(moat__py_ctx *c, const callinfo *ci)
{
    moat__py_steps steps = {0};
    /* B610: Bandit's django_extra_used */
    if (name_is(c, ci, "extra") && IS(ci->func, "attribute")) {
        static const char *const order[] = {"select", "where", "params", "tables"};
        TSNode v[4] = {0};
        for (size_t i = 0; i < 4; i++) {
            v[i] = kw_get(c, ci, order[i]);
            if (i < ci->npos) v[i] = ci->pos[i];
        }
        bool insecure = false;
        for (size_t k = 1; k < 4 && !insecure; k += 2) { /* where, tables */
            if (ts_node_is_null(v[k])) continue;
            if (IS(v[k], "list")) {
                uint32_t cnt = ts_node_named_child_count(v[k]);
                for (uint32_t i = 0; i < cnt; i++)
                    if (!moat__py_is_str(ts_node_named_child(v[k], i))) insecure = true;
            } else {
                insecure = true;
            }
        }
        if (!insecure && !ts_node_is_null(v[0])) {
            if (IS(v[0], "dictionary")) {
                uint32_t cnt = ts_node_named_child_count(v[0]);
                for (uint32_t i = 0; i < cnt; i++) {
                    TSNode p = ts_node_named_child(v[0], i);
                    if (!IS(p, "pair") || !moat__py_is_str(FIELD(p, "key")) ||
                        !moat__py_is_str(FIELD(p, "value")))
                        insecure = true;
                }
            } else {
                insecure = true;
            }
        }
        if (insecure) {
            bool t = moat__py_tainted(c, FIELD(ci->node, "arguments"), &steps, 0);
            report_flow(c, MOAT_CODE_B610, ci, t ? H : 0, t ? H : 0, NULL, &steps);
        }
    }
}

static void call_rawsql(moat__py_ctx *c, const callinfo *ci)
{
    moat__py_steps steps = {0};
    /* B611 */
    TSNode sql = ci->npos ? ci->pos[0] : kw_get(c, ci, "sql");
    if (name_is(c, ci, "RawSQL") && moat__py_imported_like(c, "django.db.models") &&
        !ts_node_is_null(sql) && !moat__py_is_str(sql)) {
        bool t = moat__py_tainted(c, sql, &steps, 0);
        report_flow(c, MOAT_CODE_B611, ci, t ? H : 0, t ? H : 0, NULL, &steps);
    }
}

static void call_jinja2(moat__py_ctx *c, const callinfo *ci)
{
    /* B701 */
    if (qual_has_part(ci, "jinja2") && name_is(c, ci, "Environment")) {
        TSNode v = kw_get(c, ci, "autoescape");
        if (ts_node_is_null(v))
            moat__py_report(c, MOAT_CODE_B701, ci->node, H, H,
                            "Jinja2 Environment without autoescape: it is off by default.", NULL,
                            NULL, NONE);
        else if (IS(v, "false"))
            moat__py_report(c, MOAT_CODE_B701, ci->node, H, H, NULL, NULL, NULL, NONE);
        else if (!IS(v, "true") &&
                 !(IS(v, "call") && last_part_in(c, FIELD(v, "function"),
                                                 (const char *const[]){"select_autoescape"}, 1)))
            moat__py_report(c, MOAT_CODE_B701, ci->node, H, M,
                            "Jinja2 autoescape set to a value that may be false.", NULL, NULL,
                            NONE);
    }
}

static void call_mark_safe(moat__py_ctx *c, const callinfo *ci)
{
    moat__py_steps steps = {0};
    /* B703 */
    if (name_in(c, ci, safe_types, MOAT_ARRAY_LEN(safe_types)) &&
        moat__py_imported_like(c, "django.utils.safestring") && ci->npos &&
        !moat__py_is_str(ci->pos[0])) {
        TSNode a = ci->pos[0];
        if (!secure_value(c, a, 0)) {
            bool t = moat__py_tainted(c, a, &steps, 0);
            report_flow(c, MOAT_CODE_B703, ci, t ? H : 0, 0, NULL, &steps);
        }
    }
}

static void call_markup(moat__py_ctx *c, const callinfo *ci)
{
    moat__py_steps steps = {0};
    /* B704 */
    if ((qual_is(ci, "markupsafe.Markup") || qual_is(ci, "flask.Markup") ||
         qual_is(ci, "jinja2.Markup")) &&
        ci->npos && !value_const(c, ci->pos[0])) {
        bool t = moat__py_tainted(c, ci->pos[0], &steps, 0);
        report_flow(c, MOAT_CODE_B704, ci, t ? H : 0, 0, NULL, &steps);
    }
}

static void call_keywords(moat__py_ctx *c, const callinfo *ci)
{
    /* B106 (and the config-update forms of MOAT-C105 / MOAT-C109) */
    for (size_t i = 0; i < ci->nkw; i++) {
        TSNode k = ci->kw[i].name, v = ci->kw[i].value;
        if (moat__py_is_str(v) && password_name(c, k))
            moat__py_report(c, MOAT_CODE_B106, ci->node, 0, 0, NULL, NULL, NULL, v);
        if (TEXT_IS(c, k, "WTF_CSRF_ENABLED") && IS(v, "false"))
            moat__py_report(c, MOAT_CODE_MOAT_C105, ci->node, 0, 0, NULL, NULL, NULL, NONE);
        if (TEXT_IS(c, k, "SECRET_KEY") && moat__py_is_str(v) &&
            ts_node_end_byte(v) - ts_node_start_byte(v) > 2)
            moat__py_report(c, MOAT_CODE_MOAT_C109, ci->node, 0, 0, NULL, NULL, NULL, v);
    }
}

static void call_ssti(moat__py_ctx *c, const callinfo *ci)
{
    moat__py_steps steps = {0};
    /* MOAT-C101: SSTI */
    if (name_is(c, ci, "render_template_string") && (ci->npos || ci->nkw)) {
        TSNode a = ci->npos ? ci->pos[0] : kw_get(c, ci, "source");
        if (!ts_node_is_null(a) && !value_const(c, a)) {
            moat_audit_level conf = arg_conf(c, a, &steps);
            report_flow(c, MOAT_CODE_MOAT_C101, ci, H, conf, NULL, &steps);
        }
    }
}

static void call_csrf_call(moat__py_ctx *c, const callinfo *ci)
{
    /* MOAT-C104 as a call: csrf_exempt(view) in urls.py */
    if (name_is(c, ci, "csrf_exempt"))
        moat__py_report(c, MOAT_CODE_MOAT_C104, ci->node, 0, 0, NULL, NULL, NULL, NONE);
}

static void call_redirect(moat__py_ctx *c, const callinfo *ci)
{
    moat__py_steps steps = {0};
    /* MOAT-C106: open redirect */
    if (name_in(c, ci, redirects, MOAT_ARRAY_LEN(redirects))) {
        TSNode a = ci->npos ? ci->pos[0] : kw_get(c, ci, "location");
        if (ts_node_is_null(a)) a = kw_get(c, ci, "redirect_to");
        if (ts_node_is_null(a)) a = kw_get(c, ci, "url");
        if (moat__py_tainted(c, a, &steps, 0))
            report_flow(c, MOAT_CODE_MOAT_C106, ci, 0, 0, NULL, &steps);
    }
}

static void call_path(moat__py_ctx *c, const callinfo *ci)
{
    moat__py_steps steps = {0};
    /* MOAT-C107: path traversal */
    if (qual_in(ci, file_sinks, MOAT_ARRAY_LEN(file_sinks)) && ci->npos &&
        moat__py_tainted(c, ci->pos[0], &steps, 0))
        report_flow(c, MOAT_CODE_MOAT_C107, ci, 0, 0, NULL, &steps);
}

static void call_sql_call(moat__py_ctx *c, const callinfo *ci)
{
    moat__py_steps steps = {0};
    /* MOAT-C110: SQL calls fed by request data (B608 covers SQL built in place) */
    bool sql_call =
        (IS(ci->func, "attribute") && name_in(c, ci, sql_calls, MOAT_ARRAY_LEN(sql_calls))) ||
        ((name_is(c, ci, "text") && moat__py_imported_like(c, "sqlalchemy")) ||
         name_is(c, ci, "RawSQL"));
    if (sql_call && ci->npos && !sql_built(c, ci->pos[0]) &&
        moat__py_tainted(c, ci->pos[0], &steps, 0))
        report_flow(c, MOAT_CODE_MOAT_C110, ci, 0, 0, NULL, &steps);
}

/* ---- the rest of today's Bandit plugins --------------------------------- */

/* A Python integer literal's value (0o755, 0x1ff, 0b1, 493, 1_000); false
 * when v is not one. */
static bool int_literal(moat__py_ctx *c, TSNode v, long long *out)
{
    if (!IS(v, "integer")) return false;
    size_t len;
    const char *t = moat__py_text(c, v, &len);
    char buf[64];
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < sizeof(buf); i++)
        if (t[i] != '_') buf[k++] = t[i];
    buf[k] = 0;
    int base = 10;
    const char *p = buf;
    if (buf[0] == '0' && (buf[1] == 'o' || buf[1] == 'O'))
        base = 8, p += 2;
    else if (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X'))
        base = 16, p += 2;
    else if (buf[0] == '0' && (buf[1] == 'b' || buf[1] == 'B'))
        base = 2, p += 2;
    char *end;
    long long n = strtoll(p, &end, base);
    if (*end || end == p) return false;
    *out = n;
    return true;
}

/* The last name of an identifier, attribute or call of one (client.AutoAddPolicy,
 * paramiko.AutoAddPolicy(), SECP192R1): borrowed text, or NULL. */
static bool last_name_in(moat__py_ctx *c, TSNode v, const char *const *names, size_t n)
{
    if (IS(v, "call")) v = FIELD(v, "function");
    return last_part_in(c, v, names, n);
}

static void call_chmod(moat__py_ctx *c, const callinfo *ci)
{
    /* B103: any *chmod* with two positional arguments, the mode a literal
     * with S_IWOTH (high) or S_IXGRP (medium) */
    if (ts_node_is_null(ci->name) || ci->npos != 2) return;
    size_t len;
    const char *t = moat__py_text(c, ci->name, &len);
    if (!memmem(t, len, "chmod", 5)) return;
    long long mode;
    /* today's Bandit: S_IWOTH, S_IWGRP, S_IXGRP or S_IXOTH */
    if (!int_literal(c, ci->pos[1], &mode) || !(mode & (002 | 020 | 010 | 001))) return;
    size_t flen;
    const char *file = moat__py_text(c, ci->pos[0], &flen);
    if (flen > 60) flen = 60;
    char *msg = moat_xasprintf("Chmod setting a permissive mask 0o%llo on file (%.*s).", mode,
                               (int)flen, file);
    moat__py_report(c, MOAT_CODE_B103, ci->node, (mode & 002) ? H : M, H, msg, NULL, NULL, NONE);
    free(msg);
}

static void classify_key(moat__py_ctx *c, const callinfo *ci, const char *type, long long bits,
                         long long high, long long medium)
{
    long long limit = bits < high ? high : bits < medium ? medium : 0;
    if (!limit) return;
    char *msg =
        moat_xasprintf("%s key sizes below %lld bits are considered breakable.", type, limit);
    moat__py_report(c, MOAT_CODE_B505, ci->node, bits < high ? H : M, H, msg, NULL, NULL, NONE);
    free(msg);
}

static void call_weak_key(moat__py_ctx *c, const callinfo *ci)
{
    /* B505: cryptography's dsa/rsa/ec.generate_private_key, PyCrypto(dome)'s
     * DSA/RSA.generate; a size that is not a literal is not judged */
    if (!ci->qual || (!name_is(c, ci, "generate_private_key") && !name_is(c, ci, "generate")))
        return;
    static const char *const curves[] = {"SECP192R1", "SECT163K1", "SECT163R2"};
    const char *q = ci->qual;
    bool dsa = !strcmp(q, "cryptography.hazmat.primitives.asymmetric.dsa.generate_private_key");
    bool rsa = !strcmp(q, "cryptography.hazmat.primitives.asymmetric.rsa.generate_private_key");
    bool ec = !strcmp(q, "cryptography.hazmat.primitives.asymmetric.ec.generate_private_key");
    bool pdsa = !strcmp(q, "Crypto.PublicKey.DSA.generate") ||
                !strcmp(q, "Cryptodome.PublicKey.DSA.generate");
    bool prsa = !strcmp(q, "Crypto.PublicKey.RSA.generate") ||
                !strcmp(q, "Cryptodome.PublicKey.RSA.generate");
    long long bits = 2048;
    if (dsa || rsa || pdsa || prsa) {
        TSNode v = kw_get(c, ci, (pdsa || prsa) ? "bits" : "key_size");
        size_t pos = rsa ? 1 : 0;
        if (ts_node_is_null(v) && ci->npos > pos) v = ci->pos[pos];
        if (!ts_node_is_null(v) && !int_literal(c, v, &bits)) return;
        classify_key(c, ci, (dsa || pdsa) ? "DSA" : "RSA", bits, 1024, 2048);
    } else if (ec) {
        TSNode v = kw_get(c, ci, "curve");
        if (ts_node_is_null(v) && ci->npos) v = ci->pos[0];
        if (!last_name_in(c, v, curves, MOAT_ARRAY_LEN(curves))) return;
        TSNode last = IS(v, "call") ? FIELD(v, "function") : v;
        if (IS(last, "attribute")) last = FIELD(last, "attribute");
        bits = TEXT_IS(c, last, "SECP192R1") ? 192 : 163;
        classify_key(c, ci, "EC", bits, 160, 224);
    }
}

static void call_paramiko(moat__py_ctx *c, const callinfo *ci)
{
    static const char *const policies[] = {"AutoAddPolicy", "WarningPolicy"};
    if (!name_is(c, ci, "set_missing_host_key_policy") && !name_is(c, ci, "exec_command")) return;
    if (!moat__py_imported_like(c, "paramiko")) return;
    /* B507 */
    if (name_is(c, ci, "set_missing_host_key_policy") && ci->npos &&
        last_name_in(c, ci->pos[0], policies, MOAT_ARRAY_LEN(policies)))
        moat__py_report(c, MOAT_CODE_B507, ci->node, 0, 0, NULL, NULL, NULL, NONE);
    /* B601: the command runs in the remote shell */
    if (name_is(c, ci, "exec_command")) {
        moat__py_steps steps = {0};
        TSNode cmd = ci->npos ? ci->pos[0] : kw_get(c, ci, "command");
        bool t = moat__py_tainted(c, cmd, &steps, 0);
        report_flow(c, MOAT_CODE_B601, ci, t ? H : 0, t ? H : 0,
                    t ? "Paramiko exec_command runs request data in the remote shell." : NULL,
                    &steps);
    }
}

static void call_snmp(moat__py_ctx *c, const callinfo *ci)
{
    /* B508: CommunityData(..., mpModel=0|1); B509: UsmUserData without both
     * an authentication and a privacy key (positional or keyword) */
    if (qual_is(ci, "pysnmp.hlapi.CommunityData")) {
        TSNode m = kw_get(c, ci, "mpModel");
        if (TEXT_IS(c, m, "0") || TEXT_IS(c, m, "1"))
            moat__py_report(c, MOAT_CODE_B508, ci->node, 0, 0, NULL, NULL, NULL, NONE);
    } else if (qual_is(ci, "pysnmp.hlapi.UsmUserData")) {
        size_t keys = ci->npos;
        if (!ts_node_is_null(kw_get(c, ci, "authKey"))) keys++;
        if (!ts_node_is_null(kw_get(c, ci, "privKey"))) keys++;
        if (keys < 3) moat__py_report(c, MOAT_CODE_B509, ci->node, 0, 0, NULL, NULL, NULL, NONE);
    }
}

static void call_wildcard(moat__py_ctx *c, const callinfo *ci)
{
    /* B609: a shell runs chown/chmod/tar/rsync with a * (Bandit's test:
     * both substrings in the literal command or list of literals) */
    static const char *const cmds[] = {"chown", "chmod", "tar", "rsync"};
    if (!ci->qual || !strchr("opcs", ci->qual[0])) return; /* os. popen2. commands. subprocess. */
    bool shell = qual_in(ci, sh_shell, MOAT_ARRAY_LEN(sh_shell)) ||
                 (qual_in(ci, sh_subprocess, MOAT_ARRAY_LEN(sh_subprocess)) &&
                  IS(kw_get(c, ci, "shell"), "true"));
    if (!shell || !ci->npos) return;
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_puts(&b, "");
    TSNode a = ci->pos[0];
    if (moat__py_is_str(a)) {
        char *s = moat__py_str_value(c, a);
        moat_buf_puts(&b, s);
        free(s);
    } else if (IS(a, "list")) {
        uint32_t cnt = ts_node_named_child_count(a);
        for (uint32_t i = 0; i < cnt; i++) {
            TSNode e = ts_node_named_child(a, i);
            if (!moat__py_is_str(e)) continue;
            char *s = moat__py_str_value(c, e);
            moat_buf_printf(&b, " %s", s);
            free(s);
        }
    }
    bool hit = false;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(cmds) && !hit; i++)
        hit = strstr(b.data, cmds[i]) && strchr(b.data, '*');
    moat_buf_free(&b);
    if (hit) {
        char *msg = moat_xasprintf("Possible wildcard injection in call: %s", ci->qual);
        moat__py_report(c, MOAT_CODE_B609, ci->node, 0, 0, msg, NULL, NULL, NONE);
        free(msg);
    }
}

static void call_logging_listen(moat__py_ctx *c, const callinfo *ci)
{
    /* B612 */
    if (qual_is(ci, "logging.config.listen") && ts_node_is_null(kw_get(c, ci, "verify")))
        moat__py_report(c, MOAT_CODE_B612, ci->node, 0, 0, NULL, NULL, NULL, NONE);
}

/* Bandit's is_module_imported_exact: `import mod` (any alias) or `from mod import ...`. */
static bool imported_exact(const moat__py_ctx *c, const char *mod)
{
    for (size_t i = 0; i < c->nimp; i++)
        if (!strcmp(c->imp[i].qual, mod)) return true;
    return false;
}

static void call_torch(moat__py_ctx *c, const callinfo *ci)
{
    /* B614, as today's Bandit: torch.load and torch.serialization.load
     * unless weights_only=True; a non-literal weights_only lowers the
     * confidence to medium; torch.jit.load is TorchScript, not pickle */
    if (!qual_is(ci, "torch.load") && !qual_is(ci, "torch.serialization.load")) return;
    if (!imported_exact(c, "torch")) return;
    TSNode w = kw_get(c, ci, "weights_only");
    if (IS(w, "true")) return;
    bool literal = ts_node_is_null(w) || IS(w, "false") || IS(w, "none") || IS(w, "integer") ||
                   moat__py_is_str(w);
    moat__py_steps steps = {0};
    bool t = ci->npos && moat__py_tainted(c, ci->pos[0], &steps, 0);
    report_flow(c, MOAT_CODE_B614, ci, t ? H : 0, literal ? H : M, NULL, &steps);
}

static void call_huggingface(moat__py_ctx *c, const callinfo *ci)
{
    /* B615, as today's Bandit: from_pretrained (transformers),
     * load_dataset (datasets), hf_hub_download / snapshot_download
     * (huggingface_hub) without a revision= or commit_id= that looks like a
     * commit (7+ hex digits); local paths are not downloads */
    static const struct {
        const char *fn, *mod;
    } pats[] = {{"from_pretrained", "transformers"},
                {"load_dataset", "datasets"},
                {"hf_hub_download", "huggingface_hub"},
                {"snapshot_download", "huggingface_hub"},
                {"repository_id", "huggingface_hub"}};
    if (!ci->qual) return;
    const char *last = strrchr(ci->qual, '.');
    last = last ? last + 1 : ci->qual;
    const char *fn = NULL;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(pats) && !fn; i++)
        if (!strcmp(last, pats[i].fn) && qual_has_part(ci, pats[i].mod)) fn = pats[i].fn;
    if (!fn) return;
    if (!moat__py_imported_like(c, "transformers") && !moat__py_imported_like(c, "datasets") &&
        !moat__py_imported_like(c, "huggingface_hub"))
        return;
    TSNode rev = kw_get(c, ci, "revision");
    if (ts_node_is_null(rev)) rev = kw_get(c, ci, "commit_id");
    /* a revision that is not a literal (a variable, config["rev"]) cannot be
     * judged here: given the benefit of the doubt, as today's Bandit does */
    if (!ts_node_is_null(rev) && !moat__py_is_str(rev) && !IS(rev, "integer") && !IS(rev, "none") &&
        !IS(rev, "true") && !IS(rev, "false") && !IS(rev, "float"))
        return;
    if (moat__py_is_str(rev)) {
        char *r = moat__py_str_value(c, rev);
        size_t n = strlen(r);
        bool hex = n >= 7 && strspn(r, "0123456789abcdefABCDEF") == n;
        free(r);
        if (hex) return;
    }
    if (ci->npos && moat__py_is_str(ci->pos[0])) {
        char *p = moat__py_str_value(c, ci->pos[0]);
        bool local = !strncmp(p, "./", 2) || !strncmp(p, "../", 3) || p[0] == '/';
        free(p);
        if (local) return;
    }
    char *msg = moat_xasprintf("Unsafe Hugging Face Hub download without revision pinning in "
                               "%s().",
                               fn);
    moat__py_report(c, MOAT_CODE_B615, ci->node, 0, 0, msg, NULL, NULL, NONE);
    free(msg);
}

static void call_mako(moat__py_ctx *c, const callinfo *ci)
{
    /* B702 */
    if (qual_has_part(ci, "mako") && name_is(c, ci, "Template"))
        moat__py_report(c, MOAT_CODE_B702, ci->node, 0, 0, NULL, NULL, NULL, NONE);
}

/* ---- call summaries: request data into the project's own functions --------
 * A call that passes request data (or the request object) to a function of
 * the file, a method of the class (self.m()) or a function of another module
 * of the project is followed into it: the function is analysed once with its
 * parameters standing for the data (its summary: which parameter reaches
 * which sink, with the path inside, and whether it returns a parameter's
 * data), and each flow the call feeds is reported at the call with the whole
 * path: source, the call, the helper's steps, the sink. Nested up to
 * MOAT__PY_MAX_CALLS calls deep; recursion sees no summary. */

static void visit(moat__py_ctx *c, TSNode n);

void moat__py_summary_free(moat__py_summary *s)
{
    if (!s) return;
    for (size_t i = 0; i <= s->nflows; i++) {
        moat__py_flow *f = i < s->nflows ? &s->flows[i] : &s->ret;
        free(f->param);
        free(f->msg);
        for (size_t k = 0; k < f->nsteps; k++) {
            free(f->steps[k].what);
            free(f->steps[k].path);
        }
        free(f->steps);
    }
    free(s->flows);
    free(s->key);
    free(s);
}

/* A request object by its name or type: request, req, http_request, x: HttpRequest. */
static bool reqobj_param(moat__py_ctx *c, TSNode name, TSNode type)
{
    if (TEXT_IS(c, name, "request") || TEXT_IS(c, name, "req") || TEXT_IS(c, name, "http_request"))
        return true;
    if (ts_node_is_null(type)) return false;
    size_t len;
    const char *t = moat__py_text(c, type, &len);
    return len >= 7 && !memcmp(t + len - 7, "Request", 7);
}

typedef struct param {
    TSNode name, type;
    size_t index; /* SIZE_MAX: keyword-only */
} param;

static size_t params_of(TSNode fn, bool method, param *out, size_t max)
{
    TSNode params = FIELD(fn, "parameters");
    uint32_t cnt = ts_node_named_child_count(params);
    size_t n = 0, index = 0;
    bool kwonly = false, first = true;
    for (uint32_t i = 0; i < cnt && n < max; i++) {
        TSNode p = ts_node_named_child(params, i), name = p, type = NONE;
        if (IS(p, "list_splat_pattern") || IS(p, "keyword_separator")) {
            kwonly = true;
            continue;
        }
        if (IS(p, "typed_parameter")) {
            name = ts_node_named_child(p, 0);
            type = FIELD(p, "type");
        } else if (IS(p, "default_parameter") || IS(p, "typed_default_parameter")) {
            name = FIELD(p, "name");
            type = FIELD(p, "type");
        }
        if (!IS(name, "identifier")) continue;
        if (method && first) { /* self, cls */
            first = false;
            continue;
        }
        first = false;
        out[n++] = (param){name, type, kwonly ? SIZE_MAX : index++};
    }
    return n;
}

/* The function (or method) `name` defined directly in holder (the module or a
 * class body), decorated or not; a null node if none. */
static TSNode find_def(moat__py_ctx *c, TSNode holder, const char *name, size_t len)
{
    uint32_t cnt = ts_node_named_child_count(holder);
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode d = ts_node_named_child(holder, i);
        if (IS(d, "decorated_definition")) d = FIELD(d, "definition");
        if (!IS(d, "function_definition")) continue;
        size_t l;
        const char *t = moat__py_text(c, FIELD(d, "name"), &l);
        if (l == len && !memcmp(t, name, len)) return d;
    }
    return NONE;
}

static moat_code_rule rule_of(const char *id)
{
    for (size_t r = 0; r < MOAT_CODE__COUNT; r++)
        if (!strcmp(moat_audit_code_rules[r].id, id)) return (moat_code_rule)r;
    return MOAT_CODE__COUNT;
}

/* Moves steps[from..n) of a finding into a flow. */
static void flow_take_steps(moat__py_flow *f, moat_audit_step *steps, size_t from, size_t n)
{
    f->nsteps = n > from ? n - from : 0;
    f->steps = f->nsteps ? moat_xcalloc(f->nsteps, sizeof(*f->steps)) : NULL;
    for (size_t k = 0; k < f->nsteps; k++) {
        f->steps[k] = steps[from + k];
        steps[from + k].what = steps[from + k].path = NULL;
    }
}

/* Analyses fn with its parameters tainted; the summary is cached under key
 * (owned by the cache) in c->sums. NULL while being computed or too deep. */
static moat__py_summary *summary_compute(moat__py_ctx *c, TSNode fn, bool method, const char *key)
{
    for (size_t i = 0; i < c->nsums; i++)
        if (!strcmp(c->sums[i]->key, key)) return c->sums[i]->state == 2 ? c->sums[i] : NULL;
    if (c->calls >= MOAT__PY_MAX_CALLS || ts_node_is_null(fn)) return NULL;
    moat__py_summary *s = moat_xcalloc(1, sizeof(*s));
    s->key = moat_xstrdup(key);
    s->state = 1;
    if (c->nsums == c->capsums) {
        c->capsums = c->capsums ? 2 * c->capsums : 8;
        c->sums = moat_xrealloc(c->sums, c->capsums * sizeof(moat__py_summary *));
    }
    c->sums[c->nsums++] = s;

    param ps[32];
    size_t np = params_of(fn, method, ps, MOAT_ARRAY_LEN(ps));
    moat__py_scope scope = {0}, *oscope = c->scope, *oattrs = c->attrs;
    moat__py_var ret = {0}, *oret = c->ret;
    moat_audit_findings tmp = {0}, *oout = c->out;
    size_t osupp = c->res->suppressed, odepth = c->depth, ofirst = c->first_finding;
    TSNode ocls = c->cls;
    if (!method) {
        c->cls = NONE;
        c->attrs = NULL;
    }
    for (size_t i = 0; i < np; i++) {
        size_t len;
        const char *t = moat__py_text(c, ps[i].name, &len);
        moat__py_var *v = moat__py_var_get(&scope, t, len, true);
        if (reqobj_param(c, ps[i].name, ps[i].type)) {
            v->reqobj = true;
            scope.nreqobj++;
        } else
            v->tainted = v->nonconst = true;
        moat__py_steps_add(&v->steps, moat__py_line(ps[i].name),
                           moat_xasprintf("%c%.*s", MOAT__PY_PARAM_MARK, (int)len, t));
    }
    c->scope = &scope;
    c->ret = &ret;
    c->out = &tmp;
    c->first_finding = 0;
    c->calls++;
    TSNode body = FIELD(fn, "body");
    if (!ts_node_is_null(body) && c->depth < MOAT__PY_MAX_DEPTH - 1) visit(c, body);
    c->calls--;
    c->depth = odepth;
    c->scope = oscope;
    c->ret = oret;
    c->out = oout;
    c->first_finding = ofirst;
    c->res->suppressed = osupp;
    c->cls = ocls;
    c->attrs = oattrs;

    for (size_t i = 0; i < tmp.len; i++) {
        moat_audit_finding *f = &tmp.v[i];
        if (!f->nsteps || !f->steps[0].what || f->steps[0].what[0] != MOAT__PY_PARAM_MARK) continue;
        const char *pname = f->steps[0].what + 1;
        moat_code_rule rule = rule_of(f->rule);
        if (rule == MOAT_CODE__COUNT) continue;
        bool dup = false;
        for (size_t k = 0; k < s->nflows && !dup; k++)
            dup = s->flows[k].rule == rule && !strcmp(s->flows[k].param, pname);
        if (dup) continue;
        s->flows = moat_xrealloc(s->flows, (s->nflows + 1) * sizeof(*s->flows));
        moat__py_flow *fl = &s->flows[s->nflows++];
        memset(fl, 0, sizeof(*fl));
        fl->param = moat_xstrdup(pname);
        fl->index = SIZE_MAX;
        for (size_t k = 0; k < np; k++)
            if (TEXT_IS(c, ps[k].name, pname)) {
                fl->index = ps[k].index;
                fl->reqobj = reqobj_param(c, ps[k].name, ps[k].type);
            }
        fl->rule = rule;
        fl->sev = f->severity;
        fl->conf = f->confidence;
        fl->msg = moat_xstrdup(f->message);
        flow_take_steps(fl, f->steps, 1, f->nsteps);
    }
    if (ret.tainted && ret.steps.len && ret.steps.v[0].what[0] == MOAT__PY_PARAM_MARK) {
        const char *pname = ret.steps.v[0].what + 1;
        s->has_ret = true;
        s->ret.param = moat_xstrdup(pname);
        s->ret.index = SIZE_MAX;
        for (size_t k = 0; k < np; k++)
            if (TEXT_IS(c, ps[k].name, pname)) {
                s->ret.index = ps[k].index;
                s->ret.reqobj = reqobj_param(c, ps[k].name, ps[k].type);
            }
        flow_take_steps(&s->ret, ret.steps.v, 1, ret.steps.len);
        for (size_t k = 1; k < ret.steps.len; k++) /* taken: not freed twice */
            ret.steps.v[k].what = ret.steps.v[k].path = NULL;
    }
    moat__py_steps_free(&ret.steps);
    moat__py_scope_free(&scope);
    moat_audit_findings_free(&tmp);
    s->state = 2;
    return s;
}

static moat__py_summary *project_summary(moat__py_ctx *c, const char *qual, char **label);

/* The summary of the function a call calls, when it is the project's: a
 * function of this file, a method of the class (self.m(), cls.m()), or a
 * function of another module of the tree. label: "name()" for the path. */
static moat__py_summary *callee_summary(moat__py_ctx *c, const callinfo *ci, char **label)
{
    size_t len;
    if (IS(ci->func, "identifier")) {
        const char *t = moat__py_text(c, ci->func, &len);
        TSNode fn = find_def(c, c->root, t, len);
        if (!ts_node_is_null(fn)) {
            char *key = moat_xstrndup(t, len);
            moat__py_summary *s = summary_compute(c, fn, false, key);
            *label = moat_xasprintf("%s()", key);
            free(key);
            return s;
        }
    } else if (IS(ci->func, "attribute") && !ts_node_is_null(c->cls)) {
        TSNode obj = FIELD(ci->func, "object");
        if (TEXT_IS(c, obj, "self") || TEXT_IS(c, obj, "cls")) {
            const char *t = moat__py_text(c, ci->name, &len);
            TSNode fn = find_def(c, FIELD(c->cls, "body"), t, len);
            if (!ts_node_is_null(fn)) {
                size_t cl;
                const char *cn = moat__py_text(c, FIELD(c->cls, "name"), &cl);
                char *key = moat_xasprintf("%.*s.%.*s", (int)cl, cn, (int)len, t);
                moat__py_summary *s = summary_compute(c, fn, true, key);
                *label = moat_xasprintf("self.%.*s()", (int)len, t);
                free(key);
                return s;
            }
            return NULL;
        }
    }
    if (ci->qual && c->o && c->o->project && strchr(ci->qual, '.'))
        return project_summary(c, ci->qual, label);
    return NULL;
}

/* The argument a flow's parameter gets at this call. */
static TSNode flow_arg(const moat__py_ctx *c, const callinfo *ci, const moat__py_flow *f)
{
    TSNode a = kw_get(c, ci, f->param);
    if (ts_node_is_null(a) && f->index < ci->npos) a = ci->pos[f->index];
    if (IS(a, "list_splat") || IS(a, "dictionary_splat")) return NONE;
    return a;
}

/* steps (from the caller) + "passed to label as p" + the flow's own steps. */
static void flow_steps(moat__py_steps *steps, const callinfo *ci, const char *label,
                       const moat__py_flow *f)
{
    moat__py_steps_add(steps, moat__py_line(ci->node),
                       moat_xasprintf("%s passed to %s as %s",
                                      f->reqobj ? "the request object" : "the data", label,
                                      f->param));
    for (size_t k = 0; k < f->nsteps; k++) {
        moat__py_steps_add(steps, f->steps[k].line, moat_xstrdup(f->steps[k].what));
        if (f->steps[k].path) steps->v[steps->len - 1].path = moat_xstrdup(f->steps[k].path);
    }
}

static bool arg_carries(moat__py_ctx *c, TSNode a)
{
    moat__py_steps tmp = {0};
    bool hit = moat__py_reqobj(c, a, &tmp) || moat__py_tainted(c, a, &tmp, 0);
    moat__py_steps_free(&tmp);
    return hit;
}

/* Whether an argument list may hold a request object: one of its arguments
 * (or keyword values) is `request`, `self.request` or a request parameter. */
static bool args_reqobj(moat__py_ctx *c, TSNode args)
{
    moat__py_steps tmp = {0};
    bool hit = false;
    uint32_t cnt = ts_node_named_child_count(args);
    for (uint32_t i = 0; i < cnt && !hit; i++) {
        TSNode a = ts_node_named_child(args, i);
        if (IS(a, "keyword_argument")) a = FIELD(a, "value");
        if (IS(a, "identifier") || IS(a, "attribute")) hit = moat__py_reqobj(c, a, &tmp);
    }
    moat__py_steps_free(&tmp);
    return hit;
}

static void call_summaries(moat__py_ctx *c, const callinfo *ci)
{
    if (!ci->npos && !ci->nkw) return;
    /* one look at the whole argument list first: most calls carry nothing */
    TSNode args = FIELD(ci->node, "arguments");
    moat__py_steps tmp = {0};
    bool maybe = moat__py_tainted(c, args, &tmp, 0) || args_reqobj(c, args);
    moat__py_steps_free(&tmp);
    if (!maybe) return;
    bool any = false;
    for (size_t i = 0; i < ci->npos && !any; i++)
        any = arg_carries(c, ci->pos[i]);
    for (size_t i = 0; i < ci->nkw && !any; i++)
        any = arg_carries(c, ci->kw[i].value);
    if (!any) return;
    char *label = NULL;
    moat__py_summary *s = callee_summary(c, ci, &label);
    for (size_t i = 0; s && i < s->nflows; i++) {
        const moat__py_flow *f = &s->flows[i];
        TSNode a = flow_arg(c, ci, f);
        if (ts_node_is_null(a)) continue;
        moat__py_steps steps = {0};
        bool hit = f->reqobj ? moat__py_reqobj(c, a, &steps) : moat__py_tainted(c, a, &steps, 0);
        if (hit) {
            flow_steps(&steps, ci, label, f);
            moat__py_report(c, f->rule, ci->node, f->sev, f->conf, f->msg, &steps, NULL, NONE);
        }
        moat__py_steps_free(&steps);
    }
    free(label);
}

bool moat__py_call_returns(moat__py_ctx *c, TSNode call, moat__py_steps *steps, int depth)
{
    (void)depth;
    TSNode args = FIELD(call, "arguments");
    if (!IS(args, "argument_list") || !args_reqobj(c, args)) return false;
    callinfo ci;
    call_init(c, call, &ci);
    bool any = false, hit = false;
    moat__py_steps tmp = {0};
    for (size_t i = 0; i < ci.npos && !any; i++)
        any = moat__py_reqobj(c, ci.pos[i], &tmp);
    for (size_t i = 0; i < ci.nkw && !any; i++)
        any = moat__py_reqobj(c, ci.kw[i].value, &tmp);
    moat__py_steps_free(&tmp);
    char *label = NULL;
    moat__py_summary *s = any ? callee_summary(c, &ci, &label) : NULL;
    if (s && s->has_ret && s->ret.reqobj) {
        TSNode a = flow_arg(c, &ci, &s->ret);
        moat__py_steps st = {0};
        if (!ts_node_is_null(a) && moat__py_reqobj(c, a, &st)) {
            flow_steps(&st, &ci, label, &s->ret);
            moat__py_steps_add(&st, moat__py_line(call), moat_xasprintf("returned by %s", label));
            moat__py_steps_free(steps);
            *steps = st;
            hit = true;
        } else {
            moat__py_steps_free(&st);
        }
    }
    free(label);
    free(ci.qual);
    return hit;
}

/* ---- the project: modules of the tree, summaries across them ------------- */

typedef struct project_mod {
    char *name; /* "app.db" (app/db.py, app/db/__init__.py) */
    char *path;
} project_mod;

struct moat_audit_project {
    project_mod *mods;
    size_t nmods;
    pthread_mutex_t lock;
    moat__py_summary **cache; /* key "path:function" */
    size_t ncache, capcache;
};

moat_audit_project *moat_audit_project_new(const char *root, const char *const *paths, size_t n)
{
    moat_audit_project *p = moat_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->mods = moat_xcalloc(n ? n : 1, sizeof(*p->mods));
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        rl--;
    for (size_t i = 0; i < n; i++) {
        const char *rel = paths[i];
        if (!strncmp(rel, root, rl) && rel[rl] == '/') rel += rl + 1;
        size_t len = strlen(rel);
        if (len < 4 || strcmp(rel + len - 3, ".py") != 0) continue;
        char *name = moat_xstrndup(rel, len - 3);
        size_t nl = strlen(name);
        if (nl >= 9 && !strcmp(name + nl - 9, "/__init__"))
            name[nl - 9] = 0;
        else if (!strcmp(name, "__init__"))
            name[0] = 0;
        for (char *q = name; *q; q++)
            if (*q == '/') *q = '.';
        p->mods[p->nmods++] = (project_mod){name, moat_xstrdup(paths[i])};
    }
    return p;
}

void moat_audit_project_free(moat_audit_project *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nmods; i++) {
        free(p->mods[i].name);
        free(p->mods[i].path);
    }
    free(p->mods);
    for (size_t i = 0; i < p->ncache; i++)
        moat__py_summary_free(p->cache[i]);
    free(p->cache);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static const char *project_module_of(const moat_audit_project *p, const char *path)
{
    for (size_t i = 0; p && i < p->nmods; i++)
        if (!strcmp(p->mods[i].path, path)) return p->mods[i].name;
    return NULL;
}

/* The module's file: its exact name, else the shortest whose name ends in
 * ".NAME" (the tree may be audited from above its import root). */
static const project_mod *project_find(const moat_audit_project *p, const char *name)
{
    const project_mod *best = NULL;
    size_t n = strlen(name);
    for (size_t i = 0; i < p->nmods; i++) {
        const char *m = p->mods[i].name;
        size_t ml = strlen(m);
        if (!strcmp(m, name)) return &p->mods[i];
        if (ml > n && m[ml - n - 1] == '.' && !strcmp(m + ml - n, name) &&
            (!best || ml < strlen(best->name)))
            best = &p->mods[i];
    }
    return best;
}

static moat__py_summary *project_lookup(moat_audit_project *p, const char *key)
{
    moat__py_summary *s = NULL;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->ncache && !s; i++)
        if (!strcmp(p->cache[i]->key, key)) s = p->cache[i];
    pthread_mutex_unlock(&p->lock);
    return s;
}

static void analyse_init(moat__py_ctx *c, TSNode root);
static void analyse_done(moat__py_ctx *c);

/* The summary of module:function of another file, computed there once (its
 * steps carry that file's path). */
static moat__py_summary *project_summary(moat__py_ctx *c, const char *qual, char **label)
{
    moat_audit_project *p = c->o->project;
    size_t dots = strspn(qual, ".");
    char *full;
    if (dots) { /* relative to this file's package */
        if (!c->modname) return NULL;
        char *base = moat_xstrdup(c->modname);
        bool pkg = false; /* an __init__.py is its own package */
        size_t bl = strlen(c->path);
        if (bl >= 11 && !strcmp(c->path + bl - 11, "__init__.py")) pkg = true;
        for (size_t k = pkg ? 1 : 0; k < dots; k++) {
            char *dot = strrchr(base, '.');
            if (dot)
                *dot = 0;
            else
                base[0] = 0;
        }
        full = base[0] ? moat_xasprintf("%s.%s", base, qual + dots) : moat_xstrdup(qual + dots);
        free(base);
    } else {
        full = moat_xstrdup(qual);
    }
    char *dot = strrchr(full, '.');
    if (!dot) {
        free(full);
        return NULL;
    }
    *dot = 0;
    const char *fname = dot + 1;
    const project_mod *m = project_find(p, full);
    if (!m || !strcmp(m->path, c->path)) {
        free(full);
        return NULL;
    }
    char *key = moat_xasprintf("%s:%s", m->path, fname);
    moat__py_summary *s = project_lookup(p, key);
    if (!s && c->calls < MOAT__PY_MAX_CALLS) {
        char *src = NULL;
        size_t len = 0;
        if (moat_read_file(m->path, &src, &len) == 0 && len < UINT32_MAX / 2) {
            TSTree *tree = moat__ts_python_parse(src, (uint32_t)len);
            moat_audit_findings out = {0};
            moat_audit_file_result res = {0};
            moat__py_ctx d = {.path = m->path,
                              .src = src,
                              .len = len,
                              .o = c->o,
                              .out = &out,
                              .res = &res,
                              .calls = c->calls + 1,
                              .modname = m->name};
            if (tree) {
                analyse_init(&d, ts_tree_root_node(tree));
                TSNode fn = find_def(&d, d.root, fname, strlen(fname));
                moat__py_summary *ds = summary_compute(&d, fn, false, fname);
                s = moat_xcalloc(1, sizeof(*s));
                s->key = moat_xstrdup(key);
                s->state = 2;
                if (ds) { /* move it, with the file's path on every step */
                    s->flows = ds->flows;
                    s->nflows = ds->nflows;
                    s->ret = ds->ret;
                    s->has_ret = ds->has_ret;
                    ds->flows = NULL;
                    ds->nflows = 0;
                    memset(&ds->ret, 0, sizeof(ds->ret));
                    for (size_t i = 0; i <= s->nflows; i++) {
                        moat__py_flow *f = i < s->nflows ? &s->flows[i] : &s->ret;
                        for (size_t k = 0; k < f->nsteps; k++)
                            if (!f->steps[k].path) f->steps[k].path = moat_xstrdup(m->path);
                    }
                }
                analyse_done(&d);
                ts_tree_delete(tree);
            }
            moat_audit_findings_free(&out);
            moat_audit_file_result_free(&res);
        }
        free(src);
        if (s) {
            pthread_mutex_lock(&p->lock);
            moat__py_summary *other = NULL;
            for (size_t i = 0; i < p->ncache && !other; i++)
                if (!strcmp(p->cache[i]->key, key)) other = p->cache[i];
            if (other) {
                moat__py_summary_free(s);
                s = other;
            } else {
                if (p->ncache == p->capcache) {
                    p->capcache = p->capcache ? 2 * p->capcache : 16;
                    p->cache = moat_xrealloc(p->cache, p->capcache * sizeof(moat__py_summary *));
                }
                p->cache[p->ncache++] = s;
            }
            pthread_mutex_unlock(&p->lock);
        }
    }
    if (s) *label = moat_xasprintf("%s.%s()", m->name, fname);
    free(key);
    free(full);
    return s;
}

typedef struct call_family {
    void (*check)(moat__py_ctx *c, const callinfo *ci);
    moat_code_rule rules[40];
    size_t nrules;
} call_family;

#define FAMILY(fn, ...)                                                                            \
    {                                                                                              \
        fn, {__VA_ARGS__}, sizeof((moat_code_rule[]){__VA_ARGS__}) / sizeof(moat_code_rule)        \
    }

static const call_family call_families[] = {
    FAMILY(check_blacklist, MOAT_CODE_B301, MOAT_CODE_B302, MOAT_CODE_B303, MOAT_CODE_B304,
           MOAT_CODE_B305, MOAT_CODE_B306, MOAT_CODE_B307, MOAT_CODE_B308, MOAT_CODE_B310,
           MOAT_CODE_B311, MOAT_CODE_B312, MOAT_CODE_B313, MOAT_CODE_B314, MOAT_CODE_B315,
           MOAT_CODE_B316, MOAT_CODE_B317, MOAT_CODE_B318, MOAT_CODE_B319, MOAT_CODE_B321,
           MOAT_CODE_B323, MOAT_CODE_B401, MOAT_CODE_B402, MOAT_CODE_B403, MOAT_CODE_B404,
           MOAT_CODE_B405, MOAT_CODE_B406, MOAT_CODE_B407, MOAT_CODE_B408, MOAT_CODE_B409,
           MOAT_CODE_B411, MOAT_CODE_B412, MOAT_CODE_B413, MOAT_CODE_B415),
    FAMILY(call_chmod, MOAT_CODE_B103),
    FAMILY(call_weak_key, MOAT_CODE_B505),
    FAMILY(call_paramiko, MOAT_CODE_B507, MOAT_CODE_B601),
    FAMILY(call_snmp, MOAT_CODE_B508, MOAT_CODE_B509),
    FAMILY(call_wildcard, MOAT_CODE_B609),
    FAMILY(call_logging_listen, MOAT_CODE_B612),
    FAMILY(call_torch, MOAT_CODE_B614),
    FAMILY(call_huggingface, MOAT_CODE_B615),
    FAMILY(call_mako, MOAT_CODE_B702),
    FAMILY(call_summaries, MOAT_CODE_MOAT_C101, MOAT_CODE_MOAT_C106, MOAT_CODE_MOAT_C107,
           MOAT_CODE_MOAT_C108, MOAT_CODE_MOAT_C110, MOAT_CODE_B608, MOAT_CODE_B602, MOAT_CODE_B603,
           MOAT_CODE_B605, MOAT_CODE_B606, MOAT_CODE_B307, MOAT_CODE_B102, MOAT_CODE_B301,
           MOAT_CODE_B302, MOAT_CODE_B506, MOAT_CODE_B610, MOAT_CODE_B611, MOAT_CODE_B703,
           MOAT_CODE_B704, MOAT_CODE_B601, MOAT_CODE_B614),
    FAMILY(check_shell, MOAT_CODE_B602, MOAT_CODE_B603, MOAT_CODE_B604, MOAT_CODE_B605,
           MOAT_CODE_B606, MOAT_CODE_B607),
    FAMILY(call_http, MOAT_CODE_B501, MOAT_CODE_B113, MOAT_CODE_MOAT_C108),
    FAMILY(call_flask_debug, MOAT_CODE_B201),
    FAMILY(call_tarfile, MOAT_CODE_B202),
    FAMILY(call_weak_hash, MOAT_CODE_B324),
    FAMILY(call_tls, MOAT_CODE_B502, MOAT_CODE_B504),
    FAMILY(call_yaml, MOAT_CODE_B506),
    FAMILY(call_exec, MOAT_CODE_B102),
    FAMILY(call_django_extra, MOAT_CODE_B610),
    FAMILY(call_rawsql, MOAT_CODE_B611),
    FAMILY(call_jinja2, MOAT_CODE_B701),
    FAMILY(call_mark_safe, MOAT_CODE_B703),
    FAMILY(call_markup, MOAT_CODE_B704),
    FAMILY(call_keywords, MOAT_CODE_B106, MOAT_CODE_MOAT_C105, MOAT_CODE_MOAT_C109),
    FAMILY(call_ssti, MOAT_CODE_MOAT_C101),
    FAMILY(call_csrf_call, MOAT_CODE_MOAT_C104),
    FAMILY(call_redirect, MOAT_CODE_MOAT_C106),
    FAMILY(call_path, MOAT_CODE_MOAT_C107),
    FAMILY(call_sql_call, MOAT_CODE_MOAT_C110),
};
#undef FAMILY

/* Every call goes through the families of call rules; a family none of
 * whose rules is enabled is not run (ruff's is_rule_enabled). */
static void check_calls(moat__py_ctx *c, TSNode n)
{
    callinfo ci;
    call_init(c, n, &ci);
    for (size_t i = 0; i < MOAT_ARRAY_LEN(call_families); i++) {
        const call_family *f = &call_families[i];
        if (any_enabled(c, f->rules, f->nrules)) f->check(c, &ci);
    }
    free(ci.qual);
}

/* ---- B608: SQL built from strings --------------------------------------- */

static bool is_concat(moat__py_ctx *c, TSNode n)
{
    if (!IS(n, "binary_operator")) return false;
    TSNode op = FIELD(n, "operator");
    return TEXT_IS(c, op, "+") || TEXT_IS(c, op, "%");
}

static void literal_parts(moat__py_ctx *c, TSNode n, moat_buf *b, int depth)
{
    if (depth > 64) return;
    if (IS(n, "string") || IS(n, "concatenated_string")) {
        char *s = moat__py_str_value(c, n);
        moat_buf_puts(b, s);
        moat_buf_putc(b, ' ');
        free(s);
    } else if (is_concat(c, n) || IS(n, "parenthesized_expression")) {
        uint32_t cnt = ts_node_named_child_count(n);
        for (uint32_t i = 0; i < cnt; i++)
            literal_parts(c, ts_node_named_child(n, i), b, depth + 1);
    }
}

/* Whether a string-building node's literal text reads as SQL (Bandit's
 * SIMPLE_SQL_RE: "VALUES(" with no space counts); *replace (may be NULL) is
 * set for "...".replace(...), which Bandit reports with low confidence. */
static bool sql_text_ex(moat__py_ctx *c, TSNode n, bool *replace)
{
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_puts(&b, "");
    if (replace) *replace = false;
    if (is_concat(c, n)) {
        literal_parts(c, n, &b, 0);
    } else if (IS(n, "call")) {
        TSNode fn = FIELD(n, "function");
        bool fmt = IS(fn, "attribute") && TEXT_IS(c, FIELD(fn, "attribute"), "format");
        bool rep = IS(fn, "attribute") && TEXT_IS(c, FIELD(fn, "attribute"), "replace");
        if ((fmt || rep) &&
            (IS(FIELD(fn, "object"), "string") || IS(FIELD(fn, "object"), "concatenated_string"))) {
            literal_parts(c, FIELD(fn, "object"), &b, 0);
            if (replace) *replace = rep;
        }
    } else if ((IS(n, "string") || IS(n, "concatenated_string")) && !moat__py_is_str(n)) {
        /* f-strings, alone or with plain literals ("SELECT * " f"FROM {t}") */
        literal_parts(c, n, &b, 0);
    }
    regex_init();
    bool m = b.len && regexec(&sql_re, b.data, 0, NULL, 0) == 0;
    moat_buf_free(&b);
    return m;
}

static bool sql_text(moat__py_ctx *c, TSNode n)
{
    return sql_text_ex(c, n, NULL);
}

static bool sql_built(moat__py_ctx *c, TSNode n)
{
    return sql_text(c, n) && !moat__py_is_const(n, 0);
}

static void check_sql_string(moat__py_ctx *c, TSNode n)
{
    if (!moat__py_enabled(c, MOAT_CODE_B608)) return;
    /* Only the outermost node of a chain of + / % reports (the stack's top
     * is n itself). */
    TSNode parent = c->depth > 1 ? c->stack[c->depth - 2] : NONE;
    if (is_concat(c, parent)) return;
    if (IS(parent, "parenthesized_expression") && c->depth > 2 &&
        is_concat(c, c->stack[c->depth - 3]))
        return;
    if (IS(parent, "concatenated_string")) return; /* the whole literal reports */
    bool replace = false;
    if (!sql_text_ex(c, n, &replace)) return;
    /* Inside execute()/executemany(): Bandit's medium confidence (not for
     * .replace(), low). */
    moat_audit_level conf = L;
    if (IS(parent, "argument_list") && c->depth > 2 && !replace) {
        TSNode call = c->stack[c->depth - 3];
        TSNode fn = FIELD(call, "function");
        TSNode name = IS(fn, "attribute") ? FIELD(fn, "attribute") : fn;
        if (TEXT_IS(c, name, "execute") || TEXT_IS(c, name, "executemany")) conf = M;
    }
    moat__py_steps steps = {0};
    if (moat__py_tainted(c, n, &steps, 0)) {
        moat__py_report(c, MOAT_CODE_B608, n, H, H,
                        "SQL injection: request data is built into the query text.", &steps,
                        "the query", NONE);
        moat__py_steps_free(&steps);
        return;
    }
    moat__py_report(c, MOAT_CODE_B608, n, 0, conf, NULL, NULL, NULL, NONE);
}

/* ---- assignments ------------------------------------------------------- */

static bool subscript_key_is(moat__py_ctx *c, TSNode n, const char *key)
{
    if (!IS(n, "subscript")) return false;
    TSNode k = FIELD(n, "subscript");
    if (!moat__py_is_str(k)) return false;
    char *s = moat__py_str_value(c, k);
    bool m = strcmp(s, key) == 0;
    free(s);
    return m;
}

/* Django's security.W009 test: shorter than 50, fewer than 5 distinct
 * characters, or django-insecure-. */
static bool weak_literal_key(moat__py_ctx *c, TSNode v)
{
    char *s = moat__py_str_value(c, v);
    size_t n = strlen(s), uniq = 0;
    bool seen[256] = {0};
    for (size_t i = 0; i < n; i++)
        if (!seen[(unsigned char)s[i]]) {
            seen[(unsigned char)s[i]] = true;
            uniq++;
        }
    bool weak = n < 50 || uniq < 5 || strncmp(s, "django-insecure", 15) == 0;
    free(s);
    return weak;
}

static bool secret_key_target(moat__py_ctx *c, TSNode t)
{
    if (IS(t, "identifier")) return TEXT_IS(c, t, "SECRET_KEY");
    if (IS(t, "attribute")) {
        TSNode a = FIELD(t, "attribute");
        return TEXT_IS(c, a, "secret_key") || TEXT_IS(c, a, "SECRET_KEY");
    }
    return subscript_key_is(c, t, "SECRET_KEY");
}

static void taint_target(moat__py_ctx *c, TSNode t, bool tainted, bool nonconst,
                         const moat__py_steps *steps, int depth)
{
    if (!c->scope || depth > 8) return;
    if (IS(t, "identifier")) {
        size_t len;
        const char *name = moat__py_text(c, t, &len);
        moat__py_var *v = moat__py_var_get(c->scope, name, len, true);
        if (nonconst) v->nonconst = true;
        if (tainted) {
            moat__py_steps_copy(&v->steps, steps);
            moat__py_steps_add(&v->steps, moat__py_line(t),
                               moat_xasprintf("assigned to %.*s", (int)len, name));
            v->tainted = true;
        }
        return;
    }
    if (IS(t, "attribute") && tainted) {
        /* obj.x = data: obj.x carries it in this function; self.x in the class */
        size_t len;
        const char *name = moat__py_text(c, t, &len);
        if (len > 128 || memchr(name, '(', len) || memchr(name, '[', len)) return;
        moat__py_var *v = moat__py_var_get(c->scope, name, len, true);
        moat__py_steps_copy(&v->steps, steps);
        moat__py_steps_add(&v->steps, moat__py_line(t),
                           moat_xasprintf("assigned to %.*s", (int)len, name));
        v->tainted = v->nonconst = true;
        if (c->attrs && len > 5 && !memcmp(name, "self.", 5)) {
            moat__py_var *a = moat__py_var_get(c->attrs, name, len, true);
            if (!a->tainted) {
                moat__py_steps_copy(&a->steps, &v->steps);
                a->tainted = true;
            }
        }
        return;
    }
    if (IS(t, "pattern_list") || IS(t, "tuple_pattern") || IS(t, "list_pattern") ||
        IS(t, "tuple") || IS(t, "list")) {
        uint32_t cnt = ts_node_named_child_count(t);
        for (uint32_t i = 0; i < cnt; i++)
            taint_target(c, ts_node_named_child(t, i), tainted, nonconst, steps, depth + 1);
    }
}

static void check_assignment(moat__py_ctx *c, TSNode n)
{
    TSNode left = FIELD(n, "left"), right = FIELD(n, "right");
    if (ts_node_is_null(right)) return;
    /* chained a = b = value: the value is the innermost right */
    while (IS(right, "assignment"))
        right = FIELD(right, "right");
    if (ts_node_is_null(right)) return;
    moat__py_steps steps = {0};
    bool tainted = moat__py_tainted(c, right, &steps, 0);
    bool augmented = IS(n, "augmented_assignment");
    /* a constant, or built only from constants (secure_value): x += " y" keeps x constant */
    taint_target(c, left, tainted, !secure_value(c, right, 0), &steps, 0);
    moat__py_steps_free(&steps);
    if (augmented) return;

    bool str = moat__py_is_str(right);
    /* B105: password = "..." and d["password"] = "..." */
    if (str &&
        (IS(left, "identifier") ||
         (IS(left, "attribute") && IS(FIELD(left, "attribute"), "identifier"))) &&
        password_name(c, IS(left, "attribute") ? FIELD(left, "attribute") : left))
        moat__py_report(c, MOAT_CODE_B105, right, 0, 0, NULL, NULL, NULL, right);
    if (str && IS(left, "subscript") && moat__py_is_str(FIELD(left, "subscript"))) {
        TSNode k = FIELD(left, "subscript");
        char *ks = moat__py_str_value(c, k);
        regex_init();
        bool m = regexec(&password_re, ks, 0, NULL, 0) == 0;
        free(ks);
        if (m) moat__py_report(c, MOAT_CODE_B105, right, 0, 0, NULL, NULL, NULL, right);
    }
    /* MOAT-C109 */
    if (secret_key_target(c, left)) {
        if (str && ts_node_end_byte(right) - ts_node_start_byte(right) > 2) {
            size_t before = c->out->len;
            moat__py_report(c, MOAT_CODE_MOAT_C109, right, 0, 0, NULL, NULL, NULL, right);
            if (c->out->len > before && weak_literal_key(c, right)) {
                /* what Django's check --deploy calls it; settings leaves it
                 * to this finding in a combined run */
                moat_audit_finding *f = &c->out->v[before];
                f->aliases = moat_xstrdup("security.W009");
            }
        } else if (IS(right, "call")) {
            /* os.environ.get("SECRET_KEY", "fallback"): the fallback is in the repository */
            char *q = moat__py_qualname(c, FIELD(right, "function"));
            TSNode args = FIELD(right, "arguments");
            if (q && (!strcmp(q, "os.environ.get") || !strcmp(q, "os.getenv")) &&
                ts_node_named_child_count(args) >= 2) {
                TSNode fb = ts_node_named_child(args, 1);
                if (moat__py_is_str(fb) && ts_node_end_byte(fb) - ts_node_start_byte(fb) > 2)
                    moat__py_report(c, MOAT_CODE_MOAT_C109, fb, H, M,
                                    "Hard-coded SECRET_KEY fallback: used whenever the "
                                    "environment variable is missing.",
                                    NULL, NULL, fb);
            }
            free(q);
        }
    }
    /* MOAT-C105 */
    if (IS(right, "false") && ((IS(left, "identifier") && TEXT_IS(c, left, "WTF_CSRF_ENABLED")) ||
                               subscript_key_is(c, left, "WTF_CSRF_ENABLED")))
        moat__py_report(c, MOAT_CODE_MOAT_C105, n, 0, 0, NULL, NULL, NULL, NONE);
}

/* ---- functions ------------------------------------------------------------ */

static const char *const route_methods[] = {"route",  "get",   "post",      "put",
                                            "delete", "patch", "api_route", "websocket"};

/* Whether the decorated function is a Flask/FastAPI route: its parameters
 * come from the URL or the query. Returns the route's path literal (may be
 * a null node). */
static bool is_route(moat__py_ctx *c, TSNode decorated, TSNode *path)
{
    uint32_t cnt = ts_node_named_child_count(decorated);
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode d = ts_node_named_child(decorated, i);
        if (!IS(d, "decorator")) continue;
        TSNode e = ts_node_named_child(d, 0);
        if (!IS(e, "call")) continue;
        TSNode fn = FIELD(e, "function");
        if (!IS(fn, "attribute")) continue;
        TSNode a = FIELD(fn, "attribute");
        for (size_t k = 0; k < MOAT_ARRAY_LEN(route_methods); k++)
            if (TEXT_IS(c, a, route_methods[k])) {
                TSNode args = FIELD(e, "arguments");
                *path = ts_node_named_child_count(args) ? ts_node_named_child(args, 0) : NONE;
                return true;
            }
    }
    return false;
}

static bool typed_safe(moat__py_ctx *c, TSNode type)
{
    static const char *const safe[] = {"int",       "float", "bool",    "UUID",
                                       "uuid.UUID", "date",  "datetime"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(safe); i++)
        if (TEXT_IS(c, type, safe[i])) return true;
    return false;
}

static void taint_route_params(moat__py_ctx *c, TSNode fn, TSNode path)
{
    char *route = moat__py_is_str(path) ? moat__py_str_value(c, path) : NULL;
    TSNode params = FIELD(fn, "parameters");
    uint32_t cnt = ts_node_named_child_count(params);
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode p = ts_node_named_child(params, i), name = p, type = NONE, def = NONE;
        if (IS(p, "typed_parameter")) {
            name = ts_node_named_child(p, 0);
            type = FIELD(p, "type");
        } else if (IS(p, "default_parameter") || IS(p, "typed_default_parameter")) {
            name = FIELD(p, "name");
            type = FIELD(p, "type");
            def = FIELD(p, "value");
        }
        if (!IS(name, "identifier")) continue;
        size_t len;
        const char *t = moat__py_text(c, name, &len);
        if (TEXT_IS(c, name, "self") || TEXT_IS(c, name, "cls") || TEXT_IS(c, name, "request") ||
            (!ts_node_is_null(type) && typed_safe(c, type)))
            continue;
        if (IS(def, "call")) {
            /* FastAPI: Depends()/Security() are the app's own objects; Query(),
             * Path(), Body(), Form(), Header(), Cookie() are request data */
            TSNode f = FIELD(def, "function");
            TSNode last = IS(f, "attribute") ? FIELD(f, "attribute") : f;
            if (TEXT_IS(c, last, "Depends") || TEXT_IS(c, last, "Security")) continue;
        }
        if (route) {
            /* Flask converters that only match numbers: <int:id>, <float:x> */
            char *a = moat_xasprintf("int:%.*s>", (int)len, t);
            char *b = moat_xasprintf("float:%.*s>", (int)len, t);
            bool numeric = strstr(route, a) || strstr(route, b);
            free(a);
            free(b);
            if (numeric) continue;
        }
        moat__py_var *v = moat__py_var_get(c->scope, t, len, true);
        v->tainted = v->nonconst = true;
        moat__py_steps_free(&v->steps);
        moat__py_steps_add(&v->steps, moat__py_line(name),
                           moat_xasprintf("request data: route parameter %.*s", (int)len, t));
    }
    free(route);
}

static void check_function(moat__py_ctx *c, TSNode fn)
{
    if (!FAMILY_ENABLED(c, MOAT_CODE_B107, MOAT_CODE_B503)) return;
    TSNode params = FIELD(fn, "parameters");
    uint32_t cnt = ts_node_named_child_count(params);
    regex_init();
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode p = ts_node_named_child(params, i);
        if (!IS(p, "default_parameter") && !IS(p, "typed_default_parameter")) continue;
        TSNode name = FIELD(p, "name"), v = FIELD(p, "value");
        if (moat__py_is_str(v) && password_name(c, name))
            moat__py_report(c, MOAT_CODE_B107, fn, 0, 0, NULL, NULL, NULL, v);
        if (last_part_in(c, v, bad_ssl, MOAT_ARRAY_LEN(bad_ssl)))
            moat__py_report(c, MOAT_CODE_B503, fn, 0, 0, NULL, NULL, NULL, NONE);
    }
}

static void check_decorators(moat__py_ctx *c, TSNode decorated)
{
    if (!moat__py_enabled(c, MOAT_CODE_MOAT_C104)) return;
    uint32_t cnt = ts_node_named_child_count(decorated);
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode d = ts_node_named_child(decorated, i);
        if (!IS(d, "decorator")) continue;
        TSNode e = ts_node_named_child(d, 0);
        TSNode last = IS(e, "attribute") ? FIELD(e, "attribute") : e;
        bool exempt =
            TEXT_IS(c, last, "csrf_exempt") || (IS(e, "attribute") && TEXT_IS(c, last, "exempt") &&
                                                TEXT_IS(c, FIELD(e, "object"), "csrf"));
        if (exempt) {
            c->stack[c->depth++] = d;
            moat__py_report(c, MOAT_CODE_MOAT_C104, d, 0, 0, NULL, NULL, NULL, NONE);
            c->depth--;
        }
    }
}

/* B110/B112: `except:` or `except Exception:` whose whole body is `pass` or
 * `continue` (Bandit's default: other exception types are deliberate). */
static void check_except(moat__py_ctx *c, TSNode n)
{
    if (!FAMILY_ENABLED(c, MOAT_CODE_B110, MOAT_CODE_B112)) return;
    TSNode kids[4];
    uint32_t nk = 0, cnt = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < cnt && nk < 4; i++) {
        TSNode ch = ts_node_named_child(n, i);
        if (!IS(ch, "comment")) kids[nk++] = ch; /* comments are children too */
    }
    if (nk == 0 || !IS(kids[nk - 1], "block")) return;
    TSNode body = kids[nk - 1];
    if (nk > 1) {
        TSNode type = kids[0];
        if (IS(type, "as_pattern")) type = ts_node_named_child(type, 0);
        if (!IS(type, "identifier") || !TEXT_IS(c, type, "Exception")) return;
    }
    uint32_t nstmt = 0;
    TSNode only = NONE;
    uint32_t bc = ts_node_named_child_count(body);
    for (uint32_t i = 0; i < bc; i++) {
        TSNode st = ts_node_named_child(body, i);
        if (IS(st, "comment")) continue;
        nstmt++;
        only = st;
    }
    if (nstmt != 1) return;
    if (IS(only, "pass_statement"))
        moat__py_report(c, MOAT_CODE_B110, n, 0, 0, NULL, NULL, NULL, NONE);
    else if (IS(only, "continue_statement"))
        moat__py_report(c, MOAT_CODE_B112, n, 0, 0, NULL, NULL, NULL, NONE);
}

/* ---- self.X attributes of a class -------------------------------------------
 * Before a class's methods are visited, its `self.X = ...` assignments of
 * request data (read directly: self.q = request.args["q"]) mark self.X for
 * every method, whatever their order; later ones are added as the walk
 * meets them (taint_target). */
static void class_attr(moat__py_ctx *c, TSNode asg)
{
    TSNode left = FIELD(asg, "left"), right = FIELD(asg, "right");
    if (!IS(left, "attribute") || !TEXT_IS(c, FIELD(left, "object"), "self") ||
        ts_node_is_null(right))
        return;
    moat__py_scope empty = {0};
    moat__py_scope *saved = c->scope;
    c->scope = &empty;
    moat__py_steps steps = {0};
    if (moat__py_tainted(c, right, &steps, 0)) {
        size_t len;
        const char *name = moat__py_text(c, left, &len);
        moat__py_var *v = moat__py_var_get(c->attrs, name, len, true);
        if (!v->tainted) {
            moat__py_steps_copy(&v->steps, &steps);
            moat__py_steps_add(&v->steps, moat__py_line(left),
                               moat_xasprintf("assigned to %.*s", (int)len, name));
            v->tainted = true;
        }
    }
    moat__py_steps_free(&steps);
    c->scope = saved;
    moat__py_scope_free(&empty);
}

static void class_attrs_in(moat__py_ctx *c, TSNode n, int depth)
{
    if (depth > 24) return;
    moat__ts_kids k;
    moat__ts_kids_begin(&k, n);
    TSNode ch;
    while (moat__ts_kids_next(&k, &ch)) {
        if (IS(ch, "class_definition")) continue; /* its own self */
        if (IS(ch, "assignment"))
            class_attr(c, ch);
        else if (!IS(ch, "call") && !IS(ch, "string"))
            class_attrs_in(c, ch, depth + 1);
    }
    moat__ts_kids_end(&k);
}

static void class_attrs(moat__py_ctx *c, TSNode body, int depth)
{
    if (ts_node_is_null(body)) return;
    /* With no function returning request data, an assignment carries it
     * only if its text names "request" (moat__py_tainted's shortcut, the
     * class's attributes being empty until one does): a class body without
     * the word needs no walk. */
    if (!c->returns.len && !moat__py_text_has(c, body, "request")) return;
    class_attrs_in(c, body, depth);
}

/* ---- B108 and B613: strings and characters -------------------------------- */

static bool tmp_prefix(const char *s, size_t n)
{
    static const char *const dirs[] = {"/tmp", "/var/tmp", "/dev/shm"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(dirs); i++) {
        size_t k = strlen(dirs[i]);
        if (n >= k && !memcmp(s, dirs[i], k)) return true;
    }
    return false;
}

/* B108: a str literal (not a docstring, not bytes) starting with a shared
 * temporary folder; each literal part of an f-string counts on its own, as
 * Python's AST splits it. */
static void check_tmp(moat__py_ctx *c, TSNode n, TSNode parent)
{
    if (!moat__py_enabled(c, MOAT_CODE_B108)) return;
    if (IS(parent, "expression_statement") || IS(parent, "concatenated_string")) return;
    size_t len;
    const char *t = moat__py_text(c, n, &len);
    if (!memmem(t, len, "/tmp", 4) && !memmem(t, len, "/dev/shm", 8)) return;
    if (IS(n, "concatenated_string")) {
        /* Python joins the parts into one constant (or one f-string) */
        TSNode first = ts_node_named_child(n, 0);
        if (!IS(first, "string")) return;
        n = first;
    }
    /* the prefix: letters before the quote */
    size_t p = 0;
    while (p < len && isalpha((unsigned char)t[p]))
        p++;
    for (size_t i = 0; i < p; i++)
        if (t[i] == 'b' || t[i] == 'B') return;
    bool fstring = memchr(t, 'f', p) || memchr(t, 'F', p);
    if (!fstring) {
        char *v = moat__py_str_value(c, n);
        bool hit = tmp_prefix(v, strlen(v));
        free(v);
        if (hit) moat__py_report(c, MOAT_CODE_B108, n, 0, 0, NULL, NULL, NULL, NONE);
        return;
    }
    /* f-string: a literal part at the start or after an interpolation */
    bool part_start = true;
    uint32_t cnt = ts_node_child_count(n);
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode ch = ts_node_child(n, i);
        if (IS(ch, "interpolation")) {
            part_start = true;
            continue;
        }
        if (!IS(ch, "string_content")) continue;
        if (part_start) {
            size_t cl;
            const char *ct = moat__py_text(c, ch, &cl);
            if (tmp_prefix(ct, cl)) {
                moat__py_report(c, MOAT_CODE_B108, n, 0, 0, NULL, NULL, NULL, NONE);
                return;
            }
        }
        part_start = false;
    }
}

/* B613: Unicode bidirectional controls anywhere in the file (Trojan
 * Source): U+202A-U+202E, U+2066-U+2069, U+200F, in UTF-8. One finding, at
 * the first. */
static void check_bidi(moat__py_ctx *c, TSNode root)
{
    if (!moat__py_enabled(c, MOAT_CODE_B613)) return;
    const unsigned char *s = (const unsigned char *)c->src;
    for (size_t i = 0; i + 2 < c->len; i++) {
        const unsigned char *e = memchr(s + i, 0xe2, c->len - 2 - i);
        if (!e) break;
        i = (size_t)(e - s);
        bool hit =
            (s[i + 1] == 0x80 && ((s[i + 2] >= 0xaa && s[i + 2] <= 0xae) || s[i + 2] == 0x8f)) ||
            (s[i + 1] == 0x81 && s[i + 2] >= 0xa6 && s[i + 2] <= 0xa9);
        if (!hit) continue;
        unsigned cp = ((s[i] & 0x0fu) << 12) | ((s[i + 1] & 0x3fu) << 6) | (s[i + 2] & 0x3fu);
        TSNode at = ts_node_descendant_for_byte_range(root, (uint32_t)i, (uint32_t)i + 3);
        if (ts_node_is_null(at)) at = root;
        char *msg = moat_xasprintf("A Python source file contains bidirectional control "
                                   "characters (U+%04X).",
                                   cp);
        moat__py_report(c, MOAT_CODE_B613, at, 0, 0, msg, NULL, NULL, NONE);
        free(msg);
        return;
    }
}

/* ---- the walk ------------------------------------------------------------- */

static void visit(moat__py_ctx *c, TSNode n);

/* The node types the walk dispatches on, by grammar symbol: one table
 * lookup per node instead of string comparisons. */
typedef enum {
    K_OTHER,
    K_FUNCTION,
    K_CLASS,
    K_DECORATED,
    K_CALL,
    K_ASSIGNMENT,
    K_FOR,
    K_BINARY,
    K_STRING,
    K_COMPARISON,
    K_RETURN,
    K_ASSERT,
    K_EXCEPT,
    K_IMPORT,
    K_PAIR,
} node_kind;

static unsigned char *kinds; /* indexed by TSSymbol */
static uint32_t nkinds;
static pthread_once_t kinds_once = PTHREAD_ONCE_INIT;

static void kinds_init(void)
{
    static const struct {
        const char *type;
        node_kind kind;
    } map[] = {{"function_definition", K_FUNCTION},
               {"class_definition", K_CLASS},
               {"decorated_definition", K_DECORATED},
               {"call", K_CALL},
               {"assignment", K_ASSIGNMENT},
               {"augmented_assignment", K_ASSIGNMENT},
               {"for_statement", K_FOR},
               {"binary_operator", K_BINARY},
               {"string", K_STRING},
               {"concatenated_string", K_STRING},
               {"comparison_operator", K_COMPARISON},
               {"return_statement", K_RETURN},
               {"assert_statement", K_ASSERT},
               {"except_clause", K_EXCEPT},
               {"import_statement", K_IMPORT},
               {"import_from_statement", K_IMPORT},
               {"pair", K_PAIR}};
    const TSLanguage *lang = tree_sitter_python();
    nkinds = ts_language_symbol_count(lang);
    kinds = moat_xcalloc(nkinds ? nkinds : 1, 1); /* lives as long as the process */
    for (uint32_t sym = 0; sym < nkinds; sym++) {
        const char *name = ts_language_symbol_name(lang, (TSSymbol)sym);
        if (!name || ts_language_symbol_type(lang, (TSSymbol)sym) != TSSymbolTypeRegular) continue;
        for (size_t i = 0; i < MOAT_ARRAY_LEN(map); i++)
            if (!strcmp(name, map[i].type)) kinds[sym] = (unsigned char)map[i].kind;
    }
}

static node_kind kind_of(TSNode n)
{
    TSSymbol sym = ts_node_symbol(n);
    return sym < nkinds ? (node_kind)kinds[sym] : K_OTHER;
}

/* The walk takes each node's named children in turn with the runtime's own
 * child iterator (tskids.h): ts_node_named_child(n, i) costs O(i), and a
 * tree cursor's steps cost more than the iteration itself. */
static void visit_children(moat__py_ctx *c, TSNode n)
{
    moat__ts_kids k;
    moat__ts_kids_begin(&k, n);
    TSNode ch;
    while (moat__ts_kids_next(&k, &ch))
        visit(c, ch);
    moat__ts_kids_end(&k);
}

static void visit(moat__py_ctx *c, TSNode n)
{
    if (c->depth >= MOAT__PY_MAX_DEPTH) return;
    node_kind k = kind_of(n);
    TSNode parent = c->depth ? c->stack[c->depth - 1] : NONE;
    c->stack[c->depth++] = n;
    if (k == K_FUNCTION || k == K_CLASS) {
        moat__py_scope scope = {0}, *outer = c->scope, attrs = {0}, *outer_attrs = c->attrs;
        moat__py_var *outer_ret = c->ret, ret = {0};
        TSNode outer_cls = c->cls;
        c->scope = &scope;
        c->ret = k == K_FUNCTION ? &ret : NULL;
        if (k == K_CLASS) {
            c->cls = n;
            c->attrs = &attrs;
            class_attrs(c, FIELD(n, "body"), 0);
            c->scope = &scope;
        }
        if (k == K_FUNCTION) {
            TSNode path = NONE;
            if (IS(parent, "decorated_definition") && is_route(c, parent, &path))
                taint_route_params(c, n, path);
            /* a parameter holds whatever the caller passes: never a constant */
            param ps[32];
            size_t np = params_of(n, false, ps, MOAT_ARRAY_LEN(ps));
            for (size_t i = 0; i < np; i++) {
                size_t len;
                const char *t = moat__py_text(c, ps[i].name, &len);
                moat__py_var_get(c->scope, t, len, true)->nonconst = true;
            }
            check_function(c, n);
        }
        visit_children(c, n);
        moat__py_scope_free(&scope);
        c->scope = outer;
        c->ret = outer_ret;
        if (k == K_CLASS) {
            moat__py_scope_free(&attrs);
            c->attrs = outer_attrs;
            c->cls = outer_cls;
        }
        /* A module-level function that returns request data is a source
         * for the calls after it (def get_q(): return request.args["q"]). */
        TSNode name = FIELD(n, "name");
        if (ret.tainted && !outer_ret && outer == c->module && IS(name, "identifier")) {
            size_t len;
            const char *t = moat__py_text(c, name, &len);
            moat__py_var *v = moat__py_var_get(&c->returns, t, len, true);
            moat__py_steps_copy(&v->steps, &ret.steps);
            v->tainted = true;
        }
        moat__py_steps_free(&ret.steps);
    } else if (k == K_ASSERT) {
        moat__py_report(c, MOAT_CODE_B101, n, 0, 0, NULL, NULL, NULL, NONE);
        visit_children(c, n);
    } else if (k == K_IMPORT) {
        check_import(c, n);
    } else if (k == K_EXCEPT) {
        check_except(c, n);
        visit_children(c, n);
    } else if (k == K_RETURN) {
        visit_children(c, n);
        TSNode e = ts_node_named_child(n, 0);
        if (c->ret && !c->ret->tainted && !ts_node_is_null(e) &&
            moat__py_tainted(c, e, &c->ret->steps, 0)) {
            c->ret->tainted = true;
            moat__py_steps_add(&c->ret->steps, moat__py_line(n), moat_xstrdup("returned"));
        }
    } else if (k == K_DECORATED) {
        check_decorators(c, n);
        visit_children(c, n);
    } else if (k == K_CALL) {
        check_calls(c, n);
        if (sql_text(c, n)) check_sql_string(c, n);
        visit_children(c, n);
    } else if (k == K_ASSIGNMENT) {
        visit_children(c, n);
        check_assignment(c, n);
    } else if (k == K_FOR) {
        /* for x in request.args...: x carries request data in the body */
        TSNode left = FIELD(n, "left"), right = FIELD(n, "right");
        moat__py_steps steps = {0};
        if (moat__py_tainted(c, right, &steps, 0)) taint_target(c, left, true, true, &steps, 0);
        moat__py_steps_free(&steps);
        visit_children(c, n);
    } else if (k == K_BINARY) {
        check_sql_string(c, n);
        visit_children(c, n);
    } else if (k == K_STRING) {
        check_tmp(c, n, parent);
        if (moat__py_is_str(n)) {
            uint32_t len = ts_node_end_byte(n) - ts_node_start_byte(n);
            if (len >= 9 && len <= 12) { /* "0.0.0.0" with quotes and a prefix */
                char *s = moat__py_str_value(c, n);
                if (!strcmp(s, "0.0.0.0"))
                    moat__py_report(c, MOAT_CODE_B104, n, 0, 0, NULL, NULL, NULL, NONE);
                free(s);
            }
        } else {
            check_sql_string(c, n);
            visit_children(c, n);
        }
    } else if (k == K_PAIR) {
        /* B105: {"password": "..."} (a literal value under a password-like key) */
        TSNode key = FIELD(n, "key"), val = FIELD(n, "value");
        if (moat__py_enabled(c, MOAT_CODE_B105) && IS(parent, "dictionary") &&
            moat__py_is_str(key) && (moat__py_is_str(val) || IS(val, "integer"))) {
            char *ks = moat__py_str_value(c, key);
            regex_init();
            bool m = regexec(&password_re, ks, 0, NULL, 0) == 0;
            free(ks);
            if (m) moat__py_report(c, MOAT_CODE_B105, val, 0, 0, NULL, NULL, NULL, val);
        }
        visit_children(c, n);
    } else if (k == K_COMPARISON) {
        /* B105: password == "..." */
        TSNode a = ts_node_named_child(n, 0), b = ts_node_named_child(n, 1);
        regex_init();
        TSNode an = IS(a, "attribute") ? FIELD(a, "attribute") : a; /* obj.password == "..." */
        if (IS(an, "identifier") && moat__py_is_str(b) && password_name(c, an))
            moat__py_report(c, MOAT_CODE_B105, b, 0, 0, NULL, NULL, NULL, b);
        visit_children(c, n);
    } else {
        visit_children(c, n);
    }
    c->depth--;
}

static TSNode first_error(TSNode n, int depth)
{
    if (depth > MOAT__PY_MAX_DEPTH) return NONE;
    if (ts_node_is_missing(n) || moat__py_is(n, "ERROR")) return n;
    uint32_t cnt = ts_node_child_count(n);
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode ch = ts_node_child(n, i);
        if (!ts_node_has_error(ch) && !ts_node_is_missing(ch)) continue;
        TSNode e = first_error(ch, depth + 1);
        if (!ts_node_is_null(e)) return e;
    }
    return NONE;
}

void moat_audit_code_thread_end(void)
{
    moat__ts_arena_thread_end();
}

static void analyse_tree(const char *path, const char *src, size_t len,
                         const moat_audit_code_opts *o, moat_audit_findings *out,
                         moat_audit_file_result *res);

void moat_audit_code_python(const char *path, const char *src, size_t len,
                            const moat_audit_code_opts *o, moat_audit_findings *out,
                            moat_audit_file_result *res)
{
    memset(res, 0, sizeof(*res));
    regex_init();
    if (len > UINT32_MAX / 2) {
        res->error = moat_xasprintf("%s: too large to analyse", path);
        return;
    }
    /* all that tree-sitter allocates for this file is let go at once */
    moat__ts_arena_install();
    moat__ts_arena_begin();
    analyse_tree(path, src, len, o, out, res);
    moat__ts_arena_end();
}

static void analyse_tree(const char *path, const char *src, size_t len,
                         const moat_audit_code_opts *o, moat_audit_findings *out,
                         moat_audit_file_result *res)
{
    TSTree *tree = moat__ts_python_parse(src, (uint32_t)len);
    if (!tree) {
        res->error = moat_xasprintf("%s: could not be parsed", path);
        return;
    }
    TSNode root = ts_tree_root_node(tree);
    if (ts_node_has_error(root)) {
        TSNode e = first_error(root, 0);
        TSPoint p = ts_node_is_null(e) ? ts_node_start_point(root) : ts_node_start_point(e);
        res->error = moat_xasprintf("%s:%u:%u: syntax error (the rest of the file was analysed)",
                                    path, p.row + 1, p.column + 1);
    }
    moat__py_ctx c = {.path = path,
                      .src = src,
                      .len = len,
                      .o = o,
                      .out = out,
                      .res = res,
                      .first_finding = out->len,
                      .modname = o ? project_module_of(o->project, path) : NULL};
    analyse_init(&c, root);
    if (!o || o->code) {
        visit(&c, root);
        check_bidi(&c, root);
    }
    if (o && o->settings) {
        c.depth = 0;
        moat__audit_settings_check(&c, root);
    }
    moat__py_finish_snippets(&c);
    analyse_done(&c);
    /* No ts_tree_delete(): the whole tree is in this file's arena, which
     * moat_audit_code_python() takes back in one step; releasing it node by
     * node was more than 1 % of a run. (project_summary() does delete the
     * trees it parses: there may be several for one file.) */
}

/* What every analysis of a parsed file needs (the file's own, or a module
 * another file calls into: project_summary). */
static void analyse_init(moat__py_ctx *c, TSNode root)
{
    pthread_once(&kinds_once, kinds_init);
    if (c->o && c->o->disabled)
        memcpy(c->disabled, c->o->disabled, sizeof(c->disabled));
    else
        for (size_t r = 0; r < MOAT_CODE__COUNT; r++)
            c->disabled[r] = moat__py_skipped(c, moat_audit_code_rules[r].id);
    moat__py_collect_imports(c, root, 0);
    c->root = root;
    c->scope = c->module = moat_xcalloc(1, sizeof(*c->module));
}

static void analyse_done(moat__py_ctx *c)
{
    moat__py_scope_free(c->module);
    free(c->module);
    c->scope = c->module = NULL;
    moat__py_scope_free(&c->returns);
    moat__py_imports_free(c);
    for (size_t i = 0; i < c->nsums; i++)
        moat__py_summary_free(c->sums[i]);
    free(c->sums);
    c->sums = NULL;
    c->nsums = c->capsums = 0;
    free(c->comments);
    c->comments = NULL;
    free(c->masks);
    c->masks = NULL;
    c->nmasks = c->capmasks = 0;
}
