"""Bounces and complaints reported through django-anymail disable the address; an unsubscribe mailed to the
mailto: address in List-Unsubscribe unsubscribes. Tested through anymail's signal and through real webhook
POSTs in the providers' own formats (Postmark, Mailgun)."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from anymail.signals import AnymailTrackingEvent, EventType, tracking
from django.utils import timezone

from subscribers.mail import token_for
from subscribers.models import Subscriber
from subscribers.tokens import Purpose

pytestmark = pytest.mark.django_db

SECRET = "postmark:s3cret-hook"
MAILGUN_KEY = "mailgun-signing-key"


@pytest.fixture
def kim() -> Subscriber:
    return Subscriber.objects.create(email="kim@example.com", state="active", confirmed_at=timezone.now())


@pytest.fixture
def anymail_on(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}


def _auth(credentials: str = SECRET) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


@pytest.mark.parametrize("event_type", [EventType.BOUNCED, EventType.COMPLAINED, EventType.REJECTED])
def test_a_bounce_complaint_or_rejection_disables_the_address(kim, event_type):
    event = AnymailTrackingEvent(
        event_type=event_type, recipient="Kim@Example.com", description="mailbox full"
    )

    tracking.send(sender=object, event=event, esp_name="Postmark")

    kim.refresh_from_db()
    assert kim.state == "disabled" and kim.disabled_at is not None
    assert kim.disabled_reason == f"Postmark reported {event_type}: mailbox full"


def test_a_deferral_or_delivery_changes_nothing(kim):
    for event_type in (EventType.DEFERRED, EventType.DELIVERED, EventType.OPENED):
        tracking.send(sender=object, event=AnymailTrackingEvent(event_type=event_type, recipient=kim.email),
                      esp_name="Postmark")  # fmt: skip
    kim.refresh_from_db()
    assert kim.state == "active"


def test_postmark_reports_a_hard_bounce_to_the_webhook(client, kim, anymail_on):
    payload = {
        "RecordType": "Bounce", "MessageStream": "outbound", "ID": 4323372036854775807, "Type": "HardBounce",
        "TypeCode": 1, "Name": "Hard bounce", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": "kim@example.com", "From": "status@northwind.example", "BouncedAt": "2026-11-23T16:33:54.9070259Z",
        "Inactive": True, "CanActivate": True, "Subject": "[Northwind] Payments failing",
    }  # fmt: skip
    url = "/subscribe/anymail/postmark/tracking/"

    forged = client.post(url, json.dumps(payload), content_type="application/json", **_auth("postmark:guess"))
    assert forged.status_code == 400
    kim.refresh_from_db()
    assert kim.state == "active"

    response = client.post(url, json.dumps(payload), content_type="application/json", **_auth())

    assert response.status_code == 200
    kim.refresh_from_db()
    assert kim.state == "disabled"
    assert kim.disabled_reason.startswith("Postmark reported bounced: The server was unable to deliver")


def test_postmark_reports_a_spam_complaint(client, kim, anymail_on):
    payload = {"RecordType": "SpamComplaint", "Type": "SpamComplaint", "TypeCode": 512, "ID": 42,
               "Email": "kim@example.com", "BouncedAt": "2026-11-23T16:33:54Z", "MessageID": "abc"}  # fmt: skip

    response = client.post(
        "/subscribe/anymail/postmark/tracking/",
        json.dumps(payload),
        content_type="application/json",
        **_auth(),
    )

    kim.refresh_from_db()
    assert response.status_code == 200 and kim.state == "disabled"


def test_mailgun_reports_a_permanent_failure_signed_with_its_key(client, kim, anymail_on):
    timestamp, token = str(int(time.time())), "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(MAILGUN_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    payload = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {
            "event": "failed", "severity": "permanent", "reason": "bounce", "recipient": "kim@example.com",
            "timestamp": time.time(), "id": "G9Bn5sl1TC6nu79C8C0bwg",
            "delivery-status": {"code": 550, "message": "5.1.1 No such user", "description": ""},
            "message": {"headers": {"message-id": "update.x.1@northwind.example"}},
        },
    }  # fmt: skip
    url = "/subscribe/anymail/mailgun/tracking/"
    tampered = json.loads(json.dumps(payload))
    tampered["signature"]["signature"] = "0" * 64

    assert (
        client.post(url, json.dumps(tampered), content_type="application/json", **_auth()).status_code == 400
    )
    response = client.post(url, json.dumps(payload), content_type="application/json", **_auth())

    kim.refresh_from_db()
    assert response.status_code == 200 and kim.state == "disabled"
    assert "5.1.1 No such user" in kim.disabled_reason


def test_the_webhooks_answer_404_until_a_shared_secret_is_configured(client, kim, settings):
    settings.ANYMAIL = {}
    payload = {"RecordType": "Bounce", "Type": "HardBounce", "Email": "kim@example.com", "ID": 1}

    response = client.post(
        "/subscribe/anymail/postmark/tracking/", json.dumps(payload), content_type="application/json"
    )

    kim.refresh_from_db()
    assert response.status_code == 404 and kim.state == "active"


def test_an_unsubscribe_mailed_to_the_mailto_address_unsubscribes(client, kim, anymail_on):
    token = token_for(kim, Purpose.UNSUBSCRIBE)
    payload = {
        "FromFull": {"Email": "kim@example.com", "Name": "Kim"},
        "ToFull": [{"Email": "status@northwind.example", "Name": ""}],
        "Subject": f"unsubscribe {token}", "TextBody": "", "HtmlBody": "", "Headers": [],
        "MessageID": "22c74902-a0c1-4511-804f2-341342852c90",
    }  # fmt: skip
    forged = {**payload, "Subject": f"unsubscribe {token[:-3]}abc"}

    client.post(
        "/subscribe/anymail/postmark/inbound/", json.dumps(forged), content_type="application/json", **_auth()
    )
    kim.refresh_from_db()
    assert kim.state == "active"

    response = client.post(
        "/subscribe/anymail/postmark/inbound/",
        json.dumps(payload),
        content_type="application/json",
        **_auth(),
    )

    kim.refresh_from_db()
    assert response.status_code == 200 and kim.state == "unsubscribed"


def test_an_address_that_complained_is_not_mailed_again_on_a_strangers_word(client, kim):
    from django.core import mail

    tracking.send(
        sender=object,
        event=AnymailTrackingEvent(event_type=EventType.COMPLAINED, recipient=kim.email),
        esp_name="Postmark",
    )
    response = client.post("/subscribe/", {"email": kim.email, "scope": "all"})
    assert response.status_code == 302  # the same answer as for anyone else
    kim.refresh_from_db()
    assert kim.state == "disabled" and mail.outbox == []
