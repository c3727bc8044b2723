/* owner.c - files moat's own commands create as root (`moat cert
 * selfsigned`, `moat log init`, `moat user --create`) go to the serving
 * account, or the next SIGHUP reload, which runs as that account, could not
 * read them. Only regular files root owns, never through a symlink. */
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
