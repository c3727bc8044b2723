/* internal.h - names shared inside src/audit/code: the per-file analysis
 * context, tree-sitter node helpers and the taint state. */
#ifndef MOAT_AUDIT_CODE_INTERNAL_H
#define MOAT_AUDIT_CODE_INTERNAL_H

#include <tree_sitter/api.h>

#include "audit/code/code.h"
#include "audit/code/tskids.h"

/* The grammar compiled in from tree-sitter-python's src/parser.c. */
const TSLanguage *tree_sitter_python(void);

#define MOAT__PY_MAX_DEPTH 200 /* deeper subtrees are not analysed (bounded recursion) */
#define MOAT__PY_MAX_STEPS 12  /* data-flow steps kept per path */
#define MOAT__PY_MAX_CALLS 4   /* helpers followed into, nested (call summaries) */

typedef struct moat__py_steps {
    moat_audit_step v[MOAT__PY_MAX_STEPS]; /* what, path: owned */
    size_t len;
} moat__py_steps;

/* A summary step's text starts with this byte and names the parameter the
 * data came in through ("\x01q"): the path inside a helper starts there. */
#define MOAT__PY_PARAM_MARK '\x01'

/* One flow of a function's summary: what reaches a sink inside it from one of
 * its parameters (the finding it gave, analysed with that parameter tainted). */
typedef struct moat__py_flow {
    char *param;  /* owned */
    size_t index; /* position among the parameters (self/cls not counted) */
    bool reqobj;  /* the parameter is a request object (request, req, x: HttpRequest) */
    moat_code_rule rule;
    moat_audit_level sev, conf;
    char *msg;              /* owned */
    moat_audit_step *steps; /* owned: after the parameter, to the sink ("reaches X") */
    size_t nsteps;
} moat__py_flow;

/* What a call to a function of the project does with its arguments. */
typedef struct moat__py_summary {
    char *key; /* owned: "name" or "Class.name" (or "module:name" in the project cache) */
    int state; /* 1 being computed (a recursive call sees no summary), 2 done */
    moat__py_flow *flows; /* owned */
    size_t nflows;
    /* the return value carries parameter ret_param's data (request data for
     * a request object), with the path from it */
    moat__py_flow ret;
    bool has_ret;
} moat__py_summary;

void moat__py_summary_free(moat__py_summary *s);

/* A variable of the current function: tainted (steps from a request source)
 * and/or assigned something other than a constant. */
typedef struct moat__py_var {
    char *name; /* owned */
    bool tainted, nonconst;
    bool reqobj; /* a request object passed into a helper (its .args, .GET are sources) */
    moat__py_steps steps;
} moat__py_var;

typedef struct moat__py_scope {
    moat__py_var *v; /* owned */
    size_t len, cap;
    size_t nreqobj; /* variables with reqobj set (most scopes have none) */
} moat__py_scope;

typedef struct moat__py_import {
    char *alias; /* owned: the local name ("sp", "loads"); NULL for a plain import */
    char *qual;  /* owned: what it stands for ("subprocess", "pickle.loads") */
} moat__py_import;

typedef struct moat__py_ctx {
    const char *path, *src;
    size_t len;
    const moat_audit_code_opts *o;
    moat_audit_findings *out;
    moat_audit_file_result *res;
    moat__py_import *imp;
    size_t nimp, capimp;
    moat__py_scope *scope;  /* the current function's (borrowed) */
    moat__py_scope *module; /* the module body's (borrowed) */
    moat__py_scope returns; /* module-level functions returning request data (owned) */
    moat__py_var *ret;      /* the current function's return: tainted, steps (borrowed) */
    TSNode stack[MOAT__PY_MAX_DEPTH + 1]; /* ancestors of the node being visited */
    size_t depth;
    bool disabled[MOAT_CODE__COUNT]; /* rules in audit.skip / --skip (set once per file) */
    /* Literals any rule wanted masked (skipped and suppressed findings
     * included), byte ranges of src: every snippet of the file masks them
     * all (moat__py_finish_snippets), not only its own finding's. */
    size_t (*masks)[2];
    size_t nmasks, capmasks;
    size_t first_finding; /* out->len when the file's analysis began */
    size_t *comments;     /* moat_audit_py_comments, made on first use */
    size_t ncomments;
    /* call summaries (analyse.c): the file's functions and methods, followed
     * into when a call passes them request data */
    TSNode root;
    TSNode cls;              /* the class being visited, or null */
    moat__py_scope *attrs;   /* its self.X attributes holding request data (borrowed) */
    moat__py_summary **sums; /* owned: this file's, computed on first use */
    size_t nsums, capsums;
    int calls;           /* summaries being computed, nested (<= MOAT__PY_MAX_CALLS) */
    const char *modname; /* dotted module name of this file in the project, or NULL */
} moat__py_ctx;

/* Whether rule r runs (ruff's is_rule_enabled): each rule family's check asks
 * before doing any work, so a skipped family costs nothing. */
static inline bool moat__py_enabled(const moat__py_ctx *c, moat_code_rule r)
{
    return !c->disabled[r];
}

/* ---- node helpers (py.c) ---- */
/* arena.c: tree-sitter's allocations on this thread between begin() and
 * end() come from a bump arena that end() releases at once (install() once
 * per process, before any tree-sitter allocation; thread_end() frees the
 * chunks a thread keeps for its next file). */
void moat__ts_arena_install(void);
void moat__ts_arena_begin(void);
void moat__ts_arena_end(void);
void moat__ts_arena_thread_end(void);

bool moat__py_is(TSNode n, const char *type);
TSNode moat__py_field(TSNode n, const char *name);
const char *moat__py_text(const moat__py_ctx *c, TSNode n, size_t *len);
bool moat__py_text_is(const moat__py_ctx *c, TSNode n, const char *lit);
/* Whether n's source text contains lit anywhere (a walk's shortcut). */
bool moat__py_text_has(const moat__py_ctx *c, TSNode n, const char *lit);
unsigned moat__py_line(TSNode n);
/* Dotted text of an identifier/attribute chain ("os.path.join"); owned or NULL. */
char *moat__py_dotted(const moat__py_ctx *c, TSNode n);
/* The dotted name with its first part resolved through the imports. */
char *moat__py_qualname(const moat__py_ctx *c, TSNode n);
/* Whether an import names a module containing sub ("flask" in "flask.views"). */
bool moat__py_imported_like(const moat__py_ctx *c, const char *sub);
void moat__py_collect_imports(moat__py_ctx *c, TSNode n, int depth);
void moat__py_imports_free(moat__py_ctx *c);
/* A plain string literal (no f-string fields), or implicit concatenations of them. */
bool moat__py_is_str(TSNode n);
/* Its contents, escapes left as written (owned). */
char *moat__py_str_value(const moat__py_ctx *c, TSNode n);
/* A literal: string, number, True/False/None, or +,% of literals. */
bool moat__py_is_const(TSNode n, int depth);

/* ---- taint (py.c) ---- */
moat__py_var *moat__py_var_get(moat__py_scope *s, const char *name, size_t n, bool create);
void moat__py_scope_free(moat__py_scope *s);
void moat__py_steps_free(moat__py_steps *s);
void moat__py_steps_copy(moat__py_steps *dst, const moat__py_steps *src);
void moat__py_steps_add(moat__py_steps *s, unsigned line, char *what_owned);
/* Whether n carries request data; fills steps with the path to it. */
bool moat__py_tainted(moat__py_ctx *c, TSNode n, moat__py_steps *steps, int depth);
/* Whether n is a request object (request, self.request, a helper's request
 * parameter); fills steps when it came in through a parameter. */
bool moat__py_reqobj(moat__py_ctx *c, TSNode n, moat__py_steps *steps);
/* Whether a call's return carries request data by the callee's summary
 * (analyse.c): `search_term(request)` with def search_term(req): return req.GET["q"]. */
bool moat__py_call_returns(moat__py_ctx *c, TSNode call, moat__py_steps *steps, int depth);

/* ---- findings (py.c) ---- */
/* Reports rule at node `at` unless skipped or suppressed. sev/conf 0 take the
 * rule's defaults; msg NULL takes its message; steps (may be NULL) are copied
 * with a last step "reaches NAME" added when sink is not NULL; mask (may be a
 * null node) is a string literal whose contents are masked in the snippet. */
void moat__py_report(moat__py_ctx *c, moat_code_rule rule, TSNode at, moat_audit_level sev,
                     moat_audit_level conf, const char *msg, const moat__py_steps *steps,
                     const char *sink, TSNode mask);
/* The same for any rule table and kind ("settings"). */
void moat__py_report_rule(moat__py_ctx *c, const moat_audit_rule *r, const char *kind, TSNode at,
                          moat_audit_level sev, moat_audit_level conf, const char *msg,
                          const moat__py_steps *steps, const char *sink, TSNode mask);
/* Masks every recorded literal and every secret in the snippets of the
 * file's findings, then cuts long lines; frees the masks. */
void moat__py_finish_snippets(moat__py_ctx *c);
/* Whether a comment on lines first..last suppresses rule id (real comments
 * only: moat_audit_suppressed_py). */
bool moat__py_suppressed(moat__py_ctx *c, unsigned first, unsigned last, const char *id,
                         const char *kind);
/* Adds a "not checkable here" note to the file's result. */
void moat__py_note(moat__py_ctx *c, TSNode at, char *text_owned);
/* The settings rules over a parsed file (src/audit/settings/settings.c). */
void moat__audit_settings_check(moat__py_ctx *c, TSNode root);
bool moat__py_skipped(const moat__py_ctx *c, const char *rule);
/* Shared by templates.c and the settings analyser: the finding at a line. */
void moat__audit_line_finding(moat_audit_findings *out, const moat_audit_rule *r, const char *kind,
                              const char *path, const char *src, size_t len, size_t at,
                              moat_audit_level sev, moat_audit_level conf, const char *msg);

#endif
