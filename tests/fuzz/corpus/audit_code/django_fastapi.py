import pickle
import subprocess

import yaml
from fastapi import FastAPI

api = FastAPI()


def django_view(request, cursor):
    raw = request.body
    obj = pickle.loads(raw)  # expect: B301
    conf = yaml.load(request.POST["conf"])  # expect: B506
    name = request.GET.get("name")
    cursor.execute("SELECT * FROM t WHERE n = '%s'" % name)  # expect: B608:high
    return obj, conf


@api.get("/items/{item_id}")
def read_item(item_id: int, q: str = ""):
    subprocess.run(["/usr/bin/grep", q, "/srv/items"])  # expect: B603
    return item_id
