/* internal.h - types shared by the gateway's files (private to src/gateway):
 * the shared runtime config, workers, client and upstream connections, the
 * request, and the stage interface of the pipeline. */
#ifndef MOAT_GATEWAY_INTERNAL_H
#define MOAT_GATEWAY_INTERNAL_H

#include <stdatomic.h>
#include <uv.h>

#include "config/config.h"
#include "gateway.h"
#include "http/http.h"
#include "net/conn.h"
#include "net/net.h"
#include "seclog/seclog.h"
#include "waf/waf.h"

/* Room for the stages of pipeline.c (checked there at compile time): the
 * size of rt->conf and r->ctx. */
#define MOAT_MAX_STAGES 24

/* A loaded config plus what is derived from it once (resolved upstreams,
 * parser limits, the access log fd). Shared read-only by all workers and
 * reference counted: each worker and each in-flight request holds a ref. */
typedef struct moat_runtime {
    atomic_int refs;
    uint64_t generation;
    moat_config *cfg;
    moat_upstream_target *upstreams;
    size_t nupstreams;
    moat_http_limits req_limits;
    moat_http_limits resp_limits;
    int access_fd; /* -1 = off */
    bool access_json;
    moat_tls_ctx *tls;   /* NULL = no TLS */
    uint16_t https_port; /* port of the first TLS listener, for redirects */
    char *page_template; /* errors.page contents, or NULL for the built-in page */
    const char **hosts;  /* effective allow-list: 'hosts', else the certificate names */
    size_t nhosts;
    /* how moat's pages look ([portal]): templates, stylesheet, logo */
    struct moat_portal_look *look;
    moat_waf *waf;                       /* the WAF's rules; NULL when waf.mode = "off" */
    struct moat_store *store;            /* the auth store; NULL when no access rule needs it */
    struct moat_store *store_watch;      /* second connection: sees every commit of the others */
    struct moat__auth_cache *auth_cache; /* sessions recently read (stage_auth.c) */
    /* What each stage built from the config once (its prepare), by the
     * stage's index in the pipeline: nginx's module main conf. Owned by
     * the stage (its release frees it). */
    void *conf[MOAT_MAX_STAGES];
} moat_runtime;

moat_runtime *moat__runtime_new(moat_config *cfg, uint64_t generation, char **err);
moat_runtime *moat__runtime_ref(moat_runtime *rt);
void moat__runtime_unref(moat_runtime *rt);

typedef struct moat_worker moat_worker;

typedef struct moat_listener {
    uv_tcp_t tcp;
    moat_worker *w;
    bool tls;
} moat_listener;
typedef struct moat_client moat_client;
typedef struct moat_upconn moat_upconn;
typedef struct moat_request moat_request;

/* Doubly linked intrusive list. */
typedef struct moat_link {
    struct moat_link *prev, *next;
} moat_link;

struct moat_worker {
    unsigned index;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wakeup;
    uv_mutex_t lock;          /* guards the pending_* fields below */
    moat_runtime *pending_rt; /* new config posted by the main thread */
    bool pending_drain, pending_kill;
    moat_runtime *rt; /* current config (owned ref) */
    struct moat_listener *listeners;
    size_t nlisteners;
    moat_link clients; /* all open client connections */
    size_t nclients;
    size_t trim_peak; /* most clients since memory was last given back */
    uint64_t trim_ms; /* when it was */
    bool trim_due;    /* give it back at the next wakeup (client.c) */
    moat_link *idle;  /* per upstream index: idle pooled connections */
    size_t *nidle;
    size_t nidle_lists;
    uint64_t idle_generation;
    /* Requests that found no idle connection, and the pool's turn handle:
     * at the end of the loop's turn they take what the turn's responses
     * gave back; the rest connect (upstream.c). */
    moat_link waiting;
    uv_idle_t pool_turn;
    size_t rr;                     /* round-robin cursor */
    uint64_t last_connect_warn_ms; /* rate limit of "connect failed" warnings */
    bool draining;
    uv_check_t drain_check; /* closes the listeners after the accepts of the drain's turn */
    /* Client connections with no request bytes (new, or idle between
     * requests), newest first: near limits.connections the oldest is closed
     * to admit a new one (client.c). */
    moat_link quiet;
    bool crowded;         /* in an episode of limits.connections pressure (one event each) */
    uv_timer_t mem_timer; /* counts what the connections hold, for the metrics */
};

enum { REQ_HEAD, REQ_BODY, REQ_DONE };

/* Where the upstream side delivers a response (h2o's generator seen from
 * the other end): the client connection of HTTP/1 today, an HTTP/2 stream
 * later. upstream.c reaches the client only through these. */
typedef struct moat_sink {
    /* A response head (an interim 1xx, or the final one once the
     * response-head stages ran); 0 or an error (the client is gone). */
    int (*head)(moat_request *r, moat_http_head *resp);
    int (*body)(moat_request *r, const char *data, size_t len);
    void (*end)(moat_request *r);
    /* The exchange failed: moat's page for status when nothing was sent
     * yet, else the client connection is cut. r is gone after. */
    void (*abort)(moat_request *r, int status, const char *reason);
    /* Flow control: stop/restart reading the request body (the upstream
     * is slow to take it). */
    void (*pause)(moat_request *r, bool on);
    /* Collect writes and send them as one; owner is r->sink_owner, which
     * outlives r (the request may end between on and off). */
    void (*batch)(void *owner, bool on);
    /* Bytes of a 101 tunnel. */
    void (*tunnel)(moat_request *r, const char *data, size_t len);
    /* True while the client's bytes are being parsed: writes to the
     * upstream are collected and leave in one (moat__upstream_flush). */
    bool (*parsing)(const moat_request *r);
} moat_sink;

struct moat_request {
    moat_client *c;
    const moat_sink *sink; /* where the response goes */
    void *sink_owner;      /* the connection behind the sink (batch) */
    moat_worker *w;
    moat_runtime *rt;  /* owned ref for the request's lifetime */
    moat_arena *arena; /* borrowed from the client, reset when the request ends */
    moat_http_head *head;
    /* The headers as the client sent them, hop-by-hop and underscored ones
     * included (arena copy taken before they were stripped): what the WAF
     * inspects, as a proxy in front of moat would have. */
    const moat_http_header *sent_headers;
    size_t nsent_headers;
    char id[MOAT_REQUEST_ID_LEN + 1];
    char *path; /* for logs: target without query */
    uint64_t start_ms, upstream_start_ms, upstream_ms;
    unsigned stage;    /* index of the stage that returned MOAT_AGAIN */
    uint64_t stage_ns; /* uv_hrtime() when that stage began (metrics.c) */
    bool stage_open;   /* ... and its time is not counted yet (pipeline.c) */
    int state;         /* REQ_HEAD, REQ_BODY, REQ_DONE */
    uint64_t body_in;  /* request body bytes received */
    bool body_chunked; /* forward the body re-chunked */
    bool expect_continue;
    bool upgrade;
    const char *upgrade_value; /* "websocket" when upgrade, else NULL (static) */
    moat_upconn *up;
    moat_link wait_link; /* in the worker's waiting list (upstream.c) */
    bool waiting;
    size_t upstream_index;
    unsigned tries;
    /* response */
    int status;
    bool resp_head_sent;
    bool resp_done;
    bool resp_chunked_out; /* we chunk the body to the client */
    bool resp_close_delimited;
    bool tunnel;              /* 101: bytes flow raw both ways */
    uint64_t bytes_out;       /* response body bytes sent */
    const char *error_reason; /* why moat answered itself, for the logs */
    bool https;               /* the client's scheme is https (TLS, or a trusted proxy says so) */
    const char *location;     /* Location of moat's own redirect */
    const char *ev_event, *ev_stage, *ev_key; /* security event of moat's own answer */
    bool internal;                            /* answered by moat itself (/.moat/ endpoints) */
    bool hold;                 /* a stage holds the response until it has inspected the body */
    moat_http_head *held_head; /* the held head, once the response-head stages ran */
    moat_buf held_body;        /* a request body read by moat itself (stage_moat.c) */
    /* Request body a stage read ahead of the stages after it (the WAF holds
     * it until inspected): pipeline.c gives it to those stages once every
     * request-head stage has passed (head_done). */
    bool head_done;
    const moat_buf *body_held; /* borrowed from the holding stage */
    unsigned body_hold_stage;
    const moat_seclog_field *ev_fields; /* event-specific fields of moat's own answer */
    size_t ev_nfields;
    uint64_t log_mark; /* moat_seclog_recorded_here() when it began (log.on_failure) */
    unsigned running;  /* index of the stage whose callback runs (moat__refuse) */
    bool answering;    /* moat's own answer is passing the response-head stages */
    bool ended;        /* the on_done stages ran (moat__pipeline_done) */
    /* Each stage's state of this request, by its index in the pipeline
     * (nginx's r->ctx[module.ctx_index]); arena memory or freed by an
     * arena defer of the stage. */
    void *ctx[MOAT_MAX_STAGES];
    void *auth; /* stage_auth.c's state of this request (moves to ctx with src/auth) */
    /* stage_auth.c: the request carried a valid session or token; an
     * [[auth.rules]] entry other than public decided it. Its response is
     * then the user's own (Cache-Control). */
    bool auth_user, auth_guarded;
    /* stage_auth.c, for per-user and per-token rate limits (stage_rate.c):
     * the user a session or token proved (0 = none), and the stored hash
     * of the bearer token that did (NULL = not a token). */
    int64_t auth_uid;
    const char *auth_token;
    /* A refusal of this request that counts toward a ban (stage_rate.c):
     * the event's name (auth.login.failure, rate.limited, ...), else NULL. */
    const char *strike;
};

/* Client connection. */
struct moat_client {
    moat_conn conn; /* socket, deadline, bytes in (conn.in), transport */
    moat_link link;
    moat_worker *w;
    moat_http_parser *parser;
    moat_arena *arena;
    moat_request *req; /* current request or NULL */
    moat_runtime *rt;  /* config this connection's parser limits come from */
    char peer[INET6_ADDRSTRLEN];
    uint16_t local_port;
    bool parse_paused;  /* the parser waits for the pipeline */
    bool send_wait;     /* the deadline counts limits.send_timeout */
    bool backpressured; /* upstream is slow to take the body */
    bool closing;
    bool close_after;     /* close once the current response is written */
    bool linger;          /* a request was answered before it was read whole: lingering close */
    bool timed_out;       /* a request deadline passed (no lingering close) */
    bool got_bytes;       /* any byte of the current request seen */
    bool in_parser;       /* inside moat_http_parser_execute */
    bool kick;            /* execute once even with no new bytes */
    unsigned requests;    /* served on this connection */
    moat_link quiet_link; /* in w->quiet while no byte of a request has come */
    bool quiet;
    uint64_t quiet_ms; /* since when */

    struct moat__h2 *h2s;       /* HTTP/2: the session this connection carries (h2.c) */
    struct moat__h2_stream *h2; /* HTTP/2: this is a stream's stand-in, not a connection */
};

/* Upstream connection. */
struct moat_upconn {
    moat_conn conn; /* socket, deadline (connect, response, idle), bytes in (conn.in) */
    moat_link link; /* in the worker's idle list when pooled */
    moat_worker *w;
    size_t upstream_index;
    uint64_t generation;
    moat_http_parser *parser;
    moat_arena *arena;
    moat_request *req;   /* NULL while idle */
    uint64_t idle_since; /* loop time it was last pooled */
    bool connected, reused, closing, idle, backpressured;
    bool response_started; /* any response byte received for req */
    bool interim;          /* the response just parsed was a 1xx */
    bool reusable;         /* keep-alive allowed after this response */
};

/* ---- stages ------------------------------------------------------------- */
/* MOAT_TAKEN, from on_request_body only: the stage kept the bytes and hands
 * on what it will itself (moat__pipeline_body_after); reading goes on. */
enum { MOAT_PASS = 0, MOAT_DONE = 1, MOAT_AGAIN = 2, MOAT_TAKEN = 3 };

typedef struct moat_stage {
    const char *name;  /* in logs, and the stage of the events of its refusals */
    const char *event; /* the stage events name when not name (waf-body is the waf's) */
    /* Builds what the stage needs of a new config, once (runtime.c), into
     * *conf: 0, or a negative error with *err owned (the config is then
     * refused). release frees it (conf may be NULL). */
    int (*prepare)(moat_runtime *rt, void **conf, char **err);
    void (*release)(moat_runtime *rt, void *conf);
    /* The request head is parsed. PASS, DONE (answered), AGAIN (resumes by
     * moat__pipeline_resume), or a negative error (answered 500). */
    int (*on_request_head)(moat_request *r);
    /* Body bytes (decoded); PASS, DONE (answered; the connection closes) or
     * AGAIN (stop reading the body until the stage resumes the pipeline).
     * Until every request-head stage has passed, only the stages up to the
     * one that went async see the body. */
    int (*on_request_body)(moat_request *r, const char *data, size_t len);
    /* The request is complete. */
    int (*on_request_end)(moat_request *r);
    /* The upstream's response head, before it is sent: filters edit it. A
     * stage that must see the body first sets r->hold: the head then waits
     * (r->held_head) until the stage releases it. Moat's own answers pass
     * here too, with r->answering set: a stage must then only edit the
     * head (no hold, no answer). */
    int (*on_response_head)(moat_request *r, moat_http_head *resp);
    /* Body bytes of a held response (de-chunked, still content-coded); only
     * walked while r->hold. AGAIN: the stage took them (it holds them, or it
     * released the response with moat__response_release); DONE: it
     * answered instead (r is gone); PASS: not its response; or an error. */
    int (*on_response_body)(moat_request *r, const char *data, size_t len);
    /* The held response's body is complete: PASS once the stage released
     * it (the response then ends), DONE (answered; r is gone), or an error. */
    int (*on_response_end)(moat_request *r);
    /* The exchange is over (success or not): logging. */
    void (*on_done)(moat_request *r);
} moat_stage;

extern const moat_stage moat__stage_limits;
extern const moat_stage moat__stage_hosts;
extern const moat_stage moat__stage_https_redirect;
extern const moat_stage moat__stage_moat;
#define MOAT_CSP_REPORT_PATH "/.moat/csp-report"
extern const moat_stage moat__stage_paths;
extern const moat_stage moat__stage_auth; /* stage_auth.c */
/* The cache of sessions read from the store, shared by the workers of a
 * runtime (stage_auth.c). */
typedef struct moat__auth_cache moat__auth_cache;
moat__auth_cache *moat__auth_cache_new(void);
void moat__auth_cache_free(moat__auth_cache *c);
/* True for the login portal's pages under /.moat/ (auth_portal.c). */
bool moat__auth_portal_path(const char *path);
extern const moat_stage moat__stage_errors;
extern const moat_stage moat__stage_codings; /* stage_errors.c: Accept-Encoding */
extern const moat_stage moat__stage_headers;
extern const moat_stage moat__stage_waf;
extern const moat_stage moat__stage_waf_body; /* stage_waf.c: after auth */

/* privileges.c (main thread). Started as root: hands the files moat writes
 * to cfg->user, drops to cfg->user/cfg->group for good and checks that what
 * it must write later is writable; not root: only the mode warnings. Returns
 * 0, or an error with *err owned; the process must then exit. */
int moat__privileges_drop(const moat_config *cfg, char **err);
/* Warns about key and config files others (or another group) can read. */
void moat__warn_file_modes(const moat_config *cfg);

/* cookies.c: the Set-Cookie validator of the headers stage. */
typedef struct moat__cookie_policy {
    bool https;                          /* the client's scheme is https */
    bool add_secure;                     /* cookies.secure */
    bool httponly;                       /* cookies.httponly */
    const moat_strlist *httponly_except; /* may be NULL */
    const char *samesite;                /* cookies.samesite: Lax, Strict, None or off */
} moat__cookie_policy;
enum { MOAT__COOKIE_KEPT, MOAT__COOKIE_FIXED, MOAT__COOKIE_DROPPED };
/* Checks one Set-Cookie value (v, len: no NUL required) and appends to out
 * the value to send: as written, less the attributes it mends, plus
 * HttpOnly, Secure and SameSite as pol says. Returns MOAT__COOKIE_KEPT
 * (only moat's usual flags added), MOAT__COOKIE_FIXED (an attribute
 * browsers would reject or misread was rewritten) or MOAT__COOKIE_DROPPED
 * (not a cookie, or a broken prefix cookie over plain HTTP: send nothing;
 * out is then unspecified). *name_len is the length of the cookie name at
 * v (0 when there is none). When why is not NULL, plain words for each
 * change are appended to it (never the cookie's value). */
int moat__cookie_harden(const moat__cookie_policy *pol, const char *v, size_t len, moat_buf *out,
                        size_t *name_len, moat_buf *why);

/* stage_errors.c */
bool moat__is_debug_page(const char *body, size_t len);
bool moat__is_listing(const char *body, size_t len);
extern const moat_stage moat__stage_forwarded;
extern const moat_stage moat__stage_proxy;
extern const moat_stage moat__stage_access_log;

/* pipeline.c */
/* The stage's index in the pipeline: its slot in rt->conf and r->ctx. */
unsigned moat__stage_index(const moat_stage *s);
static inline void *moat__conf(const moat_runtime *rt, const moat_stage *s)
{
    return rt->conf[moat__stage_index(s)];
}
#define MOAT__CTX(r, s) ((r)->ctx[moat__stage_index(s)])
/* Every stage's prepare / release of rt->conf (runtime.c). */
int moat__pipeline_prepare(moat_runtime *rt, char **err);
void moat__pipeline_release(moat_runtime *rt);
/* Runs the response-head callbacks on moat's own answer (client.c). */
void moat__pipeline_answer_head(moat_request *r, moat_http_head *h);
/* Refuses the request with moat's page for status: the security event
 * names the running stage (r->running), the setting key (may be NULL) and
 * reason. The request is answered and ended. */
/* log.on_failure = "refuse" and the security log cannot be written: true
 * when r produced an event (any: whatever it did, as a refusal always does). */
bool moat__log_refuses(const moat_request *r, bool any);
#define MOAT__LOG_REFUSED "the security log cannot be written (log.on_failure = \"refuse\")"
void moat__refuse(moat_request *r, int status, const char *event, const char *key,
                  const char *reason);

/* The thread-pool protocol of a stage (pipeline.c): a job embeds a
 * moat__job first. moat__job_init ties it to the request: when the request
 * ends, the job is freed (free_fn), at once or, while its work runs on the
 * pool, once the work is over, its results dropped. moat__stage_offload
 * runs work(job) on the libuv thread pool, then done(r, job, status) on the
 * loop if the request is still there, with r->running set to the stage that
 * offloaded (status < 0: the work did not run). Returns 0 or a negative
 * error (not queued: the caller decides). */
typedef struct moat__job moat__job;
struct moat__job {
    uv_work_t work;
    moat_request *r; /* NULL once the request is gone */
    void (*free_fn)(moat__job *job);
    void (*fn)(moat__job *job);
    void (*done)(moat_request *r, moat__job *job, int status);
    unsigned stage;
    bool queued;
    uint64_t queued_ns; /* uv_hrtime() when queued (metrics.c) */
};
void moat__job_init(moat__job *job, moat_request *r, void (*free_fn)(moat__job *job));
int moat__stage_offload(moat_request *r, moat__job *job, void (*work)(moat__job *job),
                        void (*done)(moat_request *r, moat__job *job, int status));
/* The name of the stage at index i of the pipeline ("http" past it). */
const char *moat__stage_name(unsigned i);
void moat__pipeline_request_head(moat_request *r);
void moat__pipeline_resume(moat_request *r, int result);
int moat__pipeline_request_body(moat_request *r, const char *data, size_t len);
int moat__pipeline_request_end(moat_request *r);
/* Hands body bytes a stage kept (MOAT_TAKEN) to the stages after it, once
 * every request-head stage passed. PASS, or what the stage that stopped
 * them returned (DONE: answered). */
int moat__pipeline_body_after(moat_request *r, const moat_stage *s, const char *data, size_t len);
int moat__pipeline_response_head(moat_request *r, moat_http_head *resp);
/* The upstream's response on its way to r->sink, held while a stage
 * inspects its body (pipeline.c): a head (interim, or the final one once
 * the response-head stages passed), body bytes, the end. */
int moat__response_head(moat_request *r, moat_http_head *resp);
int moat__response_body(moat_request *r, const char *data, size_t len);
void moat__response_end(moat_request *r);
/* Sends the held response (r->held_head) as it came: its head, then
 * body[0..len), the bytes the holding stage kept. 0 or an error (the client
 * is then closed and r gone). */
int moat__response_release(moat_request *r, const char *body, size_t len);
void moat__pipeline_done(moat_request *r);

/* client.c */
void moat__client_accept(moat_worker *w, uv_stream_t *listener, bool tls);
/* Answers with a 308 to location (an arena string) and ends the request. */
void moat__client_redirect(moat_request *r, const char *location);
/* Answers the request with moat's generic page for status and ends it. */
void moat__client_respond_error(moat_request *r, int status, const char *reason);
/* The head of an answer moat makes itself (client.c; h2.c too), response
 * stages applied; connection NULL adds no Connection field (HTTP/2). */
moat_http_head *moat__answer_head_new(moat_request *r, int status, const char *ctype, size_t len,
                                      const char *const *hdrs, size_t nhdrs,
                                      const char *connection);
/* Answers the request with moat's own response: body[0..len) (copied) of
 * type ctype, plus nhdrs (name, value) pairs in hdrs, and ends it. Records
 * no security event (the caller does, if any). */
void moat__client_respond(moat_request *r, int status, const char *reason, const char *ctype,
                          const char *body, size_t len, const char *const *hdrs, size_t nhdrs);
/* Sends a response head/body from the upstream to the client. */
int moat__client_send_head(moat_request *r, moat_http_head *resp);
int moat__client_send_body(moat_request *r, const char *data, size_t len);
void moat__client_response_end(moat_request *r);
/* The upstream failed after the response began: abort the client. */
void moat__client_abort(moat_client *c);
/* Continue reading/parsing the request body (upstream is ready). */
void moat__client_continue(moat_client *c);
void moat__client_close(moat_client *c);
/* The worker stops (SIGTERM): a connection between requests closes once
 * it has been idle a short grace, or at once when idle long; one whose
 * request bytes are arriving or being served is left to finish (its
 * answer says Connection: close). */
void moat__client_drain(moat_client *c);
void moat__client_backpressure(moat_client *c, bool on);
/* Writes made between cork and uncork go out as one (head and body of a
 * small response in one segment). */
void moat__client_cork(moat_client *c);
void moat__client_uncork(moat_client *c);
void moat__client_tunnel_data(moat_client *c, const char *data, size_t len);

/* h2.c: HTTP/2 on a TLS connection that chose h2 by ALPN. client.c hands
 * the connection over (start, read, written, close, drain); a stream's
 * stand-in client gets moat's answers and the pipeline's continue here. */
typedef struct moat__h2 moat__h2;
bool moat__h2_wanted(moat_client *c);
void moat__h2_start(moat_client *c);
void moat__h2_read(moat_client *c);
void moat__h2_written(moat_client *c);
void moat__h2_close(moat_client *c);
void moat__h2_drain(moat_client *c);
void moat__h2_respond(moat_request *r, int status, const char *reason, const char *ctype,
                      const char *body, size_t len, const char *const *hdrs, size_t nhdrs);
void moat__h2_continue(moat_client *c);
void moat__h2_stream_close(moat_client *c);

/* server.c */
void moat__worker_check_drained(moat_worker *w);
/* Gives freed memory back to the system if client.c asked for it. */
void moat__worker_trim(moat_worker *w);

/* client.c: counts the worker's connections and the bytes they hold into
 * *m (a struct moat__worker_mem of metrics.h). */
struct moat__worker_mem;
void moat__worker_memory(moat_worker *w, struct moat__worker_mem *m);
/* client.c: the bytes one upstream connection holds (struct, buffers, arena). */
uint64_t moat__upconn_bytes(const moat_upconn *u);
/* h2.c: adds what an HTTP/2 session holds to *m: its streams (arenas,
 * buffers, held bodies), their upstream connections (busy), spare streams
 * and frame buffers. */
void moat__h2_memory(const struct moat__h2 *s, struct moat__worker_mem *m);

/* upstream.c */
void moat__upstream_start(moat_request *r);
int moat__upstream_send_body(moat_request *r, const char *data, size_t len);
int moat__upstream_send_end(moat_request *r);
/* Writes what the request's upstream side collected while the client's
 * bytes were parsed (a head and the body bytes that came with it leave in
 * one write). */
void moat__upstream_flush(moat_request *r);
/* The client went away or the request ended abnormally: drop the upstream
 * connection (never pooled), or its place among the waiting requests. */
void moat__upstream_detach(moat_request *r);
void moat__upstream_tunnel_data(moat_upconn *u, const char *data, size_t len);
void moat__upstream_resume_reading(moat_upconn *u);
void moat__pool_drop_all(moat_worker *w);
/* The pool's turn handle and waiting list: set up with the worker's loop,
 * closed with its other handles. */
void moat__pool_init(moat_worker *w);
void moat__pool_close(moat_worker *w);

/* events.c: the process's security log (NULL = off), set before workers
 * start; moat_seclog_record is thread-safe. */
extern moat_seclog *moat__seclog;
/* Names the event, stage and setting of the refusal about to be answered. */
void moat__refusal(moat_request *r, const char *event, const char *stage, const char *key);
/* Records that the request's Upgrade (h2c, or anything but a well-formed
 * WebSocket handshake) was removed and the request went on as HTTP/1.1. */
void moat__upgrade_refused(moat_request *r);
/* Records moat's own answer (called by moat__client_respond_error). */
void moat__security_event(moat_request *r, int status, const char *reason);

/* pages.c */
void moat__error_page(moat_buf *out, const char *tmpl, int status, const char *request_id,
                      bool json);
bool moat__wants_json(moat_http_head *h);

/* authutil.c: the pure helpers of the auth stage. */
/* True when the path matches pattern, a path or a glob with * (no '/'), **
 * (anything) and ?, ending in '$' for that path alone. MOAT__MATCH_GUARD
 * reads it as a guarding rule does (a trailing '/' ignored; the path, what
 * is under it and its extensions), else as a public rule does (a literal:
 * the path and what is under it; a glob: only what it matches whole).
 * MOAT__MATCH_NOCASE (with GUARD only) ignores the case of letters. */
enum { MOAT__MATCH_GUARD = 1, MOAT__MATCH_NOCASE = 2 };
bool moat__auth_path_match(const char *pattern, const char *path, unsigned flags);
/* The policy of the first [[auth.rules]] entry matching the request, else
 * auth.default (borrowed from cfg). host may be NULL. */
const char *moat__auth_policy(const moat_config *cfg, const char *host, const char *path,
                              const char *method);
/* True when the config asks the gateway to authenticate anything. */
bool moat__auth_enabled(const moat_config *cfg);
/* The client's address for login throttling: the peer, or, when the peer
 * is in trusted_proxies, the right-most X-Forwarded-For address that is not
 * one of them. */
void moat__auth_client_addr(const moat_config *cfg, const char *peer, moat_http_head *h, char *out,
                            size_t cap);

/* accesslog.c */
void moat__access_log(moat_request *r);

/* list helpers */
static inline void moat__list_init(moat_link *l)
{
    l->prev = l->next = l;
}
static inline void moat__list_add(moat_link *head, moat_link *l)
{
    l->next = head->next;
    l->prev = head;
    head->next->prev = l;
    head->next = l;
}
static inline void moat__list_del(moat_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
}
static inline bool moat__list_empty(const moat_link *l)
{
    return l->next == l;
}
/* control.c: the pid file and reload status file (pid_file), and the
 * access log's reopening on SIGUSR1. Main thread only. */
int moat__control_open(const moat_config *cfg, char **err);
void moat__control_status(bool ok, const char *message);
void moat__control_close(void);
void moat__control_reopen_access(moat_runtime *rt);

#define MOAT_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
