/* run.c - the code and settings analysers' runs (`moat audit code`,
 * `moat audit settings`, and both within `moat audit`): finds the
 * configuration ([audit] in moat.toml or [tool.moat.audit] in pyproject.toml
 * of the audited folder), walks the tree, hands each file to the code or
 * settings analyser, applies the thresholds and the baseline, and prints the
 * report. The rules live in src/audit/code and src/audit/settings; the
 * report formats in src/audit/report; the options in src/cli/cmd_audit_code.c. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/code/code.h"
#include "audit/settings/settings.h"
#include "audit/engine.h"
#include "config/config.h"
#include "core.h"

#define MAX_FILE_BYTES (8u << 20)

typedef enum { F_PY, F_TEMPLATE, F_ENV } file_kind;

/* One file to analyse and, once analysed, what it gave. */
typedef struct file_job {
    char *path; /* owned */
    file_kind kind;
    moat_audit_findings findings;
    moat_audit_file_result res;
    off_t size; /* from stat before the run, to take big files first */
    bool analysed;
    bool unreadable; /* could not be read: the audit is incomplete (exit 2) */
} file_job;

typedef struct scan {
    bool settings_mode; /* `audit settings` (else `audit code`) */
    moat_audit_code_opts opts;
    file_job *jobs;
    size_t njobs, cap;
    size_t *order;      /* job indexes, biggest file first (owned) */
    atomic_size_t next; /* the next order[] entry a worker takes */
    moat_audit_findings findings;
    char **errors, **notes;
    size_t nerrors, nnotes;
    size_t files, suppressed;
    bool incomplete; /* a file could not be read */
} scan;

static void add_str(char ***v, size_t *n, char *s)
{
    *v = moat_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = s;
}

static bool has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), k = strlen(ext);
    return n > k && strcasecmp(path + n - k, ext) == 0;
}

static bool skipped(const scan *s, const char *id)
{
    for (size_t i = 0; i < s->opts.nskip; i++)
        if (!strcmp(s->opts.skip[i], id)) return true;
    return false;
}

/* The walk only lists the files; the workers analyse them. */
static int on_file(void *arg, const char *path, const char *rel)
{
    (void)rel;
    scan *s = arg;
    file_kind kind;
    if (has_ext(path, ".py") || has_ext(path, ".pyw"))
        kind = F_PY;
    else if (!s->settings_mode && moat_audit_code_is_template(path) &&
             !(skipped(s, moat_audit_code_rules[MOAT_CODE_MOAT_C102].id) &&
               skipped(s, moat_audit_code_rules[MOAT_CODE_MOAT_C103].id)))
        kind = F_TEMPLATE;
    else if (s->settings_mode && moat_audit_settings_is_env(path))
        kind = F_ENV;
    else
        return 0;
    if (s->njobs == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->jobs = moat_xrealloc(s->jobs, s->cap * sizeof(*s->jobs));
    }
    s->jobs[s->njobs++] = (file_job){.path = moat_xstrdup(path), .kind = kind};
    return 0;
}

static void analyse(const scan *s, file_job *j)
{
    struct stat st;
    if (stat(j->path, &st) == 0 && (size_t)st.st_size > MAX_FILE_BYTES) {
        j->res.error =
            moat_xasprintf("%s: larger than %u MiB, not analysed", j->path, MAX_FILE_BYTES >> 20);
        return;
    }
    char *src = NULL;
    size_t len = 0;
    if (moat_read_file(j->path, &src, &len) < 0) {
        j->res.error = moat_xasprintf("%s: cannot be read", j->path);
        j->unreadable = true;
        return;
    }
    if (j->kind == F_PY)
        moat_audit_code_python(j->path, src, len, &s->opts, &j->findings, &j->res);
    else if (j->kind == F_TEMPLATE)
        moat_audit_code_template(j->path, src, len, &s->opts, &j->findings, &j->res);
    else
        moat_audit_settings_env(j->path, src, len, &s->opts, &j->findings, &j->res);
    j->analysed = true;
    free(src);
}

static void *worker(void *arg)
{
    scan *s = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&s->next, 1);
        if (i >= s->njobs) {
            moat_audit_code_thread_end();
            return NULL;
        }
        analyse(s, &s->jobs[s->order[i]]);
    }
}

static const file_job *sort_jobs; /* for by_size_desc (run_jobs runs once at a time) */

static int by_size_desc(const void *a, const void *b)
{
    off_t x = sort_jobs[*(const size_t *)a].size, y = sort_jobs[*(const size_t *)b].size;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Analyses every job on up to one thread per CPU (files are independent),
 * biggest files first so that no thread is left with a big one at the end,
 * then gathers the results in walk order. */
static void run_jobs(scan *s)
{
    s->order = moat_xcalloc(s->njobs ? s->njobs : 1, sizeof(*s->order));
    for (size_t i = 0; i < s->njobs; i++) {
        struct stat st;
        s->jobs[i].size = stat(s->jobs[i].path, &st) == 0 ? st.st_size : 0;
        s->order[i] = i;
    }
    sort_jobs = s->jobs;
    qsort(s->order, s->njobs, sizeof(*s->order), by_size_desc);
    sort_jobs = NULL;

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nthreads = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (size_t)ncpu;
    if (nthreads > s->njobs) nthreads = s->njobs ? s->njobs : 1;
    pthread_t tids[16];
    size_t started = 0;
    for (size_t i = 1; i < nthreads; i++)
        if (pthread_create(&tids[started], NULL, worker, s) == 0) started++;
    worker(s);
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    for (size_t i = 0; i < s->njobs; i++) {
        file_job *j = &s->jobs[i];
        if (j->analysed) s->files++;
        if (j->unreadable) s->incomplete = true;
        s->suppressed += j->res.suppressed;
        if (j->res.error) {
            add_str(&s->errors, &s->nerrors, j->res.error);
            j->res.error = NULL;
        }
        for (size_t k = 0; k < j->res.nnotes; k++) {
            add_str(&s->notes, &s->nnotes, j->res.notes[k]);
            j->res.notes[k] = NULL;
        }
        moat_audit_file_result_free(&j->res);
        for (size_t k = 0; k < j->findings.len; k++)
            *moat_audit_findings_push(&s->findings) = j->findings.v[k];
        free(j->findings.v); /* the strings moved to s->findings */
        j->findings = (moat_audit_findings){0};
    }
}

/* The config of the audited folder: --config, else moat.toml or a
 * pyproject.toml with [tool.moat] in it, else the defaults. */
static int load_config(const char *explicit, const char *root, moat_config **cfg)
{
    moat_config_source src = {0};
    char *path = NULL;
    if (explicit) {
        src.path = explicit;
    } else {
        struct stat st;
        char *dir = NULL;
        if (stat(root, &st) == 0 && S_ISDIR(st.st_mode)) {
            dir = moat_xstrdup(root);
        } else {
            const char *slash = strrchr(root, '/');
            dir = slash ? moat_xstrndup(root, (size_t)(slash - root)) : moat_xstrdup(".");
        }
        char *toml = moat_xasprintf("%s/moat.toml", dir);
        char *py = moat_xasprintf("%s/pyproject.toml", dir);
        char *text = NULL;
        size_t len = 0;
        if (stat(toml, &st) == 0) {
            path = toml;
            toml = NULL;
        } else if (moat_read_file(py, &text, &len) == 0 && strstr(text, "tool.moat")) {
            path = py;
            py = NULL;
        }
        free(text);
        free(toml);
        free(py);
        free(dir);
        src.path = path;
    }
    char *err = NULL;
    int rc = 0;
    if (!src.path) {
        *cfg = moat_config_default();
    } else if (moat_config_load(&src, cfg, &err) < 0) {
        fprintf(stderr, "moat audit: %s\n", err);
        free(err);
        rc = 2;
    }
    free(path);
    return rc;
}

static int run(const moat_audit_job *job, bool settings_mode)
{
    scan s = {0};
    s.settings_mode = settings_mode;
    s.opts.code = !s.settings_mode;
    s.opts.settings = s.settings_mode;
    s.opts.combined = job->combined;
    moat_audit_format fmt = job->format;
    const char *output = job->output, *baseline_path = job->baseline, *config_path = job->config;
    const char *sev_arg = job->severity, *conf_arg = job->confidence;
    char **skip = NULL, **exclude = NULL;
    size_t nskip = 0, nexclude = 0;
    int rc = 2;
    for (size_t i = 0; i < job->nskip; i++)
        add_str(&skip, &nskip, moat_xstrdup(job->skip[i]));
    for (size_t i = 0; i < job->nexclude; i++)
        add_str(&exclude, &nexclude, moat_xstrdup(job->exclude[i]));
    const char *const here[] = {"."};
    const char *const *paths = job->npaths ? job->paths : here;
    size_t npaths = job->npaths ? job->npaths : 1;
    const char *first = paths[0];
    moat_config *cfg = NULL;
    if (load_config(config_path, first, &cfg) != 0) goto out;
    for (size_t i = 0; i < cfg->audit.skip.len; i++)
        add_str(&skip, &nskip, moat_xstrdup(cfg->audit.skip.items[i]));
    for (size_t i = 0; i < cfg->audit.exclude.len; i++)
        add_str(&exclude, &nexclude, moat_xstrdup(cfg->audit.exclude.items[i]));
    moat_audit_level min_sev = MOAT_AUDIT_LOW, min_conf = MOAT_AUDIT_LOW;
    if (moat_audit_level_parse(sev_arg ? sev_arg : cfg->audit.severity, &min_sev) < 0 ||
        moat_audit_level_parse(conf_arg ? conf_arg : cfg->audit.confidence, &min_conf) < 0) {
        fprintf(stderr, "moat audit: --severity and --confidence take low, medium or high\n");
        moat_config_free(cfg);
        goto out;
    }
    moat_config_free(cfg);
    s.opts.skip = (const char *const *)skip;
    s.opts.nskip = nskip;
    bool disabled[MOAT_CODE__COUNT];
    for (size_t r = 0; r < MOAT_CODE__COUNT; r++)
        disabled[r] = skipped(&s, moat_audit_code_rules[r].id);
    s.opts.disabled = disabled;

    moat_audit_baseline *baseline = NULL;
    if (baseline_path) {
        char *err = NULL;
        if (moat_audit_baseline_load(baseline_path, &baseline, &err) < 0) {
            fprintf(stderr, "moat audit: %s\n", err);
            free(err);
            goto out;
        }
    }
    for (size_t i = 0; i < npaths; i++) {
        char *err = NULL;
        if (moat_audit_walk(paths[i], (const char *const *)exclude, nexclude, on_file, &s, &err) <
            0) {
            fprintf(stderr, "moat audit: %s\n", err);
            free(err);
            moat_audit_baseline_free(baseline);
            goto out;
        }
    }
    /* the tree's modules: a call into another module with request data is
     * followed there (call summaries, computed once, shared by the threads) */
    if (s.opts.code) {
        const char **py = moat_xcalloc(s.njobs ? s.njobs : 1, sizeof(*py));
        size_t npy = 0;
        for (size_t i = 0; i < s.njobs; i++)
            if (s.jobs[i].kind == F_PY) py[npy++] = s.jobs[i].path;
        s.opts.project = moat_audit_project_new(first, py, npy);
        free(py);
    }
    run_jobs(&s);
    moat_audit_project_free(s.opts.project);
    s.opts.project = NULL;

    /* thresholds, then order and fingerprints, then the baseline */
    moat_audit_findings_filter(&s.findings, min_sev, min_conf);
    moat_audit_findings_finish(&s.findings);
    size_t baselined = baseline ? moat_audit_findings_drop_baseline(&s.findings, baseline) : 0;
    moat_audit_baseline_free(baseline);

    const moat_audit_rule *const tables[] = {s.settings_mode ? moat_audit_settings_rules
                                                             : moat_audit_code_rules};
    const size_t counts[] = {s.settings_mode ? moat_audit_settings_nrules : moat_audit_code_nrules};
    moat_audit_report r = {.findings = &s.findings,
                           .rule_tables = tables,
                           .rule_counts = counts,
                           .ntables = 1,
                           .errors = (const char *const *)s.errors,
                           .nerrors = s.nerrors,
                           .notes = (const char *const *)s.notes,
                           .nnotes = s.nnotes,
                           .files = s.files,
                           .suppressed = s.suppressed,
                           .baselined = baselined};
    moat_buf b;
    moat_buf_init(&b);
    moat_audit_render(&b, &r, fmt);
    moat_audit_make_safe(&b, fmt == MOAT_AUDIT_TEXT);
    FILE *fp = output ? fopen(output, "w") : stdout;
    if (!fp) {
        fprintf(stderr, "moat audit: cannot write %s\n", output);
        moat_buf_free(&b);
        goto out;
    }
    bool ok = fwrite(b.data, 1, b.len, fp) == b.len;
    if (output) ok = fclose(fp) == 0 && ok;
    moat_buf_free(&b);
    if (!ok) {
        fprintf(stderr, "moat audit: cannot write %s\n", output ? output : "standard output");
        goto out;
    }
    /* fail closed: a file that could not be read was not audited */
    rc = s.incomplete ? 2 : s.findings.len ? 1 : 0;
out:
    moat_audit_findings_free(&s.findings);
    for (size_t i = 0; i < s.njobs; i++)
        free(s.jobs[i].path);
    free(s.jobs);
    free(s.order);
    for (size_t i = 0; i < s.nerrors; i++)
        free(s.errors[i]);
    free(s.errors);
    for (size_t i = 0; i < s.nnotes; i++)
        free(s.notes[i]);
    free(s.notes);
    for (size_t i = 0; i < nskip; i++)
        free(skip[i]);
    free(skip);
    for (size_t i = 0; i < nexclude; i++)
        free(exclude[i]);
    free(exclude);
    return rc;
}

int moat_audit_code_run(const moat_audit_job *job)
{
    return run(job, false);
}

int moat_audit_settings_run(const moat_audit_job *job)
{
    return run(job, true);
}
