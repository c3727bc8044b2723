/* walk.c - `moat audit secrets PATH`'s tree walk on top of the shared walker
 * (moat_audit_walk in src/audit/report: name order, no symbolic links
 * followed, virtualenvs skipped): adds the folders a secrets scan must not
 * enter (version control, dependencies, caches), skips binary files, and
 * notes files over the size limit or unreadable instead of losing them
 * silently. What to print is the caller's business. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/secrets/internal.h"

/* Folder names never entered: not the app's source, and huge. Unlike the
 * code audit, tests and examples are scanned: a key there is still leaked. */
static const char *const skip_dirs[] = {
    ".git",          ".hg",         ".svn",  "node_modules",  "__pycache__",
    ".venv",         "venv",        ".tox",  ".nox",          ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".eggs", "site-packages", ".ipynb_checkpoints",
};

typedef struct walker {
    const moat_secrets *s;
    size_t max_bytes;
    moat_audit_findings *out;
    moat_secrets_stats *st;
    moat_buf *notes;
} walker;

static int on_file(void *arg, const char *path, const char *rel)
{
    (void)rel;
    walker *w = arg;
    struct stat sb;
    if (stat(path, &sb) == 0 && (size_t)sb.st_size > w->max_bytes) {
        w->st->skipped_large++;
        moat_buf_printf(w->notes, "%s: skipped, %lld bytes is over the %zu-byte limit\n", path,
                        (long long)sb.st_size, w->max_bytes);
        return 0;
    }
    char *data = NULL;
    size_t len = 0;
    int rc = moat_read_file(path, &data, &len);
    if (rc < 0) {
        w->st->unreadable++;
        moat_buf_printf(w->notes, "%s: cannot read (%s)\n", path, moat_strerror(rc));
        return 0;
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
    return 0;
}

int moat_secrets_scan_tree(const moat_secrets *s, const char *root, const char *const *exclude,
                           size_t nexclude, size_t max_bytes, moat_audit_findings *out,
                           moat_secrets_stats *stats, moat_buf *notes, char **err)
{
    walker w = {.s = s,
                .max_bytes = max_bytes ? max_bytes : MOAT_SECRETS_MAX_FILE_BYTES,
                .out = out,
                .st = stats,
                .notes = notes};
    size_t n = MOAT_ARRAY_LEN(skip_dirs) + nexclude;
    const char **globs = moat_xcalloc(n, sizeof(*globs));
    memcpy(globs, skip_dirs, sizeof(skip_dirs));
    if (nexclude) memcpy(globs + MOAT_ARRAY_LEN(skip_dirs), exclude, nexclude * sizeof(*globs));
    int rc = moat_audit_walk(root, globs, n, on_file, &w, err);
    free(globs);
    return rc;
}
