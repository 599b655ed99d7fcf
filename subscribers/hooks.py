"""Webhook and Slack subscriptions: registration confirmed by the owner's e-mail, and delivery of each update.

A webhook gets JSON signed per Standard Webhooks (``webhook-id`` stable across retries, ``webhook-timestamp``,
``webhook-signature`` keyed with the ``whsec_`` secret shown once at registration); a Slack incoming webhook gets
``{"text": …}`` in mrkdwn. Transient failures retry with backoff; after ``STATUSHUB_HOOK_MAX_FAILURES``
failed attempts in a row, or at once when the receiver says it is gone, the subscription is disabled and its
owner is mailed why.
"""

import base64
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from incidents.documents import absolute, update_document
from incidents.models import Incident, IncidentUpdate
from integrations.slack import incoming as slack_incoming
from integrations.webhook import client as webhook_client
from integrations.webhook.client import sign
from statushub.lib import outbound, outbox
from statushub.lib.after_commit import after_commit
from statushub.lib.markdown_text import plain_text, slack_mrkdwn
from statushub.lib.outbound import OutboundError
from statushub.lib.outbox import backoff_seconds
from statushub.lib.secrets import decrypt_json, encrypt_json
from subscribers.models import HookDelivery, HookSubscription
from subscribers.services import Choice, normalise_email

logger = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=2)
TIMEOUT = 10.0
# https://api.slack.com/messaging/webhooks: the URL Slack gives when an app's incoming webhook is added.
SLACK_URL = re.compile(r"https://hooks\.slack\.com/(services|workflows|triggers)/[A-Za-z0-9_/-]+")


class HookTargetError(ValueError):
    pass


def _keys() -> list[str]:
    return list(settings.STATUSHUB_KEY_ENCRYPTION_KEYS)


def validate_target(kind: str, url: str) -> str:
    """The URL, checked: Slack's own webhook host for Slack; for webhooks an https address that is not inside
    a private network, so a stranger cannot make the server call inside its own network. A name is checked
    again on every send, when its address is known (``statushub.lib.outbound``)."""
    url = url.strip()
    if kind == HookSubscription.Kind.SLACK:
        if not SLACK_URL.fullmatch(url):
            raise HookTargetError(
                "That is not a Slack incoming-webhook URL: it starts with https://hooks.slack.com/services/."
            )
        return url
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise HookTargetError("Give the full address of your endpoint, starting with https://.") from exc
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if outbound.names_private_address(url) or host.endswith((".local", ".internal", ".home.arpa")):
        raise HookTargetError("That address is on a private network; give one the internet can reach.")
    # Plain http only to a network the settings allow (the demo's receivers on loopback).
    if parts.scheme != "https" and not outbound.in_allowed_network(host):
        raise HookTargetError("Use an https:// address: updates are only sent over TLS.")
    return url


def display_target(kind: str, url: str) -> str:
    """Enough of the URL to recognise it, and none of the parts that are commonly secret."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    segments = [segment for segment in parts.path.split("/") if segment]
    if kind == HookSubscription.Kind.SLACK:
        shown = "/".join(segments[:1])
        return f"https://{host}/{shown}/…"
    path = "/" + segments[0] + ("/…" if len(segments) > 1 else "") if segments else "/"
    return f"{parts.scheme}://{host}{path}"[:200]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def hook_target(subscription: HookSubscription) -> dict[str, str]:
    return {key: str(value) for key, value in decrypt_json(subscription.encrypted_target, _keys()).items()}


def enqueue_hook_delivery(delivery_id: int, countdown: float = 0) -> None:
    from subscribers.tasks import deliver_hook

    deliver_hook.apply_async(args=(delivery_id,), countdown=countdown)


def _enqueue_notice(subscription_id: int, notice: str) -> None:
    from subscribers.tasks import send_hook_notice

    send_hook_notice.delay(subscription_id, notice)


def _set_choice(subscription: HookSubscription, choice: Choice) -> None:
    subscription.all_components = choice.all_components or not choice.components
    subscription.save(update_fields=["all_components", "updated_at"])
    subscription.components.set([] if subscription.all_components else choice.components)


@dataclass
class Registration:
    subscription: HookSubscription
    secret: str  # shown once to whoever registered; "" for Slack


@transaction.atomic
def hook_register(*, kind: str, owner_email: str, url: str, choice: Choice) -> Registration:
    """A pending subscription; nothing is sent to the URL until its owner confirms by e-mail."""
    url = validate_target(kind, url)
    secret = new_secret() if kind == HookSubscription.Kind.WEBHOOK else ""
    subscription = HookSubscription.objects.create(
        kind=kind,
        owner_email=normalise_email(owner_email),
        target_display=display_target(kind, url),
        encrypted_target=encrypt_json({"url": url, "secret": secret}, _keys()),
    )
    _set_choice(subscription, choice)
    after_commit(partial(_enqueue_notice, subscription.pk, "confirm"), what="the confirmation call")
    return Registration(subscription, secret)


@transaction.atomic
def hook_confirm(*, subscription: HookSubscription) -> HookSubscription:
    subscription = HookSubscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.state == HookSubscription.State.PENDING:
        subscription.state = HookSubscription.State.ACTIVE
        subscription.confirmed_at = timezone.now()
        subscription.save(update_fields=["state", "confirmed_at", "updated_at"])
    return subscription


@transaction.atomic
def hook_set_choice(*, subscription: HookSubscription, choice: Choice) -> HookSubscription:
    subscription = HookSubscription.objects.select_for_update().get(pk=subscription.pk)
    _set_choice(subscription, choice)
    return subscription


@transaction.atomic
def hook_cancel(*, subscription: HookSubscription) -> HookSubscription:
    subscription = HookSubscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.state != HookSubscription.State.CANCELLED:
        subscription.state = HookSubscription.State.CANCELLED
        subscription.cancelled_at = timezone.now()
        subscription.save(update_fields=["state", "cancelled_at", "updated_at"])
    return subscription


@transaction.atomic
def hook_enable(*, subscription: HookSubscription) -> HookSubscription:
    """The owner fixed their endpoint: start again with a clean failure count (cancelled ones stay so)."""
    subscription = HookSubscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.state == HookSubscription.State.DISABLED:
        subscription.state = HookSubscription.State.ACTIVE
        subscription.consecutive_failures = 0
        subscription.disabled_at = None
        subscription.disabled_reason = ""
        subscription.save()
    return subscription


@transaction.atomic
def hook_rotate_secret(*, subscription: HookSubscription) -> str:
    subscription = HookSubscription.objects.select_for_update().get(pk=subscription.pk)
    target = hook_target(subscription)
    target["secret"] = new_secret()
    subscription.encrypted_target = encrypt_json(target, _keys())
    subscription.save(update_fields=["encrypted_target", "updated_at"])
    return target["secret"]


def _disable(subscription: HookSubscription, reason: str) -> None:
    now = timezone.now()
    changed = HookSubscription.objects.filter(pk=subscription.pk, state=HookSubscription.State.ACTIVE).update(
        state=HookSubscription.State.DISABLED, disabled_at=now, disabled_reason=reason[:300], updated_at=now
    )
    if changed:
        HookDelivery.objects.filter(subscription=subscription, state__in=HookDelivery.OPEN_STATES).exclude(
            state=HookDelivery.State.SENDING
        ).update(state=HookDelivery.State.SKIPPED, updated_at=now)
        after_commit(
            partial(_enqueue_notice, subscription.pk, "disabled"), what="the notice of a disabled hook"
        )


# --- delivery -----------------------------------------------------------------------------------------


def _document(update: IncidentUpdate) -> dict[str, Any]:
    incident = update.incident
    return {
        **update_document(update),
        "body_text": plain_text(update.body),
        "incident": {
            "id": str(incident.pk),
            "name": incident.title,
            "status": incident.status,
            "impact": incident.impact,
            "shortlink": absolute(reverse("status:incident", args=[incident.pk])),
        },
        "affected_components": update.affected_components or [],
        "url": absolute(reverse("status:update", args=[update.public_id])),
    }


def _slack_escape(text: str) -> str:
    # https://api.slack.com/reference/surfaces/formatting#escaping
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(update: IncidentUpdate) -> str:
    incident = update.incident
    body = slack_mrkdwn(update.body)
    url = absolute(reverse("status:update", args=[update.public_id]))
    status = Incident.Status(update.status).label
    title = _slack_escape(f"{settings.STATUSHUB_SITE_NAME}: {incident.title}")
    return f"*{title}* — {status}\n{body}\n— {_slack_escape(update.author_line)} · <{url}|Signed update>"


def build_request(
    subscription: HookSubscription, update: IncidentUpdate, target: dict[str, str]
) -> dict[str, Any]:
    headers = {"content-type": "application/json", "user-agent": "StatusHub/0.1 (+status page)"}
    if subscription.kind == HookSubscription.Kind.SLACK:
        return {"url": target["url"], "headers": headers, "body": json.dumps({"text": slack_text(update)})}
    now = timezone.now()
    body = json.dumps(
        {
            "type": "incident.update",
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": _document(update),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    msg_id = f"msg_{update.public_id}_{subscription.pk}"  # the same on every retry: receivers de-duplicate
    timestamp = int(now.timestamp())
    headers |= {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(target["secret"], msg_id, timestamp, body),
    }
    return {"url": target["url"], "headers": headers, "body": body}


def _post(subscription: HookSubscription, request: dict[str, Any]) -> None:
    """Through the webhook and Slack integrations' own wire code. Checked when connecting, not only at
    registration: a name can be pointed anywhere later."""
    if subscription.kind == HookSubscription.Kind.SLACK:
        slack_incoming.post_body(request["url"], request["body"], timeout=TIMEOUT)
    else:
        webhook_client.post(
            request["url"], request["body"], request["headers"], who="it",
            refused="the endpoint refused the update", timeout=TIMEOUT,
        )  # fmt: skip


@dataclass
class HookOutcome:
    state: str
    retry_in: float | None = None


def _claim(delivery_id: int) -> HookDelivery | None:
    with transaction.atomic():
        delivery = outbox.lock_open(
            HookDelivery.objects.select_related(
                "subscription", "update__incident", "update__signing_key", "update__corrects"
            ),
            delivery_id,
        )
        if delivery is None:
            return None
        if not delivery.subscription.is_active:
            outbox.write_fields(delivery, state=HookDelivery.State.SKIPPED)
            return None
        outbox.start_attempt(delivery)
        return delivery


def _finish(delivery: HookDelivery, state: str, **fields: Any) -> HookOutcome:
    outbox.write_fields(delivery, state=state, **fields)
    return HookOutcome(state)


def hook_attempt(delivery_id: int) -> HookOutcome | None:
    """Try one delivery once; None when there was nothing to do."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    subscription = delivery.subscription
    try:
        _post(subscription, build_request(subscription, delivery.update, hook_target(subscription)))
    except OutboundError as exc:
        return _failed(delivery, exc)
    except Exception as exc:  # a bug, or undecryptable secrets: stop this one, keep the log
        logger.exception("hook delivery %s failed unexpectedly", delivery.pk)
        return _failed(delivery, OutboundError(f"unexpected error ({type(exc).__name__})", permanent=True))
    HookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0, last_error="")
    return _finish(delivery, HookDelivery.State.DELIVERED, delivered_at=timezone.now(), last_error="")


def _failed(delivery: HookDelivery, exc: OutboundError) -> HookOutcome:
    subscription = delivery.subscription
    with transaction.atomic():
        HookSubscription.objects.filter(pk=subscription.pk).update(
            consecutive_failures=F("consecutive_failures") + 1, last_error=exc.message[:300]
        )
        subscription.refresh_from_db(fields=["consecutive_failures", "state"])
        limit = settings.STATUSHUB_HOOK_MAX_FAILURES
        if exc.gone:
            _disable(subscription, exc.message)
        elif subscription.consecutive_failures >= limit:
            _disable(
                subscription,
                f"{subscription.consecutive_failures} failed attempts in a row; the last: {exc.message}",
            )
        disabled = exc.gone or subscription.consecutive_failures >= limit
        if exc.permanent or disabled or delivery.attempts >= outbox.max_attempts("hook"):
            return _finish(
                delivery, HookDelivery.State.DEAD, last_error=exc.message[:300], next_attempt_at=None
            )
        wait = backoff_seconds(delivery.attempts, exc.retry_after)
        outcome = _finish(
            delivery, HookDelivery.State.FAILED, last_error=exc.message[:300],
            next_attempt_at=timezone.now() + timedelta(seconds=wait),
        )  # fmt: skip
    outcome.retry_in = wait
    return outcome


def hook_deliveries_sweep() -> int:
    """Re-queue hook deliveries a crash or a lost task left pending, sending or overdue."""
    now = timezone.now()
    stale = now - STUCK_AFTER
    interrupted = HookDelivery.objects.filter(state=HookDelivery.State.SENDING, updated_at__lt=stale)
    resumed = outbox.resume_interrupted(interrupted, limit=outbox.max_attempts("hook"), now=now)
    ids = list(
        HookDelivery.objects.filter(outbox.due(resumed, stale=stale)).values_list("pk", flat=True)[:1000]
    )
    for pk in ids:
        enqueue_hook_delivery(pk)
    return len(ids)
