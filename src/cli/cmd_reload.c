/* cmd_reload.c - `moat reload`: sends SIGHUP to the running `moat serve`
 * named by the pid file (pid_file, or --pid-file) and waits, bounded, for
 * the outcome the server writes beside it (FILE.status), so a reload that
 * kept the old configuration is a non-zero exit here, not a line in a log
 * nobody reads. The server does the checking; this only asks and reports. */
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

static const char usage_reload[] =
    "usage: moat reload [--config FILE] [--pid-file FILE] [--timeout SECONDS]\n"
    "\n"
    "Asks the running 'moat serve' to reload its configuration (SIGHUP to the\n"
    "process in the pid file) and reports the outcome: exit status 0 when the\n"
    "new configuration runs, 1 when the reload failed and the running\n"
    "configuration was kept (the reason is printed, and logged as a\n"
    "config.reloaded security event), or when no moat runs.\n"
    "\n"
    "  -c, --config FILE     the configuration that names pid_file\n"
    "  -p, --pid-file FILE   the pid file (default: pid_file of the configuration)\n"
    "  -t, --timeout SECONDS how long to wait for the outcome (default: 30)\n"
    "  -h, --help            this help\n";

/* The first line of path, without its line end, into buf; false if unreadable. */
static bool read_line(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool ok = fgets(buf, (int)n, f) != NULL;
    fclose(f);
    if (ok) buf[strcspn(buf, "\r\n")] = '\0';
    return ok;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int moat_cmd_reload(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"pid-file", required_argument, NULL, 'p'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    moat_config_source src = {0};
    const char *pid_file = NULL;
    uint64_t timeout_s = 30;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:p:t:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            src.path = optarg;
            break;
        case 'p':
            pid_file = optarg;
            break;
        case 't':
            if (moat_parse_u64(optarg, strlen(optarg), &timeout_s) < 0 || timeout_s < 1 ||
                timeout_s > 3600) {
                fprintf(stderr, "moat reload: --timeout takes 1 to 3600 seconds\n");
                return 2;
            }
            break;
        case 'h':
            fputs(usage_reload, stdout);
            return 0;
        default:
            fputs(usage_reload, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "moat reload: unexpected argument '%s'\n%s", argv[optind], usage_reload);
        return 2;
    }
    moat_config *cfg = NULL;
    if (!pid_file) {
        char *err = NULL;
        if (moat_config_load(&src, &cfg, &err) < 0) {
            moat_buf e;
            moat_buf_init(&e);
            moat_term_escape(&e, err, strlen(err), MOAT_TERM_TEXT);
            fprintf(stderr,
                    "%s\nmoat reload: not sent: the configuration is invalid (and gives "
                    "the pid file); fix it, or name the pid file with --pid-file\n",
                    e.data);
            moat_buf_free(&e);
            free(err);
            return 1;
        }
        pid_file = cfg->pid_file;
        if (!pid_file || !pid_file[0]) {
            fprintf(stderr,
                    "moat reload: no pid_file in %s: set pid_file, or name the pid "
                    "file with --pid-file\n",
                    cfg->source ? cfg->source : "the configuration (none found)");
            moat_config_free(cfg);
            return 1;
        }
    }
    int rc = 1;
    char *status = moat_xasprintf("%s.status", pid_file);
    char line[64] = "", before[512] = "", after[512] = "";
    uint64_t pid = 0;
    if (!read_line(pid_file, line, sizeof(line))) {
        fprintf(stderr, "moat reload: cannot read the pid file '%s': %s (is moat running?)\n",
                pid_file, strerror(errno));
        goto out;
    }
    if (moat_parse_u64(line, strlen(line), &pid) < 0 || pid < 2 || pid > 0x7fffffff) {
        fprintf(stderr, "moat reload: '%s' holds no process id\n", pid_file);
        goto out;
    }
    read_line(status, before, sizeof(before));
    if (kill((pid_t)pid, SIGHUP) < 0) {
        if (errno == ESRCH)
            fprintf(stderr,
                    "moat reload: no process %llu: moat is not running (stale pid file "
                    "'%s')\n",
                    (unsigned long long)pid, pid_file);
        else
            fprintf(stderr,
                    "moat reload: cannot signal process %llu: %s (run as root or as "
                    "moat's user)\n",
                    (unsigned long long)pid, strerror(errno));
        goto out;
    }
    /* the server rewrites the status line once the reload is done; its
     * first field counts attempts, so the line always changes */
    for (uint64_t waited = 0; waited < timeout_s * 1000; waited += 50) {
        if (read_line(status, after, sizeof(after)) && after[0] && strcmp(after, before) != 0)
            break;
        after[0] = '\0';
        sleep_ms(50);
    }
    if (!after[0]) {
        fprintf(stderr,
                "moat reload: sent SIGHUP to process %llu, but it reported no outcome in '%s' "
                "within %llus (is it moat, with this pid_file?)\n",
                (unsigned long long)pid, status, (unsigned long long)timeout_s);
        goto out;
    }
    const char *word = strchr(after, ' ');
    const char *msg = word ? strchr(word + 1, ' ') : NULL;
    moat_buf e;
    moat_buf_init(&e);
    moat_term_escape(&e, msg ? msg + 1 : "", msg ? strlen(msg + 1) : 0, MOAT_TERM_TEXT);
    if (word && strncmp(word + 1, "ok ", 3) == 0) {
        printf("moat: configuration reloaded (process %llu, %s)\n", (unsigned long long)pid,
               e.data ? e.data : "");
        rc = 0;
    } else {
        fprintf(stderr, "moat reload: failed, the running configuration was kept: %s\n",
                e.data ? e.data : "");
    }
    moat_buf_free(&e);
out:
    free(status);
    moat_config_free(cfg);
    return rc;
}
