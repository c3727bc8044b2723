/* requirements.c - the dependency list, finding inputs in a project folder,
 * and pip's requirements file format: -r/-c includes (cycles refused),
 * line continuations, comments, per-requirement options such as --hash,
 * editable installs, URLs and VCS references (kept as not auditable),
 * environment markers. pyproject.toml, the lock files and site-packages
 * are locks.c's. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deps_int.h"

#define MAX_INCLUDE_DEPTH 16

void moat_deps_init(moat_deps *d, const moat_marker_env *env, FILE *diag)
{
    memset(d, 0, sizeof(*d));
    d->env = env;
    d->diag = diag;
}

void moat_deps_free(moat_deps *d)
{
    for (size_t i = 0; i < d->len; i++) {
        moat_dep *x = &d->v[i];
        free(x->name);
        free(x->display);
        free(x->version);
        free(x->spec);
        free(x->note);
        free(x->file);
    }
    free(d->v);
    free(d->env_err);
    moat_deps_strv_free(d->read, d->nread);
    memset(d, 0, sizeof(*d));
}

static char *dup_or_null(const char *s)
{
    return s ? moat_xstrdup(s) : NULL;
}

void moat_deps_add(moat_deps *d, const char *name, const char *version, const char *spec,
                   const char *note, const char *file, unsigned line)
{
    if (d->len == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->v = moat_xrealloc(d->v, d->cap * sizeof(*d->v));
    }
    moat_dep *x = &d->v[d->len++];
    x->name = moat_pep503_name(name, strlen(name));
    x->display = moat_xstrdup(name);
    x->version = dup_or_null(version);
    x->spec = dup_or_null(spec);
    x->note = dup_or_null(note);
    x->file = moat_xstrdup(file);
    x->line = line;
}

void moat_deps_problem(moat_deps *d, const char *file, unsigned line, const char *fmt, ...)
{
    d->problems++;
    if (!d->diag) return;
    va_list ap;
    va_start(ap, fmt);
    if (line)
        fprintf(d->diag, "%s:%u: ", file, line);
    else
        fprintf(d->diag, "%s: ", file);
    vfprintf(d->diag, fmt, ap);
    fputc('\n', d->diag);
    va_end(ap);
}

const moat_marker_env *moat__deps_env(moat_deps *d)
{
    if (d->parent) return moat__deps_env(d->parent);
    if (!d->env && d->lazy) {
        char *err = NULL;
        if (moat_marker_env_init(d->lazy, d->lazy_python, NULL, &err) < 0) {
            free(d->env_err);
            d->env_err = err;
        }
        d->env = d->lazy;
    }
    return d->env;
}

/* Whether a requirement with this marker applies to the target; an
 * undecidable marker keeps it (and says so once). */
static bool marker_applies(moat_deps *d, const char *marker, const char *file, unsigned line)
{
    if (!marker) return true;
    const moat_marker_env *env = moat__deps_env(d);
    if (!env) return true;
    char *err = NULL;
    int r = moat_marker_eval(marker, env, "", &err);
    if (r >= 0) return r == 1;
    if (r == MOAT_EPARSE) {
        moat_deps_problem(d, file, line, "%s", err);
    } else if (!d->env_warned) {
        d->env_warned = true;
        if (d->diag)
            fprintf(d->diag, "%s:%u: warning: %s%s%s; the requirement is audited anyway\n", file,
                    line, err, d->env_err ? ": " : "", d->env_err ? d->env_err : "");
    }
    free(err);
    return true;
}

void moat__deps_add_req(moat_deps *d, const moat_pep508_req *r, const char *file, unsigned line)
{
    if (!marker_applies(d, r->marker, file, line)) return;
    if (r->url) {
        /* git+https://TOKEN@host/... or user:password@: the credentials
         * never reach the report */
        char *url = moat_xstrdup(r->url);
        char *scheme = strstr(url, "://");
        if (scheme) {
            char *host = scheme + 3, *end = host + strcspn(host, "/?#");
            char *at = NULL;
            for (char *p = host; p < end; p++)
                if (*p == '@') at = p;
            if (at) {
                char *red = moat_xasprintf("%.*s***%s", (int)(host - url), url, at);
                free(url);
                url = red;
            }
        }
        char *note = moat_xasprintf("direct reference %s: not audited (no version)", url);
        free(url);
        moat_deps_add(d, r->name, NULL, NULL, note, file, line);
        free(note);
        return;
    }
    const char *pin = NULL;
    if (moat_pep440_specset_pinned(r->spec, &pin)) {
        moat_deps_add(d, r->name, pin, NULL, NULL, file, line);
        return;
    }
    char *spec = moat_pep440_specset_str(r->spec);
    moat_deps_add(d, r->name, NULL, spec, NULL, file, line);
    free(spec);
}

/* ---- requirements files ---------------------------------------------------*/

typedef struct rctx {
    moat_deps *d;
    char **stack; /* files being read, for cycles */
    size_t depth;
    moat_deps constraints; /* -c files: pins that apply to unpinned requirements */
} rctx;

static int read_req_file(rctx *c, const char *path, bool constraint);

static char *resolve(const char *base, const char *rel)
{
    if (rel[0] == '/') return moat_xstrdup(rel);
    const char *slash = strrchr(base, '/');
    if (!slash) return moat_xstrdup(rel);
    return moat_xasprintf("%.*s/%s", (int)(slash - base), base, rel);
}

static bool starts(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* "-r FILE", "-rFILE", "--requirement FILE", "--requirement=FILE": the
 * argument, or NULL when s is not that option. */
static const char *opt_arg(const char *s, const char *shrt, const char *lng)
{
    size_t l = strlen(lng);
    if (strncmp(s, lng, l) == 0 && (s[l] == '=' || isspace((unsigned char)s[l]))) {
        s += l + 1;
    } else if (shrt && strncmp(s, shrt, 2) == 0) {
        s += 2;
        if (*s == '=') s++;
    } else {
        return NULL;
    }
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

static const char *const global_opts[] = {"-i",
                                          "--index-url",
                                          "--extra-index-url",
                                          "--no-index",
                                          "-f",
                                          "--find-links",
                                          "--pre",
                                          "--prefer-binary",
                                          "--require-hashes",
                                          "--trusted-host",
                                          "--only-binary",
                                          "--no-binary",
                                          "--use-feature",
                                          "-Z",
                                          "--always-unzip",
                                          "--process-dependency-links",
                                          NULL};

static bool is_global_opt(const char *s)
{
    for (size_t k = 0; global_opts[k]; k++) {
        size_t l = strlen(global_opts[k]);
        if (strncmp(s, global_opts[k], l) == 0 &&
            (s[l] == 0 || s[l] == '=' || isspace((unsigned char)s[l]) ||
             (global_opts[k][1] != '-' && l == 2)))
            return true;
    }
    return false;
}

/* "pkg @ url", a bare URL or path: the name from #egg= when there is one. */
static void add_url(rctx *c, const char *s, const char *file, unsigned line, const char *why)
{
    const char *egg = strstr(s, "#egg=");
    char *name = NULL;
    if (!egg) egg = strstr(s, "&egg=");
    if (egg) {
        egg += 5;
        size_t n = 0;
        while (egg[n] &&
               (isalnum((unsigned char)egg[n]) || egg[n] == '-' || egg[n] == '_' || egg[n] == '.'))
            n++;
        if (n) name = moat_xstrndup(egg, n);
    }
    size_t ul = strcspn(s, " \t");
    char *note = moat_xasprintf("%s %.*s: not audited (no version)", why, (int)ul, s);
    moat_deps_add(c->d, name ? name : "(unnamed)", NULL, NULL, note, file, line);
    free(note);
    free(name);
}

static void req_line(rctx *c, char *s, const char *file, unsigned line, bool constraint)
{
    moat_deps *d = c->d;
    if (s[0] == '-') {
        const char *arg;
        if ((arg = opt_arg(s, "-r", "--requirement")) || (arg = opt_arg(s, "-c", "--constraint"))) {
            bool is_c = starts(s, "-c") || starts(s, "--constraint");
            if (!*arg) {
                moat_deps_problem(d, file, line, "'%s' needs a file name", s);
                return;
            }
            if (strstr(arg, "://")) {
                moat_deps_problem(d, file, line, "'%s': remote requirement files are not read", s);
                return;
            }
            char *p = resolve(file, arg);
            bool cycle = false;
            for (size_t i = 0; i < c->depth && !cycle; i++)
                cycle = strcmp(c->stack[i], p) == 0;
            int rc = 0;
            if (cycle)
                moat_deps_problem(d, file, line,
                                  "'%s' is already being read (an include cycle); not read again",
                                  p);
            else if (c->depth >= MAX_INCLUDE_DEPTH)
                moat_deps_problem(d, file, line, "-r/-c includes nested too deep");
            else
                rc = read_req_file(c, p, constraint || is_c);
            if (rc < 0)
                moat_deps_problem(d, file, line, "cannot read '%s': %s", p, moat_strerror(rc));
            free(p);
            return;
        }
        if ((arg = opt_arg(s, "-e", "--editable"))) {
            if (!constraint) add_url(c, arg, file, line, "editable");
            return;
        }
        if (is_global_opt(s)) return;
        moat_deps_problem(d, file, line, "unknown option '%.*s'", (int)strcspn(s, " \t="), s);
        return;
    }
    /* per-requirement options (--hash=..., --config-settings ...) end it */
    for (char *p = s; *p; p++) {
        if (isspace((unsigned char)p[0]) && p[1] == '-' && p[2] == '-') {
            *p = 0;
            break;
        }
    }
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    size_t scheme = 0;
    while (isalpha((unsigned char)s[scheme]) || s[scheme] == '+')
        scheme++;
    if (scheme && strncmp(s + scheme, "://", 3) == 0) {
        if (!constraint) add_url(c, s, file, line, "URL");
        return;
    }
    if (s[0] == '.' || s[0] == '/') {
        if (!constraint) add_url(c, s, file, line, "local path");
        return;
    }
    moat_pep508_req r;
    char *err = NULL;
    if (moat_pep508_parse(s, n, &r, &err) < 0) {
        moat_deps_problem(d, file, line, "%s", err);
        free(err);
        return;
    }
    moat__deps_add_req(constraint ? &c->constraints : d, &r, file, line);
    moat_pep508_clear(&r);
}

static void parse_req_text(rctx *c, const char *path, const char *data, size_t len, bool constraint)
{
    moat_buf logical;
    moat_buf_init(&logical);
    unsigned lineno = 0, start = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && data[j] != '\n')
            j++;
        lineno++;
        size_t e = j;
        if (e > i && data[e - 1] == '\r') e--;
        if (!logical.len) start = lineno;
        bool cont = e > i && data[e - 1] == '\\';
        moat_buf_append(&logical, data + i, cont ? e - i - 1 : e - i);
        i = j + 1;
        if (cont && i < len) continue;
        char *s = logical.data ? logical.data : (char *)"";
        size_t n = logical.len;
        if (memchr(s, 0, n)) {
            moat_deps_problem(c->d, path, start, "not a text line (NUL byte)");
            moat_buf_reset(&logical);
            continue;
        }
        /* a comment starts at '#' at the line's start or after whitespace */
        for (char *p = s; *p; p++)
            if (*p == '#' && (p == s || isspace((unsigned char)p[-1]))) {
                *p = 0;
                break;
            }
        while (isspace((unsigned char)*s))
            s++;
        n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1]))
            s[--n] = 0;
        if (n) req_line(c, s, path, start, constraint);
        moat_buf_reset(&logical);
    }
    moat_buf_free(&logical);
}

static int read_req_file(rctx *c, const char *path, bool constraint)
{
    MOAT_BUG_ON(c->depth >= MAX_INCLUDE_DEPTH); /* the caller checks */
    char *data;
    size_t len;
    int rc = moat_read_file(path, &data, &len);
    if (rc < 0) return rc;
    char *real = realpath(path, NULL);
    if (real) {
        c->d->read = moat_xrealloc(c->d->read, (c->d->nread + 1) * sizeof(char *));
        c->d->read[c->d->nread++] = real;
    }
    c->stack[c->depth++] = (char *)path;
    parse_req_text(c, path, data, len, constraint);
    free(data);
    c->depth--;
    return 0;
}

static int requirements(moat_deps *d, const char *path, const char *data, size_t len)
{
    char *stack[MAX_INCLUDE_DEPTH];
    rctx c = {d, stack, 0, {0}};
    moat_deps_init(&c.constraints, NULL, d->diag);
    c.constraints.parent = d;
    size_t first = d->len;
    int rc = 0;
    if (data) {
        stack[c.depth++] = (char *)path;
        parse_req_text(&c, path, data, len, false);
    } else {
        rc = read_req_file(&c, path, false);
    }
    if (rc < 0) {
        moat_deps_problem(d, path, 0, "cannot read: %s", strerror(errno));
    } else {
        /* a constraint's pin applies to the unpinned requirement it names */
        for (size_t i = first; i < d->len; i++) {
            moat_dep *x = &d->v[i];
            if (x->version || x->note) continue;
            for (size_t k = 0; k < c.constraints.len; k++) {
                moat_dep *y = &c.constraints.v[k];
                if (y->version && strcmp(x->name, y->name) == 0) {
                    x->version = moat_xstrdup(y->version);
                    free(x->spec);
                    x->spec = NULL;
                    break;
                }
            }
        }
    }
    d->problems += c.constraints.problems;
    moat_deps_free(&c.constraints);
    return rc;
}

int moat_deps_read_requirements(moat_deps *d, const char *path)
{
    return requirements(d, path, NULL, 0);
}

void moat__deps_parse_requirements(moat_deps *d, const char *path, const char *data, size_t len)
{
    requirements(d, path, data, len);
}

/* ---- finding inputs -------------------------------------------------------*/

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static bool is_requirements_name(const char *b)
{
    size_t n = strlen(b);
    return starts(b, "requirements") &&
           ((n > 4 && strcmp(b + n - 4, ".txt") == 0) || (n > 3 && strcmp(b + n - 3, ".in") == 0));
}

static bool is_lock_name(const char *b)
{
    return strcmp(b, "poetry.lock") == 0 || strcmp(b, "Pipfile.lock") == 0 ||
           strcmp(b, "uv.lock") == 0 || strcmp(b, "pdm.lock") == 0 ||
           strcmp(b, "pylock.toml") == 0 ||
           (starts(b, "pylock.") && strlen(b) > 12 && strcmp(b + strlen(b) - 5, ".toml") == 0);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_dist_info(const char *dir)
{
    DIR *dh = opendir(dir);
    if (!dh) return false;
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(dh))) {
        size_t n = strlen(e->d_name);
        found = n > 10 && strcmp(e->d_name + n - 10, ".dist-info") == 0;
    }
    closedir(dh);
    return found;
}

bool moat_deps_dir_has_inputs(const char *dir)
{
    if (has_dist_info(dir)) return true;
    DIR *dh = opendir(dir);
    if (!dh) return false;
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(dh)))
        found = is_requirements_name(e->d_name) || is_lock_name(e->d_name) ||
                strcmp(e->d_name, "pyproject.toml") == 0;
    closedir(dh);
    return found;
}

static int collect_dir(moat_deps *d, const char *dir)
{
    if (has_dist_info(dir)) return moat_deps_read_site_packages(d, dir);
    DIR *dh = opendir(dir);
    if (!dh) {
        moat_deps_problem(d, dir, 0, "cannot open: %s", strerror(errno));
        return MOAT_EIO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (!is_requirements_name(e->d_name) && !is_lock_name(e->d_name) &&
            strcmp(e->d_name, "pyproject.toml") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            names = moat_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = moat_xstrdup(e->d_name);
    }
    closedir(dh);
    if (n) qsort(names, n, sizeof(*names), name_cmp);
    bool lock = false;
    for (size_t i = 0; i < n; i++)
        lock = lock || is_lock_name(names[i]);
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = moat_xasprintf("%s/%s", dir, names[i]);
        if (is_lock_name(names[i])) {
            moat_deps_read_lock(d, p);
            found++;
        } else if (is_requirements_name(names[i])) {
            /* one that another -r included was read already */
            char *real = realpath(p, NULL);
            bool seen = false;
            for (size_t k = 0; real && k < d->nread && !seen; k++)
                seen = strcmp(d->read[k], real) == 0;
            free(real);
            if (!seen) moat_deps_read_requirements(d, p);
            found++;
        } else if (!lock) {
            moat_deps_read_pyproject(d, p);
            found++;
        }
        free(p);
    }
    moat_deps_strv_free(names, n);
    if (!found) {
        moat_deps_problem(d, dir, 0,
                          "no requirements*.txt, pyproject.toml, lock file or *.dist-info here");
        return MOAT_ENOENT;
    }
    return 0;
}

int moat_deps_collect(moat_deps *d, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) < 0) {
        moat_deps_problem(d, path, 0, "%s", strerror(errno));
        return MOAT_ENOENT;
    }
    if (S_ISDIR(sb.st_mode)) return collect_dir(d, path);
    const char *b = base_name(path);
    if (strcmp(b, "pyproject.toml") == 0) return moat_deps_read_pyproject(d, path);
    if (is_lock_name(b)) return moat_deps_read_lock(d, path);
    size_t n = strlen(b);
    if (is_requirements_name(b) || (n > 4 && strcmp(b + n - 4, ".txt") == 0) ||
        (n > 3 && strcmp(b + n - 3, ".in") == 0))
        return moat_deps_read_requirements(d, path);
    moat_deps_problem(d, path, 0,
                      "not a file moat reads (requirements*.txt, pyproject.toml, poetry.lock, "
                      "Pipfile.lock, uv.lock, pdm.lock, pylock.toml)");
    return MOAT_EINVAL;
}
