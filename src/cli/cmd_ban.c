/* cmd_ban.c - `moat ban list | remove ADDRESS`: the bans in force in the
 * state store ([limits] ban_strikes, docs/limits.md), read and lifted from
 * the command line. A running gateway sees a removal within its refresh
 * bound (two seconds); nothing here signals it. Never creates a store. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "cmd.h"
#include "config/config.h"
#include "core.h"
#include "store/store.h"

static const char usage_ban[] =
    "usage: moat ban list [--config FILE]\n"
    "       moat ban remove ADDRESS [--config FILE]\n"
    "\n"
    "The client addresses banned for bad behaviour ([limits] ban_strikes): every\n"
    "instance sharing the state store refuses them until the ban ends.\n"
    "\n"
    "list    the bans in force: address, end (UTC) and the refusal that banned it\n"
    "remove  lifts the ban of ADDRESS (running gateways see it within 2 seconds);\n"
    "        exit status 1 if it was not banned\n"
    "\n"
    "  -c, --config FILE  moat.toml, or pyproject.toml with [tool.moat] ([store] url)\n"
    "  -h, --help         this help\n";

static moat_arena *out_arena;

/* s escaped for the terminal (store contents and arguments come from
 * clients and users). */
static const char *T(const char *s)
{
    if (!out_arena) out_arena = moat_arena_new();
    return moat_term_str(out_arena, s);
}

/* The address as the gateway writes it (inet_ntop's form), or false. */
static bool canonical(const char *in, char *out, size_t cap)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, in, a) == 1) return inet_ntop(AF_INET, a, out, (socklen_t)cap) != NULL;
    if (inet_pton(AF_INET6, in, a) == 1) return inet_ntop(AF_INET6, a, out, (socklen_t)cap) != NULL;
    return false;
}

static int open_store(const char *config, moat_config **cfg, moat_store **st)
{
    moat_config_source src = {.path = config};
    char *err = NULL;
    if (moat_config_load(&src, cfg, &err) < 0) {
        fprintf(stderr, "moat ban: %s\n", err);
        free(err);
        return 2;
    }
    const char *url = moat_config_store_users(*cfg);
    struct stat sb;
    if (strncmp(url, "sqlite:", 7) == 0 && lstat(url + 7, &sb) < 0 && errno == ENOENT) {
        fprintf(stderr, "moat ban: the store %s does not exist: check [store] url and --config\n",
                T(url + 7));
        moat_config_free(*cfg);
        return 1;
    }
    if (moat_store_open_roles(url, moat_config_store_state(*cfg), st, &err) < 0) {
        fprintf(stderr, "moat ban: store: %s\n", err ? err : "cannot open");
        free(err);
        moat_config_free(*cfg);
        return 1;
    }
    return 0;
}

static int ban_list(moat_store *st)
{
    moat_ban *b = NULL;
    size_t n = 0;
    int rc = moat_store_ban_list(st, (int64_t)time(NULL), &b, &n);
    if (rc < 0) {
        fprintf(stderr, "moat ban list: %s\n", moat_strerror(rc));
        return 1;
    }
    if (n == 0) printf("no bans in force\n");
    for (size_t i = 0; i < n; i++) {
        char when[32];
        time_t t = (time_t)b[i].until;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%-40s until %s  %s\n", T(b[i].addr), when, T(b[i].why));
    }
    free(b);
    return 0;
}

static int ban_remove(moat_store *st, const char *addr)
{
    int rc = moat_store_ban_remove(st, addr);
    if (rc == MOAT_ENOENT) {
        fprintf(stderr, "moat ban remove: %s is not banned\n", addr);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "moat ban remove: %s\n", moat_strerror(rc));
        return 1;
    }
    printf("ban of %s lifted\n", addr);
    return 0;
}

int moat_cmd_ban(int argc, char **argv)
{
    static const char *const subs[] = {"list", "remove", NULL};
    const char *sub, *config;
    int front = moat_cli_sub_config(argc, argv, "ban", usage_ban, subs, &sub, &config);
    if (front >= 0) return front;
    bool list = strcmp(sub, "list") == 0;
    int nargs = argc - optind;
    char addr[64];
    if (list ? nargs != 0 : nargs != 1) {
        fprintf(stderr, "moat ban %s: %s\n%s", sub, list ? "takes no address" : "give one address",
                usage_ban);
        return 2;
    }
    if (!list && !canonical(argv[optind], addr, sizeof(addr))) {
        fprintf(stderr, "moat ban remove: '%s' is not an IPv4 or IPv6 address\n", T(argv[optind]));
        return 2;
    }
    moat_config *cfg = NULL;
    moat_store *st = NULL;
    int rc = open_store(config, &cfg, &st);
    if (rc) return rc;
    rc = list ? ban_list(st) : ban_remove(st, addr);
    moat_store_close(st);
    moat_config_free(cfg);
    moat_arena_free(out_arena);
    out_arena = NULL;
    return rc;
}
