/* config.h - the configuration model: the settings table (key, type, default,
 * check, doc), loading from moat.toml or [tool.moat] in pyproject.toml,
 * ${env:NAME} / ${file:PATH} references, validation with file:line:col, and
 * the effective-settings dump. A loaded config is immutable and shared by all
 * workers; a reload builds a new one and swaps it in. */
#ifndef MOAT_CONFIG_H
#define MOAT_CONFIG_H

#include <string.h>

#include "core.h"

typedef struct moat_strlist {
    char **items; /* owned */
    size_t len;
} moat_strlist;

/* The entries of an array of tables ([[headers.paths]]): items points at len
 * structs of the table's element type (moat_header_rule, ...), owned. */
typedef struct moat_config_array {
    void *items;
    size_t len;
    char **refs; /* private to the config module: per element, one slot a setting */
} moat_config_array;

/* [[headers.paths]]: header values for the paths under a prefix. NULL
 * fields take the value of [headers]. */
typedef struct moat_header_rule {
    char *path; /* prefix of the normalised path, starting with '/' */
    char *csp, *frame_options, *referrer_policy, *permissions_policy, *coop, *corp;
} moat_header_rule;

/* [[audit.ignore]] (or audit.ignore = [{...}]): an advisory not reported,
 * with the reason, until the expiry date if any. */
typedef struct moat_audit_ignore {
    char *id, *reason;
    char *expires; /* "YYYY-MM-DD" or NULL */
} moat_audit_ignore;
/* [[auth.rules]]: who may reach which paths. NULL host = any host; NULL
 * methods (len 0) = any method. */
typedef struct moat_auth_rule {
    char *host;           /* exact host name (case-insensitive), or NULL */
    char *path;           /* a path, or a glob when it has '*' or '?'; '$' anchors */
    moat_strlist methods; /* upper-case method names */
    char *policy;         /* public | authenticated | mfa | role:NAME | deny */
} moat_auth_rule;

/* [[limits.rate]]: at most `requests` (+ `burst`) per `window` from one
 * client on the paths it names. NULL methods (len 0) = any method. */
typedef struct moat_rate_rule {
    char *path;           /* a path, or a glob (the [[auth.rules]] dialect) */
    moat_strlist methods; /* upper-case method names */
    char *per;            /* "address" | "user" | "token" */
    uint64_t requests;    /* 0 = not given (refused by the crosscheck) */
    uint64_t window_ms;
    uint64_t burst;
} moat_rate_rule;

typedef struct moat_limits {
    uint64_t url_bytes;            /* request target; over it: 414 */
    uint64_t header_bytes;         /* whole header block; over it: 431 */
    uint64_t headers;              /* number of header fields; over it: 431 */
    uint64_t body_bytes;           /* request body; over it: 413 */
    uint64_t header_timeout_ms;    /* time to receive the whole head: 408 */
    uint64_t body_timeout_ms;      /* idle time between body bytes: 408 */
    uint64_t keepalive_timeout_ms; /* idle client connection between requests */
    uint64_t connections;          /* per worker; over it new connections are closed */
    uint64_t upstream_connect_timeout_ms;
    uint64_t upstream_timeout_ms; /* waiting for upstream bytes: 504 */
    uint64_t upstream_keepalive;  /* idle pooled upstream connections per worker */
    uint64_t drain_timeout_ms;    /* SIGTERM: time given to in-flight requests */
    uint64_t client_buffer_bytes; /* response bytes queued per client: backpressure above */
    uint64_t send_timeout_ms;     /* a client that reads nothing this long is dropped */

    uint64_t http2_streams;        /* HTTP/2: concurrent streams per connection */
    uint64_t http2_resets;         /* HTTP/2: RST_STREAM a client may send per 10 s */
    uint64_t http2_control_frames; /* HTTP/2: SETTINGS, PING, PRIORITY, empty DATA per 10 s */
    moat_config_array rate;        /* of moat_rate_rule, every matching entry counts */
    uint64_t ban_strikes;          /* refusals within ban_window that ban; 0 = no bans */
    uint64_t ban_window_ms, ban_duration_ms;
    moat_strlist ban_on; /* which refusals count: waf, paths, login, rate */
    /* a pooled upstream connection idle this long closes */
    uint64_t upstream_idle_timeout_ms;
    /* a new connection's first byte while the worker is crowded */
    uint64_t crowded_header_timeout_ms;
} moat_limits;

typedef struct moat_config {
    char *source;                 /* file the config came from, or NULL (defaults) */
    moat_strlist listen;          /* "ADDR:PORT", "[v6]:PORT" */
    moat_strlist upstream;        /* "http://HOST:PORT" or "unix:/path" */
    moat_strlist hosts;           /* Host allow-list; empty = any (until TLS names exist) */
    uint64_t workers;             /* 0 = auto (one per CPU) */
    moat_strlist trusted_proxies; /* CIDRs whose X-Forwarded-* are kept */
    char *user, *group;           /* started as root: serve as these */
    char *pid_file;               /* "" = none; `moat reload` signals the pid in it */
    moat_limits limits;
    struct {
        moat_strlist listen;          /* HTTPS listeners; empty = no TLS */
        moat_strlist cert, key;       /* PEM chain and key files, pairwise */
        char *profile;                /* "intermediate" | "modern" */
        bool redirect;                /* plain HTTP answers 308 to HTTPS */
        moat_strlist redirect_exempt; /* path prefixes served over plain HTTP */
        bool session_tickets;         /* stateless resumption with rotating keys */
        bool http2;                   /* ALPN offers h2 on the TLS listener */
        uint64_t ticket_rotation_ms;  /* a new ticket key this often */
        bool ocsp;                    /* check revocation (OCSP) and staple the answer */
        uint64_t ocsp_refresh_ms;     /* ask the OCSP responder at most this far apart */
        struct {
            bool on;                  /* a [tls.acme] table was given (set by the loader) */
            char *directory;          /* the CA's ACME directory URL */
            char *email;              /* account contact; "" = none */
            moat_strlist domains;     /* names to certify; empty = hosts */
            char *ca_bundle;          /* "" = the system's CAs */
            char *challenge;          /* "tls-alpn-01" | "http-01" */
            char *eab_kid, *eab_hmac; /* external account binding; "" = none */
            uint64_t retry_ms;        /* first wait after a failure (doubles) */
        } acme;
    } tls;
    struct {
        moat_strlist deny;  /* segment globs refused with 404 */
        moat_strlist allow; /* path prefixes exempt from deny */
    } paths;
    struct {
        char *csp; /* "" = none */
        bool csp_report_only;
        bool csp_report;     /* add report-uri /.moat/csp-report */
        char *frame_options; /* "DENY" | "SAMEORIGIN" | "off" */
        bool nosniff;
        char *referrer_policy;    /* "" = none */
        char *permissions_policy; /* "" = none */
        char *coop, *corp;        /* "" = none */
        bool override;            /* replace the upstream's own values */
        uint64_t hsts_max_age;    /* seconds; 0 = no HSTS */
        bool hsts_include_subdomains, hsts_preload;
        moat_strlist remove;     /* response headers removed (banners) */
        moat_config_array paths; /* of moat_header_rule, first match wins */
    } headers;
    struct {
        bool httponly;
        moat_strlist httponly_except;
        char *samesite; /* "Lax" | "Strict" | "None" | "off" */
        bool secure;    /* add Secure on HTTPS requests */
    } cookies;
    struct {
        bool replace_5xx;
        bool debug_pages;
        bool listings;
        uint64_t inspect_bytes; /* 4xx body held for inspection; past it: replaced */
        char *page;             /* HTML template file; "" = built in */
    } errors;
    struct {
        char *access;                /* path, "-" for stdout, "" = off */
        char *access_format;         /* "json" | "combined" */
        char *security;              /* security event log: path, "-" for stdout, "" = off */
        char *seal_key;              /* sealing key file; "" = unsealed hash chain */
        uint64_t seal_interval_ms;   /* the sealing key evolves at least this often */
        uint64_t seal_entries;       /* ... or after this many entries */
        uint64_t rotate_bytes;       /* 0 = never by size */
        uint64_t rotate_interval_ms; /* 0 = never by time */
        uint64_t rotate_keep;        /* rotated files kept; 0 = all */
        bool syslog;                 /* also send each entry to /dev/log (RFC 5424) */
        char *flush;                 /* "write" | "fsync" */
        bool query;                  /* log query strings (redacted) */
        char *on_failure;            /* "serve" | "refuse": the log cannot be written */
    } log;
    struct {
        char *url;   /* "sqlite:PATH": both roles in one file (the default) */
        char *users; /* "" (store.url) | "sqlite:PATH" | "postgresql://..." */
        char *state; /* "" (store.users) | "sqlite:PATH" (the users' file) | "redis[s]://..." */
    } store;
    struct {
        uint64_t password_min;                    /* code points */
        uint64_t argon2_memory;                   /* bytes (used in KiB) */
        uint64_t argon2_time, argon2_parallelism; /* passes, lanes */
        char *totp_issuer;                        /* shown in authenticator apps */
        uint64_t totp_window;                     /* steps either side */
        uint64_t lockout_failures;                /* per account, within the window */
        uint64_t lockout_window_ms, lockout_duration_ms;
        uint64_t address_failures; /* per client address, within the window */
        uint64_t mfa_failures;     /* wrong second-factor codes per account, within the window */
        moat_config_array rules;   /* of moat_auth_rule, first match wins */
        char *default_policy;      /* for paths no rule matches */
        uint64_t session_idle_ms, session_lifetime_ms;
        uint64_t remember_ms;        /* "remember me" cookie lifetime; 0 = not offered */
        char *identity_secret;       /* HMAC key of X-Moat-Identity; "" = not sent */
        bool case_insensitive_paths; /* guarding rules ignore the case of letters */
        bool keep_method_override;   /* forward X-HTTP-Method-Override and kin */
        moat_strlist strip_headers;  /* more identity headers to strip ("Name", "Prefix-*") */
        bool cache_control;          /* Cache-Control: private, no-store on per-user answers */
    } auth;
    struct {
        moat_strlist exclude;     /* globs: names, or paths relative to the audited folder */
        moat_strlist skip;        /* rule ids not run */
        char *severity;           /* lowest reported: "low" | "medium" | "high" */
        char *confidence;         /* same */
        char *min_severity;       /* audit deps: lowest CVSS rating reported */
        moat_config_array ignore; /* audit deps: of moat_audit_ignore */
    } audit;
    struct {
        char *mode;                 /* "block" | "detect" | "off" */
        uint64_t paranoia;          /* CRS paranoia level, 1-4 */
        uint64_t inbound_threshold; /* CRS inbound anomaly score that blocks */
        moat_strlist rules;         /* extra SecLang rule files, loaded in order */
        moat_strlist exclude;       /* "ROUTE [RULE_ID|TAG|TARGET|PARAM ...]" */
        moat_strlist content_types; /* request body types the CRS allows (920420) */
        moat_strlist stream_types;  /* media ranges streamed past inspect_bytes (files) */
        moat_strlist rule_sets;     /* rules moat leaves out, put back */
        moat_strlist graphql;       /* routes of GraphQL endpoints */
        moat_strlist text_fields;   /* parameter names that carry prose, markdown, HTML */
        uint64_t inspect_bytes;     /* request body bytes inspected */
        char *over_limit;           /* "refuse" | "pass": bodies over inspect_bytes */
        char *crs;                  /* folder of the Core Rule Set's REQUEST-*.conf files */
    } waf;
    struct {
        char *site_name;    /* shown on moat's pages; the TOTP issuer by default */
        char *logo;         /* image file served at /.moat/logo; "" = none */
        char *accent_color; /* "#rrggbb" */
        char *back_url;     /* "Back to the site" link; "" = none */
        char *templates;    /* folder of templates replacing the built-in ones; "" = none */
    } portal;
    /* Private to the config module: one entry per setting of the table, the
     * TOML text the dump prints instead of a value that came from ${env:...}
     * or ${file:...} references (owned), else NULL. */
    char **refs;
    struct {
        moat_strlist listen; /* the metrics listener; empty = off */
    } admin;
} moat_config;

/* The enum settings the gateway acts on, as typed values: read once when a
 * runtime is built from the config, never compared as strings per request. */
typedef enum { MOAT_WAF_BLOCK, MOAT_WAF_DETECT, MOAT_WAF_OFF } moat_waf_mode;
typedef enum { MOAT_TLS_INTERMEDIATE, MOAT_TLS_MODERN } moat_tls_profile;
typedef enum { MOAT_OVER_LIMIT_PASS, MOAT_OVER_LIMIT_REFUSE } moat_over_limit;
static inline moat_waf_mode moat_config_waf_mode(const moat_config *cfg)
{
    return strcmp(cfg->waf.mode, "detect") == 0 ? MOAT_WAF_DETECT
           : strcmp(cfg->waf.mode, "off") == 0  ? MOAT_WAF_OFF
                                                : MOAT_WAF_BLOCK;
}
static inline moat_tls_profile moat_config_tls_profile(const moat_config *cfg)
{
    return strcmp(cfg->tls.profile, "modern") == 0 ? MOAT_TLS_MODERN : MOAT_TLS_INTERMEDIATE;
}
static inline moat_over_limit moat_config_waf_over_limit(const moat_config *cfg)
{
    return strcmp(cfg->waf.over_limit, "refuse") == 0 ? MOAT_OVER_LIMIT_REFUSE
                                                      : MOAT_OVER_LIMIT_PASS;
}

/* Where a config comes from. Any of the overrides may be NULL. */
typedef struct moat_config_source {
    const char *path;     /* explicit --config FILE; NULL = search cwd */
    const char *upstream; /* --upstream URL (replaces the list) */
    const char *listen;   /* --listen ADDR:PORT (replaces the list) */
} moat_config_source;

/* Loads and validates a config. With no path, looks in the current directory
 * for moat.toml, then pyproject.toml with a [tool.moat] table, else uses the
 * defaults. On failure returns MOAT_ECONFIG and *errmsg owns a message of the
 * form "FILE:LINE:COL: what is wrong (expected ...)"; *out is left NULL. */
/* One waf.exclude entry taken apart: "ROUTE [ITEM ...]" where an item is a
 * rule id (942100), a rule tag (attack-rce), a target (ARGS:body,
 * REQUEST_HEADERS:Referer, REQUEST_COOKIES:x) or a bare parameter name
 * (body: ARGS:body and its top-level JSON key ARGS:json.body). */
#define MOAT_WAF_EXCL_MAX 16
typedef struct moat_waf_exclusion {
    char *buf; /* owned copy of the entry; every pointer below points into it */
    const char *route;
    const char *ids[MOAT_WAF_EXCL_MAX];
    const char *tags[MOAT_WAF_EXCL_MAX];
    const char *targets[MOAT_WAF_EXCL_MAX];
    bool bare[MOAT_WAF_EXCL_MAX]; /* the target was a bare parameter name */
    size_t nids, ntags, ntargets;
} moat_waf_exclusion;
/* Parses entry into *out (free with moat_waf_exclusion_free). Returns NULL,
 * or why the entry is not valid (static text; *out is then empty). */
const char *moat_waf_exclusion_parse(const char *entry, moat_waf_exclusion *out);
void moat_waf_exclusion_free(moat_waf_exclusion *e);

int moat_config_load(const moat_config_source *src, moat_config **out, char **errmsg);

/* A config with every default and no file. */
moat_config *moat_config_default(void);

void moat_config_free(moat_config *c);

/* Appends the effective settings as TOML that moat_config_load reads back to
 * the same config. Values that came from ${env:NAME} / ${file:PATH} references
 * are printed as those references, never as their values. */
void moat_config_dump(const moat_config *c, moat_buf *out);

/* Appends docs/configuration.md (Markdown generated from the settings table). */
void moat_config_docs(moat_buf *out);

/* True when the file c was read from writes a secret out (a setting marked
 * secret in the table, set, and not through a ${env:...}/${file:...}
 * reference): only then do the file's permissions matter. */
bool moat_config_holds_secret(const moat_config *c);

/* Number of workers to start: c->workers, or the CPU count when it is 0. */
unsigned moat_config_workers(const moat_config *c);

/* The store's two roles as configured: store.users and store.state, each
 * falling back to store.url (the one SQLite file for both). */
const char *moat_config_store_users(const moat_config *c);
const char *moat_config_store_state(const moat_config *c);

#endif
