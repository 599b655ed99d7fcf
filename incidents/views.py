"""The public status page: cacheable, cookieless, and cheap to poll."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import condition, require_safe

from incidents import selectors
from statushub.lib.middleware import mark_public
from statushub.lib.public_cache import public_version
from statushub.lib.snapshot_store import cache_control

View = Callable[..., HttpResponse]


def etag(request: HttpRequest, *args: Any, **kwargs: Any) -> str:
    # The day is part of the tag because the availability bars move at midnight UTC.
    return f"{public_version()}-{timezone.now():%Y%m%d}"


def public(view: View, *, polled: bool = False) -> View:
    """Public pages: GET/HEAD only, ETag + 304, shared-cache friendly, and never a cookie.

    ``polled``: what the open page polls gets no stale-while-revalidate, or a browser would answer each poll
    with the previous one from its cache and show a change one poll late.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = cache_control(settings.STATUSHUB_PUBLIC_MAX_AGE, polled=polled)
        return mark_public(response)

    return require_safe(wrapper)


def polled(view: View) -> View:
    return public(view, polled=True)


def _context(version: str, **extra: Any) -> dict[str, Any]:
    # ``version`` must be read before the page's queries: a change committed in between then makes the
    # next poll fetch again, instead of tagging old data with the new version.
    return {
        "site_name": settings.STATUSHUB_SITE_NAME,
        "poll_seconds": settings.STATUSHUB_POLL_SECONDS,
        "version": version,
        **extra,
    }


def _unchanged(request: HttpRequest) -> bool:
    return request.GET.get("v") == public_version()


@public
@condition(etag_func=etag)
def status_page(request: HttpRequest) -> HttpResponse:
    return render(request, "status/page.html", _context(public_version(), page=selectors.status_page()))


@polled
def status_live(request: HttpRequest) -> HttpResponse:
    """Polled by the open page: 204 (no swap) while nothing changed, else the fresh live region."""
    if _unchanged(request):
        return HttpResponse(status=204)
    return render(request, "status/_live.html", _context(public_version(), page=selectors.status_page()))


def _render_incident(request: HttpRequest, pk: int, template: str) -> HttpResponse:
    version = public_version()
    incident = get_object_or_404(selectors.with_timeline(selectors.public_incidents()), pk=pk)
    return render(
        request,
        template,
        _context(version, incident=incident, timeline=selectors.incident_timeline(incident)),
    )


@public
@condition(etag_func=etag)
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_incident(request, pk, "status/incident_detail.html")


@polled
def incident_live(request: HttpRequest, pk: int) -> HttpResponse:
    if _unchanged(request):
        return HttpResponse(status=204)
    return _render_incident(request, pk, "status/_incident_live.html")


@public
@condition(etag_func=etag)
def history_index(request: HttpRequest) -> HttpResponse:
    """This month's history, the same page as /history/<year>/<month>/ (no redirect: static hosts can't)."""
    now = timezone.now()
    return _history(request, now.year, now.month)


@public
@condition(etag_func=etag)
def history_month(request: HttpRequest, year: int, month: int) -> HttpResponse:
    return _history(request, year, month)


def _history(request: HttpRequest, year: int, month: int) -> HttpResponse:
    if not (1 <= month <= 12 and 2000 <= year <= 2100):
        raise Http404("No such month")
    return render(
        request,
        "status/history.html",
        _context(public_version(), history=selectors.history_month(year=year, month=month)),
    )
