/* rules.c - the code rules: id (Bandit's where Bandit has the check, so that
 * `# nosec B608` keeps working), default severity and confidence, CWE, the
 * one-line message and the doc entry that docs/audit-code.md and SARIF show.
 * The checks themselves are in analyse.c and templates.c. */
#include <string.h>

#include "audit/code/code.h"

#define L MOAT_AUDIT_LOW
#define M MOAT_AUDIT_MEDIUM
#define H MOAT_AUDIT_HIGH

const moat_audit_rule moat_audit_code_rules[] = {
    {"B102", "exec_used", M, H, 78, "Use of exec.",
     "exec() runs any Python it is given; with request data it is remote code execution. "
     "Dispatch through a table of allowed functions instead."},
    {"B104", "hardcoded_bind_all_interfaces", M, M, 605, "Possible binding to all interfaces.",
     "'0.0.0.0' makes a server reachable from every network the machine is on. Bind to "
     "127.0.0.1 behind the gateway and let moat serve the outside."},
    {"B105", "hardcoded_password_string", L, M, 259, "Possible hardcoded password.",
     "A string assigned to or compared with a password-like name. Read secrets from the "
     "environment or a secrets manager."},
    {"B106", "hardcoded_password_funcarg", L, M, 259,
     "Possible hardcoded password passed as a keyword argument.",
     "A string literal passed to a password-like keyword argument. Read it from the "
     "environment."},
    {"B107", "hardcoded_password_default", L, M, 259,
     "Possible hardcoded password as a parameter default.",
     "A password-like parameter with a string default. Require the caller to pass it."},
    {"B113", "request_without_timeout", M, L, 400, "Requests call without a timeout.",
     "requests waits forever by default: one slow server ties up a worker. Pass timeout=."},
    {"B201", "flask_debug_true", H, M, 94, "Flask app run with debug=True.",
     "The Werkzeug debugger lets anyone who reaches it run code. Never enable it outside a "
     "developer's machine; read the flag from the environment."},
    {"B202", "tarfile_unsafe_members", H, M, 22, "tarfile extractall without a members filter.",
     "Archive members named '../x' or absolute paths are written outside the target folder. "
     "Pass filter='data' (Python 3.12+) or a members list you checked."},
    {"B301", "pickle", M, H, 502, "Pickle can run code when loading untrusted data.",
     "Unpickling runs constructors chosen by the data. Use JSON for anything that crosses a "
     "trust boundary."},
    {"B302", "marshal", M, H, 502, "Deserialization with marshal is possibly dangerous.",
     "marshal is not meant for untrusted data. Use JSON."},
    {"B303", "md5", M, H, 327, "Use of insecure MD2, MD4, MD5 or SHA1 hash function.",
     "These hashes are broken for collision resistance and far too fast for passwords. Use "
     "SHA-256 for integrity and Argon2/bcrypt/scrypt for passwords; pass "
     "usedforsecurity=False where the hash is not a security control."},
    {"B306", "mktemp_q", M, H, 377, "Use of insecure and deprecated function (mktemp).",
     "The name mktemp returns can be taken by someone else before it is opened. Use "
     "tempfile.mkstemp or NamedTemporaryFile."},
    {"B307", "eval", M, H, 78, "Use of possibly insecure function eval.",
     "eval() runs any expression. Use ast.literal_eval for literals, json for data."},
    {"B308", "mark_safe", M, H, 79, "Use of mark_safe() may expose cross-site scripting.",
     "mark_safe turns off Django's escaping for the value. Build HTML with format_html."},
    {"B311", "random", L, H, 330, "Standard pseudo-random generators are not for security.",
     "random is predictable. Use the secrets module for tokens, passwords and keys."},
    {"B324", "hashlib_new_insecure_functions", M, H, 327,
     "Use of insecure MD4, MD5 or SHA1 hash function via hashlib.new.",
     "As B303, through hashlib.new(name)."},
    {"B501", "request_with_no_cert_validation", H, H, 295,
     "Requests call with verify=False disabling certificate checks.",
     "Without certificate checks anyone on the path can read and change the traffic. Fix "
     "the trust store or pass verify='/path/ca.pem'."},
    {"B502", "ssl_with_bad_version", H, H, 327, "Call with an insecure SSL/TLS protocol version.",
     "SSLv2, SSLv3, TLS 1.0 and 1.1 are broken or deprecated. Use "
     "ssl.create_default_context()."},
    {"B503", "ssl_with_bad_defaults", M, M, 327,
     "Function definition with an insecure SSL/TLS protocol version by default.",
     "A default of an insecure protocol version is used whenever the caller omits it."},
    {"B504", "ssl_with_no_version", L, M, 327, "ssl.wrap_socket call with no protocol version.",
     "ssl.wrap_socket is deprecated and its defaults are weak. Use an SSLContext from "
     "ssl.create_default_context()."},
    {"B506", "yaml_load", M, H, 20, "Use of unsafe yaml.load.",
     "yaml.load with the default or full Loader builds arbitrary Python objects. Use "
     "yaml.safe_load."},
    {"B602", "subprocess_popen_with_shell_equals_true", H, H, 78,
     "subprocess call with shell=True.",
     "With shell=True the command line is parsed by /bin/sh: any request data in it is "
     "command injection. Pass a list of arguments without a shell."},
    {"B603", "subprocess_without_shell_equals_true", L, H, 78,
     "subprocess call: check for execution of untrusted input.",
     "No shell is involved, but the program and its arguments must not come from the request."},
    {"B604", "any_other_function_with_shell_equals_true", M, L, 78,
     "Function call with shell=True.", "A wrapper given shell=True probably runs a shell."},
    {"B605", "start_process_with_a_shell", H, H, 78, "Starting a process with a shell.",
     "os.system and os.popen run /bin/sh -c. Use subprocess with a list of arguments."},
    {"B606", "start_process_with_no_shell", L, M, 78, "Starting a process without a shell.",
     "os.exec*/spawn* run a program: check that it and its arguments are not from the request."},
    {"B607", "start_process_with_partial_path", L, H, 78,
     "Starting a process with a partial executable path.",
     "A program found through PATH can be replaced by whoever controls PATH. Use an absolute "
     "path."},
    {"B608", "hardcoded_sql_expressions", M, L, 89,
     "Possible SQL injection through string-based query construction.",
     "SQL built with +, %, .format or f-strings is injectable. Pass values as query "
     "parameters: cursor.execute('... WHERE id = %s', (id,))."},
    {"B610", "django_extra_used", M, M, 89, "Use of extra() with non-literal SQL.",
     "QuerySet.extra() pastes its where/tables/select into SQL. Use the ORM or params=."},
    {"B611", "django_rawsql_used", M, M, 89, "Use of RawSQL with non-literal SQL.",
     "RawSQL pastes its first argument into SQL. Keep it literal and pass params."},
    {"B701", "jinja2_autoescape_false", H, H, 94, "Jinja2 Environment with autoescape off.",
     "Without autoescape every {{ value }} is raw HTML: cross-site scripting. Use "
     "autoescape=select_autoescape() or True."},
    {"B703", "django_mark_safe", M, H, 80, "Potential XSS on mark_safe with non-literal input.",
     "mark_safe on anything built from variables trusts it as HTML. Use format_html()."},
    {"B704", "markupsafe_markup_xss", M, H, 79, "Markup() on non-literal input.",
     "markupsafe.Markup marks its argument as safe HTML. Use Markup.format / escape()."},
    {"MOAT-C101", "flask_ssti", H, M, 1336, "render_template_string with non-constant input.",
     "A template built from data is server-side template injection: {{ ... }} in it runs "
     "in the template engine. Render a fixed template and pass the data as variables."},
    {"MOAT-C102", "template_safe_filter", M, M, 79, "|safe filter turns off escaping.",
     "The value is inserted as raw HTML. Escape it, or mark only HTML you built yourself."},
    {"MOAT-C103", "template_autoescape_off", H, H, 79, "Template turns autoescaping off.",
     "{% autoescape false %} (Jinja2) or {% autoescape off %} (Django) inserts every "
     "value in the block as raw HTML."},
    {"MOAT-C104", "csrf_exempt", M, H, 352, "View exempt from CSRF protection.",
     "@csrf_exempt removes Django's (or Flask-WTF's) CSRF check from the view. Keep the "
     "check; for APIs use token authentication instead of cookies."},
    {"MOAT-C105", "wtf_csrf_disabled", H, H, 352, "WTF_CSRF_ENABLED = False turns off CSRF.",
     "Flask-WTF then accepts forms posted from any site."},
    {"MOAT-C106", "open_redirect", M, H, 601, "Redirect to a URL taken from the request.",
     "An attacker's link through your site lands on their page. Redirect only to paths of "
     "this site (check with url_has_allowed_host_and_scheme)."},
    {"MOAT-C107", "path_traversal", H, H, 22, "File path taken from the request.",
     "'../' in the value reads or writes any file. Use send_from_directory / safe_join and "
     "secure_filename."},
    {"MOAT-C108", "ssrf", H, H, 918, "Outgoing request to a URL taken from the request.",
     "Server-side request forgery: the server fetches internal addresses (metadata "
     "services, admin ports) for the attacker. Allow-list the hosts."},
    {"MOAT-C109", "hardcoded_secret_key", H, H, 798, "Hard-coded SECRET_KEY.",
     "Whoever has the repository can forge sessions, password-reset links and signed "
     "cookies. Read the key from the environment."},
    {"MOAT-C110", "sql_injection_taint", H, H, 89, "Request data reaches a SQL call.",
     "The query text comes from the request. Pass values as query parameters."},
};
const size_t moat_audit_code_nrules = MOAT_ARRAY_LEN(moat_audit_code_rules);

static void md_cell(moat_buf *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            moat_buf_puts(out, "\\|");
        else
            moat_buf_putc(out, *s);
    }
}

void moat_audit_rules_markdown(moat_buf *out, const moat_audit_rule *rules, size_t n)
{
    moat_buf_puts(out, "| id | name | severity | confidence | CWE | what and why |\n"
                       "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const moat_audit_rule *r = &rules[i];
        moat_buf_printf(out, "| %s | %s | %s | %s | ", r->id, r->name,
                        moat_audit_level_name(r->severity), moat_audit_level_name(r->confidence));
        if (r->cwe)
            moat_buf_printf(out, "[CWE-%u](https://cwe.mitre.org/data/definitions/%u.html)", r->cwe,
                            r->cwe);
        moat_buf_puts(out, " | ");
        md_cell(out, r->message);
        moat_buf_puts(out, " ");
        md_cell(out, r->doc);
        moat_buf_puts(out, " |\n");
    }
}
