/* cmd_user.c - `moat user ...`: administration of the users the gateway
 * authenticates (add, passwd, list, del, lock, unlock, roles, mfa enroll and
 * reset, recovery codes, import of existing password hashes, bearer tokens,
 * logout everywhere). Passwords are read at the terminal with echo off, or
 * as the first line of standard input, never from argv. Secrets (TOTP
 * secrets, recovery codes, tokens) are shown once and stored hashed where
 * they can be. Hashing and policy are src/auth's; storage is src/store's. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "cli.h"
#include "cmd.h"
#include "config/config.h"
#include "core.h"
#include "store/store.h"

static const char usage_user[] =
    "usage: moat user COMMAND [ARGS] [--config FILE]\n"
    "\n"
    "  add NAME [--role ROLE]...     add a user; the password is read twice at the\n"
    "                                terminal, or once from the first line of stdin\n"
    "  passwd NAME                   set a new password (ends the user's sessions)\n"
    "  list                          list the users, their roles and state\n"
    "  del NAME                      delete a user, with their sessions and tokens\n"
    "  lock NAME | unlock NAME       lock an account (ends its sessions) / end a lock\n"
    "  roles NAME [ROLE]...          replace the user's roles\n"
    "  mfa enroll NAME               create a TOTP second factor: prints the otpauth://\n"
    "                                URI, a QR code and 10 recovery codes\n"
    "  mfa reset NAME                remove the second factor and recovery codes\n"
    "  recovery NAME                 replace the user's 10 recovery codes\n"
    "  import FILE                   add users from CSV or JSON (username, password\n"
    "                                hash, roles); all of them or none\n"
    "  token create NAME [--expires DAYS]   issue a bearer token (shown once)\n"
    "  token list [NAME]             list tokens (never the tokens themselves)\n"
    "  token revoke ID               revoke a token\n"
    "  logout NAME                   end every session of the user\n"
    "\n"
    "  -c, --config FILE  moat.toml, or pyproject.toml with [tool.moat] ([store] url)\n"
    "      --create       create the store when it does not exist yet (else refused)\n"
    "  -h, --help         this help\n"
    "\n"
    "Every command names the store it uses (on stderr). A relative sqlite: path\n"
    "starts from the configuration file's folder, as for 'moat serve'.\n"
    "\n"
    "Exit status: 0 done, 1 failed (no such user, refused password, ...), 2 usage or\n"
    "input error. See docs/auth.md.\n";

typedef struct opts {
    const char *config;
    const char **roles;
    size_t nroles;
    int64_t expires_days; /* -1 = not given */
    bool create;          /* --create: a missing store may be created */
    char **args;          /* positional arguments after the command (borrowed) */
    int nargs;
} opts;

typedef struct ctx {
    moat_config *cfg;
    moat_store *store;
    moat_auth_settings st;
} ctx;

static int parse_opts(int argc, char **argv, opts *o)
{
    static const struct option lopts[] = {
        {"config", required_argument, NULL, 'c'},  {"role", required_argument, NULL, 'r'},
        {"expires", required_argument, NULL, 'e'}, {"create", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    o->expires_days = -1;
    o->roles = moat_xcalloc((size_t)argc + 1, sizeof(char *));
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "c:r:e:h", lopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config = optarg;
            break;
        case 'r':
            o->roles[o->nroles++] = optarg;
            break;
        case 'C':
            o->create = true;
            break;
        case 'e': {
            uint64_t d = 0;
            if (moat_parse_u64(optarg, strlen(optarg), &d) < 0 || d < 1 || d > 3650) {
                fprintf(stderr, "moat user: --expires takes a number of days (1 to 3650)\n");
                return 2;
            }
            o->expires_days = (int64_t)d;
            break;
        }
        case 'h':
            fputs(usage_user, stdout);
            return 0;
        default:
            fputs(usage_user, stderr);
            return 2;
        }
    }
    o->args = argv + optind;
    o->nargs = argc - optind;
    return -1;
}

static const char *T(const char *s);

static int open_ctx(const opts *o, ctx *c)
{
    memset(c, 0, sizeof(*c));
    moat_config_source src = {.path = o->config};
    char *err = NULL;
    if (moat_config_load(&src, &c->cfg, &err) < 0) {
        fprintf(stderr, "moat user: %s\n", err);
        free(err);
        return 2;
    }
    /* Name the store, and never create one by surprise: a typo in --config
     * or running from another folder would otherwise start an empty one. */
    const char *url = moat_config_store_users(c->cfg);
    const char *from = c->cfg->source ? c->cfg->source : "the default, no configuration file";
    struct stat st;
    bool missing = strncmp(url, "sqlite:", 7) == 0 && lstat(url + 7, &st) < 0 && errno == ENOENT;
    /* a URL's password is not shown */
    const char *at = strncmp(url, "sqlite:", 7) != 0 ? strrchr(url, '@') : NULL;
    const char *scheme_end = strstr(url, "://");
    char *shown = at && scheme_end
                      ? moat_xasprintf("%.*s***%s", (int)(scheme_end + 3 - url), url, at)
                      : moat_xstrdup(url);
    fprintf(stderr, "moat user: store %s (%s)%s\n", T(shown), T(from),
            missing && o->create ? ", created" : "");
    free(shown);
    if (missing && !o->create) {
        fprintf(stderr,
                "moat user: the store %s does not exist: check [store] url and --config, or "
                "run again with --create to start a new one\n",
                T(url + 7));
        moat_config_free(c->cfg);
        return 1;
    }
    if (moat_store_open_roles(url, moat_config_store_state(c->cfg), &c->store, &err) < 0) {
        fprintf(stderr, "moat user: store: %s\n", err);
        free(err);
        moat_config_free(c->cfg);
        return 1;
    }
    if (missing) {
        char *wal = moat_xasprintf("%s-wal", url + 7), *shm = moat_xasprintf("%s-shm", url + 7);
        const char *mine[] = {url + 7, wal, shm, NULL};
        moat_cli_give(c->cfg, mine);
        free(wal);
        free(shm);
    }
    moat_auth_settings_from_config(c->cfg, &c->st);
    return 0;
}

static void close_ctx(ctx *c)
{
    moat_store_close(c->store);
    moat_config_free(c->cfg);
}

/* ---- passwords ----------------------------------------------------------- */

/* Reads one line from stdin (without its line end) into an owned string. */
static int read_line(char **out, size_t *len)
{
    char *line = NULL;
    size_t cap = 0;
    errno = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return MOAT_EIO;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    *out = line;
    *len = (size_t)n;
    return 0;
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static int prompt_tty(const char *prompt, char **out, size_t *len)
{
    struct termios old, quiet;
    if (tcgetattr(STDIN_FILENO, &old) != 0) return MOAT_EIO;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    /* Echo goes off before the prompt shows, so nothing typed after the
     * prompt can be echoed (or discarded by the flush). */
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) return MOAT_EIO;
    fputs(prompt, stderr);
    fflush(stderr);
    int rc = read_line(out, len);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    return rc;
}

/* A new password for name: typed twice at a terminal, or the first line of
 * stdin; checked against the policy. Returns 0 with *out owned, or an exit
 * status. */
static int new_password(const ctx *c, const char *name, char **out, size_t *len)
{
    char *pw = NULL;
    size_t n = 0;
    if (isatty(STDIN_FILENO)) {
        char *again = NULL;
        size_t n2 = 0;
        if (prompt_tty("New password: ", &pw, &n) < 0 ||
            prompt_tty("Repeat the password: ", &again, &n2) < 0) {
            fprintf(stderr, "moat user: could not read the password\n");
            free_secret(pw);
            free_secret(again);
            return 2;
        }
        bool same = moat_ct_equal(pw, n, again, n2);
        free_secret(again);
        if (!same) {
            fprintf(stderr, "moat user: the passwords differ; nothing changed\n");
            free_secret(pw);
            return 2;
        }
    } else if (read_line(&pw, &n) < 0) {
        fprintf(stderr, "moat user: no password on standard input (its first line is read)\n");
        return 2;
    }
    const char *why = NULL;
    if (moat_password_policy_check(&c->st.policy, name, pw, n, &why) < 0) {
        fprintf(stderr, "moat user: password refused: %s%s\n", why,
                strcmp(why, "password too short") == 0 ? " (see [auth] password_min)" : "");
        free_secret(pw);
        return 1;
    }
    *out = pw;
    *len = n;
    return 0;
}

/* ---- helpers -------------------------------------------------------------- */

/* Names and roles come from argv, import files and a store other tools may
 * write: every one shown is escaped for the terminal. The arena lives until
 * the command returns (moat_cmd_user frees it). */
static moat_arena *out_arena;

static const char *T(const char *s)
{
    if (!out_arena) out_arena = moat_arena_new();
    return moat_term_str(out_arena, s);
}

static int need_args(const opts *o, int min, int max, const char *what)
{
    if (o->nargs < min || (max >= 0 && o->nargs > max)) {
        fprintf(stderr, "usage: moat user %s\n", what);
        return 2;
    }
    return 0;
}

static int get_user(ctx *c, const char *name, moat_user *u)
{
    int rc = moat_store_user_get(c->store, name, u);
    if (rc == MOAT_ENOENT) {
        fprintf(stderr, "moat user: no user '%s'\n", T(name));
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "moat user: store: %s\n", moat_strerror(rc));
        return 1;
    }
    return 0;
}

static int store_failed(int rc)
{
    fprintf(stderr, "moat user: store: %s\n", moat_strerror(rc));
    return 1;
}

static int check_roles(const char *const *roles, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!moat_role_name_valid(roles[i])) {
            fprintf(stderr,
                    "moat user: invalid role '%s' (1 to 64 letters, digits, '.', '_' or '-')\n",
                    T(roles[i]));
            return 2;
        }
    return 0;
}

static void put_time(FILE *f, int64_t t)
{
    if (t <= 0) {
        fputs("-", f);
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fputs(buf, f);
}

/* ---- commands ---------------------------------------------------------------- */

static int cmd_add(ctx *c, const opts *o)
{
    const char *name = o->args[0];
    if (!moat_user_name_valid(name)) {
        fprintf(stderr,
                "moat user: invalid name '%s' (1 to 128 letters, digits, '.', '_', "
                "'@', '+' or '-')\n",
                T(name));
        return 2;
    }
    int rc = check_roles(o->roles, o->nroles);
    if (rc) return rc;
    moat_user u;
    if (moat_store_user_get(c->store, name, &u) == 0) {
        moat_user_clear(&u);
        fprintf(stderr, "moat user: '%s' exists already\n", T(name));
        return 1;
    }
    char *pw = NULL, *hash = NULL;
    size_t n = 0;
    if ((rc = new_password(c, name, &pw, &n)) != 0) return rc;
    rc = moat_password_hash(&c->st.argon2, pw, n, &hash);
    free_secret(pw);
    if (rc < 0) {
        fprintf(stderr, "moat user: hashing failed: %s\n", moat_strerror(rc));
        return 1;
    }
    rc = moat_store_user_add(c->store, name, hash, o->roles, o->nroles, (int64_t)time(NULL));
    free_secret(hash);
    if (rc == MOAT_EINVAL) {
        fprintf(stderr, "moat user: '%s' exists already\n", T(name));
        return 1;
    }
    if (rc < 0) return store_failed(rc);
    printf("added user %s\n", T(name));
    return 0;
}

static int cmd_passwd(ctx *c, const opts *o)
{
    moat_user u;
    int rc = get_user(c, o->args[0], &u);
    if (rc) return rc;
    char *pw = NULL, *hash = NULL;
    size_t n = 0;
    if ((rc = new_password(c, u.name, &pw, &n)) != 0) goto out;
    rc = moat_password_hash(&c->st.argon2, pw, n, &hash);
    free_secret(pw);
    if (rc < 0) {
        fprintf(stderr, "moat user: hashing failed: %s\n", moat_strerror(rc));
        rc = 1;
        goto out;
    }
    rc = moat_store_user_set_password(c->store, u.id, hash, true);
    free_secret(hash);
    if (rc < 0) {
        rc = store_failed(rc);
        goto out;
    }
    printf("password of %s changed; their sessions ended\n", T(u.name));
out:
    moat_user_clear(&u);
    return rc;
}

static int cmd_list(ctx *c)
{
    moat_user *all = NULL;
    size_t n = 0;
    int rc = moat_store_user_list(c->store, &all, &n);
    if (rc < 0) return store_failed(rc);
    int64_t now = (int64_t)time(NULL);
    printf("%-24s %-24s %-4s %-8s %-14s %s\n", "NAME", "ROLES", "MFA", "RECOVERY", "HASH", "STATE");
    for (size_t i = 0; i < n; i++) {
        moat_user *u = &all[i];
        moat_buf roles, name;
        moat_buf_init(&roles);
        moat_buf_init(&name);
        /* the store may hold names written by other tools or imports: escape */
        for (size_t r = 0; r < u->nroles; r++) {
            if (r) moat_buf_putc(&roles, ',');
            moat_term_escape(&roles, u->roles[r], strlen(u->roles[r]), 0);
        }
        moat_term_escape(&name, u->name, strlen(u->name), 0);
        printf("%-24s %-24s %-4s %-8zu %-14s ", name.data, roles.len ? roles.data : "-",
               u->totp_secret ? "yes" : "no", u->recovery_left,
               moat_password_format_name(moat_password_format(u->password_hash)));
        if (u->locked)
            fputs("locked", stdout);
        else if (u->locked_until > now) {
            fputs("locked until ", stdout);
            put_time(stdout, u->locked_until);
        } else
            fputs("active", stdout);
        if (!u->locked && u->mfa_locked_until > now) {
            fputs(", second factor locked until ", stdout);
            put_time(stdout, u->mfa_locked_until);
        }
        putchar('\n');
        moat_buf_free(&roles);
        moat_buf_free(&name);
        moat_user_clear(u);
    }
    free(all);
    return 0;
}

static int cmd_del(ctx *c, const opts *o)
{
    int rc = moat_store_user_del(c->store, o->args[0]);
    if (rc == MOAT_ENOENT) {
        fprintf(stderr, "moat user: no user '%s'\n", T(o->args[0]));
        return 1;
    }
    if (rc < 0) return store_failed(rc);
    printf("deleted user %s\n", T(o->args[0]));
    return 0;
}

static int cmd_lock(ctx *c, const opts *o, bool lock)
{
    moat_user u;
    int rc = get_user(c, o->args[0], &u);
    if (rc) return rc;
    rc = moat_store_user_set_locked(c->store, u.id, lock);
    if (rc < 0)
        rc = store_failed(rc);
    else
        printf(lock ? "locked %s; their sessions ended\n" : "unlocked %s\n", T(u.name));
    moat_user_clear(&u);
    return rc;
}

static int cmd_roles(ctx *c, const opts *o)
{
    const char *const *roles = (const char *const *)o->args + 1;
    size_t n = (size_t)o->nargs - 1;
    int rc = check_roles(roles, n);
    if (rc) return rc;
    moat_user u;
    if ((rc = get_user(c, o->args[0], &u)) != 0) return rc;
    rc = moat_store_user_set_roles(c->store, u.id, roles, n);
    if (rc < 0)
        rc = store_failed(rc);
    else
        printf("roles of %s set\n", T(u.name));
    moat_user_clear(&u);
    return rc;
}

/* Prints the QR code for a terminal (src/auth/enroll.c draws it). */
static void print_qr(const char *text)
{
    moat_buf b;
    moat_buf_init(&b);
    if (moat_enrollment_qr_text(&b, text) < 0)
        fprintf(stderr, "moat user: could not make the QR code; type the secret instead\n");
    else
        fputs(b.data, stdout);
    if (b.data) OPENSSL_cleanse(b.data, b.len); /* it spells the secret */
    moat_buf_free(&b);
}

/* New recovery codes for u: stored hashed, printed once. */
static int new_recovery_codes(ctx *c, const moat_user *u)
{
    char codes[MOAT_RECOVERY_CODES][MOAT_RECOVERY_CODE_LEN + 1];
    int rc = moat_recovery_codes_replace(c->store, u->id, codes);
    if (rc == 0) {
        printf("Recovery codes for %s (each works once; shown only now, keep them safe):\n\n",
               T(u->name));
        for (size_t i = 0; i < MOAT_RECOVERY_CODES; i++)
            printf("    %s\n", codes[i]);
    }
    OPENSSL_cleanse(codes, sizeof(codes));
    return rc < 0 ? store_failed(rc) : 0;
}

static int cmd_mfa(ctx *c, const opts *o)
{
    const char *sub = o->args[0];
    moat_user u;
    int rc = get_user(c, o->args[1], &u);
    if (rc) return rc;
    if (strcmp(sub, "reset") == 0) {
        rc = moat_store_totp_set(c->store, u.id, NULL, 0);
        if (rc < 0)
            rc = store_failed(rc);
        else
            printf("second factor of %s removed, with their recovery codes\n", T(u.name));
        goto out;
    }
    if (u.totp_secret) {
        fprintf(stderr,
                "moat user: %s has a second factor already; 'moat user mfa reset %s' first\n",
                T(u.name), T(u.name));
        rc = 1;
        goto out;
    }
    moat_enrollment e;
    moat_enrollment_new(&e, &c->st, u.name);
    rc = moat_store_totp_set(c->store, u.id, e.key, sizeof(e.key));
    if (rc < 0) {
        moat_enrollment_clear(&e);
        rc = store_failed(rc);
        goto out;
    }
    printf("Scan this with an authenticator app, or enter the secret by hand.\n\n");
    print_qr(e.uri);
    printf("\n%s\n\nSecret: %s\n\n", e.uri, e.secret_b32);
    moat_enrollment_clear(&e);
    rc = new_recovery_codes(c, &u);
out:
    moat_user_clear(&u);
    return rc;
}

static int cmd_recovery(ctx *c, const opts *o)
{
    moat_user u;
    int rc = get_user(c, o->args[0], &u);
    if (rc) return rc;
    if (!u.totp_secret) {
        fprintf(stderr, "moat user: %s has no second factor ('moat user mfa enroll %s')\n",
                T(u.name), T(u.name));
        rc = 1;
    } else {
        rc = new_recovery_codes(c, &u);
    }
    moat_user_clear(&u);
    return rc;
}

/* ---- import -------------------------------------------------------------------- */

static int cmd_import(ctx *c, const opts *o)
{
    const char *path = o->args[0];
    char *text = NULL, *err = NULL;
    size_t len = 0;
    if (moat_read_file(path, &text, &len) < 0) {
        fprintf(stderr, "moat user: cannot read %s: %s\n", path, strerror(errno));
        return 2;
    }
    moat_import im;
    int rc = moat_import_parse(path, text, len, &im, &err);
    OPENSSL_cleanse(text, len);
    free(text);
    /* Check everything before changing anything. */
    if (rc == 0) rc = moat_import_check(&im, path, &err);
    if (rc < 0) {
        moat_buf e;
        moat_buf_init(&e);
        moat_term_escape(&e, err, strlen(err), MOAT_TERM_TEXT); /* may quote the file */
        fprintf(stderr, "%s\nmoat user: nothing imported\n", e.data);
        moat_buf_free(&e);
        free(err);
        moat_import_free(&im);
        return 2;
    }
    for (size_t i = 0; i < im.n; i++) {
        moat_user u;
        if (moat_store_user_get(c->store, im.rows[i].name, &u) == 0) {
            moat_user_clear(&u);
            moat_arena *a = moat_arena_new();
            fprintf(stderr, "%s:%s%u: user %s exists already\nmoat user: nothing imported\n",
                    moat_term_str(a, path), im.json ? " user " : "", im.rows[i].line,
                    moat_term_str(a, im.rows[i].name));
            moat_arena_free(a);
            moat_import_free(&im);
            return 1;
        }
    }
    moat_user_import *rows = moat_xcalloc(im.n + 1, sizeof(*rows));
    for (size_t i = 0; i < im.n; i++) {
        rows[i].name = im.rows[i].name;
        rows[i].hash = im.rows[i].hash;
        rows[i].roles = (const char *const *)im.rows[i].roles;
        rows[i].nroles = im.rows[i].nroles;
    }
    size_t failed = 0;
    int r = moat_store_users_import(c->store, rows, im.n, (int64_t)time(NULL), &failed);
    free(rows);
    if (r < 0) {
        fprintf(stderr, "moat user: import failed at %s %u (%s); nothing imported\n",
                im.json ? "user" : "line", im.rows[failed].line, moat_strerror(r));
        rc = 1;
    } else {
        printf("imported %zu user%s; each password is rehashed with Argon2id at its first "
               "login\n",
               im.n, im.n == 1 ? "" : "s");
    }
    moat_import_free(&im);
    return rc;
}

/* ---- tokens ---------------------------------------------------------------------- */

static int cmd_token(ctx *c, const opts *o)
{
    const char *sub = o->args[0];
    if (strcmp(sub, "create") == 0) {
        if (o->nargs != 2) return need_args(o, 99, 99, "token create NAME [--expires DAYS]");
        moat_user u;
        int rc = get_user(c, o->args[1], &u);
        if (rc) return rc;
        char tok[MOAT_TOKEN_LEN + 1], hash[MOAT_SECRET_HASH_LEN + 1], prefix[16];
        moat_token_new(tok);
        moat_secret_hash(tok, strlen(tok), hash);
        memcpy(prefix, tok, 12);
        prefix[12] = '\0';
        int64_t now = (int64_t)time(NULL), id = 0;
        int64_t expires = o->expires_days > 0 ? now + o->expires_days * 86400 : 0;
        rc = moat_store_token_add(c->store, u.id, hash, prefix, now, expires, &id);
        if (rc < 0) {
            rc = store_failed(rc);
        } else {
            printf("Token %" PRId64 " for %s (shown only now; send it as 'Authorization: "
                   "Bearer TOKEN'):\n\n    %s\n\nexpires: ",
                   id, T(u.name), tok);
            put_time(stdout, expires);
            if (!expires) fputs(" (never)", stdout);
            putchar('\n');
        }
        OPENSSL_cleanse(tok, sizeof(tok));
        moat_user_clear(&u);
        return rc;
    }
    if (strcmp(sub, "list") == 0) {
        if (o->nargs > 2) return need_args(o, 99, 99, "token list [NAME]");
        moat_token_info *list = NULL;
        size_t n = 0;
        int rc = moat_store_token_list(c->store, o->nargs == 2 ? o->args[1] : NULL, &list, &n);
        if (rc < 0) return store_failed(rc);
        printf("%-6s %-24s %-16s %-21s %-21s %s\n", "ID", "USER", "TOKEN", "CREATED", "EXPIRES",
               "LAST USED");
        moat_arena *a = moat_arena_new();
        for (size_t i = 0; i < n; i++) {
            printf("%-6" PRId64 " %-24s %-13s... ", list[i].id, moat_term_str(a, list[i].user),
                   moat_term_str(a, list[i].prefix));
            put_time(stdout, list[i].created);
            fputs("  ", stdout);
            if (list[i].expires)
                put_time(stdout, list[i].expires);
            else
                fputs("never               ", stdout);
            fputs("  ", stdout);
            put_time(stdout, list[i].last_used);
            putchar('\n');
            free(list[i].user);
        }
        moat_arena_free(a);
        free(list);
        return 0;
    }
    if (strcmp(sub, "revoke") == 0) {
        if (o->nargs != 2) return need_args(o, 99, 99, "token revoke ID");
        uint64_t id = 0;
        if (moat_parse_u64(o->args[1], strlen(o->args[1]), &id) < 0 || id > INT64_MAX) {
            fprintf(stderr, "moat user: token revoke takes the token's ID (moat user token "
                            "list)\n");
            return 2;
        }
        int rc = moat_store_token_revoke(c->store, (int64_t)id);
        if (rc == MOAT_ENOENT) {
            fprintf(stderr, "moat user: no token %" PRIu64 "\n", id);
            return 1;
        }
        if (rc < 0) return store_failed(rc);
        printf("token %" PRIu64 " revoked\n", id);
        return 0;
    }
    fprintf(stderr, "moat user: unknown token command '%s' (create, list, revoke)\n", T(sub));
    return 2;
}

static int cmd_logout(ctx *c, const opts *o)
{
    moat_user u;
    int rc = get_user(c, o->args[0], &u);
    if (rc) return rc;
    size_t n = 0;
    rc = moat_session_end_user(c->store, u.id, &n);
    if (rc < 0)
        rc = store_failed(rc);
    else
        printf("%zu session%s of %s ended\n", n, n == 1 ? "" : "s", T(u.name));
    moat_user_clear(&u);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------ */

int moat_cmd_user(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_user, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_user, stdout);
        return 0;
    }
    static const struct {
        const char *name;
        int min, max;
        const char *usage;
    } cmds[] = {
        {"add", 1, 1, "add NAME [--role ROLE]..."},
        {"passwd", 1, 1, "passwd NAME"},
        {"list", 0, 0, "list"},
        {"del", 1, 1, "del NAME"},
        {"lock", 1, 1, "lock NAME"},
        {"unlock", 1, 1, "unlock NAME"},
        {"roles", 1, -1, "roles NAME [ROLE]..."},
        {"mfa", 2, 2, "mfa enroll|reset NAME"},
        {"recovery", 1, 1, "recovery NAME"},
        {"import", 1, 1, "import FILE"},
        {"token", 1, 2, "token create NAME [--expires DAYS] | token list [NAME] | token revoke ID"},
        {"logout", 1, 1, "logout NAME"},
    };
    size_t k = 0;
    while (k < MOAT_ARRAY_LEN(cmds) && strcmp(cmds[k].name, cmd) != 0)
        k++;
    if (k == MOAT_ARRAY_LEN(cmds)) {
        fprintf(stderr, "moat user: unknown command '%s'\n\n%s", T(cmd), usage_user);
        moat_arena_free(out_arena);
        out_arena = NULL;
        return 2;
    }
    opts o;
    int rc = parse_opts(argc - 1, argv + 1, &o);
    if (rc >= 0) goto done;
    if ((rc = need_args(&o, cmds[k].min, cmds[k].max, cmds[k].usage)) != 0) goto done;
    if (strcmp(cmd, "mfa") == 0 && strcmp(o.args[0], "enroll") != 0 &&
        strcmp(o.args[0], "reset") != 0) {
        rc = need_args(&o, 99, 99, cmds[k].usage);
        goto done;
    }
    if ((o.nroles || o.expires_days >= 0) && strcmp(cmd, "add") != 0 && strcmp(cmd, "token") != 0) {
        fprintf(stderr, "moat user %s: --role and --expires do not apply\n", cmd);
        rc = 2;
        goto done;
    }
    ctx c;
    if ((rc = open_ctx(&o, &c)) != 0) goto done;
    if (strcmp(cmd, "add") == 0)
        rc = cmd_add(&c, &o);
    else if (strcmp(cmd, "passwd") == 0)
        rc = cmd_passwd(&c, &o);
    else if (strcmp(cmd, "list") == 0)
        rc = cmd_list(&c);
    else if (strcmp(cmd, "del") == 0)
        rc = cmd_del(&c, &o);
    else if (strcmp(cmd, "lock") == 0 || strcmp(cmd, "unlock") == 0)
        rc = cmd_lock(&c, &o, strcmp(cmd, "lock") == 0);
    else if (strcmp(cmd, "roles") == 0)
        rc = cmd_roles(&c, &o);
    else if (strcmp(cmd, "mfa") == 0)
        rc = cmd_mfa(&c, &o);
    else if (strcmp(cmd, "recovery") == 0)
        rc = cmd_recovery(&c, &o);
    else if (strcmp(cmd, "import") == 0)
        rc = cmd_import(&c, &o);
    else if (strcmp(cmd, "token") == 0)
        rc = cmd_token(&c, &o);
    else
        rc = cmd_logout(&c, &o);
    close_ctx(&c);
done:
    free(o.roles);
    moat_arena_free(out_arena);
    out_arena = NULL;
    return rc;
}
