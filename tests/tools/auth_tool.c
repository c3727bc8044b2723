/* auth_tool.c - drives the auth module for the integration tests, with the
 * password always on the first line of stdin:
 *   auth_tool verify HASH              exit 0 match, 1 mismatch, 2 malformed;
 *                                      prints "rehash" when it needs one
 *   auth_tool hash [M_KIB T P]         prints a fresh Argon2id PHC string
 *   auth_tool totp BASE32 UNIXTIME     prints the TOTP code (SHA-1, 30 s, 6 digits)
 *   auth_tool login CONFIG NAME [CODE] [ADDR]
 *                                      the gateway's login decision against the
 *                                      configured store; prints "status reason
 *                                      mfa=0|1 rehashed=0|1"; exit 0 when OK
 *   auth_tool bench N THREADS [M_KIB T P]
 *                                      N verifications of an Argon2id hash (default
 *                                      parameters) on THREADS threads; prints the rate */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "config/config.h"
#include "store/store.h"

static char *read_password(size_t *n)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, stdin);
    if (len < 0) {
        free(line);
        line = moat_xstrdup("");
        len = 0;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    *n = (size_t)len;
    return line;
}

static uint32_t num(const char *s)
{
    uint64_t v = 0;
    if (moat_parse_u64(s, strlen(s), &v) < 0 || v > UINT32_MAX) {
        fprintf(stderr, "auth_tool: bad number '%s'\n", s);
        exit(2);
    }
    return (uint32_t)v;
}

typedef struct bench_job {
    const char *hash;
    unsigned n;
    int fails;
} bench_job;

static void *bench_thread(void *arg)
{
    bench_job *j = arg;
    for (unsigned i = 0; i < j->n; i++)
        if (moat_password_verify(j->hash, "correct horse battery", 21) != 0) j->fails++;
    return NULL;
}

static int bench(unsigned n, unsigned threads, moat_argon2_params p)
{
    char *h = NULL;
    if (threads < 1 || threads > 64 || moat_password_hash(&p, "correct horse battery", 21, &h) < 0)
        return 2;
    pthread_t tid[64];
    bench_job jobs[64];
    uint64_t t0 = moat_now_ms();
    for (unsigned t = 0; t < threads; t++) {
        jobs[t] = (bench_job){h, n / threads + (t < n % threads), 0};
        pthread_create(&tid[t], NULL, bench_thread, &jobs[t]);
    }
    int fails = 0;
    for (unsigned t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        fails += jobs[t].fails;
    }
    uint64_t ms = moat_now_ms() - t0;
    printf("argon2id m=%u t=%u p=%u: %u verifications on %u threads in %llu ms: %.1f/s, "
           "%.1f ms each\n",
           p.m_kib, p.t, p.p, n, threads, (unsigned long long)ms, ms ? n * 1000.0 / (double)ms : 0,
           (double)ms * threads / n);
    free(h);
    return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
    if ((argc == 4 || argc == 7) && strcmp(argv[1], "bench") == 0) {
        moat_argon2_params p = MOAT_ARGON2_DEFAULTS;
        if (argc == 7) p = (moat_argon2_params){num(argv[4]), num(argv[5]), num(argv[6])};
        return bench(num(argv[2]), num(argv[3]), p);
    }
    if (argc >= 3 && strcmp(argv[1], "verify") == 0) {
        size_t n;
        char *pw = read_password(&n);
        int rc = moat_password_verify(argv[2], pw, n);
        free(pw);
        moat_argon2_params def = MOAT_ARGON2_DEFAULTS;
        if (rc == 0 && moat_password_needs_rehash(argv[2], &def)) puts("rehash");
        puts(rc == 0 ? "match" : rc == MOAT_ENOENT ? "mismatch" : "invalid");
        return rc == 0 ? 0 : rc == MOAT_ENOENT ? 1 : 2;
    }
    if (argc >= 2 && strcmp(argv[1], "hash") == 0) {
        moat_argon2_params p = MOAT_ARGON2_DEFAULTS;
        if (argc == 5) p = (moat_argon2_params){num(argv[2]), num(argv[3]), num(argv[4])};
        size_t n;
        char *pw = read_password(&n), *h = NULL;
        int rc = moat_password_hash(&p, pw, n, &h);
        free(pw);
        if (rc < 0) return 2;
        puts(h);
        free(h);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "totp") == 0) {
        uint8_t key[128];
        int n = moat_base32_decode(argv[2], strlen(argv[2]), key, sizeof(key));
        if (n <= 0) return 2;
        moat_totp_params p = MOAT_TOTP_DEFAULTS;
        char code[9];
        uint64_t t = 0;
        if (moat_parse_u64(argv[3], strlen(argv[3]), &t) < 0) return 2;
        moat_totp_code(&p, key, (size_t)n, t / p.period, code);
        puts(code);
        return 0;
    }
    if (argc >= 4 && argc <= 6 && strcmp(argv[1], "login") == 0) {
        moat_config_source src = {.path = argv[2]};
        moat_config *cfg = NULL;
        char *err = NULL;
        if (moat_config_load(&src, &cfg, &err) < 0) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
        moat_store *s = NULL;
        if (moat_store_open_roles(moat_config_store_users(cfg), moat_config_store_state(cfg), &s,
                                  &err) < 0) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
        moat_auth_settings st;
        moat_auth_settings_from_config(cfg, &st);
        size_t n;
        char *pw = read_password(&n);
        const char *code = argc >= 5 ? argv[4] : NULL;
        moat_login_result r;
        int rc = moat_auth_login(s, &st, argv[3], pw, n, code, code ? strlen(code) : 0,
                                 argc == 6 ? argv[5] : NULL, (int64_t)time(NULL), &r);
        free(pw);
        static const char *const names[] = {"ok", "bad", "locked", "throttled"};
        if (rc == 0)
            printf("%s %s mfa=%d rehashed=%d\n", names[r.status], r.reason ? r.reason : "-", r.mfa,
                   r.rehashed);
        moat_store_close(s);
        moat_config_free(cfg);
        return rc < 0 ? 2 : r.status == MOAT_LOGIN_OK ? 0 : 1;
    }
    fputs("usage: auth_tool verify HASH | hash [M T P] | totp BASE32 TIME | "
          "login CONFIG NAME [CODE] [ADDR]  (password on stdin)\n",
          stderr);
    return 2;
}
