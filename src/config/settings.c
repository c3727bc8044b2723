/* settings.c - the settings table: every setting moat reads, declared once
 * with its key, type, default, allowed values, place in moat_config and the
 * text of its documentation. Defaults (load.c), the effective-settings dump
 * (dump.c) and docs/configuration.md (docs.c) are all generated from it: to
 * add a setting, add a field to moat_config and a row here. */
#include "settings.h"

#include <ctype.h>
#include <string.h>

#define KIB UINT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define SEC UINT64_C(1000)
#define MINUTE (60 * SEC)
#define HOUR (60 * MINUTE)

#define AT(field) offsetof(moat_config, field)
#define RULE(field) offsetof(moat_header_rule, field)
#define AUTHRULE(field) offsetof(moat_auth_rule, field)
#define RATERULE(field) offsetof(moat_rate_rule, field)

static const char *const access_formats[] = {"json", "combined", NULL};
static const char *const log_flush_values[] = {"write", "fsync", NULL};
static const char *const log_on_failure_values[] = {"serve", "refuse", NULL};
static const char *const tls_profiles[] = {"intermediate", "modern", NULL};
static const char *const acme_challenges[] = {"tls-alpn-01", "http-01", NULL};

static const char *check_acme_url(char *v)
{
    if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
        return "expected an https:// URL";
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= 0x20 || *p == 0x7f) return "must not contain spaces or control characters";
    return NULL;
}

static const char *check_acme_email(char *v)
{
    if (!v[0]) return NULL;
    const char *at = strchr(v, '@');
    if (!at || at == v || !at[1] || strchr(at + 1, '@')) return "expected an address NAME@DOMAIN";
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("\"<>,;:()[]\\", *p))
            return "expected a plain address NAME@DOMAIN";
    return NULL;
}
static const char *const frame_options[] = {"DENY", "SAMEORIGIN", "off", NULL};
static const char *const samesite_values[] = {"Lax", "Strict", "None", "off", NULL};
static const char *const audit_levels[] = {"low", "medium", "high", NULL};
static const char *const cvss_levels[] = {"low", "medium", "high", "critical", NULL};
static const char *const rate_per_values[] = {"address", "user", "token", NULL};

static const char *check_ban_on(char *v)
{
    if (!strcmp(v, "waf") || !strcmp(v, "paths") || !strcmp(v, "login") || !strcmp(v, "rate"))
        return NULL;
    return "expected \"waf\", \"paths\", \"login\" or \"rate\"";
}

static const char *check_nonempty_line(char *v)
{
    if (!v[0]) return "must not be empty";
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return "must be one line without control characters";
    return NULL;
}

static const char *check_store_url(char *v)
{
    if (strncmp(v, "sqlite:", 7) != 0 || v[7] == '\0')
        return "expected \"sqlite:PATH\" (both roles in one file; to share them between "
               "instances set store.users and store.state instead)";
    return NULL;
}

/* No control characters: URLs go into messages (without their password). */
static bool url_chars(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x21 || *p == 0x7f) return false;
    return true;
}

static const char *check_store_users(char *v)
{
    if (!v[0]) return NULL; /* store.url */
    if (!url_chars(v)) return "must not contain spaces or control characters";
    if ((strncmp(v, "sqlite:", 7) == 0 && v[7]) || strncmp(v, "postgresql://", 13) == 0 ||
        strncmp(v, "postgres://", 11) == 0)
        return NULL;
    return "expected \"sqlite:PATH\" or \"postgresql://USER@HOST:PORT/DB?...\"";
}

static const char *check_store_state(char *v)
{
    if (!v[0]) return NULL; /* store.users */
    if (!url_chars(v)) return "must not contain spaces or control characters";
    if ((strncmp(v, "sqlite:", 7) == 0 && v[7]) || strncmp(v, "redis://", 8) == 0 ||
        strncmp(v, "rediss://", 9) == 0)
        return NULL;
    return "expected \"redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]\", \"rediss://...\" (TLS) or "
           "the users' \"sqlite:PATH\"";
}

static const char *check_issuer(char *v)
{
    size_t n = strlen(v);
    if (n > 64) return "expected at most 64 characters";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f || v[i] == ':')
            return "control characters and ':' are not allowed";
    return NULL;
}
static const char *const waf_modes[] = {"block", "detect", "off", NULL};
static const char *const waf_over_limit[] = {"refuse", "pass", NULL};

/* An access policy: public, authenticated, mfa, deny or role:NAME. */
static const char *check_policy(char *v)
{
    if (!strcmp(v, "public") || !strcmp(v, "authenticated") || !strcmp(v, "mfa") ||
        !strcmp(v, "deny"))
        return NULL;
    size_t n = strlen(v);
    if (n > 9 && strcmp(v + n - 4, "+mfa") == 0) n -= 4; /* role:NAME+mfa */
    if (strncmp(v, "role:", 5) == 0 && n > 5 && n - 5 <= 64) {
        bool ok = true;
        for (const char *p = v + 5; p < v + n; p++)
            if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-') ok = false;
        if (ok) return NULL;
    }
    return "expected public, authenticated, mfa, deny, role:NAME or role:NAME+mfa (a role name: "
           "letters, digits, . _ -)";
}

static const char *check_rule_path(char *v)
{
    return moat_route_check(v);
}

static const char *check_rule_host(char *v)
{
    if (!v[0] || strlen(v) > 253) return "expected a host name";
    for (char *p = v; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != ':' && *p != '[' &&
            *p != ']')
            return "expected a host name (letters, digits, '.', '-', or an address)";
        *p = (char)tolower((unsigned char)*p);
    }
    return NULL;
}

static const char *check_rule_method(char *v)
{
    if (!v[0] || strlen(v) > 20) return "expected a method name such as GET";
    for (char *p = v; *p; p++) {
        if (!isalpha((unsigned char)*p) && *p != '-') return "expected a method name such as GET";
        *p = (char)toupper((unsigned char)*p);
    }
    return NULL;
}

static const char *check_strip_header(char *v)
{
    size_t n = strlen(v);
    if (n && v[n - 1] == '*') n--;
    if (n == 0) return "expected a header name, or a prefix ending in '*'";
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && !strchr("!#$%&'+-.^_`|~", v[i]))
            return "expected a header name, or a prefix ending in '*'";
    return NULL;
}

static const char *check_site_name(char *v)
{
    if (strlen(v) > 64) return "expected at most 64 characters";
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == ':')
            return "control characters and ':' are not allowed (it is the TOTP issuer too)";
    return NULL;
}

static const char *check_color(char *v)
{
    size_t n = strlen(v);
    if (v[0] != '#' || (n != 4 && n != 7)) return "expected a colour as \"#rrggbb\" or \"#rgb\"";
    for (size_t i = 1; i < n; i++)
        if (!isxdigit((unsigned char)v[i])) return "expected a colour as \"#rrggbb\" or \"#rgb\"";
    return NULL;
}

static const char *check_back_url(char *v)
{
    if (!v[0]) return NULL;
    bool ok = (strncmp(v, "https://", 8) == 0 && v[8]) || (strncmp(v, "http://", 7) == 0 && v[7]) ||
              (v[0] == '/' && v[1] != '/' && v[1] != '\\');
    for (const char *p = v; ok && *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '<' || *p == '>')
            ok = false;
    return ok ? NULL : "expected an http(s):// URL or a path on this site";
}

static const char *check_identity_secret(char *v)
{
    if (v[0] && strlen(v) < 32)
        return "expected at least 32 characters (use ${file:PATH} to read it from a file), or "
               "\"\" for none";
    return NULL;
}

const moat__config_table moat__config_tables[] = {
    {.name = "", .doc = "Where moat listens, where it forwards to, and which requests it accepts."},
    {.name = "limits",
     .doc =
         "Bounds on every connection and request. They keep each connection's memory bounded and "
         "stop slow or oversized clients from tying the gateway up. A client that crosses one gets "
         "the HTTP status given with it, if any, and its connection is closed."},
    {.name = "limits.rate",
     .doc = "Rate limits (nginx's `limit_req`, BunkerWeb's limits): each `[[limits.rate]]` entry "
            "allows a client at most `requests` (plus `burst`) requests within a sliding "
            "`window` on the paths it names; past that the client gets `429 Too Many Requests` "
            "with `Retry-After`. Every entry that matches a request counts it. The counters "
            "live in the state store (`store.url`), so instances sharing a store share the "
            "limit. A request the store cannot count on a limited route is refused with "
            "`503` (fail closed); other routes never touch the store. See docs/limits.md:\n\n"
            "```toml\n[[limits.rate]]\npath = \"/.moat/login\"\nmethods = [\"POST\"]\n"
            "requests = 10\nwindow = \"1m\"\n\n[[limits.rate]]\npath = \"/api/\"\n"
            "per = \"token\"\nrequests = 600\nwindow = \"1m\"\nburst = 60\n```",
     .array = true,
     .elem_size = sizeof(moat_rate_rule),
     .array_offset = AT(limits.rate)},
    {.name = "tls",
     .doc = "HTTPS. With `tls.listen` set, moat terminates TLS (1.2 and 1.3 only) with the "
            "certificates given, and its plain-HTTP listeners answer every request with a "
            "permanent redirect to HTTPS. Certificates and keys are read again on `SIGHUP`."},
    {.name = "tls.acme",
     .doc = "Certificates that take care of themselves: with a `[tls.acme]` table (even an "
            "empty one) moat obtains the certificate for `domains` from an ACME CA (RFC 8555; "
            "Let's Encrypt by default), answers the CA's challenge itself, stores the "
            "certificate and its key in the state folder (`acme/` beside the store's "
            "database), serves it without a restart and renews it at two thirds of its "
            "lifetime. `tls.cert` and `tls.key` stay empty. See [tls.md](tls.md)."},
    {.name = "paths",
     .doc =
         "Paths that must never reach the application: version-control folders, environment files, "
         "Python sources and bytecode, databases, backups, instance folders. Rules are matched "
         "after the path is normalised (one percent-decoding pass, `\\\\` as `/`, `;` parameters "
         "dropped, `.` and `..` resolved, strict UTF-8), so every encoded spelling of a path "
         "meets the same rule, and the application receives the normalised path. A refused path "
         "gets `404 Not Found`, as if it did not exist. Requests for the Werkzeug debugger "
         "(`__debugger__` in the query, `/console`) are refused the same way."},
    {.name = "headers",
     .doc = "Security headers added to every response, and banners removed from it. The "
            "application may make a header stricter, never weaker: moat sends the stricter of "
            "its own value and the application's (see [Hardening](hardening.md#the-applications-"
            "own-headers) for how each header is compared), and its CSP beside the "
            "application's. `headers.override = true` sends moat's values only; a header set "
            "to `\"\"` is not added (the application's then passes as it is). "
            "`[[headers.paths]]` entries change the values for parts of the site."},
    {.name = "headers.paths",
     .doc = "Header values for the paths under a prefix, for the parts of a site that need another "
            "policy (Django's admin loads inline scripts and styles; an embeddable widget needs "
            "framing). Each `[[headers.paths]]` entry names a `path` prefix and any of the keys "
            "below; a key it leaves out keeps the value of `[headers]`. The entries are tried in "
            "the order written against the normalised request path, and the first whose prefix "
            "matches applies (list longer prefixes first):\n\n"
            "```toml\n[[headers.paths]]\npath = \"/admin/\"\n"
            "csp = \"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
            "'unsafe-inline'\"\n```",
     .array = true,
     .elem_size = sizeof(moat_header_rule),
     .array_offset = AT(headers.paths)},
    {.name = "cookies",
     .doc = "Hardening of every `Set-Cookie` the application sends. A `Set-Cookie` that is "
            "not a valid cookie (RFC 6265bis) is dropped, never passed on half-parsed. An "
            "attribute browsers would reject or misread is mended: an invalid or repeated "
            "`SameSite` becomes the strictest valid one given, else `cookies.samesite`; "
            "`SameSite=None` without `Secure` gets `Secure` over HTTPS and `cookies.samesite` "
            "(`Lax` if that is `None`) over HTTP; a `Partitioned` or `__Secure-` cookie without "
            "`Secure`, or a "
            "`__Host-` cookie without `Secure` or `Path=/` or with `Domain`, is fixed over "
            "HTTPS and dropped over plain HTTP. Each mended cookie is a `response.cookie.fixed` "
            "event, each dropped one a `response.cookie.dropped` event."},
    {.name = "errors",
     .doc = "What the client sees when the application fails: moat's generic page, with "
            "the status kept and a request id, instead of the application's error page."},
    {.name = "waf",
     .doc = "The web application firewall: every request's method, URI and query, headers, cookies "
            "and body (URL-encoded forms, multipart forms with their file names, JSON) are "
            "inspected with the OWASP Core Rule Set (the Debian `modsecurity-crs` package, run by "
            "libmodsecurity 3) and moat's rules for attacks on Python applications (template "
            "injection, Python code injection, Werkzeug debugger abuse, pickle and YAML payloads, "
            "XXE) before anything reaches the application. A blocked request gets `403 Forbidden` "
            "with a request id; what matched goes to the security log (`waf.blocked`), never to "
            "the client. Responses are not inspected. See docs/waf.md."},
    {.name = "log",
     .doc = "The two logs. The access log has one line per request. The security event log "
            "has one JSON line per security-relevant event (refusals, logins, sessions, reloads; "
            "see docs/events.md), with secrets redacted and every line chained to the one before "
            "it, and sealed with an evolving key when `seal_key` is set (see docs/seclog.md): "
            "`moat log verify` finds any line changed, inserted, deleted or reordered, and "
            "`moat log why REQUEST_ID` explains a refusal. Operator diagnostics (start, reload, "
            "errors) always go to standard error."},
    {.name = "store",
     .doc = "Where moat keeps its state, in two roles: the users (password hashes, roles, "
            "second factors, recovery codes, tokens) and the state (sessions, login-failure "
            "counters and lockouts, TOTP replay marks, rate limits, bans). One machine: "
            "`url`, one SQLite file for both (a rollback journal, created mode 0600). Several "
            "instances: `users` in PostgreSQL (or an SQLite file they share) and `state` in "
            "Redis. See docs/scaling.md."},
    {.name = "auth",
     .doc = "Authentication: the password policy (NIST SP 800-63B), Argon2id parameters for "
            "new hashes, TOTP second factors and lockout after failed logins. See docs/auth.md "
            "and `moat user --help`. The gateway enforces `[[auth.rules]]` with sessions from its "
            "login portal under `/.moat/` (docs/auth.md)."},
    {.name = "auth.rules",
     .doc = "Who may reach which requests. Each `[[auth.rules]]` entry names a `path` (a path "
            "and what is under it, or a glob when it has `*` or `?`), optionally a `host` and "
            "`methods`, and a `policy`. The entries are tried in the order written against the "
            "normalised path; the first that matches decides, and `auth.default` decides for "
            "requests no entry matches. A rule that guards (any policy but `public`) also "
            "covers the path with a trailing slash, what is under it, its extensions "
            "(`/admin.json`) and, with `auth.case_insensitive_paths`, any case; a `public` rule "
            "opens only the case written, and a `public` glob only what it matches whole "
            "(docs/auth.md, \"Which paths a rule covers\"):\n\n"
            "```toml\n[[auth.rules]]\npath = \"/admin/\"\npolicy = \"role:admin\"\n\n"
            "[[auth.rules]]\npath = \"/api/\"\nmethods = [\"POST\", \"DELETE\"]\n"
            "policy = \"authenticated\"\n```",
     .array = true,
     .elem_size = sizeof(moat_auth_rule),
     .array_offset = AT(auth.rules)},
    {.name = "audit",
     .doc = "`moat audit code` and `moat audit settings`: which files of the tree are "
            "analysed, which rules are skipped, and the lowest severity and confidence reported "
            "(see docs/audit-code.md). Findings can also be silenced in the source with "
            "`# nosec [ID]` or `# moat: ignore[ID]`, or recorded in a baseline."},
    {.name = "audit.ignore",
     .doc = "Advisories `moat audit deps` does not report, each with the reason and, optionally, "
            "the last day it applies (after it the advisory is reported again, with a "
            "warning). An entry matches an advisory by any of its ids and aliases. Written "
            "as `[[audit.ignore]]` tables or, in `[audit]`, as "
            "`ignore = [{ id = \"PYSEC-2020-96\", reason = \"...\", expires = 2026-12-31 }]` "
            "(see docs/audit-deps.md). `moat audit deps` also reads this list from the audited "
            "project's own `pyproject.toml`.",
     .array = true,
     .elem_size = sizeof(moat_audit_ignore),
     .array_offset = AT(audit.ignore)},
    {.name = "portal",
     .doc = "How moat's own pages look: the login portal under `/.moat/` and the error pages "
            "moat answers with. They are built from templates (`templates/` in moat's "
            "repository, compiled in) and one stylesheet moat serves at `/.moat/moat.css`; "
            "no script, nothing inline, so they pass moat's default CSP. Set the site's "
            "name, logo and colour here, or give a folder of templates that replace the "
            "built-in ones by name. Read at start and on `SIGHUP`. See docs/auth.md, "
            "\"How the pages look\"."},
    {.name = "admin",
     .doc = "The admin listener: Prometheus metrics (`GET /metrics`, text format 0.0.4) on "
            "an address of its own, never on the public listeners. Off unless `listen` is "
            "given; bound at start (a change needs a restart, not `SIGHUP`). See "
            "docs/operations.md."},
};
const size_t moat__config_ntables = MOAT_ARRAY_LEN(moat__config_tables);

const moat__config_setting moat__config_settings[] = {
    /* ---- top level ---- */
    {
        .key = "listen",
        .type = MOAT__CFG_LIST,
        .def = "[\"127.0.0.1:8080\"]",
        .min = 1,
        .check = moat__config_check_listen,
        .allowed = "`ADDRESS:PORT` with an IPv4 address or an IPv6 address in brackets; at "
                   "least one",
        .unique = true,
        .offset = AT(listen),
        .doc = "Addresses the gateway accepts plain-HTTP connections on. Each is an IPv4 "
               "address and port (`\"127.0.0.1:8080\"`, or `\"0.0.0.0:80\"` for every "
               "interface) or an IPv6 address in brackets (`\"[::1]:8080\"`, `\"[::]:80\"`).\n\n"
               "Host names are refused: a name can resolve to more addresses than you meant to "
               "expose. The default accepts connections from this machine only; list the "
               "public address when moat itself faces the network. `--listen ADDRESS:PORT` on "
               "the command line replaces this list.",
    },
    {
        .key = "upstream",
        .type = MOAT__CFG_LIST,
        .def = "[\"http://127.0.0.1:8000\"]",
        .min = 1,
        .check = moat__config_check_upstream,
        .allowed = "`http://HOST:PORT` or `unix:/absolute/path`; at least one",
        .offset = AT(upstream),
        .doc = "The application moat forwards requests to: `\"http://HOST:PORT\"`, where HOST "
               "is an IPv4 address, an IPv6 address in brackets or a host name (a container's "
               "service name, for instance), or `\"unix:/absolute/path\"` for a Unix socket "
               "(gunicorn `--bind unix:/run/app.sock`, uvicorn `--uds /run/app.sock`). With "
               "several entries, requests are spread over them in turn.\n\n"
               "The port is required. Nothing may follow it but a single `/`: moat forwards "
               "each request's own path. `https://` upstreams are not supported yet; moat is "
               "meant to run beside the application, on the same machine or a private network. "
               "`--upstream URL` on the command line replaces this list.",
    },
    {
        .key = "hosts",
        .type = MOAT__CFG_LIST,
        .def = "[]",
        .check = moat__config_check_host,
        .allowed = "host names, `*.` wildcards and IP addresses, each with an optional `:PORT`",
        .offset = AT(hosts),
        .doc = "The Host allow-list, like Django's `ALLOWED_HOSTS`: a request whose `Host` "
               "header matches no entry is refused before it reaches the application. An entry "
               "is a host name (`\"example.com\"`), a wildcard that stands for exactly one more "
               "label (`\"*.example.com\"` matches `www.example.com`, but neither "
               "`example.com` nor `a.b.example.com`), or an IP address (IPv6 in brackets), "
               "each optionally followed by `:PORT` to accept that port only. Names are "
               "compared without regard to case (moat stores them in lower case).\n\n"
               "The empty list (the default) accepts any host. That is fine behind a proxy "
               "that checks the host itself, and risky when moat faces the internet: a forged "
               "Host header can poison password-reset links and caches. `\"*\"` is refused; "
               "write `[]` if any host is really meant. Once TLS support lands, these names "
               "will also be the names the certificate must cover.",
    },
    {
        .key = "workers",
        .type = MOAT__CFG_WORKERS,
        .def = "\"auto\"",
        .min = 1,
        .max = 1024,
        .offset = AT(workers),
        .doc = "Number of worker threads. Each runs its own event loop with its own listening "
               "socket, and the limits on connections apply per worker. `\"auto\"` starts one "
               "worker per CPU the process may run on.",
    },
    {
        .key = "trusted_proxies",
        .type = MOAT__CFG_LIST,
        .def = "[]",
        .check = moat__config_check_proxy,
        .allowed = "IPv4 or IPv6 addresses and CIDR networks",
        .offset = AT(trusted_proxies),
        .doc = "Proxies in front of moat (load balancers, CDNs) whose forwarding headers "
               "(`X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host`, `Forwarded`, "
               "`X-Real-IP`, ...) are believed: IPv4 or IPv6 addresses (`\"10.0.0.7\"`, "
               "`\"fd00::7\"`) or CIDR networks (`\"10.0.0.0/8\"`, "
               "`\"fd00::/8\"`; the address must be the network's first address). From any "
               "other peer those headers are not believed, so a client cannot pass itself off "
               "as another address or claim HTTPS.\n\n"
               "The empty list (the default) trusts no one: the client is the peer of the TCP "
               "connection. Avoid `0.0.0.0/0` and `::/0`: they let any client forge its "
               "address.",
    },
    {
        .key = "user",
        .type = MOAT__CFG_STRING,
        .def = "\"nobody\"",
        .check = moat__config_check_account,
        .allowed = "a user name",
        .offset = AT(user),
        .doc = "The account moat serves as when it is started as root. It binds its ports, "
               "reads its certificates and opens its logs as root, then gives up root for "
               "good (user, group and supplementary groups, with `no_new_privs` set) before "
               "it serves a single request. moat refuses to serve as root: naming `root` here "
               "is an error. A dedicated account (`adduser --system moat`) is better than the "
               "default `nobody`, which other daemons may share.\n\n"
               "Log files moat created as root are handed to this account; the security log's "
               "folder (rotation) and the sealing key's folder (the key is rewritten as it "
               "evolves) must be writable by it, or moat stops with a message saying so. A "
               "`SIGHUP` reload reads the configuration and certificates again as this account: "
               "make them readable by it (owner or group), or the reload fails and the running "
               "configuration stays. Started as any other user, moat keeps that user.",
    },
    {
        .key = "group",
        .type = MOAT__CFG_STRING,
        .def = "\"nogroup\"",
        .check = moat__config_check_account,
        .allowed = "a group name",
        .offset = AT(group),
        .doc = "The group moat serves as when started as root (see `user`); its only group "
               "once privileges are dropped. Key and configuration files readable by this group "
               "are not warned about; readable by any other group or by others, they are.",
    },
    {
        .key = "pid_file",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .allowed = "a file path, or `\"\"` for none",
        .path = true,
        .offset = AT(pid_file),
        .doc = "Where `moat serve` writes its process id at start (and removes it when it "
               "stops), for `moat reload`, `moat status` and `kill -HUP $(cat FILE)`. Beside "
               "it, `FILE.status` holds the outcome of the last reload, which `moat reload` "
               "waits for and reports, and the start time and listeners `moat status` shows. "
               "`\"\"` (the default): no pid file. Read at start: a "
               "reload keeps the file it started with. The packaged configuration uses "
               "`/run/moat/moat.pid` (the unit's `RuntimeDirectory`).",
    },

    /* ---- [limits] ---- */
    {
        .key = "limits.url_bytes",
        .type = MOAT__CFG_SIZE,
        .def = "8192",
        .min = 256,
        .max = MIB,
        .offset = AT(limits.url_bytes),
        .doc = "Longest request target accepted (the path with its query string), in bytes. "
               "A longer one gets `414 URI Too Long`.",
    },
    {
        .key = "limits.header_bytes",
        .type = MOAT__CFG_SIZE,
        .def = "16384",
        .min = 1024,
        .max = MIB,
        .offset = AT(limits.header_bytes),
        .doc = "Largest request head accepted: the request line and all header fields "
               "together. A larger one gets `431 Request Header Fields Too Large`.",
    },
    {
        .key = "limits.headers",
        .type = MOAT__CFG_COUNT,
        .def = "100",
        .min = 1,
        .max = 1000,
        .offset = AT(limits.headers),
        .doc = "Most header fields accepted in one request. More get `431 Request Header "
               "Fields Too Large`.",
    },
    {
        .key = "limits.body_bytes",
        .type = MOAT__CFG_SIZE,
        .def = "\"10MiB\"",
        .min = 0,
        .max = 64 * GIB,
        .offset = AT(limits.body_bytes),
        .doc = "Largest request body accepted, whether it is sent with `Content-Length` or "
               "chunked. A request that declares a larger `Content-Length` gets `413 Content "
               "Too Large` before any of its body is read; a chunked body is cut off with "
               "`413` as soon as it grows past the limit.\n\n"
               "`0` means requests may carry no body at all. There is no \"unlimited\": set it "
               "to what your largest upload needs.",
    },
    {
        .key = "limits.header_timeout",
        .type = MOAT__CFG_DURATION,
        .def = "\"10s\"",
        .min = 100,
        .max = HOUR,
        .offset = AT(limits.header_timeout_ms),
        .doc = "Time a client has to send a whole request head: the request line and its "
               "header fields. A slower client gets `408 Request Timeout`. This is what stops "
               "slowloris "
               "attacks, which hold connections open by sending headers a byte at a time.",
    },
    {
        .key = "limits.body_timeout",
        .type = MOAT__CFG_DURATION,
        .def = "\"30s\"",
        .min = 100,
        .max = HOUR,
        .offset = AT(limits.body_timeout_ms),
        .doc = "Longest a client may pause while sending a request body. A client that stalls "
               "longer gets `408 Request Timeout`.",
    },
    {
        .key = "limits.keepalive_timeout",
        .type = MOAT__CFG_DURATION,
        .def = "\"75s\"",
        .min = 0,
        .max = HOUR,
        .offset = AT(limits.keepalive_timeout_ms),
        .doc = "How long an idle client connection stays open waiting for its next request. "
               "`0` turns keep-alive off: every connection serves one request.",
    },
    {
        .key = "limits.connections",
        .type = MOAT__CFG_COUNT,
        .def = "10000",
        .min = 1,
        .max = 1000000,
        .offset = AT(limits.connections),
        .doc = "Most client connections one worker holds at once; past it, new connections "
               "are closed as soon as they are accepted. The whole gateway holds up to this "
               "times `workers`. Each proxied request also uses a socket to the upstream, so "
               "keep twice this times `workers` under the open-file limit (`ulimit -n`).",
    },
    {
        .key = "limits.crowded_header_timeout",
        .type = MOAT__CFG_DURATION,
        .def = "\"2s\"",
        .min = 100,
        .max = HOUR,
        .offset = AT(limits.crowded_header_timeout_ms),
        .doc = "Time a new connection has to send its first byte while its worker is crowded: "
               "from three quarters of `limits.connections` on, and until it is back down to "
               "half. A connection that stays silent this long is closed (quietly: it sent no "
               "request to answer); one that is sending has the whole `limits.header_timeout` "
               "from its first byte, as always. Connections that never send (idle scanners, "
               "a flood of empty connections) then hold a slot this long instead of "
               "`limits.header_timeout`. When it is longer than `limits.header_timeout`, "
               "that one applies. The `connections.crowded` event marks each episode.",
    },
    {
        .key = "limits.client_buffer_bytes",
        .type = MOAT__CFG_SIZE,
        .def = "32768",
        .min = 4096,
        .max = 16 * MIB,
        .offset = AT(limits.client_buffer_bytes),
        .doc = "Most response bytes moat keeps queued for one client connection beyond what "
               "the kernel's socket buffer took. Past it moat stops reading the response from "
               "the upstream until the client has read half of it (backpressure), so a client "
               "that reads slowly holds this much of moat's memory, not the whole response.",
    },
    {
        .key = "limits.send_timeout",
        .type = MOAT__CFG_DURATION,
        .def = "\"60s\"",
        .min = 100,
        .max = HOUR,
        .offset = AT(limits.send_timeout_ms),
        .doc = "Longest a client may leave a response unread: when nothing queued for it has "
               "been taken by its connection for this long, the connection is closed and an "
               "`http.rejected` event names this setting. While a slow client holds the "
               "response back, the upstream's silence is not counted against "
               "`upstream_timeout`.",
    },
    {
        .key = "limits.upstream_connect_timeout",
        .type = MOAT__CFG_DURATION,
        .def = "\"5s\"",
        .min = 100,
        .max = 10 * MINUTE,
        .offset = AT(limits.upstream_connect_timeout_ms),
        .doc = "Time allowed to open a connection to the upstream. Past it the client gets "
               "`504 Gateway Timeout`.",
    },
    {
        .key = "limits.upstream_timeout",
        .type = MOAT__CFG_DURATION,
        .def = "\"60s\"",
        .min = 100,
        .max = 24 * HOUR,
        .offset = AT(limits.upstream_timeout_ms),
        .doc = "Longest the upstream may stay silent: while moat waits for the response head, "
               "and between two pieces of the response body. Past it the client gets `504 "
               "Gateway Timeout`, or, when the response has already begun, its connection is "
               "closed. Raise it for long-polling or slow reports.",
    },
    {
        .key = "limits.upstream_keepalive",
        .type = MOAT__CFG_COUNT,
        .def = "64",
        .min = 0,
        .max = 100000,
        .offset = AT(limits.upstream_keepalive),
        .doc = "Idle connections to the upstream each worker keeps open for reuse. `0` opens "
               "a new upstream connection for every request. After a burst (an HTTP/2 client "
               "with many streams in flight) the connections past this number stay pooled "
               "for 0.1 s, then close unless a request took them.",
    },
    {
        .key = "limits.drain_timeout",
        .type = MOAT__CFG_DURATION,
        .def = "\"30s\"",
        .min = 0,
        .max = HOUR,
        .offset = AT(limits.drain_timeout_ms),
        .doc = "On `SIGTERM`, moat stops accepting connections and gives the requests in "
               "flight this long to finish before it closes them. `0` closes them at once. "
               "Every request already read is answered, with `Connection: close`; a "
               "keep-alive connection between requests is closed once it has been idle a "
               "second (a client in the middle of a run sends its next request first and "
               "gets it answered). It bounds the whole stop: half a second after it, moat "
               "exits even if thread-pool work (a WAF inspection, a store call) of requests "
               "already closed still runs; their results are dropped.",
    },
    {
        .key = "limits.upstream_idle_timeout",
        .type = MOAT__CFG_DURATION,
        .def = "\"1s\"",
        .min = 100,
        .max = HOUR,
        .offset = AT(limits.upstream_idle_timeout_ms),
        .doc = "Longest an idle pooled connection to the upstream is kept for reuse. Keep it "
               "below the upstream's own keep-alive timeout (gunicorn: `--keep-alive`, 2 s by "
               "default; uvicorn: `--timeout-keep-alive`, 5 s), so that moat drops an idle "
               "connection before the app closes it: a request sent on a connection the app "
               "is closing at that moment fails, and a `POST` whose bytes were sent is never "
               "sent twice (the client gets `502`).",
    },
    {
        .key = "limits.ban_strikes",
        .type = MOAT__CFG_COUNT,
        .def = "0",
        .min = 0,
        .max = 1000000,
        .offset = AT(limits.ban_strikes),
        .doc = "Bans for bad behaviour (BunkerWeb's \"bad behavior\"): a client address that "
               "collects this many refusals of the kinds `ban_on` lists within `ban_window` is "
               "refused on every path with `429 Too Many Requests` for `ban_duration`, by every "
               "instance sharing the state store, before any other work. `0` (the default) "
               "bans nobody. `moat ban list` shows the bans, `moat ban remove ADDRESS` lifts "
               "one. See docs/limits.md.",
    },
    {
        .key = "limits.ban_window",
        .type = MOAT__CFG_DURATION,
        .def = "\"1m\"",
        .min = SEC,
        .max = 24 * HOUR,
        .offset = AT(limits.ban_window_ms),
        .doc = "The time within which `ban_strikes` refusals ban an address.",
    },
    {
        .key = "limits.ban_duration",
        .type = MOAT__CFG_DURATION,
        .def = "\"1h\"",
        .min = SEC,
        .max = 365 * 24 * HOUR,
        .offset = AT(limits.ban_duration_ms),
        .doc = "How long a ban lasts (whole seconds); it ends by itself then, or earlier with "
               "`moat ban remove ADDRESS`.",
    },
    {
        .key = "limits.ban_on",
        .type = MOAT__CFG_LIST,
        .def = "[\"waf\", \"paths\", \"login\", \"rate\"]",
        .check = check_ban_on,
        .unique = true,
        .allowed = "any of `\"waf\"`, `\"paths\"`, `\"login\"`, `\"rate\"`",
        .offset = AT(limits.ban_on),
        .doc = "Which refusals count as strikes: `waf` a request the WAF blocked "
               "(`waf.blocked`), `paths` a request for a sensitive path (`path.denied`, the "
               "404 of `[paths]`), `login` a failed login, second-factor code or bearer token "
               "(`auth.login.failure`, `auth.mfa.failure`, `auth.token.failure`), `rate` a "
               "request refused by a `[[limits.rate]]` entry (`rate.limited`).",
    },

    {
        .key = "limits.http2_streams",
        .type = MOAT__CFG_COUNT,
        .def = "100",
        .min = 1,
        .max = 1000,
        .offset = AT(limits.http2_streams),
        .doc = "HTTP/2: most requests (streams) one client connection may have open at once, "
               "announced as `SETTINGS_MAX_CONCURRENT_STREAMS`; a client that opens more once "
               "it acknowledged the setting loses the connection (`GOAWAY PROTOCOL_ERROR`). "
               "Each open stream may hold "
               "`client_buffer_bytes` of its response and 64 KiB of its request body. See "
               "[tls.md](tls.md).",
    },
    {
        .key = "limits.http2_resets",
        .type = MOAT__CFG_COUNT,
        .def = "100",
        .min = 1,
        .max = 100000,
        .offset = AT(limits.http2_resets),
        .doc = "HTTP/2: most streams a client may cancel (`RST_STREAM`) on one connection "
               "within 10 seconds. Past it the connection gets `GOAWAY ENHANCE_YOUR_CALM` and "
               "is closed, with an `http.rejected` event naming this setting: the \"rapid "
               "reset\" attack (CVE-2023-44487) opens and cancels streams to make the app work "
               "for nothing.",
    },
    {
        .key = "limits.http2_control_frames",
        .type = MOAT__CFG_COUNT,
        .def = "200",
        .min = 10,
        .max = 100000,
        .offset = AT(limits.http2_control_frames),
        .doc = "HTTP/2: most frames that carry no request (`SETTINGS`, `PING`, `PRIORITY`, "
               "empty `DATA` and `CONTINUATION`, zero `WINDOW_UPDATE`) a client may send on "
               "one connection within 10 seconds. Past it the connection gets `GOAWAY "
               "ENHANCE_YOUR_CALM` and is closed, with an `http.rejected` event naming this "
               "setting (SETTINGS, PING and empty-frame floods).",
    },

    /* ---- [tls] ---- */
    {
        .key = "tls.listen",
        .type = MOAT__CFG_LIST,
        .def = "[]",
        .check = moat__config_check_listen,
        .allowed = "`ADDRESS:PORT` as for `listen`",
        .unique = true,
        .offset = AT(tls.listen),
        .doc = "Addresses moat accepts HTTPS connections on (`\"0.0.0.0:443\"`). Empty: no TLS; "
               "moat then serves plain HTTP only and sends no HSTS.",
    },
    {
        .key = "tls.cert",
        .type = MOAT__CFG_LIST,
        .def = "[]",
        .allowed = "paths of PEM files: the certificate first, then its chain",
        .path = true,
        .offset = AT(tls.cert),
        .doc = "Certificate chain files, one per certificate. With several, moat picks for "
               "each connection the certificate whose names (subjectAltName) cover the name "
               "the client asked for (SNI); the first is the default. `moat cert selfsigned` "
               "writes one for development.",
    },
    {
        .key = "tls.key",
        .type = MOAT__CFG_LIST,
        .def = "[]",
        .allowed = "paths of PEM private keys, in the order of `tls.cert`",
        .path = true,
        .offset = AT(tls.key),
        .doc = "The private key of each certificate of `tls.cert`, in the same order. Keep "
               "them readable by moat's user only: moat warns about keys others can read.",
    },
    {
        .key = "tls.profile",
        .type = MOAT__CFG_ENUM,
        .def = "\"intermediate\"",
        .enum_values = tls_profiles,
        .offset = AT(tls.profile),
        .doc = "Mozilla's server-side TLS profiles: `\"intermediate\"` (TLS 1.2 with AEAD "
               "ECDHE suites only, and TLS 1.3) serves every browser of the last years; "
               "`\"modern\"` allows TLS 1.3 only.",
    },
    {
        .key = "tls.redirect",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = AT(tls.redirect),
        .doc = "When TLS is on, answer plain-HTTP requests with `308 Permanent Redirect` to the "
               "same path and query over HTTPS. The Host is checked against `hosts` first, so "
               "the redirect never points to another site.",
    },
    {
        .key = "tls.redirect_exempt",
        .type = MOAT__CFG_LIST,
        .check = moat__config_check_route,
        .def = "[\"/.well-known/acme-challenge/\"]",
        .allowed = "routes in the glob dialect of `[[auth.rules]]`",
        .offset = AT(tls.redirect_exempt),
        .doc = "Routes still served over plain HTTP, for ACME HTTP-01 challenges, matched "
               "with the normalised path like an `[[auth.rules]]` path (`\"/x/\"`: what is "
               "under `/x/`; `\"/x\"`: `/x`, `/x/...`, `/x.ext`; `*`, `**`, `?`, a final `$`).",
    },
    {
        .key = "tls.session_tickets",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = AT(tls.session_tickets),
        .doc = "Session tickets let a returning client resume without a full handshake (TLS "
               "1.2 tickets and TLS 1.3 resumption). Their keys live in memory only, are made "
               "from the OS random source, are shared by all workers and rotate every "
               "`tls.ticket_rotation`. `false`: no ticket is encrypted with a key; clients "
               "resume from moat's in-memory session cache instead. Read at start: a reload "
               "keeps the keys and this setting. See [tls.md](tls.md).",
    },
    {
        .key = "tls.http2",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = AT(tls.http2),
        .doc = "Offer HTTP/2 (ALPN `h2`) on the TLS listener beside HTTP/1.1. Every stream "
               "is translated to an HTTP/1.1 request, passes every stage as one, and goes to "
               "the upstream over HTTP/1.1; what HTTP/1.1 cannot carry unambiguously is "
               "refused. `false`: clients get HTTP/1.1 only. See [tls.md](tls.md).",
    },
    {
        .key = "tls.ticket_rotation",
        .type = MOAT__CFG_DURATION,
        .def = "\"12h\"",
        .min = SEC,
        .max = 24 * HOUR,
        .offset = AT(tls.ticket_rotation_ms),
        .doc = "How often a new session ticket key is made. The previous key still opens "
               "tickets for one more period, so a ticket is accepted at most twice this long "
               "after its key was made; older keys are erased. Read at start.",
    },
    {
        .key = "tls.ocsp",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = AT(tls.ocsp),
        .doc = "Check whether the served certificate was revoked, with OCSP (RFC 6960), when it "
               "names a responder (`tls.cert` files and the `[tls.acme]` certificate), and "
               "staple the responder's good answer to handshakes. A revoked ACME certificate "
               "is replaced at once; a revoked `tls.cert` is reported (`cert.revoked`) at "
               "every check. `false`: no checks, no stapling. Read at start. See "
               "[tls.md](tls.md).",
    },
    {
        .key = "tls.ocsp_refresh",
        .type = MOAT__CFG_DURATION,
        .def = "\"12h\"",
        .min = SEC,
        .max = 24 * HOUR,
        .offset = AT(tls.ocsp_refresh_ms),
        .doc = "How long at most between two OCSP checks of a certificate (10% random "
               "jitter); sooner when half the last answer's validity is shorter. After a "
               "failed check moat retries after a minute (or this, if shorter), doubling up "
               "to this. Read at start.",
    },

    /* ---- [tls.acme] ---- */
    {
        .key = "tls.acme.directory",
        .type = MOAT__CFG_STRING,
        .def = "\"https://acme-v02.api.letsencrypt.org/directory\"",
        .check = check_acme_url,
        .offset = AT(tls.acme.directory),
        .doc = "The CA's ACME directory URL. The default is Let's Encrypt's production CA "
               "(its staging CA is `https://acme-staging-v02.api.letsencrypt.org/directory`).",
    },
    {
        .key = "tls.acme.email",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .check = check_acme_email,
        .offset = AT(tls.acme.email),
        .doc = "Contact address of the ACME account (the CA writes about expiring or revoked "
               "certificates). `\"\"`: no contact.",
    },
    {
        .key = "tls.acme.domains",
        .type = MOAT__CFG_LIST,
        .def = "[]",
        .check = moat__config_check_host,
        .unique = true,
        .max = 100,
        .allowed = "DNS names (no wildcards: the challenges moat answers cannot prove them)",
        .offset = AT(tls.acme.domains),
        .doc = "The names of the certificate (one certificate for all). Empty: the names of "
               "`hosts`. Each must resolve to this machine for the CA's validation.",
    },
    {
        .key = "tls.acme.ca_bundle",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .allowed = "a PEM file path or `\"\"`",
        .path = true,
        .offset = AT(tls.acme.ca_bundle),
        .doc = "CA certificates that authenticate the ACME server (a private or test CA). "
               "`\"\"`: the system's trusted CAs.",
    },
    {
        .key = "tls.acme.challenge",
        .type = MOAT__CFG_ENUM,
        .def = "\"tls-alpn-01\"",
        .enum_values = acme_challenges,
        .offset = AT(tls.acme.challenge),
        .doc = "How moat proves control of the names. `\"tls-alpn-01\"` (RFC 8737): the CA "
               "connects to port 443 (`tls.listen`) and moat answers the `acme-tls/1` handshake "
               "itself. `\"http-01\"`: the CA fetches "
               "`http://NAME/.well-known/acme-challenge/TOKEN` on port 80 (`listen`) and moat "
               "answers it itself; the application never sees these requests.",
    },
    {
        .key = "tls.acme.eab_kid",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .offset = AT(tls.acme.eab_kid),
        .doc = "External account binding (CAs such as ZeroSSL, Google, Sectigo): the key id "
               "the CA gave. `\"\"`: none.",
    },
    {
        .key = "tls.acme.eab_hmac",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .secret = true,
        .allowed =
            "`\"${env:NAME}\"` or `\"${file:PATH}\"` (a secret is never written in the file)",
        .offset = AT(tls.acme.eab_hmac),
        .doc = "External account binding: the MAC key the CA gave (base64url), with "
               "`eab_kid`. Never logged.",
    },
    {
        .key = "tls.acme.retry",
        .type = MOAT__CFG_DURATION,
        .def = "\"1m\"",
        .min = SEC,
        .max = 24 * HOUR,
        .offset = AT(tls.acme.retry_ms),
        .doc = "After a failed attempt moat waits this long (with 20% random jitter), "
               "doubling the wait after each further failure up to a day, and never sooner "
               "than the CA's `Retry-After`.",
    },

    /* ---- [paths] ---- */
    {
        .key = "paths.deny",
        .type = MOAT__CFG_LIST,
        .def = "[\".git\", \".hg\", \".svn\", \".bzr\", \".env*\", \"__pycache__\", \"*.py\", "
               "\"*.pyc\", \"*.pyo\", \"*.sqlite\", \"*.sqlite3\", \"*.db\", \"*~\", \"*.bak\", "
               "\"*.swp\", \"*.orig\", \"*.old\", \"local_settings*\", \"instance/\", "
               "\".DS_Store\", \"*.pem\", \"*.key\"]",
        .allowed = "glob patterns (`*`, `?`, `[...]`), each matched against every segment of the "
                   "path; a trailing `/` matches folders only",
        .check = moat__config_check_glob,
        .offset = AT(paths.deny),
        .doc = "Patterns of path segments that are refused. Each pattern is matched, without "
               "regard to case, against every segment of the normalised path: `\".git\"` "
               "refuses `/.git/config` and `/static/.git/HEAD`; `\"*.py\"` refuses "
               "`/app.py`. A pattern ending in `/` only matches a segment that has more path "
               "after it (`\"instance/\"` refuses `/instance/app.cfg` but not a route named "
               "`/instance`). Set `[]` to refuse nothing.",
    },
    {
        .key = "paths.allow",
        .type = MOAT__CFG_LIST,
        .check = moat__config_check_path_prefix,
        .def = "[\"/.well-known/\"]",
        .allowed = "path prefixes starting with `/`",
        .offset = AT(paths.allow),
        .doc = "Path prefixes that `paths.deny` never refuses (the default keeps ACME "
               "challenges and `security.txt` reachable). Compared with the normalised path.",
    },

    /* ---- [headers] ---- */
    {
        .key = "headers.csp",
        .type = MOAT__CFG_STRING,
        .check = moat__config_check_csp,
        .def = "\"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "font-src 'self'; connect-src 'self'; media-src 'self'; manifest-src 'self'; "
               "form-action 'self'; frame-ancestors 'none'; base-uri 'self'\"",
        .offset = AT(headers.csp),
        .doc = "The Content-Security-Policy. The default denies everything, then allows "
               "scripts, styles, images (and `data:` images), fonts, fetches, media and the "
               "manifest from the site itself only: an injected inline `<script>` or "
               "`<style>` does not run, no plug-in loads, no other site frames the page, and "
               "forms post only to the site. Loosen it for what your pages really load (a "
               "CDN, inline styles). The application's own `Content-Security-Policy` is sent "
               "beside moat's, never instead of it: browsers enforce both, so the "
               "application can only tighten moat's policy (unless `headers.override`).",
    },
    {
        .key = "headers.csp_report_only",
        .type = MOAT__CFG_BOOL,
        .def = "false",
        .offset = AT(headers.csp_report_only),
        .doc = "Send the policy as `Content-Security-Policy-Report-Only`: browsers report "
               "violations but block nothing. For trying a policy on a live site.",
    },
    {
        .key = "headers.csp_report",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = AT(headers.csp_report),
        .doc = "Add `report-uri /.moat/csp-report` to moat's policy: browsers then report "
               "every violation to moat, which records it in the security log as "
               "`csp.violation` (the report is answered by moat, never forwarded).",
    },
    {
        .key = "headers.frame_options",
        .type = MOAT__CFG_ENUM,
        .def = "\"DENY\"",
        .enum_values = frame_options,
        .offset = AT(headers.frame_options),
        .doc = "`X-Frame-Options`, against clickjacking in browsers that predate CSP's "
               "`frame-ancestors`.",
    },
    {
        .key = "headers.nosniff",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = AT(headers.nosniff),
        .doc = "Send `X-Content-Type-Options: nosniff`, so browsers trust the declared "
               "Content-Type.",
    },
    {
        .key = "headers.referrer_policy",
        .type = MOAT__CFG_STRING,
        .check = moat__config_check_header_value,
        .def = "\"strict-origin-when-cross-origin\"",
        .offset = AT(headers.referrer_policy),
        .doc = "`Referrer-Policy`: other sites see the origin only, never the path or query.",
    },
    {
        .key = "headers.permissions_policy",
        .type = MOAT__CFG_STRING,
        .check = moat__config_check_header_value,
        .def = "\"accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
               "microphone=(), payment=(), usb=()\"",
        .offset = AT(headers.permissions_policy),
        .doc = "`Permissions-Policy`: the powerful browser features no page of the site may "
               "use.",
    },
    {
        .key = "headers.coop",
        .type = MOAT__CFG_STRING,
        .check = moat__config_check_header_value,
        .def = "\"same-origin\"",
        .offset = AT(headers.coop),
        .doc = "`Cross-Origin-Opener-Policy`. Use `\"same-origin-allow-popups\"` for OAuth "
               "pop-ups.",
    },
    {
        .key = "headers.corp",
        .type = MOAT__CFG_STRING,
        .check = moat__config_check_header_value,
        .def = "\"same-origin\"",
        .offset = AT(headers.corp),
        .doc = "`Cross-Origin-Resource-Policy`. Use `\"cross-origin\"` for assets other sites "
               "embed.",
    },
    {
        .key = "headers.override",
        .type = MOAT__CFG_BOOL,
        .def = "false",
        .offset = AT(headers.override),
        .doc = "Replace the application's own values of these headers with moat's. By "
               "default the stricter of the two is sent (and both CSPs): an application that "
               "sets `Referrer-Policy: no-referrer` keeps it, one that sets `unsafe-url` gets "
               "moat's.",
    },
    {
        .key = "headers.hsts_max_age",
        .type = MOAT__CFG_COUNT,
        .def = "63072000",
        .min = 0,
        .max = 126144000,
        .offset = AT(headers.hsts_max_age),
        .doc = "`Strict-Transport-Security` max-age in seconds (two years by default), sent on "
               "every HTTPS response: browsers then refuse plain HTTP for the site. `0` sends "
               "no HSTS.",
    },
    {
        .key = "headers.hsts_include_subdomains",
        .type = MOAT__CFG_BOOL,
        .def = "false",
        .offset = AT(headers.hsts_include_subdomains),
        .doc = "Add `includeSubDomains` to HSTS, so every subdomain is HTTPS-only too. Off "
               "until you opt in: once a browser has seen it, every subdomain (an intranet "
               "site, a plain-HTTP test host) is refused over HTTP for `hsts_max_age`. Never "
               "sent for `localhost`, names under `.localhost` or IP addresses, where it would "
               "pin every other development site of the machine to HTTPS.",
    },
    {
        .key = "headers.hsts_preload",
        .type = MOAT__CFG_BOOL,
        .def = "false",
        .offset = AT(headers.hsts_preload),
        .doc = "Add `preload` to HSTS, for the browsers' preload list. Hard to undo: opt in "
               "only when every subdomain serves HTTPS.",
    },
    {
        .key = "headers.remove",
        .type = MOAT__CFG_LIST,
        .def = "[\"Server\", \"X-Powered-By\", \"X-AspNet-Version\", \"X-AspNetMvc-Version\", "
               "\"X-Runtime\", \"X-Version\", \"X-Generator\"]",
        .offset = AT(headers.remove),
        .doc = "Response headers removed before the response leaves: banners that tell an "
               "attacker which server and version to target.",
    },

    /* ---- [[headers.paths]] ---- */
    {
        .key = "headers.paths.path",
        .type = MOAT__CFG_STRING,
        .required = true,
        .check = moat__config_check_route,
        .allowed = "a route in the glob dialect of `[[auth.rules]]`; required",
        .offset = RULE(path),
        .doc = "The normalised request paths this entry applies to, matched like an "
               "`[[auth.rules]]` path (`\"/admin\"`: `/admin`, what is under it and "
               "`/admin.ext`, not `/administrator`; `\"/api/*/export\"`; a final `$` for "
               "that path alone).",
    },
    {
        .key = "headers.paths.csp",
        .type = MOAT__CFG_STRING,
        .check = moat__config_check_csp,
        .offset = RULE(csp),
        .doc = "`Content-Security-Policy` (or its report-only form, as `headers.csp_report_only` "
               "says) for these paths; `\"\"` sends none.",
    },
    {
        .key = "headers.paths.frame_options",
        .type = MOAT__CFG_ENUM,
        .enum_values = frame_options,
        .offset = RULE(frame_options),
        .doc = "`X-Frame-Options` for the paths under `path`: `\"SAMEORIGIN\"` lets the site frame "
               "them, `\"off\"` sends none. Left out, `headers.frame_options` applies.",
    },
    {
        .key = "headers.paths.referrer_policy",
        .type = MOAT__CFG_STRING,
        .check = moat__config_check_header_value,
        .offset = RULE(referrer_policy),
        .doc = "`Referrer-Policy` for the paths under `path`; `\"\"` sends none there. Left out, "
               "`headers.referrer_policy` applies.",
    },
    {
        .key = "headers.paths.permissions_policy",
        .type = MOAT__CFG_STRING,
        .check = moat__config_check_header_value,
        .offset = RULE(permissions_policy),
        .doc = "`Permissions-Policy` for the paths under `path` (a video-call page may need "
               "`camera=(self)`). Left out, `headers.permissions_policy` applies.",
    },
    {
        .key = "headers.paths.coop",
        .type = MOAT__CFG_STRING,
        .check = moat__config_check_header_value,
        .offset = RULE(coop),
        .doc = "`Cross-Origin-Opener-Policy` for the paths under `path`. Left out, `headers.coop` "
               "applies.",
    },
    {
        .key = "headers.paths.corp",
        .type = MOAT__CFG_STRING,
        .check = moat__config_check_header_value,
        .offset = RULE(corp),
        .doc = "`Cross-Origin-Resource-Policy` for the paths under `path` (`\"cross-origin\"` for "
               "assets other sites embed). Left out, `headers.corp` applies.",
    },

    /* ---- [cookies] ---- */
    {
        .key = "cookies.httponly",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = AT(cookies.httponly),
        .doc = "Add `HttpOnly` to every cookie, so page scripts (and XSS) cannot read it.",
    },
    {
        .key = "cookies.httponly_except",
        .type = MOAT__CFG_LIST,
        .def = "[\"csrftoken\"]",
        .offset = AT(cookies.httponly_except),
        .doc = "Cookie names that scripts must read and so do not get `HttpOnly` (Django's "
               "`csrftoken` by default).",
    },
    {
        .key = "cookies.samesite",
        .type = MOAT__CFG_ENUM,
        .def = "\"Lax\"",
        .enum_values = samesite_values,
        .offset = AT(cookies.samesite),
        .doc = "`SameSite` added to cookies that do not set their own: `Lax` stops most "
               "cross-site request forgery and keeps links from other sites working.",
    },
    {
        .key = "cookies.secure",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = AT(cookies.secure),
        .doc = "Add `Secure` to cookies set in answer to HTTPS requests (as a trusted proxy "
               "reports them in `X-Forwarded-Proto`), so the browser never sends them in clear.",
    },

    /* ---- [errors] ---- */
    {
        .key = "errors.replace_5xx",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = AT(errors.replace_5xx),
        .doc = "Replace every 5xx response of the application with moat's generic page (the "
               "status is kept): tracebacks and framework error pages never reach the client.",
    },
    {
        .key = "errors.debug_pages",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = AT(errors.debug_pages),
        .doc = "Replace 4xx responses that are Python debug pages (Django's `DEBUG` technical "
               "404, the Werkzeug debugger, a Starlette traceback, any `Traceback (most recent "
               "call last)`) with moat's generic page (the status is kept).\n\n"
               "A 4xx body is held until it has been inspected whole, decoded when the "
               "application compressed it (`gzip`, `x-gzip`, `deflate`, `br`, and lists of "
               "them). A 4xx body moat cannot inspect is replaced too, never passed on: one "
               "larger than `inspect_bytes` (decoded), one in another coding (`compress`, "
               "`zstd`), or one that does not decode (corrupt or cut short).",
    },
    {
        .key = "errors.inspect_bytes",
        .type = MOAT__CFG_SIZE,
        .def = "\"256KiB\"",
        .min = 4 * KIB,
        .max = 64 * MIB,
        .offset = AT(errors.inspect_bytes),
        .doc = "The largest 4xx body `debug_pages` inspects, counted decoded. The body is held "
               "until inspected: a larger one is replaced by moat's generic page with its "
               "status (a padded debug page must not slip past). Raise it when the "
               "application answers 4xx with large bodies on purpose (a JSON API's big "
               "validation report); each 4xx being inspected holds up to this much memory, "
               "twice for a compressed body.",
    },

    {
        .key = "errors.listings",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = AT(errors.listings),
        .doc = "Answer `404` instead of a directory listing (\"Index of /\", \"Directory listing "
               "for /\") the application or a static-file server behind it produces. Only the "
               "first 2 KiB of `200 text/html` responses are looked at, decoded when "
               "compressed. A `200` page in a coding moat does not decode, or one that stops "
               "decoding, is passed on after what did decode was looked at: it is not an "
               "error page, and breaking such pages would break sites.",
    },
    {
        .key = "errors.page",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .allowed = "a path to an HTML file, or `\"\"` for the built-in page",
        .path = true,
        .offset = AT(errors.page),
        .doc = "An HTML template for every page moat answers itself (errors, refusals, "
               "redirects). `{status}`, `{reason}`, `{message}` and `{request_id}` are "
               "replaced by the status code, its reason phrase, a one-line explanation and the "
               "request id (all HTML-safe). Read at start and on `SIGHUP`. JSON answers keep "
               "their fixed shape.",
    },

    /* ---- [waf] ---- */
    {
        .key = "waf.mode",
        .type = MOAT__CFG_ENUM,
        .def = "\"block\"",
        .enum_values = waf_modes,
        .offset = AT(waf.mode),
        .doc = "`\"block\"` refuses requests the rules score as attacks, with `403` (`400` for a "
               "body that does not parse as its `Content-Type` says). `\"detect\"` lets them "
               "through and logs `waf.detected`: for trying the rules on real traffic first. "
               "In detect mode an engine error also lets the request through, uninspected; in "
               "block mode it refuses it. `\"off\"` loads no rules and inspects nothing.",
    },
    {
        .key = "waf.paranoia",
        .type = MOAT__CFG_COUNT,
        .def = "1",
        .min = 1,
        .max = 4,
        .offset = AT(waf.paranoia),
        .doc = "The Core Rule Set's paranoia level: 1 blocks clear attacks with very few false "
               "positives; each level above adds stricter rules that catch more evasions and "
               "also more ordinary requests (expect to write exclusions from level 2 on).",
    },
    {
        .key = "waf.inbound_threshold",
        .type = MOAT__CFG_COUNT,
        .def = "5",
        .min = 1,
        .max = 10000,
        .offset = AT(waf.inbound_threshold),
        .doc = "Anomaly score at which a request is an attack. Each rule that matches adds to "
               "the score (critical 5, error 4, warning 3, notice 2), so 5 blocks on one "
               "critical match. Raise it to need several matches.",
    },
    {
        .key = "waf.rules",
        .type = MOAT__CFG_LIST,
        .def = "[]",
        .allowed = "paths of SecLang rule files",
        .path = true,
        .offset = AT(waf.rules),
        .doc = "Your own ModSecurity rule files (SecLang), loaded after the Core Rule Set's "
               "initialisation and before its attack rules, so `ctl:` exclusions and "
               "`SecRuleRemoveById` act on the rules that follow, and rules that add to "
               "`tx.anomaly_score_pl1` count towards `inbound_threshold`. Use rule ids from "
               "1 to 99999. A file that does not load stops moat at start (with its file and "
               "line), and a reload with such a file keeps the rules that run.",
    },
    {
        .key = "waf.exclude",
        .type = MOAT__CFG_LIST,
        .def = "[]",
        .check = moat__config_check_waf_exclude,
        .allowed = "`\"ROUTE\"` or `\"ROUTE ITEM ...\"`: a route in the glob dialect of "
                   "`[[auth.rules]]`, then rule ids, rule tags, targets or parameter names",
        .offset = AT(waf.exclude),
        .doc = "Exclusions for what legitimately looks like an attack, narrowest first. The "
               "route is matched like an `[[auth.rules]]` path (`\"/posts\"`: the path and what "
               "is under it; `\"/*/update\"`: `*` any characters but `/`, `**` anything, a final "
               "`$` for that path alone). Then, separated by spaces: rule ids (`932100`), rule "
               "tags (`attack-rce`, `attack-sqli`, `language-shell`), targets (`ARGS:body`, "
               "`REQUEST_HEADERS:X-Sig`, `REQUEST_COOKIES:prefs`) or a bare parameter name "
               "(`body`: the query/form field and the top-level JSON key). `\"/*/update 932100 "
               "ARGS:body\"` stops rule 932100 reading `body` there; `\"/*/update body\"` stops "
               "every rule reading it; `\"/snippets attack-rce\"` removes the command-injection "
               "rules there. A route alone turns the firewall off for it. `moat log why ID` and "
               "`moat waf tune LOG` print such entries. Invalid entries are a config error.",
    },
    {
        .key = "waf.content_types",
        .type = MOAT__CFG_LIST,
        .def = "[\"application/x-www-form-urlencoded\", \"multipart/form-data\", "
               "\"multipart/related\", \"application/json\", \"application/ld+json\", "
               "\"application/vnd.api+json\", \"application/problem+json\", "
               "\"application/json-patch+json\", \"application/merge-patch+json\", "
               "\"application/x-ndjson\", \"application/cloudevents+json\", "
               "\"application/cloudevents-batch+json\", \"application/csp-report\", "
               "\"application/reports+json\", \"application/graphql\", \"text/xml\", "
               "\"application/xml\", \"application/soap+xml\", \"text/plain\", \"text/csv\", "
               "\"text/markdown\", \"application/octet-stream\", \"application/pdf\", "
               "\"application/zip\", \"application/gzip\", \"image/png\", \"image/jpeg\", "
               "\"image/gif\", \"image/webp\", \"image/avif\", \"audio/mpeg\", \"video/mp4\"]",
        .check = moat__config_check_content_type,
        .allowed = "media types (`type/subtype`, lower case, no parameters)",
        .offset = AT(waf.content_types),
        .doc = "Request body types the Core Rule Set accepts (rule 920420 refuses any other "
               "`Content-Type` with a critical score). The default covers forms, JSON and its "
               "REST variants (JSON Patch, Merge Patch, JSON:API, NDJSON), GraphQL, XML, "
               "text and CSV, and raw uploads of common files (PDF, ZIP, gzip, images, "
               "audio, video, `application/octet-stream`). Bodies of these types are still "
               "inspected as their type says (forms and JSON parsed, others as raw bytes).",
    },
    {
        .key = "waf.stream_types",
        .type = MOAT__CFG_LIST,
        .def = "[\"application/octet-stream\", \"application/pdf\", \"application/zip\", "
               "\"application/gzip\", \"application/x-tar\", \"image/*\", \"audio/*\", "
               "\"video/*\", \"font/*\"]",
        .check = moat__config_check_media_range,
        .allowed = "media types (`type/subtype`) or ranges (`type/*`), lower case",
        .offset = AT(waf.stream_types),
        .doc = "Raw request bodies of these types are files, handled like the file parts of "
               "a multipart upload: their first `inspect_bytes` are inspected (the rules that "
               "read the raw body, and the head in full), the rest streams to the app "
               "uninspected (`waf.uninspected` is logged) instead of the `waf.over_limit` "
               "answer, up to `limits.body_bytes`. The app does not parse such a body into "
               "parameters, so nothing past the window reaches it as form or JSON data; "
               "form, JSON, XML and text bodies stay under `waf.over_limit`. `[]` puts every "
               "type under `waf.over_limit`.",
    },
    {
        .key = "waf.graphql",
        .type = MOAT__CFG_LIST,
        .def = "[\"/graphql\", \"/**/graphql\"]",
        .check = moat__config_check_route,
        .allowed = "routes in the glob dialect of `[[auth.rules]]`",
        .offset = AT(waf.graphql),
        .doc = "Routes of GraphQL endpoints. There, the three rules that read GraphQL's "
               "selection syntax (`{ id title }`) as a shell command or SQL (932100, 932115, "
               "942190) do not read the query document (the `query` parameter or JSON "
               "member); every other rule still reads it, and every rule reads the "
               "variables. `[]` turns this off.",
    },
    {
        .key = "waf.text_fields",
        .type = MOAT__CFG_LIST,
        .def = "[\"body\", \"content\", \"text\", \"markdown\", \"html\", \"description\", "
               "\"comment\", \"message\", \"bio\", \"about\", \"notes\", \"note\", "
               "\"summary\", \"excerpt\", \"abstract\", \"answer\", \"reply\", "
               "\"review\", \"caption\"]",
        .check = moat__config_check_param_name,
        .allowed = "parameter names: letters, digits, `_`, `-`",
        .offset = AT(waf.text_fields),
        .doc = "Parameters that carry what people write: posts, comments, wiki pages, "
               "markdown and HTML from rich-text editors (a form field, a multipart text "
               "part, or a JSON member of that name at any depth). People quote shell, "
               "Python, SQL and HTML there, so the rules that read quoted code as an attack "
               "do not read these values: the command-injection rules (tag `attack-rce`), "
               "Python code injection (1901120), the HTML-tag rule 941160, the SQL-keyword "
               "rules 942190 and 942360, and the request-line rules 921110 and 921130. "
               "Every other rule still reads them: XSS (script tags, event handlers, "
               "`javascript:` URLs, libinjection), SQL injection (libinjection, quotes, "
               "tautologies, comments), path traversal, SSTI, deserialization. `[]` turns "
               "this off; see docs/waf.md, \"Text fields\".",
    },
    {
        .key = "waf.rule_sets",
        .type = MOAT__CFG_LIST,
        .def = "[]",
        .check = moat__config_check_rule_set,
        .allowed = "`\"php\"`, `\"932140\"`, `\"932150\"`, `\"920350\"`",
        .offset = AT(waf.rule_sets),
        .doc = "Core Rule Set rules moat leaves out on purpose, put back: `\"php\"` (the PHP "
               "injection rules, REQUEST-933), `\"932140\"` (Windows cmd.exe FOR/IF), "
               "`\"932150\"` (a Unix command name with an argument), `\"920350\"` (Host is a "
               "numeric address). docs/waf.md says why each is left out.",
    },
    {
        .key = "waf.inspect_bytes",
        .type = MOAT__CFG_SIZE,
        .def = "\"1MiB\"",
        .min = 1024,
        .max = 64 * MIB,
        .offset = AT(waf.inspect_bytes),
        .doc = "How much of a request body is inspected. The body is held by moat, up to this "
               "size, until it has been inspected: nothing of it reaches the application "
               "before. Bodies past this size are refused or passed, as `over_limit` says. "
               "In a `multipart/form-data` body only the form data counts (the part heads "
               "and the content of the parts that are not files): file content streams to "
               "the application uninspected, as in ModSecurity, so uploads up to "
               "`limits.body_bytes` pass (docs/waf.md, Uploads).",
    },
    {
        .key = "waf.over_limit",
        .type = MOAT__CFG_ENUM,
        .def = "\"refuse\"",
        .enum_values = waf_over_limit,
        .offset = AT(waf.over_limit),
        .doc = "A request body (in multipart/form-data: its form data) larger than "
               "`inspect_bytes`: `\"refuse\"` answers `413` (before reading it when "
               "`Content-Length` says so) and logs `waf.blocked`; `\"pass\"` inspects its first "
               "`inspect_bytes`, then sends the rest uninspected and logs `waf.uninspected`.",
    },
    {
        .key = "waf.crs",
        .type = MOAT__CFG_STRING,
        .def = "\"/usr/share/modsecurity-crs/rules\"",
        .allowed = "a folder",
        .path = true,
        .offset = AT(waf.crs),
        .doc = "Where the OWASP Core Rule Set's `REQUEST-*.conf` files are (the Debian "
               "package's folder by default). moat writes its own CRS setup from these "
               "settings; `crs-setup.conf` is not read.",
    },

    /* ---- [log] ---- */
    {
        .key = "log.access",
        .type = MOAT__CFG_STRING,
        .def = "\"-\"",
        .allowed = "a file path, `\"-\"` or `\"\"`",
        .path = true,
        .offset = AT(log.access),
        .doc = "Where the access log goes: a file path (appended to; a relative path "
               "starts from the configuration file's folder), `\"-\"` for standard output, "
               "or `\"\"` to turn the access log off.",
    },
    {
        .key = "log.access_format",
        .type = MOAT__CFG_ENUM,
        .def = "\"json\"",
        .enum_values = access_formats,
        .offset = AT(log.access_format),
        .doc = "Format of the access log: `\"json\"` writes one JSON object per request, for "
               "log collectors; `\"combined\"` writes the Apache/nginx combined format, for "
               "the tools that read it.",
    },
    {
        .key = "log.security",
        .type = MOAT__CFG_STRING,
        .def = "\"security.log\"",
        .allowed = "a file path, `\"-\"` or `\"\"`",
        .path = true,
        .offset = AT(log.security),
        .doc = "Where the security event log goes: a file path (appended to; a relative path "
               "starts from the configuration file's folder), `\"-\"` for standard output "
               "(containers), or `\"\"` to turn it off. Left out, it is `security.log` in "
               "moat's state folder, beside the store's database (`store.url`; with the default "
               "store, the configuration file's folder, or the working directory without one): "
               "that folder is writable by moat's user already, which rotation needs, and the "
               "log never mixes with the access log on standard output. One JSON object per "
               "line, one line per "
               "event; the events and their fields are listed in docs/events.md. Passwords, "
               "tokens, cookies, session ids, `Authorization` values and form fields or query "
               "parameters named like secrets never reach it.\n\n"
               "A file is rotated by `rotate_bytes` and `rotate_interval`, and reopened on "
               "`SIGHUP` or `SIGUSR1` (after an external logrotate); the chain of entries "
               "continues from one file to the next. Writing happens on its own thread and never "
               "holds up a request: if the disk is full or the writer falls behind, the gateway "
               "keeps serving, counts the entries it could not write, and logs a `log.dropped` "
               "event with the count as soon as it can.",
    },
    {
        .key = "log.seal_key",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .allowed = "a file path or `\"\"`",
        .path = true,
        .offset = AT(log.seal_key),
        .doc = "The sealing key file, created by `moat log init` (mode 0600), which also prints "
               "the verification key once: keep that off this machine. Every entry then carries "
               "an HMAC chained over the entry before it, under a key that evolves every epoch "
               "(`seal_interval`, `seal_entries`); the old key is erased from memory and disk, "
               "so an intruder who takes the machine later cannot rewrite what was logged "
               "before. `moat log verify FILE... --key KEY` checks a log (docs/seclog.md says "
               "exactly what it detects).\n\n"
               "`\"\"` (the default) chains entries with SHA-256 only: accidental damage is "
               "found, but anyone who can write the file can rewrite it undetected.",
    },
    {
        .key = "log.seal_interval",
        .type = MOAT__CFG_DURATION,
        .def = "\"15m\"",
        .min = SEC,
        .max = 24 * HOUR,
        .offset = AT(log.seal_interval_ms),
        .doc = "Longest an epoch of the sealing key lasts: the key evolves and a `log.seal` "
               "entry is written at least this often, even when nothing else is logged. An "
               "intruder who steals the key can forge entries from its epoch on, never earlier "
               "ones: a shorter interval leaves less of the recent past open to rewriting.",
    },
    {
        .key = "log.seal_entries",
        .type = MOAT__CFG_COUNT,
        .def = "10000",
        .min = 1,
        .max = 1000000000,
        .offset = AT(log.seal_entries),
        .doc = "Most entries written under one epoch of the sealing key; the key evolves at "
               "whichever of `seal_interval` and `seal_entries` comes first. Each evolution "
               "rewrites the key file (two `fsync`s), so very small values cost throughput.",
    },
    {
        .key = "log.rotate_bytes",
        .type = MOAT__CFG_SIZE,
        .def = "\"100MiB\"",
        .min = 0,
        .max = 1024 * GIB,
        .offset = AT(log.rotate_bytes),
        .doc = "Size at which the security log file is rotated: it is renamed to "
               "`FILE.YYYYMMDDTHHMMSSZ` and a new `FILE` begins with a `log.continued` entry "
               "that links it to the one before. `0` never rotates by size. Ignored for "
               "standard output.",
    },
    {
        .key = "log.rotate_interval",
        .type = MOAT__CFG_DURATION,
        .def = "0",
        .min = 0,
        .max = 366 * 24 * HOUR,
        .offset = AT(log.rotate_interval_ms),
        .doc = "Age at which the security log file is rotated, counted from when moat opened "
               "it (`\"1d\"` is not a unit: write `\"24h\"`). `0` (the default) never rotates "
               "by time.",
    },
    {
        .key = "log.rotate_keep",
        .type = MOAT__CFG_COUNT,
        .def = "10",
        .min = 0,
        .max = 100000,
        .offset = AT(log.rotate_keep),
        .doc = "Rotated security log files kept; the oldest beyond this number are deleted "
               "after each rotation. `0` keeps them all. Files rotated by an external tool are "
               "left to that tool.",
    },
    {
        .key = "log.syslog",
        .type = MOAT__CFG_BOOL,
        .def = "false",
        .offset = AT(log.syslog),
        .doc = "Also send every security log entry, chain fields and all, to the local syslog "
               "socket `/dev/log` as an RFC 5424 message (facility `authpriv`, the event name "
               "as MSGID). A syslog daemon that forwards to another machine keeps a copy an "
               "intruder cannot reach, which also anchors the tail of the log. Entries the "
               "socket does not take at once are dropped (and counted), never waited for.",
    },
    {
        .key = "log.flush",
        .type = MOAT__CFG_ENUM,
        .def = "\"write\"",
        .enum_values = log_flush_values,
        .offset = AT(log.flush),
        .doc = "When written entries are made durable. `\"write\"` hands each batch to the "
               "kernel with one `write(2)`: entries survive a crash of moat, not of the machine. "
               "`\"fsync\"` also waits for the disk after each batch: entries survive a power "
               "loss, at some cost in throughput (bench/RESULTS.md). Either way the writer "
               "thread batches entries and requests never wait for it.",
    },
    {
        .key = "log.on_failure",
        .type = MOAT__CFG_ENUM,
        .def = "\"serve\"",
        .enum_values = log_on_failure_values,
        .offset = AT(log.on_failure),
        .doc = "What moat does while the security log cannot be written (the disk is full, the "
               "file system refuses it). `\"serve\"` keeps serving and counts the entries it "
               "lost in a `log.dropped` event. `\"refuse\"` is for deployments that must not "
               "serve what they cannot log (auditd's `disk_full_action`): once a write has "
               "failed, every request that would produce a security event (a refusal, a login, "
               "a WAF match, an upstream error) is answered `503 Service Unavailable` instead, "
               "until a write succeeds again. Requests that produce no event are served.",
    },
    {
        .key = "log.query",
        .type = MOAT__CFG_BOOL,
        .def = "false",
        .offset = AT(log.query),
        .doc = "Log the query string of request paths in the security log. Off by default: "
               "queries carry secrets too often. When on, the values of parameters named like "
               "secrets (`password`, `token`, `code`, `session`, ...) and values that look like "
               "tokens are still replaced by `[redacted]`.",
    },

    /* ---- [store] ---- */
    {
        .key = "store.url",
        .type = MOAT__CFG_STRING,
        .def = "\"sqlite:moat.db\"",
        .check = check_store_url,
        .allowed = "`\"sqlite:PATH\"`",
        .path = true,
        .offset = AT(store.url),
        .doc = "The store: `\"sqlite:PATH\"` names an SQLite database file (a relative path "
               "starts from the configuration file's folder, so `moat serve` and `moat user` "
               "use the same file wherever they run), created with mode 0600 "
               "on first use. It holds TOTP secrets, so keep it readable by moat's user only. "
               "It plays both roles; `store.users` and `store.state` split them (setting "
               "`url` with either is an error).",
    },
    {
        .key = "store.users",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .check = check_store_users,
        .allowed = "`\"\"`, `\"sqlite:PATH\"`, `\"postgresql://...\"`",
        .path = true,
        .offset = AT(store.users),
        .doc = "Where the users are (names, password hashes, roles, second factors, recovery "
               "codes, tokens): `\"sqlite:PATH\"`, or `\"postgresql://USER@HOST:PORT/DB\"` (a "
               "libpq URI: `sslmode=verify-full` for TLS, several hosts for failover; the "
               "password through `${env:NAME}` or `${file:PATH}` for the whole value). Empty: "
               "`store.url`. With PostgreSQL, `store.state` must be Redis.",
    },
    {
        .key = "store.state",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .check = check_store_state,
        .allowed = "`\"\"`, `\"sqlite:PATH\"` (the users' file), `\"redis://...\"`, "
                   "`\"rediss://...\"`",
        .path = true,
        .offset = AT(store.state),
        .doc = "Where the state is (sessions, login-failure counters, TOTP replay marks, rate "
               "limits, bans): `\"redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]\"`, or "
               "`\"rediss://...\"` for TLS (the server's certificate is verified against the "
               "system's roots, or `?ca=FILE`; `&cert=FILE&key=FILE` present a client "
               "certificate). Every instance naming the same Redis shares logins, lockouts, "
               "replay marks and limits, and a logout or lock on one is seen at once by all. "
               "While Redis is unreachable protected paths answer 503, public ones are served, "
               "and moat reconnects by itself. Empty: the users' SQLite file (one machine).",
    },

    /* ---- [auth] ---- */
    {
        .key = "auth.password_min",
        .type = MOAT__CFG_COUNT,
        .def = "8",
        .min = 8,
        .max = 64,
        .offset = AT(auth.password_min),
        .doc = "Shortest password accepted, in characters (Unicode code points). Passwords up to "
               "1024 bytes are accepted, with no composition rules (NIST SP 800-63B); passwords "
               "on moat's list of common passwords, equal to the user name or one character "
               "repeated are refused.",
    },
    {
        .key = "auth.argon2_memory",
        .type = MOAT__CFG_SIZE,
        .def = "\"19MiB\"",
        .min = MIB,
        .max = GIB,
        .offset = AT(auth.argon2_memory),
        .doc = "Memory of one Argon2id hash (used in whole KiB). With `argon2_time` and "
               "`argon2_parallelism`, the defaults are OWASP's (m=19456 KiB, t=2, p=1). A "
               "password hashed with other parameters, or in another format (an imported "
               "Django, Werkzeug or passlib hash), is rehashed with these at the user's next "
               "successful login.",
    },
    {
        .key = "auth.argon2_time",
        .type = MOAT__CFG_COUNT,
        .def = "2",
        .min = 1,
        .max = 10,
        .offset = AT(auth.argon2_time),
        .doc = "Argon2id passes over the memory (t): more passes cost more time per login.",
    },
    {
        .key = "auth.argon2_parallelism",
        .type = MOAT__CFG_COUNT,
        .def = "1",
        .min = 1,
        .max = 16,
        .offset = AT(auth.argon2_parallelism),
        .doc = "Argon2id lanes (p): how many threads one hash may use at once.",
    },
    {
        .key = "auth.totp_issuer",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .check = check_issuer,
        .allowed = "up to 64 printable characters, no `:`",
        .offset = AT(auth.totp_issuer),
        .doc = "The issuer authenticator apps show beside the user name (the portal's "
               "enrollment page and `moat user mfa enroll`). `\"\"` (the default): "
               "`portal.site_name`, else the first of `hosts`, else `moat`.",
    },
    {
        .key = "auth.totp_window",
        .type = MOAT__CFG_COUNT,
        .def = "1",
        .min = 0,
        .max = 3,
        .offset = AT(auth.totp_window),
        .doc = "TOTP steps (30 s each) accepted either side of the current one, for clocks that "
               "drift. Each code is accepted once whatever the window.",
    },
    {
        .key = "auth.lockout_failures",
        .type = MOAT__CFG_COUNT,
        .def = "5",
        .min = 1,
        .max = 1000,
        .offset = AT(auth.lockout_failures),
        .doc = "Failed logins of one account within `lockout_window` that lock it for "
               "`lockout_duration`. Each further lock lasts twice as long as the one before (at "
               "most a day) until a successful login; `moat user unlock NAME` ends a lock.",
    },
    {
        .key = "auth.lockout_window",
        .type = MOAT__CFG_DURATION,
        .def = "\"10m\"",
        .min = SEC,
        .max = 24 * HOUR,
        .offset = AT(auth.lockout_window_ms),
        .doc = "The window in which failed logins are counted, per account and per client address.",
    },
    {
        .key = "auth.lockout_duration",
        .type = MOAT__CFG_DURATION,
        .def = "\"15m\"",
        .min = SEC,
        .max = 24 * HOUR,
        .offset = AT(auth.lockout_duration_ms),
        .doc = "How long the first lock of an account or address lasts (whole seconds).",
    },
    {
        .key = "auth.address_failures",
        .type = MOAT__CFG_COUNT,
        .def = "20",
        .min = 1,
        .max = 100000,
        .offset = AT(auth.address_failures),
        .doc = "Failed logins from one client address within `lockout_window` (whatever the "
               "accounts) after which that address is refused for `lockout_duration`, growing "
               "the same way: spraying many accounts from one address does not work either.",
    },
    {
        .key = "auth.mfa_failures",
        .type = MOAT__CFG_COUNT,
        .def = "5",
        .min = 1,
        .max = 1000,
        .offset = AT(auth.mfa_failures),
        .doc = "Wrong second-factor codes (TOTP or recovery codes, at login or at the step-up) "
               "of one account within `lockout_window` that lock its second factor for "
               "`lockout_duration`, growing the same way. Counted apart from the password's "
               "failures; while it is locked no code is accepted, the right one neither (a login "
               "that gives one is refused; the password alone still gives a one-factor session). "
               "Wrong codes also count towards `address_failures`.",
    },

    /* ---- [audit] ---- */
    {
        .key = "audit.exclude",
        .type = MOAT__CFG_LIST,
        .def = "[\"tests\", \"test\", \"migrations\", \".venv\", \"venv\", \"env\", "
               "\"node_modules\", \".git\", \".tox\", \".nox\", \"build\", \"dist\", "
               "\"site-packages\", \"test_*.py\", \"*_test.py\", \"conftest.py\"]",
        .allowed = "shell globs (`*`, `?`, `[...]`) matched against each file or folder name "
                   "and against its path relative to the audited folder",
        .check = moat__config_check_glob,
        .offset = AT(audit.exclude),
        .doc = "Files and folders the code and settings audits skip. A glob without `/` is "
               "matched against every file and folder name (`migrations` skips every folder of "
               "that name); a glob with `/` against the path from the audited folder "
               "(`app/vendor/*`). Folders holding a `pyvenv.cfg` (virtualenvs) are always "
               "skipped. Setting this list replaces the defaults; a file named on the command "
               "line is analysed even when excluded.",
    },
    {
        .key = "audit.skip",
        .type = MOAT__CFG_LIST,
        .def = "[]",
        .allowed = "rule ids (`B101`, `MOAT-C104`, `security.W004`)",
        .offset = AT(audit.skip),
        .doc = "Rules not run at all (Bandit's `skips`). To silence one finding, prefer a "
               "`# nosec ID` comment on its line.",
    },
    {
        .key = "audit.severity",
        .type = MOAT__CFG_ENUM,
        .def = "\"low\"",
        .enum_values = audit_levels,
        .offset = AT(audit.severity),
        .doc = "The lowest severity reported; `--severity` overrides it.",
    },
    {
        .key = "audit.confidence",
        .type = MOAT__CFG_ENUM,
        .def = "\"low\"",
        .enum_values = audit_levels,
        .offset = AT(audit.confidence),
        .doc = "The lowest confidence reported; `--confidence` overrides it. Findings where "
               "request data provably reaches the dangerous call are reported with high "
               "confidence.",
    },
    {
        .key = "audit.min_severity",
        .type = MOAT__CFG_ENUM,
        .def = "\"low\"",
        .enum_values = cvss_levels,
        .offset = AT(audit.min_severity),
        .doc = "`moat audit deps`: the lowest CVSS rating reported (`--min-severity` wins). "
               "Advisories without a CVSS score are always reported.",
    },
    {
        .key = "audit.ignore.id",
        .type = MOAT__CFG_STRING,
        .required = true,
        .check = check_nonempty_line,
        .allowed = "an advisory id or alias (`PYSEC-2020-96`, `GHSA-...`, `CVE-...`); required",
        .offset = offsetof(moat_audit_ignore, id),
        .doc = "The advisory not reported: any of its ids or aliases.",
    },
    {
        .key = "audit.ignore.reason",
        .type = MOAT__CFG_STRING,
        .required = true,
        .check = check_nonempty_line,
        .allowed = "one line of text; required",
        .offset = offsetof(moat_audit_ignore, reason),
        .doc = "Why it is safe to ignore (the code path is not used, a fix is scheduled, ...): "
               "the next reader of the file needs it.",
    },
    {
        .key = "audit.ignore.expires",
        .type = MOAT__CFG_DATE,
        .offset = offsetof(moat_audit_ignore, expires),
        .doc = "The last day the entry applies. Unset, it applies until it is removed.",
    },
    {
        .key = "auth.default",
        .type = MOAT__CFG_STRING,
        .def = "\"public\"",
        .check = check_policy,
        .allowed = "`public`, `authenticated`, `mfa`, `deny` or `role:NAME`",
        .offset = AT(auth.default_policy),
        .doc = "The policy of requests no `[[auth.rules]]` entry matches. `public` (the default) "
               "lets moat front an application that does its own authentication while it guards "
               "`/admin`; anything else, or any rule, turns the login portal on (it needs the "
               "store).",
    },
    {
        .key = "auth.session_idle",
        .type = MOAT__CFG_DURATION,
        .def = "\"30m\"",
        .min = 60 * SEC,
        .max = 30 * 24 * HOUR,
        .offset = AT(auth.session_idle_ms),
        .doc = "A session unused this long ends (whole seconds).",
    },
    {
        .key = "auth.session_lifetime",
        .type = MOAT__CFG_DURATION,
        .def = "\"12h\"",
        .min = 60 * SEC,
        .max = 365 * 24 * HOUR,
        .offset = AT(auth.session_lifetime_ms),
        .doc = "A session ends this long after the login whatever its use (whole seconds).",
    },
    {
        .key = "auth.remember",
        .type = MOAT__CFG_DURATION,
        .def = "0",
        .max = 365 * 24 * HOUR,
        .offset = AT(auth.remember_ms),
        .doc = "\"Remember me\": 0 (the default) offers no such box, and the session cookie ends "
               "with the browser. Otherwise the login form has a \"remember me\" box; ticked, "
               "the cookie persists and the session lasts this long (idle timeout aside, it "
               "replaces `session_lifetime`).",
    },
    {
        .key = "auth.identity_secret",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .check = check_identity_secret,
        .allowed = "`\"\"`, or at least 32 characters",
        .secret = true,
        .offset = AT(auth.identity_secret),
        .doc = "When set, requests of logged-in users reach the application with an "
               "`X-Moat-Identity` header signed with HMAC-SHA256 under this key, which the "
               "application can verify (docs/auth.md shows how). Use `${file:PATH}`.",
    },

    {
        .key = "auth.case_insensitive_paths",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = AT(auth.case_insensitive_paths),
        .doc = "`[[auth.rules]]` that guard (every policy but `public`) match paths whatever "
               "the case of their letters: `/admin` also guards `/ADMIN/` and `/Admin`, as an "
               "application with case-insensitive routes (Django's `(?i)` patterns, IIS-style "
               "servers) serves them. Python's case folding is followed, so `/admın` (dotless "
               "i) is guarded too. `public` rules always match the case as written. Turn off "
               "only when the application's routes are case-sensitive and a guarding rule must "
               "not cover another spelling.",
    },
    {
        .key = "auth.keep_method_override",
        .type = MOAT__CFG_BOOL,
        .def = "false",
        .offset = AT(auth.keep_method_override),
        .doc = "`X-HTTP-Method-Override`, `X-HTTP-Method` and `X-Method-Override` are removed "
               "from requests unless this is `true`: an application that honours them would "
               "run another method than the one `[[auth.rules]]` matched (a POST that the "
               "application runs as DELETE). Keep them only when no rule lists `methods`.",
    },
    {
        .key = "auth.strip_headers",
        .type = MOAT__CFG_LIST,
        .def = "[]",
        .check = check_strip_header,
        .allowed = "header names, or prefixes ending in `*`",
        .unique = true,
        .offset = AT(auth.strip_headers),
        .doc = "Headers removed from every request besides the built-in list of identity "
               "headers (docs/auth.md lists it): names (`\"X-Tenant\"`) or prefixes ending in "
               "`*` (`\"X-Corp-Auth-*\"`), any case. Name every header your application "
               "takes an identity from.",
    },
    {
        .key = "auth.cache_control",
        .type = MOAT__CFG_BOOL,
        .def = "true",
        .offset = AT(auth.cache_control),
        .doc = "Responses to requests that carried a valid session or bearer token, and to "
               "every request an `[[auth.rules]]` entry other than `public` decided, get "
               "`Cache-Control: private, no-store` unless the application set its own. On "
               "guarded paths an application's own `Cache-Control` without `private` or "
               "`no-store` is kept and `Vary: Cookie, Authorization` added. `false` turns both "
               "off.",
    },

    /* ---- [[auth.rules]] ---- */
    {
        .key = "auth.rules.path",
        .type = MOAT__CFG_STRING,
        .required = true,
        .check = check_rule_path,
        .allowed = "a path starting with `/`, or a glob with `*` (any characters but `/`), `**` "
                   "(any characters) and `?`; a final `$` for that path alone; required",
        .offset = AUTHRULE(path),
        .doc = "The normalised request paths this entry applies to (`\"/admin\"`: `/admin`, "
               "`/admin/` and what is under it, not `/administrator`; `\"/api/*/export\"`; "
               "`\"/$\"`: the home page alone).",
    },
    {
        .key = "auth.rules.host",
        .type = MOAT__CFG_STRING,
        .check = check_rule_host,
        .allowed = "a host name",
        .offset = AUTHRULE(host),
        .doc = "Only requests for this host (the `Host` header, without the port); unset = any.",
    },
    {
        .key = "auth.rules.methods",
        .type = MOAT__CFG_LIST,
        .check = check_rule_method,
        .allowed = "method names",
        .offset = AUTHRULE(methods),
        .doc = "Only requests with one of these methods (`[\"POST\", \"DELETE\"]`); unset = any "
               "method. `GET` covers `HEAD` (frameworks run the GET view for it); a guarding "
               "rule with `methods` also covers every method outside GET, HEAD, POST, PUT, "
               "PATCH, DELETE and OPTIONS (`PROPFIND`, ...), which Django's function views run "
               "like any other.",
    },
    {
        .key = "auth.rules.policy",
        .type = MOAT__CFG_STRING,
        .required = true,
        .check = check_policy,
        .allowed = "`public`, `authenticated`, `mfa`, `deny`, `role:NAME` or `role:NAME+mfa`; "
                   "required",
        .offset = AUTHRULE(policy),
        .doc = "`public`: anyone. `authenticated`: a session (one factor) or a bearer token. "
               "`mfa`: a session that presented a second factor (tokens never qualify). "
               "`role:NAME`: a session or token of a user with that role. `role:NAME+mfa`: a "
               "session of a user with that role that presented a second factor (the user "
               "without one is sent to set one up). `deny`: nobody.",
    },

    /* ---- [portal] ---- */
    {
        .key = "portal.site_name",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .check = check_site_name,
        .allowed = "up to 64 printable characters, no `:`",
        .offset = AT(portal.site_name),
        .doc = "The site's name, shown at the top of the portal and error pages and in their "
               "titles, and the issuer authenticator apps show (unless `auth.totp_issuer` is "
               "set). `\"\"`: no name on the pages.",
    },
    {
        .key = "portal.logo",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .allowed =
            "a path to a .png, .svg, .jpg, .gif, .webp or .ico file up to 512 KiB, or `\"\"`",
        .path = true,
        .offset = AT(portal.logo),
        .doc = "An image shown beside the site's name (32 px high), served by moat at "
               "`/.moat/logo`. Read at start and on `SIGHUP`.",
    },
    {
        .key = "portal.accent_color",
        .type = MOAT__CFG_STRING,
        .def = "\"#1a5fb4\"",
        .check = check_color,
        .allowed = "`\"#rrggbb\"` or `\"#rgb\"`",
        .offset = AT(portal.accent_color),
        .doc = "The colour of the buttons and the bar at the top of the pages. The buttons' "
               "text is black or white, whichever contrasts more with it (WCAG AA whatever the "
               "colour); links and focus rings use the text colour.",
    },
    {
        .key = "portal.back_url",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .check = check_back_url,
        .allowed = "an `http(s)://` URL or a path on this site, or `\"\"`",
        .offset = AT(portal.back_url),
        .doc = "A \"Back to SITE\" link at the bottom of the portal and error pages. `\"\"`: none.",
    },
    {
        .key = "portal.templates",
        .type = MOAT__CFG_STRING,
        .def = "\"\"",
        .allowed = "a folder, or `\"\"` for the built-in templates",
        .path = true,
        .offset = AT(portal.templates),
        .doc = "A folder whose files replace the built-in templates of the same name "
               "(`layout.html`, `login.html`, `mfa.html`, `enroll.html`, `recovery.html`, "
               "`account.html`, `password.html`, `error.html`, `moat.css`; copy them from "
               "`templates/` in moat's repository). Files it lacks stay built in. A template "
               "that does not parse refuses the config. `errors.page`, when set, still wins "
               "for error pages.",
    },
    {
        .key = "limits.rate.path",
        .type = MOAT__CFG_STRING,
        .required = true,
        .check = check_rule_path,
        .allowed = "a path or a glob, as for `[[auth.rules]]`; required",
        .offset = RATERULE(path),
        .doc = "The normalised request paths this entry limits, read as a guarding "
               "`[[auth.rules]]` path is (`\"/login\"`: `/login`, `/login/`, what is under it "
               "and `/login.json`; with `auth.case_insensitive_paths`, any case), so no other "
               "spelling of the path escapes the limit.",
    },
    {
        .key = "limits.rate.methods",
        .type = MOAT__CFG_LIST,
        .check = check_rule_method,
        .allowed = "method names",
        .offset = RATERULE(methods),
        .doc = "Only requests with one of these methods count (`[\"POST\"]`); unset = every "
               "method. `GET` covers `HEAD`, and a list also covers every method outside GET, "
               "HEAD, POST, PUT, PATCH, DELETE and OPTIONS, as a guarding `[[auth.rules]]` "
               "entry does.",
    },
    {
        .key = "limits.rate.per",
        .type = MOAT__CFG_ENUM,
        .def = "\"address\"",
        .enum_values = rate_per_values,
        .offset = RATERULE(per),
        .doc = "Whose requests are counted together: `address`, the client address (the "
               "peer, or the address a trusted proxy names in `X-Forwarded-For`); `user`, the "
               "logged-in user (a session or a bearer token); `token`, the bearer token. A "
               "request without that identity (anonymous, or a session for `token`) is counted "
               "by its address.",
    },
    {
        .key = "limits.rate.requests",
        .type = MOAT__CFG_COUNT,
        .min = 1,
        .max = 100000000,
        .offset = RATERULE(requests),
        .doc = "Requests allowed within `window`; required.",
    },
    {
        .key = "limits.rate.window",
        .type = MOAT__CFG_DURATION,
        .min = SEC,
        .max = 24 * HOUR,
        .offset = RATERULE(window_ms),
        .doc = "The sliding window the requests are counted in (`\"1m\"`, `\"10s\"`); "
               "required.",
    },
    {
        .key = "limits.rate.burst",
        .type = MOAT__CFG_COUNT,
        .def = "0",
        .min = 0,
        .max = 100000000,
        .offset = RATERULE(burst),
        .doc = "Requests allowed beyond `requests` before refusing (nginx's `burst` with "
               "`nodelay`: answered at once, never queued).",
    },
    {
        .key = "admin.listen",
        .type = MOAT__CFG_LIST,
        .def = "[]",
        .check = moat__config_check_listen,
        .allowed = "`ADDRESS:PORT` as for `listen`; none (off) by default",
        .unique = true,
        .offset = AT(admin.listen),
        .doc = "Addresses of the metrics endpoint (`\"127.0.0.1:9100\"`). It answers "
               "`GET /metrics` and nothing else (404), with no authentication: keep it on a "
               "loopback or private address. An address (or port on a wildcard address) "
               "that is also in `listen` or `tls.listen` is refused.",
    },
};
const size_t moat__config_nsettings = MOAT_ARRAY_LEN(moat__config_settings);

bool moat__config_in_table(const moat__config_setting *s, const char *table)
{
    const char *dot = strrchr(s->key, '.');
    size_t n = dot ? (size_t)(dot - s->key) : 0;
    return strlen(table) == n && strncmp(s->key, table, n) == 0;
}

const moat__config_table *moat__config_array_table(const char *name)
{
    for (size_t i = 0; i < moat__config_ntables; i++)
        if (moat__config_tables[i].array && strcmp(moat__config_tables[i].name, name) == 0)
            return &moat__config_tables[i];
    return NULL;
}

bool moat__config_in_array(const moat__config_setting *s)
{
    for (size_t i = 0; i < moat__config_ntables; i++)
        if (moat__config_tables[i].array && moat__config_in_table(s, moat__config_tables[i].name))
            return true;
    return false;
}
