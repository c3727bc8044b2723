/* cmd_cert.c - `moat cert selfsigned`: writes a development certificate and
 * key; `moat cert status`: the certificates a configuration serves, their
 * issuers, expiry, (ACME) next renewal and last OCSP answer. The
 * certificate work itself is in src/net/cert.c and src/acme/. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acme/acme.h"
#include "cli.h"
#include "cmd.h"
#include "config/config.h"
#include "core.h"
#include "net/net.h"

int moat_cmd_cert(int argc, char **argv);

static const char usage_cert[] =
    "usage: moat cert selfsigned [--cert FILE] [--key FILE] [--days N] [NAME...]\n"
    "       moat cert status [--config FILE]\n"
    "       moat cert renew [--config FILE]\n"
    "\n"
    "renew: asks the running moat ([tls.acme]) to renew its certificate now,\n"
    "whatever its dates (a revoked or compromised certificate): leaves a flag\n"
    "in the state folder and signals moat as 'moat reload' does (pid_file).\n"
    "\n"
    "status: lists the certificates the configuration serves (tls.cert, or the\n"
    "one [tls.acme] obtains), their names, issuer, expiry, next renewal and the\n"
    "OCSP answer (revocation) the running moat got last.\n"
    "\n"
    "selfsigned: "
    "Writes a self-signed certificate for development (ECDSA P-256, valid for\n"
    "every NAME; default: localhost 127.0.0.1 ::1) and its private key (mode 0600).\n"
    "Browsers warn about it; use a CA-issued certificate in production.\n"
    "\n"
    "  --cert FILE   where to write the certificate (default: cert.pem)\n"
    "  --key FILE    where to write the key (default: key.pem)\n"
    "  --days N      validity in days (default: 365, at most 825)\n"
    "  --config FILE run as root: the files go to the account of its 'user' and\n"
    "                'group' settings (default: the configuration found here)\n";

static void put_time(const char *label, int64_t t, int64_t now)
{
    char buf[32];
    struct tm tm;
    time_t tt = (time_t)t;
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
    int64_t d = t - now;
    if (d >= 0)
        printf("  %-13s %s (in %lld days)\n", label, buf, (long long)(d / 86400));
    else
        printf("  %-13s %s (%lld days ago)\n", label, buf, (long long)(-d / 86400));
}

static void stamp(char *buf, size_t n, int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
}

/* The OCSP answer the running moat stored last (tls.ocsp). */
static void print_ocsp(const moat_config *cfg, const char *path, bool managed)
{
    if (!cfg->tls.ocsp) {
        printf("  %-13s off (tls.ocsp = false)\n", "ocsp");
        return;
    }
    moat_ocsp_info in;
    int rc = moat_ocsp_stored(cfg, path, &in);
    if (rc == MOAT_EINVAL) {
        printf("  %-13s %s\n", "ocsp", in.reason);
        return;
    }
    if (rc < 0) {
        printf("  %-13s no answer stored yet (moat serve asks the responder at start)\n", "ocsp");
        return;
    }
    char checked[32], a[32] = "", b[32] = "";
    stamp(checked, sizeof(checked), in.checked);
    switch (in.status) {
    case MOAT_OCSP_GOOD:
        if (in.next_update) stamp(a, sizeof(a), in.next_update);
        printf("  %-13s good (checked %s%s%s)\n", "ocsp", checked,
               a[0] ? ", answer valid until " : "", a);
        break;
    case MOAT_OCSP_REVOKED:
        if (in.revoked_at) stamp(b, sizeof(b), in.revoked_at);
        printf("  %-13s REVOKED%s%s (%s; checked %s)\n", "ocsp", b[0] ? " at " : "", b, in.reason,
               checked);
        printf("  %-13s REVOKED: %s\n", "state",
               managed ? "moat serve orders a new certificate"
                       : "replace the certificate and reload (moat cannot)");
        break;
    default:
        printf("  %-13s the stored answer is not usable: %s (checked %s)\n", "ocsp", in.reason,
               checked);
        break;
    }
}

static void print_cert(const moat_config *cfg, const char *path, const char *how, bool managed,
                       int64_t now)
{
    moat_acme_certinfo ci;
    printf("%s (%s)\n", path, how);
    int rc = moat_acme_cert_info(path, &ci);
    if (rc < 0) {
        printf("  %s\n", rc == MOAT_ENOENT
                             ? (managed ? "no certificate yet: moat serve obtains one" : "missing")
                             : "not a PEM certificate");
        return;
    }
    moat_buf e;
    moat_buf_init(&e);
    moat_term_escape(&e, ci.names, strlen(ci.names), 0);
    printf("  %-13s %s\n", "names", e.data);
    moat_buf_reset(&e);
    moat_term_escape(&e, ci.issuer, strlen(ci.issuer), 0);
    printf("  %-13s %s\n", "issuer", e.data);
    moat_buf_free(&e);
    put_time("not after", ci.not_after, now);
    if (ci.not_after <= now) printf("  %-13s EXPIRED\n", "state");
    if (!managed)
        printf("  %-13s by hand (not managed by moat)\n", "renewal");
    else if (moat_acme_renew_at(&ci) <= now)
        printf("  %-13s due now (moat serve renews it)\n", "renewal");
    else
        put_time("renewal", moat_acme_renew_at(&ci), now);
    print_ocsp(cfg, path, managed);
}

/* `moat cert status|renew [--config FILE]`: the options and the config.
 * -1 with *cfg owned by the caller, or the exit status (0 after --help). */
static int load_config(int argc, char **argv, moat_config **cfg)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'C'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    moat_config_source src = {0};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (ch == 'C') {
            src.path = optarg;
        } else if (ch == 'h') {
            fputs(usage_cert, stdout);
            return 0;
        } else {
            fputs(usage_cert, stderr);
            return 2;
        }
    }
    char *why = NULL;
    if (moat_config_load(&src, cfg, &why) < 0) {
        fprintf(stderr, "moat cert: %s\n", why);
        free(why);
        return 1;
    }
    return -1;
}

static int cert_status(int argc, char **argv)
{
    moat_config *cfg = NULL;
    int front = load_config(argc, argv, &cfg);
    if (front >= 0) return front;
    int64_t now = (int64_t)time(NULL);
    size_t n = 0;
    for (size_t i = 0; i < cfg->tls.cert.len; i++, n++)
        print_cert(cfg, cfg->tls.cert.items[i], i ? "tls.cert, by SNI" : "tls.cert, default", false,
                   now);
    if (cfg->tls.acme.on) {
        moat_acme_paths p;
        moat_acme_paths_init(cfg, &p);
        char *how =
            moat_xasprintf("ACME %s from %s", cfg->tls.acme.challenge, cfg->tls.acme.directory);
        print_cert(cfg, p.cert, how, true, now);
        free(how);
        moat_acme_paths_free(&p);
        n++;
    }
    if (n == 0) printf("no certificates: TLS is off (tls.cert and [tls.acme] are not set)\n");
    moat_config_free(cfg);
    return 0;
}

static int cert_renew(int argc, char **argv)
{
    moat_config *cfg = NULL;
    int front = load_config(argc, argv, &cfg);
    if (front >= 0) return front;
    if (!cfg->tls.acme.on) {
        fprintf(stderr, "moat cert renew: [tls.acme] is not set: moat does not manage the "
                        "certificate (replace tls.cert and reload)\n");
        moat_config_free(cfg);
        return 1;
    }
    moat_acme_paths p;
    moat_acme_paths_init(cfg, &p);
    int rc = 0;
    if (access(p.dir, F_OK) != 0) {
        printf("no certificate yet: moat serve obtains one\n");
    } else {
        int fd = open(p.renew, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "moat cert renew: cannot write %s: %s\n", p.renew, strerror(errno));
            rc = 1;
        } else {
            close(fd);
            if (geteuid() == 0) {
                const char *mine[] = {p.renew, NULL};
                moat_cli_give(cfg, mine); /* the serving user removes it once renewed */
            }
            printf("renewal asked for (%s)\n", p.renew);
            fflush(stdout);
            char *args[] = {"reload", "--config", cfg->source, NULL};
            if (!cfg->source) args[1] = NULL;
            if (moat_cmd_reload(cfg->source ? 3 : 1, args) != 0)
                printf("the running moat renews at its next reload or start\n");
        }
    }
    moat_acme_paths_free(&p);
    moat_config_free(cfg);
    return rc;
}

int moat_cmd_cert(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_cert, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "status") == 0) return cert_status(argc, argv);
    if (strcmp(argv[1], "renew") == 0) return cert_renew(argc, argv);
    if (strcmp(argv[1], "selfsigned") != 0) {
        fprintf(stderr, "moat cert: unknown command '%s'\n%s", argv[1], usage_cert);
        return 2;
    }
    static const struct option opts[] = {
        {"cert", required_argument, NULL, 'c'}, {"key", required_argument, NULL, 'k'},
        {"days", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    const char *cert = "cert.pem", *key = "key.pem";
    moat_config_source src = {0};
    /* A year: a short default is flagged by scanners (testssl) as expiring,
     * and 365 stays under the 398 days browsers allow a server certificate. */
    uint64_t days = 365;
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "c:k:d:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            cert = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'C':
            src.path = optarg;
            break;
        case 'd':
            if (moat_parse_u64(optarg, strlen(optarg), &days) < 0 || days == 0 || days > 825) {
                fprintf(stderr, "moat cert: --days must be 1..825\n");
                return 2;
            }
            break;
        case 'h':
            fputs(usage_cert, stdout);
            return 0;
        default:
            fputs(usage_cert, stderr);
            return 2;
        }
    }
    static char *defaults[] = {"localhost", "127.0.0.1", "::1"};
    char **names = optind < argc ? argv + optind : defaults;
    size_t n = optind < argc ? (size_t)(argc - optind) : 3;
    for (size_t i = 0; i < n; i++) {
        bool printable = true; /* printable ASCII: no control, no UTF-8 */
        for (const char *p = names[i]; *p; p++)
            printable &= *p > 0x20 && *p < 0x7f;
        if (!names[i][0] || strlen(names[i]) > 253 || !printable || strpbrk(names[i], " ,/\\\"'")) {
            moat_buf e;
            moat_buf_init(&e);
            moat_term_escape(&e, names[i], strlen(names[i]), 0);
            fprintf(stderr, "moat cert: invalid name '%s'\n", e.data);
            moat_buf_free(&e);
            return 2;
        }
    }
    char err[512];
    if (moat_cert_selfsigned(cert, key, names, n, (unsigned)days, err, sizeof(err)) < 0) {
        fprintf(stderr, "moat cert: %s\n", err);
        return 1;
    }
    printf("wrote %s and %s (self-signed, %llu days) for", cert, key, (unsigned long long)days);
    for (size_t i = 0; i < n; i++)
        printf(" %s", names[i]);
    printf("\n");
    fflush(stdout);
    if (geteuid() == 0) {
        /* root: the files are for `moat serve`, which reads them as its user */
        moat_config *cfg = NULL;
        char *why = NULL;
        if (moat_config_load(&src, &cfg, &why) == 0) {
            const char *mine[] = {cert, key, NULL};
            moat_cli_give(cfg, mine);
            moat_config_free(cfg);
        } else {
            fprintf(stderr, "moat cert: the files stay root's (no valid configuration):\n");
            moat_buf e;
            moat_buf_init(&e);
            moat_term_escape(&e, why, strlen(why), MOAT_TERM_TEXT);
            fprintf(stderr, "%s\n", e.data);
            moat_buf_free(&e);
            free(why);
        }
    }
    return 0;
}
