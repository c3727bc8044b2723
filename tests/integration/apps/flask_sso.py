"""A Flask app signed in by moat_identity.flask (integrations/python) with
Flask-Login when it is installed: the single sign-on tests. It has no login
form of its own; /login would be Flask-Login's, and must never be reached."""

import os

from flask import Flask, g, jsonify

from moat_identity.flask import MoatIdentity

app = Flask(__name__)
app.secret_key = os.urandom(32)  # Flask-Login flashes "please log in" into the session
app.config["MOAT_IDENTITY_SECRET"] = os.environ.get("MOAT_IDENTITY_SECRET", "")
moat = MoatIdentity(app)

try:
    from flask_login import LoginManager, current_user, login_required
except ImportError:  # the g.user half still runs
    LoginManager = None

if LoginManager:
    login_manager = LoginManager(app)
    login_manager.login_view = "login"
    moat.init_login_manager(login_manager)

    @app.route("/account")
    @login_required
    def account():
        return jsonify(user=current_user.get_id(), roles=sorted(current_user.roles))


@app.route("/login")
def login():
    return "the app's own login form (single sign-on failed)", 401


@app.route("/whoami")
def whoami():
    u = g.user
    return jsonify(user=u.name if u else None, roles=sorted(u.roles) if u else [],
                   mfa=bool(u and u.mfa), via=u.via if u else None,
                   flask_login=LoginManager is not None)


@app.route("/admin")
@moat.require(role="admin")
def admin():
    return jsonify(admin=g.user.name)
