/* sqlite.c - the SQLite store: one file (rollback journal) holding users, roles,
 * second factors, recovery codes, sessions, tokens and login-failure
 * counters. The schema is created on first open and versioned with
 * PRAGMA user_version; a file from a newer moat is refused rather than
 * misread. One connection per store, every call under the store's mutex, so
 * a multi-statement change (a transaction) never interleaves with another
 * thread's. Read-modify-write counters are done in one transaction.
 *
 * A damaged file never takes the process down: the journal is a rollback
 * journal (no -shm wal-index mapped into memory, whose truncation is a
 * SIGBUS) and memory-mapped I/O is off, so every read is a read(2) whose
 * failure SQLite reports as an error. The store keeps its path and checks,
 * at most once a second, that the file there is still the one it opened
 * (device and inode), readable, and no shorter than its header says; a
 * call that failed, or a file that was deleted, replaced or damaged, closes
 * the connection and every later call answers MOAT_EIO until the file at
 * the path opens again as a sound moat store (PRAGMA quick_check): it is
 * tried at most once a second, and never created. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "backend.h"

#define SCHEMA_VERSION 3
#define MAX_LOCK_SECONDS (24 * 3600)

struct moat__backend {
    sqlite3 *db; /* NULL while the store is unavailable */
    pthread_mutex_t mu;
    char *path;
    dev_t dev; /* the file opened */
    ino_t ino;
    bool bad;          /* a call failed: reopen before the next */
    bool watch;        /* used only for its data version: no quick_check */
    uint64_t check_ms; /* last identity check */
    uint64_t retry_ms; /* last attempt to reopen (0 = try at once) */
    uint32_t generation;
    int opened_version; /* the schema version the file had at the first open */
    char problem[256];  /* why it is unavailable ("" = it is not) */
};

static const char schema[] =
    "CREATE TABLE users("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " password_hash TEXT NOT NULL,"
    " locked INTEGER NOT NULL DEFAULT 0,"
    " locked_until INTEGER NOT NULL DEFAULT 0,"
    " failures INTEGER NOT NULL DEFAULT 0,"
    " failure_start INTEGER NOT NULL DEFAULT 0,"
    " lock_count INTEGER NOT NULL DEFAULT 0,"
    " totp_secret BLOB,"
    " totp_last_step INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL,"
    " mfa_failures INTEGER NOT NULL DEFAULT 0,"
    " mfa_failure_start INTEGER NOT NULL DEFAULT 0,"
    " mfa_lock_count INTEGER NOT NULL DEFAULT 0,"
    " mfa_locked_until INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE roles("
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " role TEXT NOT NULL, PRIMARY KEY(user_id, role)) WITHOUT ROWID;"
    "CREATE TABLE recovery_codes("
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " code_hash TEXT NOT NULL, used_at INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(user_id, code_hash)) WITHOUT ROWID;"
    "CREATE TABLE sessions("
    " id_hash TEXT PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " created INTEGER NOT NULL, last_seen INTEGER NOT NULL, expires INTEGER NOT NULL,"
    " mfa INTEGER NOT NULL, csrf TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX sessions_user ON sessions(user_id);"
    "CREATE TABLE tokens("
    " id INTEGER PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " token_hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,"
    " created INTEGER NOT NULL, expires INTEGER NOT NULL, last_used INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE address_failures("
    " addr TEXT PRIMARY KEY, failures INTEGER NOT NULL, failure_start INTEGER NOT NULL,"
    " blocked_until INTEGER NOT NULL DEFAULT 0, block_count INTEGER NOT NULL DEFAULT 0)"
    " WITHOUT ROWID;"
    "CREATE TABLE rate_hits("
    " key TEXT NOT NULL, at_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
    "CREATE INDEX rate_hits_key ON rate_hits(key, at_ms);"
    "CREATE INDEX rate_hits_expires ON rate_hits(expires_ms);"
    "CREATE TABLE strikes("
    " addr TEXT PRIMARY KEY, strikes INTEGER NOT NULL, strike_start INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE bans("
    " addr TEXT PRIMARY KEY, until INTEGER NOT NULL, why TEXT NOT NULL) WITHOUT ROWID;"
    "PRAGMA user_version = 3;";

/* Version 1 to 2: the second factor's own failure counters. */
static const char migrate_1_2[] =
    "ALTER TABLE users ADD COLUMN mfa_failures INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE users ADD COLUMN mfa_failure_start INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE users ADD COLUMN mfa_lock_count INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE users ADD COLUMN mfa_locked_until INTEGER NOT NULL DEFAULT 0;"
    "PRAGMA user_version = 2;";

/* Version 2 to 3: rate-limit hits, strikes and bans (the state role's
 * rate_hit, strike and ban_* calls). */
static const char migrate_2_3[] =
    "CREATE TABLE rate_hits("
    " key TEXT NOT NULL, at_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
    "CREATE INDEX rate_hits_key ON rate_hits(key, at_ms);"
    "CREATE INDEX rate_hits_expires ON rate_hits(expires_ms);"
    "CREATE TABLE strikes("
    " addr TEXT PRIMARY KEY, strikes INTEGER NOT NULL, strike_start INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE bans("
    " addr TEXT PRIMARY KEY, until INTEGER NOT NULL, why TEXT NOT NULL) WITHOUT ROWID;"
    "PRAGMA user_version = 3;";

/* ---- statements ------------------------------------------------------------
 * run(s, sql, fmt, ...) prepares sql, binds the arguments fmt names ('i'
 * int64_t, 't' const char *, 'b' const void * + size_t, 'n' NULL) and
 * returns the statement ready to step (caller finalizes), or NULL. */

static sqlite3_stmt *prepare(moat__backend *s, const char *sql, const char *fmt, va_list ap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        moat_error("store: %s", sqlite3_errmsg(s->db));
        return NULL;
    }
    int i = 1, rc = SQLITE_OK;
    for (const char *f = fmt; *f && rc == SQLITE_OK; f++, i++) {
        switch (*f) {
        case 'i':
            rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
            break;
        case 't':
            rc = sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
            break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            rc = sqlite3_bind_blob(st, i, p, (int)n, SQLITE_TRANSIENT);
            break;
        }
        default:
            rc = sqlite3_bind_null(st, i);
            break;
        }
    }
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static sqlite3_stmt *query(moat__backend *s, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = prepare(s, sql, fmt, ap);
    va_end(ap);
    return st;
}

/* Runs a statement that returns no rows; *changes (may be NULL) = rows changed. */
static int exec(moat__backend *s, int *changes, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = prepare(s, sql, fmt, ap);
    va_end(ap);
    if (!st) return MOAT_EIO;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT) return MOAT_EINVAL;
    if (rc != SQLITE_DONE) {
        moat_error("store: %s", sqlite3_errmsg(s->db));
        return MOAT_EIO;
    }
    if (changes) *changes = sqlite3_changes(s->db);
    return 0;
}

static int begin(moat__backend *s)
{
    return exec(s, NULL, "BEGIN IMMEDIATE", "");
}

static int finish(moat__backend *s, int rc)
{
    int r = exec(s, NULL, rc < 0 ? "ROLLBACK" : "COMMIT", "");
    return rc < 0 ? rc : r;
}

#define LOCKED(s, call)                                                                            \
    do {                                                                                           \
        pthread_mutex_lock(&(s)->mu);                                                              \
        int rc_ = ready(s);                                                                        \
        if (rc_ == 0) rc_ = (call);                                                                \
        if (rc_ == MOAT_EIO) note_fail(s);                                                         \
        pthread_mutex_unlock(&(s)->mu);                                                            \
        return rc_;                                                                                \
    } while (0)

/* ---- a VFS without shared memory -----------------------------------------
 * "moat-noshm" wraps the default VFS with version 1 file methods: no xShm*
 * (so SQLite can never map a -shm wal-index, whose truncation by anyone is
 * a SIGBUS) and no xFetch (no mmap I/O). A -wal file beside the store, or a
 * file whose header asks for WAL, cannot be opened through it
 * (SQLITE_CANTOPEN): an error, never a signal. */

typedef struct shim_file {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct */
} shim_file;

#define REAL(f) (((shim_file *)(f))->real)

static int shim_close(sqlite3_file *f)
{
    int rc = REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
    return rc;
}
static int shim_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int shim_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int shim_sync(sqlite3_file *f, int flags)
{
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int shim_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int shim_lock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xLock(REAL(f), lock);
}
static int shim_unlock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}
static int shim_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int shim_control(sqlite3_file *f, int op, void *arg)
{
    if (op == SQLITE_FCNTL_MMAP_SIZE) { /* mmap I/O stays off */
        if (arg) *(sqlite3_int64 *)arg = 0;
        return SQLITE_OK;
    }
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int shim_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int shim_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static const sqlite3_io_methods shim_methods = {
    .iVersion = 1,
    .xClose = shim_close,
    .xRead = shim_read,
    .xWrite = shim_write,
    .xTruncate = shim_truncate,
    .xSync = shim_sync,
    .xFileSize = shim_size,
    .xLock = shim_lock,
    .xUnlock = shim_unlock,
    .xCheckReservedLock = shim_reserved,
    .xFileControl = shim_control,
    .xSectorSize = shim_sector,
    .xDeviceCharacteristics = shim_device,
};

static sqlite3_vfs shim_vfs;
static sqlite3_vfs *shim_orig;

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)vfs;
    shim_file *sf = (shim_file *)f;
    sf->real = (sqlite3_file *)(sf + 1);
    int rc = shim_orig->xOpen(shim_orig, name, sf->real, flags, out);
    f->pMethods = sf->real->pMethods ? &shim_methods : NULL;
    return rc;
}

static pthread_once_t shim_once = PTHREAD_ONCE_INIT;
static bool shim_ok;

static void shim_register(void)
{
    shim_orig = sqlite3_vfs_find(NULL);
    if (!shim_orig) return;
    shim_vfs = *shim_orig;
    shim_vfs.iVersion = shim_orig->iVersion < 2 ? shim_orig->iVersion : 2;
    shim_vfs.szOsFile = (int)sizeof(shim_file) + shim_orig->szOsFile;
    shim_vfs.zName = "moat-noshm";
    shim_vfs.pNext = NULL;
    shim_vfs.xOpen = shim_open;
    shim_ok = sqlite3_vfs_register(&shim_vfs, 0) == SQLITE_OK;
}

/* ---- open / close ------------------------------------------------------------ */

static void sq_close(moat__backend *s);

static void close_db(moat__backend *s)
{
    sqlite3_close_v2(s->db);
    s->db = NULL;
}

/* Does the file's header (bytes 18 and 19, the read and write versions)
 * ask for WAL? Read through the connection's own file, without a lock: a
 * stray -wal beside a rollback-journal file is refused, not replayed. */
static bool header_says_wal(sqlite3 *db)
{
    sqlite3_file *f = NULL;
    unsigned char h[20];
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
        !f->pMethods || f->pMethods->xRead(f, h, (int)sizeof(h), 0) != SQLITE_OK)
        return false;
    return h[18] == 2 || h[19] == 2;
}

static int read_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Opens s->path (never creating it) into s->db: the settings above, then a
 * schema check. create: an empty file gets the schema (a first open);
 * otherwise an empty file is refused, as is one that fails quick_check. */
static int connect_db(moat__backend *s, bool create, bool check, char **errmsg)
{
    const char *path = s->path;
    bool converted = false;
    pthread_once(&shim_once, shim_register);
    if (!shim_ok) {
        *errmsg = moat_xasprintf("%s: cannot register SQLite's moat-noshm VFS", path);
        return MOAT_EIO;
    }
again:
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                        "moat-noshm") != SQLITE_OK) {
        *errmsg = moat_xasprintf("%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
        goto fail;
    }
    /* The watch (data version) runs on the event loop: it never waits. */
    sqlite3_busy_timeout(s->db, s->watch ? 0 : 5000);
    sqlite3_stmt *st = NULL;
    int version = -1;
    bool journal_ok = false;
    /* No shared-memory wal-index (a truncated -shm is a SIGBUS in every
     * process mapping it) and no mmap I/O: a damaged file is an error
     * code, never a signal. Checked cells catch more corruption. */
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=DELETE", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const char *m = (const char *)sqlite3_column_text(st, 0);
        journal_ok = m && strcmp(m, "delete") == 0;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!journal_ok && create && !converted && header_says_wal(s->db)) {
        /* A store an older moat kept in WAL mode: converted once, through
         * the default VFS (which can read its WAL), then opened again. The
         * one moment a -shm is mapped: at an open, for an old file. */
        converted = true;
        close_db(s);
        sqlite3 *db = NULL;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
            sqlite3_busy_timeout(db, 5000);
            sqlite3_exec(db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
        }
        sqlite3_close(db);
        goto again;
    }
    if (!journal_ok) {
        *errmsg = moat_xasprintf("%s: cannot use a rollback journal (%s): is an older moat "
                                 "still using the store in WAL mode?",
                                 path, sqlite3_errmsg(s->db));
        goto fail;
    }
    if (sqlite3_exec(s->db,
                     "PRAGMA mmap_size=0; PRAGMA synchronous=FULL; PRAGMA cell_size_check=ON;"
                     "PRAGMA foreign_keys=ON;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
        *errmsg = moat_xasprintf("%s: not a moat store (%s)", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        *errmsg = moat_xasprintf("%s: not a moat store (%s)", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    if (create && !s->opened_version) s->opened_version = version;
    if (version == 0 && !create) {
        *errmsg = moat_xasprintf("%s: the store file is empty (truncated?)", path);
        goto fail;
    }
    if (version >= 0 && version < SCHEMA_VERSION) {
        char *err = NULL;
        /* Read again under the write lock: another process may have
         * migrated the file since. */
        if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
            (version = read_version(s->db)) < 0 ||
            sqlite3_exec(s->db,
                         version == 0   ? schema
                         : version == 1 ? migrate_1_2
                                        : "",
                         NULL, NULL, &err) != SQLITE_OK ||
            (version > 0 && version < SCHEMA_VERSION &&
             sqlite3_exec(s->db, migrate_2_3, NULL, NULL, &err) != SQLITE_OK) ||
            sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            *errmsg = moat_xasprintf("%s: cannot create the schema: %s", path,
                                     err ? err : sqlite3_errmsg(s->db));
            sqlite3_free(err);
            goto fail;
        }
    } else if (version != SCHEMA_VERSION) {
        *errmsg = moat_xasprintf("%s: store schema version %d, this moat reads version %d", path,
                                 version, SCHEMA_VERSION);
        goto fail;
    }
    if (check) {
        bool ok = false;
        st = NULL;
        if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            const char *m = (const char *)sqlite3_column_text(st, 0);
            ok = m && strcmp(m, "ok") == 0;
        }
        sqlite3_finalize(st);
        if (!ok) {
            *errmsg = moat_xasprintf("%s: the store file is damaged (quick_check failed)", path);
            goto fail;
        }
    }
    struct stat sb;
    if (stat(path, &sb) < 0) {
        *errmsg = moat_xasprintf("%s: %s", path, strerror(errno));
        goto fail;
    }
    s->dev = sb.st_dev;
    s->ino = sb.st_ino;
    return 0;
fail:
    close_db(s);
    return MOAT_EIO;
}

int moat__sqlite_open(const char *url, bool watch, moat__backend **out, char **errmsg)
{
    *out = NULL;
    *errmsg = NULL;
    if (strncmp(url, "sqlite:", 7) != 0 || !url[7]) {
        *errmsg = moat_xasprintf("store url '%s': only \"sqlite:PATH\" is supported", url);
        return MOAT_EINVAL;
    }
    const char *path = url + 7;
    /* Create the file ourselves so that it is 0600 from the start; SQLite
     * gives its journal the same mode. Only when it is missing: closing a
     * descriptor of a file drops every POSIX lock this process holds on it,
     * including those of another connection already open on the same file
     * (the gateway opens two). */
    struct stat sb;
    if (lstat(path, &sb) < 0) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            *errmsg = moat_xasprintf("%s: %s", path, strerror(errno));
            return MOAT_EIO;
        }
        close(fd);
    } else if (S_ISLNK(sb.st_mode)) {
        *errmsg = moat_xasprintf("%s: is a symbolic link", path);
        return MOAT_EIO;
    }
    moat__backend *s = moat_xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->path = moat_xstrdup(path);
    s->generation = 1;
    (void)watch; /* the watch (data_version) is recognised at its first call */
    if (connect_db(s, true, false, errmsg) < 0) {
        sq_close(s);
        return MOAT_EIO;
    }
    s->check_ms = moat_now_ms();
    *out = s;
    return 0;
}

static void sq_close(moat__backend *s)
{
    if (!s) return;
    close_db(s);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

/* Why the file at the path cannot be opened, as far as stat and access
 * tell (false: they see nothing wrong); *sb gets its identity. */
static bool unusable(moat__backend *s, struct stat *sb, char *why, size_t n)
{
    if (stat(s->path, sb) < 0) {
        snprintf(why, n, "%s: %s", s->path,
                 errno == ENOENT ? "the store file was deleted" : strerror(errno));
        return true;
    }
    if (access(s->path, R_OK | W_OK) < 0) {
        snprintf(why, n, "%s: the store file is not readable and writable: %s", s->path,
                 strerror(errno));
        return true;
    }
    char wal[PATH_MAX];
    struct stat wb;
    if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", s->path) < sizeof(wal) &&
        stat(wal, &wb) == 0) {
        snprintf(why, n,
                 "%s-wal: a WAL file lies beside the store (moat keeps a rollback "
                 "journal and does not read it)",
                 s->path);
        return true;
    }
    return false;
}

/* Why the file at the path is no longer the one open (false: it is). */
static bool moved(moat__backend *s, char *why, size_t n)
{
    struct stat sb;
    if (unusable(s, &sb, why, n)) return true;
    if (sb.st_dev != s->dev || sb.st_ino != s->ino) {
        snprintf(why, n, "%s: the store file was replaced", s->path);
        return true;
    }
    return false;
}

static void drop(moat__backend *s, const char *why)
{
    if (why) snprintf(s->problem, sizeof(s->problem), "%s", why);
    if (s->db) moat_error("auth store unavailable: %s", s->problem);
    close_db(s);
    s->bad = false;
}

/* Before every call, under the mutex: 0 when s->db may be used. */
static int ready(moat__backend *s)
{
    uint64_t now = moat_now_ms();
    if (s->db && s->bad) drop(s, NULL); /* reopened at most once a second */
    if (s->db && now - s->check_ms >= 1000) {
        char why[sizeof(s->problem)];
        s->check_ms = now;
        if (moved(s, why, sizeof(why))) {
            drop(s, why);
            s->retry_ms = 0;
        }
    }
    if (s->db) return 0;
    if (s->retry_ms && now - s->retry_ms < 1000) return MOAT_EIO;
    s->retry_ms = now;
    struct stat sb;
    if (unusable(s, &sb, s->problem, sizeof(s->problem))) return MOAT_EIO;
    char *err = NULL;
    if (connect_db(s, false, !s->watch, &err) < 0) {
        snprintf(s->problem, sizeof(s->problem), "%s", err ? err : "cannot open");
        free(err);
        return MOAT_EIO;
    }
    moat_warn("auth store %s: open again", s->path);
    s->generation++;
    s->problem[0] = '\0';
    s->check_ms = now;
    return 0;
}

/* A call failed: remember why, and reopen before the next. */
static void note_fail(moat__backend *s)
{
    if (s->db && !s->bad) {
        struct stat sb;
        if (!unusable(s, &sb, s->problem, sizeof(s->problem)))
            snprintf(s->problem, sizeof(s->problem), "%s: %s", s->path, sqlite3_errmsg(s->db));
        s->bad = true;
    }
}

static bool sq_problem(moat__backend *s, char *buf, size_t n)
{
    pthread_mutex_lock(&s->mu);
    bool down = !s->db || s->bad;
    if (n) snprintf(buf, n, "%s", down ? s->problem : "");
    pthread_mutex_unlock(&s->mu);
    return down;
}

/* ---- users ------------------------------------------------------------------- */

static int set_roles(moat__backend *s, int64_t id, const char *const *roles, size_t n)
{
    int rc = exec(s, NULL, "DELETE FROM roles WHERE user_id = ?", "i", id);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!moat_role_name_valid(roles[i])) return MOAT_EINVAL;
        rc = exec(s, NULL, "INSERT OR IGNORE INTO roles(user_id, role) VALUES(?, ?)", "it", id,
                  roles[i]);
    }
    return rc;
}

static int user_add(moat__backend *s, const char *name, const char *hash, const char *const *roles,
                    size_t nroles, int64_t now)
{
    if (!moat_user_name_valid(name)) return MOAT_EINVAL;
    int rc = begin(s);
    if (rc < 0) return rc;
    rc = exec(s, NULL, "INSERT INTO users(name, password_hash, created) VALUES(?, ?, ?)", "tti",
              name, hash, now);
    if (rc == 0) rc = set_roles(s, sqlite3_last_insert_rowid(s->db), roles, nroles);
    return finish(s, rc);
}

static int sq_user_add(moat__backend *s, const char *name, const char *hash,
                       const char *const *roles, size_t nroles, int64_t now)
{
    LOCKED(s, user_add(s, name, hash, roles, nroles, now));
}

static int users_import(moat__backend *s, const moat_user_import *rows, size_t n, int64_t now,
                        size_t *failed)
{
    int rc = begin(s);
    if (rc < 0) return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!moat_user_name_valid(rows[i].name)) rc = MOAT_EINVAL;
        if (rc == 0)
            rc = exec(s, NULL, "INSERT INTO users(name, password_hash, created) VALUES(?, ?, ?)",
                      "tti", rows[i].name, rows[i].hash, now);
        if (rc == 0)
            rc = set_roles(s, sqlite3_last_insert_rowid(s->db), rows[i].roles, rows[i].nroles);
        if (rc < 0 && failed) *failed = i;
    }
    return finish(s, rc);
}

static int sq_users_import(moat__backend *s, const moat_user_import *rows, size_t n, int64_t now,
                           size_t *failed)
{
    LOCKED(s, users_import(s, rows, n, now, failed));
}

#define USER_COLS                                                                                  \
    "id, name, password_hash, locked, locked_until, failures, failure_start, lock_count, "         \
    "totp_secret, totp_last_step, created, "                                                       \
    "(SELECT count(*) FROM recovery_codes r WHERE r.user_id = users.id AND r.used_at = 0), "       \
    "mfa_locked_until"

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return moat_xstrdup(t ? (const char *)t : "");
}

static int read_user(moat__backend *s, sqlite3_stmt *st, moat_user *u)
{
    memset(u, 0, sizeof(*u));
    u->id = sqlite3_column_int64(st, 0);
    u->name = col_text(st, 1);
    u->password_hash = col_text(st, 2);
    u->locked = sqlite3_column_int(st, 3) != 0;
    u->locked_until = sqlite3_column_int64(st, 4);
    u->failures = (uint32_t)sqlite3_column_int64(st, 5);
    u->failure_start = sqlite3_column_int64(st, 6);
    u->lock_count = (uint32_t)sqlite3_column_int64(st, 7);
    int blen = sqlite3_column_bytes(st, 8);
    if (sqlite3_column_type(st, 8) == SQLITE_BLOB && blen > 0) {
        u->totp_len = (size_t)blen;
        u->totp_secret = moat_xmalloc(u->totp_len);
        memcpy(u->totp_secret, sqlite3_column_blob(st, 8), u->totp_len);
    }
    u->totp_last_step = (uint64_t)sqlite3_column_int64(st, 9);
    u->created = sqlite3_column_int64(st, 10);
    u->recovery_left = (size_t)sqlite3_column_int64(st, 11);
    u->mfa_locked_until = sqlite3_column_int64(st, 12);
    sqlite3_stmt *r =
        query(s, "SELECT role FROM roles WHERE user_id = ? ORDER BY role", "i", u->id);
    if (!r) return MOAT_EIO;
    while (sqlite3_step(r) == SQLITE_ROW) {
        u->roles = moat_xrealloc(u->roles, (u->nroles + 1) * sizeof(char *));
        u->roles[u->nroles++] = col_text(r, 0);
    }
    sqlite3_finalize(r);
    return 0;
}

static int user_get(moat__backend *s, const char *sql, const char *fmt, const void *key,
                    moat_user *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = fmt[0] == 't' ? query(s, sql, "t", (const char *)key)
                                     : query(s, sql, "i", *(const int64_t *)key);
    if (!st) return MOAT_EIO;
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_ROW ? read_user(s, st, out) : rc == SQLITE_DONE ? MOAT_ENOENT : MOAT_EIO;
    sqlite3_finalize(st);
    if (ret < 0) moat_user_clear(out);
    return ret;
}

static int sq_user_get(moat__backend *s, const char *name, moat_user *out)
{
    LOCKED(s, user_get(s, "SELECT " USER_COLS " FROM users WHERE name = ?", "t", name, out));
}

static int sq_user_get_id(moat__backend *s, int64_t id, moat_user *out)
{
    LOCKED(s, user_get(s, "SELECT " USER_COLS " FROM users WHERE id = ?", "i", &id, out));
}

static int user_list(moat__backend *s, moat_user **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = query(s, "SELECT " USER_COLS " FROM users ORDER BY name", "");
    if (!st) return MOAT_EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = moat_xrealloc(*out, (*n + 1) * sizeof(moat_user));
        if (read_user(s, st, &(*out)[*n]) < 0) break;
        (*n)++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < *n; i++)
            moat_user_clear(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        return MOAT_EIO;
    }
    return 0;
}

static int sq_user_list(moat__backend *s, moat_user **out, size_t *n)
{
    LOCKED(s, user_list(s, out, n));
}

static int changed_or_noent(int rc, int changes)
{
    return rc < 0 ? rc : changes > 0 ? 0 : MOAT_ENOENT;
}

static int user_del(moat__backend *s, const char *name, int64_t *id_out)
{
    int rc = begin(s), changes = 0;
    if (rc < 0) return rc;
    int64_t id = 0;
    sqlite3_stmt *st = query(s, "SELECT id FROM users WHERE name = ?", "t", name);
    if (!st) return finish(s, MOAT_EIO);
    if (sqlite3_step(st) == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    rc = exec(s, &changes, "DELETE FROM users WHERE name = ?", "t", name);
    rc = changed_or_noent(rc, changes);
    if (rc == 0 && id_out) *id_out = id;
    return finish(s, rc);
}

static int sq_user_del(moat__backend *s, const char *name, int64_t *id_out)
{
    LOCKED(s, user_del(s, name, id_out));
}

static int set_password(moat__backend *s, int64_t id, const char *hash, bool end_sessions)
{
    int rc = begin(s), changes = 0;
    if (rc < 0) return rc;
    rc = exec(s, &changes, "UPDATE users SET password_hash = ? WHERE id = ?", "ti", hash, id);
    rc = changed_or_noent(rc, changes);
    if (rc == 0 && end_sessions)
        rc = exec(s, NULL, "DELETE FROM sessions WHERE user_id = ?", "i", id);
    return finish(s, rc);
}

static int sq_user_set_password(moat__backend *s, int64_t id, const char *hash, bool end_sessions)
{
    LOCKED(s, set_password(s, id, hash, end_sessions));
}

static int rehash(moat__backend *s, int64_t id, const char *old_hash, const char *hash)
{
    int changes = 0;
    int rc =
        exec(s, &changes, "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
             "tit", hash, id, old_hash);
    return changed_or_noent(rc, changes);
}

static int sq_user_rehash(moat__backend *s, int64_t id, const char *old_hash, const char *hash)
{
    LOCKED(s, rehash(s, id, old_hash, hash));
}

static int set_locked(moat__backend *s, int64_t id, bool locked)
{
    int rc = begin(s), changes = 0;
    if (rc < 0) return rc;
    if (locked) {
        rc = exec(s, &changes, "UPDATE users SET locked = 1 WHERE id = ?", "i", id);
        rc = changed_or_noent(rc, changes);
        if (rc == 0) rc = exec(s, NULL, "DELETE FROM sessions WHERE user_id = ?", "i", id);
    } else {
        rc = exec(s, &changes,
                  "UPDATE users SET locked = 0, locked_until = 0, failures = 0, failure_start = 0,"
                  " lock_count = 0, mfa_failures = 0, mfa_failure_start = 0, mfa_lock_count = 0,"
                  " mfa_locked_until = 0 WHERE id = ?",
                  "i", id);
        rc = changed_or_noent(rc, changes);
    }
    return finish(s, rc);
}

static int sq_user_set_locked(moat__backend *s, int64_t id, bool locked)
{
    LOCKED(s, set_locked(s, id, locked));
}

static int set_roles_tx(moat__backend *s, int64_t id, const char *const *roles, size_t n)
{
    int rc = begin(s), changes = 0;
    if (rc < 0) return rc;
    rc = exec(s, &changes, "UPDATE users SET id = id WHERE id = ?", "i", id);
    rc = changed_or_noent(rc, changes);
    if (rc == 0) rc = set_roles(s, id, roles, n);
    return finish(s, rc);
}

static int sq_user_set_roles(moat__backend *s, int64_t id, const char *const *roles, size_t nroles)
{
    LOCKED(s, set_roles_tx(s, id, roles, nroles));
}

/* ---- second factor ------------------------------------------------------------ */

static int totp_set(moat__backend *s, int64_t id, const uint8_t *secret, size_t len)
{
    int rc = begin(s), changes = 0;
    if (rc < 0) return rc;
    if (len > 0)
        rc = exec(s, &changes, "UPDATE users SET totp_secret = ?, totp_last_step = 0 WHERE id = ?",
                  "bi", secret, len, id);
    else
        rc = exec(s, &changes,
                  "UPDATE users SET totp_secret = NULL, totp_last_step = 0 WHERE id = ?", "i", id);
    rc = changed_or_noent(rc, changes);
    if (rc == 0 && len == 0)
        rc = exec(s, NULL, "DELETE FROM recovery_codes WHERE user_id = ?", "i", id);
    return finish(s, rc);
}

static int sq_totp_set(moat__backend *s, int64_t id, const uint8_t *secret, size_t len)
{
    LOCKED(s, totp_set(s, id, secret, len));
}

static int totp_use(moat__backend *s, int64_t id, uint64_t step)
{
    int changes = 0;
    int rc =
        exec(s, &changes, "UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?",
             "iii", (int64_t)step, id, (int64_t)step);
    return changed_or_noent(rc, changes);
}

static int sq_totp_use(moat__backend *s, int64_t id, uint64_t step)
{
    LOCKED(s, totp_use(s, id, step));
}

static int recovery_set(moat__backend *s, int64_t id, const char *const *hashes, size_t n)
{
    int rc = begin(s);
    if (rc < 0) return rc;
    rc = exec(s, NULL, "DELETE FROM recovery_codes WHERE user_id = ?", "i", id);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = exec(s, NULL, "INSERT INTO recovery_codes(user_id, code_hash) VALUES(?, ?)", "it", id,
                  hashes[i]);
    return finish(s, rc);
}

static int sq_recovery_set(moat__backend *s, int64_t id, const char *const *hashes, size_t n)
{
    LOCKED(s, recovery_set(s, id, hashes, n));
}

static int recovery_use(moat__backend *s, int64_t id, const char *hash, int64_t now)
{
    int changes = 0;
    int rc = exec(s, &changes,
                  "UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND "
                  "used_at = 0",
                  "iit", now > 0 ? now : 1, id, hash);
    return changed_or_noent(rc, changes);
}

static int sq_recovery_use(moat__backend *s, int64_t id, const char *hash, int64_t now)
{
    LOCKED(s, recovery_use(s, id, hash, now));
}

/* ---- lockout ------------------------------------------------------------------ */

static int64_t lock_length(const moat_lockout_params *p, uint32_t count)
{
    int64_t d = p->duration;
    for (uint32_t i = 0; i < count && d < MAX_LOCK_SECONDS; i++)
        d *= 2;
    return d < MAX_LOCK_SECONDS ? d : MAX_LOCK_SECONDS;
}

/* The shared counter logic: failures within the window; reaching the limit
 * locks for a time that doubles with every lock. */
static void count_failure(const moat_lockout_params *p, uint32_t limit, int64_t now,
                          int64_t *failures, int64_t *start, int64_t *count, int64_t *until)
{
    if (*start == 0 || now - *start >= p->window) {
        *failures = 0;
        *start = now;
    }
    (*failures)++;
    if (limit > 0 && *failures >= limit) {
        *until = now + lock_length(p, (uint32_t)*count);
        (*count)++;
        *failures = 0;
        *start = 0;
    }
}

/* The account's two counters: the password's and the second factor's. */
static const struct {
    const char *select, *update, *reset;
} account_counter[] = {
    {"SELECT failures, failure_start, lock_count, locked_until FROM users WHERE id = ?",
     "UPDATE users SET failures = ?, failure_start = ?, lock_count = ?, locked_until = ?"
     " WHERE id = ?",
     "UPDATE users SET failures = 0, failure_start = 0, lock_count = 0 WHERE id = ?"},
    {"SELECT mfa_failures, mfa_failure_start, mfa_lock_count, mfa_locked_until FROM users"
     " WHERE id = ?",
     "UPDATE users SET mfa_failures = ?, mfa_failure_start = ?, mfa_lock_count = ?,"
     " mfa_locked_until = ? WHERE id = ?",
     "UPDATE users SET mfa_failures = 0, mfa_failure_start = 0, mfa_lock_count = 0 WHERE id = ?"},
};

static int account_failed(moat__backend *s, int which, int64_t id, uint32_t limit,
                          const moat_lockout_params *p, int64_t now, int64_t *locked_until)
{
    *locked_until = 0;
    int rc = begin(s);
    if (rc < 0) return rc;
    sqlite3_stmt *st = query(s, account_counter[which].select, "i", id);
    if (!st) return finish(s, MOAT_EIO);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return finish(s, MOAT_ENOENT);
    }
    int64_t failures = sqlite3_column_int64(st, 0), start = sqlite3_column_int64(st, 1),
            count = sqlite3_column_int64(st, 2), until = sqlite3_column_int64(st, 3);
    sqlite3_finalize(st);
    int64_t old_until = until;
    count_failure(p, limit, now, &failures, &start, &count, &until);
    if (until != old_until) *locked_until = until;
    rc = exec(s, NULL, account_counter[which].update, "iiiii", failures, start, count, until, id);
    return finish(s, rc);
}

static int sq_login_failed(moat__backend *s, int64_t id, const moat_lockout_params *p, int64_t now,
                           int64_t *locked_until)
{
    LOCKED(s, account_failed(s, 0, id, p->failures, p, now, locked_until));
}

static int sq_login_ok(moat__backend *s, int64_t id)
{
    LOCKED(s, exec(s, NULL, account_counter[0].reset, "i", id));
}

static int sq_mfa_failed(moat__backend *s, int64_t id, const moat_lockout_params *p, int64_t now,
                         int64_t *locked_until)
{
    LOCKED(s, account_failed(s, 1, id, p->mfa_failures, p, now, locked_until));
}

static int sq_mfa_ok(moat__backend *s, int64_t id)
{
    LOCKED(s, exec(s, NULL, account_counter[1].reset, "i", id));
}

static int addr_failed(moat__backend *s, const char *addr, const moat_lockout_params *p,
                       int64_t now, int64_t *blocked_until)
{
    *blocked_until = 0;
    int rc = begin(s);
    if (rc < 0) return rc;
    int64_t failures = 0, start = 0, count = 0, until = 0;
    sqlite3_stmt *st = query(s,
                             "SELECT failures, failure_start, block_count, blocked_until FROM "
                             "address_failures WHERE addr = ?",
                             "t", addr);
    if (!st) return finish(s, MOAT_EIO);
    if (sqlite3_step(st) == SQLITE_ROW) {
        failures = sqlite3_column_int64(st, 0);
        start = sqlite3_column_int64(st, 1);
        count = sqlite3_column_int64(st, 2);
        until = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    int64_t old_until = until;
    count_failure(p, p->addr_failures, now, &failures, &start, &count, &until);
    if (until != old_until) *blocked_until = until;
    rc = exec(s, NULL,
              "INSERT OR REPLACE INTO address_failures(addr, failures, failure_start, block_count,"
              " blocked_until) VALUES(?, ?, ?, ?, ?)",
              "tiiii", addr, failures, start, count, until);
    /* Forget addresses quiet for a day, so the table stays small. */
    if (rc == 0)
        rc = exec(s, NULL,
                  "DELETE FROM address_failures WHERE blocked_until < ? AND failure_start < ?",
                  "ii", now - MAX_LOCK_SECONDS, now - MAX_LOCK_SECONDS);
    return finish(s, rc);
}

static int sq_addr_failed(moat__backend *s, const char *addr, const moat_lockout_params *p,
                          int64_t now, int64_t *blocked_until)
{
    LOCKED(s, addr_failed(s, addr, p, now, blocked_until));
}

static int addr_blocked(moat__backend *s, const char *addr, int64_t now, int64_t *until)
{
    *until = 0;
    sqlite3_stmt *st =
        query(s, "SELECT blocked_until FROM address_failures WHERE addr = ?", "t", addr);
    if (!st) return MOAT_EIO;
    if (sqlite3_step(st) == SQLITE_ROW) {
        int64_t u = sqlite3_column_int64(st, 0);
        if (u > now) *until = u;
    }
    sqlite3_finalize(st);
    return 0;
}

static int sq_addr_blocked(moat__backend *s, const char *addr, int64_t now, int64_t *until)
{
    LOCKED(s, addr_blocked(s, addr, now, until));
}

/* ---- sessions ----------------------------------------------------------------- */

static int session_create(moat__backend *s, const moat_session *x)
{
    return exec(s, NULL,
                "INSERT INTO sessions(id_hash, user_id, created, last_seen, expires, mfa, csrf)"
                " VALUES(?, ?, ?, ?, ?, ?, ?)",
                "tiiiiit", x->id_hash, x->user_id, x->created, x->last_seen, x->expires,
                (int64_t)x->mfa, x->csrf);
}

static int sq_session_create(moat__backend *s, const moat_session *sess)
{
    LOCKED(s, session_create(s, sess));
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = t ? strlen((const char *)t) : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(dst, t, n);
    dst[n] = '\0';
}

static int session_get(moat__backend *s, const char *id_hash, moat_session *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *st = query(s,
                             "SELECT id_hash, user_id, created, last_seen, expires, mfa, csrf FROM "
                             "sessions WHERE id_hash = ?",
                             "t", id_hash);
    if (!st) return MOAT_EIO;
    int rc = sqlite3_step(st), ret = MOAT_ENOENT;
    if (rc == SQLITE_ROW) {
        copy_text(out->id_hash, sizeof(out->id_hash), st, 0);
        out->user_id = sqlite3_column_int64(st, 1);
        out->created = sqlite3_column_int64(st, 2);
        out->last_seen = sqlite3_column_int64(st, 3);
        out->expires = sqlite3_column_int64(st, 4);
        out->mfa = sqlite3_column_int(st, 5) != 0;
        copy_text(out->csrf, sizeof(out->csrf), st, 6);
        ret = 0;
    } else if (rc != SQLITE_DONE) {
        ret = MOAT_EIO;
    }
    sqlite3_finalize(st);
    return ret;
}

static int sq_session_get(moat__backend *s, const char *id_hash, moat_session *out)
{
    LOCKED(s, session_get(s, id_hash, out));
}

static int session_touch(moat__backend *s, const char *id_hash, int64_t now)
{
    int changes = 0;
    int rc = exec(s, &changes, "UPDATE sessions SET last_seen = ? WHERE id_hash = ?", "it", now,
                  id_hash);
    return changed_or_noent(rc, changes);
}

static int sq_session_touch(moat__backend *s, const char *id_hash, int64_t now)
{
    LOCKED(s, session_touch(s, id_hash, now));
}

static int session_delete(moat__backend *s, const char *id_hash)
{
    int changes = 0;
    int rc = exec(s, &changes, "DELETE FROM sessions WHERE id_hash = ?", "t", id_hash);
    return changed_or_noent(rc, changes);
}

static int sq_session_delete(moat__backend *s, const char *id_hash)
{
    LOCKED(s, session_delete(s, id_hash));
}

static int sessions_end_user(moat__backend *s, int64_t id, size_t *n)
{
    int changes = 0;
    int rc = exec(s, &changes, "DELETE FROM sessions WHERE user_id = ?", "i", id);
    if (n) *n = rc < 0 ? 0 : (size_t)changes;
    return rc;
}

static int sq_sessions_end_user(moat__backend *s, int64_t id, size_t *n)
{
    LOCKED(s, sessions_end_user(s, id, n));
}

static int purge(moat__backend *s, int64_t now, int64_t idle)
{
    int rc = exec(s, NULL, "DELETE FROM sessions WHERE expires <= ? OR last_seen <= ?", "ii", now,
                  now - idle);
    if (rc == 0)
        rc = exec(s, NULL, "DELETE FROM tokens WHERE expires != 0 AND expires <= ?", "i", now);
    return rc;
}

static int sq_purge(moat__backend *s, int64_t now, int64_t idle)
{
    LOCKED(s, purge(s, now, idle));
}

/* ---- tokens ------------------------------------------------------------------- */

static int token_add(moat__backend *s, int64_t user_id, const char *hash, const char *prefix,
                     int64_t now, int64_t expires, int64_t *token_id)
{
    int rc = exec(s, NULL,
                  "INSERT INTO tokens(user_id, token_hash, prefix, created, expires)"
                  " VALUES(?, ?, ?, ?, ?)",
                  "ittii", user_id, hash, prefix, now, expires);
    if (rc == 0 && token_id) *token_id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

static int sq_token_add(moat__backend *s, int64_t user_id, const char *hash, const char *prefix,
                        int64_t now, int64_t expires, int64_t *token_id)
{
    LOCKED(s, token_add(s, user_id, hash, prefix, now, expires, token_id));
}

static int token_find(moat__backend *s, const char *hash, int64_t now, int64_t *user_id)
{
    sqlite3_stmt *st = query(s,
                             "SELECT id, user_id FROM tokens WHERE token_hash = ? AND"
                             " (expires = 0 OR expires > ?)",
                             "ti", hash, now);
    if (!st) return MOAT_EIO;
    int rc = sqlite3_step(st);
    int64_t id = 0;
    if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        *user_id = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? MOAT_ENOENT : MOAT_EIO;
    return exec(s, NULL, "UPDATE tokens SET last_used = ? WHERE id = ?", "ii", now, id);
}

static int sq_token_find(moat__backend *s, const char *hash, int64_t now, int64_t *user_id)
{
    LOCKED(s, token_find(s, hash, now, user_id));
}

static int token_list(moat__backend *s, const char *user, moat_token_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = user ? query(s,
                                    "SELECT t.id, u.name, t.prefix, t.created, t.expires,"
                                    " t.last_used FROM tokens t JOIN users u ON u.id = t.user_id"
                                    " WHERE u.name = ? ORDER BY t.id",
                                    "t", user)
                            : query(s,
                                    "SELECT t.id, u.name, t.prefix, t.created, t.expires,"
                                    " t.last_used FROM tokens t JOIN users u ON u.id = t.user_id"
                                    " ORDER BY t.id",
                                    "");
    if (!st) return MOAT_EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = moat_xrealloc(*out, (*n + 1) * sizeof(moat_token_info));
        moat_token_info *t = &(*out)[(*n)++];
        t->id = sqlite3_column_int64(st, 0);
        t->user = col_text(st, 1);
        copy_text(t->prefix, sizeof(t->prefix), st, 2);
        t->created = sqlite3_column_int64(st, 3);
        t->expires = sqlite3_column_int64(st, 4);
        t->last_used = sqlite3_column_int64(st, 5);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : MOAT_EIO;
}

static int sq_token_list(moat__backend *s, const char *user, moat_token_info **out, size_t *n)
{
    LOCKED(s, token_list(s, user, out, n));
}

static int token_revoke(moat__backend *s, int64_t token_id)
{
    int changes = 0;
    int rc = exec(s, &changes, "DELETE FROM tokens WHERE id = ?", "i", token_id);
    return changed_or_noent(rc, changes);
}

static int sq_token_revoke(moat__backend *s, int64_t token_id)
{
    LOCKED(s, token_revoke(s, token_id));
}

/* ---- rate limits, strikes and bans -------------------------------------------
 * rate_hit keeps a log of the hits it allowed (a sliding window: a hit is
 * allowed while fewer than requests + burst allowed hits lie within the
 * last window_ms), one transaction per hit, so processes sharing the file
 * count together. Rows carry their expiry and are swept as they expire. */

static int64_t scalar(moat__backend *s, int *rc, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = prepare(s, sql, fmt, ap);
    va_end(ap);
    int64_t v = 0;
    int r = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (r == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else if (r != SQLITE_DONE && *rc == 0)
        *rc = MOAT_EIO;
    sqlite3_finalize(st);
    return v;
}

static int rate_hit(moat__backend *s, const char *key, const moat_rate_params *p, int64_t now_ms,
                    moat_rate_result *out)
{
    memset(out, 0, sizeof(*out));
    int64_t cap = (int64_t)p->requests + p->burst;
    int rc = begin(s);
    if (rc < 0) return rc;
    rc = exec(s, NULL, "DELETE FROM rate_hits WHERE expires_ms <= ?", "i", now_ms);
    if (rc == 0)
        rc = exec(s, NULL, "DELETE FROM rate_hits WHERE key = ? AND at_ms <= ?", "ti", key,
                  now_ms - p->window_ms);
    int64_t n =
        rc == 0 ? scalar(s, &rc, "SELECT count(*) FROM rate_hits WHERE key = ?", "t", key) : 0;
    if (rc == 0 && n < cap) {
        rc = exec(s, NULL, "INSERT INTO rate_hits(key, at_ms, expires_ms) VALUES(?, ?, ?)", "tii",
                  key, now_ms, now_ms + p->window_ms);
        out->allowed = true;
    } else if (rc == 0) {
        /* allowed again when the hit that frees a place leaves the window */
        int64_t at = scalar(s, &rc,
                            "SELECT at_ms FROM rate_hits WHERE key = ? ORDER BY at_ms"
                            " LIMIT 1 OFFSET ?",
                            "ti", key, n - cap);
        out->retry_after_ms = at + p->window_ms - now_ms;
        if (out->retry_after_ms < 1) out->retry_after_ms = 1;
    }
    int64_t count = n + 1;
    out->count = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
    return finish(s, rc);
}

static int sq_rate_hit(moat__backend *s, const char *key, const moat_rate_params *p, int64_t now_ms,
                       moat_rate_result *out)
{
    LOCKED(s, rate_hit(s, key, p, now_ms, out));
}

/* keep: a ban already in force that ends later stays (a strike's ban);
 * else the new one replaces it (an administrator's). */
static int ban_add(moat__backend *s, const char *addr, int64_t until, const char *why, bool keep)
{
    return exec(s, NULL,
                keep ? "INSERT INTO bans(addr, until, why) VALUES(?, ?, ?) ON CONFLICT(addr) DO"
                       " UPDATE SET until = max(until, excluded.until), why = excluded.why"
                     : "INSERT OR REPLACE INTO bans(addr, until, why) VALUES(?, ?, ?)",
                "tit", addr, until, why ? why : "");
}

static int strike(moat__backend *s, const char *addr, const moat_strike_params *p, int64_t now,
                  int64_t *banned_until)
{
    *banned_until = 0;
    int rc = begin(s);
    if (rc < 0) return rc;
    int64_t n = 0, start = 0;
    sqlite3_stmt *st =
        query(s, "SELECT strikes, strike_start FROM strikes WHERE addr = ?", "t", addr);
    if (!st) return finish(s, MOAT_EIO);
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
        start = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (start == 0 || now - start >= p->window) {
        n = 0;
        start = now;
    }
    n++;
    if (p->strikes > 0 && n >= p->strikes) {
        *banned_until = now + p->duration;
        char why[64];
        snprintf(why, sizeof(why), "%" PRId64 " strikes within %" PRId64 " s", n, p->window);
        rc = ban_add(s, addr, *banned_until, why, true);
        if (rc == 0) rc = exec(s, NULL, "DELETE FROM strikes WHERE addr = ?", "t", addr);
    } else {
        rc = exec(s, NULL,
                  "INSERT OR REPLACE INTO strikes(addr, strikes, strike_start) VALUES(?, ?, ?)",
                  "tii", addr, n, start);
    }
    /* forget what is over: quiet addresses and ended bans */
    if (rc == 0)
        rc = exec(s, NULL, "DELETE FROM strikes WHERE strike_start < ?", "i",
                  now - (p->window > MAX_LOCK_SECONDS ? p->window : MAX_LOCK_SECONDS));
    if (rc == 0) rc = exec(s, NULL, "DELETE FROM bans WHERE until <= ?", "i", now);
    if (rc < 0) *banned_until = 0;
    return finish(s, rc);
}

static int sq_strike(moat__backend *s, const char *addr, const moat_strike_params *p, int64_t now,
                     int64_t *banned_until)
{
    LOCKED(s, strike(s, addr, p, now, banned_until));
}

static int sq_ban_add(moat__backend *s, const char *addr, int64_t until, const char *why)
{
    LOCKED(s, ban_add(s, addr, until, why, false));
}

static int ban_check(moat__backend *s, const char *addr, int64_t now, int64_t *until)
{
    int rc = 0;
    *until = scalar(s, &rc, "SELECT until FROM bans WHERE addr = ? AND until > ?", "ti", addr, now);
    return rc;
}

static int sq_ban_check(moat__backend *s, const char *addr, int64_t now, int64_t *until)
{
    LOCKED(s, ban_check(s, addr, now, until));
}

static int ban_remove(moat__backend *s, const char *addr)
{
    int changes = 0;
    int rc = exec(s, &changes, "DELETE FROM bans WHERE addr = ?", "t", addr);
    return changed_or_noent(rc, changes);
}

static int sq_ban_remove(moat__backend *s, const char *addr)
{
    LOCKED(s, ban_remove(s, addr));
}

static int ban_list(moat__backend *s, int64_t now, moat_ban **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st =
        query(s, "SELECT addr, until, why FROM bans WHERE until > ? ORDER BY addr", "i", now);
    if (!st) return MOAT_EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = moat_xrealloc(*out, (*n + 1) * sizeof(moat_ban));
        moat_ban *b = &(*out)[(*n)++];
        copy_text(b->addr, sizeof(b->addr), st, 0);
        b->until = sqlite3_column_int64(st, 1);
        copy_text(b->why, sizeof(b->why), st, 2);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return MOAT_EIO;
    }
    return 0;
}

static int sq_ban_list(moat__backend *s, int64_t now, moat_ban **out, size_t *n)
{
    LOCKED(s, ban_list(s, now, out, n));
}

/* ---- change counter ---------------------------------------------------------- */

static int data_version(moat__backend *s, uint64_t *out)
{
    /* Called on the event loop: never wait for a writer's lock. */
    if (!s->watch) sqlite3_busy_timeout(s->db, 0);
    s->watch = true;
    sqlite3_stmt *st = query(s, "PRAGMA data_version", "");
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (rc == SQLITE_ROW)
        *out =
            (uint64_t)s->generation << 32 | ((uint64_t)sqlite3_column_int64(st, 0) & 0xffffffffu);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 0;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? MOAT_EAGAIN : MOAT_EIO;
}

static int sq_data_version(moat__backend *s, uint64_t *out)
{
    LOCKED(s, data_version(s, out));
}

/* ---- moat store copy / migrate ----------------------------------------------- */

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int export_one(moat__backend *s, const moat_user *u, moat__export_fn fn, void *arg)
{
    char **codes = NULL;
    size_t ncodes = 0, ntok = 0;
    moat__token_row *toks = NULL;
    int rc = 0;
    sqlite3_stmt *st = query(
        s,
        "SELECT code_hash FROM recovery_codes WHERE user_id = ? AND used_at = 0 ORDER BY code_hash",
        "i", u->id);
    if (!st) return MOAT_EIO;
    while (sqlite3_step(st) == SQLITE_ROW) {
        codes = moat_xrealloc(codes, (ncodes + 1) * sizeof(char *));
        codes[ncodes++] = col_text(st, 0);
    }
    sqlite3_finalize(st);
    st = query(s,
               "SELECT token_hash, prefix, created, expires, last_used FROM tokens"
               " WHERE user_id = ? ORDER BY id",
               "i", u->id);
    if (!st) rc = MOAT_EIO;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        toks = moat_xrealloc(toks, (ntok + 1) * sizeof(*toks));
        toks[ntok++] =
            (moat__token_row){col_text(st, 0), col_text(st, 1), sqlite3_column_int64(st, 2),
                              sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4)};
    }
    sqlite3_finalize(st);
    if (rc == 0) {
        moat__user_export row = {u, (const char *const *)codes, ncodes, toks, ntok};
        rc = fn(&row, arg);
    }
    free_strings(codes, ncodes);
    for (size_t i = 0; i < ntok; i++) {
        free((char *)toks[i].hash);
        free((char *)toks[i].prefix);
    }
    free(toks);
    return rc;
}

static int export_users(moat__backend *s, moat__export_fn fn, void *arg)
{
    moat_user *all = NULL;
    size_t n = 0;
    int rc = user_list(s, &all, &n);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) rc = export_one(s, &all[i], fn, arg);
        moat_user_clear(&all[i]);
    }
    free(all);
    return rc;
}

static int sq_export_users(moat__backend *s, moat__export_fn fn, void *arg)
{
    LOCKED(s, export_users(s, fn, arg));
}

static int import_user(moat__backend *s, const moat__user_export *row)
{
    const moat_user *u = row->user;
    if (!moat_user_name_valid(u->name)) return MOAT_EINVAL;
    int rc = begin(s);
    if (rc < 0) return rc;
    if (u->totp_secret && u->totp_len)
        rc = exec(s, NULL,
                  "INSERT INTO users(name, password_hash, locked, created, totp_secret)"
                  " VALUES(?, ?, ?, ?, ?)",
                  "ttiib", u->name, u->password_hash, (int64_t)u->locked, u->created,
                  u->totp_secret, u->totp_len);
    else
        rc = exec(s, NULL,
                  "INSERT INTO users(name, password_hash, locked, created) VALUES(?, ?, ?, ?)",
                  "ttii", u->name, u->password_hash, (int64_t)u->locked, u->created);
    int64_t id = rc == 0 ? sqlite3_last_insert_rowid(s->db) : 0;
    if (rc == 0) rc = set_roles(s, id, (const char *const *)u->roles, u->nroles);
    for (size_t i = 0; i < row->nrecovery && rc == 0; i++)
        rc = exec(s, NULL, "INSERT INTO recovery_codes(user_id, code_hash) VALUES(?, ?)", "it", id,
                  row->recovery_hashes[i]);
    for (size_t i = 0; i < row->ntokens && rc == 0; i++) {
        const moat__token_row *t = &row->tokens[i];
        rc = exec(s, NULL,
                  "INSERT INTO tokens(user_id, token_hash, prefix, created, expires, last_used)"
                  " VALUES(?, ?, ?, ?, ?, ?)",
                  "ittiii", id, t->hash, t->prefix, t->created, t->expires, t->last_used);
    }
    return finish(s, rc);
}

static int sq_import_user(moat__backend *s, const moat__user_export *row)
{
    LOCKED(s, import_user(s, row));
}

/* Opening the file already brought its schema to this moat's version. */
static int sq_migrate(moat__backend *s, int *from, int *to)
{
    *from = s->opened_version;
    *to = SCHEMA_VERSION;
    return 0;
}

const moat__backend_ops moat__sqlite_ops = {
    .scheme = "sqlite",
    .close = sq_close,
    .problem = sq_problem,
    .user_add = sq_user_add,
    .users_import = sq_users_import,
    .user_get = sq_user_get,
    .user_get_id = sq_user_get_id,
    .user_list = sq_user_list,
    .user_del = sq_user_del,
    .set_password = sq_user_set_password,
    .rehash = sq_user_rehash,
    .set_locked = sq_user_set_locked,
    .set_roles = sq_user_set_roles,
    .totp_set = sq_totp_set,
    .recovery_set = sq_recovery_set,
    .recovery_use = sq_recovery_use,
    .token_add = sq_token_add,
    .token_find = sq_token_find,
    .token_list = sq_token_list,
    .token_revoke = sq_token_revoke,
    .export_users = sq_export_users,
    .import_user = sq_import_user,
    .migrate = sq_migrate,
    .totp_use = sq_totp_use,
    .login_failed = sq_login_failed,
    .login_ok = sq_login_ok,
    .mfa_failed = sq_mfa_failed,
    .mfa_ok = sq_mfa_ok,
    .addr_failed = sq_addr_failed,
    .addr_blocked = sq_addr_blocked,
    .session_create = sq_session_create,
    .session_get = sq_session_get,
    .session_touch = sq_session_touch,
    .session_delete = sq_session_delete,
    .sessions_end_user = sq_sessions_end_user,
    .purge = sq_purge,
    .rate_hit = sq_rate_hit,
    .ban_add = sq_ban_add,
    .ban_check = sq_ban_check,
    .ban_remove = sq_ban_remove,
    .ban_list = sq_ban_list,
    .strike = sq_strike,
    .data_version = sq_data_version,
};
