"""The feeds over HTTP: public like the page (cookieless, cacheable, ETag → 304) with WebSub discovery headers."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import condition

from incidents import feeds
from incidents.models import Component, IncidentUpdate
from incidents.selectors import public_incidents
from incidents.views import etag, public


def _respond(scope: feeds.Scope, updates: list[IncidentUpdate], fmt: feeds.Format) -> HttpResponse:
    response = HttpResponse(feeds.render_feed(scope, updates, fmt), content_type=feeds.CONTENT_TYPES[fmt])
    response["Link"] = feeds.link_header(scope, fmt)
    return response


@public
@condition(etag_func=etag)
def page_feed(request: HttpRequest, fmt: feeds.Format) -> HttpResponse:
    return _respond(feeds.page_scope(), feeds.feed_updates(), fmt)


@public
@condition(etag_func=etag)
def component_feed(request: HttpRequest, pk: int, fmt: feeds.Format) -> HttpResponse:
    component = get_object_or_404(Component, pk=pk)
    return _respond(feeds.component_scope(component), feeds.feed_updates(component=component), fmt)


@public
@condition(etag_func=etag)
def incident_feed(request: HttpRequest, pk: int, fmt: feeds.Format) -> HttpResponse:
    incident = get_object_or_404(public_incidents(), pk=pk)
    return _respond(feeds.incident_scope(incident), feeds.feed_updates(incident=incident), fmt)
