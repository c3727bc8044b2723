/* pep440.c - PEP 440 versions and specifier sets, with the exact semantics of
 * the reference implementation (pypa/packaging, the version Debian ships):
 * normalisation, ordering, ~= / == .* / === and the pre-release rules.
 * Every number is a digit string (leading zeros dropped), compared by length
 * then bytes, so arbitrarily long date-stamped releases never overflow.
 * Legacy (non-PEP 440) versions are refused here; callers decide what to do
 * with them (the OSV matcher compares them as plain strings). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "deps_int.h"

typedef struct dig {
    const char *p; /* into the version's text; no leading zeros */
    uint32_t n;    /* 0 means the number 0 */
} dig;

typedef struct lseg {
    bool num;
    const char *p;
    uint32_t n;
} lseg;

struct moat_pep440 {
    dig epoch;
    dig *rel; /* owned */
    size_t nrel;
    char pre_l; /* 0, 'a', 'b' or 'r' (rc) */
    dig pre;
    bool has_post, has_dev;
    dig post, dev;
    lseg *loc; /* owned unless loc_buf; NULL when there is no local label */
    size_t nloc;
    char *text;      /* the lower-case copy the digits point into (text_buf) */
    dig rel_buf[6];  /* most releases fit: no allocation */
    lseg loc_buf[4]; /* likewise local labels */
    char text_buf[]; /* one allocation holds the struct and the text */
};

static bool is_sep(char c)
{
    return c == '-' || c == '_' || c == '.';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t read_dig(const char *t, size_t i, size_t n, dig *d)
{
    size_t s = i;
    while (i < n && is_digit(t[i]))
        i++;
    size_t z = s;
    while (z < i && t[z] == '0')
        z++;
    d->p = t + z;
    d->n = (uint32_t)(i - z);
    return i;
}

/* Longest keyword of words[] at t[i..n); returns its length, 0 if none. */
static size_t match_word(const char *t, size_t i, size_t n, const char *const *words, size_t *which)
{
    size_t best = 0;
    for (size_t k = 0; words[k]; k++) {
        size_t l = strlen(words[k]);
        if (l > best && i + l <= n && memcmp(t + i, words[k], l) == 0) {
            best = l;
            *which = k;
        }
    }
    return best;
}

static const char *const pre_words[] = {"alpha", "beta", "preview", "pre", "a",
                                        "b",     "c",    "rc",      NULL};
static const char pre_norm[] = {'a', 'b', 'r', 'r', 'a', 'b', 'r', 'r'};
static const char *const post_words[] = {"post", "rev", "r", NULL};

/* Appends to an array that starts in the struct's inline buffer (*cap
 * its size) and moves to the heap when it outgrows it. */
static void push_dig(dig **v, dig *inline_buf, size_t *len, size_t *cap, dig d)
{
    if (*len == *cap) {
        size_t ncap = *cap * 2;
        dig *nv = moat_xmalloc(ncap * sizeof(*nv));
        memcpy(nv, *v, *len * sizeof(*nv));
        if (*v != inline_buf) free(*v);
        *v = nv;
        *cap = ncap;
    }
    (*v)[(*len)++] = d;
}

int moat_pep440_parse(const char *s, size_t n, moat_pep440 **out)
{
    *out = NULL;
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n > 4096) return MOAT_EPARSE;
    moat_pep440 *v = moat_xmalloc(sizeof(*v) + n + 1);
    memset(v, 0, sizeof(*v));
    char *t = v->text_buf;
    for (size_t k = 0; k < n; k++)
        t[k] = (char)tolower((unsigned char)s[k]);
    t[n] = 0;
    v->text = t;
    v->rel = v->rel_buf;
    size_t i = 0, cap = MOAT_ARRAY_LEN(v->rel_buf);
    if (t[i] == 'v') i++;
    if (i >= n || !is_digit(t[i])) goto fail;
    dig d;
    i = read_dig(t, i, n, &d);
    if (i < n && t[i] == '!') {
        v->epoch = d;
        i++;
        if (i >= n || !is_digit(t[i])) goto fail;
        i = read_dig(t, i, n, &d);
    }
    push_dig(&v->rel, v->rel_buf, &v->nrel, &cap, d);
    while (i + 1 < n && t[i] == '.' && is_digit(t[i + 1])) {
        i = read_dig(t, i + 1, n, &d);
        push_dig(&v->rel, v->rel_buf, &v->nrel, &cap, d);
    }
    /* pre-release: [-_.]?(label)[-_.]?[0-9]* */
    size_t j = i, which = 0, l;
    if (j < n && is_sep(t[j])) j++;
    if ((l = match_word(t, j, n, pre_words, &which)) > 0) {
        v->pre_l = pre_norm[which];
        j += l;
        size_t k = j;
        if (k < n && is_sep(t[k])) k++;
        if (k < n && is_digit(t[k]))
            j = read_dig(t, k, n, &v->pre);
        else
            j = k;
        i = j;
    }
    /* post-release: -N | [-_.]?(post|rev|r)[-_.]?[0-9]* */
    j = i;
    if (j + 1 < n && t[j] == '-' && is_digit(t[j + 1])) {
        v->has_post = true;
        i = read_dig(t, j + 1, n, &v->post);
    } else {
        if (j < n && is_sep(t[j])) j++;
        if ((l = match_word(t, j, n, post_words, &which)) > 0) {
            v->has_post = true;
            j += l;
            size_t k = j;
            if (k < n && is_sep(t[k])) k++;
            if (k < n && is_digit(t[k]))
                j = read_dig(t, k, n, &v->post);
            else
                j = k;
            i = j;
        }
    }
    /* dev-release: [-_.]?dev[-_.]?[0-9]* */
    j = i;
    if (j < n && is_sep(t[j])) j++;
    if (j + 3 <= n && memcmp(t + j, "dev", 3) == 0) {
        v->has_dev = true;
        j += 3;
        size_t k = j;
        if (k < n && is_sep(t[k])) k++;
        if (k < n && is_digit(t[k]))
            j = read_dig(t, k, n, &v->dev);
        else
            j = k;
        i = j;
    }
    /* local: +[a-z0-9]+([-_.][a-z0-9]+)* */
    if (i < n && t[i] == '+') {
        size_t lcap = MOAT_ARRAY_LEN(v->loc_buf);
        v->loc = v->loc_buf;
        i++;
        for (;;) {
            size_t st = i;
            bool num = true;
            while (i < n && (is_digit(t[i]) || (t[i] >= 'a' && t[i] <= 'z'))) {
                if (!is_digit(t[i])) num = false;
                i++;
            }
            if (i == st) goto fail;
            lseg seg = {num, t + st, (uint32_t)(i - st)};
            if (num) {
                while (seg.n && *seg.p == '0')
                    seg.p++, seg.n--;
            }
            if (v->nloc == lcap) {
                lseg *nl = moat_xmalloc(lcap * 2 * sizeof(*nl));
                memcpy(nl, v->loc, v->nloc * sizeof(*nl));
                if (v->loc != v->loc_buf) free(v->loc);
                v->loc = nl;
                lcap *= 2;
            }
            v->loc[v->nloc++] = seg;
            if (i < n && is_sep(t[i])) {
                i++;
                continue;
            }
            break;
        }
    }
    if (i != n) goto fail;
    *out = v;
    return 0;
fail:
    moat_pep440_free(v);
    return MOAT_EPARSE;
}

void moat_pep440_free(moat_pep440 *v)
{
    if (!v) return;
    if (v->rel != v->rel_buf) free(v->rel);
    if (v->loc != v->loc_buf) free(v->loc);
    free(v);
}

static int dig_cmp(dig a, dig b)
{
    if (a.n != b.n) return a.n < b.n ? -1 : 1;
    if (a.n == 0) return 0; /* both 0; p may be NULL (an absent epoch) */
    int c = memcmp(a.p, b.p, a.n);
    return c < 0 ? -1 : c > 0;
}

static int release_cmp(const moat_pep440 *a, const moat_pep440 *b)
{
    size_t n = a->nrel > b->nrel ? a->nrel : b->nrel;
    static const dig zero = {"", 0};
    for (size_t i = 0; i < n; i++) {
        int c = dig_cmp(i < a->nrel ? a->rel[i] : zero, i < b->nrel ? b->rel[i] : zero);
        if (c) return c;
    }
    return 0;
}

/* packaging's _cmpkey pre-release part: a bare dev release sorts before every
 * pre-release of its version; no pre-release sorts after all of them. */
static int pre_class(const moat_pep440 *v)
{
    if (!v->pre_l && !v->has_post && v->has_dev) return 0;
    if (!v->pre_l) return 2;
    return 1;
}

static int public_cmp(const moat_pep440 *a, const moat_pep440 *b)
{
    int c = dig_cmp(a->epoch, b->epoch);
    if (c) return c;
    if ((c = release_cmp(a, b))) return c;
    int ca = pre_class(a), cb = pre_class(b);
    if (ca != cb) return ca < cb ? -1 : 1;
    if (ca == 1) {
        if (a->pre_l != b->pre_l) return a->pre_l < b->pre_l ? -1 : 1; /* 'a' < 'b' < 'r' */
        if ((c = dig_cmp(a->pre, b->pre))) return c;
    }
    if (a->has_post != b->has_post) return a->has_post ? 1 : -1;
    if (a->has_post && (c = dig_cmp(a->post, b->post))) return c;
    if (a->has_dev != b->has_dev) return a->has_dev ? -1 : 1;
    if (a->has_dev && (c = dig_cmp(a->dev, b->dev))) return c;
    return 0;
}

static int local_cmp(const moat_pep440 *a, const moat_pep440 *b)
{
    if (!a->nloc || !b->nloc) return a->nloc ? 1 : b->nloc ? -1 : 0;
    size_t n = a->nloc < b->nloc ? a->nloc : b->nloc;
    for (size_t i = 0; i < n; i++) {
        const lseg *x = &a->loc[i], *y = &b->loc[i];
        if (x->num != y->num) return x->num ? 1 : -1; /* numbers sort after strings */
        int c;
        if (x->num) {
            c = dig_cmp((dig){x->p, x->n}, (dig){y->p, y->n});
        } else {
            size_t m = x->n < y->n ? x->n : y->n;
            c = memcmp(x->p, y->p, m);
            if (!c && x->n != y->n) c = x->n < y->n ? -1 : 1;
        }
        if (c) return c < 0 ? -1 : 1;
    }
    return a->nloc == b->nloc ? 0 : a->nloc < b->nloc ? -1 : 1;
}

int moat_pep440_cmp(const moat_pep440 *a, const moat_pep440 *b)
{
    int c = public_cmp(a, b);
    return c ? c : local_cmp(a, b);
}

bool moat_pep440_is_prerelease(const moat_pep440 *v)
{
    return v->pre_l || v->has_dev;
}

bool moat_pep440_is_postrelease(const moat_pep440 *v)
{
    return v->has_post;
}

static void put_dig(moat_buf *b, dig d)
{
    if (d.n)
        moat_buf_append(b, d.p, d.n);
    else
        moat_buf_putc(b, '0');
}

/* str(Version) when strip is false; canonicalize_version's trailing ".0"
 * removal from the release when strip is true. */
static void put_public(moat_buf *b, const moat_pep440 *v, bool strip)
{
    if (v->epoch.n) {
        put_dig(b, v->epoch);
        moat_buf_putc(b, '!');
    }
    size_t nrel = v->nrel;
    if (strip)
        while (nrel > 1 && v->rel[nrel - 1].n == 0)
            nrel--;
    for (size_t i = 0; i < nrel; i++) {
        if (i) moat_buf_putc(b, '.');
        put_dig(b, v->rel[i]);
    }
    if (v->pre_l) {
        moat_buf_puts(b, v->pre_l == 'a' ? "a" : v->pre_l == 'b' ? "b" : "rc");
        put_dig(b, v->pre);
    }
    if (v->has_post) {
        moat_buf_puts(b, ".post");
        put_dig(b, v->post);
    }
    if (v->has_dev) {
        moat_buf_puts(b, ".dev");
        put_dig(b, v->dev);
    }
}

static void put_local(moat_buf *b, const moat_pep440 *v)
{
    for (size_t i = 0; i < v->nloc; i++) {
        moat_buf_putc(b, i ? '.' : '+');
        if (v->loc[i].num)
            put_dig(b, (dig){v->loc[i].p, v->loc[i].n});
        else
            moat_buf_append(b, v->loc[i].p, v->loc[i].n);
    }
}

char *moat_pep440_str(const moat_pep440 *v)
{
    moat_buf b;
    moat_buf_init(&b);
    put_public(&b, v, false);
    put_local(&b, v);
    return moat_buf_steal(&b);
}

/* ---- specifiers -----------------------------------------------------------*/

typedef enum { OP_COMPAT, OP_EQ, OP_NE, OP_LE, OP_GE, OP_LT, OP_GT, OP_ARB } op_kind;

typedef struct spec {
    op_kind op;
    bool wildcard;  /* == / != with ".*" */
    moat_pep440 *v; /* owned; NULL for === */
    char *raw;      /* owned: the version text as written (=== compares it) */
    char *text;     /* owned: canonical "op version" */
} spec;

struct moat_pep440_specset {
    spec *v;
    size_t len;
};

static const struct {
    const char *s;
    op_kind op;
} ops[] = {{"===", OP_ARB}, {"~=", OP_COMPAT}, {"==", OP_EQ}, {"!=", OP_NE},
           {"<=", OP_LE},   {">=", OP_GE},     {"<", OP_LT},  {">", OP_GT}};

static const char *op_str(op_kind op)
{
    for (size_t i = 0; i < MOAT_ARRAY_LEN(ops); i++)
        if (ops[i].op == op) return ops[i].s;
    return "?";
}

static void spec_clear(spec *s)
{
    moat_pep440_free(s->v);
    free(s->raw);
    free(s->text);
}

void moat_pep440_specset_free(moat_pep440_specset *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->len; i++)
        spec_clear(&s->v[i]);
    free(s->v);
    free(s);
}

static int parse_one(const char *s, size_t n, spec *out, char **err)
{
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    for (size_t k = 0; k < MOAT_ARRAY_LEN(ops); k++) {
        size_t l = strlen(ops[k].s);
        if (n >= l && memcmp(s, ops[k].s, l) == 0) {
            out->op = ops[k].op;
            i = l;
            break;
        }
    }
    if (i == 0) {
        if (err) *err = moat_xasprintf("'%.*s' has no operator (==, >=, ~=, ...)", (int)n, s);
        return MOAT_EPARSE;
    }
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    const char *vs = s + i;
    size_t vn = n - i;
    while (vn && isspace((unsigned char)vs[vn - 1]))
        vn--;
    if (vn == 0) goto bad;
    for (size_t k = 0; k < vn; k++)
        if (isspace((unsigned char)vs[k]) || vs[k] == ';' || vs[k] == ')' || vs[k] == ',') goto bad;
    out->raw = moat_xstrndup(vs, vn);
    if (out->op == OP_ARB) {
        out->text = moat_xasprintf("===%s", out->raw);
        return 0;
    }
    if ((out->op == OP_EQ || out->op == OP_NE) && vn > 2 && memcmp(vs + vn - 2, ".*", 2) == 0) {
        out->wildcard = true;
        vn -= 2;
    }
    if (moat_pep440_parse(vs, vn, &out->v) < 0) goto bad;
    const moat_pep440 *v = out->v;
    bool plain = !v->pre_l && !v->has_post && !v->has_dev && !v->nloc;
    if (out->wildcard && !plain) goto bad;
    if (out->op != OP_EQ && out->op != OP_NE && v->nloc) goto bad;
    if (out->op == OP_COMPAT && v->nrel < 2) goto bad;
    char *norm = moat_pep440_str(v);
    out->text = moat_xasprintf("%s%s%s", op_str(out->op), norm, out->wildcard ? ".*" : "");
    free(norm);
    return 0;
bad:
    if (err) *err = moat_xasprintf("invalid version specifier '%.*s'", (int)n, s);
    spec_clear(out);
    memset(out, 0, sizeof(*out));
    return MOAT_EPARSE;
}

int moat_pep440_specset_parse(const char *s, size_t n, moat_pep440_specset **out, char **err)
{
    *out = NULL;
    if (err) *err = NULL;
    moat_pep440_specset *set = moat_xcalloc(1, sizeof(*set));
    size_t cap = 0, i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && isspace((unsigned char)s[a]))
            a++;
        while (b > a && isspace((unsigned char)s[b - 1]))
            b--;
        if (b > a) {
            if (set->len == cap) {
                cap = cap ? cap * 2 : 4;
                set->v = moat_xrealloc(set->v, cap * sizeof(*set->v));
            }
            if (parse_one(s + a, b - a, &set->v[set->len], err) < 0) {
                moat_pep440_specset_free(set);
                return MOAT_EPARSE;
            }
            set->len++;
        }
        i = j + 1;
    }
    *out = set;
    return 0;
}

size_t moat_pep440_specset_len(const moat_pep440_specset *s)
{
    return s->len;
}

bool moat_pep440_specset_pinned(const moat_pep440_specset *s, const char **pinned)
{
    for (size_t i = 0; i < s->len; i++) {
        if ((s->v[i].op == OP_EQ && !s->v[i].wildcard) || s->v[i].op == OP_ARB) {
            if (pinned) *pinned = s->v[i].raw;
            return true;
        }
    }
    return false;
}

static int text_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *moat_pep440_specset_str(const moat_pep440_specset *s)
{
    char **t = moat_xcalloc(s->len + 1, sizeof(*t));
    for (size_t i = 0; i < s->len; i++)
        t[i] = s->v[i].text;
    qsort(t, s->len, sizeof(*t), text_cmp);
    moat_buf b;
    moat_buf_init(&b);
    for (size_t i = 0; i < s->len; i++) {
        if (i && strcmp(t[i], t[i - 1]) == 0) continue;
        if (b.len) moat_buf_putc(&b, ',');
        moat_buf_puts(&b, t[i]);
    }
    free(t);
    return moat_buf_steal(&b);
}

/* ---- wildcard equality, as packaging's _compare_equal does it -------------
 * Both sides become token lists (_version_split of the canonical text: split
 * at '.', "1rc1" splits into "1" and "rc1"), the candidate's release is zero
 * padded to the spec's, cut to the spec's length and compared token by
 * token. */
typedef struct toks {
    const char *p[64];
    size_t n[64];
    size_t len;
    bool overflow;
} toks;

static bool tok_isdigit(const char *p, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(p[i])) return false;
    return true;
}

static void tok_push(toks *t, const char *p, size_t n)
{
    if (t->len == MOAT_ARRAY_LEN(t->p)) {
        t->overflow = true;
        return;
    }
    t->p[t->len] = p;
    t->n[t->len++] = n;
}

static void split_tokens(const char *s, toks *t)
{
    t->len = 0;
    t->overflow = false;
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, '.');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        /* ^([0-9]+)((?:a|b|c|rc)[0-9]+)$ */
        size_t d = 0;
        while (d < n && is_digit(p[d]))
            d++;
        size_t lab = 0;
        if (d > 0 && d < n) {
            if (n - d >= 2 && memcmp(p + d, "rc", 2) == 0)
                lab = 2;
            else if (p[d] == 'a' || p[d] == 'b' || p[d] == 'c')
                lab = 1;
        }
        if (lab && d + lab < n && tok_isdigit(p + d + lab, n - d - lab)) {
            tok_push(t, p, d);
            tok_push(t, p + d, n - d);
        } else {
            tok_push(t, p, n);
        }
        if (!e) break;
        p = e + 1;
    }
}

static size_t release_len(const toks *t)
{
    size_t i = 0;
    while (i < t->len && tok_isdigit(t->p[i], t->n[i]))
        i++;
    return i;
}

static bool wildcard_equal(const moat_pep440 *cand, const moat_pep440 *pattern)
{
    moat_buf cb, sb;
    moat_buf_init(&cb);
    moat_buf_init(&sb);
    put_public(&cb, cand, true);
    put_public(&sb, pattern, false);
    toks c, s;
    split_tokens(cb.data, &c);
    split_tokens(sb.data, &s);
    bool eq = false;
    if (!c.overflow && !s.overflow) {
        size_t cr = release_len(&c), sr = release_len(&s);
        /* padded candidate: release, zeros up to sr, rest */
        size_t pad = sr > cr ? sr - cr : 0;
        if (c.len + pad >= s.len) {
            eq = true;
            for (size_t i = 0; i < s.len && eq; i++) {
                const char *p;
                size_t n;
                if (i < cr) {
                    p = c.p[i];
                    n = c.n[i];
                } else if (i < cr + pad) {
                    p = "0";
                    n = 1;
                } else {
                    p = c.p[i - pad];
                    n = c.n[i - pad];
                }
                eq = n == s.n[i] && memcmp(p, s.p[i], n) == 0;
            }
        }
    }
    moat_buf_free(&cb);
    moat_buf_free(&sb);
    return eq;
}

static bool same_base(const moat_pep440 *a, const moat_pep440 *b)
{
    return dig_cmp(a->epoch, b->epoch) == 0 && release_cmp(a, b) == 0;
}

static bool spec_match(const spec *s, const moat_pep440 *v)
{
    const moat_pep440 *sv = s->v;
    switch (s->op) {
    case OP_ARB: {
        char *t = moat_pep440_str(v);
        bool eq = strlen(t) == strlen(s->raw) && moat_strieq_lit(t, strlen(t), s->raw);
        free(t);
        return eq;
    }
    case OP_EQ:
    case OP_NE: {
        bool eq;
        if (s->wildcard)
            eq = wildcard_equal(v, sv);
        else
            eq = sv->nloc ? moat_pep440_cmp(v, sv) == 0 : public_cmp(v, sv) == 0;
        return s->op == OP_EQ ? eq : !eq;
    }
    case OP_LE:
        return public_cmp(v, sv) <= 0;
    case OP_GE:
        return public_cmp(v, sv) >= 0;
    case OP_LT:
        if (moat_pep440_cmp(v, sv) >= 0) return false;
        if (!moat_pep440_is_prerelease(sv) && moat_pep440_is_prerelease(v) && same_base(v, sv))
            return false;
        return true;
    case OP_GT:
        if (moat_pep440_cmp(v, sv) <= 0) return false;
        if (!sv->has_post && v->has_post && same_base(v, sv)) return false;
        if (v->nloc && same_base(v, sv)) return false;
        return true;
    case OP_COMPAT: {
        if (public_cmp(v, sv) < 0) return false;
        /* prefix: the release without its last part, as "N!a.b.*" */
        moat_pep440 pre = {0};
        pre.epoch = sv->epoch;
        pre.rel = sv->rel;
        pre.nrel = sv->nrel - 1;
        return wildcard_equal(v, &pre);
    }
    }
    return false;
}

static bool spec_allows_pre(const spec *s)
{
    if (s->op == OP_EQ || s->op == OP_GE || s->op == OP_LE || s->op == OP_COMPAT)
        return moat_pep440_is_prerelease(s->v);
    if (s->op == OP_ARB) {
        moat_pep440 *v;
        if (moat_pep440_parse(s->raw, strlen(s->raw), &v) < 0) return false;
        bool pre = moat_pep440_is_prerelease(v);
        moat_pep440_free(v);
        return pre;
    }
    return false;
}

bool moat_pep440_specset_contains(const moat_pep440_specset *s, const moat_pep440 *v,
                                  int prereleases)
{
    bool allow;
    if (prereleases >= 0) {
        allow = prereleases > 0;
    } else {
        allow = false;
        for (size_t i = 0; i < s->len && !allow; i++)
            allow = spec_allows_pre(&s->v[i]);
    }
    if (!allow && moat_pep440_is_prerelease(v)) return false;
    for (size_t i = 0; i < s->len; i++)
        if (!spec_match(&s->v[i], v)) return false;
    return true;
}

char *moat_pep503_name(const char *s, size_t n)
{
    char *o = moat_xmalloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (is_sep(c)) {
            if (j == 0 || o[j - 1] != '-') o[j++] = '-';
            while (i + 1 < n && is_sep(s[i + 1]))
                i++;
        } else {
            o[j++] = (char)tolower((unsigned char)c);
        }
    }
    o[j] = 0;
    return o;
}

char *moat__pep440_key(const moat_pep440 *v)
{
    moat_buf b;
    moat_buf_init(&b);
    put_public(&b, v, true);
    put_local(&b, v);
    return moat_buf_steal(&b);
}
