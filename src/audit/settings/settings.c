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
            not_checkable(c, name, at, k, flags[i].id);
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

static void check_django(moat__py_ctx *c, module_settings *m)
{
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
                                          "SESSION_COOKIE_SAMESITE"};
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
