/* owner.c - the files moat's own commands write. Those created as root
 * (`moat cert selfsigned`, `moat log init`, `moat user --create`) go to the
 * serving account, or the next SIGHUP reload, which runs as that account,
 * could not read them (only regular files root owns, never through a
 * symlink). And `-o FILE` for the commands that print their report. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config/config.h"

void moat_cli_give(const moat_config *cfg, const char *const *paths)
{
    /* no configuration file: nothing says these files are moat serve's */
    if (!cfg || !cfg->source || geteuid() != 0) return;
    struct passwd *pw = getpwnam(cfg->user);
    struct group *gr = getgrnam(cfg->group);
    if (!pw || !gr || pw->pw_uid == 0) {
        fprintf(stderr, "moat: the files stay root's: no account %s:%s (settings user, group)\n",
                cfg->user, cfg->group);
        return;
    }
    for (size_t i = 0; paths[i]; i++) {
        int fd = open(paths[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0) {
            if (fchown(fd, pw->pw_uid, gr->gr_gid) == 0)
                fprintf(stderr, "moat: %s now belongs to %s:%s, the account moat serves as\n",
                        paths[i], cfg->user, cfg->group);
            else
                fprintf(stderr, "moat: cannot hand %s to %s:%s: %s\n", paths[i], cfg->user,
                        cfg->group, strerror(errno));
        }
        close(fd);
    }
}

int moat_cli_stdout_to(const char *prefix, const char *path)
{
    fflush(stdout);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", prefix, path, strerror(errno));
        return -1;
    }
    int saved = dup(STDOUT_FILENO);
    if (saved < 0 || dup2(fd, STDOUT_FILENO) < 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", prefix, path, strerror(errno));
        if (saved >= 0) close(saved);
        close(fd);
        return -1;
    }
    close(fd);
    return saved;
}

int moat_cli_stdout_restore(const char *prefix, const char *path, int saved)
{
    int rc = fflush(stdout) == 0 && fsync(STDOUT_FILENO) == 0 ? 0 : 1;
    if (rc) fprintf(stderr, "%s: cannot write %s: %s\n", prefix, path, strerror(errno));
    dup2(saved, STDOUT_FILENO);
    close(saved);
    return rc;
}
