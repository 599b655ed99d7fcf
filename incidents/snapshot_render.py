"""Rendering public URLs into files for the snapshot (``incidents/snapshot.py``): one path, a page with its live
region, an update's permalink page, and the files of the front page, the site-wide documents and one incident.

Each file is rendered by the very view that serves it dynamically, so the snapshot, an export and the dynamic
page cannot drift apart.
"""

import hashlib
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404
from django.test import RequestFactory
from django.urls import Resolver404, resolve, reverse
from django.utils.html import escape, strip_tags
from django.utils.text import Truncator

from incidents.documents import absolute
from incidents.models import Component, Incident, IncidentUpdate, SigningKey
from statushub.lib import public_cache

STATUSPAGE_API = (
    "summary",
    "status",
    "components",
    "incidents",
    "incidents-unresolved",
    "maintenances",
    "maintenances-upcoming",
    "maintenances-active",
)
_factory = RequestFactory()  # a bare GET request, no middleware: exactly what a public view gets


class RenderError(Exception):
    pass


def render(path: str) -> bytes | None:
    """The body the public view answers ``GET path`` with, or None when it answers 404."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    site = urlsplit(settings.STATUSHUB_SITE_URL or "http://localhost")
    # As if a visitor of the public address asked: nothing rendered may depend on who asks.
    request = _factory.get(path, HTTP_HOST=site.netloc, secure=site.scheme == "https")
    try:
        response = match.func(request, *match.args, **match.kwargs)
    except Http404:
        return None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise RenderError(f"{path} answered {response.status_code}")
    if response.streaming:  # a file (the favicon)
        try:
            return b"".join(response.streaming_content)
        finally:
            # Not response.close(): that sends request_finished, which closes this thread's database connection.
            if (stream := getattr(response, "file_to_stream", None)) is not None:
                stream.close()
    return bytes(response.content)


def _render_live_pair(page: str, live: str) -> dict[str, bytes]:
    """A page and its live region, both carrying the region's own digest as the poll tag."""
    placeholder = public_cache.SNAPSHOT_PLACEHOLDER.encode()
    page_body = live_body = None
    for _ in range(3):
        with public_cache.snapshot_rendering():
            page_body, live_body = render(page), render(live)
        if page_body is None or live_body is None:
            return {}
        # Rendered by two queries: if a change committed in between, the page would not contain its region.
        if live_body.strip() in page_body:
            break
    assert page_body is not None and live_body is not None
    tag = hashlib.sha256(live_body).hexdigest()[:16].encode()
    return {page: page_body.replace(placeholder, tag), live: live_body.replace(placeholder, tag)}


def update_permalink_page(update: IncidentUpdate) -> bytes:
    """``/updates/<id>/`` as a file: a static host cannot answer 302, so a page that forwards at once.

    Channels post this address, so it carries the link preview (Open Graph) that X, Slack or Facebook show.
    """
    target = reverse("status:incident", args=[update.incident_id]) + f"#update-{update.public_id}"
    url = escape(target)
    title = escape(f"{update.incident.title} · {settings.STATUSHUB_SITE_NAME} status")
    summary = escape(Truncator(strip_tags(update.body_html).strip()).chars(200))
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0; url={url}"><link rel="canonical" href="{escape(absolute(target))}">'
        f"<title>{title}</title>"
        f'<meta property="og:type" content="article"><meta property="og:title" content="{title}">'
        f'<meta property="og:description" content="{summary}">'
        f'<meta property="og:url" content="{escape(absolute(target))}">'
        f'<meta property="og:site_name" content="{escape(settings.STATUSHUB_SITE_NAME)}">'
        f'<meta name="twitter:card" content="summary"></head>'
        f'<body><p>{summary}</p><p><a href="{url}">Read this update on the status page</a></p></body></html>\n'
    ).encode()


def front_page() -> dict[str, bytes]:
    return _render_live_pair(reverse("status:page"), reverse("status:live"))


def site_wide() -> dict[str, bytes]:
    """Everything else not tied to one incident or one month: the API, the feeds, keys and the chain."""
    files: dict[str, bytes] = {}
    paths = [reverse(f"statuspage:{name}") for name in STATUSPAGE_API]
    paths += [reverse("feeds:history-atom"), reverse("feeds:history-rss")]
    for pk in Component.objects.order_by("pk").values_list("pk", flat=True):
        paths += [reverse("feeds:component-atom", args=[pk]), reverse("feeds:component-rss", args=[pk])]
    paths.append(reverse("status:keys"))
    paths.append(reverse("favicon"))  # asked of every host, whatever the pages link
    paths += [
        reverse("status:key-pem", args=[kid]) for kid in SigningKey.objects.values_list("kid", flat=True)
    ]
    for path in paths:
        body = render(path)
        if body is not None:
            files[path] = body
    return files


def incident_files(
    incident: Incident, *, first: Callable[[dict[str, bytes]], object] | None = None
) -> dict[str, bytes]:
    """Every file of one incident; ``first`` is handed its page and live region as soon as they are rendered."""
    pk = incident.pk
    files = _render_live_pair(
        reverse("status:incident", args=[pk]), reverse("status:incident-live", args=[pk])
    )
    if first is not None and files:
        first(dict(files))  # readers have this page open: it need not wait for every statement below
    for path in (
        reverse("status:incident-json", args=[pk]),
        reverse("feeds:incident-atom", args=[pk]),
        reverse("feeds:incident-rss", args=[pk]),
    ):
        body = render(path)
        if body is not None:
            files[path] = body
    for update in incident.updates.exclude(signature="").select_related("incident").order_by("pk"):
        files[reverse("status:update", args=[update.public_id])] = update_permalink_page(update)
        for name in ("status:update-statement", "status:update-json"):
            path = reverse(name, args=[update.public_id])
            body = render(path)
            if body is not None:
                files[path] = body
    return files
