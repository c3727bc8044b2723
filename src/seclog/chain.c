/* chain.c - the cryptography of the chain: line MACs (HMAC-SHA256 under the
 * epoch key, or plain SHA-256 when unsealed), key evolution, chain ids, the
 * verification key's text form, and the key file with its atomic rewrite
 * that overwrites the old key's bytes before replacing it. Everything is
 * OpenSSL 3 (EVP); the OS CSPRNG comes from moat_random. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "internal.h"

struct moat__seclog_sealer {
    EVP_MAC_CTX *mac; /* keyed HMAC, or NULL when unsealed */
    EVP_MD_CTX *md;   /* SHA-256 when unsealed */
};

moat__seclog_sealer *moat__seclog_sealer_new(const uint8_t *key)
{
    moat__seclog_sealer *s = moat_xcalloc(1, sizeof(*s));
    if (key) {
        EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        MOAT_BUG_ON(!hmac);
        s->mac = EVP_MAC_CTX_new(hmac);
        EVP_MAC_free(hmac);
        MOAT_BUG_ON(!s->mac);
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                               OSSL_PARAM_construct_end()};
        MOAT_BUG_ON(EVP_MAC_init(s->mac, key, 32, params) != 1);
    } else {
        s->md = EVP_MD_CTX_new();
        MOAT_BUG_ON(!s->md);
    }
    return s;
}

void moat__seclog_sealer_free(moat__seclog_sealer *s)
{
    if (!s) return;
    EVP_MAC_CTX_free(s->mac); /* the HMAC provider cleanses its key copy */
    EVP_MD_CTX_free(s->md);
    free(s);
}

static void be64(uint64_t v, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

void moat__seclog_line_mac(moat__seclog_sealer *s, const uint8_t prev[MOAT__SECLOG_MAC_LEN],
                           uint64_t seq, uint64_t epoch, const char *prefix, size_t n,
                           uint8_t out[MOAT__SECLOG_MAC_LEN])
{
    uint8_t nums[16];
    be64(seq, nums);
    be64(epoch, nums + 8);
    if (s->mac) {
        size_t outl = 0;
        /* A NULL key re-initialises HMAC with the key already set. */
        MOAT_BUG_ON(EVP_MAC_init(s->mac, NULL, 0, NULL) != 1);
        EVP_MAC_update(s->mac, (const uint8_t *)MOAT__SECLOG_DOMAIN, strlen(MOAT__SECLOG_DOMAIN));
        EVP_MAC_update(s->mac, prev, MOAT__SECLOG_MAC_LEN);
        EVP_MAC_update(s->mac, nums, sizeof(nums));
        EVP_MAC_update(s->mac, (const uint8_t *)prefix, n);
        MOAT_BUG_ON(EVP_MAC_final(s->mac, out, &outl, MOAT__SECLOG_MAC_LEN) != 1 ||
                    outl != MOAT__SECLOG_MAC_LEN);
    } else {
        unsigned outl = 0;
        MOAT_BUG_ON(EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1);
        EVP_DigestUpdate(s->md, MOAT__SECLOG_DOMAIN, strlen(MOAT__SECLOG_DOMAIN));
        EVP_DigestUpdate(s->md, prev, MOAT__SECLOG_MAC_LEN);
        EVP_DigestUpdate(s->md, nums, sizeof(nums));
        EVP_DigestUpdate(s->md, prefix, n);
        MOAT_BUG_ON(EVP_DigestFinal_ex(s->md, out, &outl) != 1 || outl != MOAT__SECLOG_MAC_LEN);
    }
}

void moat__seclog_evolve(const uint8_t in[32], uint8_t out[32])
{
    uint8_t next[32];
    unsigned len = 0;
    MOAT_BUG_ON(!HMAC(EVP_sha256(), in, 32, (const uint8_t *)MOAT__SECLOG_EVOLVE,
                      strlen(MOAT__SECLOG_EVOLVE), next, &len) ||
                len != 32);
    memcpy(out, next, 32);
    OPENSSL_cleanse(next, sizeof(next));
}

void moat__seclog_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexdigit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int moat__seclog_unhex(const char *s, size_t slen, uint8_t *out, size_t n)
{
    if (slen != 2 * n) return MOAT_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hexdigit(s[2 * i]), lo = hexdigit(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return MOAT_EINVAL;
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    return 0;
}

void moat__seclog_chain_id(const uint8_t k0[32], char out[MOAT__SECLOG_CHAIN_LEN + 1])
{
    static const char label[] = "moat-seclog chain id";
    uint8_t mac[32];
    unsigned len = 0;
    MOAT_BUG_ON(!HMAC(EVP_sha256(), k0, 32, (const uint8_t *)label, strlen(label), mac, &len));
    moat__seclog_hex(mac, MOAT__SECLOG_CHAIN_LEN / 2, out);
}

static void vkey_check(const uint8_t k0[32], uint8_t out[4])
{
    static const char label[] = "moat-vk1";
    uint8_t buf[8 + 32], md[32];
    memcpy(buf, label, 8);
    memcpy(buf + 8, k0, 32);
    unsigned len = 0;
    MOAT_BUG_ON(EVP_Digest(buf, sizeof(buf), md, &len, EVP_sha256(), NULL) != 1);
    memcpy(out, md, 4);
    OPENSSL_cleanse(buf, sizeof(buf));
}

void moat__seclog_vkey_encode(const uint8_t k0[32], moat_buf *out)
{
    char hex[65], chk[9];
    uint8_t c[4];
    vkey_check(k0, c);
    moat__seclog_hex(k0, 32, hex);
    moat__seclog_hex(c, 4, chk);
    moat_buf_printf(out, "mvk1-%s-%s", hex, chk);
    OPENSSL_cleanse(hex, sizeof(hex));
}

int moat__seclog_vkey_decode(const char *s, uint8_t k0[32], const char **why)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (n != 5 + 64 + 1 + 8 || strncasecmp(s, "mvk1-", 5) != 0 || s[69] != '-') {
        *why = "not a verification key (expected mvk1-<64 hex digits>-<8 hex digits>, as "
               "printed by 'moat log init')";
        return MOAT_EINVAL;
    }
    uint8_t chk[4], want[4];
    if (moat__seclog_unhex(s + 5, 64, k0, 32) < 0 || moat__seclog_unhex(s + 70, 8, chk, 4) < 0) {
        *why = "the verification key has a character that is not a hex digit";
        return MOAT_EINVAL;
    }
    vkey_check(k0, want);
    if (CRYPTO_memcmp(chk, want, 4) != 0) {
        OPENSSL_cleanse(k0, 32);
        *why = "the verification key's checksum does not match: it was mistyped";
        return MOAT_EINVAL;
    }
    return 0;
}

/* ---- the key file -------------------------------------------------------- */

#define KEYFILE_MAGIC "moat-seal-key v1"

static void keyfile_text(const moat__seclog_keyfile *kf, moat_buf *b)
{
    char key[65], mac[65];
    moat__seclog_hex(kf->key, 32, key);
    moat__seclog_hex(kf->mac, 32, mac);
    moat_buf_printf(b,
                    "%s\n# The sealing key of moat's security log. Keep it private (mode 0600).\n"
                    "# It evolves every epoch; the verification key is not stored anywhere.\n"
                    "chain %s\nepoch %" PRIu64 "\nkey %s\nseq %" PRIu64 "\nmac %s\nfile %s\n",
                    KEYFILE_MAGIC, kf->chain, kf->epoch, key, kf->seq_next, mac, kf->file);
    OPENSSL_cleanse(key, sizeof(key));
}

static int keyfile_parse(const char *text, size_t len, moat__seclog_keyfile *kf)
{
    memset(kf, 0, sizeof(*kf));
    unsigned seen = 0;
    const char *p = text, *end = text + len;
    size_t ml = strlen(KEYFILE_MAGIC);
    if (len < ml + 1 || memcmp(p, KEYFILE_MAGIC, ml) != 0 || p[ml] != '\n') return MOAT_EPARSE;
    p += ml + 1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return MOAT_EPARSE;
        size_t n = (size_t)(nl - p);
        const char *sp = memchr(p, ' ', n);
        if (n == 0 || p[0] == '#') {
            p = nl + 1;
            continue;
        }
        if (!sp) return MOAT_EPARSE;
        size_t kl = (size_t)(sp - p);
        const char *v = sp + 1;
        size_t vl = (size_t)(nl - v);
        uint64_t num;
        if (kl == 5 && memcmp(p, "chain", 5) == 0) {
            uint8_t raw[MOAT__SECLOG_CHAIN_LEN / 2];
            if (moat__seclog_unhex(v, vl, raw, sizeof(raw)) < 0) return MOAT_EPARSE;
            memcpy(kf->chain, v, vl);
            kf->chain[vl] = '\0';
            seen |= 1;
        } else if (kl == 5 && memcmp(p, "epoch", 5) == 0) {
            if (moat_parse_u64(v, vl, &num) < 0 || num == 0) return MOAT_EPARSE;
            kf->epoch = num;
            seen |= 2;
        } else if (kl == 3 && memcmp(p, "key", 3) == 0) {
            if (moat__seclog_unhex(v, vl, kf->key, 32) < 0) return MOAT_EPARSE;
            seen |= 4;
        } else if (kl == 3 && memcmp(p, "seq", 3) == 0) {
            if (moat_parse_u64(v, vl, &num) < 0) return MOAT_EPARSE;
            kf->seq_next = num;
            seen |= 8;
        } else if (kl == 3 && memcmp(p, "mac", 3) == 0) {
            if (moat__seclog_unhex(v, vl, kf->mac, 32) < 0) return MOAT_EPARSE;
            seen |= 16;
        } else if (kl == 4 && memcmp(p, "file", 4) == 0) {
            if (vl >= sizeof(kf->file)) return MOAT_EPARSE;
            memcpy(kf->file, v, vl);
            kf->file[vl] = '\0';
        } else {
            return MOAT_EPARSE;
        }
        p = nl + 1;
    }
    return seen == 31 ? 0 : MOAT_EPARSE;
}

/* Reads and parses one candidate; 0, MOAT_ENOENT, MOAT_EPARSE or MOAT_EIO. */
static int keyfile_load(const char *path, moat__seclog_keyfile *kf, bool *loose)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return errno == ENOENT ? MOAT_ENOENT : MOAT_EIO;
    struct stat st;
    char buf[1024];
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        *loose = (st.st_mode & 077) != 0;
        n = read(fd, buf, sizeof(buf));
    }
    close(fd);
    if (n < 0) return MOAT_EIO;
    int rc = keyfile_parse(buf, (size_t)n, kf);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

int moat__seclog_keyfile_read(const char *path, moat__seclog_keyfile *kf, char **err)
{
    moat__seclog_keyfile main_kf, tmp_kf;
    bool loose = false, tmp_loose = false;
    char *tmp = moat_xasprintf("%s.tmp", path);
    int rc = keyfile_load(path, &main_kf, &loose);
    int trc = keyfile_load(tmp, &tmp_kf, &tmp_loose);
    free(tmp);
    /* PATH.tmp survives only a crash mid-rewrite; it is the newer state when
     * it is whole and its epoch is ahead (or PATH was already wiped). */
    bool use_tmp = trc == 0 && (rc != 0 || tmp_kf.epoch > main_kf.epoch);
    if (use_tmp) {
        *kf = tmp_kf;
        loose = tmp_loose;
        rc = 0;
    } else if (rc == 0) {
        *kf = main_kf;
    }
    OPENSSL_cleanse(&main_kf, sizeof(main_kf));
    OPENSSL_cleanse(&tmp_kf, sizeof(tmp_kf));
    if (rc == MOAT_ENOENT) {
        *err = moat_xasprintf("%s: no sealing key file (create it with 'moat log init')", path);
        return rc;
    }
    if (rc == MOAT_EPARSE) {
        *err = moat_xasprintf("%s: not a moat sealing key file (damaged?)", path);
        return rc;
    }
    if (rc < 0) {
        *err = moat_xasprintf("%s: cannot read the sealing key: %s", path, strerror(errno));
        return rc;
    }
    if (loose) {
        OPENSSL_cleanse(kf, sizeof(*kf));
        *err = moat_xasprintf("%s: the sealing key file may be read by other users (run: chmod "
                              "600 %s)",
                              path, path);
        return MOAT_EINVAL;
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Overwrites a file's bytes in place with zeros (so that on filesystems
 * that write in place the old key leaves the disk) and syncs it. */
static void wipe_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size < 65536) {
        char zeros[4096] = {0};
        size_t left = (size_t)st.st_size;
        while (left > 0) {
            size_t k = left < sizeof(zeros) ? left : sizeof(zeros);
            if (write_all(fd, zeros, k) < 0) break;
            left -= k;
        }
        fsync(fd);
    }
    close(fd);
}

static void sync_dir_of(const char *path)
{
    char *copy = moat_xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int moat__seclog_keyfile_write(const char *path, const moat__seclog_keyfile *kf, char **err)
{
    char *tmp = moat_xasprintf("%s.tmp", path);
    moat_buf text;
    moat_buf_init(&text);
    keyfile_text(kf, &text);
    int rc = 0;
    wipe_file(tmp); /* a leftover from a crash holds an older key */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fchmod(fd, 0600) < 0 || write_all(fd, text.data, text.len) < 0 || fsync(fd) < 0) {
        *err = moat_xasprintf("%s: cannot write the sealing key: %s", tmp, strerror(errno));
        rc = MOAT_EIO;
        if (fd >= 0) close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    wipe_file(path);
    if (rename(tmp, path) < 0) {
        *err = moat_xasprintf("%s: cannot replace the sealing key: %s", path, strerror(errno));
        rc = MOAT_EIO;
        goto out;
    }
    sync_dir_of(path);
out:
    OPENSSL_cleanse(text.data, text.cap);
    moat_buf_free(&text);
    free(tmp);
    return rc;
}

int moat_seclog_keygen(const char *path, bool force, char **vkey, char **err)
{
    *vkey = NULL;
    struct stat st;
    if (!force && lstat(path, &st) == 0) {
        *err = moat_xasprintf("%s already exists; 'moat log init --force' replaces it (stop "
                              "moat first: logs sealed with the old key stay verifiable with "
                              "the old verification key only)",
                              path);
        return MOAT_EINVAL;
    }
    uint8_t k0[32];
    moat__seclog_keyfile kf;
    memset(&kf, 0, sizeof(kf));
    moat_random(k0, sizeof(k0));
    moat__seclog_chain_id(k0, kf.chain);
    kf.epoch = 1;
    moat__seclog_evolve(k0, kf.key);
    kf.seq_next = 0;
    int rc = moat__seclog_keyfile_write(path, &kf, err);
    if (rc == 0) {
        moat_buf b;
        moat_buf_init(&b);
        moat__seclog_vkey_encode(k0, &b);
        *vkey = moat_buf_steal(&b);
    }
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(&kf, sizeof(kf));
    return rc;
}
