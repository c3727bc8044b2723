/* import.c - reading the files `moat user import` takes: CSV (RFC 4180,
 * with a header line naming the columns) or JSON (an array of users, or
 * {"users": [...]}), each user a name, a password hash made elsewhere and
 * roles; then checking every row (name, hash format and bounds, roles,
 * names listed twice) before anything is stored. Errors name the file and
 * line (CSV) or the user's position (JSON). Storing is the caller's job, in
 * one transaction. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "internal.h"

void moat_import_free(moat_import *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->rows[i].name);
        if (set->rows[i].hash) {
            OPENSSL_cleanse(set->rows[i].hash, strlen(set->rows[i].hash));
            free(set->rows[i].hash);
        }
        for (size_t r = 0; r < set->rows[i].nroles; r++)
            free(set->rows[i].roles[r]);
        free(set->rows[i].roles);
    }
    free(set->rows);
}

/* Splits a roles field at spaces, commas and semicolons. */
static void add_roles(moat_import_user *row, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && strchr(" ,;", s[i]))
            i++;
        size_t j = i;
        while (j < n && !strchr(" ,;", s[j]))
            j++;
        if (j > i) {
            row->roles = moat_xrealloc(row->roles, (row->nroles + 1) * sizeof(char *));
            row->roles[row->nroles++] = moat_xstrndup(s + i, j - i);
        }
        i = j;
    }
}

/* RFC 4180 fields of one record starting at *p; advances *p past it. */
static int csv_record(const char **p, const char *end, moat_buf *fields, size_t *nf, unsigned *line)
{
    *nf = 0;
    const char *s = *p;
    for (;;) {
        moat_buf *f = &fields[*nf];
        moat_buf_reset(f);
        if (*nf == 8) return MOAT_EINVAL;
        if (s < end && *s == '"') {
            s++;
            for (;;) {
                if (s >= end) return MOAT_EINVAL;
                if (*s == '"') {
                    if (s + 1 < end && s[1] == '"') {
                        moat_buf_putc(f, '"');
                        s += 2;
                        continue;
                    }
                    s++;
                    break;
                }
                if (*s == '\n') (*line)++;
                moat_buf_putc(f, *s++);
            }
        } else {
            while (s < end && *s != ',' && *s != '\n' && *s != '\r') {
                if (*s == '"') return MOAT_EINVAL;
                moat_buf_putc(f, *s++);
            }
        }
        (*nf)++;
        if (s < end && *s == ',') {
            s++;
            continue;
        }
        if (s < end && *s == '\r') s++;
        if (s < end && *s != '\n') return MOAT_EINVAL;
        if (s < end) s++;
        *p = s;
        return 0;
    }
}

static int import_csv(const char *path, const char *text, size_t len, moat_import *set,
                      moat_buf *err)
{
    const char *p = text, *end = text + len;
    moat_buf fields[9];
    for (size_t i = 0; i < 9; i++)
        moat_buf_init(&fields[i]);
    int col_name = -1, col_hash = -1, col_roles = -1, rc = 0;
    unsigned line = 1;
    bool header = true;
    while (p < end) {
        unsigned at = line;
        size_t nf = 0;
        if (csv_record(&p, end, fields, &nf, &line) < 0) {
            moat_buf_printf(err, "%s:%u: malformed CSV record\n", path, at);
            rc = MOAT_EPARSE;
            break;
        }
        line++;
        if (nf == 1 && fields[0].len == 0) continue; /* blank line */
        if (header) {
            header = false;
            for (size_t i = 0; i < nf; i++) {
                const char *h = fields[i].data ? fields[i].data : "";
                if (strcmp(h, "username") == 0) col_name = (int)i;
                if (strcmp(h, "password_hash") == 0 || strcmp(h, "password") == 0)
                    col_hash = (int)i;
                if (strcmp(h, "roles") == 0) col_roles = (int)i;
            }
            if (col_name < 0 || col_hash < 0) {
                moat_buf_printf(err,
                                "%s:%u: the first line must name the columns: username, "
                                "password_hash and optionally roles\n",
                                path, at);
                rc = MOAT_EPARSE;
                break;
            }
            continue;
        }
        if ((int)nf <= col_name || (int)nf <= col_hash ||
            (col_roles >= 0 && (int)nf <= col_roles)) {
            moat_buf_printf(err, "%s:%u: %zu fields, fewer than the header names\n", path, at, nf);
            rc = MOAT_EPARSE;
            break;
        }
        set->rows = moat_xrealloc(set->rows, (set->n + 1) * sizeof(moat_import_user));
        moat_import_user *row = &set->rows[set->n++];
        memset(row, 0, sizeof(*row));
        row->line = at;
        row->name = moat_xstrdup(fields[col_name].data ? fields[col_name].data : "");
        row->hash = moat_xstrdup(fields[col_hash].data ? fields[col_hash].data : "");
        if (col_roles >= 0) add_roles(row, fields[col_roles].data, fields[col_roles].len);
    }
    for (size_t i = 0; i < 9; i++)
        moat_buf_free(&fields[i]);
    return rc;
}

static int import_json(const char *path, const char *text, size_t len, moat_import *set,
                       moat_buf *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        moat_buf_printf(err, "%s:%d:%d: %s\n", path, jerr.line, jerr.column, jerr.text);
        return MOAT_EPARSE;
    }
    json_t *arr = json_is_object(root) ? json_object_get(root, "users") : root;
    if (!json_is_array(arr)) {
        moat_buf_printf(err, "%s: expected an array of users (or {\"users\": [...]})\n", path);
        json_decref(root);
        return MOAT_EPARSE;
    }
    size_t i;
    json_t *u;
    int rc = 0;
    json_array_foreach(arr, i, u)
    {
        json_t *name = json_object_get(u, "username");
        json_t *hash = json_object_get(u, "password_hash");
        if (!hash) hash = json_object_get(u, "password");
        json_t *roles = json_object_get(u, "roles");
        if (!json_is_string(name) || !json_is_string(hash) ||
            (roles && !json_is_array(roles) && !json_is_string(roles))) {
            moat_buf_printf(err,
                            "%s: user %zu: expected {\"username\": \"...\", \"password_hash\": "
                            "\"...\", \"roles\": [...]}\n",
                            path, i + 1);
            rc = MOAT_EPARSE;
            break;
        }
        set->rows = moat_xrealloc(set->rows, (set->n + 1) * sizeof(moat_import_user));
        moat_import_user *row = &set->rows[set->n++];
        memset(row, 0, sizeof(*row));
        row->line = (unsigned)i + 1;
        row->name = moat_xstrdup(json_string_value(name));
        row->hash = moat_xstrdup(json_string_value(hash));
        if (json_is_string(roles)) {
            add_roles(row, json_string_value(roles), json_string_length(roles));
        } else if (roles) {
            size_t k;
            json_t *r;
            json_array_foreach(roles, k, r)
            {
                if (!json_is_string(r)) {
                    moat_buf_printf(err, "%s: user %zu: roles must be strings\n", path, i + 1);
                    rc = MOAT_EPARSE;
                    break;
                }
                add_roles(row, json_string_value(r), json_string_length(r));
            }
            if (rc) break;
        }
    }
    json_decref(root);
    return rc;
}

int moat_import_parse(const char *path, const char *text, size_t len, moat_import *out,
                      char **errmsg)
{
    memset(out, 0, sizeof(*out));
    *errmsg = NULL;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) { /* a UTF-8 BOM (spreadsheets) */
        text += 3;
        len -= 3;
    }
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    out->json = i < len && (text[i] == '[' || text[i] == '{');
    moat_buf err;
    moat_buf_init(&err);
    int rc = out->json ? import_json(path, text, len, out, &err)
                       : import_csv(path, text, len, out, &err);
    if (rc < 0) {
        while (err.len && err.data[err.len - 1] == '\n')
            err.data[--err.len] = '\0';
        *errmsg = moat_buf_steal(&err);
        moat_import_free(out);
        memset(out, 0, sizeof(*out));
        return MOAT_EPARSE;
    }
    moat_buf_free(&err);
    return 0;
}

int moat_import_check(const moat_import *im, const char *path, char **errmsg)
{
    const char *where = im->json ? " user " : ""; /* FILE:LINE: or FILE: user N: */
    *errmsg = NULL;
    for (size_t i = 0; i < im->n; i++) {
        const moat_import_user *row = &im->rows[i];
        const char *why = NULL;
        if (!moat_user_name_valid(row->name)) {
            *errmsg = moat_xasprintf("%s:%s%u: invalid user name", path, where, row->line);
            return MOAT_EINVAL;
        }
        if (moat_password_check_stored(row->hash, &why) < 0) {
            *errmsg =
                moat_xasprintf("%s:%s%u: user %s: %s", path, where, row->line, row->name, why);
            return MOAT_EINVAL;
        }
        for (size_t r = 0; r < row->nroles; r++)
            if (!moat_role_name_valid(row->roles[r])) {
                *errmsg = moat_xasprintf("%s:%s%u: user %s: invalid role", path, where, row->line,
                                         row->name);
                return MOAT_EINVAL;
            }
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(im->rows[j].name, row->name) == 0) {
                *errmsg = moat_xasprintf("%s:%s%u: user %s is listed twice", path, where, row->line,
                                         row->name);
                return MOAT_EINVAL;
            }
    }
    return 0;
}
