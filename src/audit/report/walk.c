/* walk.c - visiting the files of a source tree for the analysers: name
 * order (so reports are stable), no symbolic links followed (no loops, no
 * escaping the tree), exclude globs, and virtualenvs skipped. What to do
 * with each file is the caller's. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit.h"

#define MAX_DEPTH 64

typedef struct walk {
    const char *const *exclude;
    size_t nexclude;
    moat_audit_file_fn fn;
    void *arg;
    char **err;
} walk;

static bool excluded(const walk *w, const char *name, const char *rel)
{
    for (size_t i = 0; i < w->nexclude; i++) {
        const char *g = w->exclude[i];
        if (strchr(g, '/') ? fnmatch(g, rel, 0) == 0 : fnmatch(g, name, 0) == 0) return true;
    }
    return false;
}

/* dir + "/" + name (no second slash when dir ends in one): a path is
 * joined for every entry of the tree, and vsnprintf's way was most of the
 * walk's own time. */
static char *join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    bool slash = dl == 0 || dir[dl - 1] != '/';
    char *p = moat_xmalloc(dl + slash + nl + 1);
    memcpy(p, dir, dl + 1); /* its NUL is overwritten next */
    if (slash) p[dl] = '/';
    memcpy(p + dl + slash, name, nl + 1);
    return p;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(walk *w, const char *path, const char *rel, int depth)
{
    if (depth > MAX_DEPTH) return 0;
    DIR *d = opendir(path);
    if (!d) {
        *w->err = moat_xasprintf("%s: cannot read folder: %s", path, strerror(errno));
        return MOAT_EIO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool venv = false;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!strcmp(e->d_name, "pyvenv.cfg")) venv = true;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            names = moat_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = moat_xstrdup(e->d_name);
    }
    closedir(d);
    int rc = 0;
    if (!venv && n > 1) qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n && rc == 0 && !venv; i++) {
        bool dot = path[0] == '.' && path[1] == '\0';
        char *p = dot ? moat_xstrdup(names[i]) : join(path, names[i]);
        char *r = rel[0] ? join(rel, names[i]) : moat_xstrdup(names[i]);
        struct stat st;
        if (!excluded(w, names[i], r) && lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rc = walk_dir(w, p, r, depth + 1);
            else if (S_ISREG(st.st_mode))
                rc = w->fn(w->arg, p, r);
        }
        free(p);
        free(r);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int moat_audit_walk(const char *root, const char *const *exclude, size_t nexclude,
                    moat_audit_file_fn fn, void *arg, char **err)
{
    *err = NULL;
    struct stat st;
    if (stat(root, &st) != 0) {
        *err = moat_xasprintf("%s: %s", root, strerror(errno));
        return errno == ENOENT ? MOAT_ENOENT : MOAT_EIO;
    }
    if (S_ISREG(st.st_mode)) {
        const char *slash = strrchr(root, '/');
        return fn(arg, root, slash ? slash + 1 : root);
    }
    if (!S_ISDIR(st.st_mode)) {
        *err = moat_xasprintf("%s: not a file or folder", root);
        return MOAT_EINVAL;
    }
    walk w = {exclude, nexclude, fn, arg, err};
    return walk_dir(&w, root, "", 0);
}
