"""``/hooks/mentions/<slug>/``: machines post mentions here. JSON in and out, no CSRF, no cookies, not cached."""

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from integrations.discourse.listener import DiscourseListener
from integrations.webhook.inbound import AuthError, check_signature
from mentions import inbound, polling, services
from mentions.models import MentionSource
from statushub.lib.middleware import mark_public

MAX_BODY = 1024 * 1024


def _json(status: int, data: dict[str, Any]) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Cache-Control"] = "no-store"
    mark_public(response)
    return response


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return _json(status, {"error": code, "detail": detail})


@csrf_exempt
def receive(request: HttpRequest, slug: str) -> HttpResponse:
    if request.method != "POST":
        response = _error(405, "method_not_allowed", "POST mentions here.")
        response["Allow"] = "POST"
        return response
    source = MentionSource.objects.filter(slug=slug, kind__in=["webhook", "discourse"]).first()
    if source is None:
        return _error(404, "unknown_source", "No mention source has this address.")
    if not source.enabled:
        return _error(403, "source_disabled", "This mention source is switched off.")
    length = request.headers.get("Content-Length") or "0"
    if not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY:
        return _error(413, "too_large", f"At most {MAX_BODY} bytes per request.")
    body = request.body
    secret = inbound.secret_of(source)
    if not secret:
        return _error(401, "no_secret", "Make this source a signing secret first (admin, Mention sources).")
    if source.kind == "discourse":
        return _discourse(request, source, body, secret)
    try:
        check_signature(
            request.headers,
            body,
            secret=secret,
            tolerance=settings.STATUSHUB_ALERTS_SIGNATURE_TOLERANCE_SECONDS,
        )
    except AuthError as exc:
        return _error(401, exc.code, str(exc))
    try:
        items = inbound.parse(json.loads(body))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "invalid_json", "The body is not JSON.")
    except inbound.Invalid as exc:
        return _error(422, "invalid_mention", str(exc))
    stored = services.ingest(items, source=source)
    return _json(200, {"received": len(items), "stored": len(stored), "duplicates": len(items) - len(stored)})


def _discourse(request: HttpRequest, source: MentionSource, body: bytes, secret: str) -> JsonResponse:
    """The forum's own webhook (Admin, API, Webhooks: "Post Event", content type JSON, this secret)."""
    listener = polling.listener_for(source)
    assert isinstance(listener, DiscourseListener)
    try:
        heard = listener.inbound_post(request.headers, body, secret)
    except PermissionError as exc:
        return _error(401, "invalid_signature", str(exc))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return _error(422, "invalid_post", f"Not a Discourse post event: {exc}")
    if heard is None:
        return _json(
            200,
            {
                "received": 0,
                "stored": 0,
                "duplicates": 0,
                "ignored": request.headers.get("X-Discourse-Event", ""),
            },
        )
    stored = services.ingest([services.Incoming.from_heard("discourse", heard)], source=source)
    return _json(200, {"received": 1, "stored": len(stored), "duplicates": 1 - len(stored)})
