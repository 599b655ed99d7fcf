"""Webhook and Slack subscribers: registered by a customer, confirmed by the owner's mail, each update POSTed
(signed per Standard Webhooks, or as a Slack message), retried with backoff, disabled after repeated failures
with the owner told why. The receivers are answered by respx, asserting the exact request."""

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
import respx
from django.core import mail
from django.utils import timezone

from statushub.lib import outbound
from statushub.lib.outbound import OutboundError
from subscribers import hooks, sending
from subscribers.mail import token_for
from subscribers.models import HookDelivery, HookSubscription
from subscribers.tokens import Purpose
from tests.helpers import publish

pytestmark = pytest.mark.django_db

# What the receivers' host names resolve to (there is no DNS here): public, except the one that was "rebound".
DNS = {"hooks.example.com": "93.184.215.14", "rebound.example.com": "10.0.0.5"}


@pytest.fixture(autouse=True)
def _dns(monkeypatch):
    def resolve(host, port):
        if host not in DNS:
            raise OSError("Name or service not known")
        return [DNS[host]]

    monkeypatch.setattr(outbound, "resolve", resolve)


URL = "https://hooks.example.com/status/abc123"
SLACK = "https://hooks.slack.com/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX"


@contextmanager
def tasks_run_inline() -> Iterator[None]:
    from statushub.celery import app

    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


def _publish(incident, publisher, body="We found the cause.", status="identified"):
    return publish(incident, publisher, body, status, author_title="VP Engineering")


def _active(kind: str, url: str, secret: str = "") -> HookSubscription:
    registration = hooks.hook_register(kind=kind, owner_email="ops@example.com", url=url,
                                       choice=hooks.Choice())  # fmt: skip
    subscription = hooks.hook_confirm(subscription=registration.subscription)
    subscription.confirmed_at = timezone.now() - timedelta(days=1)
    subscription.save()
    subscription.secret = registration.secret  # type: ignore[attr-defined]
    return subscription


def _found(pattern: str | bytes, text: object) -> str:
    """The first group of ``pattern`` in a page or a mail body; fails the test if it is not there."""
    if isinstance(pattern, bytes):
        match_bytes = re.search(pattern, text if isinstance(text, bytes) else str(text).encode())
        assert match_bytes, text
        return match_bytes.group(1).decode()
    match = re.search(pattern, str(text))
    assert match, text
    return match.group(1)


def _verify(secret: str, request: httpx.Request) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = (
        f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.{request.content.decode()}"
    )
    expected = base64.b64encode(hmac.new(key, signed.encode(), hashlib.sha256).digest()).decode()
    return request.headers["webhook-signature"] == f"v1,{expected}"


@respx.mock
def test_a_webhook_is_registered_confirmed_by_its_owner_then_sent_signed_updates(
    client, make_incident, publisher, eager, django_capture_on_commit_callbacks
):
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            "/subscribe/hooks/webhook/", {"url": URL, "owner_email": "Ops@Example.com", "scope": "all"}
        )

    assert page.status_code == 200 and "no-store" in page["Cache-Control"] and not page.cookies
    secret = _found(rb'value="(whsec_[A-Za-z0-9+/=]+)"', page.content)
    subscription = HookSubscription.objects.get()
    assert (subscription.state, subscription.owner_email) == ("pending", "ops@example.com")
    assert subscription.target_display == "https://hooks.example.com/status/…"
    assert URL not in subscription.encrypted_target and secret not in subscription.encrypted_target
    [confirmation] = mail.outbox
    assert confirmation.to == ["ops@example.com"]

    before = _publish(make_incident(public=False), publisher)
    sending.fanout(before.pk)
    assert not HookDelivery.objects.exists() and not route.called  # nothing before the owner confirms

    confirm_path = _found(r"http://localhost:8000(/subscribe/hooks/confirm/\S+/)", confirmation.body)
    assert client.get(confirm_path).status_code == 200
    client.post(confirm_path)
    subscription.refresh_from_db()
    assert subscription.state == "active"

    update = _publish(make_incident(public=False, title="Payments failing"), publisher)
    sending.fanout(update.pk)

    [call] = route.calls
    request = call.request
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == f"msg_{update.public_id}_{subscription.pk}"
    assert abs(int(request.headers["webhook-timestamp"]) - timezone.now().timestamp()) < 60
    assert _verify(secret, request)
    body = json.loads(request.content)
    assert body["type"] == "incident.update"
    assert body["data"]["id"] == update.public_id and body["data"]["body"] == "We found the cause."
    assert body["data"]["incident"]["name"] == "Payments failing"
    assert body["data"]["author"] == {"name": "Priya Raman", "title": "VP Engineering"}
    assert body["data"]["signature"] == update.signature
    assert HookDelivery.objects.get(update=update).state == "delivered"


def test_private_plain_http_and_non_slack_urls_are_refused_with_a_clear_error(client, settings):
    settings.STATUSHUB_OUTBOUND_ALLOW_NETWORKS = []  # as in production (the tests' fakes are on loopback)
    for url, expected in [
        ("http://hooks.example.com/in", b"Use an https:// address"),
        ("https://127.0.0.1/in", b"private network"),
        ("https://10.1.2.3/in", b"private network"),
        ("https://metadata.internal/in", b"private network"),
        ("not a url", b"Give the full address"),
    ]:
        response = client.post(
            "/subscribe/hooks/webhook/", {"url": url, "owner_email": "ops@example.com", "scope": "all"}
        )
        assert response.status_code == 400 and expected in response.content, url
    slack = client.post(
        "/subscribe/hooks/slack/", {"url": "https://evil.example.com/services/x", "owner_email": "o@example.com",
                                    "scope": "all"},
    )  # fmt: skip
    assert slack.status_code == 400 and b"not a Slack incoming-webhook URL" in slack.content
    assert not HookSubscription.objects.exists()


@respx.mock
def test_a_failing_endpoint_is_retried_with_the_same_message_id_and_backoff(make_incident, publisher):
    route = respx.post(URL).mock(side_effect=[httpx.Response(503), httpx.Response(200)])
    subscription = _active("webhook", URL)
    update = _publish(make_incident(public=False), publisher)
    sending.fanout(update.pk)
    delivery = HookDelivery.objects.get()

    first = hooks.hook_attempt(delivery.pk)
    assert first is not None
    subscription.refresh_from_db()
    assert first.state == "failed" and first.retry_in and first.retry_in > 0
    assert subscription.consecutive_failures == 1 and "HTTP 503" in subscription.last_error

    second = hooks.hook_attempt(delivery.pk)
    assert second is not None

    subscription.refresh_from_db()
    delivery.refresh_from_db()
    assert (second.state, delivery.state, delivery.attempts) == ("delivered", "delivered", 2)
    assert subscription.consecutive_failures == 0
    ids = {call.request.headers["webhook-id"] for call in route.calls}
    assert len(route.calls) == 2 and len(ids) == 1
    assert all(_verify(subscription.secret, call.request) for call in route.calls)  # type: ignore[attr-defined]


@respx.mock
def test_repeated_failures_disable_the_subscription_and_tell_the_owner_why(
    make_incident, publisher, settings, django_capture_on_commit_callbacks, client
):
    settings.STATUSHUB_HOOK_MAX_FAILURES = 3
    respx.post(URL).mock(return_value=httpx.Response(500, text="database is down"))
    subscription = _active("webhook", URL)
    mail.outbox.clear()
    incident = make_incident(public=False)
    deliveries = []
    for n in range(2):
        update = _publish(incident, publisher, body=f"Update {n}")
        sending.fanout(update.pk)
        deliveries.append(HookDelivery.objects.get(update=update))

    with tasks_run_inline(), django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            hooks.hook_attempt(deliveries[0].pk)
        last = hooks.hook_attempt(deliveries[1].pk)
    assert last is not None

    subscription.refresh_from_db()
    assert last.state == "dead"
    assert subscription.state == "disabled"
    assert subscription.disabled_reason == "3 failed attempts in a row; the last: HTTP 500"
    assert HookDelivery.objects.get(pk=deliveries[0].pk).state == "skipped"  # its retry will not run
    [notice] = mail.outbox
    assert notice.to == ["ops@example.com"]
    assert "stopped" in notice.subject and "HTTP 500" in notice.body
    manage = _found(r"http://localhost:8000(/subscribe/hooks/manage/\S+/)", notice.body)

    client.post(manage, {"action": "enable"})

    subscription.refresh_from_db()
    assert (subscription.state, subscription.consecutive_failures) == ("active", 0)


@respx.mock
def test_an_endpoint_answering_410_gone_is_disabled_at_once(make_incident, publisher):
    respx.post(URL).mock(return_value=httpx.Response(410))
    subscription = _active("webhook", URL)
    update = _publish(make_incident(public=False), publisher)
    sending.fanout(update.pk)

    outcome = hooks.hook_attempt(HookDelivery.objects.get().pk)
    assert outcome is not None

    subscription.refresh_from_db()
    assert outcome.state == "dead" and subscription.state == "disabled"
    assert "410 Gone" in subscription.disabled_reason


@respx.mock
def test_slack_gets_the_update_as_escaped_mrkdwn(make_incident, publisher):
    route = respx.post(SLACK).mock(return_value=httpx.Response(200, text="ok"))
    subscription = _active("slack", SLACK)
    assert subscription.target_display == "https://hooks.slack.com/services/…"
    assert "XXXXXXXX" not in subscription.encrypted_target
    update = _publish(make_incident(public=False, title="Payments <failing>"), publisher,
                      body="Refunds are **automatic** & <b>fast</b>.")  # fmt: skip
    sending.fanout(update.pk)

    hooks.hook_attempt(HookDelivery.objects.get().pk)

    [call] = route.calls
    assert call.request.headers["content-type"] == "application/json"
    assert json.loads(call.request.content) == {
        "text": "*StatusHub: Payments &lt;failing&gt;* — Identified\n"
        "Refunds are *automatic* &amp; &lt;b&gt;fast&lt;/b&gt;.\n"
        f"— Priya Raman, VP Engineering · <http://localhost:8000/updates/{update.public_id}/|Signed update>"
    }
    assert HookDelivery.objects.get().state == "delivered"


@respx.mock
def test_a_slack_webhook_removed_from_its_workspace_disables_the_subscription(make_incident, publisher):
    respx.post(SLACK).mock(return_value=httpx.Response(404, text="no_service"))
    subscription = _active("slack", SLACK)
    update = _publish(make_incident(public=False), publisher)
    sending.fanout(update.pk)

    hooks.hook_attempt(HookDelivery.objects.get().pk)

    subscription.refresh_from_db()
    assert subscription.state == "disabled" and "no_service" in subscription.disabled_reason


def test_the_owner_can_make_a_new_secret_change_components_and_cancel(client, make_component):
    payments = make_component("Payments", group="Billing")
    subscription = _active("webhook", URL)
    path = f"/subscribe/hooks/manage/{token_for(subscription, Purpose.MANAGE)}/"

    page = client.get(path)
    assert page.status_code == 200 and b"hooks.example.com" in page.content
    assert subscription.secret.encode() not in page.content  # type: ignore[attr-defined]

    rotated = client.post(path, {"action": "rotate"})
    new_secret = _found(rb'value="(whsec_[A-Za-z0-9+/=]+)"', rotated.content)
    assert new_secret != subscription.secret  # type: ignore[attr-defined]
    subscription.refresh_from_db()
    assert hooks.hook_target(subscription)["secret"] == new_secret

    client.post(path, {"action": "save", "scope": "some", "components": [payments.pk]})
    subscription.refresh_from_db()
    assert not subscription.all_components and list(subscription.components.all()) == [payments]

    client.post(path, {"action": "cancel"})
    subscription.refresh_from_db()
    assert subscription.state == "cancelled"


def test_a_name_that_now_points_inside_a_private_network_is_not_called(settings):
    settings.STATUSHUB_OUTBOUND_ALLOW_NETWORKS = []
    request = {"url": "https://rebound.example.com/in", "body": "{}", "headers": {}}
    with pytest.raises(OutboundError) as refused:
        hooks._post(HookSubscription(kind="webhook"), request)  # checked when connecting: no respx here
    assert refused.value.permanent and refused.value.message == f"could not reach it: {outbound.UNREACHABLE}"
    with pytest.raises(hooks.HookTargetError):
        hooks.validate_target("webhook", "https://metadata.google.internal./x")  # the trailing dot trick
