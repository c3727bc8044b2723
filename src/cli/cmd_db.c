/* cmd_db.c - `moat db import | update | info`: the local OSV advisory
 * database that `moat audit deps` reads. Argument handling and printing
 * only; reading records and the store are src/audit/deps. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/deps/deps.h"
#include "cmd.h"
#include "core.h"

static const char usage_db[] =
    "usage: moat db import FILE|DIR... [--db PATH]\n"
    "       moat db update [--db PATH] [--url URL]\n"
    "       moat db info [--db PATH]\n"
    "\n"
    "import  reads OSV records: JSON files, NDJSON, the OSV zip export, or a folder such\n"
    "        as the PyPA advisory-database tree (YAML); malformed records are reported\n"
    "        (file:line) and skipped; exit status 1 if any were skipped\n"
    "update  downloads the OSV PyPI export and imports it (needs the network)\n"
    "info    shows the database's size and how old its newest advisory is\n"
    "\n"
    "  -d, --db PATH   the database (default: $XDG_CACHE_HOME/moat/osv.db or\n"
    "                  ~/.cache/moat/osv.db)\n"
    "  -u, --url URL   update: where to download from (default: the OSV PyPI export)\n"
    "  -q, --quiet     import/update: no per-record messages\n"
    "  -h, --help      this help\n";

static void print_stats(const char *what, const moat_osvdb_stats *st)
{
    printf("%s: %zu records read, %zu stored (%zu withdrawn), %zu skipped as malformed, "
           "%zu without a PyPI package, %zu version strings that are not PEP 440\n",
           what, st->records, st->stored, st->withdrawn, st->skipped, st->other, st->bad_versions);
}

int moat_cmd_db(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_db, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "import") != 0 && strcmp(sub, "update") != 0 && strcmp(sub, "info") != 0) {
        fprintf(stderr, "moat db: unknown command '%s'\n%s", sub, usage_db);
        return 2;
    }
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"url", required_argument, NULL, 'u'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dbpath = NULL, *url = MOAT_OSV_PYPI_URL;
    bool quiet = false;
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "d:u:qh", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            dbpath = optarg;
            break;
        case 'u':
            url = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs(usage_db, stdout);
            return 0;
        default:
            fputs(usage_db, stderr);
            return 2;
        }
    }
    bool import = strcmp(sub, "import") == 0;
    if (import && optind >= argc) {
        fprintf(stderr, "moat db import: name a file or folder of OSV records\n");
        return 2;
    }
    if (!import && optind < argc) {
        fprintf(stderr, "moat db %s: unexpected argument '%s'\n", sub, argv[optind]);
        return 2;
    }
    char *defpath = dbpath ? NULL : moat_osvdb_default_path();
    if (!dbpath) dbpath = defpath;
    moat_osvdb *db = NULL;
    char *err = NULL;
    int status = 0;
    if (moat_osvdb_open(dbpath, strcmp(sub, "info") != 0, &db, &err) < 0) {
        fprintf(stderr, "moat db %s: %s\n", sub, err);
        free(err);
        free(defpath);
        return 2;
    }
    FILE *diag = quiet ? NULL : stderr;
    if (import) {
        for (int i = optind; i < argc && status != 2; i++) {
            moat_osvdb_stats st;
            uint64_t t0 = moat_now_ms();
            if (moat_osvdb_import(db, argv[i], diag, &st, &err) < 0) {
                fprintf(stderr, "moat db import: %s (nothing imported from it)\n", err);
                free(err);
                err = NULL;
                status = 2;
                break;
            }
            uint64_t ms = moat_now_ms() - t0;
            print_stats(argv[i], &st);
            printf("%s: %llu ms (%.0f records/s) into %s\n", argv[i], (unsigned long long)ms,
                   ms ? (double)st.records * 1000.0 / (double)ms : (double)st.records, dbpath);
            if (st.skipped) status = 1;
            if (st.records == 0) {
                fprintf(stderr,
                        "moat db import: %s: no OSV records found (.json, .yaml, NDJSON "
                        "or an OSV zip export)\n",
                        argv[i]);
                status = 1;
            }
        }
    } else if (strcmp(sub, "update") == 0) {
        moat_osvdb_stats st;
        if (moat_osvdb_update(db, url, diag, &st, &err) < 0) {
            fprintf(stderr, "moat db update: %s\n", err);
            free(err);
            status = 2;
        } else {
            print_stats(url, &st);
        }
    } else {
        moat_osvdb_info info;
        if (moat_osvdb_info_get(db, false, &info) < 0) {
            fprintf(stderr, "moat db info: %s: cannot read the database\n", dbpath);
            moat_osvdb_info_clear(&info);
            status = 2;
        } else {
            printf("database:        %s\n", dbpath);
            printf("advisories:      %lld (%lld withdrawn)\n", info.vulns, info.withdrawn);
            printf("packages:        %lld\n", info.packages);
            printf("aliases:         %lld\n", info.aliases);
            /* stored text from the imported files: shown escaped */
            moat_arena *a = moat_arena_new();
            printf("last import:     %s\n",
                   info.imported_at ? moat_term_str(a, info.imported_at) : "never");
            printf("imported from:   %s\n", info.source ? moat_term_str(a, info.source) : "-");
            printf("newest advisory: %s",
                   info.newest_modified ? moat_term_str(a, info.newest_modified) : "-");
            moat_arena_free(a);
            if (info.age_days >= 0) printf(" (%lld days ago)", info.age_days);
            putchar('\n');
            if (info.age_days > MOAT_OSV_STALE_DAYS)
                fprintf(stderr,
                        "moat db info: warning: the newest advisory is %lld days old; run "
                        "'moat db update' (or import a newer export)\n",
                        info.age_days);
            moat_osvdb_info_clear(&info);
        }
    }
    moat_osvdb_close(db);
    free(defpath);
    return status;
}
