/* test_helpers.h - the harness code the C unit tests share: a private
 * temporary directory (made, optionally entered, removed with everything in
 * it) and writing a file whole. Include it after <cmocka.h>: the helpers
 * fail the running test with cmocka's assertions. Header-only (static
 * functions), so every test executable stays one list of sources in its
 * meson.build. */
#ifndef MOAT_TEST_HELPERS_H
#define MOAT_TEST_HELPERS_H

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct moat_test_dir {
    char dir[64];      /* /tmp/moat-TAG-XXXXXX */
    char oldcwd[4096]; /* set when entered */
    bool entered;
} moat_test_dir;

/* Makes /tmp/moat-TAG-XXXXXX (mode 0700); with enter, chdir's into it.
 * Returns 0, or -1 (for a cmocka setup function to return). */
static inline int moat_test_dir_make(moat_test_dir *d, const char *tag, bool enter)
{
    memset(d, 0, sizeof(*d));
    int n = snprintf(d->dir, sizeof(d->dir), "/tmp/moat-%s-XXXXXX", tag);
    if (n < 0 || (size_t)n >= sizeof(d->dir) || !mkdtemp(d->dir)) return -1;
    if (enter) {
        if (!getcwd(d->oldcwd, sizeof(d->oldcwd)) || chdir(d->dir) != 0) return -1;
        d->entered = true;
    }
    return 0;
}

static inline int moat_test__rm_entry(const char *path, const struct stat *st, int flag,
                                      struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes path and everything under it (not following symlinks). */
static inline void moat_test_rmtree(const char *path)
{
    nftw(path, moat_test__rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Leaves the directory (back to where moat_test_dir_make was called) and
 * removes it with its contents. Returns 0, or -1 if the chdir back failed. */
static inline int moat_test_dir_remove(moat_test_dir *d)
{
    int rc = 0;
    if (d->entered && chdir(d->oldcwd) != 0) rc = -1;
    d->entered = false;
    if (d->dir[0]) moat_test_rmtree(d->dir);
    d->dir[0] = '\0';
    return rc;
}

/* Writes n bytes of text to path (replacing it); fails the test if it
 * cannot. */
static inline void moat_test_write(const char *path, const char *text, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* The same for a NUL-terminated text. */
static inline void moat_test_write_text(const char *path, const char *text)
{
    moat_test_write(path, text, strlen(text));
}

#endif
