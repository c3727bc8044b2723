# Data-flow cases: the same sinks with request data (high confidence, with a
# path) and with constants or sanitised values (lower confidence or nothing).
import os
import subprocess

from flask import Flask, request

app = Flask(__name__)
LIMIT = "10"


@app.route("/search")
def search(db):
    term = request.args.get("q", "")
    cleaned = term.strip().lower()
    sql = f"SELECT * FROM items WHERE name LIKE '%{cleaned}%'"  # expect: B608:high
    db.execute(sql)  # expect: MOAT-C110
    db.execute("SELECT * FROM items LIMIT " + LIMIT)  # expect: B608:medium
    count = int(request.args.get("n", "1"))
    db.execute("SELECT * FROM items LIMIT %d" % count)  # expect: B608:medium
    return sql


@app.route("/ping")
def ping():
    host = request.form["host"]
    cmd = "ping -c 1 {}".format(host)
    subprocess.call(cmd, shell=True)  # expect: B602:high
    os.system("ping -c 1 %s" % host)  # expect: B605:high
    fixed = "ping -c 1 localhost"
    os.system(fixed)  # expect: B605:medium
    return cmd


@app.route("/calc")
def calc():
    expr = request.values["expr"]
    result = eval(expr)  # expect: B307:high
    return str(eval("2 * 21")) + str(result)  # expect: B307:low


@app.route("/user/<int:uid>/<name>")
def user(uid, name):
    os.system("id " + str(uid))  # expect: B605:medium
    os.system("finger " + name)  # expect: B605:high
    return name


def helper(value):
    # not a route: its parameters are not request data
    os.system("echo " + value)  # expect: B605:medium
    return value
