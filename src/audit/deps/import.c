/* import.c - reading OSV records from wherever they are: a JSON file (one
 * record or an array of them), NDJSON, the OSV zip export (libzip), a folder
 * tree of .json/.yaml files (the PyPA advisory database), or the download
 * `moat db update` makes with libcurl. Everything goes into the store in one
 * transaction, so a failed import changes nothing. Validating and storing
 * one record is osv.c's. */
#include <curl/curl.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "deps_int.h"

#define MAX_RECORD_BYTES (64u << 20)
#define MAX_DEPTH 32

typedef struct ctx {
    moat_osvdb *db;
    FILE *diag;
    moat_osvdb_stats *st;
    char **err;
} ctx;

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

static int store_json(ctx *c, json_t *doc, const char *where)
{
    if (json_is_array(doc)) {
        size_t i;
        json_t *rec;
        json_array_foreach(doc, i, rec)
        {
            char *w = moat_xasprintf("%s: [%zu]", where, i);
            int rc = moat__osv_store(c->db, rec, w, c->diag, c->st, c->err);
            free(w);
            if (rc < 0) return rc;
        }
        return 0;
    }
    return moat__osv_store(c->db, doc, where, c->diag, c->st, c->err);
}

static void bad_input(ctx *c, const char *where, const char *why)
{
    c->st->records++;
    c->st->skipped++;
    if (c->diag) fprintf(c->diag, "%s: record skipped: %s\n", where, why);
}

/* One buffer: a JSON document, or NDJSON when it is not one document. */
static int import_text(ctx *c, const char *name, const char *data, size_t len, bool yaml)
{
    if (yaml) {
        char why[200];
        json_t *doc = moat__yaml_to_json(data, len, why, sizeof(why));
        if (!doc) {
            bad_input(c, name, why);
            return 0;
        }
        int rc = store_json(c, doc, name);
        json_decref(doc);
        return rc;
    }
    json_error_t je;
    json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (doc) {
        int rc = store_json(c, doc, name);
        json_decref(doc);
        return rc;
    }
    /* NDJSON: one record per line, blank lines allowed */
    size_t line = 0, i = 0;
    bool any = false;
    while (i < len) {
        size_t j = i;
        while (j < len && data[j] != '\n')
            j++;
        line++;
        size_t a = i, b = j;
        while (a < b && (data[a] == ' ' || data[a] == '\t' || data[a] == '\r'))
            a++;
        while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\t' || data[b - 1] == '\r'))
            b--;
        if (b > a) {
            char *where = moat_xasprintf("%s:%zu", name, line);
            json_t *rec = json_loadb(data + a, b - a, JSON_REJECT_DUPLICATES, &je);
            int rc = 0;
            if (!rec) {
                char *why = moat_xasprintf("invalid JSON: %s", je.text);
                bad_input(c, where, why);
                free(why);
            } else {
                any = true;
                rc = moat__osv_store(c->db, rec, where, c->diag, c->st, c->err);
                json_decref(rec);
            }
            free(where);
            if (rc < 0) return rc;
        }
        i = j + 1;
    }
    (void)any;
    return 0;
}

static int import_zip(ctx *c, const char *path)
{
    int zerr = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY, &zerr);
    if (!z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        *c->err =
            moat_xasprintf("%s: not a readable zip archive: %s", path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return MOAT_EPARSE;
    }
    zip_int64_t n = zip_get_num_entries(z, 0);
    int rc = 0;
    for (zip_int64_t i = 0; i < n && rc == 0; i++) {
        zip_stat_t zs;
        if (zip_stat_index(z, (zip_uint64_t)i, 0, &zs) < 0 || !(zs.valid & ZIP_STAT_NAME)) continue;
        bool yaml = ends_with(zs.name, ".yaml") || ends_with(zs.name, ".yml");
        if (!yaml && !ends_with(zs.name, ".json")) continue;
        char *where = moat_xasprintf("%s:%s", path, zs.name);
        if (!(zs.valid & ZIP_STAT_SIZE) || zs.size > MAX_RECORD_BYTES) {
            bad_input(c, where, "entry too large");
            free(where);
            continue;
        }
        zip_file_t *f = zip_fopen_index(z, (zip_uint64_t)i, 0);
        char *buf = moat_xmalloc((size_t)zs.size + 1);
        zip_int64_t got = f ? zip_fread(f, buf, zs.size) : -1;
        if (f) zip_fclose(f);
        if (got < 0 || (zip_uint64_t)got != zs.size) {
            bad_input(c, where, "cannot read the entry");
        } else {
            buf[got] = 0;
            rc = import_text(c, where, buf, (size_t)got, yaml);
        }
        free(buf);
        free(where);
    }
    zip_close(z);
    return rc;
}

static int import_file(ctx *c, const char *path)
{
    char *data;
    size_t len;
    int rc = moat_read_file(path, &data, &len);
    if (rc < 0) {
        *c->err = moat_xasprintf("%s: cannot read: %s", path, strerror(errno));
        return rc;
    }
    if (len >= 4 && memcmp(data, "PK\x03\x04", 4) == 0) {
        free(data);
        return import_zip(c, path);
    }
    rc = import_text(c, path, data, len, ends_with(path, ".yaml") || ends_with(path, ".yml"));
    free(data);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int import_dir(ctx *c, const char *path, int depth)
{
    if (depth > MAX_DEPTH) {
        *c->err = moat_xasprintf("%s: folders nested too deep", path);
        return MOAT_ETOOBIG;
    }
    DIR *d = opendir(path);
    if (!d) {
        *c->err = moat_xasprintf("%s: cannot open: %s", path, strerror(errno));
        return MOAT_EIO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* ., .., .git, .github */
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            names = moat_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = moat_xstrdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof(*names), name_cmp);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *p = moat_xasprintf("%s/%s", path, names[i]);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rc = import_dir(c, p, depth + 1);
        else if (ends_with(p, ".json") || ends_with(p, ".yaml") || ends_with(p, ".yml"))
            rc = import_file(c, p);
        free(p);
    }
    moat_deps_strv_free(names, n);
    return rc;
}

static int exec(moat_osvdb *db, const char *sql, char **err)
{
    char *msg = NULL;
    if (sqlite3_exec(db->db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    if (err && !*err) *err = moat_xasprintf("%s: %s", db->path, msg ? msg : "database error");
    sqlite3_free(msg);
    return MOAT_EIO;
}

static int set_meta(moat_osvdb *db, const char *key, const char *value)
{
    sqlite3_stmt *q = NULL;
    int rc = MOAT_EIO;
    if (sqlite3_prepare_v2(db->db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_DONE) rc = 0;
    }
    sqlite3_finalize(q);
    return rc;
}

static int import_source(moat_osvdb *db, const char *path, const char *label, FILE *diag,
                         moat_osvdb_stats *st, char **err)
{
    memset(st, 0, sizeof(*st));
    *err = NULL;
    struct stat sb;
    if (stat(path, &sb) < 0) {
        *err = moat_xasprintf("%s: %s", path, strerror(errno));
        return MOAT_ENOENT;
    }
    if (exec(db, "BEGIN IMMEDIATE", err) < 0) return MOAT_EIO;
    ctx c = {db, diag, st, err};
    int rc = S_ISDIR(sb.st_mode) ? import_dir(&c, path, 0) : import_file(&c, path);
    if (rc == 0) {
        char now[32];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (set_meta(db, "imported_at", now) < 0 || set_meta(db, "source", label) < 0)
            rc = MOAT_EIO;
    }
    if (rc == 0) rc = exec(db, "COMMIT", err);
    if (rc < 0) {
        sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
        if (!*err) *err = moat_xasprintf("%s: %s", path, moat_strerror(rc));
    }
    return rc;
}

int moat_osvdb_import(moat_osvdb *db, const char *path, FILE *diag, moat_osvdb_stats *st,
                      char **err)
{
    return import_source(db, path, path, diag, st, err);
}

/* ---- update ---------------------------------------------------------------*/

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
    return fwrite(p, size, n, (FILE *)arg) * size;
}

/* libcurl is loaded when `moat db update` runs, not linked: it brings some
 * thirty shared libraries whose loading every other command (an audit
 * takes milliseconds) would pay for at start. */
typedef struct curl_api {
    void *lib;
    CURLcode (*global_init)(long);
    CURL *(*init)(void);
    CURLcode (*setopt)(CURL *, CURLoption, ...);
    CURLcode (*perform)(CURL *);
    void (*cleanup)(CURL *);
    const char *(*strerror)(CURLcode);
} curl_api;

static int load_curl(curl_api *c, char **err)
{
    memset(c, 0, sizeof(*c));
    c->lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!c->lib) {
        *err = moat_xasprintf("cannot load libcurl (libcurl.so.4): %s", dlerror());
        return MOAT_EIO;
    }
    *(void **)&c->global_init = dlsym(c->lib, "curl_global_init");
    *(void **)&c->init = dlsym(c->lib, "curl_easy_init");
    *(void **)&c->setopt = dlsym(c->lib, "curl_easy_setopt");
    *(void **)&c->perform = dlsym(c->lib, "curl_easy_perform");
    *(void **)&c->cleanup = dlsym(c->lib, "curl_easy_cleanup");
    *(void **)&c->strerror = dlsym(c->lib, "curl_easy_strerror");
    if (!c->global_init || !c->init || !c->setopt || !c->perform || !c->cleanup || !c->strerror) {
        *err = moat_xstrdup("libcurl.so.4 lacks the functions moat needs");
        dlclose(c->lib);
        return MOAT_EIO;
    }
    c->global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

int moat_osvdb_update(moat_osvdb *db, const char *url, FILE *diag, moat_osvdb_stats *st, char **err)
{
    memset(st, 0, sizeof(*st));
    *err = NULL;
    curl_api cu;
    if (load_curl(&cu, err) < 0) return MOAT_EIO;
    char *tmp = moat_xasprintf("%s.download-XXXXXX", db->path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        *err = moat_xasprintf("%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        dlclose(cu.lib);
        return MOAT_EIO;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
        free(tmp);
        dlclose(cu.lib);
        *err = moat_xstrdup("cannot open the download file");
        return MOAT_EIO;
    }
    int rc = 0;
    char cerr[CURL_ERROR_SIZE] = {0};
    CURL *h = cu.init();
    if (!h) {
        rc = MOAT_EIO;
        *err = moat_xstrdup("libcurl failed to start");
    } else {
        cu.setopt(h, CURLOPT_URL, url);
        cu.setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
        cu.setopt(h, CURLOPT_WRITEDATA, f);
        cu.setopt(h, CURLOPT_ERRORBUFFER, cerr);
        cu.setopt(h, CURLOPT_FAILONERROR, 1L);
        cu.setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        cu.setopt(h, CURLOPT_MAXREDIRS, 5L);
        cu.setopt(h, CURLOPT_PROTOCOLS_STR, "https,http,file");
        cu.setopt(h, CURLOPT_CONNECTTIMEOUT, 20L);
        cu.setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        cu.setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
        cu.setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)1 << 31);
        cu.setopt(h, CURLOPT_USERAGENT, "moat/" MOAT_VERSION);
        CURLcode cc = cu.perform(h);
        if (cc != CURLE_OK) {
            rc = MOAT_EIO;
            *err = moat_xasprintf(
                "cannot download %s: %s (no network? 'moat db import FILE' reads a copy "
                "downloaded elsewhere)",
                url, cerr[0] ? cerr : cu.strerror(cc));
        }
        cu.cleanup(h);
    }
    if (fclose(f) != 0 && rc == 0) {
        rc = MOAT_EIO;
        *err = moat_xasprintf("%s: write failed", tmp);
    }
    if (rc == 0) rc = import_source(db, tmp, url, diag, st, err);
    unlink(tmp);
    free(tmp);
    dlclose(cu.lib);
    return rc;
}
