/* settings.h - private to the config module: the settings table's types and
 * the helpers its files share (value parsing and formatting, checks). The
 * table itself is in settings.c; loading in load.c, the dump in dump.c and
 * the Markdown page in docs.c all walk it, so a setting is declared once. */
#ifndef MOAT_CONFIG_SETTINGS_H
#define MOAT_CONFIG_SETTINGS_H

#include "config.h"

typedef enum {
    MOAT__CFG_BOOL,     /* bool */
    MOAT__CFG_COUNT,    /* uint64_t; TOML integer in [min, max] */
    MOAT__CFG_SIZE,     /* uint64_t bytes; integer or "16KiB", "10MB", ... */
    MOAT__CFG_DURATION, /* uint64_t milliseconds; integer seconds or "500ms", "10s", ... */
    MOAT__CFG_STRING,   /* char * (owned by the config) */
    MOAT__CFG_ENUM,     /* char * (owned), one of enum_values */
    MOAT__CFG_LIST,     /* moat_strlist of strings; a single string is a one-item list */
    MOAT__CFG_WORKERS,  /* uint64_t; "auto" (stored 0) or an integer in [min, max] */
    MOAT__CFG_DATE,     /* char * "YYYY-MM-DD"; a TOML local date or that string */
} moat__config_type;

/* A check for a string or for each item of a list. It may normalise the value
 * in place (it never makes it longer). Returns NULL when the value is good,
 * else a static reason that does not repeat the value (values may be secrets
 * from ${env:...} references). */
typedef const char *(*moat__config_check_fn)(char *value);

typedef struct moat__config_setting {
    const char *key; /* dotted: "limits.body_bytes"; the table is the part before the dot */
    moat__config_type type;
    const char *def;                /* default, as the TOML value text the docs show ("\"10MiB\"");
                                       NULL in an array of tables: unset (NULL) unless given */
    uint64_t min, max;              /* COUNT, SIZE (bytes), DURATION (ms), WORKERS; LIST: item count
                                       (max 0 = no upper bound) */
    const char *const *enum_values; /* ENUM: NULL-terminated */
    moat__config_check_fn check;    /* STRING, LIST items; may be NULL */
    const char *allowed; /* docs: what values are accepted, when min/max/enum don't say it */
    bool unique;         /* LIST: an item listed twice is an error */
    bool required;       /* array-of-tables entries: must be given (def is NULL) */
    bool secret;         /* STRING: a secret; written literally in the file, the file's
                            permissions matter (moat_config_holds_secret) */
    bool path;           /* STRING, LIST items: a file path ("sqlite:PATH" too); a relative one
                            starts from the configuration file's folder ("-" and "" are not
                            paths) */
    size_t offset;       /* into the struct the value is stored in: moat_config, or the
                            element struct of an array of tables */
    const char *doc;     /* Markdown paragraph(s) for docs/configuration.md */
} moat__config_setting;

typedef struct moat__config_table {
    const char *name; /* "" for the top level */
    const char *doc;  /* Markdown paragraph introducing the section */
    /* An array of tables ([[headers.paths]]): its settings are stored in
     * element structs of elem_size bytes, kept in the moat_config_array at
     * array_offset in moat_config. */
    bool array;
    size_t elem_size, array_offset;
} moat__config_table;

extern const moat__config_setting moat__config_settings[];
extern const size_t moat__config_nsettings;
extern const moat__config_table moat__config_tables[];
extern const size_t moat__config_ntables;

/* True when setting s belongs to the named table ("" = the top level): its
 * key up to the last dot. */
bool moat__config_in_table(const moat__config_setting *s, const char *table);
/* The array-of-tables entry of moat__config_tables named name, or NULL. */
const moat__config_table *moat__config_array_table(const char *name);
/* True when s is stored in the elements of an array of tables. */
bool moat__config_in_array(const moat__config_setting *s);

/* ---- checks (check.c) ---------------------------------------------------- */
const char *moat__config_check_listen(char *v);
const char *moat__config_check_upstream(char *v);
const char *moat__config_check_host(char *v);
const char *moat__config_check_proxy(char *v);
const char *moat__config_check_waf_exclude(char *v);
const char *moat__config_check_content_type(char *v);
const char *moat__config_check_media_range(char *v);
const char *moat__config_check_rule_set(char *v);
const char *moat__config_check_route(char *v);
const char *moat__config_check_param_name(char *v);
const char *moat__config_check_path_prefix(char *v);
const char *moat__config_check_account(char *v);
const char *moat__config_check_header_value(char *v);
const char *moat__config_check_csp(char *v);
const char *moat__config_check_glob(char *v);

/* ---- checks across settings (crosscheck.c) -------------------------------
 * Returns an owned message for the first inconsistency, or NULL. */
char *moat__config_crosscheck(const moat_config *c);
/* True when the value of setting key came from a ${env:}/${file:} reference. */
bool moat__config_from_ref(const moat_config *c, const char *key);

/* ---- units (check.c) ----------------------------------------------------- */
/* Parse the string forms: sizes "512B", "16KiB", "10MB" (KiB/MiB/GiB are
 * 1024-based, KB/MB/GB 1000-based, units case-insensitive, a bare number is
 * bytes); durations "500ms", "10s", "30m", "2h" (a bare number is seconds).
 * Return 0, MOAT_EINVAL (not that syntax) or MOAT_ERANGE (overflows). */
int moat__config_parse_size(const char *s, size_t n, uint64_t *out);
int moat__config_parse_duration(const char *s, size_t n, uint64_t *out_ms);
/* Append the shortest exact text form: "10MiB", "1000B" / "10s", "1500ms". */
void moat__config_put_size(moat_buf *b, uint64_t bytes);
void moat__config_put_duration(moat_buf *b, uint64_t ms);
/* Appends s[0..n) as a TOML basic string. With escape_refs, "${" is written
 * "$${" so that the loader reads back the same literal text. */
void moat__config_put_string(moat_buf *b, const char *s, size_t n, bool escape_refs);
/* Appends the value of setting s stored in base (moat_config) as TOML. */
void moat__config_put_value(moat_buf *b, const moat__config_setting *s, const void *base);

/* ---- loading (load.c) ---------------------------------------------------- */
/* Parses text as the TOML value of setting s (as if the file said
 * `key = text`) and stores it into base + s->offset, freeing what was there.
 * Used for the defaults and by the unit tests. Returns 0, or MOAT_ECONFIG
 * with *errmsg owning the message. */
int moat__config_parse_text(const moat__config_setting *s, const char *text, void *base,
                            char **errmsg);
/* Frees what setting s owns in base and zeroes it. */
void moat__config_free_value(const moat__config_setting *s, void *base);

#endif
