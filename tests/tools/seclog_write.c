/* seclog_write.c - writes security log entries through the real seclog
 * module, for the integration tests (logs to tamper with, rotation, SIGHUP
 * reopen, redaction) and the benchmark (events/s with the chain). It opens
 * the log from a moat config, records events, and closes it (flushing).
 *
 *   seclog_write CONFIG [--count N] [--id PREFIX] [--secrets] [--bench]
 *                [--batch N] [--threads T] [--hup-wait]
 *
 * --secrets records events whose fields, reasons and paths carry secrets (the
 * redaction test checks none reaches the file); --bench prints events/s;
 * --batch N waits for the writer every N events (default with --bench: 4096;
 * 1 = each event written, and synced with flush = "fsync", on its own);
 * --hup-wait records half the events, waits for SIGHUP (prints "waiting"),
 * reopens the log, then records the rest. */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "core.h"
#include "seclog/seclog.h"

typedef struct job {
    moat_seclog *log;
    uint64_t count, first;
    const char *prefix;
    uint64_t batch; /* wait for the writer every this many events (0 = never) */
} job;

static void record_one(moat_seclog *log, const char *prefix, uint64_t i)
{
    static const struct {
        const char *event, *stage, *key, *reason;
        int status;
        moat_seclog_severity sev;
    } kinds[] = {
        {"http.rejected", "limits", NULL, "both Content-Length and Transfer-Encoding", 400,
         MOAT_SECLOG_WARNING},
        {"host.denied", "hosts", "hosts", "Host 'evil.example' is not in the allow-list", 421,
         MOAT_SECLOG_WARNING},
        {"path.denied", "paths", "paths.deny", "the path matches the deny pattern '.git'", 404,
         MOAT_SECLOG_WARNING},
        {"http.rejected", "limits", "limits.body_bytes", "the body is larger than the limit", 413,
         MOAT_SECLOG_WARNING},
        {"auth.login.failure", "auth", "auth.lockout", "wrong password", 401, MOAT_SECLOG_WARNING},
        {"upstream.error", "proxy", "upstream", "connection refused", 502, MOAT_SECLOG_ERROR},
    };
    size_t k = i % MOAT_ARRAY_LEN(kinds);
    char id[64], n[32];
    snprintf(id, sizeof(id), "%s%06" PRIu64, prefix, i);
    snprintf(n, sizeof(n), "%" PRIu64, i);
    moat_seclog_field fields[] = {{"rule", "demo"}, {"n", n}};
    moat_seclog_event ev = {
        .event = kinds[k].event,
        .severity = kinds[k].sev,
        .request_id = id,
        .client = "127.0.0.1",
        .method = k % 2 ? "GET" : "POST",
        .path = "/some/path?q=1&password=hunter2",
        .reason = kinds[k].reason,
        .stage = kinds[k].stage,
        .config_key = kinds[k].key,
        .status = kinds[k].status,
        .fields = fields,
        .nfields = MOAT_ARRAY_LEN(fields),
    };
    moat_seclog_record(log, &ev);
}

static void record_secrets(moat_seclog *log)
{
    /* Each carries a secret; the test greps the log for every one of them. */
    static const moat_seclog_field fields[] = {
        {"password", "S3cret-pw-1"},
        {"Authorization", "Bearer S3cret-tok-2abcdefgh"},
        {"Cookie", "sessionid=S3cret-sid-3"},
        {"Set-Cookie", "csrftoken=S3cret-csrf-4; Path=/"},
        {"totp_code", "493021"},
        {"api_key", "S3cret-key-5"},
        {"note", "user typed password=S3cret-pw-6 in the box"},
        {"header", "Authorization: Basic dXNlcjpTM2NyZXQtcHctNw=="},
        {"jwt_seen", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJTM2NyZXQtand0LTgifQ.c2lnbmF0dXJlOQ"},
        {"card", "4111 1111 1111 1111"},
    };
    moat_seclog_event ev = {
        .event = "auth.login.failure",
        .severity = MOAT_SECLOG_WARNING,
        .request_id = "secret-test-1",
        .client = "127.0.0.1",
        .user = "alice",
        .method = "POST",
        .path = "/login?next=/&token=S3cret-tok-10&session_id=S3cret-sid-11",
        .reason = "login failed; form had password=S3cret-pw-12&otp=123456",
        .stage = "auth",
        .status = 401,
        .fields = fields,
        .nfields = MOAT_ARRAY_LEN(fields),
    };
    moat_seclog_record(log, &ev);
}

static void *run_job(void *arg)
{
    job *j = arg;
    for (uint64_t i = 0; i < j->count; i++) {
        record_one(j->log, j->prefix, j->first + i);
        /* The benchmark measures the writer, not the queue's drop path. */
        if (j->batch && (i + 1) % j->batch == 0) moat_seclog_flush(j->log);
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: seclog_write CONFIG [--count N] [--id PREFIX] [--secrets] [--bench] "
              "[--threads T] [--hup-wait]\n",
              stderr);
        return 2;
    }
    uint64_t count = 10, threads = 1, batch = 4096;
    bool batch_given = false;
    const char *prefix = "req-";
    bool secrets = false, bench = false, hup_wait = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            if (moat_parse_u64(argv[i + 1], strlen(argv[i + 1]), &count) < 0) return 2;
            i++;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (moat_parse_u64(argv[i + 1], strlen(argv[i + 1]), &threads) < 0 || !threads ||
                threads > 64)
                return 2;
            i++;
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            if (moat_parse_u64(argv[i + 1], strlen(argv[i + 1]), &batch) < 0) return 2;
            batch_given = true;
            i++;
        } else if (strcmp(argv[i], "--id") == 0 && i + 1 < argc) {
            prefix = argv[++i];
        } else if (strcmp(argv[i], "--secrets") == 0) {
            secrets = true;
        } else if (strcmp(argv[i], "--bench") == 0) {
            bench = true;
        } else if (strcmp(argv[i], "--hup-wait") == 0) {
            hup_wait = true;
        } else {
            fprintf(stderr, "seclog_write: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    if (hup_wait) pthread_sigmask(SIG_BLOCK, &hup, NULL);

    moat_config_source src = {.path = argv[1]};
    moat_config *cfg = NULL;
    char *err = NULL;
    if (moat_config_load(&src, &cfg, &err) < 0) {
        fprintf(stderr, "seclog_write: %s\n", err);
        free(err);
        return 2;
    }
    moat_seclog *log = NULL;
    if (moat_seclog_open(cfg, &log, &err) < 0) {
        fprintf(stderr, "seclog_write: %s\n", err);
        free(err);
        moat_config_free(cfg);
        return 1;
    }
    double t0 = now_s();
    if (secrets) record_secrets(log);
    if (hup_wait) {
        for (uint64_t i = 0; i < count / 2; i++)
            record_one(log, prefix, i);
        moat_seclog_flush(log);
        printf("waiting\n");
        fflush(stdout);
        int sig;
        sigwait(&hup, &sig);
        moat_seclog_reopen(log);
        for (uint64_t i = count / 2; i < count; i++)
            record_one(log, prefix, i);
    } else {
        pthread_t tids[64];
        job jobs[64];
        uint64_t per = count / threads;
        for (uint64_t t = 0; t < threads; t++) {
            jobs[t] = (job){log, t + 1 == threads ? count - per * t : per, per * t, prefix,
                            bench || batch_given ? batch : 0};
            pthread_create(&tids[t], NULL, run_job, &jobs[t]);
        }
        for (uint64_t t = 0; t < threads; t++)
            pthread_join(tids[t], NULL);
    }
    moat_seclog_flush(log);
    moat_seclog_stats st;
    moat_seclog_get_stats(log, &st);
    moat_seclog_close(log);
    double dt = now_s() - t0;
    fprintf(stderr,
            "seclog_write: recorded %" PRIu64 ", written %" PRIu64 ", dropped %" PRIu64
            ", epoch %" PRIu64 "\n",
            st.recorded, st.written, st.dropped, st.epoch);
    if (bench)
        printf("%" PRIu64 " events in %.3f s: %.0f events/s (dropped %" PRIu64 ")\n", count, dt,
               (double)count / dt, st.dropped);
    moat_config_free(cfg);
    return 0;
}
