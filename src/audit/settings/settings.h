/* settings.h - the settings analyser of `moat audit settings`: Django
 * settings modules checked as `manage.py check --deploy` would (with its
 * check ids), Flask configs (app.config[...], app.config.update, config
 * classes) and .env files, all statically: a value computed at run time or
 * read from the environment is reported as not checkable, never guessed.
 * Python files are parsed once by the code analyser (code.h, opts.settings). */
#ifndef MOAT_AUDIT_SETTINGS_H
#define MOAT_AUDIT_SETTINGS_H

#include "audit/code/code.h"

extern const moat_audit_rule moat_audit_settings_rules[];
extern const size_t moat_audit_settings_nrules;

/* Whether path is a .env-style file (".env", ".env.production", "prod.env"). */
bool moat_audit_settings_is_env(const char *path);

/* Checks a .env-style file (KEY=VALUE lines). */
void moat_audit_settings_env(const char *path, const char *src, size_t len,
                             const moat_audit_code_opts *o, moat_audit_findings *out,
                             moat_audit_file_result *res);

#endif
