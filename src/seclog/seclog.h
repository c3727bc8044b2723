/* seclog.h - the security event log: one call records an event; the module
 * redacts it, queues it, and a writer thread appends it as one JSON line,
 * chained to the line before by a MAC under a forward-secure sealing key (or
 * by SHA-256 when no key is configured), to a file, standard output and
 * optionally syslog. Also the verifier (`moat log verify`), the sealing key's
 * creation (`moat log init`), the event catalogue and a reader for the lines
 * (`moat log why`). docs/seclog.md describes the format and what verification
 * proves; docs/events.md lists the events. Depends on core, config and
 * OpenSSL only: the gateway calls it, never the other way round. */
#ifndef MOAT_SECLOG_H
#define MOAT_SECLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* ---- recording ------------------------------------------------------------ */

typedef enum {
    MOAT_SECLOG_DEBUG,
    MOAT_SECLOG_INFO,
    MOAT_SECLOG_NOTICE,
    MOAT_SECLOG_WARNING,
    MOAT_SECLOG_ERROR,
    MOAT_SECLOG_CRITICAL,
} moat_seclog_severity;

/* An event-specific field. Values of fields named like secrets ("password",
 * "token", "cookie", "code", ...) are replaced by "[redacted]"; values that
 * look like tokens (Bearer credentials, JWTs, long random strings, card
 * numbers) are masked whatever the name. */
typedef struct moat_seclog_field {
    const char *name;  /* [A-Za-z0-9_.-]; other bytes are replaced by '_' */
    const char *value; /* NULL = the field is left out */
} moat_seclog_field;

/* Every pointer may be NULL (the field is left out of the line); status 0 is
 * left out. Strings are borrowed for the duration of the call only. */
typedef struct moat_seclog_event {
    const char *event; /* catalogue name, e.g. "http.rejected" (docs/events.md) */
    moat_seclog_severity severity;
    const char *request_id;
    const char *client; /* the client address */
    const char *user;
    const char *method;
    const char *path;       /* may include a query: it is dropped (or redacted, log.query) */
    const char *reason;     /* plain words: why this happened */
    const char *stage;      /* the pipeline stage that acted ("limits", "hosts", ...) */
    const char *config_key; /* the setting that would change the outcome */
    int status;             /* HTTP status the client got, 0 = none */
    const moat_seclog_field *fields;
    size_t nfields;
} moat_seclog_event;

typedef struct moat_seclog moat_seclog;

/* Opens the security log cfg->log describes and starts its writer thread.
 * When the log is off (log.security = "") returns 0 with *out = NULL: every
 * other function accepts NULL and does nothing. On failure returns a negative
 * MOAT_E* code and *err owns a message naming the file; nothing is started. */
int moat_seclog_open(const moat_config *cfg, moat_seclog **out, char **err);

/* Records one event: redacts and formats it on the calling thread, then
 * queues it for the writer. Thread-safe; never blocks on I/O and never waits
 * for the writer: when the queue is full the event is dropped and counted,
 * and a `log.dropped` entry with the count is written as soon as possible. */
void moat_seclog_record(moat_seclog *log, const moat_seclog_event *ev);
/* Events recorded on the calling thread so far (a request compares it with
 * its mark to tell whether it produced one: log.on_failure). */
uint64_t moat_seclog_recorded_here(void);
/* The last batch could not be written (disk full, no file open); false
 * again once a write succeeds (the writer retries each second). */
bool moat_seclog_failing(moat_seclog *log);

/* Asks the writer to reopen the file (after an external rotation: SIGHUP,
 * SIGUSR1) and returns at once. Not async-signal-safe: call it from a libuv
 * signal watcher, not from a signal handler. */
void moat_seclog_reopen(moat_seclog *log);

/* Applies a reloaded config: a new path, rotation, flush, seal epoch, syslog
 * and query settings; log.security = "" turns the log off. Changing
 * log.seal_key, or turning the log on when it was opened off (then *out was
 * NULL: call moat_seclog_open instead), needs a restart: returns MOAT_EINVAL.
 * On any failure (also a new file that cannot be opened) returns a negative
 * code with *err owning a message, and the log carries on unchanged. */
int moat_seclog_reconfigure(moat_seclog *log, const moat_config *cfg, char **err);

/* Writes every queued event, a closing `log.closed` entry, syncs the file,
 * saves the chain state in the key file, joins the writer and frees log.
 * Call it after the threads that record have stopped (after the drain on
 * SIGTERM). */
void moat_seclog_close(moat_seclog *log);

/* Counters since open, for tests and metrics. */
typedef struct moat_seclog_stats {
    uint64_t recorded; /* accepted into the queue */
    uint64_t written;  /* lines written to the sink (records of the log itself included) */
    uint64_t dropped;  /* lost: queue full or the sink failed */
    uint64_t epoch;    /* current epoch of the sealing key (0 when unsealed) */
} moat_seclog_stats;
void moat_seclog_get_stats(moat_seclog *log, moat_seclog_stats *out);

/* Blocks until everything recorded before the call is written (and synced
 * with log.flush = "fsync"). For tests and the benchmark. */
void moat_seclog_flush(moat_seclog *log);

/* ---- redaction ------------------------------------------------------------ */

/* True when a field, header, form field, cookie or query parameter of this
 * name must never be logged (case and '-', '_', '.' are ignored). */
bool moat_seclog_secret_name(const char *name, size_t len);

/* Appends s[0..len) with secrets masked: key=value / key: value pairs whose
 * key is secret-named, Bearer/Basic credentials, JWTs, long random tokens
 * and card numbers become "[redacted]". */
void moat_seclog_redact_text(moat_buf *out, const char *s, size_t len);

/* Appends the request path for a log: the query and fragment dropped, or,
 * with keep_query, kept with secret-named parameters' values redacted. */
void moat_seclog_redact_path(moat_buf *out, const char *path, bool keep_query);

/* ---- the catalogue -------------------------------------------------------- */

typedef struct moat_seclog_event_info {
    const char *name;
    moat_seclog_severity severity; /* the usual severity */
    const char *summary;           /* plain words, for `moat log why` */
} moat_seclog_event_info;

/* The events of docs/events.md; returns NULL for a name not listed. */
const moat_seclog_event_info *moat_seclog_event_lookup(const char *name);
const moat_seclog_event_info *moat_seclog_catalogue(size_t *count);
const char *moat_seclog_severity_name(moat_seclog_severity s);

/* ---- the sealing key (moat log init) -------------------------------------- */

/* Draws a new seed K0, writes the key file at path (0600, atomically) for
 * epoch 1, and returns the verification key derived from K0 in *vkey (owned;
 * shown once, never stored). Refuses to replace an existing file unless
 * force. Returns 0 or a negative code with *err owning a message. */
int moat_seclog_keygen(const char *path, bool force, char **vkey, char **err);

/* ---- verification (moat log verify) ---------------------------------------- */

typedef struct moat_seclog_input {
    const char *name; /* for messages */
    const char *data; /* whole file contents; need not be NUL-terminated */
    size_t len;
} moat_seclog_input;

typedef struct moat_seclog_verify_opts {
    const char *key;    /* verification key "mvk1-...", NULL = unsealed log */
    const char *anchor; /* "SEQ:MAC-HEX-PREFIX" the log must contain, or NULL */
} moat_seclog_verify_opts;

typedef struct moat_seclog_verdict {
    bool ok;
    char *message;     /* owned: "OK: ..." or "FILE:LINE: what is wrong" (plain words) */
    char *detail;      /* owned or NULL: extra lines (the anchor to keep, notes) */
    const char *file;  /* borrowed: the file of the first problem, or NULL */
    uint64_t line;     /* 1-based line of the first problem, 0 when ok */
    uint64_t entries;  /* lines verified */
    uint64_t last_seq; /* of the last verified line */
    char last_mac[65]; /* hex MAC of the last verified line, "" if none */
} moat_seclog_verdict;

/* Verifies files that hold one chain. They may be given in any order: they
 * are put in chain order by their first sequence number. Returns 0 when the
 * check ran (v->ok says the outcome) or MOAT_EINVAL when it could not (bad
 * key syntax, a sealed log without a key, no input); v->message then says
 * why. Free v with moat_seclog_verdict_free. Never crashes on any bytes. */
int moat_seclog_verify(const moat_seclog_input *files, size_t nfiles,
                       const moat_seclog_verify_opts *opts, moat_seclog_verdict *v);
void moat_seclog_verdict_free(moat_seclog_verdict *v);

/* ---- reading lines (moat log why) ------------------------------------------ */

/* A line parsed as a flat JSON object of scalars, in order. Values are
 * decoded (strings unescaped, numbers and true/false/null as written). */
typedef struct moat_seclog_entry {
    size_t n;
    char **names;
    char **values;
    bool *is_string;
} moat_seclog_entry;

/* Returns 0, or MOAT_EPARSE when the line is not one flat JSON object. */
int moat_seclog_entry_parse(const char *line, size_t len, moat_seclog_entry *out);
/* Value of a member or NULL. */
const char *moat_seclog_entry_get(const moat_seclog_entry *e, const char *name);
void moat_seclog_entry_free(moat_seclog_entry *e);

#endif
