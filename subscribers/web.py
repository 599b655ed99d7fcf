"""What every subscription page shares: no cookies, rate limits, and the signed links that identify a row."""

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django_ratelimit.core import get_usage

from statushub.lib.middleware import mark_public

logger = logging.getLogger(__name__)


def cookieless(response: HttpResponse) -> HttpResponse:
    """Strip any cookie (the pages need none: the signed link is the credential)."""
    return mark_public(response)


def private(response: HttpResponse) -> HttpResponse:
    """A page reached through someone's personal link: never cached or indexed, and the link never leaks
    to another site through the Referer header."""
    patch_cache_control(response, private=True, no_store=True, max_age=0)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return cookieless(response)


def page(
    request: HttpRequest, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    context = {"site_name": settings.STATUSHUB_SITE_NAME, **(context or {})}
    return render(request, template, context, status=status)


def rate_limited(request: HttpRequest, *, group: str, rate: str, key: str | Callable[..., str]) -> int | None:
    """Count this request; seconds to wait if it is over ``rate``, else None. A broken cache lets it through
    (and says so in the log) rather than taking subscriptions down with it."""
    try:
        usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    except Exception:
        logger.warning("rate limit cache unavailable for %s; not limiting", group, exc_info=True)
        return None
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, int(usage["time_left"]))


def too_many(request: HttpRequest, wait: int) -> HttpResponse:
    response = page(request, "subscribers/too_many.html", {"minutes": max(1, round(wait / 60))}, status=429)
    response["Retry-After"] = str(wait)
    return private(response)


def bad_link(request: HttpRequest, *, expired: bool = False, again_url: str = "") -> HttpResponse:
    response = page(
        request,
        "subscribers/bad_link.html",
        {"expired": expired, "again_url": again_url},
        status=410 if expired else 404,
    )
    return private(response)
