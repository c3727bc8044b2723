#!/usr/bin/env python3
"""Writes tests/data/benign/corpus.jsonl: ordinary requests a Flask, Django
or FastAPI application receives from browsers, API clients and scripts.
Deterministic (a fixed seed, no clock, no network): run it again and the
file is byte-for-byte the same.

    python3 tests/data/benign/gen.py            # rewrites corpus.jsonl
    python3 tests/data/benign/gen.py --check    # fails if the file is stale

Every line is one request, a JSON object:

    id         unique name, "<category>-<n>"
    category   what kind of traffic (browser-url, json-api, graphql, ...)
    note       what the request is, in words
    method     GET, POST, ...
    target     the request target exactly as sent (raw characters included)
    headers    [[name, value], ...] in the order sent; "{host}" in a value is
               replaced by the server's host:port when replayed
    body       the body as UTF-8 text (absent: no body), or
    body_b64   the body as base64 (binary), or
    multipart  {"boundary": B, "parts": [...]}: rendered at replay time
               (replay.py); a part is {"name", "value"} or {"name",
               "filename", "content_type", "size", "fill", "seed"} whose
               bytes are generated from the seed ("png", "jpeg", "pdf",
               "zip", "csv", "text", "mp4"), so MiB-sized uploads are not
               committed
    blob       {"size", "fill", "seed"}: a generated non-multipart body
    version    "HTTP/1.0" (absent: HTTP/1.1)
    chunked    [n, ...]: send the body with Transfer-Encoding: chunked in
               pieces of these sizes (the last one repeats); no
               Content-Length. Absent: Content-Length.

The requests go to the echo app's /echo/ prefix (tests/integration/apps/
flask_echo.py), which answers 200 to any method, target and body, so any
refusal in front of it is the proxy's.
"""

import json
import random
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus, urlencode

HERE = Path(__file__).resolve().parent
OUT = HERE / "corpus.jsonl"

R = random.Random(20261207)
ENTRIES = []
COUNT = {}


def add(category, note, method, target, headers, **body):
    if target == "/echo/" or target.startswith("/echo/?"):
        target = "/echo/home" + target[6:]  # the echo app has no /echo/ (only /echo/<path>)
    n = COUNT.get(category, 0) + 1
    COUNT[category] = n
    e = {"id": "%s-%03d" % (category, n), "category": category, "note": note,
         "method": method, "target": target, "headers": headers}
    e.update(body)
    ENTRIES.append(e)


# ------------------------------------------------------------------ clients

UA = {
    "chrome": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36",
    "chrome-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
                  "Gecko) Chrome/119.0.0.0 Safari/537.36",
    "chrome-android": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/120.0.0.0 Mobile Safari/537.36",
    "edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "firefox": "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "firefox-win": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "safari": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
              "Gecko) Version/17.2 Safari/605.1.15",
    "safari-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
                  "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
}
BROWSERS = ["chrome", "chrome-mac", "chrome-android", "edge", "firefox", "firefox-win", "safari",
            "safari-ios"]

ACCEPT_NAV = {
    "chrome": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
              "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    "firefox": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "safari": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
}


def family(b):
    return "chrome" if b.startswith(("chrome", "edge")) else b.split("-")[0]


def sec_ch(b):
    if b == "edge":
        brand = '"Not_A Brand";v="8", "Chromium";v="120", "Microsoft Edge";v="120"'
    else:
        v = "119" if b == "chrome-mac" else "120"
        brand = '"Not_A Brand";v="8", "Chromium";v="%s", "Google Chrome";v="%s"' % (v, v)
    mobile = "?1" if b == "chrome-android" else "?0"
    plat = {"chrome-android": '"Android"', "chrome-mac": '"macOS"'}.get(b, '"Windows"')
    return [["sec-ch-ua", brand], ["sec-ch-ua-mobile", mobile], ["sec-ch-ua-platform", plat]]


def nav_headers(b, referer=None, cookie=None, site="same-origin", lang=None):
    """What a browser sends when the user opens a page (address bar, link)."""
    f = family(b)
    site = site if referer else "none"
    h = [["Host", "{host}"]]
    if f == "chrome":
        h += [["Connection", "keep-alive"]] + sec_ch(b)
        h += [["Upgrade-Insecure-Requests", "1"], ["User-Agent", UA[b]],
              ["Accept", ACCEPT_NAV["chrome"]], ["Sec-Fetch-Site", site],
              ["Sec-Fetch-Mode", "navigate"], ["Sec-Fetch-User", "?1"],
              ["Sec-Fetch-Dest", "document"]]
        if referer:
            h.append(["Referer", referer])
        h += [["Accept-Encoding", "gzip, deflate, br"],
              ["Accept-Language", lang or "en-US,en;q=0.9"]]
    elif f == "firefox":
        h += [["User-Agent", UA[b]], ["Accept", ACCEPT_NAV["firefox"]],
              ["Accept-Language", lang or "en-US,en;q=0.5"],
              ["Accept-Encoding", "gzip, deflate, br"], ["DNT", "1"], ["Connection", "keep-alive"]]
        if referer:
            h.append(["Referer", referer])
        h += [["Upgrade-Insecure-Requests", "1"], ["Sec-Fetch-Dest", "document"],
              ["Sec-Fetch-Mode", "navigate"], ["Sec-Fetch-Site", site], ["Sec-Fetch-User", "?1"]]
    else:
        h += [["Accept", ACCEPT_NAV["safari"]]]
        if b == "safari":
            h += [["Sec-Fetch-Site", site], ["Sec-Fetch-Dest", "document"],
                  ["Sec-Fetch-Mode", "navigate"]]
        h += [["User-Agent", UA[b]], ["Accept-Language", lang or "en-GB,en;q=0.9"]]
        if referer:
            h.append(["Referer", referer])
        h += [["Accept-Encoding", "gzip, deflate, br"], ["Connection", "keep-alive"]]
    if cookie:
        h.append(["Cookie", cookie])
    return h


def form_headers(b, origin_path, ctype, cookie=None):
    """A browser submitting a form on origin_path (same origin)."""
    f = family(b)
    h = [["Host", "{host}"]]
    if f == "chrome":
        h += [["Connection", "keep-alive"], ["Cache-Control", "max-age=0"]] + sec_ch(b)
        h += [["Upgrade-Insecure-Requests", "1"], ["Origin", "http://{host}"],
              ["Content-Type", ctype], ["User-Agent", UA[b]], ["Accept", ACCEPT_NAV["chrome"]],
              ["Sec-Fetch-Site", "same-origin"], ["Sec-Fetch-Mode", "navigate"],
              ["Sec-Fetch-User", "?1"], ["Sec-Fetch-Dest", "document"],
              ["Referer", "http://{host}" + origin_path],
              ["Accept-Encoding", "gzip, deflate, br"], ["Accept-Language", "en-US,en;q=0.9"]]
    elif f == "firefox":
        h += [["User-Agent", UA[b]], ["Accept", ACCEPT_NAV["firefox"]],
              ["Accept-Language", "en-US,en;q=0.5"], ["Accept-Encoding", "gzip, deflate, br"],
              ["Content-Type", ctype], ["Origin", "http://{host}"], ["DNT", "1"],
              ["Connection", "keep-alive"], ["Referer", "http://{host}" + origin_path],
              ["Upgrade-Insecure-Requests", "1"], ["Sec-Fetch-Dest", "document"],
              ["Sec-Fetch-Mode", "navigate"], ["Sec-Fetch-Site", "same-origin"],
              ["Sec-Fetch-User", "?1"]]
    else:
        h += [["Content-Type", ctype], ["Origin", "http://{host}"],
              ["Accept", ACCEPT_NAV["safari"]], ["User-Agent", UA[b]],
              ["Referer", "http://{host}" + origin_path], ["Accept-Language", "en-GB,en;q=0.9"],
              ["Accept-Encoding", "gzip, deflate, br"], ["Connection", "keep-alive"]]
    if cookie:
        h.append(["Cookie", cookie])
    return h


def fetch_headers(b, page, ctype=None, cookie=None, extra=()):
    """fetch()/XMLHttpRequest from a page of the same site."""
    f = family(b)
    h = [["Host", "{host}"], ["Connection", "keep-alive"]]
    if f == "chrome":
        h += sec_ch(b)[:2]
    h += [["User-Agent", UA[b]], ["Accept", "application/json, text/plain, */*"]]
    if ctype:
        h.append(["Content-Type", ctype])
    h += [list(x) for x in extra]
    if f == "chrome":
        h += [sec_ch(b)[2]]
    h += [["Origin", "http://{host}"], ["Sec-Fetch-Site", "same-origin"],
          ["Sec-Fetch-Mode", "cors"], ["Sec-Fetch-Dest", "empty"],
          ["Referer", "http://{host}" + page], ["Accept-Encoding", "gzip, deflate, br"],
          ["Accept-Language", "en-US,en;q=0.9"]]
    if cookie:
        h.append(["Cookie", cookie])
    return h


def script_headers(tool, ctype=None):
    """Command-line tools and HTTP libraries."""
    if tool == "curl":
        h = [["Host", "{host}"], ["User-Agent", "curl/7.88.1"], ["Accept", "*/*"]]
    elif tool == "requests":
        h = [["Host", "{host}"], ["User-Agent", "python-requests/2.31.0"],
             ["Accept-Encoding", "gzip, deflate"], ["Accept", "*/*"], ["Connection", "keep-alive"]]
    elif tool == "httpx":
        h = [["Host", "{host}"], ["Accept", "*/*"], ["Accept-Encoding", "gzip, deflate"],
             ["Connection", "keep-alive"], ["User-Agent", "python-httpx/0.25.2"]]
    elif tool == "aiohttp":
        h = [["Host", "{host}"], ["Accept", "*/*"], ["Accept-Encoding", "gzip, deflate"],
             ["User-Agent", "Python/3.11 aiohttp/3.9.1"]]
    elif tool == "go":
        h = [["Host", "{host}"], ["User-Agent", "Go-http-client/1.1"], ["Accept-Encoding", "gzip"]]
    elif tool == "node":
        h = [["Host", "{host}"], ["Connection", "keep-alive"], ["Accept", "*/*"],
             ["Accept-Language", "*"], ["Sec-Fetch-Mode", "cors"], ["User-Agent", "node"],
             ["Accept-Encoding", "gzip, deflate"]]
    elif tool == "axios":
        h = [["Host", "{host}"], ["Accept", "application/json, text/plain, */*"],
             ["User-Agent", "axios/1.6.2"], ["Accept-Encoding", "gzip, compress, deflate, br"],
             ["Connection", "close"]]
    elif tool == "wget":
        h = [["Host", "{host}"], ["User-Agent", "Wget/1.21.3"], ["Accept", "*/*"],
             ["Accept-Encoding", "identity"], ["Connection", "Keep-Alive"]]
    elif tool == "okhttp":
        h = [["Host", "{host}"], ["Connection", "Keep-Alive"], ["Accept-Encoding", "gzip"],
             ["User-Agent", "okhttp/4.12.0"]]
    elif tool == "postman":
        h = [["Host", "{host}"], ["User-Agent", "PostmanRuntime/7.36.0"], ["Accept", "*/*"],
             ["Cache-Control", "no-cache"],
             ["Postman-Token", "3f1c2a9e-6b7d-4c1e-9a55-0d2f8e4b7c61"],
             ["Accept-Encoding", "gzip, deflate, br"], ["Connection", "keep-alive"]]
    else:
        raise ValueError(tool)
    if ctype:
        h.append(["Content-Type", ctype])
    return h


TOOLS = ["curl", "requests", "httpx", "aiohttp", "go", "node", "axios", "wget", "okhttp", "postman"]


# ------------------------------------------------------------------ cookies

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
B64URL = ALNUM + "-_"


def rs(n, alphabet=ALNUM):
    return "".join(R.choice(alphabet) for _ in range(n))


def django_cookie():
    return "csrftoken=%s; sessionid=%s" % (rs(32), rs(32, "abcdefghijklmnopqrstuvwxyz0123456789"))


def flask_session():
    # itsdangerous: base64(json).timestamp.signature, "." first when zlib-compressed
    if R.random() < 0.5:
        return "session=eyJ%s.%s.%s" % (rs(R.randint(20, 90), B64URL), rs(6, B64URL), rs(27, B64URL))
    return "session=.eJ%s.%s.%s" % (rs(R.randint(40, 160), B64URL), rs(6, B64URL), rs(27, B64URL))


def ga_cookie():
    t = R.randint(1690000000, 1701999999)
    return ("_ga=GA1.1.%d.%d; _ga_%s=GS1.1.%d.%d.1.%d.0.0.0; _gid=GA1.2.%d.%d"
            % (R.randint(10**8, 10**10), t, rs(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
               t + 100, R.randint(1, 40), t + 400, R.randint(10**8, 10**10), t + 86000))


def consent_cookie():
    k = R.randrange(6)
    if k == 0:  # orestbida/cookieconsent v3: encodeURIComponent(JSON)
        return "cc_cookie=" + quote(json.dumps(
            {"categories": ["necessary", "analytics"], "revision": 0, "data": None,
             "consentTimestamp": "2023-12-04T10:12:33.112Z",
             "consentId": "2d1f5b0e-1c84-4b9e-b1a4-3a3c0a7e9d10", "services": {
                 "necessary": [], "analytics": []},
             "lastConsentTimestamp": "2023-12-04T10:12:33.112Z", "expirationTime": 1717150353112},
            separators=(",", ":")), safe="")
    if k == 1:  # raw JSON, as some banners write it
        return 'cookie_consent={"necessary":true,"analytics":false,"marketing":false,"v":2}'
    if k == 2:  # Cookiebot
        return ("CookieConsent={stamp:%27" + rs(48, B64URL) + "==%27%2Cnecessary:true%2C"
                "preferences:true%2Cstatistics:false%2Cmarketing:false%2Cmethod:%27explicit%27%2C"
                "ver:1%2Cutc:1701684753112%2Cregion:%27de%27}")
    if k == 3:  # OneTrust
        return ("OptanonConsent=isGpcEnabled=0&datestamp=Mon+Dec+04+2023+11%3A12%3A33+GMT%2B0100+"
                "(Central+European+Standard+Time)&version=202310.1.0&browserGpcFlag=0&isIABGlobal="
                "false&hosts=&consentId=" + rs(8).lower() + "-1c84-4b9e-b1a4-3a3c0a7e9d10&interac"
                "tionCount=1&landingPath=NotLandingPage&groups=C0001%3A1%2CC0002%3A0%2CC0003%3A1%2C"
                "C0004%3A0&AwaitingReconsent=false; OptanonAlertBoxClosed=2023-12-04T10:12:33.112Z")
    if k == 4:  # CookieYes
        return ("cookieyes-consent=consentid:" + rs(32) + ",consent:yes,action:yes,necessary:yes,"
                "functional:yes,analytics:no,performance:no,advertisement:no,other:no")
    return "cookie-agreed=2; cookie-agreed-version=1.0.0"  # Drupal EU cookie compliance


def misc_cookies():
    c = []
    if R.random() < 0.4:
        c.append("_fbp=fb.1.%d.%d" % (R.randint(10**12, 2 * 10**12), R.randint(10**8, 10**10)))
    if R.random() < 0.3:
        c.append("_gcl_au=1.1.%d.%d" % (R.randint(10**8, 10**10), R.randint(1690000000, 1701999999)))
    if R.random() < 0.3:
        c.append("_hjSessionUser_%d=%s" % (R.randint(10**6, 10**7), rs(100, B64URL) + "=="))
    if R.random() < 0.3:
        c.append("ajs_anonymous_id=%%22%s-%s-4%s-a%s-%s%%22" % (
            rs(8, "0123456789abcdef"), rs(4, "0123456789abcdef"), rs(3, "0123456789abcdef"),
            rs(3, "0123456789abcdef"), rs(12, "0123456789abcdef")))
    if R.random() < 0.3:
        c.append("theme=%s" % R.choice(["dark", "light", "system"]))
    if R.random() < 0.2:
        c.append("django_language=%s" % R.choice(["fr", "de", "pt-br", "zh-hans", "en"]))
    if R.random() < 0.2:
        c.append("__stripe_mid=%s-%s-%s-%s-%s%s" % (
            rs(8, "0123456789abcdef"), rs(4, "0123456789abcdef"), rs(4, "0123456789abcdef"),
            rs(4, "0123456789abcdef"), rs(12, "0123456789abcdef"), rs(6, "0123456789abcdef")))
    if R.random() < 0.15:
        c.append("messages=W1siX19qc29uX21lc3NhZ2UiLDAsMjUsIlNhdmVkLiJdXQ:1r%s:%s"
                 % (rs(5, B64URL), rs(43, B64URL)))
    if R.random() < 0.15:
        c.append("tz=%s" % R.choice(["Europe%2FBerlin", "America%2FNew_York", "Asia%2FTokyo"]))
    return c


def cookie_jar(kind=None):
    kind = kind or R.choice(["django", "flask", "none", "django", "flask"])
    parts = []
    if R.random() < 0.6:
        parts.append(ga_cookie())
    if kind == "django":
        parts.append(django_cookie())
    elif kind == "flask":
        parts.append(flask_session())
    if R.random() < 0.5:
        parts.append(consent_cookie())
    parts += misc_cookies()
    R.shuffle(parts)
    return "; ".join(parts) if parts else None


# ------------------------------------------------------------------- texts

WORDS = ("the quick brown fox jumps over lazy dog garden tomato recipe weekend trip "
         "mountain river coffee bread oven butter flour sugar lemon bicycle train station "
         "museum library concert ticket meeting agenda budget report invoice customer "
         "project release sprint backlog design review draft note summary chapter").split()

NAMES = ["O'Reilly", "D'Angelo", "O'Brien", "Renée Müller", "José García", "Zoë Saldaña",
         "Jean-Luc Picard", "Siobhán O'Connor", "李雷", "Иван Петров", "Ahmed Al-Sayed",
         "Bjørn Ødegaard", "Nguyễn Văn An", "François Hollande", "Daniel Mc'Kay"]

SEARCHES = ["O'Reilly books", "\"exact phrase\"", "don't stop me now", "rock 'n' roll",
            "Mc'Donalds near me", "5' 11\" in cm", "it's a wonderful life", "\"flask\" tutorial",
            "children's books", "shepherd's pie recipe", "Ben & Jerry's", "AT&T store",
            "C# vs C++", "100% cotton", "what is 2+2", "50% off", "Tom's Hardware",
            "New York, NY", "size: 10-12", "café crème", "naïve bayes", "straße", "東京 ラーメン",
            "Москва", "مرحبا", "emoji 🎉", "price < 100", "user@example.com", "#hashtag",
            "a/b testing", "why is 1 > 0", "l'été indien", "\"O'Reilly\" -python",
            "the 'best' pizza", "semi;colon", "question?", "tilde ~ home", "pipe | grep",
            "Fish & Chips", "\"Don't Panic\""]

TIPS = [
    ("Listing files from Python", 'If you just need a quick listing, `os.system("ls -l")` works, '
     'but prefer:\n\n```python\nimport subprocess\nsubprocess.run(["ls", "-l"], check=True)\n```\n'),
    ("Installing Rust", "The official way is\n\n```sh\ncurl --proto '=https' --tlsv1.2 -sSf "
     "https://sh.rustup.rs | sh\n```\n\nthen restart your shell."),
    ("Bold text in HTML", "Use <b>bold</b> or better <strong>strong</strong>; for italics "
     "<em>em</em>. A link: <a href=\"https://example.org/\">example</a>."),
    ("SQL basics", "To fetch one user:\n\n    SELECT * FROM users WHERE id = 1;\n\nand to count "
     "them: `SELECT COUNT(*) FROM users;`"),
    ("Reading a file", "```python\nwith open(\"data.txt\") as f:\n    for line in f:\n"
     "        print(line.strip())\n```"),
    ("Flask hello world", "```python\nfrom flask import Flask\napp = Flask(__name__)\n\n"
     "@app.route(\"/\")\ndef index():\n    return \"Hello, World!\"\n```"),
    ("Git undo", "Made a mistake? `git reset --soft HEAD~1` keeps your changes staged."),
    ("Docker cleanup", "Free some space with `docker system prune -a` (careful!)."),
    ("Jinja loops", "In a template: `{% for post in posts %}{{ post.title }}{% endfor %}`."),
    ("Images in markdown", "![cat](https://example.org/cat.png \"My cat\") and a <img "
     "src=\"dog.jpg\" alt=\"dog\" width=\"200\">"),
    ("Find big files", "`find . -type f -size +100M -exec ls -lh {} \\;`"),
    ("Python one-liner server", "`python3 -m http.server 8000` serves the current folder."),
    ("Environment variables", "In bash: `export PATH=\"$HOME/.local/bin:$PATH\"`; in Python: "
     "`os.environ.get(\"HOME\")`."),
    ("JOIN explained", "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = "
     "o.customer_id WHERE o.total > 100 ORDER BY o.created DESC;"),
    ("Regex for emails", "A simple one: `^[\\w.+-]+@[\\w-]+\\.[\\w.]+$` (not RFC 5322!)."),
    ("Lists comprehension", "```python\nsquares = [x * x for x in range(10) if x % 2 == 0]\n```"),
    ("Cron syntax", "`*/5 * * * * /usr/local/bin/backup.sh` runs every five minutes."),
    ("HTML table", "<table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>31</td></tr>"
     "</table>"),
    ("Escaping in JS", "`const s = 'It\\'s fine';` or use template literals `${name}`."),
    ("Django ORM", "`User.objects.filter(email__iendswith=\"@example.com\").count()`"),
    ("Markdown tables", "| a | b |\n|---|---|\n| 1 | 2 |"),
    ("Recipe: pancakes", "Mix 200 g flour, 2 eggs & 300 ml milk. Rest 30 min. Fry in butter."),
    ("Trip notes", "Day 1: Lisbon → Sintra. Day 2: Porto. Food: pastéis de nata (€1.20 each)!"),
    ("Meeting notes", "- Agreed: ship v2.1 on Friday\n- Ann: \"let's not\" rush the migration\n"
     "- Next: review PR #412"),
    ("Shell loop", "```bash\nfor f in *.jpg; do convert \"$f\" \"${f%.jpg}.png\"; done\n```"),
    ("Pip tips", "`pip install -r requirements.txt --upgrade` and `pip freeze > requirements.txt`."),
    ("Poem", "Roses are red,\nviolets are blue,\nI'd rather be sleeping,\nand so would you."),
    ("Apt update", "Keep the server patched: `sudo apt update && sudo apt upgrade -y`."),
    ("CSS centering", "```css\n.box { display: grid; place-items: center; }\n```"),
    ("Unicode", "Ünïcödé is fun: 日本語, العربية, עברית, emoji 😀👍 and math ∑ x² ≤ ∞."),
]

PLAIN_POSTS = [
    ("My first post", "Hello world! This is my first post on this blog."),
    ("Weekend", "We went hiking near the lake. It rained, but it's fine."),
    ("Book review: Fluent Python", "Luciano's book (O'Reilly, 2nd ed.) is great. 5/5."),
    ("Grocery list", "eggs, milk, bread, cheese & ham, 2 lemons"),
    ("Quote of the day", "\"Simple is better than complex.\" -- The Zen of Python"),
    ("Update", "Fixed the typo in yesterday's post. Thanks, Renée!"),
    ("Question", "Does anyone know a good café near the station? Preferably with Wi-Fi."),
    ("Holidays", "Off from 23/12 to 02/01. Happy holidays, everyone!"),
    ("Marathon", "Finished in 3:58:12 - under four hours at last :)"),
    ("Birthday", "Thanks for all the wishes ❤️ 🎂"),
]


def words(n):
    return " ".join(R.choice(WORDS) for _ in range(n))


def form(fields):
    """application/x-www-form-urlencoded as browsers write it."""
    return urlencode(fields, quote_via=quote_plus)


# --------------------------------------------------------- 1. browser URLs

def browser_urls():
    raw = [
        ("/echo/products?filter[name]=x", "JSON:API style filter with raw brackets"),
        ("/echo/products?filter[name]=shoe&filter[price][lte]=100", "nested bracket filter"),
        ("/echo/items?a[]=1&a[]=2&a[]=3", "PHP/Rails style array parameter"),
        ("/echo/search?q={a|b}", "braces and a pipe in a query"),
        ("/echo/api/users?fields[users]=name,email&include=posts", "JSON:API sparse fieldsets"),
        ("/echo/list?sort[]=-created&sort[]=title", "array sort keys"),
        ("/echo/tags?tags[0]=python&tags[1]=flask", "indexed array parameter"),
        ("/echo/calendar?range=[2023-01-01,2023-12-31]", "a range in brackets"),
        ("/echo/grid?cols={id,name,price}", "a column set in braces"),
        ("/echo/logs?level=warn|error", "alternatives with a pipe"),
        ("/echo/compare?ids=1|2|3", "pipe-separated ids"),
        ("/echo/q?where[age][gt]=18&where[city]=Paris", "mongo-like where"),
        ("/echo/page?utm_source=newsletter&utm_medium=email&utm_campaign=dec_2023",
         "campaign parameters"),
        ("/echo/?fbclid=IwAR2xYz_aBcD3eFgH4iJ5kLmN6oPqR7sTuV8wXyZ", "Facebook click id"),
        ("/echo/landing?gclid=Cj0KCQiA6vaqBhCbARIsACF9M6k2_ZkPq3-8", "Google Ads click id"),
        ("/echo/map?center=48.8566,2.3522&zoom=12", "map coordinates"),
        ("/echo/shop?price=10..50&color=red,blue", "range and list"),
        ("/echo/api/v1/orders?created_at[gte]=2023-11-01T00:00:00Z", "bracket date filter"),
        ("/echo/wiki/Python_(programming_language)", "Wikipedia-style parentheses in a path"),
        ("/echo/api/items?sort=name:asc,created:desc", "colons and commas in a sort key"),
        ("/echo/files/report%202023%20(final).pdf", "encoded spaces and parentheses"),
        ("/echo/search?q=c%2B%2B&lang=en", "encoded plus signs"),
        ("/echo/search?q=a+b+c", "plus for space"),
        ("/echo/redirect?next=/dashboard?tab=settings", "a path with a query in a parameter"),
        ("/echo/login?next=%2Faccount%2Fsettings%3Ftab%3Dsecurity", "encoded next URL"),
        ("/echo/oauth/callback?code=4/0AfJohXn2kLmZ&state=xyz123&scope=email%20profile%20openid",
         "OAuth callback"),
        ("/echo/share?url=https://example.org/a/b?c=d&title=Look", "a URL in a parameter"),
        ("/echo/share?url=https%3A%2F%2Fexample.org%2Fpost%2F42", "encoded URL in a parameter"),
        ("/echo/sitemap.xml", "sitemap"),
        ("/echo/robots.txt", "robots.txt"),
        ("/echo/favicon.ico", "favicon"),
        ("/echo/static/css/main.3f9a1c.css", "hashed static file"),
        ("/echo/static/js/app.js?v=1.2.3", "versioned static file"),
        ("/echo/.well-known/security.txt", "security.txt"),
        ("/echo/api/items?limit=20&offset=40&ordering=-price", "DRF pagination"),
        ("/echo/items/?tags=a&tags=b&tags=c", "FastAPI list query"),
        ("/echo/admin/auth/user/?q=ann&is_staff__exact=1&o=-2.3", "Django admin changelist"),
        ("/echo/admin/blog/post/?date__gte=2023-01-01&date__lt=2024-01-01",
         "Django admin date hierarchy"),
        ("/echo/admin/blog/post/12/change/?_changelist_filters=status__exact%3Ddraft",
         "Django admin preserved filters"),
        ("/echo/docs?x=^start", "a caret"),
        ("/echo/math?expr=a^2+b^2", "caret in a formula"),
        ("/echo/path/with~tilde/", "tilde in a path"),
        ("/echo/users/@ann", "at sign in a path"),
        ("/echo/t/!important", "exclamation mark"),
        ("/echo/search?q=`code`", "backticks in a query"),
        ("/echo/search?q=\\n", "a backslash in a query"),
        ("/echo/a;jsessionid=1A2B3C4D5E?x=1", "matrix parameter"),
        ("/echo/repos/ann/project/blob/main/src/app.py?plain=1", "code link"),
        ("/echo/events?from=2023-12-01&to=2023-12-31&tz=Europe/Berlin", "slash in a value"),
        ("/echo/search?q=\"exact\"", "raw double quotes"),
        ("/echo/search?q=it's", "raw apostrophe"),
        ("/echo/feed?format=rss&since=1701684753", "feed"),
        ("/echo/products/123-blue-shoes-size-42", "slug"),
        ("/echo/api/v2/users/42/posts/7/comments?page=3", "nested REST path"),
        ("/echo/download?file=invoice_2023-12.pdf&inline=1", "download link"),
        ("/echo/img/photo.jpg?w=800&h=600&fit=crop&q=80", "image resizer"),
        ("/echo/?", "empty query"),
        ("/echo/?&&a=1&&", "stray ampersands"),
        ("/echo/search?q=", "empty search"),
        ("/echo/search?q=%", "a lone percent sign"),
        ("/echo/search?q=100%25", "encoded percent"),
        ("/echo/a//b///c", "double slashes"),
        ("/echo/dir/./file", "a dot segment"),
        ("/echo/foo/../bar", "a dot-dot segment inside the site"),
        ("/echo/elements?selector=div>p", "a greater-than in a query"),
        ("/echo/elements?selector=<div>", "angle brackets in a query"),
        ("/echo/i18n/%E6%97%A5%E6%9C%AC%E8%AA%9E/page", "encoded Japanese path"),
        ("/echo/api/search?q=json:{\"a\":1}", "inline JSON in a query"),
        ("/echo/charts?data=[[1,2],[3,4]]", "nested arrays in a query"),
        ("/echo/graph?ids={1,2,3}&op=|", "braces and pipe"),
        ("/echo/select?cols=a,b&where=a%3D1", "encoded equals"),
        ("/echo/search?q=select+a+product", "the word select"),
        ("/echo/search?q=union+station", "the word union"),
        ("/echo/search?q=drop+shipping", "the word drop"),
        ("/echo/blog/how-to-use-select-in-sql", "slug with sql words"),
        ("/echo/search?q=script+writing", "the word script"),
        ("/echo/api/v1/exec?task=report", "the word exec in a path"),
        ("/echo/cmd/help", "cmd in a path"),
        ("/echo/search?q=alert+settings", "the word alert"),
        ("/echo/news?sort=date&order=desc&page=2&per_page=50", "news paging"),
    ]
    for i, (t, note) in enumerate(raw):
        b = BROWSERS[i % len(BROWSERS)]
        h = nav_headers(b, cookie=cookie_jar() if i % 3 else None)
        if any(c in t for c in '"<>'):
            # browsers percent-encode these three in a query (WHATWG URL);
            # curl sends what it is given
            h = script_headers("curl")
            note += " (curl)"
        add("browser-url", note, "GET", t, h)
    # the HEAD and OPTIONS a browser or monitor sends
    add("browser-url", "HEAD of a page (link checker)", "HEAD", "/echo/about",
        script_headers("curl"))
    add("browser-url", "CORS preflight", "OPTIONS", "/echo/api/items",
        [["Host", "{host}"], ["Accept", "*/*"], ["Access-Control-Request-Method", "PUT"],
         ["Access-Control-Request-Headers", "content-type,x-csrftoken"],
         ["Origin", "http://app.{host}"], ["User-Agent", UA["chrome"]],
         ["Sec-Fetch-Mode", "cors"], ["Sec-Fetch-Site", "same-site"],
         ["Sec-Fetch-Dest", "empty"], ["Referer", "http://app.{host}/"],
         ["Accept-Encoding", "gzip, deflate, br"], ["Accept-Language", "en-US,en;q=0.9"]])


def unicode_urls():
    paths = ["/echo/wiki/Zürich", "/echo/wiki/São_Paulo", "/echo/wiki/Ελλάδα", "/echo/wiki/日本",
             "/echo/tag/café", "/echo/user/renée", "/echo/wiki/Москва", "/echo/wiki/القاهرة",
             "/echo/emoji/🎉", "/echo/city/Kraków", "/echo/search/straße", "/echo/p/naïve-résumé",
             "/echo/wiki/한국어", "/echo/wiki/ไทย", "/echo/docs/Überblick"]
    for i, p in enumerate(paths):
        t = quote(p, safe="/")
        add("unicode-url", "UTF-8 percent-encoded path " + p[6:], "GET", t,
            nav_headers(BROWSERS[i % len(BROWSERS)]))
    qs = ["Zürich", "São Paulo", "日本語 入門", "café crème", "Ελληνικά", "Москва", "مرحبا بالعالم",
          "🎉 party", "Smørrebrød", "İstanbul", "Ça va?", "½ price", "naïve", "Łódź", "Đà Nẵng"]
    for i, q in enumerate(qs):
        style = i % 3
        if style == 0:
            t = "/echo/search?q=" + quote_plus(q)
        elif style == 1:
            t = "/echo/search?q=" + quote(q, safe="")
        else:
            t = "/echo/search?city=" + quote(q, safe="") + "&lang=" + R.choice(["de", "fr", "ja"])
        b = BROWSERS[(i + 3) % len(BROWSERS)]
        add("unicode-url", "UTF-8 percent-encoded query %r" % q, "GET", t,
            nav_headers(b, referer="http://{host}/echo/", lang=R.choice(
                ["de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9", "ja,en-US;q=0.9,en;q=0.8",
                 "pt-BR,pt;q=0.9", "ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7"])))


def search_boxes():
    for i, q in enumerate(SEARCHES):
        b = BROWSERS[i % len(BROWSERS)]
        t = "/echo/search?q=" + quote_plus(q)
        if i % 4 == 3:
            t += "&page=2"
        add("search", "search box: %s" % q, "GET", t,
            nav_headers(b, referer="http://{host}/echo/", cookie=cookie_jar()))
    for i, name in enumerate(NAMES):
        b = BROWSERS[(i + 1) % len(BROWSERS)]
        add("search", "people search for %s" % name, "GET",
            "/echo/people?name=" + quote_plus(name) + "&exact=0",
            nav_headers(b, referer="http://{host}/echo/people", cookie=cookie_jar("django")))
    # autocomplete by fetch, as the user types
    for i, q in enumerate(["O'", "O'Re", "O'Reil", "O'Reilly", "\"don", "\"don't", "rock 'n",
                           "Ben & J", "C#", "50%"]):
        add("search", "autocomplete fetch for %r" % q, "GET",
            "/echo/api/suggest?q=" + quote(q, safe="") + "&limit=8",
            fetch_headers("chrome", "/echo/search", cookie=cookie_jar()))


# ---------------------------------------------------------------- 2. JSON

def json_body(obj, compact=True):
    if compact:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(obj, ensure_ascii=False, indent=2)


def json_apis():
    bodies = [
        ("create user", "POST", "/echo/api/users",
         {"username": "ann.o'reilly", "email": "ann@example.com", "full_name": "Ann O'Reilly",
          "roles": ["editor", "viewer"], "profile": {"bio": "Writes about Python & data.",
                                                     "links": {"web": "https://ann.example.org"}}}),
        ("update profile with unicode", "PATCH", "/echo/api/users/42",
         {"full_name": "Renée Müller", "city": "Zürich", "bio": "日本語とEnglish 😀",
          "languages": ["de", "fr", "ja"]}),
        ("order with items", "POST", "/echo/api/orders",
         {"customer_id": 1001, "items": [{"sku": "A-1", "qty": 2, "price": 9.99},
                                         {"sku": "B-7", "qty": 1, "price": 120.0}],
          "shipping": {"name": "José García", "street": "Calle de Alcalá, 42", "zip": "28014",
                       "country": "ES"}, "gift": False, "note": None}),
        ("todo item", "POST", "/echo/api/todos", {"title": "Buy milk", "done": False, "due": None}),
        ("toggle todo", "PATCH", "/echo/api/todos/7", {"done": True}),
        ("settings", "PUT", "/echo/api/settings",
         {"theme": "dark", "notifications": {"email": True, "push": False, "digest": "weekly"},
          "timezone": "Europe/Berlin", "locale": "de-DE"}),
        ("bulk delete", "POST", "/echo/api/items/bulk_delete", {"ids": [3, 5, 8, 13, 21]}),
        ("event tracking", "POST", "/echo/api/events",
         {"event": "page_view", "properties": {"path": "/pricing?plan=pro", "title": "Pricing | Acme",
                                               "referrer": "https://www.google.com/"},
          "timestamp": "2023-12-04T10:12:33.112Z", "anonymousId": "0b3e2f1a-8c3d-4e5f-9a6b"}),
        ("comment with quotes", "POST", "/echo/api/posts/12/comments",
         {"body": "I don't agree with \"the 10x engineer\" idea. It's a myth; see O'Reilly's take.",
          "parent": None}),
        ("address autocomplete result", "POST", "/echo/api/addresses",
         {"line1": "221B Baker St", "line2": "", "city": "London", "postcode": "NW1 6XE",
          "geo": [51.5237, -0.1585]}),
        ("rich text editor JSON (TipTap)", "PUT", "/echo/api/docs/5",
         {"type": "doc", "content": [{"type": "heading", "attrs": {"level": 2},
                                      "content": [{"type": "text", "text": "Plan"}]},
                                     {"type": "paragraph", "content": [
                                         {"type": "text", "text": "Ship it ",
                                          "marks": [{"type": "bold"}]},
                                         {"type": "text", "text": "on Friday."}]}]}),
        ("HTML from a WYSIWYG editor", "POST", "/echo/api/pages",
         {"title": "About us", "html": "<h2>Who we are</h2><p>A <strong>small</strong> team in "
                                       "<em>Lyon</em>.</p><ul><li>Design</li><li>Code</li></ul>"}),
        ("deeply nested config", "PUT", "/echo/api/projects/3/config",
         {"build": {"steps": [{"name": "test", "run": "pytest -q", "env": {"CI": "1"}},
                              {"name": "lint", "run": "ruff check ."}],
                    "cache": {"paths": ["~/.cache/pip"], "key": "pip-${{ hashFiles('**/req.txt') }}"}},
          "notify": {"slack": {"channel": "#builds"}}}),
        ("numbers and edge values", "POST", "/echo/api/metrics",
         {"cpu": 0.73, "mem": 1.5e9, "temps": [-12.5, 0, 99.9], "ok": True, "samples": 12345678901,
          "label": ""}),
        ("login", "POST", "/echo/api/auth/login",
         {"email": "ann@example.com", "password": "correct horse battery staple", "remember": True}),
        ("token refresh", "POST", "/echo/api/auth/token/refresh",
         {"refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9."
                     "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v"}),
        ("search request", "POST", "/echo/api/search",
         {"query": "O'Reilly \"Fluent Python\"", "filters": {"year": {"gte": 2015},
                                                              "lang": ["en", "de"]},
          "sort": [{"field": "score", "order": "desc"}], "page": 1, "size": 20}),
        ("chat message", "POST", "/echo/api/rooms/general/messages",
         {"text": "lol 😂 see you at 5? don't be late!!", "mentions": ["@bob"],
          "client_id": "c-7f3a"}),
        ("survey answers", "POST", "/echo/api/surveys/9/answers",
         {"answers": [{"q": 1, "a": "Yes"}, {"q": 2, "a": ["Python", "Go"]},
                      {"q": 3, "a": "I'd like more docs & examples."}]}),
        ("product import", "POST", "/echo/api/products/import",
         {"products": [{"name": "T-shirt \"Classic\"", "sizes": ["S", "M", "L"], "price": "19.90"},
                       {"name": "Mug 11oz", "sizes": [], "price": "8.50"}]}),
        ("webhook from a payment provider", "POST", "/echo/webhooks/payments",
         {"id": "evt_1OJc2aKZ", "type": "invoice.paid", "data": {"object": {
             "id": "in_1OJc2", "amount_paid": 2900, "currency": "eur",
             "customer_email": "ann@example.com", "lines": {"data": [{"description": "Pro plan"}]}}}}),
        ("GitHub-style push webhook", "POST", "/echo/webhooks/github",
         {"ref": "refs/heads/main", "commits": [{"id": "9f2c1e", "message": "Fix typo in README\n\n"
                                                 "Co-authored-by: Ann <ann@example.com>",
                                                 "added": ["docs/intro.md"], "modified": []}],
          "repository": {"full_name": "acme/site"}}),
        ("JSON merge patch", "PATCH", "/echo/api/users/42",
         {"nickname": None, "address": {"city": "Lyon"}}),
        ("empty object", "POST", "/echo/api/ping", {}),
        ("array body", "POST", "/echo/api/tags", ["python", "flask", "django", "fastapi"]),
        ("FastAPI item", "PUT", "/echo/items/5",
         {"name": "Foo", "description": "An optional description", "price": 45.2, "tax": 3.5,
          "tags": ["rock", "metal", "bar"]}),
        ("calendar event", "POST", "/echo/api/events/calendar",
         {"title": "Team sync", "start": "2023-12-05T09:30:00+01:00",
          "end": "2023-12-05T10:00:00+01:00", "rrule": "FREQ=WEEKLY;BYDAY=TU",
          "attendees": ["ann@example.com", "bob@example.com"], "location": "Room 4 / Zoom"}),
        ("notes with markdown", "POST", "/echo/api/notes",
         {"title": "TODO", "body": "- [x] write tests\n- [ ] update *docs*\n- [ ] release `v1.2`"}),
        ("i18n strings", "PUT", "/echo/api/translations/fr",
         {"welcome": "Bienvenue, {name} !", "items": "{count, plural, one {# élément} other "
                                                     "{# éléments}}", "bye": "À bientôt"}),
        ("geojson", "POST", "/echo/api/areas",
         {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
             [[2.35, 48.85], [2.36, 48.85], [2.36, 48.86], [2.35, 48.85]]]},
          "properties": {"name": "Block A"}}),
    ]
    ctypes = ["application/json", "application/json;charset=UTF-8", "application/json; charset=utf-8"]
    for i, (note, method, target, obj) in enumerate(bodies):
        ct = ctypes[i % 3]
        if i % 2 == 0:
            b = BROWSERS[i % len(BROWSERS)]
            extra = [("X-CSRFToken", rs(64))] if i % 4 == 0 else [("X-Requested-With", "XMLHttpRequest")]
            h = fetch_headers(b, "/echo/app", ct, cookie_jar(), extra)
            who = b
        else:
            tool = TOOLS[i % len(TOOLS)]
            h = script_headers(tool, ct)
            if i % 3 == 0:
                h.append(["Authorization", "Bearer " + rs(40, B64URL)])
            who = tool
        add("json-api", "%s (%s)" % (note, who), method, target, h,
            body=json_body(obj, compact=(i % 5 != 4)))
    # JSON:API, JSON patch, problem+json-like vendor types
    add("json-api", "JSON:API document", "POST", "/echo/api/articles",
        script_headers("requests", "application/vnd.api+json") + [["Accept", "application/vnd.api+json"]],
        body=json_body({"data": {"type": "articles", "attributes": {"title": "Ember Hamster"},
                                 "relationships": {"author": {"data": {"type": "people",
                                                                       "id": "9"}}}}}))
    add("json-api", "JSON Patch", "PATCH", "/echo/api/users/42",
        script_headers("httpx", "application/json-patch+json"),
        body=json_body([{"op": "replace", "path": "/email", "value": "new@example.com"},
                        {"op": "add", "path": "/tags/-", "value": "vip"},
                        {"op": "remove", "path": "/nickname"}]))
    add("json-api", "merge patch type", "PATCH", "/echo/api/users/42",
        script_headers("go", "application/merge-patch+json"),
        body=json_body({"address": {"zip": None}}))
    # GETs of a JSON API with query filters
    gets = ["/echo/api/users?page=2&page_size=25&ordering=-date_joined",
            "/echo/api/products?category=shoes&size=42&size=43&in_stock=true",
            "/echo/api/orders?status=shipped&created_after=2023-11-01&created_before=2023-12-01",
            "/echo/api/articles?include=author,comments&fields[articles]=title,body&page[size]=10",
            "/echo/api/search?q=O%27Reilly&type=book",
            "/echo/api/items/?skip=0&limit=100",
            "/echo/api/v1/reports/sales?group_by=month&metrics=revenue,orders&tz=UTC",
            "/echo/api/geo?bbox=2.25,48.81,2.42,48.90",
            "/echo/api/users/me",
            "/echo/api/notifications?unread=1&since=2023-12-04T10:00:00Z"]
    for i, t in enumerate(gets):
        if i % 2:
            h = script_headers(TOOLS[i % len(TOOLS)])
            h.append(["Authorization", "Token " + rs(40, "0123456789abcdef")])
        else:
            h = fetch_headers(BROWSERS[i % len(BROWSERS)], "/echo/app", cookie=cookie_jar())
        add("json-api", "API GET with filters", "GET", t, h)
    # a larger JSON document (a spreadsheet export), ~200 KiB
    rows = [{"id": n, "name": words(3), "city": R.choice(["Paris", "Zürich", "東京", "São Paulo"]),
             "amount": round(R.uniform(0, 1000), 2), "tags": [words(1), words(1)]}
            for n in range(1500)]
    add("json-api", "JSON import of 1500 rows (~150 KiB)", "POST", "/echo/api/import",
        script_headers("requests", "application/json"), body=json_body({"rows": rows}))
    add("json-api", "DELETE with no body", "DELETE", "/echo/api/items/77",
        fetch_headers("firefox", "/echo/app", cookie=cookie_jar("django"),
                      extra=[("X-CSRFToken", rs(64))]))


def graphql():
    Q = [
        ("query GetUser($id: ID!) {\n  user(id: $id) {\n    id\n    name\n    email\n  }\n}",
         {"id": "42"}, "GetUser"),
        ("query Feed($first: Int = 10, $after: String) {\n  feed(first: $first, after: $after) {\n"
         "    edges { cursor node { id title author { name } } }\n    pageInfo { hasNextPage "
         "endCursor }\n  }\n}", {"first": 20, "after": "YXJyYXljb25uZWN0aW9uOjE5"}, "Feed"),
        ("mutation CreatePost($input: CreatePostInput!) {\n  createPost(input: $input) {\n"
         "    post { id title }\n    errors { field messages }\n  }\n}",
         {"input": {"title": "Hello", "body": "It's my *first* post.", "tags": ["intro"]}},
         "CreatePost"),
        ("mutation UpdateProfile($bio: String) { updateProfile(bio: $bio) { ok } }",
         {"bio": "Pythonista. Café lover ☕. O'Reilly author."}, "UpdateProfile"),
        ("mutation { deletePost(id: 7) { ok } }", None, None),
        ("{ me { name avatarUrl(size: 64) } }", None, None),
        ("query Search($q: String!) { search(query: $q, types: [POST, USER]) { __typename "
         "... on Post { id title } ... on User { id name } } }", {"q": "\"O'Reilly\""}, "Search"),
        ("fragment PostFields on Post { id title createdAt }\nquery { latest: posts(last: 5) { "
         "...PostFields } popular: posts(orderBy: VOTES_DESC, first: 5) { ...PostFields } }",
         None, None),
        ("query Repo($owner: String!, $name: String!, $withIssues: Boolean!) { repository(owner: "
         "$owner, name: $name) { stargazerCount issues(first: 5, states: OPEN) @include(if: "
         "$withIssues) { nodes { title } } } }",
         {"owner": "pallets", "name": "flask", "withIssues": True}, "Repo"),
        ("mutation AddComment($postId: ID!, $text: String!) { addComment(postId: $postId, text: "
         "$text) { comment { id } } }",
         {"postId": "UG9zdDox", "text": "Try `SELECT * FROM users WHERE id = 1` in the shell."},
         "AddComment"),
        ("query IntrospectionQuery { __schema { queryType { name } mutationType { name } types { "
         "kind name fields(includeDeprecated: true) { name args { name type { kind name ofType "
         "{ kind name } } } type { kind name } } } } }", None, "IntrospectionQuery"),
        ("subscription OnMessage($room: ID!) { messageAdded(room: $room) { id text } }",
         {"room": "general"}, "OnMessage"),
        ("query Products($filter: ProductFilter) { products(filter: $filter) { totalCount nodes "
         "{ sku name price { amount currency } } } }",
         {"filter": {"priceRange": {"min": 10, "max": 50}, "colors": ["red", "blue"],
                     "name_contains": "shirt"}}, "Products"),
        ("mutation Checkout($cart: [CartItem!]!) { checkout(items: $cart) { orderId total } }",
         {"cart": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}]}, "Checkout"),
        ("query { node(id: \"VXNlcjo0Mg==\") { ... on User { login } } }", None, None),
    ]
    for i, (q, v, op) in enumerate(Q):
        body = {"query": q}
        if v is not None:
            body["variables"] = v
        if op:
            body["operationName"] = op
        if i % 2 == 0:
            h = fetch_headers(BROWSERS[i % len(BROWSERS)], "/echo/app", "application/json",
                              cookie_jar(), extra=[("apollographql-client-name", "web")])
        else:
            h = script_headers(TOOLS[i % len(TOOLS)], "application/json")
            h.append(["Authorization", "Bearer " + rs(36, B64URL)])
        add("graphql", "GraphQL POST %s" % (op or q.split("{")[0].strip() or "anonymous query"),
            "POST", "/echo/graphql", h, body=json_body(body))
    # the same queries sent as GET, both encoded (Apollo) and raw (hand-typed in a browser)
    for i, (q, v, op) in enumerate(Q[:8]):
        if q.startswith("mutation"):
            continue
        params = {"query": q}
        if v is not None:
            params["variables"] = json.dumps(v, separators=(",", ":"))
        if op:
            params["operationName"] = op
        add("graphql", "GraphQL GET, encoded (%s)" % (op or "anonymous"), "GET",
            "/echo/graphql?" + urlencode(params, quote_via=quote),
            fetch_headers("chrome", "/echo/app", cookie=cookie_jar()))
    for t in ["/echo/graphql?query={me{name}}", "/echo/graphql?query={posts(first:5){id,title}}",
              "/echo/graphql?query=query{user(id:1){name}}",
              "/echo/graphql?query={__typename}"]:
        add("graphql", "GraphQL GET typed in the address bar (raw braces)", "GET", t,
            nav_headers("firefox"))
    # Apollo persisted queries
    for i in range(4):
        ext = {"persistedQuery": {"version": 1, "sha256Hash": rs(64, "0123456789abcdef")}}
        add("graphql", "Apollo automatic persisted query (GET)", "GET",
            "/echo/graphql?operationName=Feed&variables=" +
            quote(json.dumps({"first": 10 + i}, separators=(",", ":")), safe="") +
            "&extensions=" + quote(json.dumps(ext, separators=(",", ":")), safe=""),
            fetch_headers(BROWSERS[i], "/echo/app", cookie=cookie_jar()))
    # a batched request
    add("graphql", "GraphQL batch (array of operations)", "POST", "/echo/graphql",
        script_headers("node", "application/json"),
        body=json_body([{"query": "{ me { id } }"},
                        {"query": "query($n:Int){ posts(first:$n){ id } }",
                         "variables": {"n": 3}}]))
    # GraphiQL's application/graphql
    add("graphql", "application/graphql body", "POST", "/echo/graphql",
        script_headers("curl", "application/graphql"), body="{ me { name email } }")


# ---------------------------------------------------------------- 3. forms

def flaskr_forms():
    """The Flask tutorial's blog (flaskr): register, login, create, update,
    delete, as a browser posts them."""
    users = ["ann", "bob", "renée", "o'neil", "zoë", "jean-luc", "user_42", "李雷"]
    for i, u in enumerate(users):
        b = BROWSERS[i % len(BROWSERS)]
        add("form", "flaskr register %s" % u, "POST", "/echo/auth/register",
            form_headers(b, "/echo/auth/register", "application/x-www-form-urlencoded"),
            body=form([("username", u), ("password", rs(12) + "!#'\"")]))
        add("form", "flaskr login %s" % u, "POST", "/echo/auth/login",
            form_headers(b, "/echo/auth/login", "application/x-www-form-urlencoded",
                         cookie=flask_session()),
            body=form([("username", u), ("password", "s3cr3t p@ss'word")]))
    posts = PLAIN_POSTS + [(words(R.randint(2, 5)).capitalize(), words(R.randint(20, 120)) + ".")
                           for _ in range(10)]
    for i, (title, body) in enumerate(posts):
        b = BROWSERS[(i + 2) % len(BROWSERS)]
        add("form", "flaskr create: %s" % title, "POST", "/echo/create",
            form_headers(b, "/echo/create", "application/x-www-form-urlencoded",
                         cookie=flask_session()),
            body=form([("title", title), ("body", body)]))
        if i % 2 == 0:
            add("form", "flaskr update: %s" % title, "POST", "/echo/%d/update" % (i + 1),
                form_headers(b, "/echo/%d/update" % (i + 1), "application/x-www-form-urlencoded",
                             cookie=flask_session()),
                body=form([("title", title + " (edited)"), ("body", body + "\r\nEdit: typo.")]))
    for i in range(3):
        add("form", "flaskr delete", "POST", "/echo/%d/delete" % (i + 3),
            form_headers(BROWSERS[i], "/echo/%d/update" % (i + 3),
                         "application/x-www-form-urlencoded", cookie=flask_session()), body="")
    # Django forms with csrfmiddlewaretoken
    dj = [
        ("contact form", "/echo/contact/", [("name", "Siobhán O'Connor"),
                                            ("email", "siobhan@example.ie"),
                                            ("subject", "Question about \"Pro\" plan"),
                                            ("message", "Hi,\r\nCan I pay yearly? It'd be easier.\r\n"
                                                        "Thanks!")]),
        ("signup", "/echo/accounts/signup/", [("username", "dangelo"), ("email", "d@example.com"),
                                              ("password1", "Tr0ub4dor&3"),
                                              ("password2", "Tr0ub4dor&3")]),
        ("admin change user", "/echo/admin/auth/user/5/change/",
         [("username", "bob"), ("first_name", "Bob"), ("last_name", "O'Brien"),
          ("email", "bob@example.com"), ("is_active", "on"), ("groups", "1"), ("groups", "3"),
          ("last_login_0", "2023-12-04"), ("last_login_1", "10:12:33"),
          ("date_joined_0", "2023-01-10"), ("date_joined_1", "08:00:00"), ("_save", "Save")]),
        ("admin add post", "/echo/admin/blog/post/add/",
         [("title", "Release 2.0"), ("slug", "release-2-0"), ("status", "draft"),
          ("body", "We're happy to announce 2.0!\r\n\r\n* faster\r\n* smaller"),
          ("tags", "release, news"), ("_continue", "Save and continue editing")]),
        ("profile settings", "/echo/settings/profile/",
         [("display_name", "Zoë"), ("bio", "I ❤ Django & Flask; \"batteries included\"."),
          ("website", "https://zoe.example.org/?ref=profile"), ("timezone", "Europe/Paris")]),
        ("address form", "/echo/checkout/address/",
         [("name", "Bjørn Ødegaard"), ("line1", "Karl Johans gate 1"), ("line2", "c/o Nordic AS"),
          ("city", "Oslo"), ("postcode", "0154"), ("country", "NO"), ("phone", "+47 22 33 44 55")]),
        ("newsletter", "/echo/newsletter/", [("email", "first.last+news@example.co.uk")]),
        ("comment", "/echo/blog/12/comment/",
         [("name", "D'Angelo"), ("comment", "Great write-up -- thanks! (P.S. typo in §3)")]),
        ("password change", "/echo/accounts/password/change/",
         [("old_password", "old'pass\"word"), ("new_password1", "n3w-P4ss; word"),
          ("new_password2", "n3w-P4ss; word")]),
        ("search filters form", "/echo/listings/",
         [("min_price", "100"), ("max_price", "500"), ("rooms", "2"), ("rooms", "3"),
          ("q", "balcony & garden"), ("sort", "-price")]),
        ("feedback with emoji", "/echo/feedback/",
         [("rating", "5"), ("text", "Love it 😍 -- but dark mode, please?")]),
        ("poll vote", "/echo/polls/3/vote/", [("choice", "7")]),
    ]
    for i, (note, path, fields) in enumerate(dj):
        b = BROWSERS[(i + 5) % len(BROWSERS)]
        ck = django_cookie()
        fields = [("csrfmiddlewaretoken", rs(64))] + fields
        add("form", "Django %s" % note, "POST", path,
            form_headers(b, path, "application/x-www-form-urlencoded", cookie=ck),
            body=form(fields))
    # the same posts from scripts (curl -d, requests data=)
    for i, (title, body) in enumerate(PLAIN_POSTS[:6]):
        tool = ["curl", "requests", "httpx"][i % 3]
        add("form", "form post from %s" % tool, "POST", "/echo/create",
            script_headers(tool, "application/x-www-form-urlencoded"),
            body=form([("title", title), ("body", body)]))
    # GET forms
    for i in range(8):
        fields = [("q", R.choice(SEARCHES)), ("category", R.choice(["all", "books", "music"])),
                  ("min", str(R.randint(0, 50))), ("max", str(R.randint(50, 500)))]
        add("form", "GET form submission", "GET", "/echo/search?" + form(fields),
            nav_headers(BROWSERS[i % len(BROWSERS)], referer="http://{host}/echo/search"))


def rich_text():
    """Posts on a blog, a wiki, a forum or a help desk that talk about code,
    shell commands, HTML and SQL: flaskr forms, Django forms, JSON APIs."""
    for i, (title, body) in enumerate(TIPS):
        b = BROWSERS[i % len(BROWSERS)]
        k = i % 3
        if k == 0:
            add("rich-text", "flaskr post: %s" % title, "POST", "/echo/create",
                form_headers(b, "/echo/create", "application/x-www-form-urlencoded",
                             cookie=flask_session()),
                body=form([("title", title), ("body", body)]))
        elif k == 1:
            add("rich-text", "flaskr update: %s" % title, "POST", "/echo/%d/update" % (i + 1),
                form_headers(b, "/echo/%d/update" % (i + 1), "application/x-www-form-urlencoded",
                             cookie=flask_session()),
                body=form([("title", title), ("body", body)]))
        else:
            add("rich-text", "forum post (JSON): %s" % title, "POST", "/echo/api/posts",
                fetch_headers(b, "/echo/forum/new", "application/json", cookie_jar("django"),
                              extra=[("X-CSRFToken", rs(64))]),
                body=json_body({"title": title, "body": body, "format": "markdown"}))
    # longer articles mixing prose and several snippets
    for i in range(12):
        picks = R.sample(TIPS, 3)
        text = "# %s\n\n" % words(4).capitalize()
        for t, snippet in picks:
            text += "## %s\n\n%s\n\n%s\n\n" % (t, words(R.randint(15, 40)).capitalize() + ".", snippet)
        if i % 2:
            add("rich-text", "wiki page with 3 snippets (form)", "POST",
                "/echo/wiki/%s/edit" % words(1),
                form_headers(BROWSERS[i % len(BROWSERS)], "/echo/wiki/edit",
                             "application/x-www-form-urlencoded", cookie=cookie_jar("django")),
                body=form([("csrfmiddlewaretoken", rs(64)), ("content", text),
                           ("summary", "added examples")]))
        else:
            add("rich-text", "article with 3 snippets (JSON)", "PUT", "/echo/api/articles/%d" % i,
                script_headers("requests", "application/json"),
                body=json_body({"title": words(3), "markdown": text, "published": False}))
    # a help-desk ticket with a pasted traceback and a log excerpt
    tb = ("Traceback (most recent call last):\n  File \"/srv/app/views.py\", line 42, in index\n"
          "    return render_template(\"index.html\", user=user)\n  File \"/usr/lib/python3/dist-"
          "packages/jinja2/environment.py\", line 1301, in render\njinja2.exceptions.Undefined"
          "Error: 'dict object' has no attribute 'name'\n")
    add("rich-text", "support ticket with a pasted Python traceback", "POST", "/echo/support/new",
        form_headers("firefox", "/echo/support/new", "application/x-www-form-urlencoded",
                     cookie=django_cookie()),
        body=form([("csrfmiddlewaretoken", rs(64)), ("subject", "500 error on the home page"),
                   ("body", "Since this morning I get:\r\n\r\n" + tb)]))
    log = ("127.0.0.1 - - [04/Dec/2023:10:12:33 +0000] \"GET /index.html HTTP/1.1\" 200 512 "
           "\"-\" \"Mozilla/5.0\"\n")
    add("rich-text", "ticket with an access-log line", "POST", "/echo/support/new",
        form_headers("chrome", "/echo/support/new", "application/x-www-form-urlencoded",
                     cookie=django_cookie()),
        body=form([("csrfmiddlewaretoken", rs(64)), ("subject", "Odd requests"), ("body", log * 3)]))
    add("rich-text", "code review comment (JSON)", "POST", "/echo/api/reviews/5/comments",
        script_headers("axios", "application/json"),
        body=json_body({"line": 17, "body": "Nit: use `pathlib.Path(p).read_text()` instead of "
                                            "`open(p).read()`, and `shlex.quote()` around the "
                                            "argument."}))
    add("rich-text", "Jupyter-like cell saved (JSON)", "PUT", "/echo/api/notebooks/3/cells/2",
        fetch_headers("chrome", "/echo/notebooks/3", "application/json", cookie_jar()),
        body=json_body({"cell_type": "code", "source": ["import pandas as pd\n",
                                                         "df = pd.read_csv(\"sales.csv\")\n",
                                                         "df.groupby(\"region\").sum()"]}))


# ------------------------------------------------------------- 4. uploads

FILLS = {
    "png": ("image/png", [".png"]), "jpeg": ("image/jpeg", [".jpg", ".jpeg"]),
    "pdf": ("application/pdf", [".pdf"]), "zip": ("application/zip", [".zip"]),
    "csv": ("text/csv", [".csv"]), "text": ("text/plain", [".txt", ".md", ".log"]),
    "mp4": ("video/mp4", [".mp4"]),
}
FILENAMES = ["photo", "IMG_2034", "Screenshot 2023-12-04 at 10.12.33", "résumé 2023",
             "scan (1)", "invoice_0042", "holiday-pics", "export", "data", "chart",
             "Übersicht", "写真", "notes", "report final v2", "cat & dog"]


def boundary(who, i):
    if who in ("chrome", "edge", "safari"):
        return "----WebKitFormBoundary" + rs(16)
    if who == "firefox":
        return "-" * 27 + "".join(R.choice("0123456789") for _ in range(R.randint(28, 30)))
    if who == "requests":
        return rs(32, "0123456789abcdef")
    if who == "curl":
        return "-" * 24 + rs(22, "0123456789abcdef")
    return "----formdata-undici-0%s" % "".join(R.choice("0123456789") for _ in range(11))


def uploads():
    MiB = 1024 * 1024
    specs = []
    # small files: avatars, CSVs, documents
    for i in range(18):
        fill = ["png", "jpeg", "pdf", "csv", "text", "zip"][i % 6]
        size = R.randint(800, 200 * 1024)
        specs.append((fill, size, i))
    # large files, 1-8 MiB
    for i, mib in enumerate([1, 1.5, 2, 3, 3, 4, 5, 6, 7, 8]):
        fill = ["png", "jpeg", "pdf", "mp4", "zip"][i % 5]
        specs.append((fill, int(mib * MiB) + R.randint(0, 4096), 100 + i))
    whos = ["chrome", "firefox", "safari", "requests", "curl", "edge", "node"]
    for n, (fill, size, seed) in enumerate(specs):
        who = whos[n % len(whos)]
        ctype, exts = FILLS[fill]
        fname = R.choice(FILENAMES) + R.choice(exts)
        bnd = boundary(who, n)
        parts = []
        path = R.choice(["/echo/upload", "/echo/api/files", "/echo/profile/avatar",
                         "/echo/admin/media/add/", "/echo/documents/new"])
        if path.startswith("/echo/admin") or n % 3 == 0:
            parts.append({"name": "csrfmiddlewaretoken", "value": rs(64)})
        if n % 2 == 0:
            parts.append({"name": "title", "value": R.choice(
                ["Holiday photo", "Q4 report", "Scan of the contract", "Ann's CV",
                 "Café menu", "Data export (Dec)"])})
        parts.append({"name": "file", "filename": fname, "content_type": ctype, "size": size,
                      "fill": fill, "seed": 1000 + seed})
        if n % 4 == 1:
            parts.append({"name": "description", "value": "Uploaded from the \"new document\" page"
                                                          " -- don't share."})
        mp = {"boundary": bnd, "parts": parts}
        ct = "multipart/form-data; boundary=" + bnd
        if who in BROWSERS or who in ("chrome", "firefox", "safari", "edge"):
            h = form_headers(who, path, ct, cookie=cookie_jar())
        elif who == "node":
            h = script_headers("node", ct)
        else:
            h = script_headers(who, ct)
        note = "multipart, %s, %s-like bytes, filename %r" % (human(size), fill, fname)
        add("upload", note, "POST", path, h, multipart=mp)
    # several files in one form (Django admin gallery)
    for i in range(3):
        bnd = boundary("chrome", i)
        parts = [{"name": "csrfmiddlewaretoken", "value": rs(64)}]
        for k in range(4):
            parts.append({"name": "images", "filename": "%s-%d.jpg" % (R.choice(FILENAMES), k),
                          "content_type": "image/jpeg", "size": R.randint(50000, 400000),
                          "fill": "jpeg", "seed": 2000 + 10 * i + k})
        add("upload", "multipart, 4 jpeg files in one field", "POST", "/echo/gallery/upload",
            form_headers("chrome", "/echo/gallery/upload", "multipart/form-data; boundary=" + bnd,
                         cookie=django_cookie()), multipart={"boundary": bnd, "parts": parts})
    # multipart with only text fields (a form with enctype=multipart)
    for i in range(4):
        bnd = boundary(["firefox", "chrome", "safari", "requests"][i], i)
        parts = [{"name": "title", "value": PLAIN_POSTS[i][0]},
                 {"name": "body", "value": PLAIN_POSTS[i][1]},
                 {"name": "file", "filename": "", "content_type": "application/octet-stream",
                  "size": 0, "fill": "text", "seed": 0}]
        add("upload", "multipart form with an empty file input", "POST", "/echo/create",
            form_headers("firefox" if i == 0 else "chrome", "/echo/create",
                         "multipart/form-data; boundary=" + bnd, cookie=flask_session()),
            multipart={"boundary": bnd, "parts": parts})
    # raw uploads (PUT to a presigned-URL-like endpoint, tus-like PATCH)
    for i, (fill, size) in enumerate([("png", 300 * 1024), ("zip", 2 * MiB), ("pdf", 5 * MiB)]):
        ctype = FILLS[fill][0]
        add("upload", "raw PUT, %s, %s-like bytes" % (human(size), fill), "PUT",
            "/echo/api/blobs/%s" % rs(12).lower(), script_headers("requests", ctype),
            blob={"size": size, "fill": fill, "seed": 3000 + i})


def human(n):
    if n >= 1024 * 1024:
        return "%.1f MiB" % (n / 1048576)
    return "%d KiB" % max(1, n // 1024)


def chunked():
    """Bodies sent with Transfer-Encoding: chunked: what requests/httpx send
    for a generator, curl -T -, nginx-less mobile clients, streaming uploads."""
    for i in range(10):
        obj = {"seq": i, "items": [{"id": k, "name": words(2)} for k in range(R.randint(1, 40))],
               "note": "streamed by the client's generator"}
        tool = ["requests", "httpx", "go", "node", "okhttp"][i % 5]
        h = script_headers(tool, "application/json") + [["Transfer-Encoding", "chunked"]]
        add("chunked", "chunked JSON from %s" % tool, "POST", "/echo/api/ingest", h,
            body=json_body(obj), chunked=[R.choice([1, 7, 64, 512, 4096, 8192])])
    for i in range(6):
        h = script_headers("curl", "application/x-www-form-urlencoded") + \
            [["Transfer-Encoding", "chunked"]]
        add("chunked", "chunked form post (curl -H 'Transfer-Encoding: chunked' -d)", "POST",
            "/echo/create", h, body=form([("title", PLAIN_POSTS[i][0]), ("body", PLAIN_POSTS[i][1])]),
            chunked=[R.choice([3, 16, 100, 1000])])
    for i in range(6):
        size = [10 * 1024, 100 * 1024, 512 * 1024, 900 * 1024, 1536 * 1024, 3 * 1024 * 1024][i]
        fill = ["text", "csv", "zip", "png", "pdf", "mp4"][i]
        h = script_headers(["curl", "requests", "go"][i % 3], FILLS[fill][0]) + \
            [["Transfer-Encoding", "chunked"]]
        add("chunked", "chunked raw upload, %s, %s-like bytes" % (human(size), fill), "PUT",
            "/echo/api/blobs/stream-%d" % i, h, blob={"size": size, "fill": fill, "seed": 4000 + i},
            chunked=[R.choice([8192, 16384, 65536])])
    for i in range(6):
        bnd = boundary("requests", i)
        size = [2000, 40000, 300000, 800 * 1024, 2 * 1024 * 1024, 1200 * 1024][i]
        fill = ["csv", "png", "jpeg", "pdf", "zip", "png"][i]
        parts = [{"name": "kind", "value": "import"},
                 {"name": "file", "filename": "%s%s" % (R.choice(FILENAMES), FILLS[fill][1][0]),
                  "content_type": FILLS[fill][0], "size": size, "fill": fill, "seed": 5000 + i}]
        h = script_headers("requests", "multipart/form-data; boundary=" + bnd) + \
            [["Transfer-Encoding", "chunked"]]
        add("chunked", "chunked multipart upload, %s, %s-like bytes" % (human(size), fill),
            "POST", "/echo/upload", h, multipart={"boundary": bnd, "parts": parts},
            chunked=[R.choice([8192, 65536])])
    for i in range(4):
        lines = "".join(json.dumps({"ts": 1701684753 + k, "level": R.choice(["info", "warn"]),
                                    "msg": words(6)}) + "\n" for k in range(R.randint(5, 200)))
        h = script_headers("go", "application/x-ndjson") + [["Transfer-Encoding", "chunked"]]
        add("chunked", "chunked NDJSON log shipping", "POST", "/echo/api/logs/bulk", h,
            body=lines, chunked=[R.choice([100, 1024, 4096])])


# ------------------------------------------------- 5. headers and cookies

def referer_chains():
    """A visit: every page's Referer is the page before it, queries and all."""
    chains = [
        ["/echo/", "/echo/search?q=O%27Reilly+books", "/echo/books?publisher=O'Reilly&page=2",
         "/echo/books/fluent-python", "/echo/cart?add=9781492056355"],
        ["/echo/products?filter[brand]=acme&filter[price][lte]=100",
         "/echo/products?filter[brand]=acme&filter[price][lte]=100&sort=-rating",
         "/echo/products/acme-runner-2?ref=list&pos=3", "/echo/checkout"],
        ["/echo/?utm_source=newsletter&utm_medium=email&utm_campaign=black_friday_2023",
         "/echo/pricing?plan=pro&billing=yearly", "/echo/signup?plan=pro"],
        ["/echo/search?q=%22don%27t+panic%22", "/echo/quotes?author=Douglas+Adams",
         "/echo/quotes/42"],
        ["/echo/docs?q=os.system", "/echo/docs/python/subprocess#replacing-os-system",
         "/echo/docs/python/shlex"],
        ["/echo/tutorial/sql?q=SELECT+*+FROM+users", "/echo/tutorial/sql/where",
         "/echo/tutorial/sql/joins?from=where"],
        ["/echo/graphql?query={me{name}}", "/echo/graphiql", "/echo/docs/graphql"],
        ["/echo/search?q={a|b}", "/echo/search?q={a|b}&page=2", "/echo/item/77"],
        ["/echo/wiki/Z%C3%BCrich", "/echo/wiki/Z%C3%BCrich?action=history",
         "/echo/wiki/Z%C3%BCrich?diff=1234&oldid=1200"],
        ["/echo/calendar?range=[2023-12-01,2023-12-31]&view=month",
         "/echo/calendar/events/88?from=month", "/echo/calendar/events/88/edit"],
        ["/echo/forum/t/how-to-run-ls-from-python/123?u=ann",
         "/echo/forum/t/how-to-run-ls-from-python/123/4", "/echo/forum/u/ann"],
        ["/echo/login?next=%2Fadmin%2Fblog%2Fpost%2F%3Fstatus__exact%3Ddraft",
         "/echo/admin/blog/post/?status__exact=draft", "/echo/admin/blog/post/12/change/"],
    ]
    external = ["https://www.google.com/", "https://duckduckgo.com/",
                "https://www.bing.com/search?q=flask+tutorial&form=QBLH",
                "https://news.ycombinator.com/item?id=38512345",
                "https://www.reddit.com/r/Python/comments/18a9xyz/show_my_blog/",
                "https://t.co/AbCdEf123", "https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.org"
                "%2F&h=AT0xyz", "android-app://com.google.android.gm/"]
    for ci, chain in enumerate(chains):
        b = BROWSERS[ci % len(BROWSERS)]
        ck = cookie_jar()
        prev = external[ci % len(external)]
        for k, page in enumerate(chain):
            site = "cross-site" if k == 0 else "same-origin"
            add("referer", "visit %d step %d (Referer: previous page)" % (ci + 1, k + 1), "GET",
                page, nav_headers(b, referer=prev if k or ci % 2 == 0 else None, cookie=ck,
                                  site=site))
            prev = "http://{host}" + page
    # assets loaded by a page with a query, Referer carrying it
    for i, page in enumerate(["/echo/search?q=%22Fish+%26+Chips%22",
                              "/echo/products?filter[name]=x&a[]=1",
                              "/echo/search?q=select+all+that+apply",
                              "/echo/docs?q=curl+https%3A%2F%2Fx+%7C+sh"]):
        for asset, acc, dest in [("/echo/static/app.css", "text/css,*/*;q=0.1", "style"),
                                 ("/echo/static/app.js", "*/*", "script"),
                                 ("/echo/static/logo.png",
                                  "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
                                  "image")]:
            add("referer", "subresource of a page with a query", "GET", asset + "?v=3",
                [["Host", "{host}"], ["Connection", "keep-alive"]] + sec_ch("chrome") +
                [["User-Agent", UA["chrome"]], ["Accept", acc], ["Sec-Fetch-Site", "same-origin"],
                 ["Sec-Fetch-Mode", "no-cors"], ["Sec-Fetch-Dest", dest],
                 ["Referer", "http://{host}" + page], ["Accept-Encoding", "gzip, deflate, br"],
                 ["Accept-Language", "en-US,en;q=0.9"]])


def cookies():
    global R
    kinds = ["django"] * 10 + ["flask"] * 10 + ["none"] * 10
    for i, k in enumerate(kinds):
        b = BROWSERS[i % len(BROWSERS)]
        jar = cookie_jar(k)
        if not jar:
            jar = ga_cookie()
        add("cookies", "page view with %s cookies (%d)" % (k if k != "none" else "analytics/consent",
                                                           jar.count("=")),
            "GET", R.choice(["/echo/", "/echo/dashboard", "/echo/account", "/echo/blog/",
                             "/echo/cart"]), nav_headers(b, referer="http://{host}/echo/",
                                                         cookie=jar))
    # each consent format on its own
    for k in range(6):
        saved = R
        R = random.Random(777 + k)
        c = None
        while c is None or not c.startswith(["cc_cookie", "cookie_consent", "CookieConsent",
                                              "OptanonConsent", "cookieyes", "cookie-agreed"][k]):
            c = consent_cookie()
        R = saved
        add("cookies", "cookie consent banner cookie: %s" % c.split("=")[0], "GET", "/echo/",
            nav_headers(BROWSERS[k], cookie=c + "; " + ga_cookie()))
    # a big cookie header (many trackers)
    big = "; ".join([ga_cookie(), django_cookie(), consent_cookie()] + misc_cookies() +
                    ["_hjSession_%d=%s" % (R.randint(10**6, 10**7), rs(200, B64URL)),
                     "intercom-session-abc123=%s" % rs(180, B64URL),
                     "intercom-device-id-abc123=%s" % rs(36, "0123456789abcdef-"),
                     "mp_%s_mixpanel=%s" % (rs(32, "0123456789abcdef"),
                                            quote(json.dumps({"distinct_id": rs(20),
                                                              "$device_id": rs(20),
                                                              "$initial_referrer": "$direct"}),
                                                  safe=""))])
    add("cookies", "large Cookie header (%d bytes, trackers)" % len(big), "GET", "/echo/",
        nav_headers("chrome", cookie=big))
    # Flask session with flashes, as itsdangerous writes them
    for i in range(3):
        add("cookies", "Flask session cookie after a flash", "GET", "/echo/",
            nav_headers(BROWSERS[i + 3], referer="http://{host}/echo/create",
                        cookie=flask_session() + "; " + ga_cookie()))


def clients():
    """The same ordinary requests from every common client."""
    for tool in TOOLS:
        add("client", "GET from %s" % tool, "GET", "/echo/api/status", script_headers(tool))
        add("client", "GET with query from %s" % tool, "GET",
            "/echo/api/items?limit=10&offset=0&q=" + quote_plus("O'Reilly"), script_headers(tool))
    for b in BROWSERS:
        add("client", "page load from %s" % b, "GET", "/echo/", nav_headers(b))
        add("client", "XHR from %s" % b, "GET", "/echo/api/me", fetch_headers(b, "/echo/"))
    extra = [
        ("health check from a load balancer", [["Host", "{host}"],
                                               ["User-Agent", "ELB-HealthChecker/2.0"],
                                               ["Accept-Encoding", "gzip, compressed"],
                                               ["Connection", "close"]]),
        ("uptime monitor", [["Host", "{host}"], ["User-Agent", "Mozilla/5.0+(compatible; "
                                                               "UptimeRobot/2.0; http://www."
                                                               "uptimerobot.com/)"],
                            ["Accept", "*/*"], ["Cache-Control", "no-cache"]]),
        ("Googlebot", [["Host", "{host}"], ["Connection", "keep-alive"], ["Accept", "text/html,"
                                                                           "application/xhtml+xml"
                                                                           ",application/xml;q=0.9"
                                                                           ",*/*;q=0.8"],
                       ["From", "googlebot(at)googlebot.com"],
                       ["User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; "
                                      "+http://www.google.com/bot.html)"],
                       ["Accept-Encoding", "gzip, deflate, br"]]),
        ("Slack link preview", [["Host", "{host}"], ["User-Agent", "Slackbot-LinkExpanding 1.0 "
                                                                   "(+https://api.slack.com/robots)"],
                                ["Accept", "*/*"], ["Accept-Encoding", "gzip,deflate"],
                                ["Range", "bytes=0-32768"]]),
        ("conditional GET", nav_headers("chrome") + [["If-None-Match", "W/\"5e-1a2b3c\""],
                                                      ["If-Modified-Since",
                                                       "Mon, 04 Dec 2023 10:12:33 GMT"]]),
        ("range request for a video", [["Host", "{host}"], ["User-Agent", UA["safari"]],
                                       ["Accept", "*/*"], ["Range", "bytes=0-1"],
                                       ["Accept-Encoding", "identity"],
                                       ["X-Playback-Session-Id", "5E1A2B3C-4D5E-6F70-8192-A3B4C5D6E7F8"],
                                       ["Connection", "keep-alive"]]),
        ("behind a CDN (X-Forwarded-For chain)", nav_headers("firefox") + [
            ["X-Forwarded-For", "203.0.113.7, 198.51.100.23"], ["X-Forwarded-Proto", "https"],
            ["CF-Connecting-IP", "203.0.113.7"], ["CF-IPCountry", "DE"], ["CF-Ray", "82f3c1a2b3c4d5e6-FRA"],
            ["CDN-Loop", "cloudflare"]]),
        ("HTMX request", fetch_headers("chrome", "/echo/contacts", cookie=cookie_jar("django"),
                                       extra=[("HX-Request", "true"), ("HX-Trigger", "search"),
                                              ("HX-Target", "results"),
                                              ("HX-Current-URL", "http://{host}/echo/contacts?q=o%27")])),
        ("service worker fetch", [["Host", "{host}"], ["User-Agent", UA["chrome"]],
                                  ["Accept", "*/*"], ["Service-Worker", "script"],
                                  ["Sec-Fetch-Site", "same-origin"], ["Sec-Fetch-Mode", "same-origin"],
                                  ["Sec-Fetch-Dest", "serviceworker"],
                                  ["Referer", "http://{host}/echo/"], ["Accept-Encoding", "gzip, deflate, br"]]),
        ("Turbo/Hotwire prefetch", nav_headers("chrome", referer="http://{host}/echo/") +
         [["X-Sec-Purpose", "prefetch"], ["Purpose", "prefetch"]]),
        ("Sentry envelope (text/plain JSON lines)", script_headers("node", "text/plain;charset=UTF-8")),
        ("HTTP/1.0 client", [["Host", "{host}"], ["User-Agent", "ApacheBench/2.3"],
                             ["Accept", "*/*"]]),
    ]
    for note, h in extra:
        method, body = "GET", None
        target = "/echo/"
        if note.startswith("Sentry"):
            method = "POST"
            target = "/echo/api/1/envelope/?sentry_key=%s&sentry_version=7" % rs(32, "0123456789abcdef")
            body = ('{"event_id":"%s","sent_at":"2023-12-04T10:12:33.112Z"}\n{"type":"event"}\n'
                    '{"message":"TypeError: Cannot read properties of undefined (reading \'map\')",'
                    '"level":"error","platform":"javascript"}\n' % rs(32, "0123456789abcdef"))
        if note.startswith("range"):
            target = "/echo/media/intro.mp4"
        kw = {"body": body} if body is not None else {}
        if note.startswith("HTTP/1.0"):
            kw["version"] = "HTTP/1.0"
        add("client", note, method, target, h, **kw)


def main():
    browser_urls()
    unicode_urls()
    search_boxes()
    json_apis()
    graphql()
    flaskr_forms()
    rich_text()
    uploads()
    chunked()
    referer_chains()
    cookies()
    clients()
    text = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n"
                   for e in ENTRIES)
    if "--check" in sys.argv:
        if OUT.read_text(encoding="utf-8") != text:
            sys.exit("corpus.jsonl is stale: run tests/data/benign/gen.py")
        return
    OUT.write_text(text, encoding="utf-8")
    cats = {}
    for e in ENTRIES:
        cats[e["category"]] = cats.get(e["category"], 0) + 1
    print("%d requests: %s" % (len(ENTRIES), ", ".join("%s %d" % kv for kv in cats.items())),
          file=sys.stderr)


if __name__ == "__main__":
    main()
