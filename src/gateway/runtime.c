/* runtime.c - a loaded config with what is derived from it once: upstream
 * addresses resolved, parser limits, the access log opened, the WAF's rules
 * loaded. Reference counted, so a reload can swap it in while old requests
 * finish on the old one; the last unref frees it (on whichever thread drops
 * it). A config whose WAF rules do not load never becomes a runtime. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "auth/portal/portal.h"
#include "store/store.h"

moat_runtime *moat__runtime_new(moat_config *cfg, uint64_t generation, char **err)
{
    moat_runtime *rt = moat_xcalloc(1, sizeof(*rt));
    atomic_init(&rt->refs, 1);
    rt->generation = generation;
    rt->cfg = cfg;
    rt->access_fd = -1;
    rt->nupstreams = cfg->upstream.len;
    if (rt->nupstreams == 0) {
        *err = moat_xstrdup("no upstream configured (set upstream = [...] or --upstream)");
        goto fail;
    }
    rt->upstreams = moat_xcalloc(rt->nupstreams, sizeof(*rt->upstreams));
    for (size_t i = 0; i < rt->nupstreams; i++) {
        char why[256];
        if (moat_upstream_parse(cfg->upstream.items[i], &rt->upstreams[i], why, sizeof(why)) < 0) {
            *err = moat_xasprintf("upstream '%s': %s", cfg->upstream.items[i], why);
            goto fail;
        }
    }
    rt->req_limits = (moat_http_limits){
        .url_bytes = (size_t)cfg->limits.url_bytes,
        .header_bytes = (size_t)cfg->limits.header_bytes,
        .headers = (size_t)cfg->limits.headers,
        .body_bytes = 0, /* counted by the limits stage, which answers 413 */
    };
    /* Upstream responses: generous but bounded, and under http-parser's own
     * compiled-in 80 KiB head limit. */
    rt->resp_limits = (moat_http_limits){
        .url_bytes = 8192, .header_bytes = 64 * 1024, .headers = 1000, .body_bytes = 0};
    if (cfg->tls.acme.on) {
        /* The certificate is ACME's, loaded (or awaited) by moat serve. */
        if (moat_tls_ctx_new_managed(&rt->tls) < 0) {
            *err = moat_xstrdup("[tls.acme] was added: turning ACME on needs a restart");
            goto fail;
        }
        moat_tls_ctx_set_http2(rt->tls, cfg->tls.http2);
        moat_addr a;
        if (cfg->tls.listen.len && moat_addr_parse(cfg->tls.listen.items[0], &a) == 0)
            rt->https_port = a.port;
    } else if (cfg->tls.cert.len) {
        char why[512];
        /* Ticket keys are process-wide and outlive reloads; a reload may
         * change whether tickets are issued and how often keys rotate. */
        moat_tls_tickets_configure(cfg->tls.session_tickets, cfg->tls.ticket_rotation_ms);
        if (moat_tls_ctx_new(cfg->tls.cert.items, cfg->tls.key.items, cfg->tls.cert.len,
                             moat_config_tls_profile(cfg) == MOAT_TLS_MODERN, &rt->tls, why,
                             sizeof(why)) < 0) {
            *err = moat_xstrdup(why);
            goto fail;
        }
        moat_tls_ctx_set_http2(rt->tls, cfg->tls.http2);
        moat_addr a;
        if (cfg->tls.listen.len && moat_addr_parse(cfg->tls.listen.items[0], &a) == 0)
            rt->https_port = a.port;
    }
    if (cfg->errors.page && cfg->errors.page[0]) {
        size_t len;
        int rc = moat_read_file(cfg->errors.page, &rt->page_template, &len);
        if (rc < 0 || len > 64 * 1024) {
            *err = moat_xasprintf("errors.page '%s': %s", cfg->errors.page,
                                  rc < 0 ? moat_strerror(rc) : "larger than 64 KiB");
            goto fail;
        }
    }
    if (moat_portal_look_new(cfg, &rt->look, err) < 0) goto fail;
    if (!rt->page_template) /* moat's own page, in the portal's look */
        rt->page_template = moat_xstrdup(moat_portal_look_error(rt->look));
    if (cfg->hosts.len) {
        rt->hosts = moat_xcalloc(cfg->hosts.len, sizeof(*rt->hosts));
        for (size_t i = 0; i < cfg->hosts.len; i++)
            rt->hosts[rt->nhosts++] = cfg->hosts.items[i];
    } else if (cfg->tls.acme.on) {
        rt->hosts = moat_xcalloc(cfg->tls.acme.domains.len, sizeof(*rt->hosts));
        for (size_t i = 0; i < cfg->tls.acme.domains.len; i++)
            rt->hosts[rt->nhosts++] = cfg->tls.acme.domains.items[i];
    } else if (rt->tls) {
        rt->hosts = moat_xcalloc(64, sizeof(*rt->hosts));
        rt->nhosts = moat_tls_ctx_names(rt->tls, rt->hosts, 64);
    }
    if (moat_waf_new(cfg, &rt->waf, err) < 0) goto fail;
    if (moat__auth_enabled(cfg)) {
        char *why = NULL;
        const char *users = moat_config_store_users(cfg), *state = moat_config_store_state(cfg);
        if (moat_store_open_roles(users, state, &rt->store, &why) < 0) {
            *err = moat_xasprintf("store (needed by [[auth.rules]] / auth.default): %s",
                                  why ? why : "cannot open");
            free(why);
            goto fail;
        }
        if (moat_store_open_roles(users, state, &rt->store_watch, &why) < 0) {
            *err = moat_xasprintf("store: %s", why ? why : "cannot open");
            free(why);
            goto fail;
        }
        rt->auth_cache = moat__auth_cache_new();
    }
    rt->access_json = !cfg->log.access_format || strcmp(cfg->log.access_format, "combined") != 0;
    const char *access = cfg->log.access;
    if (access && strcmp(access, "-") == 0) {
        rt->access_fd = dup(STDOUT_FILENO);
    } else if (access && access[0]) {
        rt->access_fd = open(access, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (rt->access_fd < 0) {
            *err = moat_xasprintf("cannot open access log '%s': %s", access, strerror(errno));
            goto fail;
        }
    }
    if (moat__pipeline_prepare(rt, err) < 0) goto fail;
    return rt;
fail:
    moat_waf_free(rt->waf);
    moat_store_close(rt->store);
    moat_store_close(rt->store_watch);
    moat__auth_cache_free(rt->auth_cache);
    moat_tls_ctx_free(rt->tls);
    moat_portal_look_free(rt->look);
    free(rt->page_template);
    free(rt->hosts);
    free(rt->upstreams);
    moat__pipeline_release(rt);
    rt->cfg = NULL; /* the caller still owns cfg on failure */
    free(rt);
    return NULL;
}

moat_runtime *moat__runtime_ref(moat_runtime *rt)
{
    atomic_fetch_add(&rt->refs, 1);
    return rt;
}

void moat__runtime_unref(moat_runtime *rt)
{
    if (!rt || atomic_fetch_sub(&rt->refs, 1) != 1) return;
    if (rt->access_fd >= 0) close(rt->access_fd);
    moat_waf_free(rt->waf);
    moat_store_close(rt->store);
    moat_store_close(rt->store_watch);
    moat__auth_cache_free(rt->auth_cache);
    moat_tls_ctx_free(rt->tls);
    moat_portal_look_free(rt->look);
    free(rt->page_template);
    free(rt->hosts);
    free(rt->upstreams);
    moat__pipeline_release(rt);
    moat_config_free(rt->cfg);
    free(rt);
}
