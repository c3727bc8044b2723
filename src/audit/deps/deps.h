/* deps.h - the public header of moat's dependency auditor (moat audit deps,
 * moat db): PEP 440 versions and specifiers, PEP 503 names, the OSV advisory
 * store, the dependency collector for every Python pinning format, and the
 * audit that joins them. Uses only core (and jansson, sqlite3, libyaml,
 * libzip, libcurl); nothing of the gateway. */
#ifndef MOAT_AUDIT_DEPS_H
#define MOAT_AUDIT_DEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core.h"

/* ---- PEP 440 versions (pep440.c) -----------------------------------------
 * Numbers are kept as digit strings, so "20240101123456789012" compares
 * right; nothing overflows. */
typedef struct moat_pep440 moat_pep440;

/* Parses s[0..n) (surrounding whitespace, a leading 'v' and any case are
 * accepted, as packaging does). Returns 0 and an owned *out, or MOAT_EPARSE. */
int moat_pep440_parse(const char *s, size_t n, moat_pep440 **out);
void moat_pep440_free(moat_pep440 *v);
/* <0, 0, >0 as a is lower, equal or higher (local labels included). */
int moat_pep440_cmp(const moat_pep440 *a, const moat_pep440 *b);
bool moat_pep440_is_prerelease(const moat_pep440 *v); /* has a pre or dev part */
bool moat_pep440_is_postrelease(const moat_pep440 *v);
/* The normalised form ("1!2.0rc1.post0.dev3+ubuntu.1"), owned. */
char *moat_pep440_str(const moat_pep440 *v);

/* ---- PEP 440 specifier sets -----------------------------------------------*/
typedef struct moat_pep440_specset moat_pep440_specset;

/* Parses ">=1.0, !=1.3.*, <2" (empty is the set that allows everything).
 * Returns 0 and an owned *out, or MOAT_EPARSE with an owned message in
 * *err (when err is not NULL). */
int moat_pep440_specset_parse(const char *s, size_t n, moat_pep440_specset **out, char **err);
void moat_pep440_specset_free(moat_pep440_specset *s);
/* Whether v is in the set. prereleases: -1 for packaging's default rule
 * (pre-releases only when a specifier names one), 0 never, 1 always. */
bool moat_pep440_specset_contains(const moat_pep440_specset *s, const moat_pep440 *v,
                                  int prereleases);
/* Number of specifiers, and whether the set pins one exact version
 * ("==X" without a wildcard, or "===X"); *pinned is borrowed. */
size_t moat_pep440_specset_len(const moat_pep440_specset *s);
bool moat_pep440_specset_pinned(const moat_pep440_specset *s, const char **pinned);
/* Canonical text of the set, owned ("<2,>=1.0": packaging's str()). */
char *moat_pep440_specset_str(const moat_pep440_specset *s);

/* PEP 503 name normalisation into an owned string: lower case, runs of
 * '-', '_' and '.' become one '-'. */
char *moat_pep503_name(const char *s, size_t n);

#endif
