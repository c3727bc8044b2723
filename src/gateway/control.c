/* control.c - what the operator's tools talk to while `moat serve` runs:
 * the pid file (`moat reload`, `kill -HUP $(cat FILE)`), the status file
 * beside it that says how the last reload ended, and reopening the access
 * log on SIGUSR1 after logrotate moved it. Main thread only. Both files are
 * opened at start, possibly as root, before privileges are dropped: the
 * status file stays open, so the serving user never needs to create it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static char *pid_path;
static int status_fd = -1;
static unsigned long long attempts;
static moat_buf facts; /* the status file's lines after the first (`moat status`) */

int moat__control_open(const moat_config *cfg, char **err)
{
    *err = NULL;
    if (!cfg->pid_file || !cfg->pid_file[0]) return 0;
    char *status = moat_xasprintf("%s.status", cfg->pid_file);
    int fd = open(cfg->pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        *err = moat_xasprintf("cannot write the pid file '%s' (pid_file): %s", cfg->pid_file,
                              strerror(errno));
        free(status);
        return -1;
    }
    char line[32];
    int n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    bool ok = write(fd, line, (size_t)n) == n;
    if (close(fd) != 0) ok = false;
    if (!ok) {
        *err = moat_xasprintf("cannot write the pid file '%s' (pid_file)", cfg->pid_file);
        unlink(cfg->pid_file);
        free(status);
        return -1;
    }
    status_fd = open(status, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (status_fd < 0) {
        *err = moat_xasprintf("cannot write '%s' (beside pid_file): %s", status, strerror(errno));
        unlink(cfg->pid_file);
        free(status);
        return -1;
    }
    free(status);
    pid_path = moat_xstrdup(cfg->pid_file);
    /* what `moat status` shows: the start time and the listeners, fixed
     * for the life of the process (changing them needs a restart) */
    moat_buf_init(&facts);
    moat_buf_printf(&facts, "pid %ld\nstarted %lld\n", (long)getpid(), (long long)time(NULL));
    for (size_t i = 0; i < cfg->listen.len; i++)
        moat_buf_printf(&facts, "listen http://%s\n", cfg->listen.items[i]);
    for (size_t i = 0; i < cfg->tls.listen.len; i++)
        moat_buf_printf(&facts, "listen https://%s\n", cfg->tls.listen.items[i]);
    moat__control_status(true, "started");
    return 0;
}

void moat__control_status(bool ok, const char *message)
{
    if (status_fd < 0) return;
    /* rewritten in place: first "ATTEMPT ok|failed MESSAGE" (the message
     * on one line whatever the error said; `moat reload` reads this line),
     * then "at TIME" of that outcome and the fixed facts */
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_printf(&b, "%llu %s ", attempts++, ok ? "ok" : "failed");
    for (const char *p = message; *p; p++)
        moat_buf_putc(&b, *p == '\n' || *p == '\r' ? ' ' : *p);
    moat_buf_printf(&b, "\nat %lld\n", (long long)time(NULL));
    if (facts.len) moat_buf_append(&b, facts.data, facts.len);
    if (ftruncate(status_fd, 0) != 0 || pwrite(status_fd, b.data, b.len, 0) != (ssize_t)b.len)
        moat_warn("cannot write the reload status beside '%s': %s", pid_path, strerror(errno));
    moat_buf_free(&b);
}

void moat__control_close(void)
{
    if (status_fd >= 0) close(status_fd);
    status_fd = -1;
    moat_buf_free(&facts);
    if (!pid_path) return;
    /* remove the pid file only while it still names this process */
    char buf[32] = "";
    FILE *f = fopen(pid_path, "r");
    if (f) {
        if (!fgets(buf, sizeof(buf), f)) buf[0] = '\0';
        fclose(f);
    }
    if (strtol(buf, NULL, 10) == (long)getpid()) {
        unlink(pid_path);
        char *status = moat_xasprintf("%s.status", pid_path);
        unlink(status);
        free(status);
    }
    free(pid_path);
    pid_path = NULL;
}

void moat__control_reopen_access(moat_runtime *rt)
{
    const char *path = rt->cfg->log.access;
    if (rt->access_fd < 0 || !path || !path[0] || strcmp(path, "-") == 0) return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        moat_warn("cannot reopen the access log '%s': %s (still writing to the old file)", path,
                  strerror(errno));
        return;
    }
    /* workers write to rt->access_fd without a lock: dup3 swaps the file
     * under that number in one step, so a line goes to the old file or the
     * new one, never nowhere */
    if (dup3(fd, rt->access_fd, O_CLOEXEC) < 0)
        moat_warn("cannot reopen the access log '%s': %s", path, strerror(errno));
    close(fd);
}
