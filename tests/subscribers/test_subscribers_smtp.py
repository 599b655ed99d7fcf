"""Mail through a real SMTP server (aiosmtpd on loopback): one connection per batch, refusals stay per
message, and a real Celery worker mails a published update that the subscriber then leaves in one click."""

import smtplib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from incidents import services as incident_services
from subscribers import sending
from subscribers.models import MailDelivery, Subscriber

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@dataclass
class Sink:
    """Records every message and the SMTP session (connection) it came over."""

    port: int = 0
    received: list[tuple[int, EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    defer: dict[str, str] = field(default_factory=dict)  # address -> a temporary (4xx) refusal
    pipelining: bool = False  # advertise RFC 2920 PIPELINING, as Postfix, SES or Postmark do
    close_after: int | None = None  # answer 421 (closing) to the message after this many

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        if address in self.defer:
            return self.defer[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.close_after is not None and len(self.received) >= self.close_after:
            return "421 4.3.2 Shutting down"
        self.received.append((id(session), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted"

    @property
    def connections(self) -> int:
        return len({session for session, _ in self.received})

    def recipients(self) -> list[str]:
        return sorted(str(message["To"]) for _, message in self.received)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sink() -> Iterator[Sink]:
    handler = Sink(port=_free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def smtp_settings(settings, sink):
    settings.EMAIL_BACKEND = SMTP_BACKEND
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return settings


def _subscribers(count: int) -> list[Subscriber]:
    confirmed = timezone.now() - timedelta(days=1)
    return [
        Subscriber.objects.create(email=f"s{n}@example.com", state="active", confirmed_at=confirmed)
        for n in range(count)
    ]


def _write_deliveries(make_incident, publisher) -> list[int]:
    update = incident_services.update_publish(
        incident=make_incident(public=False), author=publisher, status="investigating", body="Looking."
    )
    sending.fanout(update.pk)  # not eager: the batches are only queued
    return list(MailDelivery.objects.filter(update=update).order_by("pk").values_list("pk", flat=True))


@pytest.mark.django_db
def test_a_batch_goes_over_one_smtp_connection(smtp_settings, sink, make_incident, publisher):
    _subscribers(5)
    ids = _write_deliveries(make_incident, publisher)

    first = sending.send_batch(ids[:3])
    second = sending.send_batch(ids[3:])

    assert (first.sent, second.sent) == (3, 2)
    assert sink.recipients() == [f"s{n}@example.com" for n in range(5)]
    assert sink.connections == 2
    sessions = [session for session, _ in sink.received]
    assert sessions[0] == sessions[1] == sessions[2] != sessions[3] == sessions[4]
    assert set(MailDelivery.objects.values_list("state", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_a_refused_address_fails_alone_and_an_unreachable_server_is_retried(
    smtp_settings, sink, make_incident, publisher
):
    _subscribers(3)
    sink.refuse = {"s1@example.com"}
    ids = _write_deliveries(make_incident, publisher)

    outcome = sending.send_batch(ids)

    states = dict(MailDelivery.objects.values_list("subscriber__email", "state"))
    assert states == {"s0@example.com": "sent", "s1@example.com": "dead", "s2@example.com": "sent"}
    assert "550" in MailDelivery.objects.get(subscriber__email="s1@example.com").last_error
    assert (outcome.sent, outcome.retry_in) == (2, None)

    MailDelivery.objects.filter(subscriber__email="s2@example.com").update(state="pending")
    smtp_settings.EMAIL_PORT = _free_port()  # nobody listens there
    down = sending.send_batch(ids)
    failed = MailDelivery.objects.get(subscriber__email="s2@example.com")
    assert down.retry_in and down.retry_ids == [failed.pk]
    assert failed.state == "failed" and "could not connect" in failed.last_error


@pytest.mark.django_db
def test_with_pipelining_each_mail_takes_two_writes_and_a_refusal_still_stops_only_its_own(
    smtp_settings, sink, make_incident, publisher, monkeypatch
):
    sink.pipelining = True
    sink.refuse = {"s1@example.com"}
    _subscribers(4)
    ids = _write_deliveries(make_incident, publisher)
    writes = []
    send = smtplib.SMTP.send

    def spy(self, data):
        writes.append(data)
        return send(self, data)

    monkeypatch.setattr(smtplib.SMTP, "send", spy)

    outcome = sending.send_batch(ids)

    states = dict(MailDelivery.objects.values_list("subscriber__email", "state"))
    assert states == {"s0@example.com": "sent", "s1@example.com": "dead", "s2@example.com": "sent",
                      "s3@example.com": "sent"}  # fmt: skip
    assert outcome.sent == 3 and sink.recipients() == ["s0@example.com", "s2@example.com", "s3@example.com"]
    envelopes = [w for w in writes if str(w).startswith("MAIL FROM:")]
    assert len(envelopes) == 4 and all("RCPT TO:" in e and e.endswith("DATA\r\n") for e in envelopes)
    [(_, message)] = [(s, m) for s, m in sink.received if m["To"] == "s2@example.com"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "Looking." in body.get_content()


@pytest.mark.parametrize("pipelining", [False, True])
@pytest.mark.django_db
def test_a_temporary_refusal_retries_that_mail_alone_and_the_batch_goes_on(
    smtp_settings, sink, make_incident, publisher, pipelining
):
    sink.pipelining = pipelining
    sink.defer = {"s1@example.com": "450 4.2.0 Greylisted, try again later"}
    _subscribers(3)
    ids = _write_deliveries(make_incident, publisher)

    outcome = sending.send_batch(ids)

    states = dict(MailDelivery.objects.values_list("subscriber__email", "state"))
    assert states == {"s0@example.com": "sent", "s1@example.com": "failed", "s2@example.com": "sent"}
    deferred = MailDelivery.objects.get(subscriber__email="s1@example.com")
    assert "450" in deferred.last_error and deferred.next_attempt_at is not None
    assert outcome.sent == 2 and outcome.retry_in and outcome.retry_ids == [deferred.pk]

    sink.defer = {}
    assert sending.send_batch(outcome.retry_ids).sent == 1
    assert sink.recipients() == ["s0@example.com", "s1@example.com", "s2@example.com"]


@pytest.mark.parametrize("pipelining", [False, True])
@pytest.mark.django_db
def test_a_server_closing_mid_batch_keeps_what_it_accepted_and_retries_the_rest(
    smtp_settings, sink, make_incident, publisher, pipelining
):
    sink.pipelining, sink.close_after = pipelining, 2
    _subscribers(5)
    ids = _write_deliveries(make_incident, publisher)

    outcome = sending.send_batch(ids)

    states = [state for _, state in MailDelivery.objects.order_by("pk").values_list("pk", "state")]
    assert states == ["sent", "sent", "failed", "failed", "failed"]
    assert outcome.sent == 2 and outcome.retry_in and outcome.retry_ids == ids[2:]
    assert "421" in MailDelivery.objects.get(pk=ids[2]).last_error


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_subscriber_gets_the_published_update_from_the_worker_and_leaves_in_one_click(
    sink, monkeypatch, tmp_path, request, make_incident, publisher, client
):
    # The worker is another process: it reads the SMTP server from its environment, like production.
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(sink.port))
    monkeypatch.setenv("EMAIL_USE_TLS", "0")
    request.getfixturevalue("worker")
    subscriber = _subscribers(1)[0]

    update = incident_services.update_publish(
        incident=make_incident(public=False), author=publisher, status="investigating", body="We are on it."
    )

    deadline = time.monotonic() + 30
    while not sink.received:
        assert time.monotonic() < deadline, list(MailDelivery.objects.values_list("state", "last_error"))
        time.sleep(0.1)
    [(_, message)] = sink.received
    assert message["To"] == "s0@example.com"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "We are on it." in body.get_content()
    assert f"/updates/{update.public_id}/" in body.get_content()
    one_click = (
        str(message["List-Unsubscribe"]).split(",")[0].strip(" <>").removeprefix("http://localhost:8000")
    )

    response = client.post(
        one_click, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    subscriber.refresh_from_db()
    assert response.status_code == 200 and subscriber.state == "unsubscribed"
    while MailDelivery.objects.exclude(state="sent").exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
