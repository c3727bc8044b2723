/* internal.h - shared by the seclog module's files (private to src/seclog):
 * JSON writing and reading, the event formatter, the chain's cryptography
 * (key evolution, line MACs, the key file, the verification key) and the
 * knobs the unit tests turn. The line format is specified in docs/seclog.md. */
#ifndef MOAT_SECLOG_INTERNAL_H
#define MOAT_SECLOG_INTERNAL_H

#include <time.h>

#include "seclog.h"

#define MOAT__SECLOG_MAC_LEN 32
#define MOAT__SECLOG_CHAIN_LEN 32 /* hex chars of a chain id */
/* Bytes of one value in a line (after redaction); longer values are cut. */
#define MOAT__SECLOG_VALUE_MAX 1024
#define MOAT__SECLOG_PATH_MAX 2048
#define MOAT__SECLOG_FIELDS_MAX 32
/* Domain-separation prefixes of the MAC / hash input and of key evolution. */
#define MOAT__SECLOG_DOMAIN "moat-seclog-v1"
#define MOAT__SECLOG_EVOLVE "moat-evolve"

/* ---- knobs for the tests (writer.c) -------------------------------------- */
extern size_t moat__seclog_queue_capacity;   /* events the queue holds; read at open */
extern const char *moat__seclog_syslog_path; /* "/dev/log" */
/* verify.c: the largest epoch jump the verifier follows (each step is an
 * HMAC); a line claiming more is reported as damaged. */
extern uint64_t moat__seclog_verify_max_epoch_jump;

/* ---- JSON (json.c; strings are written by moat_buf_put_json_string) ----- */
/* Appends "name":"value" preceded by a comma. */
void moat__seclog_json_member(moat_buf *b, const char *name, const char *value, size_t n);
/* Appends an RFC 3339 UTC time with microseconds ("2024-05-01T12:00:00.123456Z"). */
void moat__seclog_put_time(moat_buf *b, const struct timespec *ts);
/* Appends v in decimal. */
void moat__seclog_put_u64(moat_buf *b, uint64_t v);
/* Parses that form back (also without fraction); returns 0 or MOAT_EPARSE. */
int moat__seclog_parse_time(const char *s, time_t *out);

/* ---- redaction (redact.c) ------------------------------------------------ */
/* Length of the longest prefix of s[0..n) that is at most max bytes and does
 * not split a UTF-8 sequence. */
size_t moat__seclog_utf8_cut(const char *s, size_t n, size_t max);

/* ---- events (event.c) ---------------------------------------------------- */
/* Appends the body of an event's line: the members after "seq" and "epoch"
 * (no braces), redacted and bounded. ts is the event's time. */
void moat__seclog_format_event(moat_buf *b, const moat_seclog_event *ev, bool keep_query,
                               const struct timespec *ts);
/* Appends the body head every line starts with: "time", "event", "severity". */
void moat__seclog_format_head(moat_buf *b, const char *event, moat_seclog_severity sev,
                              const struct timespec *ts);

/* ---- the chain (chain.c) ------------------------------------------------- */
/* Computes line MACs: HMAC-SHA256 under an epoch key, or SHA-256 when
 * unsealed. Not thread-safe: one per thread. */
typedef struct moat__seclog_sealer moat__seclog_sealer;
/* key NULL = unsealed (hash chain). */
moat__seclog_sealer *moat__seclog_sealer_new(const uint8_t *key);
void moat__seclog_sealer_free(moat__seclog_sealer *s);
/* out = MAC(DOMAIN || prev || be64(seq) || be64(epoch) || prefix[0..n)). */
void moat__seclog_line_mac(moat__seclog_sealer *s, const uint8_t prev[MOAT__SECLOG_MAC_LEN],
                           uint64_t seq, uint64_t epoch, const char *prefix, size_t n,
                           uint8_t out[MOAT__SECLOG_MAC_LEN]);

/* K_{n+1} = HMAC-SHA256(K_n, "moat-evolve"); in and out may be the same. */
void moat__seclog_evolve(const uint8_t in[32], uint8_t out[32]);
/* The chain id of a seed: hex of the first 16 bytes of HMAC(K0, "moat-seclog chain id"). */
void moat__seclog_chain_id(const uint8_t k0[32], char out[MOAT__SECLOG_CHAIN_LEN + 1]);
/* "mvk1-<64 hex>-<8 hex checksum>". */
void moat__seclog_vkey_encode(const uint8_t k0[32], moat_buf *out);
/* Parses a verification key (case and surrounding blanks ignored); returns
 * 0, or MOAT_EINVAL with *why a static reason. */
int moat__seclog_vkey_decode(const char *s, uint8_t k0[32], const char **why);

void moat__seclog_hex(const uint8_t *p, size_t n, char *out); /* 2n chars + NUL */
/* Decodes exactly 2n lowercase or uppercase hex chars; returns 0 or MOAT_EINVAL. */
int moat__seclog_unhex(const char *s, size_t slen, uint8_t *out, size_t n);

/* The key file: the current epoch's key and the chain's state at the last
 * rewrite (each epoch change, rotation and close). */
typedef struct moat__seclog_keyfile {
    char chain[MOAT__SECLOG_CHAIN_LEN + 1];
    uint64_t epoch;
    uint8_t key[32];
    uint64_t seq_next; /* 0 = no entry written yet with this key file */
    uint8_t mac[MOAT__SECLOG_MAC_LEN];
    char file[256]; /* base name of the file the last entry is in */
} moat__seclog_keyfile;

/* Reads path (falling back to PATH.tmp left by a crash mid-rewrite). Refuses
 * a file others may read. Returns 0, MOAT_ENOENT, or another negative code,
 * with *err owning a message on failure. */
int moat__seclog_keyfile_read(const char *path, moat__seclog_keyfile *kf, char **err);
/* Rewrites path atomically (PATH.tmp, fsync, rename, fsync of the folder),
 * overwriting the old file's bytes in place first so the old key does not
 * survive in its blocks. Mode 0600. Returns 0 or a negative code (+ *err). */
int moat__seclog_keyfile_write(const char *path, const moat__seclog_keyfile *kf, char **err);

/* ---- lines (verify.c) ---------------------------------------------------- */
/* The frame of a line: {"seq":S,"epoch":E, ... ,"mac":"<64 hex>"} . Returns
 * 0 and fills the out-parameters (prefix_len = bytes the MAC covers), or
 * MOAT_EPARSE. */
int moat__seclog_frame(const char *line, size_t len, uint64_t *seq, uint64_t *epoch,
                       uint8_t mac[MOAT__SECLOG_MAC_LEN], size_t *prefix_len);

#endif
