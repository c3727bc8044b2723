"""A FastAPI app signed in by moat_identity.starlette (integrations/python),
under uvicorn: the single sign-on tests. It has no login of its own.

    /whoami   the identity the middleware verified, and what Starlette's
              request.user / request.auth say
    /admin    the FastAPI dependency require(role="admin")
    /mfa      require(mfa=True)
    /scoped   Starlette's own @requires("admin", "mfa") on request.auth
    /ident    the identity() dependency (None when moat vouches for no one)
"""

import os

from fastapi import Depends, FastAPI, Request
from starlette.authentication import requires

from moat_identity.starlette import MoatIdentityMiddleware, identity, require

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
app.add_middleware(MoatIdentityMiddleware, secret=os.environ.get("MOAT_IDENTITY_SECRET", ""))


@app.get("/whoami")
def whoami(request: Request):
    u = request.user
    authed = u.is_authenticated
    return {"user": u.name if authed else None, "roles": sorted(u.roles) if authed else [],
            "mfa": bool(authed and u.mfa), "via": u.via if authed else None,
            "scopes": sorted(request.auth.scopes)}


@app.get("/admin")
def admin(ident=Depends(require(role="admin"))):
    return {"admin": ident.user}


@app.get("/mfa")
def mfa(ident=Depends(require(mfa=True))):
    return {"mfa": ident.user}


@app.get("/scoped")
@requires(["admin", "mfa"])
async def scoped(request: Request):
    return {"scoped": request.user.display_name}


@app.get("/ident")
def ident(i=Depends(identity)):
    return {"user": i.user if i else None, "groups": list(i.groups) if i else []}
