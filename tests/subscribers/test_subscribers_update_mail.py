"""An update's mail is rendered once and filled in per subscriber: each copy must be exactly what Django would
have built for that subscriber, on the wire as in a message object."""

import re
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from django.utils import timezone

from incidents import services as incident_services
from subscribers import update_mail
from subscribers.models import Subscriber
from subscribers.update_mail import UpdateMail, mail_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def update(make_incident, publisher):
    incident = make_incident(public=False, title="Payments <failing> & slow — EU")
    return incident_services.update_publish(
        incident=incident, author=publisher, status="identified", body="Refunds are **automatic**.",
        next_update_at=timezone.now() + timedelta(minutes=30), author_title="VP Engineering",
    )  # fmt: skip


def _subscriber(email: str) -> Subscriber:
    return Subscriber.objects.create(email=email, state="active", confirmed_at=timezone.now())


def _copy(mail: UpdateMail, subscriber: Subscriber, root_id: str | None = None):
    return mail.copy_for(
        subscriber_id=subscriber.pk, email=subscriber.email, token_nonce=subscriber.token_nonce,
        message_id=f"<update.x.{subscriber.pk}@localhost>", root_id=root_id,
    )  # fmt: skip


def _comparable(raw: bytes) -> bytes:
    boundary = re.search(rb'boundary="([^"]+)"', raw)
    assert boundary
    return re.sub(rb"(?m)^Date: .*$", b"Date: -", raw.replace(boundary.group(1), b"BOUNDARY"))


def _django_bytes(mail: UpdateMail, copy) -> bytes:
    return mail.message(copy).message().as_bytes(linesep="\r\n")


@pytest.mark.parametrize(
    ("email", "root_id"),
    [
        ("kim@example.com", None),
        ("kim@example.com", "<update.first.7@localhost>"),
        ("o'brien&co@example.com", None),  # HTML-escaped in the HTML part, as is in the text and headers
        ("kim@bücher.example", None),  # IDNA in the envelope and headers: Django builds it
        (f"{'k' * 64}@{'long-domain.' * 8}example.com", None),  # the To header folds: Django builds it
    ],
)
def test_each_copy_on_the_wire_is_what_django_would_send(update, email, root_id):
    subscriber = _subscriber(email)
    mail = UpdateMail(update)
    copy = _copy(mail, subscriber, root_id)

    recipient, raw = mail.wire(copy)

    assert _comparable(raw) == _comparable(_django_bytes(mail, copy))
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Message-ID"] == copy.message_id
    assert parsed.get("In-Reply-To") == root_id
    text = parsed.get_body(preferencelist=("plain",))
    assert text is not None and copy.manage_url in text.get_content()
    assert recipient == ("kim@xn--bcher-kva.example" if "ü" in email else email)


def test_a_plain_copy_is_filled_in_not_built(update, monkeypatch):
    mail = UpdateMail(update)
    first, second = _subscriber("a@example.com"), _subscriber("b@example.com")
    mail.wire(_copy(mail, first))  # checked once against Django's build
    monkeypatch.setattr(UpdateMail, "_django_wire", lambda *args: pytest.fail("built by Django"))

    _, raw = mail.wire(_copy(mail, second))

    assert b"To: b@example.com\r\n" in raw


def test_a_prototype_that_differs_from_djangos_build_is_not_used(update, monkeypatch, caplog):
    mail = UpdateMail(update)
    subscriber = _subscriber("a@example.com")
    monkeypatch.setattr(update_mail, "_comparable", lambda raw: raw)  # every build now differs (boundary)

    _, raw = mail.wire(_copy(mail, subscriber))
    _, again = mail.wire(_copy(mail, subscriber))

    assert "differs from Django" in caplog.text
    assert raw != again  # each built by Django, with its own boundary


def test_the_rendered_mail_is_reused_until_its_incident_changes(update):
    first = mail_for(update)
    assert mail_for(update) is first

    update.incident.title = "Payments recovered"
    update.incident.save()
    update.incident.refresh_from_db()

    renamed = mail_for(update)
    assert renamed is not first
    assert renamed.subject.endswith("Payments recovered")


def test_each_copy_carries_the_time_it_was_built_not_the_prototypes(update, monkeypatch):
    import time
    from email.utils import formatdate, mktime_tz, parsedate_tz

    mail = UpdateMail(update)
    first, second = _subscriber("a@example.com"), _subscriber("b@example.com")
    _, raw = mail.wire(_copy(mail, first))  # the prototype is built (and checked) now
    now = message_from_bytes(raw, policy=policy.default)["Date"]
    parsed = parsedate_tz(str(now))
    assert parsed is not None and abs(mktime_tz(parsed) - time.time()) < 5

    later = 1_900_000_000.0  # a retry, or a sweep half an hour on, in the same process
    monkeypatch.setattr(update_mail, "_now", lambda: later)
    _, retried = mail.wire(_copy(mail, second))
    monkeypatch.setattr(update_mail, "_now", lambda: later + 1800)
    _, swept = mail.wire(_copy(mail, second))

    assert f"\r\nDate: {formatdate(later)}\r\n".encode() in retried
    assert f"\r\nDate: {formatdate(later + 1800)}\r\n".encode() in swept
    assert swept.replace(formatdate(later + 1800).encode(), b"-") == retried.replace(
        formatdate(later).encode(), b"-"
    )


def _long_paragraph_update(make_incident, publisher):
    body = " ".join(["The payment processor rejected renewals from one region; we rerouted them."] * 25)
    assert len(body) > 998
    return incident_services.update_publish(
        incident=make_incident(public=False, title="Payments failing"), author=publisher, status="resolved",
        body=f"{body} Refunds = automatic, café.",
    )  # fmt: skip


@pytest.mark.parametrize(
    "root_id",
    [None, "<update.first.7@localhost>", f"<update.first.7@status.{'long-subdomain.' * 4}example.com>"],
)
def test_a_paragraph_over_998_characters_is_filled_in_quoted_printable(
    make_incident, publisher, monkeypatch, root_id
):
    mail = UpdateMail(_long_paragraph_update(make_incident, publisher))
    first, second = _subscriber("a@example.com"), _subscriber("b@example.com")
    copy = _copy(mail, first, root_id)
    _, raw = mail.wire(copy)  # checked once against Django's build
    assert b"Content-Transfer-Encoding: quoted-printable" in raw
    assert _comparable(raw) == _comparable(_django_bytes(mail, copy))

    expected = _django_bytes(mail, _copy(mail, second, root_id))
    monkeypatch.setattr(UpdateMail, "_django_wire", lambda *args: pytest.fail("built by Django"))
    _, raw = mail.wire(_copy(mail, second, root_id))

    assert _comparable(raw) == _comparable(expected)
    assert not mail.fallbacks
    text = message_from_bytes(raw, policy=policy.default).get_body(preferencelist=("plain",))
    assert text is not None and "Refunds = automatic, café." in text.get_content()


def test_a_message_id_longer_than_a_header_line_is_filled_in_folded(update, monkeypatch):
    mail = UpdateMail(update)
    long_id = f"<update.{'x' * 30}.{{}}@status.{'long-subdomain.' * 3}example.com>"
    first, second = _subscriber("a@example.com"), _subscriber("b@example.com")
    one = mail.copy_for(
        subscriber_id=first.pk, email=first.email, token_nonce=first.token_nonce,
        message_id=long_id.format(first.pk), root_id=long_id.format(0),
    )  # fmt: skip
    mail.wire(one)
    two = mail.copy_for(
        subscriber_id=second.pk, email=second.email, token_nonce=second.token_nonce,
        message_id=long_id.format(second.pk), root_id=long_id.format(0),
    )  # fmt: skip
    expected = _django_bytes(mail, two)
    monkeypatch.setattr(UpdateMail, "_django_wire", lambda *args: pytest.fail("built by Django"))

    _, raw = mail.wire(two)

    assert _comparable(raw) == _comparable(expected)
    assert f"Message-ID: \r\n {two.message_id}\r\n".encode() in raw


def test_each_reason_to_build_a_copy_in_full_is_counted_and_logged_once(update, caplog):
    mail = UpdateMail(update)
    for n in range(3):
        mail.wire(_copy(mail, _subscriber(f"kim{n}@bücher.example")))

    assert mail.fallbacks == {"an address that needs quoting or IDNA": 3}
    assert caplog.text.count("building copies with an address that needs quoting or IDNA") == 1
