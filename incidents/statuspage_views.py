"""Atlassian Statuspage's public v2 API under /api/v2/: what existing Statuspage readers fetch.

Public like the page (cookieless, cacheable, ETag + 304) and readable from any origin, as Statuspage's is,
so a browser widget on another site can show our status.
"""

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import condition

from incidents import statuspage as sp
from incidents import statuspage_selectors as selectors
from incidents.views import etag, public
from statushub.lib.middleware import mark_public

View = Callable[..., HttpResponse]


def _settings_tag() -> str:
    # Part of the ETag: a renamed page or a new time zone changes every document without any row changing.
    named = f"{settings.STATUSHUB_SITE_NAME}\0{settings.STATUSHUB_SITE_URL}\0{settings.STATUSHUB_TIME_ZONE}"
    return hashlib.sha256(named.encode()).hexdigest()[:8]


def _etag(request: HttpRequest, *args: Any, **kwargs: Any) -> str:
    return f"{etag(request)}-{_settings_tag()}"


def _cors(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    # Scripts may read the ETag to poll with If-None-Match themselves.
    response["Access-Control-Expose-Headers"] = "ETag"
    return response


def statuspage_api(view: View) -> View:
    """GET/HEAD with ETag + 304, public caching, no cookies, any origin; OPTIONS answers a CORS preflight."""
    cached = public(condition(etag_func=_etag)(view))

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response["Access-Control-Allow-Headers"] = "If-None-Match, Cache-Control"
            response["Access-Control-Max-Age"] = "86400"
            return _cors(mark_public(response))
        return _cors(cached(request, *args, **kwargs))

    return wrapper


def _json(data: dict[str, Any]) -> JsonResponse:
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False, "separators": (",", ":")})


def _page(tree: selectors.ComponentTree) -> dict[str, Any]:
    return sp.page_document(updated_at=selectors.page_updated_at(tree))


@statuspage_api
def summary(request: HttpRequest) -> HttpResponse:
    tree = selectors.component_tree()
    incidents = selectors.unresolved_incidents()
    maintenances = selectors.open_maintenances()
    at = sp.positions(tree)
    overall = selectors.page_status(tree, incidents=incidents, maintenances=maintenances)
    return _json(
        {
            "page": _page(tree),
            "components": sp.components_documents(tree),
            "incidents": [sp.incident_document(i, at=at) for i in incidents],
            "scheduled_maintenances": [sp.maintenance_document(m, at=at) for m in maintenances],
            "status": sp.status_document(overall),
        }
    )


@statuspage_api
def status(request: HttpRequest) -> HttpResponse:
    tree = selectors.component_tree()
    return _json({"page": _page(tree), "status": sp.status_document(selectors.page_status(tree))})


@statuspage_api
def components(request: HttpRequest) -> HttpResponse:
    tree = selectors.component_tree()
    return _json({"page": _page(tree), "components": sp.components_documents(tree)})


def _incidents(incidents: list[Any]) -> HttpResponse:
    tree = selectors.component_tree()
    at = sp.positions(tree)
    return _json({"page": _page(tree), "incidents": [sp.incident_document(i, at=at) for i in incidents]})


def _maintenances(maintenances: list[Any]) -> HttpResponse:
    tree = selectors.component_tree()
    at = sp.positions(tree)
    documents = [sp.maintenance_document(m, at=at) for m in maintenances]
    return _json({"page": _page(tree), "scheduled_maintenances": documents})


@statuspage_api
def incidents(request: HttpRequest) -> HttpResponse:
    return _incidents(selectors.recent_incidents())


@statuspage_api
def incidents_unresolved(request: HttpRequest) -> HttpResponse:
    return _incidents(selectors.unresolved_incidents())


@statuspage_api
def maintenances(request: HttpRequest) -> HttpResponse:
    return _maintenances(selectors.recent_maintenances())


@statuspage_api
def maintenances_upcoming(request: HttpRequest) -> HttpResponse:
    return _maintenances(selectors.upcoming_maintenances())


@statuspage_api
def maintenances_active(request: HttpRequest) -> HttpResponse:
    return _maintenances(selectors.active_maintenances())
