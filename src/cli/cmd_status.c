/* cmd_status.c - `moat status`: whether the `moat serve` named by the pid
 * file runs, for how long, on which listeners, and how its last reload
 * ended. Everything comes from the two files the server keeps (pid_file and
 * FILE.status, src/gateway/control.c); nothing is sent to the process. The
 * exit status follows the LSB init-script convention for "status", which
 * monitoring and init scripts expect: 0 running, 1 not running but the pid
 * file remains (a crash), 3 not running, 4 unknown. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "config/config.h"
#include "core.h"

enum { ST_RUNNING = 0, ST_DEAD = 1, ST_USAGE = 2, ST_STOPPED = 3, ST_UNKNOWN = 4 };

static const char usage_status[] =
    "usage: moat status [--config FILE] [--pid-file FILE] [--format text|json]\n"
    "\n"
    "Says whether the 'moat serve' named by the pid file runs: its process id,\n"
    "uptime and listeners, and the outcome of its last reload. It reads the pid\n"
    "file and the status file the server keeps beside it (FILE.status); it sends\n"
    "nothing to the process.\n"
    "\n"
    "Exit status (as for an init script's status): 0 running, 1 not running but\n"
    "the pid file remains (moat did not stop cleanly), 3 not running, 4 unknown\n"
    "(no pid file configured, or a file that cannot be read), 2 usage error.\n"
    "\n"
    "  -c, --config FILE     the configuration that names pid_file\n"
    "  -p, --pid-file FILE   the pid file (default: pid_file of the configuration)\n"
    "  -f, --format FORMAT   text (default) or json\n"
    "  -h, --help            this help\n";

typedef struct {
    const char *pid_file;
    bool json;
    int rc;
    uint64_t pid;
    char *why; /* not running / unknown: the reason */
    /* from the status file */
    uint64_t attempts, at, started;
    bool last_ok;
    char *message;
    char *listen[32];
    size_t nlisten;
} status;

/* The whole file (owned), or NULL with the open's errno in *err. */
static char *read_all(const char *path, int *err)
{
    char *text;
    size_t len;
    if (moat_read_file(path, &text, &len) == 0) return text;
    *err = errno;
    return NULL;
}

static bool parse_u64(const char *s, uint64_t *v)
{
    return moat_parse_u64(s, strlen(s), v) == 0;
}

/* The status file: "N ok|failed MESSAGE", then "key value" lines. False
 * when it is not what moat writes. */
static bool parse_status(char *text, status *st, uint64_t *pid)
{
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    if (!line) return false;
    char *sp = strchr(line, ' ');
    if (!sp) return false;
    *sp = '\0';
    if (!parse_u64(line, &st->attempts)) return false;
    char *word = sp + 1;
    char *msg = strchr(word, ' ');
    if (msg) *msg++ = '\0';
    if (strcmp(word, "ok") == 0)
        st->last_ok = true;
    else if (strcmp(word, "failed") == 0)
        st->last_ok = false;
    else
        return false;
    st->message = moat_xstrdup(msg ? msg : "");
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        char *v = strchr(line, ' ');
        if (!v) continue;
        *v++ = '\0';
        if (strcmp(line, "pid") == 0)
            parse_u64(v, pid);
        else if (strcmp(line, "started") == 0)
            parse_u64(v, &st->started);
        else if (strcmp(line, "at") == 0)
            parse_u64(v, &st->at);
        else if (strcmp(line, "listen") == 0 && st->nlisten < 32)
            st->listen[st->nlisten++] = moat_xstrdup(v);
    }
    return true;
}

static void iso_time(char *buf, size_t n, uint64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void human_duration(moat_buf *b, uint64_t s)
{
    uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    if (d) moat_buf_printf(b, "%llud ", (unsigned long long)d);
    if (d || h) moat_buf_printf(b, "%lluh ", (unsigned long long)h);
    if (d || h || m) moat_buf_printf(b, "%llum ", (unsigned long long)m);
    moat_buf_printf(b, "%llus", (unsigned long long)sec);
}

static void find_out(status *st)
{
    char *text;
    int err = 0;
    text = read_all(st->pid_file, &err);
    if (!text) {
        if (err == ENOENT) {
            st->rc = ST_STOPPED;
            st->why = moat_xasprintf("no pid file '%s'", st->pid_file);
        } else {
            st->rc = ST_UNKNOWN;
            st->why =
                moat_xasprintf("cannot read the pid file '%s': %s", st->pid_file, strerror(err));
        }
        return;
    }
    text[strcspn(text, "\r\n")] = '\0';
    bool ok = parse_u64(text, &st->pid) && st->pid >= 2 && st->pid <= 0x7fffffff;
    free(text);
    if (!ok) {
        st->pid = 0;
        st->rc = ST_UNKNOWN;
        st->why = moat_xasprintf("the pid file '%s' holds no process id", st->pid_file);
        return;
    }
    if (kill((pid_t)st->pid, 0) < 0 && errno == ESRCH) {
        st->rc = ST_DEAD;
        st->why = moat_xasprintf("process %llu is gone, but its pid file '%s' remains (moat did "
                                 "not stop cleanly)",
                                 (unsigned long long)st->pid, st->pid_file);
        return;
    }
    char *status_path = moat_xasprintf("%s.status", st->pid_file);
    text = read_all(status_path, &err);
    uint64_t spid = 0;
    if (!text) {
        st->rc = ST_UNKNOWN;
        st->why = moat_xasprintf("process %llu runs, but '%s' cannot be read: %s (run as root or "
                                 "as moat's user)",
                                 (unsigned long long)st->pid, status_path, strerror(err));
    } else if (!parse_status(text, st, &spid)) {
        st->rc = ST_UNKNOWN;
        st->why = moat_xasprintf("process %llu runs, but '%s' is not moat's status file",
                                 (unsigned long long)st->pid, status_path);
    } else if (spid && spid != st->pid) {
        /* the process in the pid file is not the one that wrote the status:
         * moat died and the number went to another process */
        st->rc = ST_DEAD;
        st->why = moat_xasprintf("process %llu is not the moat that wrote '%s' (moat did not stop "
                                 "cleanly; the pid file is stale)",
                                 (unsigned long long)st->pid, status_path);
    } else {
        st->rc = ST_RUNNING;
    }
    free(text);
    free(status_path);
}

static void print_text(const status *st, FILE *out)
{
    moat_buf b;
    moat_buf_init(&b);
    if (st->rc != ST_RUNNING) {
        moat_buf_printf(
            &b, "moat is %s: ", st->rc == ST_UNKNOWN ? "in an unknown state" : "not running");
        moat_term_escape(&b, st->why, strlen(st->why), MOAT_TERM_TEXT);
        moat_buf_putc(&b, '\n');
        fputs(b.data, out);
        moat_buf_free(&b);
        return;
    }
    uint64_t now = (uint64_t)time(NULL);
    char when[32];
    iso_time(when, sizeof(when), st->started);
    moat_buf_printf(&b, "moat is running (process %llu, up ", (unsigned long long)st->pid);
    human_duration(&b, now > st->started ? now - st->started : 0);
    moat_buf_printf(&b, " since %s)\n", when);
    for (size_t i = 0; i < st->nlisten; i++) {
        moat_buf_puts(&b, "  listening on ");
        moat_term_escape(&b, st->listen[i], strlen(st->listen[i]), MOAT_TERM_TEXT);
        moat_buf_putc(&b, '\n');
    }
    if (st->attempts == 0) {
        moat_buf_puts(&b, "  last reload: none since start\n");
    } else {
        iso_time(when, sizeof(when), st->at);
        moat_buf_printf(&b, "  last reload: %s at %s (%llu since start): ",
                        st->last_ok ? "ok" : "FAILED, the previous configuration kept", when,
                        (unsigned long long)st->attempts);
        moat_term_escape(&b, st->message, strlen(st->message), MOAT_TERM_TEXT);
        moat_buf_putc(&b, '\n');
    }
    fputs(b.data, out);
    moat_buf_free(&b);
}

static void print_json(const status *st, FILE *out)
{
    moat_buf b;
    moat_buf_init(&b);
    static const char *const states[] = {"running", "dead", "", "stopped", "unknown"};
    moat_buf_printf(&b, "{\"running\":%s,\"state\":\"%s\",\"pid_file\":",
                    st->rc == ST_RUNNING ? "true" : "false", states[st->rc]);
    moat_buf_put_json_string(&b, st->pid_file, strlen(st->pid_file));
    if (st->pid) moat_buf_printf(&b, ",\"pid\":%llu", (unsigned long long)st->pid);
    if (st->rc != ST_RUNNING) {
        moat_buf_puts(&b, ",\"reason\":");
        moat_buf_put_json_string(&b, st->why, strlen(st->why));
    } else {
        char when[32];
        uint64_t now = (uint64_t)time(NULL);
        iso_time(when, sizeof(when), st->started);
        moat_buf_printf(&b, ",\"started\":\"%s\",\"uptime_seconds\":%llu,\"listen\":[", when,
                        (unsigned long long)(now > st->started ? now - st->started : 0));
        for (size_t i = 0; i < st->nlisten; i++) {
            if (i) moat_buf_putc(&b, ',');
            moat_buf_put_json_string(&b, st->listen[i], strlen(st->listen[i]));
        }
        moat_buf_printf(&b,
                        "],\"reloads\":%llu,\"last_reload\":", (unsigned long long)st->attempts);
        if (st->attempts == 0) {
            moat_buf_puts(&b, "null");
        } else {
            iso_time(when, sizeof(when), st->at);
            moat_buf_printf(
                &b, "{\"ok\":%s,\"at\":\"%s\",\"message\":", st->last_ok ? "true" : "false", when);
            moat_buf_put_json_string(&b, st->message, strlen(st->message));
            moat_buf_putc(&b, '}');
        }
    }
    moat_buf_puts(&b, "}\n");
    fputs(b.data, out);
    moat_buf_free(&b);
}

int moat_cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"pid-file", required_argument, NULL, 'p'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    moat_config_source src = {0};
    status st = {0};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:p:f:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            src.path = optarg;
            break;
        case 'p':
            st.pid_file = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0) {
                st.json = true;
            } else if (strcmp(optarg, "text") != 0) {
                fprintf(stderr, "moat status: --format takes text or json\n");
                return ST_USAGE;
            }
            break;
        case 'h':
            fputs(usage_status, stdout);
            return 0;
        default:
            fputs(usage_status, stderr);
            return ST_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "moat status: unexpected argument '%s'\n%s", argv[optind], usage_status);
        return ST_USAGE;
    }
    moat_config *cfg = NULL;
    if (!st.pid_file) {
        char *err = NULL;
        if (moat_config_load(&src, &cfg, &err) < 0) {
            moat_buf e;
            moat_buf_init(&e);
            moat_term_escape(&e, err, strlen(err), MOAT_TERM_TEXT);
            fprintf(stderr,
                    "%s\nmoat status: unknown: the configuration (which names the pid file) is "
                    "invalid; fix it, or name the pid file with --pid-file\n",
                    e.data);
            moat_buf_free(&e);
            free(err);
            return ST_UNKNOWN;
        }
        st.pid_file = cfg->pid_file;
        if (!st.pid_file || !st.pid_file[0]) {
            fprintf(stderr,
                    "moat status: unknown: no pid_file in %s: set pid_file, or name the pid "
                    "file with --pid-file\n",
                    cfg->source ? cfg->source : "the configuration (none found)");
            moat_config_free(cfg);
            return ST_UNKNOWN;
        }
    }
    find_out(&st);
    if (st.json)
        print_json(&st, stdout);
    else
        print_text(&st, stdout);
    int rc = st.rc;
    free(st.why);
    free(st.message);
    for (size_t i = 0; i < st.nlisten; i++)
        free(st.listen[i]);
    moat_config_free(cfg);
    return rc;
}
