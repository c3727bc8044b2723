/* settings.c - Django and Flask settings read from the parse tree the code
 * analyser built (it calls moat__audit_settings_check, so each file is parsed
 * once; that is why this folder uses code/internal.h). A Django settings
 * module is one that assigns INSTALLED_APPS, MIDDLEWARE or ROOT_URLCONF; for
 * it, settings left at an insecure default are reported too, unless the
 * module star-imports another (the value may come from there). Flask values
 * are checked where they are set: app.config[...] = v, app.config.update(),
 * and classes named *Config. Values from the environment become notes. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/code/internal.h"
#include "audit/settings/settings.h"

#define L MOAT_AUDIT_LOW
#define M MOAT_AUDIT_MEDIUM
#define H MOAT_AUDIT_HIGH
#define IS moat__py_is
#define FIELD moat__py_field
#define TEXT_IS moat__py_text_is

const moat_audit_rule moat_audit_settings_rules[] = {
    {"security.W001", "security_middleware_missing", M, H, 693,
     "SecurityMiddleware is not in MIDDLEWARE.",
     "Without django.middleware.security.SecurityMiddleware none of the SECURE_* settings "
     "(HSTS, SSL redirect, nosniff, referrer policy) take effect."},
    {"security.W002", "xframe_middleware_missing", L, H, 1021,
     "XFrameOptionsMiddleware is not in MIDDLEWARE.",
     "Pages can be framed by other sites (clickjacking)."},
    {"security.W003", "csrf_middleware_missing", H, M, 352,
     "CsrfViewMiddleware is not in MIDDLEWARE.",
     "Forms accept posts from any site unless every view protects itself."},
    {"security.W004", "hsts_not_set", M, M, 319, "SECURE_HSTS_SECONDS is not set.",
     "Browsers will try plain HTTP first, where the connection can be taken over. Set it "
     "(31536000) once HTTPS works everywhere, or let moat serve send HSTS."},
    {"security.W005", "hsts_no_subdomains", L, M, 319,
     "SECURE_HSTS_INCLUDE_SUBDOMAINS is not True.",
     "Subdomains can still be reached over plain HTTP and set cookies for the site."},
    {"security.W006", "nosniff_off", L, H, 16, "SECURE_CONTENT_TYPE_NOSNIFF is not True.",
     "Browsers may guess content types and run uploaded files as scripts."},
    {"security.W008", "ssl_redirect_off", M, M, 319, "SECURE_SSL_REDIRECT is not True.",
     "Plain-HTTP requests are served instead of redirected (unless a proxy such as moat "
     "serve redirects them)."},
    {"security.W009", "secret_key_weak", H, H, 798, "SECRET_KEY is weak or a default.",
     "A key shorter than 50 characters, with fewer than 5 distinct characters, or starting "
     "with 'django-insecure-' can be guessed or is public. Generate a new one and read it "
     "from the environment."},
    {"security.W012", "session_cookie_not_secure", M, H, 614, "SESSION_COOKIE_SECURE is not True.",
     "The session cookie is sent over plain HTTP, where anyone on the path can take it."},
    {"security.W013", "session_cookie_not_httponly", M, H, 1004,
     "SESSION_COOKIE_HTTPONLY is False.", "Scripts (and so any XSS) can read the session cookie."},
    {"security.W016", "csrf_cookie_not_secure", M, H, 614, "CSRF_COOKIE_SECURE is not True.",
     "The CSRF cookie is sent over plain HTTP."},
    {"security.W018", "debug_true", H, H, 489, "DEBUG is on.",
     "Debug pages show source, settings and stack frames to anyone who triggers an error; "
     "the Werkzeug debugger runs code. Read DEBUG from the environment, off by default."},
    {"security.W019", "x_frame_options_not_deny", L, M, 1021, "X_FRAME_OPTIONS is not 'DENY'.",
     "Pages can be framed by the same origin; use 'DENY' unless the site frames itself."},
    {"security.W020", "allowed_hosts_empty", M, H, 16, "ALLOWED_HOSTS is empty.",
     "With DEBUG off Django refuses every request; with it on, any Host is accepted."},
    {"security.W021", "hsts_no_preload", L, M, 319, "SECURE_HSTS_PRELOAD is not True.",
     "The site cannot be put on the browsers' HSTS preload list."},
    {"security.W022", "referrer_policy_off", L, M, 200, "SECURE_REFERRER_POLICY is None.",
     "Full URLs (with tokens in their query strings) leak to other sites in Referer."},
    {"MOAT-S101", "allowed_hosts_wildcard", M, H, 16, "ALLOWED_HOSTS accepts any host ('*').",
     "Host header attacks: password-reset links and absolute URLs can point at the "
     "attacker's domain. List the real host names."},
    {"MOAT-S102", "session_cookie_samesite_none", M, H, 1275, "Session cookie SameSite is None.",
     "The session cookie is sent on cross-site requests: CSRF. Use 'Lax'."},
    {"MOAT-S103", "remember_cookie_insecure", M, H, 614,
     "Flask-Login remember cookie without Secure or HttpOnly.",
     "REMEMBER_COOKIE_SECURE / REMEMBER_COOKIE_HTTPONLY are False: the long-lived login "
     "cookie can be read by scripts or sent over plain HTTP."},
    {"MOAT-S104", "settings_password_literal", H, M, 798, "Password written in the settings.",
     "A literal PASSWORD in DATABASES or CACHES (or a password in a cache LOCATION URL), or "
     "EMAIL_HOST_PASSWORD: whoever reads the repository can log in. Read it from the "
     "environment. Empty strings (SQLite, local servers without one) are not reported."},
};
const size_t moat_audit_settings_nrules = MOAT_ARRAY_LEN(moat_audit_settings_rules);

static const moat_audit_rule *rule(const char *id)
{
    const moat_audit_rule *r =
        moat_audit_rule_find(moat_audit_settings_rules, moat_audit_settings_nrules, id);
    MOAT_BUG_ON(!r);
    return r;
}

/* ---- values -------------------------------------------------------------- */

typedef enum { V_TRUE, V_FALSE, V_NONE, V_STR, V_INT, V_LIST, V_ENV, V_OTHER } vkind;

static bool from_env(moat__py_ctx *c, TSNode n, int depth)
{
    if (ts_node_is_null(n) || depth > 32) return false;
    if (IS(n, "identifier")) {
        static const char *const names[] = {
            "environ", "getenv", "env", "config", "Env", "get_env", "get_env_variable", "env_bool"};
        for (size_t i = 0; i < MOAT_ARRAY_LEN(names); i++)
            if (TEXT_IS(c, n, names[i])) return true;
        return false;
    }
    uint32_t cnt = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < cnt; i++)
        if (from_env(c, ts_node_named_child(n, i), depth + 1)) return true;
    return false;
}

static vkind kind_of(moat__py_ctx *c, TSNode v)
{
    if (IS(v, "parenthesized_expression")) v = ts_node_named_child(v, 0);
    if (IS(v, "true")) return V_TRUE;
    if (IS(v, "false")) return V_FALSE;
    if (IS(v, "none")) return V_NONE;
    if (moat__py_is_str(v)) return V_STR;
    if (IS(v, "integer")) return V_INT;
    if (IS(v, "list") || IS(v, "tuple")) return V_LIST;
    if (from_env(c, v, 0)) return V_ENV;
    return V_OTHER;
}

/* ---- constant folding of environment reads ---------------------------------
 * DEBUG = bool(os.environ.get("DJANGO_DEBUG", True)) is True wherever the
 * variable is unset, which is what the repository says: the value is folded
 * with the environment empty (os.environ.get/os.getenv's default,
 * django-environ's env.bool(..., default=), python-decouple's config(...,
 * default=, cast=bool)), through bool(), int(), str.lower(), == and in. */

typedef enum { F_UNKNOWN, F_NONE, F_BOOL, F_INT, F_STR } fkind;

typedef struct folded {
    fkind k;
    bool b;       /* F_BOOL */
    long i;       /* F_INT */
    char *s;      /* F_STR, owned */
    char env[64]; /* the variable whose default this is ("" when none) */
} folded;

static void folded_free(folded *f)
{
    free(f->s);
    f->s = NULL;
}

static bool truth(const folded *f)
{
    switch (f->k) {
    case F_BOOL:
        return f->b;
    case F_INT:
        return f->i != 0;
    case F_STR:
        return f->s[0] != '\0';
    default:
        return false;
    }
}

/* python-decouple's and django-environ's string-to-bool. */
static int str_bool(const char *s)
{
    static const char *const yes[] = {"1", "yes", "true", "on", "y", "t"};
    static const char *const no[] = {"0", "no", "false", "off", "n", "f", ""};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(yes); i++)
        if (!strcasecmp(s, yes[i])) return 1;
    for (size_t i = 0; i < MOAT_ARRAY_LEN(no); i++)
        if (!strcasecmp(s, no[i])) return 0;
    return -1;
}

static TSNode call_arg(TSNode args, uint32_t pos, moat__py_ctx *c, const char *kw)
{
    uint32_t cnt = ts_node_named_child_count(args), p = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode a = ts_node_named_child(args, i);
        if (IS(a, "keyword_argument")) {
            if (kw && TEXT_IS(c, FIELD(a, "name"), kw)) return FIELD(a, "value");
        } else if (!IS(a, "comment") && p++ == pos) {
            return a;
        }
    }
    return (TSNode){0};
}

static void fold(moat__py_ctx *c, TSNode v, folded *out, int depth);

/* An environment read with the variable unset: its default, or F_UNKNOWN
 * for reads that fail without one. Returns false when n is no such read. */
static bool fold_env_read(moat__py_ctx *c, TSNode n, folded *out, int depth)
{
    TSNode fn = FIELD(n, "function"), args = FIELD(n, "arguments");
    if (ts_node_is_null(fn) || !IS(args, "argument_list")) return false;
    char *q = moat__py_qualname(c, fn);
    if (!q) return false;
    /* os.environ.get / os.getenv / environ.get: None without a default */
    bool osenv = !strcmp(q, "os.environ.get") || !strcmp(q, "os.getenv") ||
                 !strcmp(q, "environ.get") || !strcmp(q, "getenv");
    /* env.bool(...), env(...), env.str(...): django-environ (fails without a default) */
    bool djenv = (!strncmp(q, "env.", 4) && !strchr(q + 4, '.')) || !strcmp(q, "env") ||
                 (!strncmp(q, "environ.Env", 11));
    /* config(...) from decouple (fails without a default) */
    bool decouple = (!strcmp(q, "config") && moat__py_imported_like(c, "decouple")) ||
                    !strcmp(q, "decouple.config");
    if (!osenv && !djenv && !decouple) {
        free(q);
        return false;
    }
    TSNode name = call_arg(args, 0, c, NULL);
    if (moat__py_is_str(name)) {
        char *e = moat__py_str_value(c, name);
        snprintf(out->env, sizeof(out->env), "%s", e);
        free(e);
    }
    TSNode def = call_arg(args, 1, c, "default");
    if (ts_node_is_null(def)) {
        out->k = osenv ? F_NONE : F_UNKNOWN;
        free(q);
        return true;
    }
    char env[64];
    memcpy(env, out->env, sizeof(env));
    fold(c, def, out, depth + 1);
    memcpy(out->env, env, sizeof(env));
    TSNode cast = call_arg(args, 2, c, "cast");
    /* decouple casts the default too; django-environ returns it as given */
    bool to_bool = decouple && IS(cast, "identifier") && TEXT_IS(c, cast, "bool");
    if (to_bool && out->k == F_STR) {
        int b = str_bool(out->s);
        folded_free(out);
        out->k = b < 0 ? F_UNKNOWN : F_BOOL;
        out->b = b == 1;
    } else if (to_bool && out->k != F_UNKNOWN) {
        bool t = truth(out);
        folded_free(out);
        out->k = F_BOOL;
        out->b = t;
    }
    free(q);
    return true;
}

static void fold(moat__py_ctx *c, TSNode v, folded *out, int depth)
{
    out->k = F_UNKNOWN;
    if (ts_node_is_null(v) || depth > 16) return;
    while (IS(v, "parenthesized_expression"))
        v = ts_node_named_child(v, 0);
    if (IS(v, "true") || IS(v, "false")) {
        out->k = F_BOOL;
        out->b = IS(v, "true");
    } else if (IS(v, "none")) {
        out->k = F_NONE;
    } else if (IS(v, "integer")) {
        size_t n;
        const char *t = moat__py_text(c, v, &n);
        char buf[32];
        snprintf(buf, sizeof(buf), "%.*s", (int)(n < 31 ? n : 31), t);
        out->k = F_INT;
        out->i = strtol(buf, NULL, 0);
    } else if (moat__py_is_str(v)) {
        out->k = F_STR;
        out->s = moat__py_str_value(c, v);
    } else if (IS(v, "call")) {
        if (fold_env_read(c, v, out, depth)) return;
        TSNode fn = FIELD(v, "function"), args = FIELD(v, "arguments");
        if (IS(fn, "identifier") && ts_node_named_child_count(args) == 1) {
            folded a = {0};
            fold(c, ts_node_named_child(args, 0), &a, depth + 1);
            memcpy(out->env, a.env, sizeof(out->env));
            if (a.k == F_UNKNOWN) {
            } else if (TEXT_IS(c, fn, "bool")) {
                out->k = F_BOOL;
                out->b = truth(&a);
            } else if (TEXT_IS(c, fn, "int") && (a.k == F_INT || a.k == F_BOOL)) {
                out->k = F_INT;
                out->i = a.k == F_INT ? a.i : a.b;
            } else if (TEXT_IS(c, fn, "int") && a.k == F_STR) {
                char *end;
                long i = strtol(a.s, &end, 10);
                if (a.s[0] && *end == '\0') {
                    out->k = F_INT;
                    out->i = i;
                }
            }
            folded_free(&a);
        } else if (IS(fn, "attribute") && ts_node_named_child_count(args) == 0 &&
                   (TEXT_IS(c, FIELD(fn, "attribute"), "lower") ||
                    TEXT_IS(c, FIELD(fn, "attribute"), "strip") ||
                    TEXT_IS(c, FIELD(fn, "attribute"), "upper"))) {
            fold(c, FIELD(fn, "object"), out, depth + 1);
            if (out->k == F_STR) {
                bool up = TEXT_IS(c, FIELD(fn, "attribute"), "upper");
                bool strip = TEXT_IS(c, FIELD(fn, "attribute"), "strip");
                for (char *p = out->s; *p && !strip; p++)
                    *p = (char)(up ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
            } else if (out->k != F_UNKNOWN) {
                folded_free(out);
                out->k = F_UNKNOWN;
            }
        }
    } else if (IS(v, "comparison_operator") && ts_node_named_child_count(v) == 2) {
        folded a = {0}, b = {0};
        fold(c, ts_node_named_child(v, 0), &a, depth + 1);
        TSNode rhs = ts_node_named_child(v, 1);
        /* the operator is the anonymous child between the operands */
        const char *op = ts_node_type(ts_node_child(v, 1));
        if ((a.k == F_STR || a.k == F_NONE) && (!strcmp(op, "==") || !strcmp(op, "!="))) {
            fold(c, rhs, &b, depth + 1);
            if (b.k == F_STR) { /* None == "1" is False */
                out->k = F_BOOL;
                out->b = (a.k == F_STR && strcmp(a.s, b.s) == 0) == (op[0] == '=');
            }
        } else if (a.k == F_STR && (!strcmp(op, "in") || !strcmp(op, "not in")) &&
                   (IS(rhs, "tuple") || IS(rhs, "list") || IS(rhs, "set"))) {
            bool all = true, hit = false;
            uint32_t cnt = ts_node_named_child_count(rhs);
            for (uint32_t i = 0; i < cnt && all; i++) {
                folded e = {0};
                fold(c, ts_node_named_child(rhs, i), &e, depth + 1);
                all = e.k == F_STR;
                hit = hit || (all && strcmp(e.s, a.s) == 0);
                folded_free(&e);
            }
            if (all) {
                out->k = F_BOOL;
                out->b = hit == (op[0] == 'i');
            }
        }
        memcpy(out->env, a.env, sizeof(out->env));
        folded_free(&a);
        folded_free(&b);
    }
}

static void not_checkable(moat__py_ctx *c, const char *name, TSNode at, vkind k, const char *id)
{
    if (moat__py_skipped(c, id)) return;
    moat__py_note(
        c, at,
        moat_xasprintf("%s %s: not checkable here (%s)", name,
                       k == V_ENV ? "comes from the environment" : "is computed when the app runs",
                       id));
}

static void report(moat__py_ctx *c, const char *id, TSNode at, const char *msg, TSNode mask)
{
    moat__py_report_rule(c, rule(id), "settings", at, 0, 0, msg, NULL, NULL, mask);
}

static bool weak_key(const char *s)
{
    size_t n = strlen(s);
    bool seen[256] = {0};
    size_t uniq = 0;
    for (size_t i = 0; i < n; i++)
        if (!seen[(unsigned char)s[i]]) {
            seen[(unsigned char)s[i]] = true;
            uniq++;
        }
    return n < 50 || uniq < 5 || strncmp(s, "django-insecure", 15) == 0;
}

static bool list_has(moat__py_ctx *c, TSNode list, const char *item)
{
    uint32_t cnt = ts_node_named_child_count(list);
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode e = ts_node_named_child(list, i);
        if (!moat__py_is_str(e)) continue;
        char *s = moat__py_str_value(c, e);
        bool m = strcmp(s, item) == 0;
        free(s);
        if (m) return true;
    }
    return false;
}

/* One setting with a value: what is wrong with it, whichever framework.
 * at is the assignment (or keyword) to point at, v its value. */
static void check_value(moat__py_ctx *c, const char *name, TSNode at, TSNode v)
{
    vkind k = kind_of(c, v);
    static const struct {
        const char *name, *id;
        bool want; /* the secure boolean */
    } flags[] = {
        {"DEBUG", "security.W018", false},
        {"SESSION_COOKIE_SECURE", "security.W012", true},
        {"SESSION_COOKIE_HTTPONLY", "security.W013", true},
        {"CSRF_COOKIE_SECURE", "security.W016", true},
        {"SECURE_SSL_REDIRECT", "security.W008", true},
        {"SECURE_CONTENT_TYPE_NOSNIFF", "security.W006", true},
        {"SECURE_HSTS_INCLUDE_SUBDOMAINS", "security.W005", true},
        {"SECURE_HSTS_PRELOAD", "security.W021", true},
        {"REMEMBER_COOKIE_SECURE", "MOAT-S103", true},
        {"REMEMBER_COOKIE_HTTPONLY", "MOAT-S103", true},
    };
    for (size_t i = 0; i < MOAT_ARRAY_LEN(flags); i++) {
        if (strcmp(name, flags[i].name) != 0) continue;
        if (k == V_ENV || k == V_OTHER) {
            folded f = {0};
            fold(c, v, &f, 0);
            if (f.k == F_UNKNOWN || !f.env[0]) {
                not_checkable(c, name, at, k, flags[i].id);
            } else if (truth(&f) != flags[i].want) {
                /* what the app runs with when the variable is not set */
                char *msg = moat_xasprintf("%s is %s when %s is not set (the default in the code).",
                                           name, truth(&f) ? "True" : "False", f.env);
                report(c, flags[i].id, at, msg, (TSNode){0});
                free(msg);
            }
            folded_free(&f);
        } else {
            bool truthy = k == V_TRUE || (k == V_INT && !TEXT_IS(c, v, "0")) ||
                          (k == V_STR && ts_node_end_byte(v) - ts_node_start_byte(v) > 2);
            if (truthy != flags[i].want) {
                size_t len;
                const char *t = moat__py_text(c, v, &len);
                char *msg = moat_xasprintf("%s is %.*s.", name, (int)(len > 40 ? 40 : len), t);
                report(c, flags[i].id, at, msg, (TSNode){0});
                free(msg);
            }
        }
        return;
    }
    if (!strcmp(name, "SECRET_KEY")) {
        if (k == V_STR) {
            char *s = moat__py_str_value(c, v);
            /* a non-empty literal is code's MOAT-C109 (alias security.W009)
             * in the same `moat audit PATH` run: one finding per problem */
            bool code_has = c->o && c->o->combined && s[0];
            if (weak_key(s) && !code_has) report(c, "security.W009", at, NULL, v);
            free(s);
        } else if (k == V_ENV || k == V_OTHER) {
            not_checkable(c, name, at, k, "security.W009");
        }
    } else if (!strcmp(name, "EMAIL_HOST_PASSWORD")) {
        /* in a combined run code's B105 reports it (a password-like name) */
        if (k == V_STR && ts_node_end_byte(v) - ts_node_start_byte(v) > 2 &&
            !(c->o && c->o->combined))
            report(c, "MOAT-S104", at, NULL, v);
    } else if (!strcmp(name, "ALLOWED_HOSTS")) {
        if (k == V_LIST) {
            if (ts_node_named_child_count(v) == 0)
                report(c, "security.W020", at, NULL, (TSNode){0});
            else if (list_has(c, v, "*"))
                report(c, "MOAT-S101", at, NULL, (TSNode){0});
        } else if (k == V_ENV || k == V_OTHER) {
            not_checkable(c, name, at, k, "security.W020");
        }
    } else if (!strcmp(name, "SECURE_HSTS_SECONDS")) {
        if (k == V_INT && TEXT_IS(c, v, "0"))
            report(c, "security.W004", at, NULL, (TSNode){0});
        else if (k == V_ENV || k == V_OTHER)
            not_checkable(c, name, at, k, "security.W004");
    } else if (!strcmp(name, "X_FRAME_OPTIONS")) {
        if (k == V_STR) {
            char *s = moat__py_str_value(c, v);
            if (strcasecmp(s, "DENY") != 0) report(c, "security.W019", at, NULL, (TSNode){0});
            free(s);
        }
    } else if (!strcmp(name, "SECURE_REFERRER_POLICY")) {
        if (k == V_NONE) report(c, "security.W022", at, NULL, (TSNode){0});
    } else if (!strcmp(name, "SESSION_COOKIE_SAMESITE")) {
        if (k == V_NONE || (k == V_STR && TEXT_IS(c, v, "'None'")) ||
            (k == V_STR && TEXT_IS(c, v, "\"None\"")))
            report(c, "MOAT-S102", at, NULL, (TSNode){0});
    }
}

/* ---- Django settings modules ---------------------------------------------- */

typedef struct setting {
    char *name;      /* owned */
    TSNode at, v;    /* the last assignment and its value */
    TSNode extra[8]; /* MIDDLEWARE += [...] values */
    size_t nextra;
} setting;

typedef struct module_settings {
    setting *v;
    size_t len, cap;
    bool star; /* from x import *: defaults may be set elsewhere */
} module_settings;

static setting *find(module_settings *m, const char *name)
{
    for (size_t i = 0; i < m->len; i++)
        if (!strcmp(m->v[i].name, name)) return &m->v[i];
    return NULL;
}

static bool upper_name(const char *s, size_t n)
{
    if (n == 0 || !isupper((unsigned char)s[0])) return false;
    for (size_t i = 0; i < n; i++)
        if (!(isupper((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

/* Collects UPPER_CASE = value assignments directly in block (module or class body). */
static void collect(moat__py_ctx *c, TSNode block, module_settings *m)
{
    uint32_t cnt = ts_node_named_child_count(block);
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode st = ts_node_named_child(block, i);
        if (IS(st, "import_from_statement")) {
            uint32_t k = ts_node_named_child_count(st);
            for (uint32_t j = 0; j < k; j++)
                if (IS(ts_node_named_child(st, j), "wildcard_import")) m->star = true;
            continue;
        }
        if (!IS(st, "expression_statement")) continue;
        TSNode a = ts_node_named_child(st, 0);
        bool aug = IS(a, "augmented_assignment");
        if (!IS(a, "assignment") && !aug) continue;
        TSNode left = FIELD(a, "left"), right = FIELD(a, "right");
        if (!IS(left, "identifier") || ts_node_is_null(right)) continue;
        size_t len;
        const char *t = moat__py_text(c, left, &len);
        if (!upper_name(t, len)) continue;
        char *name = moat_xstrndup(t, len);
        setting *s = find(m, name);
        if (!s) {
            if (m->len == m->cap) {
                m->cap = m->cap ? 2 * m->cap : 32;
                m->v = moat_xrealloc(m->v, m->cap * sizeof(*m->v));
            }
            s = &m->v[m->len++];
            memset(s, 0, sizeof(*s));
            s->name = name;
        } else {
            free(name);
        }
        if (aug) {
            if (s->nextra < MOAT_ARRAY_LEN(s->extra)) s->extra[s->nextra++] = right;
        } else {
            s->at = a;
            s->v = right;
            s->nextra = 0;
        }
    }
}

static void settings_free(module_settings *m)
{
    for (size_t i = 0; i < m->len; i++)
        free(m->v[i].name);
    free(m->v);
}

/* A setting left at its insecure default: reported at line 1, no snippet. */
static void missing(moat__py_ctx *c, const char *id, const char *msg)
{
    if (moat__py_skipped(c, id)) return;
    if (moat__py_suppressed(c, 1, 1, id, "settings")) {
        c->res->suppressed++;
        return;
    }
    const moat_audit_rule *r = rule(id);
    moat_audit_finding *f = moat_audit_findings_push(c->out);
    f->rule = moat_xstrdup(id);
    f->kind = moat_xstrdup("settings");
    f->severity = r->severity;
    f->confidence = r->confidence;
    f->cwe = r->cwe;
    f->path = moat_xstrdup(c->path);
    f->line = f->end_line = f->col = 1;
    f->message = moat_xstrdup(msg);
}

static bool middleware_has(moat__py_ctx *c, const setting *s, const char *name)
{
    if (list_has(c, s->v, name)) return true;
    for (size_t i = 0; i < s->nextra; i++)
        if (list_has(c, s->extra[i], name)) return true;
    return false;
}

/* MOAT-S104: "PASSWORD": "literal" anywhere in a DATABASES/CACHES value,
 * and a cache LOCATION "redis://:pw@host". */
static void check_passwords(moat__py_ctx *c, TSNode v, int depth)
{
    if (ts_node_is_null(v) || depth > 8) return;
    uint32_t cnt = ts_node_named_child_count(v);
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode p = ts_node_named_child(v, i);
        if (IS(p, "pair") && moat__py_is_str(FIELD(p, "key"))) {
            TSNode val = FIELD(p, "value");
            char *k = moat__py_str_value(c, FIELD(p, "key"));
            if (moat__py_is_str(val)) {
                char *sv = moat__py_str_value(c, val);
                bool hit = false;
                if (!strcasecmp(k, "PASSWORD"))
                    hit = sv[0] != '\0';
                else if (!strcasecmp(k, "LOCATION")) {
                    /* scheme://[user]:password@host */
                    const char *at = strchr(sv, '@'), *sch = strstr(sv, "://");
                    const char *colon = sch ? strchr(sch + 3, ':') : NULL;
                    hit = at && colon && colon < at && colon + 1 < at;
                }
                if (hit) report(c, "MOAT-S104", p, NULL, val);
                free(sv);
            } else {
                check_passwords(c, val, depth + 1);
            }
            free(k);
        } else if (IS(p, "dictionary") || IS(p, "pair")) {
            check_passwords(c, p, depth + 1);
        }
    }
}

static void check_django(moat__py_ctx *c, module_settings *m)
{
    static const char *const with_passwords[] = {"DATABASES", "CACHES"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(with_passwords); i++) {
        setting *s = find(m, with_passwords[i]);
        if (s && IS(s->v, "dictionary")) check_passwords(c, s->v, 0);
    }
    static const char *const checked[] = {"DEBUG",
                                          "SECRET_KEY",
                                          "ALLOWED_HOSTS",
                                          "SESSION_COOKIE_SECURE",
                                          "SESSION_COOKIE_HTTPONLY",
                                          "CSRF_COOKIE_SECURE",
                                          "SECURE_SSL_REDIRECT",
                                          "SECURE_CONTENT_TYPE_NOSNIFF",
                                          "SECURE_HSTS_SECONDS",
                                          "SECURE_HSTS_INCLUDE_SUBDOMAINS",
                                          "SECURE_HSTS_PRELOAD",
                                          "X_FRAME_OPTIONS",
                                          "SECURE_REFERRER_POLICY",
                                          "SESSION_COOKIE_SAMESITE",
                                          "EMAIL_HOST_PASSWORD"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(checked); i++) {
        setting *s = find(m, checked[i]);
        if (s && !ts_node_is_null(s->v)) check_value(c, s->name, s->at, s->v);
    }
    if (m->star) return;
    /* Defaults Django's check --deploy warns about when the setting is absent. */
    static const struct {
        const char *name, *id, *msg;
    } defaults[] = {
        {"SESSION_COOKIE_SECURE", "security.W012",
         "SESSION_COOKIE_SECURE is not set (default False)."},
        {"CSRF_COOKIE_SECURE", "security.W016", "CSRF_COOKIE_SECURE is not set (default False)."},
        {"SECURE_SSL_REDIRECT", "security.W008", "SECURE_SSL_REDIRECT is not set (default False)."},
        {"SECURE_HSTS_SECONDS", "security.W004", "SECURE_HSTS_SECONDS is not set (default 0)."},
        {"SECRET_KEY", "security.W009", "SECRET_KEY is not set."},
    };
    for (size_t i = 0; i < MOAT_ARRAY_LEN(defaults); i++)
        if (!find(m, defaults[i].name)) missing(c, defaults[i].id, defaults[i].msg);
    setting *hsts = find(m, "SECURE_HSTS_SECONDS");
    if (hsts && IS(hsts->v, "integer") && !TEXT_IS(c, hsts->v, "0")) {
        if (!find(m, "SECURE_HSTS_INCLUDE_SUBDOMAINS"))
            missing(c, "security.W005",
                    "SECURE_HSTS_INCLUDE_SUBDOMAINS is not set (default False).");
        if (!find(m, "SECURE_HSTS_PRELOAD"))
            missing(c, "security.W021", "SECURE_HSTS_PRELOAD is not set (default False).");
    }
    setting *mw = find(m, "MIDDLEWARE");
    setting *xfo = find(m, "X_FRAME_OPTIONS");
    /* W019 applies when XFrameOptionsMiddleware is installed (or may be) */
    if (xfo && !ts_node_is_null(xfo->v) &&
        (!mw || kind_of(c, mw->v) != V_LIST ||
         middleware_has(c, mw, "django.middleware.clickjacking.XFrameOptionsMiddleware")))
        check_value(c, xfo->name, xfo->at, xfo->v);
    if (mw && kind_of(c, mw->v) == V_LIST) {
        if (!middleware_has(c, mw, "django.middleware.security.SecurityMiddleware"))
            report(c, "security.W001", mw->at, NULL, (TSNode){0});
        if (!middleware_has(c, mw, "django.middleware.csrf.CsrfViewMiddleware"))
            report(c, "security.W003", mw->at, NULL, (TSNode){0});
        if (!middleware_has(c, mw, "django.middleware.clickjacking.XFrameOptionsMiddleware"))
            report(c, "security.W002", mw->at, NULL, (TSNode){0});
    } else if (mw) {
        not_checkable(c, "MIDDLEWARE", mw->at, kind_of(c, mw->v), "security.W001");
    }
}

/* ---- Flask ------------------------------------------------------------------ */

static bool config_object(moat__py_ctx *c, TSNode n)
{
    /* app.config, self.app.config, current_app.config, config */
    if (IS(n, "attribute")) return TEXT_IS(c, FIELD(n, "attribute"), "config");
    return IS(n, "identifier") && TEXT_IS(c, n, "config");
}

static void check_mapping(moat__py_ctx *c, TSNode at, TSNode dict)
{
    uint32_t cnt = ts_node_named_child_count(dict);
    for (uint32_t i = 0; i < cnt; i++) {
        TSNode p = ts_node_named_child(dict, i);
        if (!IS(p, "pair") || !moat__py_is_str(FIELD(p, "key"))) continue;
        char *k = moat__py_str_value(c, FIELD(p, "key"));
        check_value(c, k, at, FIELD(p, "value"));
        free(k);
    }
}

static void walk_flask(moat__py_ctx *c, TSNode n, int depth, bool django)
{
    if (depth > MOAT__PY_MAX_DEPTH) return;
    if (IS(n, "assignment")) {
        TSNode left = FIELD(n, "left"), right = FIELD(n, "right");
        if (IS(left, "subscript") && config_object(c, FIELD(left, "value")) &&
            moat__py_is_str(FIELD(left, "subscript")) && !ts_node_is_null(right)) {
            char *k = moat__py_str_value(c, FIELD(left, "subscript"));
            check_value(c, k, n, right);
            free(k);
        }
    } else if (IS(n, "call")) {
        TSNode fn = FIELD(n, "function");
        if (IS(fn, "attribute") && config_object(c, FIELD(fn, "object")) &&
            (TEXT_IS(c, FIELD(fn, "attribute"), "update") ||
             TEXT_IS(c, FIELD(fn, "attribute"), "from_mapping"))) {
            TSNode args = FIELD(n, "arguments");
            uint32_t cnt = ts_node_named_child_count(args);
            for (uint32_t i = 0; i < cnt; i++) {
                TSNode a = ts_node_named_child(args, i);
                if (IS(a, "keyword_argument")) {
                    size_t len;
                    const char *t = moat__py_text(c, FIELD(a, "name"), &len);
                    char *k = moat_xstrndup(t, len);
                    check_value(c, k, a, FIELD(a, "value"));
                    free(k);
                } else if (IS(a, "dictionary")) {
                    check_mapping(c, n, a);
                }
            }
        }
    } else if (IS(n, "class_definition") && !django) {
        size_t len;
        const char *t = moat__py_text(c, FIELD(n, "name"), &len);
        if (len >= 6 && memmem(t, len, "Config", 6)) {
            module_settings m = {0};
            collect(c, FIELD(n, "body"), &m);
            for (size_t i = 0; i < m.len; i++)
                if (!ts_node_is_null(m.v[i].v)) check_value(c, m.v[i].name, m.v[i].at, m.v[i].v);
            settings_free(&m);
        }
    }
    uint32_t cnt = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < cnt; i++)
        walk_flask(c, ts_node_named_child(n, i), depth + 1, django);
}

static bool settings_like_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strstr(base, "settings") || strstr(base, "config") || strstr(path, "settings/");
}

void moat__audit_settings_check(moat__py_ctx *c, TSNode root)
{
    module_settings m = {0};
    collect(c, root, &m);
    bool django = find(&m, "INSTALLED_APPS") || find(&m, "MIDDLEWARE") ||
                  find(&m, "ROOT_URLCONF") ||
                  (settings_like_name(c->path) && m.star && moat__py_imported_like(c, "settings"));
    if (django) {
        check_django(c, &m);
    } else if (settings_like_name(c->path)) {
        /* a Flask config module (from_object / from_pyfile): explicit values only */
        for (size_t i = 0; i < m.len; i++)
            if (!ts_node_is_null(m.v[i].v)) check_value(c, m.v[i].name, m.v[i].at, m.v[i].v);
    }
    settings_free(&m);
    walk_flask(c, root, 0, false);
}

/* ---- .env files ------------------------------------------------------------- */

bool moat_audit_settings_is_env(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    return !strcmp(base, ".env") || !strncmp(base, ".env.", 5) ||
           (n > 4 && !strcmp(base + n - 4, ".env"));
}

static bool truthy_word(const char *v, size_t n)
{
    static const char *const yes[] = {"1", "true", "yes", "on", "development"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(yes); i++)
        if (strlen(yes[i]) == n && strncasecmp(v, yes[i], n) == 0) return true;
    return false;
}

static bool falsy_word(const char *v, size_t n)
{
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(no); i++)
        if (strlen(no[i]) == n && strncasecmp(v, no[i], n) == 0) return true;
    return false;
}

void moat_audit_settings_env(const char *path, const char *src, size_t len,
                             const moat_audit_code_opts *o, moat_audit_findings *out,
                             moat_audit_file_result *res)
{
    memset(res, 0, sizeof(*res));
    const char *end = src + len;
    unsigned line = 0;
    for (const char *p = src; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        const char *k = p;
        while (k < le && (*k == ' ' || *k == '\t'))
            k++;
        if (le - k > 7 && !strncmp(k, "export ", 7)) k += 7;
        const char *eq = memchr(k, '=', (size_t)(le - k));
        if (eq && *k != '#') {
            const char *ke = eq;
            while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
                ke--;
            const char *v = eq + 1, *ve = le;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
                ve--;
            if (ve - v >= 2 && (*v == '"' || *v == '\'') && ve[-1] == *v) {
                v++;
                ve--;
            } else {
                const char *h = memchr(v, '#', (size_t)(ve - v)); /* VALUE # comment */
                if (h && h > v && (h[-1] == ' ' || h[-1] == '\t')) {
                    ve = h;
                    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                        ve--;
                }
            }
            size_t kn = (size_t)(ke - k), vn = (size_t)(ve - v);
            const char *id = NULL;
#define KEY(s) (kn == strlen(s) && !strncmp(k, s, kn))
            if ((KEY("DEBUG") || KEY("FLASK_DEBUG") || KEY("DJANGO_DEBUG")) && truthy_word(v, vn))
                id = "security.W018";
            else if (KEY("FLASK_ENV") && vn == 11 && !strncmp(v, "development", 11))
                id = "security.W018";
            else if ((KEY("SESSION_COOKIE_SECURE") || KEY("DJANGO_SESSION_COOKIE_SECURE")) &&
                     falsy_word(v, vn))
                id = "security.W012";
            else if ((KEY("CSRF_COOKIE_SECURE") || KEY("DJANGO_CSRF_COOKIE_SECURE")) &&
                     falsy_word(v, vn))
                id = "security.W016";
            else if (KEY("ALLOWED_HOSTS") || KEY("DJANGO_ALLOWED_HOSTS")) {
                if (vn == 1 && *v == '*') id = "MOAT-S101";
            } else if (KEY("SECRET_KEY") || KEY("DJANGO_SECRET_KEY") || KEY("FLASK_SECRET_KEY")) {
                char *s = moat_xstrndup(v, vn);
                if (vn && weak_key(s)) id = "security.W009";
                free(s);
            }
#undef KEY
            bool skip = false;
            for (size_t i = 0; id && o && i < o->nskip; i++)
                skip = skip || !strcmp(o->skip[i], id);
            if (id && !skip) {
                if (moat_audit_suppressed(src, len, line, line, id, "settings")) {
                    res->suppressed++;
                } else {
                    size_t before = out->len;
                    moat__audit_line_finding(out, rule(id), "settings", path, src, len,
                                             (size_t)(k - src), 0, 0, NULL);
                    moat_audit_finding *f = &out->v[before];
                    if (!strcmp(id, "security.W009") && f->snippet) {
                        /* mask the key's value */
                        size_t off = (size_t)(v - p);
                        for (size_t i = off; i < off + vn && f->snippet[i]; i++)
                            f->snippet[i] = '*';
                    }
                }
            }
        }
        if (!nl) break;
        p = nl + 1;
    }
}
