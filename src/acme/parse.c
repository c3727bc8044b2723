/* parse.c - the CA's JSON objects (RFC 8555 section 7.1): the directory, an
 * order, an authorization with the challenge moat answers, and a problem
 * document. jansson reads the text; this file checks what moat relies on
 * (types, URL schemes, the token's alphabet) so the client never acts on a
 * malformed answer. Everything here is fuzzed (tests/fuzz/fuzz_acme.c). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "acme.h"

#define MAX_AUTHZ 100

static json_t *load(const char *json, size_t n, char **err)
{
    json_error_t je;
    json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        *err = moat_xasprintf("not JSON: %s", je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *err = moat_xstrdup("not a JSON object");
        return NULL;
    }
    return root;
}

static bool good_url(const char *s)
{
    if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0) return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f) return false;
    return strlen(s) < 2048;
}

/* A URL member: NULL when absent; *bad when present but not a URL. */
static char *url_member(json_t *o, const char *name, bool *bad)
{
    json_t *v = json_object_get(o, name);
    if (!v) return NULL;
    if (!json_is_string(v) || !good_url(json_string_value(v))) {
        *bad = true;
        return NULL;
    }
    return moat_xstrdup(json_string_value(v));
}

static moat_acme_status status_of(json_t *o)
{
    const char *s = json_string_value(json_object_get(o, "status"));
    if (!s) return MOAT_ACME_UNKNOWN;
    static const struct {
        const char *name;
        moat_acme_status st;
    } map[] = {{"pending", MOAT_ACME_PENDING},       {"ready", MOAT_ACME_READY},
               {"processing", MOAT_ACME_PROCESSING}, {"valid", MOAT_ACME_VALID},
               {"invalid", MOAT_ACME_INVALID},       {"deactivated", MOAT_ACME_INVALID},
               {"expired", MOAT_ACME_INVALID},       {"revoked", MOAT_ACME_INVALID}};
    for (size_t i = 0; i < MOAT_ARRAY_LEN(map); i++)
        if (strcmp(s, map[i].name) == 0) return map[i].st;
    return MOAT_ACME_UNKNOWN;
}

/* The detail of an embedded problem ("error" member), bounded and one line. */
static char *problem_detail(json_t *o)
{
    json_t *e = json_object_get(o, "error");
    if (!json_is_object(e)) return NULL;
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *detail = json_string_value(json_object_get(e, "detail"));
    static const char prefix[] = "urn:ietf:params:acme:error:";
    if (type && strncmp(type, prefix, sizeof(prefix) - 1) == 0) type += sizeof(prefix) - 1;
    /* "TYPE (DETAIL)": not "TYPE: DETAIL", which the security log would
     * take for a header ("unauthorized: ...") and redact */
    moat_buf b;
    moat_buf_init(&b);
    moat_buf_printf(&b, "%.200s%s%.400s%s", type ? type : "error", detail ? " (" : "",
                    detail ? detail : "", detail ? ")" : "");
    for (size_t i = 0; i < b.len; i++)
        if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f) b.data[i] = ' ';
    return moat_buf_steal(&b);
}

int moat_acme_parse_directory(const char *json, size_t n, moat_acme_directory *out, char **err)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load(json, n, err);
    if (!root) return MOAT_EINVAL;
    bool bad = false;
    out->new_nonce = url_member(root, "newNonce", &bad);
    out->new_account = url_member(root, "newAccount", &bad);
    out->new_order = url_member(root, "newOrder", &bad);
    out->revoke_cert = url_member(root, "revokeCert", &bad);
    json_t *meta = json_object_get(root, "meta");
    if (json_is_object(meta))
        out->eab_required = json_is_true(json_object_get(meta, "externalAccountRequired"));
    json_decref(root);
    if (bad || !out->new_nonce || !out->new_account || !out->new_order) {
        moat_acme_directory_free(out);
        *err = moat_xstrdup("the directory lacks newNonce, newAccount or newOrder URLs");
        return MOAT_EINVAL;
    }
    return 0;
}

int moat_acme_parse_order(const char *json, size_t n, moat_acme_order *out, char **err)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load(json, n, err);
    if (!root) return MOAT_EINVAL;
    bool bad = false;
    out->status = status_of(root);
    out->finalize = url_member(root, "finalize", &bad);
    out->certificate = url_member(root, "certificate", &bad);
    out->error = problem_detail(root);
    json_t *az = json_object_get(root, "authorizations");
    if (!json_is_array(az) || json_array_size(az) == 0 || json_array_size(az) > MAX_AUTHZ) {
        bad = true;
    } else {
        out->authorizations = moat_xcalloc(json_array_size(az), sizeof(char *));
        size_t i;
        json_t *v;
        json_array_foreach(az, i, v)
        {
            if (!json_is_string(v) || !good_url(json_string_value(v))) {
                bad = true;
                break;
            }
            out->authorizations[out->nauthorizations++] = moat_xstrdup(json_string_value(v));
        }
    }
    json_decref(root);
    if (bad || out->status == MOAT_ACME_UNKNOWN || !out->finalize) {
        moat_acme_order_free(out);
        *err = moat_xstrdup("the order lacks a status, authorizations or a finalize URL");
        return MOAT_EINVAL;
    }
    return 0;
}

static bool good_token(const char *t)
{
    size_t n = strlen(t);
    if (n < 16 || n > 256) return false; /* RFC 8555: at least 128 bits */
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

int moat_acme_parse_authz(const char *json, size_t n, const char *type, moat_acme_authz *out,
                          char **err)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load(json, n, err);
    if (!root) return MOAT_EINVAL;
    out->status = status_of(root);
    json_t *id = json_object_get(root, "identifier");
    const char *value = json_string_value(json_object_get(id, "value"));
    const char *idtype = json_string_value(json_object_get(id, "type"));
    const char *why = NULL;
    if (out->status == MOAT_ACME_UNKNOWN)
        why = "the authorization has no known status";
    else if (!value || !idtype || strcmp(idtype, "dns") != 0 || strlen(value) > 253)
        why = "the authorization has no DNS identifier";
    else
        out->domain = moat_xstrdup(value);
    json_t *chs = json_object_get(root, "challenges");
    if (!why && !json_is_array(chs)) why = "the authorization has no challenges";
    size_t i;
    json_t *ch;
    if (!why) json_array_foreach(chs, i, ch)
        {
            const char *t = json_string_value(json_object_get(ch, "type"));
            if (!t || strcmp(t, type) != 0) continue;
            bool bad = false;
            char *url = url_member(ch, "url", &bad);
            const char *token = json_string_value(json_object_get(ch, "token"));
            if (bad || !url || !token || !good_token(token)) {
                free(url);
                why = "the challenge lacks a URL or a base64url token";
                break;
            }
            out->url = url;
            out->token = moat_xstrdup(token);
            out->challenge_status = status_of(ch);
            out->error = problem_detail(ch);
            break;
        }
    json_decref(root);
    if (!why && !out->url && out->status != MOAT_ACME_VALID)
        why = "the CA offers no challenge of the configured type (tls.acme.challenge)";
    if (why) {
        moat_acme_authz_free(out);
        *err = moat_xstrdup(why);
        return MOAT_EINVAL;
    }
    return 0;
}

int moat_acme_parse_problem(const char *json, size_t n, moat_acme_problem *out)
{
    memset(out, 0, sizeof(*out));
    char *err = NULL;
    json_t *root = load(json, n, &err);
    free(err);
    if (!root) return MOAT_EINVAL;
    const char *type = json_string_value(json_object_get(root, "type"));
    const char *detail = json_string_value(json_object_get(root, "detail"));
    static const char prefix[] = "urn:ietf:params:acme:error:";
    if (type && strncmp(type, prefix, sizeof(prefix) - 1) == 0) type += sizeof(prefix) - 1;
    out->type = moat_xstrndup(type ? type : "", type ? strnlen(type, 100) : 0);
    out->detail = moat_xstrndup(detail ? detail : "", detail ? strnlen(detail, 400) : 0);
    for (char *p = out->detail; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
    for (char *p = out->type; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
    json_decref(root);
    return 0;
}

void moat_acme_directory_free(moat_acme_directory *d)
{
    free(d->new_nonce);
    free(d->new_account);
    free(d->new_order);
    free(d->revoke_cert);
    memset(d, 0, sizeof(*d));
}

void moat_acme_order_free(moat_acme_order *o)
{
    for (size_t i = 0; i < o->nauthorizations; i++)
        free(o->authorizations[i]);
    free(o->authorizations);
    free(o->finalize);
    free(o->certificate);
    free(o->error);
    memset(o, 0, sizeof(*o));
}

void moat_acme_authz_free(moat_acme_authz *a)
{
    free(a->domain);
    free(a->url);
    free(a->token);
    free(a->error);
    memset(a, 0, sizeof(*a));
}

void moat_acme_problem_free(moat_acme_problem *p)
{
    free(p->type);
    free(p->detail);
    memset(p, 0, sizeof(*p));
}
