"""An ASGI app for hypercorn (Debian's python3-hypercorn), which, unlike
gunicorn, accepts `Upgrade: h2c` and then serves HTTP/2 streams on the same
connection: the upstream an h2c tunnel through a proxy would reach.

    /.../anything   JSON: the protocol version, method, path and the headers
                    the app saw
    /seen           every "METHOD PATH HTTP/x" that reached the app
"""

import json

_seen = []


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    while True:
        msg = await receive()
        if msg["type"] != "http.request" or not msg.get("more_body"):
            break
    path = scope["path"]
    if path == "/seen":
        body = json.dumps(_seen).encode()
    else:
        _seen.append("%s %s HTTP/%s" % (scope["method"], path, scope["http_version"]))
        body = json.dumps({
            "http_version": scope["http_version"],
            "method": scope["method"],
            "path": path,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        }).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
