/* events.c - what the gateway tells the security log: every answer moat
 * makes itself (a refusal, a replaced page, an unreachable app) becomes one
 * event naming the stage that acted and the setting that would change it, so
 * `moat log why REQUEST_ID` can explain it. Whoever answers names the
 * event (a stage through moat__refuse, the client and the proxy through
 * moat__refusal): nothing is inferred from the status. */
#include <string.h>

#include "internal.h"
#include "metrics.h"

moat_seclog *moat__seclog;

void moat__refusal(moat_request *r, const char *event, const char *stage, const char *key)
{
    r->ev_event = event;
    r->ev_stage = stage;
    r->ev_key = key;
}

void moat__security_event(moat_request *r, int status, const char *reason)
{
    if (status == 308 || status == 204) return;
    const char *event = r->ev_event, *stage = r->ev_stage, *key = r->ev_key;
    if (!event) {
        /* Every answer names its event (moat__refuse, moat__refusal): one
         * that does not is the running stage's own rejection. */
        event = "http.rejected";
        stage = moat__stage_name(r->running);
    }
    moat__metrics_refusal(r, stage, event);
    if (!moat__seclog) return;
    const moat_seclog_event_info *info = moat_seclog_event_lookup(event);
    moat_seclog_event ev = {
        .event = event,
        .severity = info ? info->severity : MOAT_SECLOG_WARNING,
        .request_id = r->id,
        .client = r->c->peer,
        .method = r->head ? r->head->method : NULL,
        .path = r->head ? r->head->target : NULL,
        .reason = reason,
        .stage = stage,
        .config_key = key,
        .status = status,
        .fields = r->ev_fields,
        .nfields = r->ev_nfields,
    };
    moat_seclog_record(moat__seclog, &ev);
}

void moat__upgrade_refused(moat_request *r)
{
    if (!moat__seclog) return;
    moat_http_header *up = moat_http_head_find(r->head, "Upgrade");
    const char *token =
        up ? moat_arena_strndup(r->arena, up->value, up->value_len < 64 ? up->value_len : 64) : "";
    moat_seclog_field f[] = {{"upgrade", token}};
    moat_seclog_event ev = {
        .event = "http.upgrade_refused",
        .severity = MOAT_SECLOG_NOTICE,
        .request_id = r->id,
        .client = r->c->peer,
        .method = r->head->method,
        .path = r->head->target,
        .reason = "the Upgrade header was removed: moat tunnels only WebSocket handshakes, so the "
                  "request went on as HTTP/1.1",
        .stage = "http",
        .fields = f,
        .nfields = 1,
    };
    moat_seclog_record(moat__seclog, &ev);
}
