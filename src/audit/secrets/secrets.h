/* secrets.h - the public header of the secrets analyser: hard-coded
 * credentials (cloud keys, service tokens, private keys, JWTs, passwords in
 * URLs, high-entropy values assigned to secret-looking names) in any text
 * file of a source tree. Findings are moat_audit_finding entries of kind
 * "secrets"; the raw secret never leaves this module: messages are fixed
 * strings and snippets are masked. Printing is the report writer's job. */
#ifndef MOAT_AUDIT_SECRETS_H
#define MOAT_AUDIT_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#include "audit/audit.h"
#include "core.h"

/* The compiled detectors (PCRE2, JIT where the platform has it). Made once,
 * read-only afterwards: one may be shared by threads scanning files. */
typedef struct moat_secrets moat_secrets;

/* Compiles every pattern. Returns 0, or MOAT_EINTERNAL if a pattern does
 * not compile (a bug, reported on stderr). */
int moat_secrets_new(moat_secrets **out);
void moat_secrets_free(moat_secrets *s);

/* The rules (static storage), in detection order: the first detector that
 * claims bytes wins, so specific ones come before the generic ones. */
const moat_audit_rule *moat_secrets_rules(size_t *n);

/* True when data looks binary: a NUL byte in its first 8 KiB (git's test). */
bool moat_secrets_is_binary(const char *data, size_t len);

/* Scans one file's bytes and appends one finding per secret found, in file
 * order. path (borrowed) names the file in the findings and picks the file
 * kind from its name: code (.py, .js, ...: values must be quoted), config
 * (.env, .ini, .cfg, .yaml, .json, .toml, ...: also literal passwords) or a
 * notebook (.ipynb: the JSON strings are decoded and scanned, lines and
 * columns are the notebook file's). Binary data appends nothing. Findings
 * on a line with "pragma: allowlist secret" (after any comment marker), after
 * a line with "pragma: allowlist nextline secret", or covered by `# nosec` /
 * `# moat: ignore[ID]` (moat_audit_suppressed) are dropped and counted in
 * *nsuppressed (may be NULL). The findings are not finished (see
 * moat_audit_findings_finish). Returns 0. */
int moat_secrets_scan(const moat_secrets *s, const char *path, const char *data, size_t len,
                      moat_audit_findings *out, size_t *nsuppressed);

/* Masks in place, with '*', every secret the detectors find in text (NUL
 * terminated, one line or more; path picks the file kind as above, literal
 * passwords count in code too). Every analyser's snippets go through it
 * before they are printed (moat_audit_findings_finish), so a line holding
 * several secrets never shows one of them. Prefixes that name a token's
 * kind ("ghp_") stay visible. */
void moat_secrets_mask(const moat_secrets *s, const char *path, char *text);

/* A process-wide detector set, compiled on first use (thread-safe). */
const moat_secrets *moat_secrets_shared(void);

typedef struct moat_secrets_stats {
    size_t files;          /* text files scanned */
    size_t skipped_binary; /* binary files not scanned */
    size_t skipped_large;  /* files over the size limit, not scanned */
    size_t unreadable;     /* files that could not be read */
    size_t suppressed;     /* findings dropped by suppression comments */
} moat_secrets_stats;

#define MOAT_SECRETS_MAX_FILE_BYTES ((size_t)4 << 20)

/* Scans root, a file or a folder walked with moat_audit_walk (name order,
 * symbolic links never followed, virtualenvs skipped), also skipping .git
 * and other VCS folders, node_modules, __pycache__, tool caches, anything
 * matching one of exclude[0..nexclude) (globs as moat_audit_walk takes
 * them), binary files, and files over max_bytes (0:
 * MOAT_SECRETS_MAX_FILE_BYTES). Each file skipped for size or unreadable
 * adds one line to notes ("path: why"). Finding paths are root joined with
 * the relative path. Returns 0, or MOAT_ENOENT / MOAT_EIO / MOAT_EINVAL with
 * *err (owned) naming the path when root or a folder cannot be read. */
int moat_secrets_scan_tree(const moat_secrets *s, const char *root, const char *const *exclude,
                           size_t nexclude, size_t max_bytes, moat_audit_findings *out,
                           moat_secrets_stats *stats, moat_buf *notes, char **err);

#endif
