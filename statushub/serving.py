"""The public site's front door: answer from the snapshot, before Django, its database, sessions or CSRF.

A GET or HEAD for a path the snapshot holds is answered here with a strong ETag (304 on match), a short public
max-age with stale-while-revalidate and stale-if-error, and no cookies. Anything else (the admin, compose
screens, the engineers' API, forms, a path the snapshot lacks) goes on to Django unchanged. When the database is
down, everything in the snapshot is still served.
"""

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from django.conf import settings

from statushub.lib import security_headers
from statushub.lib.snapshot_store import File, SnapshotUnavailable, headers_for, snapshot_store

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# The one query the snapshot cannot answer: a chain page further on is rendered on demand. Any other query
# string (cache busters, tracking tags) gets the snapshot's file.
_CHAIN = "/.well-known/statushub/chain.json"
# The open page polls ``_live/?v=<tag>``; its snapshot file names the tag of its own next poll.
_LIVE_TAG = re.compile(rb'hx-get="[^"?]*\?v=([0-9a-f]{16})"')


@lru_cache(maxsize=8192)
def _headers(path: str, site_url: str, hub: str, max_age: int) -> tuple[tuple[str, str], ...]:
    return tuple(headers_for(path, site_url=site_url, hub=hub, max_age=max_age))


_live_tags: dict[str, str | None] = {}


def _live_tag(found: File) -> str | None:
    """The tag a live region carries for its next poll, remembered by ETag (not by body: memory stays small)."""
    if found.etag not in _live_tags:
        if len(_live_tags) > 4096:
            _live_tags.clear()
        tag = _LIVE_TAG.search(found.body, 0, 4096)
        _live_tags[found.etag] = tag.group(1).decode() if tag else None
    return _live_tags[found.etag]


def _matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


def _accepts_gzip(accept_encoding: str) -> bool:
    for coding in accept_encoding.lower().split(","):
        name, _, params = coding.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _query_value(query: str, name: str) -> str | None:
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == name:
            return value
    return None


class SnapshotApp:
    """WSGI middleware: the snapshot first, Django for everything it does not hold."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        secure = security_headers.is_secure(environ)
        # Plain http with SSL redirect on: Django's SecurityMiddleware sends the reader to https.
        if (
            method in ("GET", "HEAD")
            and settings.STATUSHUB_SNAPSHOT_SERVING
            and (secure or not settings.SECURE_SSL_REDIRECT)
        ):
            answer = self.answer(environ, start_response, head=method == "HEAD", secure=secure)
            if answer is not None:
                return answer
        return self.app(environ, start_response)

    def answer(
        self, environ: dict[str, Any], start_response: StartResponse, *, head: bool, secure: bool = False
    ) -> list[bytes] | None:
        path = environ.get("PATH_INFO") or "/"
        query = environ.get("QUERY_STRING", "")
        if path == _CHAIN and _query_value(query, "after") is not None:
            return None
        try:
            found = snapshot_store().read(path)
        except (SnapshotUnavailable, ValueError):
            return None
        if found is None:
            return None
        compressed = found.gzipped is not None and _accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        etag = found.gzip_etag if compressed else found.etag
        site = (settings.STATUSHUB_SITE_URL, settings.STATUSHUB_WEBSUB_HUB, settings.STATUSHUB_PUBLIC_MAX_AGE)
        headers = [*_headers(path, *site), ("ETag", etag)]
        if secure:
            headers.extend(security_headers.transport_headers())
        if path.endswith("/_live/") and query and self._unchanged(query, found):
            # The open page polls with the tag it shows: nothing new → nothing to swap.
            start_response("204 No Content", [h for h in headers if h[0] != "Content-Type"])
            return []
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and _matches(if_none_match, etag):
            start_response("304 Not Modified", [h for h in headers if h[0] != "Content-Type"])
            return []
        body = found.gzipped if compressed and found.gzipped is not None else found.body
        if compressed:
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [] if head else [body]

    @staticmethod
    def _unchanged(query: str, found: File) -> bool:
        shown = _query_value(query, "v")
        return shown is not None and shown == _live_tag(found)
