/* rules.h - the code rules as one X-macro list: rules.c expands it into the
 * table (id, name, default severity and confidence, CWE, message, doc) and
 * code.h into the enum moat_code_rule (MOAT_CODE_B608, MOAT_CODE_MOAT_C101,
 * ...) that the checks report with, so a mistyped rule id fails the build.
 * Adding a rule is one X(...) line here and its check in analyse.c or
 * templates.c; docs/audit-code.md is generated (moat audit rules --markdown).
 * X(symbol, "id", "name", severity, confidence, cwe, "message", "doc"),
 * severity and confidence as L, M, H. */
#ifndef MOAT_AUDIT_CODE_RULES_H
#define MOAT_AUDIT_CODE_RULES_H

/* clang-format off */
#define MOAT_CODE_RULES(X) \
    X(B101, "B101", "assert_used", L, H, 703, \
      "Use of assert.", \
      "assert statements are removed when Python runs with -O: a check written as assert " \
      "does not run in production. Raise an exception instead.") \
    X(B102, "B102", "exec_used", M, H, 78, \
      "Use of exec.", \
      "exec() runs any Python it is given; with request data it is remote code execution. " \
      "Dispatch through a table of allowed functions instead.") \
    X(B103, "B103", "set_bad_file_permissions", M, H, 732, \
      "Chmod setting a permissive mask on a file.", \
      "os.chmod (any *chmod) with a literal mode that lets others write (S_IWOTH: high) or " \
      "the group execute (S_IXGRP: medium; so 0o755 too). Give files 0o600/0o644 and folders 0o700.") \
    X(B104, "B104", "hardcoded_bind_all_interfaces", M, M, 605, \
      "Possible binding to all interfaces.", \
      "'0.0.0.0' makes a server reachable from every network the machine is on. Bind to " \
      "127.0.0.1 behind the gateway and let moat serve the outside.") \
    X(B105, "B105", "hardcoded_password_string", L, M, 259, \
      "Possible hardcoded password.", \
      "A string assigned to or compared with a password-like name. Read secrets from the " \
      "environment or a secrets manager.") \
    X(B106, "B106", "hardcoded_password_funcarg", L, M, 259, \
      "Possible hardcoded password passed as a keyword argument.", \
      "A string literal passed to a password-like keyword argument. Read it from the " \
      "environment.") \
    X(B107, "B107", "hardcoded_password_default", L, M, 259, \
      "Possible hardcoded password as a parameter default.", \
      "A password-like parameter with a string default. Require the caller to pass it.") \
    X(B108, "B108", "hardcoded_tmp_directory", M, M, 377, \
      "Probable insecure usage of temp file/directory.", \
      "A string starting with /tmp, /var/tmp or /dev/shm: a fixed name in a shared folder " \
      "can be created first, or linked elsewhere, by another user. Use tempfile.mkstemp / " \
      "TemporaryDirectory. Docstrings are not checked.") \
    X(B110, "B110", "try_except_pass", L, H, 703, \
      "try/except/pass.", \
      "A bare or catch-all except that passes hides every error, attacks included. Catch " \
      "the exceptions you expect and log the rest.") \
    X(B112, "B112", "try_except_continue", L, H, 703, \
      "try/except/continue.", \
      "As B110, inside a loop: errors are skipped silently.") \
    X(B113, "B113", "request_without_timeout", M, L, 400, \
      "Requests call without a timeout.", \
      "requests waits forever by default (and with timeout=None): one slow server ties up a " \
      "worker. Pass timeout=. httpx has a default timeout: only its timeout=None is reported.") \
    X(B201, "B201", "flask_debug_true", H, M, 94, \
      "Flask app run with debug=True.", \
      "The Werkzeug debugger lets anyone who reaches it run code. Never enable it outside a " \
      "developer's machine; read the flag from the environment.") \
    X(B202, "B202", "tarfile_unsafe_members", H, H, 22, \
      "tarfile extractall used without any validation.", \
      "Archive members named '../x' or absolute paths are written outside the target folder. " \
      "Only filter='data' (Python 3.12+) makes it safe (not 'fully_trusted' or 'tar'); " \
      "members= a list is medium, members=function(...) low: check what it discards.") \
    X(B301, "B301", "pickle", M, H, 502, \
      "Pickle can run code when loading untrusted data.", \
      "Unpickling runs constructors chosen by the data. Use JSON for anything that crosses a " \
      "trust boundary.") \
    X(B302, "B302", "marshal", M, H, 502, \
      "Deserialization with marshal is possibly dangerous.", \
      "marshal is not meant for untrusted data. Use JSON.") \
    X(B303, "B303", "md5", M, H, 327, \
      "Use of insecure MD2, MD4, MD5 or SHA1 hash function.", \
      "These hashes are broken for collision resistance and far too fast for passwords. Use " \
      "SHA-256 for integrity and Argon2/bcrypt/scrypt for passwords; pass " \
      "usedforsecurity=False where the hash is not a security control.") \
    X(B304, "B304", "ciphers", H, H, 327, \
      "Use of insecure cipher.", \
      "ARC2, ARC4, Blowfish, DES, XOR (PyCrypto/PyCryptodome) and cryptography's ARC4, " \
      "Blowfish, IDEA, CAST5, SEED and TripleDES are broken or have 64-bit blocks. Use " \
      "AES-GCM or ChaCha20-Poly1305.") \
    X(B305, "B305", "cipher_modes", M, H, 327, \
      "Use of insecure cipher mode ECB.", \
      "ECB encrypts equal blocks to equal blocks: the data's patterns show through. Use GCM " \
      "(or CBC with a MAC).") \
    X(B306, "B306", "mktemp_q", M, H, 377, \
      "Use of insecure and deprecated function (mktemp).", \
      "The name mktemp returns can be taken by someone else before it is opened. Use " \
      "tempfile.mkstemp or NamedTemporaryFile.") \
    X(B307, "B307", "eval", M, H, 78, \
      "Use of possibly insecure function eval.", \
      "eval() runs any expression. Use ast.literal_eval for literals, json for data.") \
    X(B308, "B308", "mark_safe", M, H, 79, \
      "Use of mark_safe() may expose cross-site scripting.", \
      "mark_safe turns off Django's escaping for the value. Build HTML with format_html.") \
    X(B310, "B310", "urllib_urlopen", M, H, 22, \
      "Audit url open for permitted schemes.", \
      "urllib's urlopen/urlretrieve/URLopener also open file:// and custom schemes: a URL " \
      "from outside can read local files. Check the scheme is http or https first.") \
    X(B311, "B311", "random", L, H, 330, \
      "Standard pseudo-random generators are not for security.", \
      "random is predictable. Use the secrets module for tokens, passwords and keys.") \
    X(B312, "B312", "telnetlib", H, H, 319, \
      "Telnet-related functions are being called.", \
      "telnetlib.Telnet sends everything, passwords included, in clear text. Use SSH.") \
    X(B313, "B313", "xml_bad_cElementTree", M, H, 20, \
      "Using xml.etree.cElementTree to parse untrusted XML data.", \
      "cElementTree's parse/iterparse/fromstring/XMLParser expand entities (billion laughs) " \
      "and, with old expat, external ones. Use defusedxml's equivalent.") \
    X(B314, "B314", "xml_bad_ElementTree", M, H, 20, \
      "Using xml.etree.ElementTree to parse untrusted XML data.", \
      "ElementTree's parse/iterparse/fromstring/XMLParser: as B313. Use " \
      "defusedxml.ElementTree.") \
    X(B315, "B315", "xml_bad_expatreader", M, H, 20, \
      "Using xml.sax.expatreader.create_parser to parse untrusted XML data.", \
      "As B313. Use defusedxml.expatreader.") \
    X(B316, "B316", "xml_bad_expatbuilder", M, H, 20, \
      "Using xml.dom.expatbuilder to parse untrusted XML data.", \
      "expatbuilder.parse/parseString: as B313. Use defusedxml.expatbuilder.") \
    X(B317, "B317", "xml_bad_sax", M, H, 20, \
      "Using xml.sax to parse untrusted XML data.", \
      "xml.sax.parse/parseString/make_parser: as B313. Use defusedxml.sax.") \
    X(B318, "B318", "xml_bad_minidom", M, H, 20, \
      "Using xml.dom.minidom to parse untrusted XML data.", \
      "minidom.parse/parseString: as B313. Use defusedxml.minidom.") \
    X(B319, "B319", "xml_bad_pulldom", M, H, 20, \
      "Using xml.dom.pulldom to parse untrusted XML data.", \
      "pulldom.parse/parseString: as B313. Use defusedxml.pulldom.") \
    X(B321, "B321", "ftplib", H, H, 319, \
      "FTP-related functions are being called.", \
      "ftplib.FTP sends passwords and data in clear text. Use SFTP, or ftplib.FTP_TLS " \
      "with prot_p().") \
    X(B323, "B323", "unverified_context", M, H, 295, \
      "ssl._create_unverified_context turns certificate checks off.", \
      "A context that does not verify certificates lets anyone on the path read and change " \
      "the traffic. Use ssl.create_default_context().") \
    X(B324, "B324", "hashlib", H, H, 327, \
      "Use of weak MD4, MD5 or SHA1 hash for security.", \
      "hashlib.md4/md5/sha/sha1(...) and hashlib.new('md5'...) unless usedforsecurity=False " \
      "says the hash is no security control; crypt.crypt/mksalt with METHOD_CRYPT, METHOD_MD5 " \
      "or METHOD_BLOWFISH (medium). Bandit 1.6 reported hashlib.md5/sha1 as B303: that id is " \
      "an alias.") \
    X(B401, "B401", "import_telnetlib", H, H, 319, \
      "A telnet-related module is being imported.", \
      "Telnet is clear text. Use SSH.") \
    X(B402, "B402", "import_ftplib", H, H, 319, \
      "A FTP-related module is being imported.", \
      "FTP is clear text. Use SFTP/SCP or FTPS.") \
    X(B403, "B403", "import_pickle", L, H, 502, \
      "Consider possible security implications associated with pickle modules.", \
      "pickle, cPickle, dill and shelve run code when loading untrusted data (B301).") \
    X(B404, "B404", "import_subprocess", L, H, 78, \
      "Consider possible security implications associated with the subprocess module.", \
      "subprocess runs programs: check what reaches it (B602-B607).") \
    X(B405, "B405", "import_xml_etree", L, H, 20, \
      "Using xml.etree to parse untrusted XML data is vulnerable to XML attacks.", \
      "xml.etree.ElementTree / cElementTree: parse untrusted XML with defusedxml, or call " \
      "defusedxml.defuse_stdlib().") \
    X(B406, "B406", "import_xml_sax", L, H, 20, \
      "Using xml.sax to parse untrusted XML data is vulnerable to XML attacks.", \
      "Use defusedxml.sax.") \
    X(B407, "B407", "import_xml_expat", L, H, 20, \
      "Using xml.dom.expatbuilder to parse untrusted XML data is vulnerable to XML attacks.", \
      "Use defusedxml.expatbuilder.") \
    X(B408, "B408", "import_xml_minidom", L, H, 20, \
      "Using xml.dom.minidom to parse untrusted XML data is vulnerable to XML attacks.", \
      "Use defusedxml.minidom.") \
    X(B409, "B409", "import_xml_pulldom", L, H, 20, \
      "Using xml.dom.pulldom to parse untrusted XML data is vulnerable to XML attacks.", \
      "Use defusedxml.pulldom.") \
    X(B411, "B411", "import_xmlrpclib", H, H, 20, \
      "Using xmlrpc to parse untrusted XML data is vulnerable to XML attacks.", \
      "xmlrpc (xmlrpclib) parses XML from the network. Call " \
      "defusedxml.xmlrpc.monkey_patch().") \
    X(B412, "B412", "import_httpoxy", H, H, 284, \
      "CGI handler imported: vulnerable to httpoxy.", \
      "wsgiref.handlers.CGIHandler and twisted's CGIScript/CGIDirectory put the request's " \
      "Proxy header in HTTP_PROXY, which HTTP clients then use (httpoxy). Do not run CGI.") \
    X(B413, "B413", "import_pycrypto", H, H, 327, \
      "The pyCrypto library is no longer maintained.", \
      "Crypto.Cipher/Hash/IO/Protocol/PublicKey/Random/Signature/Util from pyCrypto have " \
      "known, unfixed flaws. Use pyca/cryptography.") \
    X(B415, "B415", "import_pyghmi", H, H, 319, \
      "An IPMI-related module is being imported.", \
      "IPMI is insecure (clear-text or weakly protected credentials). Use an encrypted " \
      "management protocol.") \
    X(B501, "B501", "request_with_no_cert_validation", H, H, 295, \
      "Requests call with verify=False disabling certificate checks.", \
      "Without certificate checks anyone on the path can read and change the traffic. Fix " \
      "the trust store or pass verify='/path/ca.pem'.") \
    X(B502, "B502", "ssl_with_bad_version", H, H, 327, \
      "Call with an insecure SSL/TLS protocol version.", \
      "SSLv2, SSLv3, TLS 1.0 and 1.1 are broken or deprecated. Use " \
      "ssl.create_default_context().") \
    X(B503, "B503", "ssl_with_bad_defaults", M, M, 327, \
      "Function definition with an insecure SSL/TLS protocol version by default.", \
      "A default of an insecure protocol version is used whenever the caller omits it.") \
    X(B504, "B504", "ssl_with_no_version", L, M, 327, \
      "ssl.wrap_socket call with no protocol version.", \
      "ssl.wrap_socket is deprecated and its defaults are weak. Use an SSLContext from " \
      "ssl.create_default_context().") \
    X(B505, "B505", "weak_cryptographic_key", H, H, 326, \
      "Weak cryptographic key size.", \
      "RSA/DSA keys below 1024 bits (high) or 2048 (medium), EC curves below 160 bits " \
      "(high) or 224 (medium: SECP192R1, SECT163K1, SECT163R2), from cryptography or " \
      "PyCrypto(dome). Use RSA 3072 or an EC curve of 256 bits.") \
    X(B506, "B506", "yaml_load", M, H, 20, \
      "Use of unsafe yaml.load.", \
      "yaml.load with the default or full Loader builds arbitrary Python objects. Use " \
      "yaml.safe_load.") \
    X(B507, "B507", "ssh_no_host_key_verification", H, M, 295, \
      "Paramiko call with policy set to automatically trust the unknown host key.", \
      "AutoAddPolicy/WarningPolicy accept any server key: a man in the middle gets the " \
      "session and its password. Load known_hosts and use RejectPolicy.") \
    X(B508, "B508", "snmp_insecure_version", M, H, 319, \
      "The use of SNMPv1 and SNMPv2 is insecure.", \
      "pysnmp CommunityData(..., mpModel=0 or 1) sends the community string in clear text. " \
      "Use SNMPv3 (UsmUserData with auth and priv keys).") \
    X(B509, "B509", "snmp_weak_cryptography", M, H, 319, \
      "SNMPv3 without encryption.", \
      "pysnmp UsmUserData with fewer than an authentication and a privacy key " \
      "(noAuthNoPriv, authNoPriv) sends data in clear text.") \
    X(B601, "B601", "paramiko_calls", M, M, 78, \
      "Possible shell injection via Paramiko call.", \
      "exec_command runs its string in the remote shell: check what reaches it (high with " \
      "request data).") \
    X(B602, "B602", "subprocess_popen_with_shell_equals_true", H, H, 78, \
      "subprocess call with shell=True.", \
      "With shell=True the command line is parsed by /bin/sh: any request data in it is " \
      "command injection. Pass a list of arguments without a shell.") \
    X(B603, "B603", "subprocess_without_shell_equals_true", L, H, 78, \
      "subprocess call: check for execution of untrusted input.", \
      "No shell is involved, but the program and its arguments must not come from the request.") \
    X(B604, "B604", "any_other_function_with_shell_equals_true", M, L, 78, \
      "Function call with shell=True.", \
      "A wrapper given shell=True probably runs a shell.") \
    X(B605, "B605", "start_process_with_a_shell", H, H, 78, \
      "Starting a process with a shell.", \
      "os.system and os.popen run /bin/sh -c. Use subprocess with a list of arguments.") \
    X(B606, "B606", "start_process_with_no_shell", L, M, 78, \
      "Starting a process without a shell.", \
      "os.exec*/spawn* run a program: check that it and its arguments are not from the request.") \
    X(B607, "B607", "start_process_with_partial_path", L, H, 78, \
      "Starting a process with a partial executable path.", \
      "A program found through PATH can be replaced by whoever controls PATH. Use an absolute " \
      "path.") \
    X(B608, "B608", "hardcoded_sql_expressions", M, L, 89, \
      "Possible SQL injection through string-based query construction.", \
      "SQL built with +, %, .format or f-strings is injectable. Pass values as query " \
      "parameters: cursor.execute('... WHERE id = %s', (id,)).") \
    X(B609, "B609", "linux_commands_wildcard_injection", H, M, 155, \
      "Possible wildcard injection in call.", \
      "chown, chmod, tar or rsync with a * run through a shell: file names that start with " \
      "- become options (--checkpoint-action=exec=...). Pass explicit file lists without a " \
      "shell.") \
    X(B610, "B610", "django_extra_used", M, M, 89, \
      "Use of extra() with non-literal SQL.", \
      "QuerySet.extra() pastes its where/tables/select into SQL. Use the ORM or params=.") \
    X(B611, "B611", "django_rawsql_used", M, M, 89, \
      "Use of RawSQL with non-literal SQL.", \
      "RawSQL pastes its first argument into SQL. Keep it literal and pass params.") \
    X(B612, "B612", "logging_config_insecure_listen", M, H, 94, \
      "Use of insecure logging.config.listen.", \
      "logging.config.listen() without verify= accepts a configuration from anyone who can " \
      "reach the port, and configurations can run code. Pass verify= a function that checks " \
      "a signature.") \
    X(B613, "B613", "trojansource", H, M, 838, \
      "A Python source file contains bidirectional control characters.", \
      "Unicode bidi overrides (U+202A-U+202E, U+2066-U+2069, U+200F) make code read " \
      "differently from how it runs (Trojan Source). One finding per file, at the first.") \
    X(B614, "B614", "pytorch_load", M, H, 502, \
      "Use of unsafe PyTorch load.", \
      "torch.load / torch.serialization.load unpickle the file: a model from elsewhere runs " \
      "code. Pass weights_only=True or use safetensors (torch.jit.load is not pickle). A " \
      "non-literal weights_only is reported with medium confidence.") \
    X(B615, "B615", "huggingface_unsafe_download", M, H, 494, \
      "Unsafe Hugging Face Hub download without revision pinning.", \
      "from_pretrained, load_dataset, hf_hub_download and snapshot_download without " \
      "revision= (or commit_id=) a commit hash (7+ hex digits) fetch whatever the " \
      "repository holds now. Branches and tags can be moved. Local paths (./, ../, /) are " \
      "not reported.") \
    X(B701, "B701", "jinja2_autoescape_false", H, H, 94, \
      "Jinja2 Environment with autoescape off.", \
      "Without autoescape every {{ value }} is raw HTML: cross-site scripting. Use " \
      "autoescape=select_autoescape() or True.") \
    X(B702, "B702", "use_of_mako_templates", M, H, 80, \
      "Mako templates allow HTML/JS rendering by default.", \
      "Mako does not escape by default: every ${value} is raw HTML. Pass " \
      "default_filters=['h'] or escape each value with |h.") \
    X(B703, "B703", "django_mark_safe", M, H, 80, \
      "Potential XSS on mark_safe with non-literal input.", \
      "mark_safe on anything built from variables trusts it as HTML. Use format_html().") \
    X(B704, "B704", "markupsafe_markup_xss", M, H, 79, \
      "Markup() on non-literal input.", \
      "markupsafe.Markup marks its argument as safe HTML. Use Markup.format / escape().") \
    X(MOAT_C101, "MOAT-C101", "flask_ssti", H, M, 1336, \
      "render_template_string with non-constant input.", \
      "A template built from data is server-side template injection: {{ ... }} in it runs " \
      "in the template engine. Render a fixed template and pass the data as variables.") \
    X(MOAT_C102, "MOAT-C102", "template_safe_filter", M, M, 79, \
      "|safe filter turns off escaping.", \
      "The value is inserted as raw HTML. Escape it, or mark only HTML you built yourself.") \
    X(MOAT_C103, "MOAT-C103", "template_autoescape_off", H, H, 79, \
      "Template turns autoescaping off.", \
      "{% autoescape false %} (Jinja2) or {% autoescape off %} (Django) inserts every " \
      "value in the block as raw HTML.") \
    X(MOAT_C104, "MOAT-C104", "csrf_exempt", M, H, 352, \
      "View exempt from CSRF protection.", \
      "@csrf_exempt removes Django's (or Flask-WTF's) CSRF check from the view. Keep the " \
      "check; for APIs use token authentication instead of cookies.") \
    X(MOAT_C105, "MOAT-C105", "wtf_csrf_disabled", H, H, 352, \
      "WTF_CSRF_ENABLED = False turns off CSRF.", \
      "Flask-WTF then accepts forms posted from any site.") \
    X(MOAT_C106, "MOAT-C106", "open_redirect", M, H, 601, \
      "Redirect to a URL taken from the request.", \
      "An attacker's link through your site lands on their page. Redirect only to paths of " \
      "this site (check with url_has_allowed_host_and_scheme).") \
    X(MOAT_C107, "MOAT-C107", "path_traversal", H, H, 22, \
      "File path taken from the request.", \
      "'../' in the value reads or writes any file. Use send_from_directory / safe_join and " \
      "secure_filename.") \
    X(MOAT_C108, "MOAT-C108", "ssrf", H, H, 918, \
      "Outgoing request to a URL taken from the request.", \
      "Server-side request forgery: the server fetches internal addresses (metadata " \
      "services, admin ports) for the attacker. Allow-list the hosts.") \
    X(MOAT_C109, "MOAT-C109", "hardcoded_secret_key", H, H, 798, \
      "Hard-coded SECRET_KEY.", \
      "Whoever has the repository can forge sessions, password-reset links and signed " \
      "cookies. Read the key from the environment.") \
    X(MOAT_C110, "MOAT-C110", "sql_injection_taint", H, H, 89, \
      "Request data reaches a SQL call.", \
      "The query text comes from the request. Pass values as query parameters.")
/* clang-format on */

#endif
