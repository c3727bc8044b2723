/* server.c - `moat serve`: the main thread loads the config, binds every
 * listener once per worker (SO_REUSEPORT), starts the worker threads (one
 * libuv loop each) and then only handles signals: SIGHUP reloads the config
 * and posts it to the workers, SIGUSR1 reopens the logs, SIGTERM/SIGINT
 * drain and stop them. */
#include <signal.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acme/acme.h"
#include "internal.h"
#include "metrics.h"

typedef struct server {
    uv_loop_t *loop;
    const moat_config_source *src;
    moat_worker *workers;
    unsigned nworkers;
    moat_runtime *rt;
    uint64_t generation;
    uv_signal_t sigterm, sigint, sighup, sigusr1;
    uv_timer_t drain_timer;
    uv_timer_t abandon_timer; /* drain_timeout passed and the workers still wait */
    uv_timer_t trim_timer;    /* gives freed heap memory back to the system */
    bool draining;
} server;

/* After drain_timeout the workers close every connection at once; a worker
 * still waiting this long after that waits for thread-pool work (a WAF
 * inspection, a store call) whose request is gone: the process exits
 * without it, so drain_timeout bounds the whole stop. */
#define ABANDON_MS 500

/* glibc keeps what the threads free in their arenas, in pieces between
 * live blocks: under steady load nothing returns it (the workers' own trim
 * waits for their clients to drop), and the resident size creeps up with
 * the requests served (issue 22: +1.3 MB a million). malloc_trim gives
 * every free page of every arena back; it takes each arena's lock for
 * about a millisecond. */
#define TRIM_MS 10000

static void on_trim(uv_timer_t *t)
{
    (void)t;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* ---- worker thread ------------------------------------------------------- */

static void on_connection(uv_stream_t *listener, int status)
{
    moat_listener *l = listener->data;
    if (status < 0) return;
    moat__client_accept(l->w, listener, l->tls);
}

static void close_listeners(moat_worker *w)
{
    for (size_t i = 0; i < w->nlisteners; i++)
        if (!uv_is_closing((uv_handle_t *)&w->listeners[i].tcp))
            uv_close((uv_handle_t *)&w->listeners[i].tcp, NULL);
}

/* Stopping: every connection between requests closes (after a short
 * grace, client.c), every other one when its answer is out; all at once
 * after drain_timeout. */
static void close_idle_clients(moat_worker *w, bool all)
{
    moat_link *l = w->clients.next;
    while (l != &w->clients) {
        moat_link *next = l->next;
        moat_client *c = MOAT_CONTAINER_OF(l, moat_client, link);
        if (c->h2s && !all) { /* HTTP/2: GOAWAY, the open streams finish */
            moat__h2_drain(c);
            l = next;
            continue;
        }
        if (all)
            moat__client_close(c);
        else
            moat__client_drain(c);
        l = next;
    }
}

/* The drain's turn of the loop has accepted what waited in the listen
 * queues (a connection closed there would be reset with its request
 * unread): no more. */
static void on_drain_check(uv_check_t *h)
{
    moat_worker *w = h->data;
    uv_check_stop(h);
    close_listeners(w);
}

static void on_wakeup(uv_async_t *a)
{
    moat_worker *w = a->data;
    moat__worker_trim(w);
    uv_mutex_lock(&w->lock);
    moat_runtime *rt = w->pending_rt;
    bool drain = w->pending_drain, kill = w->pending_kill;
    w->pending_rt = NULL;
    uv_mutex_unlock(&w->lock);
    if (rt) {
        moat_runtime *old = w->rt;
        w->rt = rt;
        if (old->nupstreams != rt->nupstreams) {
            moat__pool_drop_all(w);
            free(w->idle);
            free(w->nidle);
            w->nidle_lists = rt->nupstreams;
            w->idle = moat_xcalloc(rt->nupstreams, sizeof(*w->idle));
            w->nidle = moat_xcalloc(rt->nupstreams, sizeof(*w->nidle));
            for (size_t i = 0; i < rt->nupstreams; i++)
                moat__list_init(&w->idle[i]);
        } else {
            moat__pool_drop_all(w);
        }
        w->idle_generation = rt->generation;
        moat__runtime_unref(old);
    }
    if ((drain || kill) && !w->draining) {
        w->draining = true;
        moat__pool_drop_all(w);
        uv_check_start(&w->drain_check, on_drain_check);
    }
    if (kill) close_listeners(w);
    if (w->draining) {
        close_idle_clients(w, kill);
        moat__worker_check_drained(w);
    }
}

void moat__worker_check_drained(moat_worker *w)
{
    /* The loop ends once the wakeup handle closes and nothing else is open. */
    if (w->draining && w->nclients == 0 && !uv_is_closing((uv_handle_t *)&w->wakeup)) {
        moat__pool_drop_all(w);
        close_listeners(w);
        uv_close((uv_handle_t *)&w->drain_check, NULL);
        uv_close((uv_handle_t *)&w->mem_timer, NULL);
        moat__pool_close(w);
        uv_close((uv_handle_t *)&w->wakeup, NULL);
    }
}

static void on_mem_timer(uv_timer_t *t)
{
    moat_worker *w = t->data;
    moat__worker_mem m;
    moat__worker_memory(w, &m);
    moat__metrics_worker_mem(w, &m);
}

static void worker_main(void *arg)
{
    moat_worker *w = arg;
    if (moat__metrics_on()) uv_timer_start(&w->mem_timer, on_mem_timer, 0, MOAT__METRICS_MEM_MS);
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

static int worker_init(server *s, moat_worker *w, unsigned index, char **err)
{
    memset(w, 0, sizeof(*w));
    w->index = index;
    uv_loop_init(&w->loop);
    uv_mutex_init(&w->lock);
    uv_async_init(&w->loop, &w->wakeup, on_wakeup);
    w->wakeup.data = w;
    uv_check_init(&w->loop, &w->drain_check);
    w->drain_check.data = w;
    moat__pool_init(w);
    uv_timer_init(&w->loop, &w->mem_timer); /* started by the thread (worker_main) */
    w->mem_timer.data = w;
    moat__list_init(&w->quiet);
    w->rt = moat__runtime_ref(s->rt);
    w->idle_generation = s->rt->generation;
    moat__list_init(&w->clients);
    w->nidle_lists = s->rt->nupstreams;
    w->idle = moat_xcalloc(w->nidle_lists, sizeof(*w->idle));
    w->nidle = moat_xcalloc(w->nidle_lists, sizeof(*w->nidle));
    for (size_t i = 0; i < w->nidle_lists; i++)
        moat__list_init(&w->idle[i]);
    const moat_strlist *plain = &s->rt->cfg->listen, *tls = &s->rt->cfg->tls.listen;
    w->nlisteners = plain->len + tls->len;
    w->listeners = moat_xcalloc(w->nlisteners, sizeof(*w->listeners));
    for (size_t i = 0; i < w->nlisteners; i++) {
        moat_addr addr;
        char why[256];
        int fd;
        bool is_tls = i >= plain->len;
        const char *text = is_tls ? tls->items[i - plain->len] : plain->items[i];
        if (moat_addr_parse(text, &addr) < 0) {
            *err = moat_xasprintf("invalid listen address '%s'", text);
            return MOAT_ECONFIG;
        }
        if (moat_listen_fd(&addr, 1024, &fd, why, sizeof(why)) < 0) {
            *err = moat_xstrdup(why);
            return MOAT_EIO;
        }
        moat_listener *l = &w->listeners[i];
        uv_tcp_init(&w->loop, &l->tcp);
        l->tcp.data = l;
        l->w = w;
        l->tls = is_tls;
        int rc = uv_tcp_open(&l->tcp, fd);
        if (rc == 0) rc = uv_listen((uv_stream_t *)&l->tcp, 1024, on_connection);
        if (rc < 0) {
            *err = moat_xasprintf("listen on %s: %s", addr.text, uv_strerror(rc));
            return MOAT_EIO;
        }
    }
    return 0;
}

/* Undoes worker_init, however far it got, for a start that fails before
 * any worker thread runs. */
static void worker_abort(moat_worker *w)
{
    if (!w->rt) return; /* never initialised */
    for (size_t i = 0; i < w->nlisteners; i++)
        if (w->listeners[i].w) uv_close((uv_handle_t *)&w->listeners[i].tcp, NULL);
    uv_close((uv_handle_t *)&w->wakeup, NULL);
    uv_close((uv_handle_t *)&w->drain_check, NULL);
    uv_close((uv_handle_t *)&w->mem_timer, NULL);
    moat__pool_close(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    uv_mutex_destroy(&w->lock);
    moat__runtime_unref(w->rt);
    free(w->listeners);
    free(w->idle);
    free(w->nidle);
}

static int fail_start(server *s, char *err)
{
    moat_error("%s", err);
    free(err);
    for (unsigned i = 0; s->workers && i < s->nworkers; i++)
        worker_abort(&s->workers[i]);
    free(s->workers);
    moat__runtime_unref(s->rt);
    moat_seclog_close(moat__seclog);
    moat__seclog = NULL;
    uv_loop_close(s->loop);
    return 1; /* no worker runs yet: the process exits */
}

/* ---- main thread ----------------------------------------------------------- */

static void post(moat_worker *w, moat_runtime *rt, bool drain, bool kill)
{
    uv_mutex_lock(&w->lock);
    if (rt) {
        if (w->pending_rt) moat__runtime_unref(w->pending_rt);
        w->pending_rt = moat__runtime_ref(rt);
    }
    w->pending_drain |= drain;
    w->pending_kill |= kill;
    uv_mutex_unlock(&w->lock);
    uv_async_send(&w->wakeup);
}

static bool same_list(const moat_strlist *a, const moat_strlist *b)
{
    if (a->len != b->len) return false;
    for (size_t i = 0; i < a->len; i++)
        if (strcmp(a->items[i], b->items[i]) != 0) return false;
    return true;
}

static void reload_event(const char *reason, int severity)
{
    moat_seclog_event ev = {.event = "config.reloaded",
                            .severity = (moat_seclog_severity)severity,
                            .reason = reason,
                            .stage = "reload"};
    moat_seclog_record(moat__seclog, &ev);
}

static void reload(server *s)
{
    moat_config *cfg = NULL;
    char *err = NULL;
    if (moat_config_load(s->src, &cfg, &err) < 0) {
        moat_error("reload failed, keeping the running config: %s", err);
        reload_event("the new configuration is invalid; the running one was kept",
                     MOAT_SECLOG_ERROR);
        moat__control_status(false, err);
        free(err);
        return;
    }
    moat_runtime *rt = moat__runtime_new(cfg, ++s->generation, &err);
    if (!rt) {
        moat_error("reload failed, keeping the running config: %s", err);
        reload_event("the new configuration could not be applied; the running one was kept",
                     MOAT_SECLOG_ERROR);
        moat__control_status(false, err);
        free(err);
        moat_config_free(cfg);
        return;
    }
    /* The sockets were bound at start (possibly before dropping privileges):
     * a reload cannot move them, so a changed address list is refused whole. */
    if (!same_list(&rt->cfg->listen, &s->rt->cfg->listen) ||
        !same_list(&rt->cfg->tls.listen, &s->rt->cfg->tls.listen)) {
        moat_error("reload failed, keeping the running config: 'listen' and 'tls.listen' "
                   "changes need a restart");
        reload_event("listen addresses changed, which needs a restart; the running "
                     "configuration was kept",
                     MOAT_SECLOG_ERROR);
        moat__control_status(false, "'listen' and 'tls.listen' changes need a restart");
        moat__runtime_unref(rt);
        return;
    }
    moat__warn_file_modes(rt->cfg);
    if (moat__seclog) {
        if (moat_seclog_reconfigure(moat__seclog, rt->cfg, &err) < 0) {
            moat_warn("reload: the security log keeps its old settings: %s", err);
            free(err);
            err = NULL;
        }
        moat_seclog_reopen(moat__seclog);
    }
    for (unsigned i = 0; i < s->nworkers; i++)
        post(&s->workers[i], rt, false, false);
    moat__runtime_unref(s->rt);
    s->rt = rt;
    moat_info("config reloaded%s%s", rt->cfg->source ? " from " : "",
              rt->cfg->source ? rt->cfg->source : "");
    reload_event("the configuration was reloaded", MOAT_SECLOG_NOTICE);
    moat__control_status(true, rt->cfg->source ? rt->cfg->source : "defaults");
}

static void on_abandon(uv_timer_t *t)
{
    (void)t;
    moat_warn("drain timeout: thread-pool work of requests already closed still runs; "
              "exiting without waiting for it");
    /* No worker records any more: their connections are closed, and a job
     * that ends now finds its request gone and drops its result. */
    moat_seclog_close(moat__seclog);
    moat__seclog = NULL;
    moat__control_close();
    moat_info("stopped");
    _exit(0);
}

static void on_drain_timeout(uv_timer_t *t)
{
    server *s = t->data;
    moat_warn("drain timeout: closing the remaining connections");
    for (unsigned i = 0; i < s->nworkers; i++)
        post(&s->workers[i], NULL, true, true);
    uv_timer_start(&s->abandon_timer, on_abandon, ABANDON_MS, 0);
    uv_unref((uv_handle_t *)&s->abandon_timer);
}

static moat_acme *acme_thread; /* [tls.acme]: the certificate thread, or NULL */
static moat_ocsp *ocsp_thread; /* tls.cert with tls.ocsp: the revocation checks, or NULL */

static void on_signal(uv_signal_t *sig, int signum)
{
    server *s = sig->data;
    if (signum == SIGHUP) {
        moat_acme_wake(acme_thread); /* moat cert renew */
        moat_ocsp_wake(ocsp_thread); /* a replaced tls.cert is checked at once */
        reload(s);
        return;
    }
    if (signum == SIGUSR1) {
        /* after logrotate moved the files */
        moat_seclog_reopen(moat__seclog);
        moat__control_reopen_access(s->rt);
        return;
    }
    if (s->draining) return;
    s->draining = true;
    moat_info("%s: draining in-flight requests", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    for (unsigned i = 0; i < s->nworkers; i++)
        post(&s->workers[i], NULL, true, false);
    uv_timer_start(&s->drain_timer, on_drain_timeout, s->rt->cfg->limits.drain_timeout_ms, 0);
    uv_unref((uv_handle_t *)&s->drain_timer);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sighup, NULL);
    uv_close((uv_handle_t *)&s->sigusr1, NULL);
}

static void on_workers_done(uv_async_t *a)
{
    uv_close((uv_handle_t *)a, NULL);
}

typedef struct joiner {
    server *s;
    uv_async_t done;
} joiner;

static void join_all(void *arg)
{
    joiner *j = arg;
    for (unsigned i = 0; i < j->s->nworkers; i++)
        uv_thread_join(&j->s->workers[i].thread);
    uv_async_send(&j->done);
}

int moat_gateway_serve(const moat_config_source *src)
{
    signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
    /* A fixed threshold: glibc's sliding one rises after the first large
     * buffer (a WAF body) is freed, and every later one then comes from,
     * and fragments, the heap instead of a mapping given back on free. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
    server s;
    memset(&s, 0, sizeof(s));
    s.src = src;
    s.loop = uv_default_loop();
    moat_config *cfg = NULL;
    char *err = NULL;
    if (moat_config_load(src, &cfg, &err) < 0) {
        moat_error("%s", err);
        free(err);
        return 1;
    }
    bool acme_had = false;
    if (cfg->tls.acme.on) moat_acme_serve_stored(cfg, &acme_had);
    s.rt = moat__runtime_new(cfg, ++s.generation, &err);
    if (!s.rt) {
        moat_error("%s", err);
        free(err);
        moat_config_free(cfg);
        return 1;
    }
    if (moat_seclog_open(cfg, &moat__seclog, &err) < 0) {
        moat_error("security log: %s", err);
        free(err);
        moat__runtime_unref(s.rt);
        return 1;
    }
    s.nworkers = moat_config_workers(cfg);
    s.workers = moat_xcalloc(s.nworkers, sizeof(*s.workers));
    for (unsigned i = 0; i < s.nworkers; i++)
        if (worker_init(&s, &s.workers[i], i, &err) < 0) return fail_start(&s, err);
    if (moat__control_open(cfg, &err) < 0) return fail_start(&s, err);
    if (moat__metrics_open(cfg, s.nworkers, &err) < 0) {
        moat__control_close();
        return fail_start(&s, err);
    }
    /* Ports bound, keys read, logs open: nothing more needs root. */
    if (moat__privileges_drop(cfg, &err) < 0) {
        moat__control_close();
        return fail_start(&s, err);
    }
    moat_acme *acme = NULL;
    if (cfg->tls.acme.on) {
        if (moat_acme_start(cfg, moat__seclog, &acme, &err) < 0) {
            moat__control_close();
            return fail_start(&s, err);
        }
        acme_thread = acme;
        if (!acme_had)
            moat_info("acme: no certificate yet: HTTPS handshakes fail until the CA issues one "
                      "(the CA's %s validation is answered meanwhile)",
                      cfg->tls.acme.challenge);
    }
    moat_ocsp *ocsp = NULL;
    if (moat_ocsp_start(cfg, moat__seclog, &ocsp, &err) < 0) {
        moat_acme_stop(acme);
        acme_thread = NULL;
        moat__control_close();
        return fail_start(&s, err);
    }
    ocsp_thread = ocsp;
    uv_signal_init(s.loop, &s.sigterm);
    uv_signal_init(s.loop, &s.sigint);
    uv_signal_init(s.loop, &s.sighup);
    uv_signal_init(s.loop, &s.sigusr1);
    s.sigterm.data = s.sigint.data = s.sighup.data = s.sigusr1.data = &s;
    uv_signal_start(&s.sigusr1, on_signal, SIGUSR1);
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_signal_start(&s.sighup, on_signal, SIGHUP);
    uv_timer_init(s.loop, &s.drain_timer);
    s.drain_timer.data = &s;
    uv_timer_init(s.loop, &s.abandon_timer);
    s.abandon_timer.data = &s;
    uv_timer_init(s.loop, &s.trim_timer);
    uv_timer_start(&s.trim_timer, on_trim, TRIM_MS, TRIM_MS);
    uv_unref((uv_handle_t *)&s.trim_timer);

    for (unsigned i = 0; i < s.nworkers; i++)
        uv_thread_create(&s.workers[i].thread, worker_main, &s.workers[i]);
    for (size_t i = 0; i < cfg->listen.len; i++)
        moat_info("listening on http://%s (%u workers) -> %s", cfg->listen.items[i], s.nworkers,
                  s.rt->upstreams[0].text);
    for (size_t i = 0; i < cfg->tls.listen.len; i++)
        moat_info("listening on https://%s (%u workers) -> %s", cfg->tls.listen.items[i],
                  s.nworkers, s.rt->upstreams[0].text);

    joiner j = {.s = &s};
    uv_async_init(s.loop, &j.done, on_workers_done);
    uv_thread_t jt;
    uv_thread_create(&jt, join_all, &j);
    uv_run(s.loop, UV_RUN_DEFAULT);
    uv_thread_join(&jt);
    if (!uv_is_closing((uv_handle_t *)&s.drain_timer))
        uv_close((uv_handle_t *)&s.drain_timer, NULL);
    uv_close((uv_handle_t *)&s.abandon_timer, NULL);
    uv_close((uv_handle_t *)&s.trim_timer, NULL);
    uv_run(s.loop, UV_RUN_DEFAULT);

    for (unsigned i = 0; i < s.nworkers; i++) {
        moat_worker *w = &s.workers[i];
        uv_mutex_lock(&w->lock);
        if (w->pending_rt) moat__runtime_unref(w->pending_rt);
        uv_mutex_unlock(&w->lock);
        uv_loop_close(&w->loop);
        uv_mutex_destroy(&w->lock);
        moat__runtime_unref(w->rt);
        free(w->listeners);
        free(w->idle);
        free(w->nidle);
    }
    free(s.workers);
    moat__metrics_close();
    acme_thread = NULL;
    moat_acme_stop(acme);
    ocsp_thread = NULL;
    moat_ocsp_stop(ocsp);
    moat__runtime_unref(s.rt);
    moat_seclog_close(moat__seclog); /* everything queued is written and sealed */
    moat__seclog = NULL;
    moat__control_close();
    uv_loop_close(s.loop);
    moat_info("stopped");
    return 0;
}
