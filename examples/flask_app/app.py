"""A small Flask app to put moat in front of: the kind of app moat is for.

Pages: a home page, a guestbook form (GET + POST, SQLite), a JSON API
(/api/notes), an /admin page, a /preferences page that sets cookies, and
/healthz. It has no login of its own: moat's portal logs users in and moat's
rules guard /admin and /api/ (moat.toml). The app only reads who the user is:
the signed X-Moat-Identity header, checked with moat_identity (in
integrations/python) when MOAT_IDENTITY_KEY names the shared key file. The
ProxyFix line every app behind a reverse proxy has makes request.remote_addr
and the URL scheme come from moat's X-Forwarded-* headers.

Run it alone:   gunicorn --bind 127.0.0.1:8000 app:app
With moat:      make run   (from the repository root)
"""

import os
import sqlite3
import tempfile
import time

from flask import (Flask, abort, g, jsonify, redirect, render_template_string, request,
                   url_for)
from werkzeug.middleware.proxy_fix import ProxyFix

app = Flask(__name__)
# One proxy (moat) in front: trust one hop of X-Forwarded-For/-Proto/-Host/-Port.
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)

# moat's signed identity, when the shared key is given (make run does).
try:
    from moat_identity.flask import MoatIdentity
except ImportError:  # integrations/python not on PYTHONPATH
    MoatIdentity = None
_key_file = os.environ.get("MOAT_IDENTITY_KEY")
if MoatIdentity and _key_file:
    with open(_key_file, encoding="utf-8") as f:
        app.config["MOAT_IDENTITY_SECRET"] = f.read().strip()
    MoatIdentity(app)  # g.user: the user moat vouches for, or None

DB_PATH = os.environ.get("DEMO_DB") or os.path.join(tempfile.gettempdir(), "moat-demo.sqlite3")
MAX_MESSAGE = 500

LAYOUT = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ title }} · moat demo</title>
  <link rel="stylesheet" href="{{ url_for('static', filename='style.css') }}">
</head>
<body class="{{ theme }}">
  <nav>
    <a href="{{ url_for('home') }}">Home</a>
    <a href="{{ url_for('guestbook') }}">Guestbook</a>
    <a href="{{ url_for('list_notes') }}">API</a>
    <a href="{{ url_for('preferences') }}">Preferences</a>
    <a href="{{ url_for('admin') }}">Admin</a>
  </nav>
  <h1>{{ title }}</h1>
  {{ body | safe }}{# rendered and escaped by page() #}
</body>
</html>"""


def page(title, body_template, **context):
    body = render_template_string(body_template, **context)
    return render_template_string(LAYOUT, title=title, body=body,
                                  theme=request.cookies.get("theme", "light"))


# ------------------------------------------------------------------ storage

def db():
    if "db" not in g:
        g.db = sqlite3.connect(DB_PATH, timeout=5)
        g.db.row_factory = sqlite3.Row
        g.db.execute("PRAGMA journal_mode=WAL")
        g.db.execute("""CREATE TABLE IF NOT EXISTS entries (
                            id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                            message TEXT NOT NULL, created REAL NOT NULL)""")
        g.db.execute("""CREATE TABLE IF NOT EXISTS notes (
                            id INTEGER PRIMARY KEY, text TEXT NOT NULL,
                            done INTEGER NOT NULL DEFAULT 0)""")
    return g.db


@app.teardown_appcontext
def close_db(_exc):
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


# -------------------------------------------------------------------- pages

@app.get("/")
def home():
    return page("moat demo", """
  <p>This is an ordinary Flask app running under gunicorn. Every request you
  make reaches it through <strong>moat</strong>.</p>
  <p>What the app sees of you, thanks to moat's <code>X-Forwarded-*</code>
  headers and the app's <code>ProxyFix</code>:</p>
  <ul>
    <li>who you are:
      {% if g.get('user') %}<strong id="who">{{ g.user.name }}</strong>
        (roles: {{ g.user.roles | sort | join(', ') or 'none' }}; second factor:
        {{ 'yes' if g.user.mfa else 'no' }}), from moat's signed <code>X-Moat-Identity</code>
        &mdash; <a href="/.moat/">your account, log out</a>
      {% elif request.headers.get('Remote-User') %}<strong id="who">{{ request.headers['Remote-User'] }}</strong>
        (moat's <code>Remote-User</code> header) &mdash; <a href="/.moat/">your account, log out</a>
      {% else %}<span id="who">not logged in</span> &mdash;
        <a href="/.moat/login?rd=/">log in at moat's portal</a>{% endif %}</li>
    <li>your address: <code>{{ request.remote_addr }}</code></li>
    <li>scheme: <code>{{ request.scheme }}</code>, host: <code>{{ request.host }}</code></li>
    <li>User-Agent: <code>{{ request.user_agent.string or '-' }}</code></li>
  </ul>
  <p>Try the <a href="{{ url_for('guestbook') }}">guestbook</a> (a form with POST),
  the <a href="{{ url_for('list_notes') }}">JSON API</a>, the
  <a href="{{ url_for('admin') }}">admin page</a> or the
  <a href="{{ url_for('preferences') }}">preferences</a> (sets a cookie).</p>
""")


@app.route("/guestbook", methods=["GET", "POST"])
def guestbook():
    error = None
    if request.method == "POST":
        name = request.form.get("name", "").strip()[:80] or "anonymous"
        message = request.form.get("message", "").strip()
        if not message:
            error = "Please write a message."
        elif len(message) > MAX_MESSAGE:
            error = "Messages are at most %d characters." % MAX_MESSAGE
        else:
            conn = db()
            conn.execute("INSERT INTO entries (name, message, created) VALUES (?, ?, ?)",
                         (name, message, time.time()))
            conn.commit()
            # Post/Redirect/Get: a reload does not post twice.
            return redirect(url_for("guestbook"), code=303)
    entries = db().execute(
        "SELECT name, message, created FROM entries ORDER BY id DESC LIMIT 20").fetchall()
    return page("Guestbook", """
  <form method="post">
    <p><label>Name<br><input type="text" name="name" maxlength="80"></label></p>
    <p><label>Message<br>
      <textarea name="message" rows="4" maxlength="{{ max }}"></textarea></label></p>
    {% if error %}<p class="error">{{ error }}</p>{% endif %}
    <p><button type="submit">Sign</button></p>
  </form>
  {% for e in entries %}
    <div class="entry"><div>{{ e['message'] }}</div>
      <div class="meta">{{ e['name'] }} · {{ e['created'] | ts }}</div></div>
  {% else %}
    <p>No entries yet.</p>
  {% endfor %}
""", entries=entries, error=error, max=MAX_MESSAGE), (400 if error else 200)


@app.template_filter("ts")
def _ts(value):
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(value))


# ---------------------------------------------------------------------- API

def note_json(row):
    return {"id": row["id"], "text": row["text"], "done": bool(row["done"])}


@app.get("/api/notes")
def list_notes():
    rows = db().execute("SELECT id, text, done FROM notes ORDER BY id").fetchall()
    return jsonify({"notes": [note_json(r) for r in rows]})


@app.post("/api/notes")
def create_note():
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("text"), str) \
            or not data["text"].strip():
        return jsonify({"error": "expected a JSON object with a non-empty \"text\""}), 400
    conn = db()
    cur = conn.execute("INSERT INTO notes (text, done) VALUES (?, ?)",
                       (data["text"].strip()[:MAX_MESSAGE], int(bool(data.get("done")))))
    conn.commit()
    row = conn.execute("SELECT id, text, done FROM notes WHERE id = ?",
                       (cur.lastrowid,)).fetchone()
    return jsonify(note_json(row)), 201, {"Location": url_for("get_note", note_id=row["id"])}


@app.get("/api/notes/<int:note_id>")
def get_note(note_id):
    row = db().execute("SELECT id, text, done FROM notes WHERE id = ?", (note_id,)).fetchone()
    if row is None:
        return jsonify({"error": "no such note"}), 404
    return jsonify(note_json(row))


@app.delete("/api/notes/<int:note_id>")
def delete_note(note_id):
    conn = db()
    if conn.execute("DELETE FROM notes WHERE id = ?", (note_id,)).rowcount == 0:
        return jsonify({"error": "no such note"}), 404
    conn.commit()
    return "", 204


# ------------------------------------------------------------ admin, cookies

@app.get("/admin")
def admin():
    conn = db()
    stats = {
        "guestbook entries": conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0],
        "notes": conn.execute("SELECT COUNT(*) FROM notes").fetchone()[0],
        "gunicorn worker pid": os.getpid(),
    }
    return page("Admin", """
  <p>Site statistics. This page has no login of its own: moat's access rules
  guard it (<code>[[auth.rules]]</code> with <code>policy = "role:admin+mfa"</code>:
  the role admin and a second factor), without a line changed here.</p>
  <table>{% for k, v in stats.items() %}
    <tr><th align="left">{{ k }}</th><td>{{ v }}</td></tr>
  {% endfor %}</table>
  <form method="post" action="{{ url_for('admin_clear') }}">
    <p><button type="submit">Clear the guestbook</button></p>
  </form>
""", stats=stats)


@app.post("/admin/clear")
def admin_clear():
    conn = db()
    conn.execute("DELETE FROM entries")
    conn.commit()
    return redirect(url_for("admin"), code=303)


THEMES = ("light", "dark")


@app.route("/preferences", methods=["GET", "POST"])
def preferences():
    if request.method == "POST":
        theme = request.form.get("theme", "light")
        if theme not in THEMES:
            abort(400)
        resp = redirect(url_for("preferences"), code=303)
        # Set the way many apps do: no Secure flag (the app itself runs on
        # plain HTTP behind the proxy). moat's cookie stage can harden it.
        resp.set_cookie("theme", theme, max_age=365 * 24 * 3600, samesite="Lax")
        resp.set_cookie("visited_preferences", "1", httponly=True)
        return resp
    return page("Preferences", """
  <form method="post">
    <p>Theme:
    {% for t in themes %}
      <label><input type="radio" name="theme" value="{{ t }}"
                    {{ 'checked' if t == current else '' }}> {{ t }}</label>
    {% endfor %}</p>
    <p><button type="submit">Save</button></p>
  </form>
  <p class="meta">Saving sets the <code>theme</code> cookie.</p>
""", themes=THEMES, current=request.cookies.get("theme", "light"))


@app.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})
