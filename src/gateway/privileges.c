/* privileges.c - least privilege for `moat serve`: started as root, moat
 * binds its ports, reads its keys and opens its logs, then drops to the
 * configured user and group for good, before any worker serves a request.
 * Files moat must write later (logs, the sealing key) are handed to that
 * user; folders it must create files in are checked, not changed: their
 * ownership is the operator's call. Also warns about key files, and config
 * files that write a secret out, that other accounts can read. Runs on the main thread only. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define MOAT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOAT_ASAN 1
#endif
#endif

static bool is_file_path(const char *p)
{
    return p && p[0] && strcmp(p, "-") != 0;
}

/* Warns when path can be read by others, or by a group other than the one
 * moat runs as (run_gid; (gid_t)-1 when moat keeps its own). */
static void warn_mode(const char *what, const char *path, gid_t run_gid)
{
    struct stat st;
    if (!is_file_path(path) || stat(path, &st) < 0) return;
    bool others = st.st_mode & S_IROTH;
    bool group = (st.st_mode & S_IRGRP) && st.st_gid != run_gid;
    if (others || group)
        moat_warn("%s '%s' is readable by %s (mode %03o): chmod %s it", what, path,
                  others ? "others" : "its group", (unsigned)(st.st_mode & 0777),
                  run_gid == (gid_t)-1 ? "600" : "640, with moat's group as its group,");
}

/* The SQLite file of the auth store when the gateway uses it, else NULL. */
static const char *store_file(const moat_config *cfg)
{
    const char *users = moat_config_store_users(cfg);
    /* [[limits.rate]] and bans keep their counters in it too (stage_rate.c). */
    bool used = moat__auth_enabled(cfg) || cfg->limits.rate.len || cfg->limits.ban_strikes;
    if (!used || !users || strncmp(users, "sqlite:", 7) != 0) return NULL;
    return users + 7;
}

static gid_t serving_gid = (gid_t)-1; /* set once privileges are dropped */

void moat__warn_file_modes(const moat_config *cfg)
{
    gid_t run_gid = serving_gid;
    /* a file without secrets may be readable (a git-tracked pyproject.toml) */
    if (moat_config_holds_secret(cfg)) warn_mode("configuration file", cfg->source, run_gid);
    for (size_t i = 0; i < cfg->tls.key.len; i++)
        warn_mode("private key", cfg->tls.key.items[i], run_gid);
    warn_mode("sealing key", cfg->log.seal_key, run_gid);
}

/* Hands a root-owned regular file that moat writes to the serving user.
 * O_NOFOLLOW: never chown what a symlink points at. */
static void give(const char *path, uid_t uid, gid_t gid)
{
    if (!is_file_path(path)) return;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 && fchown(fd, uid, gid) < 0)
        moat_warn("cannot hand '%s' to the serving user: %s", path, strerror(errno));
    close(fd);
}

/* give() for files SQLite has open in this process: never open and close
 * them here, since closing any descriptor of a file drops the process's
 * POSIX locks on it, and SQLite's locks on the database and its -shm would
 * go with them. lchown does not follow a symlink either. */
static void give_by_path(const char *path, uid_t uid, gid_t gid)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
        lchown(path, uid, gid) < 0)
        moat_warn("cannot hand '%s' to the serving user: %s", path, strerror(errno));
}

/* The folder of path must take new files from the serving user. */
static char *need_writable_dir(const char *path, const char *why, const char *user)
{
    char *copy = moat_xstrdup(path);
    const char *dir = dirname(copy);
    char *err = NULL;
    if (access(dir, W_OK | X_OK) < 0)
        err = moat_xasprintf("'%s' is not writable by user %s, and moat writes there (%s): "
                             "chown %s it, or choose another folder",
                             dir, user, why, user);
    free(copy);
    return err;
}

static void warn_unreadable(const char *what, const char *path, const char *user)
{
    if (is_file_path(path) && access(path, R_OK) < 0)
        moat_warn("%s '%s' is not readable by user %s: a SIGHUP reload will fail (restart "
                  "moat instead, or let the user read it)",
                  what, path, user);
}

int moat__privileges_drop(const moat_config *cfg, char **err)
{
    *err = NULL;
    if (geteuid() != 0) {
        moat__warn_file_modes(cfg);
        return 0; /* not root: nothing to give up */
    }
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;
    char pwbuf[4096], grbuf[4096];
    int rc = getpwnam_r(cfg->user, &pw, pwbuf, sizeof(pwbuf), &pwp);
    if (!pwp) {
        *err = moat_xasprintf("user '%s' (setting 'user'): %s", cfg->user,
                              rc ? strerror(rc) : "no such user");
        return MOAT_ECONFIG;
    }
    rc = getgrnam_r(cfg->group, &gr, grbuf, sizeof(grbuf), &grp);
    if (!grp) {
        *err = moat_xasprintf("group '%s' (setting 'group'): %s", cfg->group,
                              rc ? strerror(rc) : "no such group");
        return MOAT_ECONFIG;
    }
    uid_t uid = pw.pw_uid;
    gid_t gid = gr.gr_gid;
    if (uid == 0 || gid == 0) {
        *err = moat_xasprintf("moat does not serve as root: set 'user' and 'group' to an "
                              "unprivileged account (now %s:%s)",
                              cfg->user, cfg->group);
        return MOAT_ECONFIG;
    }
    serving_gid = gid;
    moat__warn_file_modes(cfg);
    give(cfg->log.access, uid, gid);
    give(cfg->log.security, uid, gid);
    give(cfg->log.seal_key, uid, gid);
    const char *db = store_file(cfg);
    if (db) {
        /* `moat user` run as root made these root's; SQLite creates the
         * -wal and -shm files beside the database as the serving user. */
        char *side = NULL;
        give_by_path(db, uid, gid);
        side = moat_xasprintf("%s-wal", db);
        give_by_path(side, uid, gid);
        free(side);
        side = moat_xasprintf("%s-shm", db);
        give_by_path(side, uid, gid);
        free(side);
    }

    if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        *err = moat_xasprintf("cannot drop privileges to %s:%s: %s", cfg->user, cfg->group,
                              strerror(errno));
        return MOAT_EINTERNAL;
    }
    /* Verify, as OpenSSH does: a half-dropped process must not serve. */
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid ||
        setuid(0) == 0 || seteuid(0) == 0) {
        *err = moat_xstrdup("privileges were not fully dropped");
        return MOAT_EINTERNAL;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        moat_warn("cannot set no_new_privs: %s", strerror(errno));
#ifdef MOAT_ASAN
    /* Sanitizer builds (tests) only: LeakSanitizer inspects the process with
     * ptrace at exit, which setuid's non-dumpable state forbids. */
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
    if (is_file_path(cfg->log.security)) {
        *err = need_writable_dir(cfg->log.security, "security log rotation", cfg->user);
        if (!*err && access(cfg->log.security, W_OK) < 0)
            *err = moat_xasprintf("security log '%s' is not writable by user %s", cfg->log.security,
                                  cfg->user);
    }
    if (!*err && is_file_path(cfg->log.seal_key))
        *err = need_writable_dir(cfg->log.seal_key, "the sealing key evolves", cfg->user);
    if (!*err && is_file_path(cfg->log.access) && access(cfg->log.access, W_OK) < 0)
        *err = moat_xasprintf("access log '%s' is not writable by user %s (it is reopened on "
                              "reload)",
                              cfg->log.access, cfg->user);
    if (!*err && db) {
        *err = need_writable_dir(db, "the auth store's -wal and -shm files", cfg->user);
        if (!*err && access(db, R_OK | W_OK) < 0)
            *err = moat_xasprintf("auth store '%s' is not readable and writable by user %s "
                                  "(chown %s it)",
                                  db, cfg->user, cfg->user);
    }
    if (*err) return MOAT_ECONFIG;
    warn_unreadable("configuration file", cfg->source, cfg->user);
    for (size_t i = 0; i < cfg->tls.cert.len; i++) {
        warn_unreadable("certificate", cfg->tls.cert.items[i], cfg->user);
        warn_unreadable("private key", cfg->tls.key.items[i], cfg->user);
    }
    moat_info("serving as user %s, group %s", cfg->user, cfg->group);
    return 0;
}
