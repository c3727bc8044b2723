/* multipart.c - an incremental multipart/form-data parser (RFC 7578 on RFC
 * 2046) for the WAF stage, which streams file content to the application
 * and inspects everything else. The input may be split anywhere; content is
 * handed on as it comes (at most the length of a delimiter is held back
 * while it might be one), so memory does not grow with the body. Strict by
 * design: what Django, Werkzeug or ModSecurity could read differently is an
 * error, not a guess (see http.h). No library in Debian does this. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum {
    S_FIRST,    /* matching "--boundary" at the very start (no preamble) */
    S_AFTER,    /* after a delimiter: "\r\n" (a part) or "--" (the end) */
    S_HEADERS,  /* a part's header block, up to the blank line */
    S_BODY,     /* a part's content, scanning for the delimiter */
    S_CLOSE_CR, /* after the closing "--": an optional "\r\n", then nothing */
    S_CLOSE_LF,
    S_DONE,
    S_ERROR,
};

struct moat_multipart {
    const moat_multipart_cbs *cbs;
    void *ud;
    char delim[MOAT_MULTIPART_BOUNDARY_MAX + 5]; /* "\r\n--" boundary */
    size_t dlen;
    size_t matched; /* bytes of delim matched so far */
    int state;
    int err;
    char after[2]; /* the two bytes after a delimiter */
    size_t nafter;
    bool in_file;
    moat_buf hdr; /* the header block being read */
};

/* RFC 2046 bchars; space only inside (checked by the caller). */
static bool is_bchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           strchr("'()+_,-./:=? ", c) != NULL;
}

static size_t skip_ows(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* Reads a parameter value at s[i..n): a token or a quoted-string (quoted
 * pairs unescaped into val, at most cap-1 bytes). Returns the index after
 * it, or 0 when malformed. */
static size_t read_value(const char *s, size_t i, size_t n, char *val, size_t cap, size_t *vlen)
{
    size_t o = 0;
    if (i < n && s[i] == '"') {
        for (i++; i < n && s[i] != '"'; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '\\') {
                if (++i >= n) return 0;
                c = (unsigned char)s[i];
            }
            if ((c < 0x20 && c != '\t') || c == 0x7f || o + 1 >= cap) return 0;
            val[o++] = (char)c;
        }
        if (i >= n) return 0;
        i++;
    } else {
        for (; i < n && moat__http_is_tchar((unsigned char)s[i]); i++) {
            if (o + 1 >= cap) return 0;
            val[o++] = s[i];
        }
        if (o == 0) return 0;
    }
    val[o] = '\0';
    *vlen = o;
    return i;
}

int moat_multipart_boundary(const char *ct, size_t n, char out[MOAT_MULTIPART_BOUNDARY_MAX + 1])
{
    static const char type[] = "multipart/form-data";
    size_t tl = sizeof(type) - 1;
    size_t i = skip_ows(ct, 0, n);
    if (n - i < tl || !moat_strieq_lit(ct + i, tl, type)) return 0;
    i += tl;
    if (i < n && ct[i] != ';' && ct[i] != ' ' && ct[i] != '\t') return 0; /* form-dataX */
    bool found = false;
    for (;;) {
        i = skip_ows(ct, i, n);
        if (i == n) break;
        if (ct[i] != ';') return MOAT_EPARSE;
        i = skip_ows(ct, i + 1, n);
        size_t k = i;
        while (i < n && moat__http_is_tchar((unsigned char)ct[i]))
            i++;
        if (i == k || i >= n || ct[i] != '=') return MOAT_EPARSE;
        bool is_b = moat_strieq_lit(ct + k, i - k, "boundary");
        char val[MOAT_MULTIPART_BOUNDARY_MAX + 2];
        char other[256];
        size_t vlen = 0;
        i = is_b ? read_value(ct, i + 1, n, val, sizeof(val), &vlen)
                 : read_value(ct, i + 1, n, other, sizeof(other), &vlen);
        if (!i) return MOAT_EPARSE;
        if (!is_b) continue;
        if (found || vlen == 0 || vlen > MOAT_MULTIPART_BOUNDARY_MAX || val[vlen - 1] == ' ')
            return MOAT_EPARSE;
        for (size_t j = 0; j < vlen; j++)
            if (!is_bchar((unsigned char)val[j])) return MOAT_EPARSE;
        memcpy(out, val, vlen + 1);
        found = true;
    }
    return found ? 1 : MOAT_EPARSE;
}

moat_multipart *moat_multipart_new(const char *boundary, const moat_multipart_cbs *cbs, void *ud)
{
    size_t bl = strlen(boundary);
    MOAT_BUG_ON(bl == 0 || bl > MOAT_MULTIPART_BOUNDARY_MAX);
    moat_multipart *m = moat_xcalloc(1, sizeof(*m));
    m->cbs = cbs;
    m->ud = ud;
    memcpy(m->delim, "\r\n--", 4);
    memcpy(m->delim + 4, boundary, bl);
    m->dlen = bl + 4;
    m->matched = 2; /* the first delimiter has no CRLF before it */
    m->state = S_FIRST;
    moat_buf_init(&m->hdr);
    return m;
}

void moat_multipart_free(moat_multipart *m)
{
    if (!m) return;
    moat_buf_free(&m->hdr);
    free(m);
}

bool moat_multipart_in_file(const moat_multipart *m)
{
    return m->state == S_BODY && m->in_file;
}

bool moat_multipart_done(const moat_multipart *m)
{
    return m->state == S_CLOSE_CR || m->state == S_CLOSE_LF || m->state == S_DONE;
}

/* Content-Disposition: form-data; name="..."[; filename="..."] */
static int read_disposition(const char *v, size_t n, moat_multipart_part *p, char *name,
                            char *fname, size_t cap)
{
    size_t i = skip_ows(v, 0, n);
    static const char fd[] = "form-data";
    if (n - i < sizeof(fd) - 1 || !moat_strieq_lit(v + i, sizeof(fd) - 1, fd)) return MOAT_EPARSE;
    i += sizeof(fd) - 1;
    bool has_name = false;
    for (;;) {
        i = skip_ows(v, i, n);
        if (i == n) break;
        if (v[i] != ';') return MOAT_EPARSE;
        i = skip_ows(v, i + 1, n);
        size_t k = i;
        while (i < n && moat__http_is_tchar((unsigned char)v[i]))
            i++;
        size_t klen = i - k;
        i = skip_ows(v, i, n);
        if (klen == 0 || i >= n || v[i] != '=') return MOAT_EPARSE;
        i = skip_ows(v, i + 1, n);
        size_t vstart = i, vlen = 0;
        if (moat_strieq_lit(v + k, klen, "name")) {
            if (has_name || !(i = read_value(v, i, n, name, cap, &vlen))) return MOAT_EPARSE;
            has_name = true;
            p->name = name;
            p->name_raw = v + vstart;
            p->name_raw_len = i - vstart;
        } else if (moat_strieq_lit(v + k, klen, "filename")) {
            if (p->filename || !(i = read_value(v, i, n, fname, cap, &vlen))) return MOAT_EPARSE;
            p->filename = fname;
            p->filename_raw = v + vstart;
            p->filename_raw_len = i - vstart;
            p->is_file = vlen > 0;
        } else {
            return MOAT_EPARSE; /* filename*, name*, anything a framework may read its own way */
        }
    }
    return has_name ? 0 : MOAT_EPARSE;
}

/* A charset other than UTF-8 (or ASCII) would have Django decode a field the
 * rules never saw that way (utf-7, utf-16). */
static bool charset_ok(const char *v, size_t n)
{
    for (size_t i = 0; i + 8 <= n; i++) {
        if (!moat_strieq_lit(v + i, 7, "charset")) continue;
        size_t j = skip_ows(v, i + 7, n);
        if (j >= n || v[j] != '=') continue;
        j = skip_ows(v, j + 1, n);
        if (j < n && v[j] == '"') j++;
        size_t k = j;
        while (k < n && v[k] != '"' && v[k] != ';' && v[k] != ' ')
            k++;
        if (!moat_strieq_lit(v + j, k - j, "utf-8") && !moat_strieq_lit(v + j, k - j, "us-ascii"))
            return false;
    }
    return true;
}

/* The header block (without its blank line) is in m->hdr: check it and
 * announce the part. */
static int part_head(moat_multipart *m)
{
    const char *s = m->hdr.data;
    size_t n = m->hdr.len;
    moat_multipart_part p = {0};
    char *name = moat_xmalloc(n + 1), *fname = moat_xmalloc(n + 1);
    bool has_cd = false;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        const char *eol = memchr(s + i, '\r', n - i);
        size_t end = eol ? (size_t)(eol - s) : n;
        if (eol && (end + 1 >= n || s[end + 1] != '\n')) {
            rc = MOAT_EPARSE;
            break;
        }
        const char *line = s + i;
        size_t ll = end - i;
        i = eol ? end + 2 : n;
        size_t c = 0;
        while (c < ll && moat__http_is_tchar((unsigned char)line[c]))
            c++;
        if (c == 0 || c >= ll || line[c] != ':') {
            rc = MOAT_EPARSE; /* also obs-fold: a line that starts with space */
            break;
        }
        const char *val = line + c + 1;
        size_t vl = ll - c - 1;
        for (size_t j = 0; j < vl; j++)
            if (!moat__http_is_field_char((unsigned char)val[j])) rc = MOAT_EPARSE;
        if (rc) break;
        while (vl && (*val == ' ' || *val == '\t'))
            val++, vl--;
        while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t'))
            vl--;
        if (moat_strieq_lit(line, c, "content-disposition")) {
            if (has_cd)
                rc = MOAT_EPARSE;
            else
                rc = read_disposition(val, vl, &p, name, fname, n + 1);
            has_cd = true;
        } else if (moat_strieq_lit(line, c, "content-type")) {
            if (p.content_type || vl == 0) rc = MOAT_EPARSE;
            p.content_type = val;
            p.content_type_len = vl;
        } else {
            rc = MOAT_EPARSE; /* Content-Transfer-Encoding and the rest */
        }
    }
    if (rc == 0 && !has_cd) rc = MOAT_EPARSE;
    if (rc == 0 && !p.is_file && p.content_type && !charset_ok(p.content_type, p.content_type_len))
        rc = MOAT_EPARSE;
    if (rc == 0) {
        m->in_file = p.is_file;
        if (m->cbs->part) rc = m->cbs->part(m->ud, &p);
    }
    free(name);
    free(fname);
    return rc;
}

static int emit(moat_multipart *m, const char *d, size_t n)
{
    if (!n || !m->cbs->data) return 0;
    return m->cbs->data(m->ud, d, n);
}

static int fail(moat_multipart *m, int rc)
{
    m->state = S_ERROR;
    m->err = rc;
    return rc;
}

/* The content of a part: everything up to the next delimiter. Returns the
 * bytes consumed (all of them unless the delimiter ended the part). */
static int body(moat_multipart *m, const char *d, size_t n, size_t *used)
{
    size_t i = 0, run = 0; /* d[run..i) is content not yet emitted */
    while (i < n) {
        if (m->matched == 0) {
            /* Fast path: the delimiter starts with CR, which no boundary holds. */
            const char *cr = memchr(d + i, '\r', n - i);
            if (!cr) {
                i = n;
                break;
            }
            i = (size_t)(cr - d);
        }
        if (d[i] == m->delim[m->matched]) {
            if (m->matched == 0) {
                int rc = emit(m, d + run, i - run);
                if (rc) return rc;
            }
            m->matched++;
            i++;
            run = i;
            if (m->matched == m->dlen) {
                m->matched = 0;
                m->state = S_AFTER;
                m->nafter = 0;
                *used = i;
                return m->cbs->part_end ? m->cbs->part_end(m->ud) : 0;
            }
            continue;
        }
        /* A false start: what matched was content. The delimiter's CR
         * appears only at its start, so no suffix of it can begin another. */
        if (m->matched) {
            int rc = emit(m, m->delim, m->matched);
            if (rc) return rc;
            m->matched = 0;
            run = i;
            continue; /* d[i] may be a CR that starts one */
        }
        i++;
    }
    *used = n;
    return emit(m, d + run, i - run);
}

int moat_multipart_feed(moat_multipart *m, const char *d, size_t n)
{
    if (m->state == S_ERROR) return m->err;
    size_t i = 0;
    while (i < n) {
        switch (m->state) {
        case S_FIRST:
            if (d[i] != m->delim[m->matched]) return fail(m, MOAT_EPARSE);
            i++;
            if (++m->matched == m->dlen) {
                m->matched = 0;
                m->state = S_AFTER;
                m->nafter = 0;
            }
            break;
        case S_AFTER:
            m->after[m->nafter++] = d[i++];
            if (m->nafter < 2) {
                if (m->after[0] != '\r' && m->after[0] != '-') return fail(m, MOAT_EPARSE);
                break;
            }
            if (m->after[0] == '\r' && m->after[1] == '\n') {
                moat_buf_reset(&m->hdr);
                m->state = S_HEADERS;
            } else if (m->after[0] == '-' && m->after[1] == '-') {
                m->state = S_CLOSE_CR;
                m->in_file = false;
                if (m->cbs->end) {
                    int rc = m->cbs->end(m->ud);
                    if (rc) return fail(m, rc);
                }
            } else {
                return fail(m, MOAT_EPARSE); /* transport padding and the like */
            }
            break;
        case S_HEADERS: {
            /* Up to the blank line; a block that never ends is refused. */
            size_t take = n - i;
            size_t room = MOAT_MULTIPART_HEADERS_MAX + 4 - m->hdr.len;
            if (take > room) take = room;
            size_t old = m->hdr.len;
            moat_buf_append(&m->hdr, d + i, take);
            const char *h = m->hdr.data;
            size_t hl = m->hdr.len;
            size_t from = old >= 3 ? old - 3 : 0;
            size_t end = 0;
            bool found = false;
            if (hl >= 2 && h[0] == '\r' && h[1] == '\n')
                return fail(m, MOAT_EPARSE); /* no headers */
            for (size_t j = from; j + 4 <= hl; j++) {
                if (memcmp(h + j, "\r\n\r\n", 4) == 0) {
                    end = j;
                    found = true;
                    break;
                }
            }
            if (!found) {
                if (hl > MOAT_MULTIPART_HEADERS_MAX) return fail(m, MOAT_EPARSE);
                i += take;
                break;
            }
            i += end + 4 - old;
            m->hdr.len = end;
            for (size_t j = 0; j < end; j++)
                if (h[j] == '\n' && (j == 0 || h[j - 1] != '\r')) return fail(m, MOAT_EPARSE);
            int rc = part_head(m);
            if (rc) return fail(m, rc);
            m->state = S_BODY;
            m->matched = 0;
            break;
        }
        case S_BODY: {
            size_t used = 0;
            int rc = body(m, d + i, n - i, &used);
            if (rc) return fail(m, rc);
            i += used;
            break;
        }
        case S_CLOSE_CR:
            if (d[i++] != '\r') return fail(m, MOAT_EPARSE);
            m->state = S_CLOSE_LF;
            break;
        case S_CLOSE_LF:
            if (d[i++] != '\n') return fail(m, MOAT_EPARSE);
            m->state = S_DONE;
            break;
        default: /* S_DONE: no epilogue */
            return fail(m, MOAT_EPARSE);
        }
    }
    return 0;
}

int moat_multipart_finish(moat_multipart *m)
{
    if (m->state == S_ERROR) return m->err;
    if (m->state == S_DONE || m->state == S_CLOSE_CR) return 0;
    return fail(m, MOAT_EPARSE);
}
