"""POST /hooks/mentions/<slug>/: signed per Standard Webhooks, validated, stored once, no cookies."""

import hashlib
import hmac
import json
import time

import pytest

from integrations.webhook.transport import sign
from mentions import inbound
from mentions.models import Mention, MentionSource

pytestmark = pytest.mark.django_db

URL = "/hooks/mentions/brand24/"


@pytest.fixture
def source():
    s = MentionSource.objects.create(kind="webhook", name="Brand24", slug="brand24")
    return s, inbound.new_secret(s)


def _post(client, secret, body, *, msg_id="msg_1", stamp=None, signature=None):
    raw = json.dumps(body)
    stamp = int(time.time()) if stamp is None else stamp
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature or sign(secret, msg_id, stamp, raw),
    }
    return client.post(URL, raw, content_type="application/json", headers=headers)


def test_signed_mentions_are_stored_once_and_scored(client, source):
    src, secret = source
    body = {"mentions": [
        {"remote_id": "b24-1", "text": "Northwind checkout down again, I want a refund", "author_handle": "@kim",
         "followers": 5400, "url": "https://x.example/kim/1", "posted_at": "2026-12-03T09:12:00Z", "service": "x"},
        {"remote_id": "b24-2", "text": "northwind status page is nice"},
    ]}  # fmt: skip

    first = _post(client, secret, body)
    again = _post(client, secret, body, msg_id="msg_2")

    assert first.status_code == 200 and first.json() == {"received": 2, "stored": 2, "duplicates": 0}
    assert again.json() == {"received": 2, "stored": 0, "duplicates": 2}
    assert not first.cookies and first["Cache-Control"] == "no-store"
    kim = Mention.objects.get(remote_id="b24-1")
    # Stored as the webhook's own (a sender cannot take another service's post ids); where it was said is kept.
    assert (kim.service, kim.found_by, kim.source, kim.followers) == ("webhook", "webhook (x)", src, 5400)
    assert "refund" in kim.cues and kim.posted_at.isoformat() == "2026-12-03T09:12:00+00:00"
    assert Mention.objects.get(remote_id="b24-2").service == "webhook"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"signature": "v1,AAAA"}, "invalid_signature"),
        ({"stamp": 1_000_000}, "stale_timestamp"),
    ],
)
def test_an_unsigned_or_replayed_request_is_refused(client, source, change, code):
    _src, secret = source

    response = _post(client, secret, {"remote_id": "1", "text": "hi"}, **change)

    assert response.status_code == 401 and response.json()["error"] == code
    assert not Mention.objects.exists()


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"text": "no id"}, "mentions[0].remote_id is required"),
        (
            {"mentions": [{"remote_id": "1", "text": "x", "posted_at": "yesterday"}]},
            "mentions[0].posted_at must be",
        ),
        ({"remote_id": "1", "text": "x", "service": "myspace"}, "mentions[0].service must be one of"),
        ({"mentions": []}, "at least one"),
        ({"remote_id": "1", "text": "nul \u0000 inside"}, "mentions[0].text must not contain NUL"),
    ],
)
def test_a_signed_but_invalid_body_says_what_is_wrong_and_stores_nothing(client, source, body, detail):
    _src, secret = source

    response = _post(client, secret, body)

    assert response.status_code == 422 and detail in response.json()["detail"]
    assert not Mention.objects.exists()


def test_unknown_and_switched_off_sources(client, source):
    src, secret = source
    assert client.post("/hooks/mentions/nobody/", "{}", content_type="application/json").status_code == 404
    MentionSource.objects.filter(pk=src.pk).update(enabled=False)
    assert _post(client, secret, {"remote_id": "1", "text": "x"}).status_code == 403
    assert client.get(URL).status_code == 405


def test_the_secret_is_kept_encrypted(source):
    src, secret = source
    src.refresh_from_db()
    assert secret not in src.encrypted_secret and src.secret_hint == secret[:12] + "…"
    assert inbound.secret_of(src) == secret


def test_the_company_forums_webhook_is_heard_at_once(client):
    forum = MentionSource.objects.create(
        kind="discourse", name="Community", slug="community",
        config={"forum_url": "https://community.northwind.example"},
    )  # fmt: skip
    secret = inbound.new_secret(forum)
    body = json.dumps({"post": {"id": 7, "username": "ana", "raw": "Checkout down for anyone?",
                                "created_at": "2026-12-03T09:05:00Z", "topic_id": 5, "topic_slug": "outage"}})  # fmt: skip
    signature = "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    headers = {"X-Discourse-Event": "post_created", "X-Discourse-Event-Signature": signature}

    stored = client.post("/hooks/mentions/community/", body, content_type="application/json", headers=headers)
    forged = client.post(
        "/hooks/mentions/community/", body, content_type="application/json",
        headers={**headers, "X-Discourse-Event-Signature": "sha256=00"},
    )  # fmt: skip

    assert stored.status_code == 200 and stored.json()["stored"] == 1
    assert forged.status_code == 401
    mention = Mention.objects.get()
    assert (mention.service, mention.remote_id, mention.author_handle) == ("discourse", "7", "ana")
