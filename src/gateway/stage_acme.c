/* stage_acme.c - ACME HTTP-01 (RFC 8555 section 8.3) answered by moat: with
 * [tls.acme], GET /.well-known/acme-challenge/TOKEN gets the key
 * authorization while the certificate thread (src/acme) waits for the CA
 * to fetch it, and 404 for any other token. The application never sees
 * that path then: its answer could not be the right one, and a path the CA
 * trusts should not be the app's to serve. Without [tls.acme] the path is
 * the application's, as before. */
#include <string.h>

#include "acme/acme.h"
#include "internal.h"

#define PREFIX "/.well-known/acme-challenge/"

static int acme_head(moat_request *r)
{
    if (!r->rt->cfg->tls.acme.on || !r->path) return MOAT_PASS;
    if (strncmp(r->path, PREFIX, sizeof(PREFIX) - 1) != 0) return MOAT_PASS;
    const char *token = r->path + sizeof(PREFIX) - 1;
    const char *m = r->head->method;
    char keyauth[512];
    if ((strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) &&
        moat_acme_http01(token, strlen(token), keyauth, sizeof(keyauth))) {
        r->internal = true;
        moat__client_respond(r, 200, "acme challenge", "application/octet-stream", keyauth,
                             strlen(keyauth), NULL, 0);
        return MOAT_DONE;
    }
    moat__refuse(r, 404, "http.rejected", "tls.acme",
                 "no ACME challenge with this token is under way");
    return MOAT_DONE;
}

const moat_stage moat__stage_acme = {
    .name = "acme",
    .event = "acme",
    .on_request_head = acme_head,
};
