/* fuzz_osv.c - libFuzzer target for OSV records: the input is imported (as
 * JSON, NDJSON or, with a leading '#', YAML) into an in-memory advisory
 * store, and every package it stored is then queried at a few versions, so
 * the record checks, the range evaluation and the alias merging all run on
 * it. Seeds in tests/fuzz/corpus/osv/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/deps/deps_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static moat_osvdb *db;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *err = NULL;
    if (!db && moat_osvdb_open(":memory:", true, &db, &err) < 0) abort();
    sqlite3_exec(db->db, "DELETE FROM versions; DELETE FROM affected; DELETE FROM vulns;", NULL,
                 NULL, NULL);
    moat_osvdb_stats st = {0};
    const char *text = (const char *)data;
    if (size && text[0] == '#') {
        char why[128];
        json_t *doc = moat__yaml_to_json(text, size, why, sizeof(why));
        if (doc) {
            moat__osv_store(db, doc, "fuzz", NULL, &st, &err);
            json_decref(doc);
        }
    } else {
        json_t *doc = json_loadb(text, size, 0, NULL);
        if (doc) {
            moat__osv_store(db, doc, "fuzz", NULL, &st, &err);
            json_decref(doc);
        }
    }
    free(err);
    MOAT_BUG_ON(st.records > 1 || st.stored + st.skipped + st.other != st.records);
    sqlite3_stmt *q = NULL;
    sqlite3_prepare_v2(db->db, "SELECT DISTINCT package FROM affected LIMIT 4", -1, &q, NULL);
    static const char *const vers[] = {"0", "1.0", "1.0rc1", "2!1.0.post1+local", "9999999"};
    while (q && sqlite3_step(q) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(q, 0);
        for (size_t i = 0; i < MOAT_ARRAY_LEN(vers); i++) {
            moat_pep440 *v = NULL;
            moat_pep440_parse(vers[i], strlen(vers[i]), &v);
            moat_vuln *out = NULL;
            size_t n = 0;
            moat_osvdb_query(db, name, v, vers[i], &out, &n);
            moat_vulns_free(out, n);
            moat_pep440_free(v);
        }
        char **known = NULL;
        size_t nk = 0;
        moat_osvdb_known_versions(db, name, &known, &nk);
        moat_deps_strv_free(known, nk);
    }
    sqlite3_finalize(q);
    return 0;
}
