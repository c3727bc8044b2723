"""A small FastAPI app to put moat in front of, under uvicorn (Debian's
python3-fastapi and uvicorn packages): the Flask example's pages, the ASGI way.

Pages: a home page, a guestbook form (GET + POST, SQLite), a JSON API
(/api/notes), an /admin page, and /healthz. It has no login of its own:
moat's portal logs users in and moat's rules guard /admin and /api/
(moat.toml). The app reads who the user is from the signed X-Moat-Identity
header, checked by moat_identity.starlette (in integrations/python) when
MOAT_IDENTITY_KEY names the shared key file; /admin also asks for the role
and the second factor itself (require), beside moat's rule. uvicorn's
--proxy-headers make request.client and the URL scheme come from moat's
X-Forwarded-* headers.

Run it alone:   uvicorn --app-dir examples/fastapi_app app:app
With moat:      make run APP=fastapi   (from the repository root)
"""

import html
import os
import sqlite3
import tempfile
import time
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

# The interactive docs (/docs) load their scripts from a CDN, which moat's
# default Content-Security-Policy refuses; the schema stays, behind /api/.
app = FastAPI(title="moat demo", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
HERE = os.path.dirname(os.path.abspath(__file__))
app.mount("/static", StaticFiles(directory=os.path.join(HERE, "static")), name="static")

# moat's signed identity, when the shared key is given (make run does).
try:
    from moat_identity.starlette import MoatIdentityMiddleware, require
except ImportError:  # integrations/python not on PYTHONPATH
    MoatIdentityMiddleware = None
_key_file = os.environ.get("MOAT_IDENTITY_KEY")
if MoatIdentityMiddleware and _key_file:
    with open(_key_file, encoding="utf-8") as f:
        app.add_middleware(MoatIdentityMiddleware, secret=f.read().strip())
    admin_check = [Depends(require(role="admin", mfa=True))]
else:
    admin_check = []  # moat's [[auth.rules]] still guard /admin

DB_PATH = os.environ.get("DEMO_DB") or os.path.join(tempfile.gettempdir(),
                                                    "moat-demo-fastapi.sqlite3")
MAX_MESSAGE = 500
MAX_FORM = 4096
e = html.escape


def page(request, title, body, status=200):
    return HTMLResponse("""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>%s · moat demo</title>
  <link rel="stylesheet" href="/static/style.css">
</head>
<body>
  <nav>
    <a href="/">Home</a>
    <a href="/guestbook">Guestbook</a>
    <a href="/api/notes">API</a>
    <a href="/admin">Admin</a>
  </nav>
  <h1>%s</h1>
%s
</body>
</html>""" % (e(title), e(title), body), status_code=status)


def user_of(request):
    """The user moat vouches for (MoatUser), or None."""
    u = request.scope.get("user")
    return u if u is not None and u.is_authenticated else None


# ------------------------------------------------------------------ storage

def db():
    conn = sqlite3.connect(DB_PATH, timeout=5)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("""CREATE TABLE IF NOT EXISTS entries (
                        id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                        message TEXT NOT NULL, created REAL NOT NULL)""")
    conn.execute("""CREATE TABLE IF NOT EXISTS notes (
                        id INTEGER PRIMARY KEY, text TEXT NOT NULL,
                        done INTEGER NOT NULL DEFAULT 0)""")
    return conn


async def form_of(request):
    """An application/x-www-form-urlencoded body (without python-multipart,
    which Debian 12 does not package)."""
    body = await request.body()
    if len(body) > MAX_FORM:
        return None
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


# -------------------------------------------------------------------- pages

@app.get("/", response_class=HTMLResponse)
def home(request: Request):
    u = user_of(request)
    if u:
        who = ('<strong id="who">%s</strong> (roles: %s; second factor: %s), from moat\'s '
               'signed <code>X-Moat-Identity</code> &mdash; <a href="/.moat/">your account, '
               'log out</a>' % (e(u.name), e(", ".join(sorted(u.roles)) or "none"),
                                "yes" if u.mfa else "no"))
    else:
        who = ('<span id="who">not logged in</span> &mdash; '
               '<a href="/.moat/login?rd=/">log in at moat\'s portal</a>')
    client = (request.client.host if request.client else None) or "-"
    return page(request, "moat demo", """
  <p>This is an ordinary FastAPI app running under uvicorn. Every request you
  make reaches it through <strong>moat</strong>.</p>
  <p>What the app sees of you, thanks to moat's <code>X-Forwarded-*</code>
  headers and uvicorn's <code>--proxy-headers</code>:</p>
  <ul>
    <li>who you are: %s</li>
    <li>your address: <code>%s</code></li>
    <li>scheme: <code>%s</code>, host: <code>%s</code></li>
    <li>User-Agent: <code>%s</code></li>
  </ul>
  <p>Try the <a href="/guestbook">guestbook</a> (a form with POST), the
  <a href="/api/notes">JSON API</a> or the <a href="/admin">admin page</a>.</p>
""" % (who, e(client), e(request.url.scheme), e(request.headers.get("host", "-")),
       e(request.headers.get("user-agent", "-"))))


def guestbook_page(request, error=None):
    conn = db()
    try:
        rows = conn.execute("SELECT name, message, created FROM entries "
                            "ORDER BY id DESC LIMIT 20").fetchall()
    finally:
        conn.close()
    entries = "".join(
        '<div class="entry"><div>%s</div><div class="meta">%s · %s</div></div>'
        % (e(r["message"]), e(r["name"]), time.strftime("%Y-%m-%d %H:%M UTC",
                                                         time.gmtime(r["created"])))
        for r in rows) or "<p>No entries yet.</p>"
    return page(request, "Guestbook", """
  <form method="post">
    <p><label>Name<br><input type="text" name="name" maxlength="80"></label></p>
    <p><label>Message<br>
      <textarea name="message" rows="4" maxlength="%d"></textarea></label></p>
    %s
    <p><button type="submit">Sign</button></p>
  </form>
  %s
""" % (MAX_MESSAGE, '<p class="error">%s</p>' % e(error) if error else "", entries),
        status=400 if error else 200)


@app.get("/guestbook", response_class=HTMLResponse)
def guestbook(request: Request):
    return guestbook_page(request)


@app.post("/guestbook", response_class=HTMLResponse)
async def sign_guestbook(request: Request):
    form = await form_of(request)
    if form is None:
        return guestbook_page(request, "The form is too large.")
    name = form.get("name", "").strip()[:80] or "anonymous"
    message = form.get("message", "").strip()
    if not message:
        return guestbook_page(request, "Please write a message.")
    if len(message) > MAX_MESSAGE:
        return guestbook_page(request, "Messages are at most %d characters." % MAX_MESSAGE)
    conn = db()
    try:
        conn.execute("INSERT INTO entries (name, message, created) VALUES (?, ?, ?)",
                     (name, message, time.time()))
        conn.commit()
    finally:
        conn.close()
    # Post/Redirect/Get: a reload does not post twice.
    return RedirectResponse("/guestbook", status_code=303)


# ---------------------------------------------------------------------- API

def note_json(row):
    return {"id": row["id"], "text": row["text"], "done": bool(row["done"])}


@app.get("/api/notes")
def list_notes():
    conn = db()
    try:
        rows = conn.execute("SELECT id, text, done FROM notes ORDER BY id").fetchall()
    finally:
        conn.close()
    return {"notes": [note_json(r) for r in rows]}


@app.post("/api/notes", status_code=201)
async def create_note(request: Request):
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str) \
            or not data["text"].strip():
        return JSONResponse({"error": "expected a JSON object with a non-empty \"text\""}, 400)
    conn = db()
    try:
        cur = conn.execute("INSERT INTO notes (text, done) VALUES (?, ?)",
                           (data["text"].strip()[:MAX_MESSAGE], int(bool(data.get("done")))))
        conn.commit()
        row = conn.execute("SELECT id, text, done FROM notes WHERE id = ?",
                           (cur.lastrowid,)).fetchone()
    finally:
        conn.close()
    return JSONResponse(note_json(row), 201, headers={"Location": "/api/notes/%d" % row["id"]})


@app.get("/api/notes/{note_id}")
def get_note(note_id: int):
    conn = db()
    try:
        row = conn.execute("SELECT id, text, done FROM notes WHERE id = ?",
                           (note_id,)).fetchone()
    finally:
        conn.close()
    if row is None:
        return JSONResponse({"error": "no such note"}, 404)
    return note_json(row)


@app.delete("/api/notes/{note_id}")
def delete_note(note_id: int):
    conn = db()
    try:
        gone = conn.execute("DELETE FROM notes WHERE id = ?", (note_id,)).rowcount
        conn.commit()
    finally:
        conn.close()
    if not gone:
        return JSONResponse({"error": "no such note"}, 404)
    return Response(status_code=204)


# -------------------------------------------------------------------- admin

@app.get("/admin", response_class=HTMLResponse, dependencies=admin_check)
def admin(request: Request):
    conn = db()
    try:
        stats = {
            "guestbook entries": conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0],
            "notes": conn.execute("SELECT COUNT(*) FROM notes").fetchone()[0],
            "uvicorn process pid": os.getpid(),
        }
    finally:
        conn.close()
    rows = "".join('<tr><th scope="row">%s</th><td>%s</td></tr>' % (e(k), e(str(v)))
                   for k, v in stats.items())
    return page(request, "Admin", """
  <p>Site statistics. This page has no login of its own: moat's access rules
  guard it (<code>[[auth.rules]]</code> with <code>policy = "role:admin+mfa"</code>:
  the role admin and a second factor), and the app checks the same again with
  <code>Depends(require(role="admin", mfa=True))</code> from
  <code>moat_identity.starlette</code>.</p>
  <table>%s</table>
  <form method="post" action="/admin/clear">
    <p><button type="submit">Clear the guestbook</button></p>
  </form>
""" % rows)


@app.post("/admin/clear", dependencies=admin_check)
def admin_clear():
    conn = db()
    try:
        conn.execute("DELETE FROM entries")
        conn.commit()
    finally:
        conn.close()
    return RedirectResponse("/admin", status_code=303)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
