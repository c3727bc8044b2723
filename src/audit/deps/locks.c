/* locks.c - the inputs other than requirements files: pyproject.toml (PEP
 * 621 dependencies and optional-dependencies, Poetry's dependency tables
 * with ^ and ~ constraints), poetry.lock, uv.lock, pdm.lock and pylock.toml
 * (through core's TOML reader), Pipfile.lock (jansson; lines found in the
 * text), and an installed environment (*.dist-info/METADATA). Each entry
 * becomes a moat_dep with the file and line that pins it. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deps_int.h"

/* The text of the file being read: handed in by the fuzz target, else read
 * from the file (owned by whoever set it). */
static _Thread_local const char *given_text;
static _Thread_local size_t given_len;

static int read_input(moat_deps *d, const char *path, char **data, size_t *len)
{
    if (given_text) {
        *data = moat_xstrndup(given_text, given_len);
        *len = given_len;
        return 0;
    }
    if (moat_read_file(path, data, len) < 0) {
        moat_deps_problem(d, path, 0, "cannot read: %s", strerror(errno));
        return MOAT_EIO;
    }
    return 0;
}

static moat_toml_value *load_toml(moat_deps *d, const char *path)
{
    char *data;
    size_t len;
    if (read_input(d, path, &data, &len) < 0) return NULL;
    moat_toml_value *root = NULL;
    moat_toml_error err;
    if (moat_toml_parse(data, len, &root, &err) < 0) {
        d->problems++;
        if (d->diag) fprintf(d->diag, "%s:%d:%d: %s\n", path, err.line, err.col, err.message);
        root = NULL;
    }
    free(data);
    return root;
}

static const char *tstr(const moat_toml_value *t, const char *key)
{
    const moat_toml_value *v = t ? moat_toml_get(t, key) : NULL;
    return v && v->type == MOAT_TOML_STRING ? v->u.str.ptr : NULL;
}

static void add_pep508(moat_deps *d, const moat_toml_value *v, const char *path)
{
    if (v->type != MOAT_TOML_STRING) {
        moat_deps_problem(d, path, (unsigned)v->line, "a dependency must be a string, found %s",
                          moat_toml_type_name(v->type));
        return;
    }
    moat_pep508_req r;
    char *err = NULL;
    if (moat_pep508_parse(v->u.str.ptr, v->u.str.len, &r, &err) < 0) {
        moat_deps_problem(d, path, (unsigned)v->line, "%s", err);
        free(err);
        return;
    }
    moat__deps_add_req(d, &r, path, (unsigned)v->line);
    moat_pep508_clear(&r);
}

static void add_pep508_array(moat_deps *d, const moat_toml_value *a, const char *path,
                             const char *what)
{
    if (!a) return;
    if (a->type != MOAT_TOML_ARRAY) {
        moat_deps_problem(d, path, (unsigned)a->line, "%s must be an array of strings", what);
        return;
    }
    for (size_t i = 0; i < a->u.array.len; i++)
        add_pep508(d, a->u.array.items[i], path);
}

/* ---- Poetry constraints ---------------------------------------------------
 * "^1.2.3" is >=1.2.3,<2.0.0 (the first non-zero part bumps), "~1.2.3" is
 * >=1.2.3,<1.3.0, "1.2.*" and "*" wildcards, "1.2.3" alone means ==1.2.3,
 * and PEP 440 operators pass through. "||" alternatives are not converted. */
static bool poetry_bound(const char *v, size_t n, bool caret, moat_buf *out)
{
    size_t parts[16][2], np = 0, i = 0;
    while (i < n && np < 16) {
        size_t s = i;
        while (i < n && isdigit((unsigned char)v[i]))
            i++;
        if (i == s) return false;
        parts[np][0] = s;
        parts[np][1] = i - s;
        np++;
        if (i < n && v[i] == '.' && i + 1 < n && isdigit((unsigned char)v[i + 1])) {
            i++;
            continue;
        }
        break;
    }
    if (np == 0) return false;
    size_t bump;
    if (caret) {
        bump = np - 1;
        for (size_t k = 0; k < np; k++) {
            bool zero = true;
            for (size_t m = 0; m < parts[k][1]; m++)
                zero = zero && v[parts[k][0] + m] == '0';
            if (!zero) {
                bump = k;
                break;
            }
        }
    } else {
        bump = np == 1 ? 0 : 1;
    }
    moat_buf_printf(out, ">=%.*s,<", (int)n, v);
    for (size_t k = 0; k <= bump; k++) {
        if (k) moat_buf_putc(out, '.');
        if (k < bump) {
            moat_buf_append(out, v + parts[k][0], parts[k][1]);
        } else {
            /* the part plus one, as a digit string */
            char tmp[64];
            size_t l = parts[k][1] < sizeof(tmp) - 2 ? parts[k][1] : sizeof(tmp) - 2;
            memcpy(tmp + 1, v + parts[k][0], l);
            tmp[0] = '0';
            size_t m = l;
            while (m > 0 && tmp[m] == '9')
                tmp[m--] = '0';
            tmp[m]++;
            const char *p = tmp[0] == '0' ? tmp + 1 : tmp;
            moat_buf_append(out, p, (size_t)(tmp + l + 1 - p));
        }
    }
    return true;
}

static char *poetry_to_pep440(const char *c)
{
    moat_buf out;
    moat_buf_init(&out);
    if (strstr(c, "||")) {
        moat_buf_free(&out);
        return NULL;
    }
    const char *p = c;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p) break;
        size_t n = strcspn(p, ", ");
        /* ">= 1.2" is written with a space: join an operator with its version */
        if (strspn(p, "<>=!~^") == n && p[n] == ' ') {
            size_t m = n;
            while (p[m] == ' ')
                m++;
            size_t vn = strcspn(p + m, ", ");
            if (out.len) moat_buf_putc(&out, ',');
            moat_buf_append(&out, p, n);
            moat_buf_append(&out, p + m, vn);
            p += m + vn;
            continue;
        }
        if (out.len) moat_buf_putc(&out, ',');
        if (n == 1 && p[0] == '*') {
            out.len = out.len ? out.len - 1 : 0;
            if (out.data) out.data[out.len] = 0;
        } else if (p[0] == '^' || (p[0] == '~' && p[1] != '=')) {
            if (!poetry_bound(p + 1, n - 1, p[0] == '^', &out)) {
                moat_buf_free(&out);
                return NULL;
            }
        } else if (isdigit((unsigned char)p[0])) {
            moat_buf_puts(&out, "==");
            moat_buf_append(&out, p, n);
        } else {
            moat_buf_append(&out, p, n);
        }
        p += n;
    }
    if (!out.data) moat_buf_puts(&out, "");
    return moat_buf_steal(&out);
}

static void add_poetry_table(moat_deps *d, const moat_toml_value *t, const char *path)
{
    if (!t || t->type != MOAT_TOML_TABLE) return;
    for (size_t i = 0; i < t->u.table.len; i++) {
        const moat_toml_kv *kv = &t->u.table.items[i];
        if (strcmp(kv->key, "python") == 0) continue;
        const moat_toml_value *v = kv->value;
        const char *constraint = NULL;
        unsigned line = (unsigned)v->line;
        if (v->type == MOAT_TOML_STRING) {
            constraint = v->u.str.ptr;
        } else if (v->type == MOAT_TOML_TABLE) {
            constraint = tstr(v, "version");
            const char *marker = tstr(v, "markers");
            if (marker) {
                char *err = NULL;
                const moat_marker_env *env = moat__deps_env(d);
                int r = env ? moat_marker_eval(marker, env, "", &err) : 1;
                free(err);
                if (r == 0) continue;
            }
            if (!constraint) {
                const char *src = tstr(v, "git") ? "git" : tstr(v, "url") ? "url" : "path";
                const char *where = tstr(v, src);
                char *note =
                    moat_xasprintf("%s %s: not audited (no version)", src, where ? where : "");
                moat_deps_add(d, kv->key, NULL, NULL, note, path, line);
                free(note);
                continue;
            }
        } else if (v->type == MOAT_TOML_ARRAY) {
            /* several constraints by marker: each is audited */
            for (size_t k = 0; k < v->u.array.len; k++) {
                const char *c = tstr(v->u.array.items[k], "version");
                if (!c) continue;
                char *spec = poetry_to_pep440(c);
                moat_pep440_specset *set = NULL;
                const char *pin = NULL;
                if (spec && moat_pep440_specset_parse(spec, strlen(spec), &set, NULL) == 0 &&
                    moat_pep440_specset_pinned(set, &pin))
                    moat_deps_add(d, kv->key, pin, NULL, NULL, path,
                                  (unsigned)v->u.array.items[k]->line);
                else if (spec && set)
                    moat_deps_add(d, kv->key, NULL, spec, NULL, path,
                                  (unsigned)v->u.array.items[k]->line);
                moat_pep440_specset_free(set);
                free(spec);
            }
            continue;
        }
        if (!constraint) {
            moat_deps_problem(d, path, line, "'%s': expected a version string or table", kv->key);
            continue;
        }
        char *spec = poetry_to_pep440(constraint);
        moat_pep440_specset *set = NULL;
        char *err = NULL;
        if (!spec || moat_pep440_specset_parse(spec, strlen(spec), &set, &err) < 0) {
            moat_deps_problem(d, path, line, "'%s = \"%s\"': not a version constraint moat reads",
                              kv->key, constraint);
            free(err);
            free(spec);
            continue;
        }
        const char *pin = NULL;
        if (moat_pep440_specset_pinned(set, &pin)) {
            moat_deps_add(d, kv->key, pin, NULL, NULL, path, line);
        } else {
            char *canon = moat_pep440_specset_str(set);
            moat_deps_add(d, kv->key, NULL, canon, NULL, path, line);
            free(canon);
        }
        moat_pep440_specset_free(set);
        free(spec);
    }
}

int moat_deps_read_pyproject(moat_deps *d, const char *path)
{
    moat_toml_value *root = load_toml(d, path);
    if (!root) return MOAT_EPARSE;
    const moat_toml_value *project = moat_toml_get(root, "project");
    if (project && project->type == MOAT_TOML_TABLE) {
        add_pep508_array(d, moat_toml_get(project, "dependencies"), path, "project.dependencies");
        const moat_toml_value *opt = moat_toml_get(project, "optional-dependencies");
        if (opt && opt->type == MOAT_TOML_TABLE)
            for (size_t i = 0; i < opt->u.table.len; i++)
                add_pep508_array(d, opt->u.table.items[i].value, path,
                                 "project.optional-dependencies");
    }
    const moat_toml_value *tool = moat_toml_get(root, "tool");
    const moat_toml_value *poetry =
        tool && tool->type == MOAT_TOML_TABLE ? moat_toml_get(tool, "poetry") : NULL;
    if (poetry && poetry->type == MOAT_TOML_TABLE) {
        add_poetry_table(d, moat_toml_get(poetry, "dependencies"), path);
        add_poetry_table(d, moat_toml_get(poetry, "dev-dependencies"), path);
        const moat_toml_value *groups = moat_toml_get(poetry, "group");
        if (groups && groups->type == MOAT_TOML_TABLE)
            for (size_t i = 0; i < groups->u.table.len; i++)
                add_poetry_table(d, moat_toml_get(groups->u.table.items[i].value, "dependencies"),
                                 path);
    }
    moat_toml_free(root);
    return 0;
}

/* ---- TOML lock files ------------------------------------------------------*/

static void add_locked(moat_deps *d, const moat_toml_value *pkg, const char *path, bool pylock)
{
    if (pkg->type != MOAT_TOML_TABLE) {
        moat_deps_problem(d, path, (unsigned)pkg->line, "a package entry must be a table");
        return;
    }
    const char *name = tstr(pkg, "name");
    const char *version = tstr(pkg, "version");
    unsigned line = (unsigned)pkg->line;
    if (!name) {
        moat_deps_problem(d, path, line, "package entry without a name");
        return;
    }
    if (pylock) {
        const char *marker = tstr(pkg, "marker");
        if (marker && moat__deps_env(d)) {
            char *err = NULL;
            int r = moat_marker_eval(marker, moat__deps_env(d), "", &err);
            if (r == MOAT_EPARSE) moat_deps_problem(d, path, line, "%s", err);
            free(err);
            if (r == 0) return;
        }
    }
    /* the project itself: uv's editable or virtual source */
    const moat_toml_value *src = moat_toml_get(pkg, "source");
    if (src && (tstr(src, "editable") || tstr(src, "virtual"))) return;
    if (version) {
        moat_deps_add(d, name, version, NULL, NULL, path, line);
        return;
    }
    /* no version: a VCS / directory / archive source */
    const char *kind = NULL, *where = NULL;
    static const char *const kinds[] = {"vcs", "git", "directory", "archive", "url", "path"};
    for (size_t k = 0; k < MOAT_ARRAY_LEN(kinds) && !kind; k++) {
        const moat_toml_value *v = moat_toml_get(pkg, kinds[k]);
        if (!v && src) v = moat_toml_get(src, kinds[k]);
        if (v) {
            kind = kinds[k];
            where = v->type == MOAT_TOML_STRING
                        ? v->u.str.ptr
                        : (tstr(v, "url") ? tstr(v, "url") : tstr(v, "path"));
        }
    }
    char *note = moat_xasprintf("%s%s%s: not audited (no version)", kind ? kind : "no version",
                                where ? " " : "", where ? where : "");
    moat_deps_add(d, name, NULL, NULL, note, path, line);
    free(note);
}

static int read_toml_lock(moat_deps *d, const char *path, const char *array, bool pylock)
{
    moat_toml_value *root = load_toml(d, path);
    if (!root) return MOAT_EPARSE;
    const moat_toml_value *pkgs = moat_toml_get(root, array);
    if (!pkgs) {
        moat_deps_problem(d, path, 0, "no [[%s]] entries", array);
    } else if (pkgs->type != MOAT_TOML_ARRAY) {
        moat_deps_problem(d, path, (unsigned)pkgs->line, "'%s' must be an array of tables", array);
    } else {
        for (size_t i = 0; i < pkgs->u.array.len; i++)
            add_locked(d, pkgs->u.array.items[i], path, pylock);
    }
    moat_toml_free(root);
    return 0;
}

/* ---- Pipfile.lock ---------------------------------------------------------*/

/* The line of `"name": {` inside the section, found in the text (jansson
 * keeps no positions). */
static unsigned find_line(const char *text, const char *section, const char *name)
{
    char *skey = moat_xasprintf("\"%s\"", section);
    const char *s = strstr(text, skey);
    free(skey);
    if (!s) return 0;
    char *key = moat_xasprintf("\"%s\"", name);
    const char *p = strstr(s, key);
    free(key);
    if (!p) return 0;
    unsigned line = 1;
    for (const char *q = text; q < p; q++)
        line += *q == '\n';
    return line;
}

static int read_pipfile_lock(moat_deps *d, const char *path)
{
    char *data;
    size_t len;
    if (read_input(d, path, &data, &len) < 0) return MOAT_EIO;
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        if (root)
            moat_deps_problem(d, path, 1, "not a Pipfile.lock (the top level is not an object)");
        else
            moat_deps_problem(d, path, (unsigned)(je.line > 0 ? je.line : 0), "invalid JSON: %s",
                              je.text);
        json_decref(root);
        free(data);
        return MOAT_EPARSE;
    }
    static const char *const sections[] = {"default", "develop"};
    for (size_t s = 0; s < 2; s++) {
        json_t *sec = json_object_get(root, sections[s]);
        if (!sec) continue;
        if (!json_is_object(sec)) {
            moat_deps_problem(d, path, find_line(data, sections[s], sections[s]),
                              "'%s' must be an object", sections[s]);
            continue;
        }
        const char *name;
        json_t *v;
        json_object_foreach(sec, name, v)
        {
            unsigned line = find_line(data, sections[s], name);
            if (!json_is_object(v)) {
                moat_deps_problem(d, path, line, "'%s' must be an object", name);
                continue;
            }
            const char *marker = json_string_value(json_object_get(v, "markers"));
            if (marker && moat__deps_env(d)) {
                char *err = NULL;
                int r = moat_marker_eval(marker, moat__deps_env(d), "", &err);
                if (r == MOAT_EPARSE) moat_deps_problem(d, path, line, "%s", err);
                free(err);
                if (r == 0) continue;
            }
            const char *ver = json_string_value(json_object_get(v, "version"));
            if (ver) {
                moat_pep440_specset *set = NULL;
                const char *pin = NULL;
                if (moat_pep440_specset_parse(ver, strlen(ver), &set, NULL) == 0 &&
                    moat_pep440_specset_pinned(set, &pin))
                    moat_deps_add(d, name, pin, NULL, NULL, path, line);
                else
                    moat_deps_problem(d, path, line, "'%s': version '%s' is not '==VERSION'", name,
                                      ver);
                moat_pep440_specset_free(set);
                continue;
            }
            const char *kinds[] = {"git", "hg", "svn", "bzr", "file", "path"};
            const char *kind = "no version", *where = "";
            for (size_t k = 0; k < MOAT_ARRAY_LEN(kinds); k++)
                if (json_is_string(json_object_get(v, kinds[k]))) {
                    kind = kinds[k];
                    where = json_string_value(json_object_get(v, kinds[k]));
                    break;
                }
            char *note = moat_xasprintf("%s %s: not audited (no version)", kind, where);
            moat_deps_add(d, name, NULL, NULL, note, path, line);
            free(note);
        }
    }
    json_decref(root);
    free(data);
    return 0;
}

int moat_deps_read_lock(moat_deps *d, const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (strcmp(b, "Pipfile.lock") == 0) return read_pipfile_lock(d, path);
    if (strncmp(b, "pylock", 6) == 0) return read_toml_lock(d, path, "packages", true);
    return read_toml_lock(d, path, "package", false); /* poetry.lock, uv.lock, pdm.lock */
}

void moat__deps_parse_lock(moat_deps *d, const char *path, const char *data, size_t len)
{
    given_text = data;
    given_len = len;
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (strcmp(b, "pyproject.toml") == 0)
        moat_deps_read_pyproject(d, path);
    else
        moat_deps_read_lock(d, path);
    given_text = NULL;
    given_len = 0;
}

/* ---- site-packages --------------------------------------------------------*/

/* Name and Version from the headers of a METADATA / PKG-INFO file. */
static void read_metadata(moat_deps *d, const char *path)
{
    char *data;
    size_t len;
    if (moat_read_file(path, &data, &len) < 0) {
        moat_deps_problem(d, path, 0, "cannot read: %s", strerror(errno));
        return;
    }
    char *name = NULL, *version = NULL;
    unsigned name_line = 0;
    unsigned line = 0;
    for (char *p = data; *p;) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        line++;
        if (n && p[n - 1] == '\r') n--;
        if (n == 0) break; /* the headers end at the first blank line */
        if (!name && n > 5 && strncasecmp(p, "Name:", 5) == 0) {
            size_t s = 5;
            while (s < n && isspace((unsigned char)p[s]))
                s++;
            name = moat_xstrndup(p + s, n - s);
            name_line = line;
        } else if (!version && n > 8 && strncasecmp(p, "Version:", 8) == 0) {
            size_t s = 8;
            while (s < n && isspace((unsigned char)p[s]))
                s++;
            version = moat_xstrndup(p + s, n - s);
        }
        if (!nl) break;
        p = nl + 1;
    }
    if (name && version)
        moat_deps_add(d, name, version, NULL, NULL, path, name_line);
    else
        moat_deps_problem(d, path, 0, "no Name and Version headers");
    free(name);
    free(version);
    free(data);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int moat_deps_read_site_packages(moat_deps *d, const char *dir)
{
    DIR *dh = opendir(dir);
    if (!dh) {
        moat_deps_problem(d, dir, 0, "cannot open: %s", strerror(errno));
        return MOAT_EIO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        size_t l = strlen(e->d_name);
        if (!(l > 10 && strcmp(e->d_name + l - 10, ".dist-info") == 0) &&
            !(l > 9 && strcmp(e->d_name + l - 9, ".egg-info") == 0))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = moat_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = moat_xstrdup(e->d_name);
    }
    closedir(dh);
    if (n) qsort(names, n, sizeof(*names), entry_cmp);
    for (size_t i = 0; i < n; i++) {
        bool dist = strstr(names[i], ".dist-info") != NULL;
        char *p = moat_xasprintf("%s/%s", dir, names[i]);
        struct stat sb;
        char *meta;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            meta = moat_xasprintf("%s/%s", p, dist ? "METADATA" : "PKG-INFO");
        else
            meta = moat_xstrdup(p); /* an egg-info file is the PKG-INFO itself */
        read_metadata(d, meta);
        free(meta);
        free(p);
    }
    moat_deps_strv_free(names, n);
    return 0;
}
