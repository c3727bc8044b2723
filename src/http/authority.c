/* authority.c - the Host header (and an absolute-form target's authority)
 * taken apart as RFC 3986 host [":" port], and the WebSocket handshake
 * checks (RFC 6455 4.1, 4.2.2) that decide what moat may tunnel. Both are
 * stricter than their RFCs on purpose: a reg-name may hold sub-delims such
 * as ',' that an application behind ProxyFix would read as a list, so only
 * DNS-shaped names, IPv4 and IPv6 literals pass. The allow-list itself and
 * what to do with a refused upgrade are the gateway's. */
#include <arpa/inet.h>
#include <http_parser.h>
#include <openssl/evp.h>
#include <string.h>

#include "internal.h"

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* An IPv6 literal "[...]" at v: its length with the brackets, or 0. */
static size_t ip_literal(const char *v, size_t len)
{
    const char *rb = memchr(v, ']', len);
    if (!rb) return 0;
    size_t n = (size_t)(rb - v) - 1;
    char tmp[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof(tmp)) return 0;
    /* inet_pton stops at a NUL: check every byte first ("[::\0\01]"). */
    for (size_t i = 1; i <= n; i++) {
        unsigned char c = (unsigned char)v[i];
        bool hex = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
        if (!hex && c != ':' && c != '.') return 0;
    }
    memcpy(tmp, v + 1, n);
    tmp[n] = '\0';
    struct in6_addr a;
    if (inet_pton(AF_INET6, tmp, &a) != 1) return 0;
    return n + 2;
}

/* A DNS name or dotted IPv4 address at v, up to ':' or the end: its length,
 * or 0. A name of digits and dots only must be a dotted quad (what a
 * browser would have turned it into), so "127.1" is refused, not guessed. */
static size_t reg_name(const char *v, size_t len)
{
    size_t i = 0, label = 0;
    bool numeric = true;
    for (; i < len && v[i] != ':'; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '.') {
            if (label == 0) return 0;
            label = 0;
            continue;
        }
        if (!is_alnum(c) && c != '-' && c != '_') return 0;
        if (++label > 63) return 0;
        if (c < '0' || c > '9') numeric = false;
    }
    if (i == 0 || i > 254 || (i == 1 && v[0] == '.')) return 0;
    if (numeric) {
        char tmp[INET_ADDRSTRLEN];
        struct in_addr a;
        if (i >= sizeof(tmp)) return 0;
        memcpy(tmp, v, i);
        tmp[i] = '\0';
        if (inet_pton(AF_INET, tmp, &a) != 1) return 0;
    }
    return i;
}

int moat_http_authority_parse(const char *value, size_t len, const char **name, size_t *name_len,
                              int *port)
{
    if (len == 0) return MOAT_EINVAL;
    size_t n = value[0] == '[' ? ip_literal(value, len) : reg_name(value, len);
    if (n == 0) return MOAT_EINVAL;
    *name = value;
    *name_len = n;
    *port = -1;
    if (n == len) return 0;
    if (value[n] != ':') return MOAT_EINVAL;
    size_t digits = len - n - 1;
    if (digits == 0 || digits > 5) return MOAT_EINVAL;
    int p = 0;
    for (size_t i = n + 1; i < len; i++) {
        if (value[i] < '0' || value[i] > '9') return MOAT_EINVAL;
        p = p * 10 + (value[i] - '0');
    }
    if (p < 1 || p > 65535) return MOAT_EINVAL;
    *port = p;
    return 0;
}

/* ---- WebSocket ---------------------------------------------------------- */

static bool one_value(moat_http_head *h, const char *name, const moat_http_header **out)
{
    if (moat_http_head_count_n(h, name, strlen(name)) != 1) return false;
    *out = moat_http_head_find_n(h, name, strlen(name));
    return true;
}

/* RFC 6455 4.1: the key is 16 random bytes in base64, so exactly 24
 * characters of which the last two are "==". */
static bool ws_key_ok(const moat_http_header *k)
{
    if (k->value_len != 24 || k->value[22] != '=' || k->value[23] != '=') return false;
    for (size_t i = 0; i < 22; i++) {
        unsigned char c = (unsigned char)k->value[i];
        if (!is_alnum(c) && c != '+' && c != '/') return false;
    }
    return true;
}

bool moat__http_ws_request_ok(moat_http_head *h)
{
    const moat_http_header *up, *key, *ver;
    if (h->method_id != HTTP_GET || h->http_major != 1 || h->http_minor < 1) return false;
    if (!one_value(h, "Upgrade", &up) || !moat_strieq_lit(up->value, up->value_len, "websocket"))
        return false;
    if (!one_value(h, "Sec-WebSocket-Key", &key) || !ws_key_ok(key)) return false;
    if (!one_value(h, "Sec-WebSocket-Version", &ver) ||
        !moat_strieq_lit(ver->value, ver->value_len, "13"))
        return false;
    return true;
}

static bool lists_upgrade(moat_http_head *h)
{
    for (size_t i = 0; i < h->nheaders; i++) {
        const moat_http_header *f = &h->headers[i];
        if (!moat_strieq_lit(f->name, f->name_len, "Connection")) continue;
        const char *pos = f->value, *el;
        size_t n;
        while (moat__http_list_next(&pos, f->value + f->value_len, &el, &n))
            if (moat_strieq_lit(el, n, "upgrade")) return true;
    }
    return false;
}

bool moat_http_ws_accept_ok(moat_http_head *req, moat_http_head *resp)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    const moat_http_header *up, *key, *acc;
    if (resp->status != 101 || !one_value(resp, "Upgrade", &up) ||
        !moat_strieq_lit(up->value, up->value_len, "websocket") || !lists_upgrade(resp))
        return false;
    if (!one_value(req, "Sec-WebSocket-Key", &key) || !ws_key_ok(key)) return false;
    if (!one_value(resp, "Sec-WebSocket-Accept", &acc) || acc->value_len != 28) return false;
    unsigned char in[24 + sizeof(guid) - 1], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    memcpy(in, key->value, 24);
    memcpy(in + 24, guid, sizeof(guid) - 1);
    if (!EVP_Digest(in, sizeof(in), md, &mdlen, EVP_sha1(), NULL) || mdlen != 20) return false;
    unsigned char want[29];
    if (EVP_EncodeBlock(want, md, 20) != 28) return false;
    /* Not a secret (both sides are public): a plain comparison is fine. */
    return memcmp(want, acc->value, 28) == 0;
}
