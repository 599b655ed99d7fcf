"""Item 15: a worker SIGKILLed mid-batch resends at most the one mail the server had just accepted.

A real worker sends a batch to a real SMTP server (aiosmtpd on loopback) and is killed half-way; the sweeper
then sends what the batch had not marked sent. Each mail is marked sent as soon as the server accepts it, so at
most one (accepted, not yet marked) goes out twice. Marking 50 at a time resent up to 49.
"""

import asyncio
import os
import signal
import time
from collections import Counter
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from incidents import services as incident_services
from subscribers import sending
from subscribers.models import MailDelivery, Subscriber
from tests.conftest import _celery_worker, free_port

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
SUBSCRIBERS = 100


class SlowSink:
    """Accepts every message after a short pause, as a remote server's round trip would take."""

    def __init__(self) -> None:
        self.recipients: Counter[str] = Counter()

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.03)
        for address in envelope.rcpt_tos:
            self.recipients[address] += 1
        return "250 Message accepted"


@pytest.fixture
def sink():
    handler = SlowSink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def _smtp(port: int) -> dict[str, str]:
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port), "EMAIL_USE_TLS": "0", "EMAIL_USE_SSL": "0", "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
    }  # fmt: skip


def test_a_sigkill_mid_batch_resends_at_most_the_mail_just_accepted(
    sink, tmp_path, settings, make_incident, publisher
):
    handler, port = sink
    confirmed = timezone.now() - timedelta(days=1)
    Subscriber.objects.bulk_create(
        Subscriber(email=f"reader{n:03d}@example.com", state="active", confirmed_at=confirmed)
        for n in range(SUBSCRIBERS)
    )
    with _celery_worker(tmp_path, "--pool=solo", extra_env=_smtp(port)) as worker:
        incident_services.update_publish(
            incident=make_incident(public=False), author=publisher, status="investigating", body="Looking."
        )
        deadline = time.monotonic() + 60
        while handler.recipients.total() < SUBSCRIBERS // 3:
            assert worker.poll() is None and time.monotonic() < deadline, "the worker did not start mailing"
            time.sleep(0.01)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)

    accepted = handler.recipients.total()
    marked = MailDelivery.objects.filter(state=MailDelivery.State.SENT).count()
    assert 0 < accepted < SUBSCRIBERS, "killed mid-batch"
    assert accepted - marked <= 1, f"{accepted} accepted, only {marked} marked sent"

    # The sweeper, once the interrupted rows are old enough, sends the rest (in this process, eagerly).
    for name, value in _smtp(port).items():
        setattr(settings, name, int(value) if name == "EMAIL_PORT" else value)
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    from statushub.celery import app

    long_ago = timezone.now() - sending.STUCK_AFTER - timedelta(minutes=1)
    MailDelivery.objects.exclude(state=MailDelivery.State.SENT).update(updated_at=long_ago)
    app.conf.task_always_eager = True
    try:
        sending.sweep()
    finally:
        app.conf.task_always_eager = False

    assert set(MailDelivery.objects.values_list("state", flat=True)) == {MailDelivery.State.SENT}
    assert len(handler.recipients) == SUBSCRIBERS, "everyone got the mail"
    duplicates = handler.recipients.total() - SUBSCRIBERS
    print(f"\n{accepted} mails accepted before the SIGKILL; {duplicates} sent twice after it")
    assert duplicates <= 1
