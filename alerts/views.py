"""The webhook receivers: /hooks/alerts/<slug>/ for every kind of source.

Machines call these, so: JSON in and out, no CSRF token, no cookies, nothing cached. In order: the rate limit,
the source, the body's size, authentication, then the payload. Every authenticated body is kept as a receipt,
even when refused, so an operator can see what was sent and nothing is lost.
"""

import logging
from typing import Any, TypedDict

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django_ratelimit.core import is_ratelimited

from alerts import auth, payloads, services
from alerts.models import AlertReceipt, AlertSource
from incidents.documents import absolute
from statushub.lib.middleware import mark_public

log = logging.getLogger(__name__)

ALLOWED_METHODS = ("POST", "PUT")  # Grafana's webhook may be set to PUT


def _json(status: int, data: dict[str, Any], **headers: str) -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    # Strips any cookie other middleware might add: a machine's answer carries none.
    mark_public(response)
    return response


def _error(status: int, code: str, detail: str, **headers: str) -> JsonResponse:
    return _json(status, {"error": code, "detail": detail}, **headers)


class _Kept(TypedDict):
    """What every receipt keeps of the request."""

    source: AlertSource
    body: str
    content_type: str
    remote_addr: str | None


def _read_body(request: HttpRequest) -> bytes | None:
    """The body, or None when it is over the limit. Read with a bound, whatever Content-Length claims."""
    limit = settings.STATUSHUB_ALERTS_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _authenticate(request: HttpRequest, source: AlertSource, body: bytes) -> str:
    """Checks the request; for signed sources, returns the message id (``webhook-id``)."""
    if source.uses_signature:
        secret = services.source_credentials(source).get("signing_secret", "")
        if not secret:
            raise auth.AuthError(
                "no_secret", "This source has no signing secret yet: issue one in the admin."
            )
        return auth.check_signature(
            request, body, secret=secret, tolerance=settings.STATUSHUB_ALERTS_SIGNATURE_TOLERANCE_SECONDS
        )
    auth.check_token(request, expected_hash=source.token_hash)
    return ""


@csrf_exempt
def receive(request: HttpRequest, slug: str) -> HttpResponse:
    if request.method not in ALLOWED_METHODS:
        return _error(405, "method_not_allowed", "POST the alerts as JSON.", Allow=", ".join(ALLOWED_METHODS))
    if is_ratelimited(
        request, group=f"alerts:{slug[:50]}", key="ip", rate=settings.STATUSHUB_ALERTS_RATE, increment=True
    ):
        return _error(
            429, "rate_limited", "Too many requests for this alert source: slow down.", Retry_After="60"
        )
    source = AlertSource.objects.filter(slug=slug).first()
    if source is None:
        return _error(
            404, "unknown_source", "No alert source has this address: copy it again from the admin."
        )
    body = _read_body(request)
    if body is None:
        limit = settings.STATUSHUB_ALERTS_MAX_BODY_BYTES
        return _error(413, "too_large", f"The body is over {limit} bytes: send fewer alerts per request.")
    try:
        message_id = _authenticate(request, source, body)
    except auth.AuthError as exc:
        log.warning("Alert webhook for %s refused: %s", source.slug, exc.code)
        challenge = {} if source.uses_signature else {"WWW_Authenticate": 'Bearer realm="StatusHub alerts"'}
        return _error(401, exc.code, str(exc), **challenge)

    if message_id:
        # A signed request captured on the way could be replayed while its timestamp is still fresh: each
        # message id is taken once (for twice the tolerance, comfortably longer than it can be valid).
        window = 2 * settings.STATUSHUB_ALERTS_SIGNATURE_TOLERANCE_SECONDS
        if not cache.add(f"alerts:seen:{source.pk}:{message_id[:200]}", 1, timeout=window):
            return _json(200, {"status": "duplicate", "detail": "This message id was already received."})
    text = body.decode("utf-8", errors="replace")
    keep = _Kept(
        source=source,
        body=text.replace(
            "\x00", "\ufffd"
        ),  # PostgreSQL text cannot hold NUL; the receipt must still be kept
        content_type=request.content_type or "",
        remote_addr=request.META.get("REMOTE_ADDR") or None,
    )
    if not source.enabled:
        detail = "This alert source is disabled in StatusHub: enable it in the admin."
        receipt = services.receipt_refused(outcome=AlertReceipt.Outcome.DISABLED, error=detail, **keep)
        return _json(403, {"error": "source_disabled", "detail": detail, "receipt": receipt.pk})
    try:
        if "\x00" in text or "\\u0000" in text:
            raise payloads.PayloadError("The body contains NUL characters, which alerts cannot carry.")
        batch = payloads.parse(source.kind, body)
    except payloads.PayloadError as exc:
        receipt = services.receipt_refused(outcome=AlertReceipt.Outcome.REJECTED, error=str(exc), **keep)
        return _json(400, {"error": "invalid_payload", "detail": str(exc), "receipt": receipt.pk})

    outcome, receipt = services.alerts_receive(batch=batch, **keep)
    incident = outcome.incident
    return _json(
        200,
        {
            "status": "accepted",
            "receipt": receipt.pk,
            "opened": outcome.opened,
            "incident": {
                "id": incident.pk,
                "public": incident.is_public,
                "compose_url": absolute(reverse("manage:compose", args=[incident.pk])),
            }
            if incident is not None
            else None,
            "alerts": {
                "new": outcome.new,
                "repeated": outcome.repeated,
                "resolved": outcome.resolved,
                "ignored": outcome.ignored,
            },
        },
    )
