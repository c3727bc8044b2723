/* look.c - how moat's own pages look, loaded once per runtime: the
 * templates (built in from templates/, or the [portal] templates folder's
 * files of the same names), the stylesheet rendered with the accent colour,
 * the logo's bytes, and the error page laid out like the portal with its
 * {status} {reason} {message} {request_id} left for the gateway to fill.
 * Everything is read and checked here, at start or SIGHUP, so a broken
 * template refuses the config instead of a request. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

struct moat__portal_file {
    const char *name, *text;
};
extern const struct moat__portal_file moat__portal_builtin[];
extern const size_t moat__portal_nbuiltin;

static const char *const names[MOAT__TMPL_COUNT] = {
    [MOAT__TMPL_LAYOUT] = "layout.html",     [MOAT__TMPL_LOGIN] = "login.html",
    [MOAT__TMPL_MFA] = "mfa.html",           [MOAT__TMPL_ENROLL] = "enroll.html",
    [MOAT__TMPL_RECOVERY] = "recovery.html", [MOAT__TMPL_ACCOUNT] = "account.html",
    [MOAT__TMPL_PASSWORD] = "password.html", [MOAT__TMPL_ERROR] = "error.html",
    [MOAT__TMPL_CSS] = "moat.css",
};

#define TEMPLATE_MAX (64 * 1024)
#define LOGO_MAX (512 * 1024)

struct moat_portal_look {
    char *text[MOAT__TMPL_COUNT]; /* a folder's template, or NULL: the built-in one */
    char *css;
    size_t css_len;
    char *logo;
    size_t logo_len;
    const char *logo_type;
    char *error_page;
};

static const char *builtin(int i)
{
    for (size_t k = 0; k < moat__portal_nbuiltin; k++)
        if (strcmp(moat__portal_builtin[k].name, names[i]) == 0)
            return moat__portal_builtin[k].text;
    MOAT_BUG_ON(1); /* meson.build embeds every name */
    return "";
}

const char *moat__look_text(const moat_portal_look *look, int i)
{
    return look && look->text[i] ? look->text[i] : builtin(i);
}

/* "#rgb" or "#rrggbb" (settings.c checked it) as 0xrrggbb. */
static unsigned long parse_color(const char *s)
{
    char six[7];
    if (strlen(s) == 4) {
        snprintf(six, sizeof(six), "%c%c%c%c%c%c", s[1], s[1], s[2], s[2], s[3], s[3]);
        return strtoul(six, NULL, 16);
    }
    return strtoul(s + 1, NULL, 16);
}

static double channel(unsigned long c)
{
    double v = (double)c / 255.0;
    return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
}

/* WCAG 2 relative luminance. */
static double luminance(unsigned long rgb)
{
    return 0.2126 * channel((rgb >> 16) & 0xff) + 0.7152 * channel((rgb >> 8) & 0xff) +
           0.0722 * channel(rgb & 0xff);
}

/* The text colour on an accent background: black or white, whichever
 * contrasts more (at least 4.58:1 whatever the accent). */
static const char *text_on(unsigned long rgb)
{
    double l = luminance(rgb);
    double with_black = (l + 0.05) / 0.05, with_white = 1.05 / (l + 0.05);
    return with_black >= with_white ? "#000000" : "#ffffff";
}

static int read_limited(const char *path, size_t max, char **out, size_t *len, char **err,
                        const char *what)
{
    int rc = moat_read_file(path, out, len);
    if (rc < 0) {
        *err = moat_xasprintf("%s '%s': %s", what, path, moat_strerror(rc));
        return rc;
    }
    if (*len > max) {
        *err = moat_xasprintf("%s '%s': larger than %zu KiB", what, path, max / 1024);
        free(*out);
        *out = NULL;
        return MOAT_EINVAL;
    }
    return 0;
}

static const char *logo_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".png", "image/png"},   {".svg", "image/svg+xml"}, {".jpg", "image/jpeg"},
                 {".jpeg", "image/jpeg"}, {".gif", "image/gif"},     {".webp", "image/webp"},
                 {".ico", "image/x-icon"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < MOAT_ARRAY_LEN(types); i++)
        if (strcasecmp(dot, types[i].ext) == 0) return types[i].type;
    return NULL;
}

void moat_portal_look_free(moat_portal_look *look)
{
    if (!look) return;
    for (int i = 0; i < MOAT__TMPL_COUNT; i++)
        free(look->text[i]);
    free(look->css);
    free(look->logo);
    free(look->error_page);
    free(look);
}

int moat_portal_look_new(const moat_config *cfg, moat_portal_look **out, char **err)
{
    moat_portal_look *look = moat_xcalloc(1, sizeof(*look));
    const char *dir = cfg->portal.templates;
    int rc = 0;
    *out = NULL;
    for (int i = 0; dir && dir[0] && i < MOAT__TMPL_COUNT; i++) {
        char *path = moat_xasprintf("%s/%s", dir, names[i]);
        size_t len;
        if (access(path, F_OK) == 0)
            rc = read_limited(path, TEMPLATE_MAX, &look->text[i], &len, err, "portal.templates");
        free(path);
        if (rc < 0) goto fail;
    }
    const char *logo = cfg->portal.logo;
    if (logo && logo[0]) {
        look->logo_type = logo_type(logo);
        if (!look->logo_type) {
            *err = moat_xasprintf("portal.logo '%s': expected a .png, .svg, .jpg, .gif, .webp or "
                                  ".ico file",
                                  logo);
            rc = MOAT_EINVAL;
            goto fail;
        }
        rc = read_limited(logo, LOGO_MAX, &look->logo, &look->logo_len, err, "portal.logo");
        if (rc < 0) goto fail;
    }
    /* every template renders, so a broken one refuses the config now */
    for (int i = 0; i < MOAT__TMPL_COUNT; i++) {
        moat_buf b;
        moat_buf_init(&b);
        const char *why = NULL;
        rc = moat__tmpl_render(&b, moat__look_text(look, i), NULL, 0, &why);
        moat_buf_free(&b);
        if (rc < 0) {
            *err = moat_xasprintf("portal.templates: %s%s%s: %s", look->text[i] ? dir : "",
                                  look->text[i] ? "/" : "built-in ", names[i], why);
            rc = MOAT_EINVAL;
            goto fail;
        }
    }
    unsigned long accent = parse_color(cfg->portal.accent_color);
    char hex[8];
    snprintf(hex, sizeof(hex), "#%06lx", accent & 0xffffff);
    moat__tvar cv[] = {{.name = "accent", .value = hex},
                       {.name = "accent_text", .value = text_on(accent)}};
    moat_buf css;
    moat_buf_init(&css);
    (void)moat__tmpl_render(&css, moat__look_text(look, MOAT__TMPL_CSS), cv, MOAT_ARRAY_LEN(cv),
                            NULL);
    look->css_len = css.len;
    look->css = moat_buf_steal(&css);

    moat_buf body, page;
    moat_buf_init(&body);
    moat_buf_init(&page);
    (void)moat__tmpl_render(&body, moat__look_text(look, MOAT__TMPL_ERROR), NULL, 0, NULL);
    moat__look_layout(look, cfg, &page, "{status} {reason}", body.data ? body.data : "");
    moat_buf_free(&body);
    look->error_page = moat_buf_steal(&page);
    *out = look;
    return 0;
fail:
    moat_portal_look_free(look);
    return rc;
}

void moat__look_layout(const moat_portal_look *look, const moat_config *cfg, moat_buf *out,
                       const char *title, const char *content)
{
    const char *logo = cfg->portal.logo && cfg->portal.logo[0] ? "1" : NULL;
    moat__tvar v[] = {
        {.name = "title", .value = title},
        {.name = "content", .value = content},
        {.name = "site_name", .value = cfg->portal.site_name},
        {.name = "back_url", .value = cfg->portal.back_url},
        {.name = "logo", .value = look && look->logo ? logo : NULL},
    };
    (void)moat__tmpl_render(out, moat__look_text(look, MOAT__TMPL_LAYOUT), v, MOAT_ARRAY_LEN(v),
                            NULL);
}

const char *moat_portal_look_error(const moat_portal_look *look)
{
    return look->error_page;
}

bool moat_portal_look_asset(const moat_portal_look *look, const char *path, const char **body,
                            size_t *len, const char **ctype)
{
    if (!look || !path) return false;
    if (strcmp(path, MOAT_PORTAL_CSS_PATH) == 0) {
        *body = look->css;
        *len = look->css_len;
        *ctype = "text/css; charset=utf-8";
        return true;
    }
    if (strcmp(path, MOAT_PORTAL_LOGO_PATH) == 0 && look->logo) {
        *body = look->logo;
        *len = look->logo_len;
        *ctype = look->logo_type;
        return true;
    }
    return false;
}
