/* walk.c - `moat audit secrets PATH`'s tree walk: visits every regular file
 * under a folder in name order (so output is stable), never following
 * symbolic links, skipping version-control folders, dependency and cache
 * folders and virtualenvs, and hands each text file to moat_secrets_scan.
 * Files over the size limit or unreadable are noted, never silently lost.
 * Depth is bounded; what to print is the caller's business. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/secrets/internal.h"

#define MAX_DEPTH 64

typedef struct walker {
    const moat_secrets *s;
    size_t max_bytes;
    moat_audit_findings *out;
    moat_secrets_stats *st;
    moat_buf *notes;
} walker;

static bool skipped_dir(const char *dir, const char *name)
{
    static const char *const names[] = {
        ".git",          ".hg",         ".svn",  "node_modules",  "__pycache__",
        ".venv",         "venv",        ".tox",  ".nox",          ".mypy_cache",
        ".pytest_cache", ".ruff_cache", ".eggs", "site-packages", ".ipynb_checkpoints",
    };
    for (size_t i = 0; i < MOAT_ARRAY_LEN(names); i++)
        if (strcmp(name, names[i]) == 0) return true;
    /* Any virtualenv, whatever its name, has a pyvenv.cfg at its top. */
    char *cfg = moat_xasprintf("%s/pyvenv.cfg", dir);
    struct stat sb;
    bool venv = lstat(cfg, &sb) == 0 && S_ISREG(sb.st_mode);
    free(cfg);
    return venv;
}

static void scan_file(walker *w, const char *path, const struct stat *sb)
{
    if ((size_t)sb->st_size > w->max_bytes) {
        w->st->skipped_large++;
        moat_buf_printf(w->notes, "%s: skipped, %lld bytes is over the %zu-byte limit\n", path,
                        (long long)sb->st_size, w->max_bytes);
        return;
    }
    char *data = NULL;
    size_t len = 0;
    int rc = moat_read_file(path, &data, &len);
    if (rc < 0) {
        w->st->unreadable++;
        moat_buf_printf(w->notes, "%s: cannot read (%s)\n", path, moat_strerror(rc));
        return;
    }
    if (len > w->max_bytes) { /* grew since stat */
        w->st->skipped_large++;
        moat_buf_printf(w->notes, "%s: skipped, over the %zu-byte limit\n", path, w->max_bytes);
    } else if (moat_secrets_is_binary(data, len)) {
        w->st->skipped_binary++;
    } else {
        w->st->files++;
        moat_secrets_scan(w->s, path, data, len, w->out, &w->st->suppressed);
    }
    free(data);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk_dir(walker *w, const char *dir, int depth)
{
    if (depth > MAX_DEPTH) {
        moat_buf_printf(w->notes, "%s: skipped, deeper than %d folders\n", dir, MAX_DEPTH);
        return;
    }
    DIR *dp = opendir(dir);
    if (!dp) {
        w->st->unreadable++;
        moat_buf_printf(w->notes, "%s: cannot open folder (%s)\n", dir, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            names = moat_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = moat_xstrdup(de->d_name);
    }
    closedir(dp);
    if (n) qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        size_t dl = strlen(dir);
        char *path = dl && dir[dl - 1] == '/' ? moat_xasprintf("%s%s", dir, names[i])
                                              : moat_xasprintf("%s/%s", dir, names[i]);
        struct stat sb;
        if (lstat(path, &sb) != 0) {
            w->st->unreadable++;
            moat_buf_printf(w->notes, "%s: cannot stat (%s)\n", path, strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            if (!skipped_dir(path, names[i])) walk_dir(w, path, depth + 1);
        } else if (S_ISREG(sb.st_mode)) {
            scan_file(w, path, &sb);
        } /* symbolic links, sockets, devices: not followed, not read */
        free(path);
        free(names[i]);
    }
    free(names);
}

int moat_secrets_scan_tree(const moat_secrets *s, const char *root, size_t max_bytes,
                           moat_audit_findings *out, moat_secrets_stats *stats, moat_buf *notes)
{
    walker w = {.s = s,
                .max_bytes = max_bytes ? max_bytes : MOAT_SECRETS_MAX_FILE_BYTES,
                .out = out,
                .st = stats,
                .notes = notes};
    struct stat sb;
    /* The root itself may be a link (the user named it): follow that one. */
    if (stat(root, &sb) != 0) return errno == ENOENT || errno == ENOTDIR ? MOAT_ENOENT : MOAT_EIO;
    if (S_ISDIR(sb.st_mode)) {
        if (access(root, R_OK | X_OK) != 0) return MOAT_EIO;
        walk_dir(&w, root, 0);
        return 0;
    }
    if (!S_ISREG(sb.st_mode)) return MOAT_EINVAL;
    if (access(root, R_OK) != 0) return MOAT_EIO;
    scan_file(&w, root, &sb);
    return 0;
}
