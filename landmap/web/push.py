"""What the web app takes from push notifications (landmap.db.notify): the process's listener,
the caches of who is signed in and of zone codes, and read-your-writes for the caches.

A request that wrote (not GET/HEAD/OPTIONS, answered below 400) waits, before it answers,
until this process has heard every notification committed before it (Listener.sync): the
writer's next request to this process finds every cache told. And the writer is marked for a
few seconds (a cookie, which any server process reads, and, for scripts, by name in this
process) so that its map tiles are exact, never the previous version a low-zoom tile may be
served in while it is drawn again.
"""

from __future__ import annotations

import threading
import time

from flask import Flask, Response, current_app, g, request

from landmap.db.notify import Listener, PushCache
from landmap.web.db import READS

WROTE_COOKIE = "lm_wrote"
_writers: dict[str, float] = {}  # user name -> when they last wrote (monotonic), this process
_writers_lock = threading.Lock()


def listener() -> Listener | None:
    return current_app.extensions.get("landmap.push")


def cache(name: str) -> PushCache:
    return current_app.extensions[f"landmap.cache.{name}"]


def wrote_lately(user: str | None) -> bool:
    """Whether this client wrote within the tiles' grace for stale low zooms."""
    if WROTE_COOKIE in request.cookies:
        return True
    return wrote_here(user, current_app.extensions["landmap.settings"].tile_stale_seconds)


def wrote_here(user: str | None, seconds: float) -> bool:
    """Whether ``user`` wrote through this process within the grace (``seconds``) and one."""
    if not user:
        return False
    with _writers_lock:
        return time.monotonic() - _writers.get(user, -1e9) < seconds + 1


def _after_write(response: Response) -> Response:
    if request.method in READS or response.status_code >= 400:
        return response
    push = listener()
    if push is None:
        return response
    push.sync()
    seconds = current_app.extensions["landmap.settings"].tile_stale_seconds
    user = g.get("landmap_actor")
    if user:
        with _writers_lock:
            _writers[user] = time.monotonic()
            if len(_writers) > 10_000:
                _writers.clear()
    settings = current_app.extensions["landmap.settings"]
    response.set_cookie(
        WROTE_COOKIE,
        "1",
        max_age=max(int(seconds) + 1, 1),
        httponly=True,
        samesite="Lax",
        secure=settings.https,
    )
    return response


def init_app(app: Flask, push: Listener | None) -> None:
    app.extensions["landmap.push"] = push
    # who a token or a session cookie is: asked of the database on every request otherwise;
    # a minute at most (a session's "last seen" and idle end are kept by the minute)
    app.extensions["landmap.cache.auth"] = PushCache(push, ("auth",), ttl=60.0)
    app.extensions["landmap.cache.zones"] = PushCache(push, ("zones",), max_items=16, ttl=300.0)
    app.extensions["landmap.cache.register"] = PushCache(push, ("register",), ttl=60.0)
    app.after_request(_after_write)
