"""The public e-mail subscription pages: subscribe with double opt-in, manage, one-click unsubscribe."""

import re
import time

import pytest
from django.core import mail
from django.utils import timezone

from subscribers.mail import token_for
from subscribers.models import Subscriber
from subscribers.tokens import Purpose

pytestmark = pytest.mark.django_db


@pytest.fixture
def components(make_component):
    return {name: make_component(name, group=group) for name, group in
            [("Payments", "Billing"), ("Invoicing", "Billing"), ("Public API", "Core")]}  # fmt: skip


def _subscribe(client, django_capture_on_commit_callbacks, **data):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post("/subscribe/", {"scope": "all", **data})


def _link(text: object, kind: str) -> str:
    match = re.search(rf"http://localhost:8000(/subscribe/{kind}/[^/\s]+/)", str(text))
    assert match, text
    return match.group(1)


def test_the_form_is_linked_from_the_status_page_public_cacheable_and_sets_no_cookie(client, components):
    page = client.get("/")
    assert b'href="/subscribe/"' in page.content

    response = client.get("/subscribe/")

    assert response.status_code == 200
    assert not response.cookies
    assert "public" in response["Cache-Control"]
    for name in ("Payments", "Invoicing", "Public API", "Billing"):
        assert name.encode() in response.content
    assert client.get("/subscribe/", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_subscribing_sends_one_confirmation_and_nothing_counts_until_the_link_is_posted(
    client, components, eager, django_capture_on_commit_callbacks
):
    response = _subscribe(
        client, django_capture_on_commit_callbacks,
        email=" Alex@Example.COM ", scope="some", components=[components["Payments"].pk],
    )  # fmt: skip

    assert response.status_code == 302 and response["Location"] == "/subscribe/sent/"
    assert not response.cookies
    subscriber = Subscriber.objects.get()
    assert (subscriber.email, subscriber.state) == ("alex@example.com", "pending")
    assert [c.name for c in subscriber.components.all()] == ["Payments"]
    [sent] = mail.outbox
    assert sent.to == ["alex@example.com"]
    assert "Confirm" in sent.subject
    assert "updates about Payments" in sent.body
    confirm_path = _link(sent.body, "confirm")

    page = client.get(confirm_path)  # what a mail scanner following links would do
    assert page.status_code == 200 and b"Confirm subscription" in page.content
    assert "no-store" in page["Cache-Control"] and page["Referrer-Policy"] == "no-referrer"
    subscriber.refresh_from_db()
    assert subscriber.state == "pending"

    confirmed = client.post(confirm_path)
    subscriber.refresh_from_db()
    assert subscriber.state == "active" and subscriber.confirmed_at is not None
    assert confirmed.status_code == 302 and "/subscribe/manage/" in confirmed["Location"]
    assert b"Confirmed" in client.get(confirmed["Location"]).content


def test_asking_for_a_subscribed_address_looks_the_same_and_mails_its_manage_link(
    client, components, eager, django_capture_on_commit_callbacks
):
    existing = Subscriber.objects.create(
        email="kim@example.com", state="active", confirmed_at=timezone.now(), all_components=False
    )
    existing.components.set([components["Invoicing"]])

    new = _subscribe(client, django_capture_on_commit_callbacks, email="new@example.com")
    again = _subscribe(client, django_capture_on_commit_callbacks, email="KIM@example.com")

    assert (again.status_code, again["Location"], dict(again.cookies)) == (
        new.status_code, new["Location"], dict(new.cookies),
    )  # fmt: skip
    assert client.get(again["Location"]).content == client.get(new["Location"]).content
    assert [m.to for m in mail.outbox] == [["new@example.com"], ["kim@example.com"]]
    reminder = mail.outbox[1]
    assert "already subscribed" in reminder.subject
    assert "/subscribe/manage/" in reminder.body and "/subscribe/unsubscribe/" in reminder.body
    existing.refresh_from_db()
    assert existing.state == "active" and not existing.all_components  # a stranger changed nothing
    assert [c.name for c in existing.components.all()] == ["Invoicing"]
    assert Subscriber.objects.count() == 2


def test_a_lapsed_address_must_confirm_again(client, components, eager, django_capture_on_commit_callbacks):
    Subscriber.objects.create(email="old@example.com", state="unsubscribed", confirmed_at=timezone.now())

    _subscribe(client, django_capture_on_commit_callbacks, email="old@example.com")

    assert Subscriber.objects.get().state == "pending"
    assert "Confirm" in mail.outbox[0].subject


def test_bad_input_gets_a_clear_error_and_keeps_what_was_typed(client, components):
    response = client.post("/subscribe/", {"email": "not-an-address", "scope": "some"})

    assert response.status_code == 400
    assert b"Enter a valid email address" in response.content
    assert b"Choose at least one component" in response.content
    assert b'value="not-an-address"' in response.content
    assert not response.cookies
    assert Subscriber.objects.count() == 0 and not mail.outbox


def test_subscribing_is_rate_limited_per_address_and_per_ip(client, components, settings):
    settings.STATUSHUB_SUBSCRIBE_RATE_ADDRESS = "2/h"
    settings.STATUSHUB_SUBSCRIBE_RATE_IP = "4/h"

    codes = [
        client.post("/subscribe/", {"email": "a@example.com", "scope": "all"}).status_code for _ in range(3)
    ]
    assert codes == [302, 302, 429]
    other = client.post("/subscribe/", {"email": "b@example.com", "scope": "all"})
    assert other.status_code == 302  # a different address is not held up by a's limit
    limited = client.post("/subscribe/", {"email": "c@example.com", "scope": "all"})
    assert limited.status_code == 429  # the fifth request from this IP
    assert int(limited["Retry-After"]) > 0
    assert b"Too many requests" in limited.content
    from_elsewhere = client.post(
        "/subscribe/", {"email": "c@example.com", "scope": "all"}, REMOTE_ADDR="203.0.113.9"
    )
    assert from_elsewhere.status_code == 302


def test_the_manage_link_changes_components_and_unsubscribes(client, components):
    subscriber = Subscriber.objects.create(
        email="kim@example.com", state="active", confirmed_at=timezone.now()
    )
    path = f"/subscribe/manage/{token_for(subscriber, Purpose.MANAGE)}/"

    page = client.get(path)
    assert page.status_code == 200 and b"kim@example.com" in page.content and not page.cookies

    rejected = client.post(path, {"action": "save", "scope": "some"})
    assert rejected.status_code == 400 and b"Choose at least one component" in rejected.content
    saved = client.post(
        path, {"action": "save", "scope": "some", "components": [components["Public API"].pk]}
    )
    assert saved.status_code == 200 and b"Saved" in saved.content
    subscriber.refresh_from_db()
    assert not subscriber.all_components
    assert [c.name for c in subscriber.components.all()] == ["Public API"]

    client.post(path, {"action": "unsubscribe"})
    subscriber.refresh_from_db()
    assert subscriber.state == "unsubscribed"
    assert b"Subscribe again" in client.get(path).content

    client.post(path, {"action": "resubscribe"})
    subscriber.refresh_from_db()
    assert subscriber.state == "active"


def test_one_click_unsubscribe_works_without_a_page_csrf_token_or_cookie(components):
    from django.test import Client

    subscriber = Subscriber.objects.create(
        email="kim@example.com", state="active", confirmed_at=timezone.now()
    )
    path = f"/subscribe/unsubscribe/{token_for(subscriber, Purpose.UNSUBSCRIBE)}/"
    mail_client = Client(enforce_csrf_checks=True)

    page = mail_client.get(path)
    subscriber.refresh_from_db()
    assert page.status_code == 200 and b"Unsubscribe?" in page.content
    assert subscriber.state == "active"  # opening the link changes nothing

    response = mail_client.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    subscriber.refresh_from_db()
    assert response.status_code == 200 and not response.cookies
    assert subscriber.state == "unsubscribed" and subscriber.unsubscribed_at is not None
    assert mail_client.post(path, "List-Unsubscribe=One-Click",
                            content_type="application/x-www-form-urlencoded").status_code == 200  # fmt: skip


def test_links_cannot_be_forged_reused_for_another_purpose_or_kept_past_expiry(
    client, components, monkeypatch
):
    subscriber = Subscriber.objects.create(email="kim@example.com", state="pending")
    unsubscribe = token_for(subscriber, Purpose.UNSUBSCRIBE)

    assert client.get(f"/subscribe/manage/{unsubscribe}/").status_code == 404
    assert client.get(f"/subscribe/unsubscribe/{unsubscribe[:-2]}xx/").status_code == 404
    assert client.post(f"/subscribe/confirm/{unsubscribe}/").status_code == 404

    real_time = time.time
    monkeypatch.setattr(
        time, "time", lambda: real_time() - 73 * 3600
    )  # django.core.signing reads time.time()
    old = token_for(subscriber, Purpose.CONFIRM)
    monkeypatch.setattr(time, "time", real_time)
    expired = client.post(f"/subscribe/confirm/{old}/")
    assert expired.status_code == 410 and b"expired" in expired.content
    subscriber.refresh_from_db()
    assert subscriber.state == "pending"

    subscriber.token_nonce = "rotated"
    subscriber.save()
    assert client.get(f"/subscribe/unsubscribe/{unsubscribe}/").status_code == 404
