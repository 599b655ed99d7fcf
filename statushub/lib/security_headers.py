"""The security headers every answer carries, whoever sends it: Django, the snapshot server, or nginx.

Django's middleware (SecurityMiddleware, XFrameOptionsMiddleware, django-csp) sends them for the pages it
renders; ``statushub/serving.py`` answers public URLs before that middleware runs, so every snapshot file carries
``HEADERS`` (``snapshot_store.headers_for``) and an answer over https ``transport_headers()`` too; the nginx configs in ``deploy/nginx`` spell the same values out (``tests/incidents/test_export.py`` compares them).
"""

import base64
import hashlib
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any

from django.conf import settings
from django.http import HttpResponse

# No inline script or style anywhere: everything the pages run or wear is a file under /static/. A reader's page
# never needs another origin. Images may be data: URLs (the admin's widgets draw some).
CSP_DIRECTIVES: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

CONTENT_SECURITY_POLICY = "; ".join(f"{name} {' '.join(values)}" for name, values in CSP_DIRECTIVES.items())
X_FRAME_OPTIONS = "DENY"
REFERRER_POLICY = "same-origin"

HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", X_FRAME_OPTIONS),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", REFERRER_POLICY),
)


def hsts_value(*, seconds: int, include_subdomains: bool, preload: bool) -> str:
    """Strict-Transport-Security as Django's SecurityMiddleware writes it."""
    value = f"max-age={seconds}"
    if include_subdomains:
        value += "; includeSubDomains"
    if preload:
        value += "; preload"
    return value


def is_secure(environ: dict[str, Any]) -> bool:
    """Whether a WSGI request came over https, trusting the proxy's header exactly as Django does."""
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, secure_value = proxy_header
        value = environ.get(name)
        if value is not None:
            return str(value).split(",", 1)[0].strip() == secure_value
    return environ.get("wsgi.url_scheme") == "https"


def transport_headers() -> list[tuple[str, str]]:
    """What an answer over https adds (HSTS, when configured); browsers ignore it over plain http anyway."""
    if not settings.SECURE_HSTS_SECONDS:
        return []
    value = hsts_value(
        seconds=settings.SECURE_HSTS_SECONDS,
        include_subdomains=settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,
        preload=settings.SECURE_HSTS_PRELOAD,
    )
    return [("Strict-Transport-Security", value)]


class _StyleAttributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.values.update(value for name, value in attrs if name == "style" and value)


def allow_style_attributes(response: HttpResponse, documents: Iterable[str]) -> HttpResponse:
    """Let exactly the style="" attributes of these HTML documents apply on this one page, by hash.

    For HTML mail shown in a sandboxed ``srcdoc`` frame: mail clients need inline styles, and such a frame inherits
    the page's policy. Nothing else inline is allowed, and no other style attribute."""
    parser = _StyleAttributes()
    for document in documents:
        parser.feed(document)
    if parser.values:
        hashes = sorted(
            f"'sha256-{base64.b64encode(hashlib.sha256(value.encode()).digest()).decode()}'"
            for value in parser.values
        )
        # What django-csp's @csp_update sets: added to this response's policy only.
        response._csp_update = {"style-src-attr": ["'unsafe-hashes'", *hashes]}  # type: ignore[attr-defined]
    return response
