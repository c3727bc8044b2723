/* pep508.c - PEP 508 dependency specifiers ("name[extra] >=1.0; marker" and
 * "name @ URL") and environment markers, evaluated as packaging does: a
 * comparison whose both sides are versions uses PEP 440 (pre-releases
 * allowed), anything else compares the strings; extra names compare
 * normalised. The marker environment comes from running the target Python
 * once, or from --python-version and uname(2). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deps_int.h"

/* ---- environment ----------------------------------------------------------*/

static const char py_script[] =
    "import json,os,sys,platform\n"
    "def f(i):\n"
    "    v='{0.major}.{0.minor}.{0.micro}'.format(i)\n"
    "    if i.releaselevel!='final': v+=i.releaselevel[0]+str(i.serial)\n"
    "    return v\n"
    "print(json.dumps({'implementation_name':sys.implementation.name,"
    "'implementation_version':f(sys.implementation.version),'os_name':os.name,"
    "'platform_machine':platform.machine(),'platform_release':platform.release(),"
    "'platform_system':platform.system(),'platform_version':platform.version(),"
    "'python_full_version':platform.python_version(),"
    "'platform_python_implementation':platform.python_implementation(),"
    "'python_version':'.'.join(platform.python_version_tuple()[:2]),"
    "'sys_platform':sys.platform}))\n";

#define ENV_FIELDS(X)                                                                              \
    X(python_version)                                                                              \
    X(python_full_version)                                                                         \
    X(os_name)                                                                                     \
    X(sys_platform)                                                                                \
    X(platform_system)                                                                             \
    X(platform_machine)                                                                            \
    X(platform_release)                                                                            \
    X(platform_version)                                                                            \
    X(implementation_name)                                                                         \
    X(implementation_version)                                                                      \
    X(platform_python_implementation)

static void set(char **slot, const char *v)
{
    free(*slot);
    *slot = v ? moat_xstrdup(v) : NULL;
}

static void from_uname(moat_marker_env *env)
{
    struct utsname u;
    if (uname(&u) < 0) return;
    set(&env->os_name, "posix");
    char low[sizeof(u.sysname)];
    size_t i = 0;
    for (; u.sysname[i] && i + 1 < sizeof(low); i++)
        low[i] = (char)tolower((unsigned char)u.sysname[i]);
    low[i] = 0;
    set(&env->sys_platform, low);
    set(&env->platform_system, u.sysname);
    set(&env->platform_machine, u.machine);
    set(&env->platform_release, u.release);
    set(&env->platform_version, u.version);
}

/* Runs "python -I -c SCRIPT" without a shell and collects its stdout. */
static int run_python(const char *python, moat_buf *out)
{
    int pfd[2];
    if (pipe(pfd) < 0) return MOAT_EIO;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return MOAT_EIO;
    }
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execl(python, python, "-I", "-c", py_script, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char buf[4096];
    ssize_t r;
    while ((r = read(pfd[0], buf, sizeof(buf))) > 0 && out->len < 65536)
        moat_buf_append(out, buf, (size_t)r);
    close(pfd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : MOAT_EIO;
}

int moat_marker_env_init(moat_marker_env *env, const char *python, const char *pyver, char **err)
{
    memset(env, 0, sizeof(*env));
    *err = NULL;
    from_uname(env);
    set(&env->implementation_name, "cpython");
    set(&env->platform_python_implementation, "CPython");
    if (pyver) {
        moat_pep440 *v = NULL;
        size_t dots = 0;
        for (const char *p = pyver; *p; p++)
            dots += *p == '.';
        if (moat_pep440_parse(pyver, strlen(pyver), &v) < 0 || dots < 1 || dots > 2) {
            moat_pep440_free(v);
            *err = moat_xasprintf("--python-version '%s': write MAJOR.MINOR or "
                                  "MAJOR.MINOR.PATCH, e.g. 3.11",
                                  pyver);
            return MOAT_EINVAL;
        }
        moat_pep440_free(v);
        const char *second = strchr(pyver, '.');
        const char *third = strchr(second + 1, '.');
        char *short_v = third ? moat_xstrndup(pyver, (size_t)(third - pyver)) : moat_xstrdup(pyver);
        char *full = third ? moat_xstrdup(pyver) : moat_xasprintf("%s.0", pyver);
        set(&env->python_version, short_v);
        set(&env->python_full_version, full);
        set(&env->implementation_version, full);
        free(short_v);
        free(full);
        return 0;
    }
    if (!python) python = "/usr/bin/python3";
    moat_buf out;
    moat_buf_init(&out);
    int rc = run_python(python, &out);
    json_t *j = rc == 0 ? json_loadb(out.data ? out.data : "", out.len, 0, NULL) : NULL;
    moat_buf_free(&out);
    if (!json_is_object(j)) {
        json_decref(j);
        *err = moat_xasprintf("cannot run %s to learn the target environment; pass "
                              "--python-version",
                              python);
        return MOAT_EIO;
    }
#define X(f) set(&env->f, json_string_value(json_object_get(j, #f)));
    ENV_FIELDS(X)
#undef X
    json_decref(j);
    return 0;
}

void moat_marker_env_clear(moat_marker_env *env)
{
#define X(f) free(env->f);
    ENV_FIELDS(X)
#undef X
    memset(env, 0, sizeof(*env));
}

static const char *const *env_lookup(const moat_marker_env *env, const char *name, size_t n,
                                     bool *known)
{
    static const char *none = NULL;
    *known = true;
#define X(f)                                                                                       \
    if (n == strlen(#f) && memcmp(name, #f, n) == 0) return (const char *const *)&env->f;
    ENV_FIELDS(X)
#undef X
    *known = false;
    return &none;
}

/* ---- markers --------------------------------------------------------------*/

typedef struct mparser {
    const char *s;
    size_t n, i;
    const moat_marker_env *env;
    const char *extra;
    char *err;
    int unknown; /* a value the environment does not know was read */
    int depth;   /* parentheses open: bounded, so no input exhausts the stack */
} mparser;

static void ws(mparser *p)
{
    while (p->i < p->n && isspace((unsigned char)p->s[p->i]))
        p->i++;
}

static bool word(mparser *p, const char *w)
{
    ws(p);
    size_t l = strlen(w);
    if (p->i + l > p->n || memcmp(p->s + p->i, w, l) != 0) return false;
    if (isalnum((unsigned char)w[l - 1]) && p->i + l < p->n &&
        (isalnum((unsigned char)p->s[p->i + l]) || p->s[p->i + l] == '_'))
        return false;
    p->i += l;
    return true;
}

static void perr(mparser *p, const char *what)
{
    if (!p->err)
        p->err = moat_xasprintf("marker '%.*s': %s at column %zu", (int)p->n, p->s, what, p->i + 1);
}

typedef struct operand {
    char *value; /* owned; NULL unknown */
    bool is_var, is_extra;
} operand;

static bool read_operand(mparser *p, operand *o)
{
    ws(p);
    memset(o, 0, sizeof(*o));
    if (p->i < p->n && (p->s[p->i] == '"' || p->s[p->i] == '\'')) {
        char q = p->s[p->i++];
        size_t st = p->i;
        while (p->i < p->n && p->s[p->i] != q)
            p->i++;
        if (p->i >= p->n) {
            perr(p, "unterminated string");
            return false;
        }
        o->value = moat_xstrndup(p->s + st, p->i - st);
        p->i++;
        return true;
    }
    size_t st = p->i;
    while (p->i < p->n &&
           (isalnum((unsigned char)p->s[p->i]) || p->s[p->i] == '_' || p->s[p->i] == '.'))
        p->i++;
    if (p->i == st) {
        perr(p, "expected a marker name or a quoted string");
        return false;
    }
    o->is_var = true;
    const char *name = p->s + st;
    size_t n = p->i - st;
    if (n == 5 && memcmp(name, "extra", 5) == 0) {
        o->is_extra = true;
        o->value = moat_xstrdup(p->extra ? p->extra : "");
        return true;
    }
    bool known;
    const char *const *slot = env_lookup(p->env, name, n, &known);
    if (!known) {
        char *nm = moat_xstrndup(name, n);
        char *m = moat_xasprintf("unknown marker name '%s'", nm);
        perr(p, m);
        free(m);
        free(nm);
        return false;
    }
    if (*slot)
        o->value = moat_xstrdup(*slot);
    else
        p->unknown++;
    return true;
}

static const char *const cmp_ops[] = {"===", "==", "!=", "<=", ">=", "~=", "<", ">", NULL};

/* packaging's _eval_op: a version comparison when "op rhs" is a valid
 * specifier and lhs a version; otherwise Python's string operators. */
static int eval_op(const char *lhs, const char *op, const char *rhs, mparser *p)
{
    if (strcmp(op, "in") == 0) return strstr(rhs, lhs) != NULL;
    if (strcmp(op, "not in") == 0) return strstr(rhs, lhs) == NULL;
    char *spec_text = moat_xasprintf("%s%s", op, rhs);
    moat_pep440_specset *set = NULL;
    moat_pep440 *v = NULL;
    int r = -1;
    if (moat_pep440_specset_parse(spec_text, strlen(spec_text), &set, NULL) == 0 &&
        moat_pep440_specset_len(set) == 1 && moat_pep440_parse(lhs, strlen(lhs), &v) == 0)
        r = moat_pep440_specset_contains(set, v, 1);
    moat_pep440_free(v);
    moat_pep440_specset_free(set);
    free(spec_text);
    if (r >= 0) return r;
    int c = strcmp(lhs, rhs);
    if (strcmp(op, "==") == 0) return c == 0;
    if (strcmp(op, "!=") == 0) return c != 0;
    if (strcmp(op, "<") == 0) return c < 0;
    if (strcmp(op, "<=") == 0) return c <= 0;
    if (strcmp(op, ">") == 0) return c > 0;
    if (strcmp(op, ">=") == 0) return c >= 0;
    perr(p, "this comparison is undefined for values that are not versions");
    return -1;
}

static int m_or(mparser *p);

static int m_atom(mparser *p)
{
    ws(p);
    if (p->i < p->n && p->s[p->i] == '(') {
        if (++p->depth > 64) {
            perr(p, "parentheses nested too deep");
            return -1;
        }
        p->i++;
        int r = m_or(p);
        p->depth--;
        ws(p);
        if (r < 0) return r;
        if (p->i >= p->n || p->s[p->i] != ')') {
            perr(p, "expected ')'");
            return -1;
        }
        p->i++;
        return r;
    }
    operand a, b;
    if (!read_operand(p, &a)) return -1;
    ws(p);
    const char *op = NULL;
    if (word(p, "not")) {
        if (!word(p, "in")) {
            free(a.value);
            perr(p, "expected 'in' after 'not'");
            return -1;
        }
        op = "not in";
    } else if (word(p, "in")) {
        op = "in";
    } else {
        for (size_t k = 0; cmp_ops[k]; k++) {
            size_t l = strlen(cmp_ops[k]);
            if (p->i + l <= p->n && memcmp(p->s + p->i, cmp_ops[k], l) == 0) {
                op = cmp_ops[k];
                p->i += l;
                break;
            }
        }
    }
    if (!op) {
        free(a.value);
        perr(p, "expected a comparison operator");
        return -1;
    }
    if (!read_operand(p, &b)) {
        free(a.value);
        return -1;
    }
    int r;
    if (a.is_var == b.is_var) {
        perr(p, "a comparison needs one marker name and one quoted string");
        r = -1;
    } else if (!a.value || !b.value) {
        r = 1; /* unknown value: counted in p->unknown, decided by the caller */
    } else if (a.is_extra || b.is_extra) {
        char *x = moat_pep503_name(a.value, strlen(a.value));
        char *y = moat_pep503_name(b.value, strlen(b.value));
        r = eval_op(x, op, y, p);
        free(x);
        free(y);
    } else {
        r = eval_op(a.value, op, b.value, p);
    }
    free(a.value);
    free(b.value);
    return r;
}

static int m_and(mparser *p)
{
    int r = m_atom(p);
    while (r >= 0 && word(p, "and")) {
        int s = m_atom(p);
        if (s < 0) return s;
        r = r && s;
    }
    return r;
}

static int m_or(mparser *p)
{
    int r = m_and(p);
    while (r >= 0 && word(p, "or")) {
        int s = m_and(p);
        if (s < 0) return s;
        r = r || s;
    }
    return r;
}

int moat_marker_eval(const char *marker, const moat_marker_env *env, const char *extra, char **err)
{
    *err = NULL;
    mparser p = {marker, strlen(marker), 0, env, extra, NULL, 0, 0};
    int r = m_or(&p);
    ws(&p);
    if (r >= 0 && p.i != p.n) {
        perr(&p, "unexpected text");
        r = -1;
    }
    if (r < 0) {
        *err = p.err ? p.err : moat_xasprintf("marker '%s': invalid", marker);
        return MOAT_EPARSE;
    }
    free(p.err);
    if (p.unknown) {
        *err = moat_xasprintf("marker '%s' reads a value of the target environment that is "
                              "not known",
                              marker);
        return MOAT_EINVAL;
    }
    return r;
}

/* ---- requirements ---------------------------------------------------------*/

void moat_pep508_clear(moat_pep508_req *r)
{
    free(r->name);
    moat_deps_strv_free(r->extras, r->nextras);
    moat_pep440_specset_free(r->spec);
    free(r->url);
    free(r->marker);
    memset(r, 0, sizeof(*r));
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

int moat_pep508_parse(const char *s, size_t n, moat_pep508_req *out, char **err)
{
    memset(out, 0, sizeof(*out));
    *err = NULL;
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    size_t st = i;
    while (i < n && name_char(s[i]))
        i++;
    if (i == st || !isalnum((unsigned char)s[st]) || !isalnum((unsigned char)s[i - 1])) {
        *err = moat_xasprintf("'%.*s': expected a package name", (int)n, s);
        return MOAT_EPARSE;
    }
    out->name = moat_xstrndup(s + st, i - st);
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (i < n && s[i] == '[') {
        i++;
        size_t cap = 0;
        for (;;) {
            while (i < n && isspace((unsigned char)s[i]))
                i++;
            if (i < n && s[i] == ']') {
                i++;
                break;
            }
            size_t e = i;
            while (i < n && name_char(s[i]))
                i++;
            if (i == e) goto bad;
            if (out->nextras == cap) {
                cap = cap ? cap * 2 : 4;
                out->extras = moat_xrealloc(out->extras, cap * sizeof(char *));
            }
            out->extras[out->nextras++] = moat_xstrndup(s + e, i - e);
            while (i < n && isspace((unsigned char)s[i]))
                i++;
            if (i < n && s[i] == ',') {
                i++;
                continue;
            }
            if (i < n && s[i] == ']') {
                i++;
                break;
            }
            goto bad;
        }
        while (i < n && isspace((unsigned char)s[i]))
            i++;
    }
    /* the marker starts at the first ';' (for a URL, one after whitespace) */
    size_t semi = n;
    if (i < n && s[i] == '@') {
        i++;
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        size_t u = i;
        while (i < n && !isspace((unsigned char)s[i]))
            i++;
        if (i == u) goto bad;
        out->url = moat_xstrndup(s + u, i - u);
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i < n && s[i] != ';') goto bad;
        semi = i;
    } else {
        for (size_t k = i; k < n; k++)
            if (s[k] == ';') {
                semi = k;
                break;
            }
        size_t a = i, b = semi;
        while (b > a && isspace((unsigned char)s[b - 1]))
            b--;
        if (a < b && s[a] == '(') {
            if (s[b - 1] != ')') goto bad;
            a++;
            b--;
        }
        char *e2 = NULL;
        if (moat_pep440_specset_parse(s + a, b - a, &out->spec, &e2) < 0) {
            *err = moat_xasprintf("'%.*s': %s", (int)n, s, e2);
            free(e2);
            moat_pep508_clear(out);
            return MOAT_EPARSE;
        }
    }
    if (!out->spec) moat_pep440_specset_parse("", 0, &out->spec, NULL);
    if (semi < n) {
        size_t a = semi + 1, b = n;
        while (a < b && isspace((unsigned char)s[a]))
            a++;
        while (b > a && isspace((unsigned char)s[b - 1]))
            b--;
        if (a == b) goto bad;
        out->marker = moat_xstrndup(s + a, b - a);
        /* check the syntax now, so a bad marker is reported where it is */
        moat_marker_env empty = {0};
        char *e2 = NULL;
        if (moat_marker_eval(out->marker, &empty, "", &e2) == MOAT_EPARSE) {
            *err = e2;
            moat_pep508_clear(out);
            return MOAT_EPARSE;
        }
        free(e2);
    }
    return 0;
bad:
    *err = moat_xasprintf("'%.*s': not a PEP 508 requirement", (int)n, s);
    moat_pep508_clear(out);
    return MOAT_EPARSE;
}
