"""Each published update is mailed once to each subscriber who asked for it, threaded per incident,
with one-click unsubscribe headers; batches resume after a crash without mailing anyone twice."""

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db.models import F
from django.utils import timezone

from subscribers import sending, smtp_errors
from subscribers.models import Fanout, MailDelivery, Subscriber
from tests.helpers import publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(make_component):
    return make_component("Public API", group="Core")


def _subscriber(email: str, *components, state: str = "active", days_ago: int = 1) -> Subscriber:
    subscriber = Subscriber.objects.create(
        email=email, state=state, all_components=not components,
        confirmed_at=timezone.now() - timedelta(days=days_ago) if state == "active" else None,
    )  # fmt: skip
    subscriber.components.set(components)
    return subscriber


def _payments_incident(make_incident, payments):
    incident = make_incident(public=False, title="Payments <failing> & slow")
    incident.affected.create(component=payments, status="partial_outage")
    return incident


def test_a_publish_mails_each_subscriber_who_asked_for_it_exactly_once(
    make_incident, publisher, payments, api, eager, django_capture_on_commit_callbacks
):
    everything = _subscriber("all@example.com")
    _subscriber("payments@example.com", payments)
    _subscriber("api@example.com", api)
    _subscriber("pending@example.com", state="pending")
    _subscriber("left@example.com", state="unsubscribed")
    incident = _payments_incident(make_incident, payments)

    with django_capture_on_commit_callbacks(execute=True):
        update = publish(incident, publisher)
    sending.fanout(update.pk)  # a duplicated task, or the sweeper, must not mail anyone again
    for delivery in MailDelivery.objects.all():
        sending.send_batch([delivery.pk])

    assert sorted(m.to[0] for m in mail.outbox) == ["all@example.com", "payments@example.com"]
    assert set(MailDelivery.objects.values_list("state", flat=True)) == {"sent"}
    assert Fanout.objects.get(update=update).completed_at is not None
    # Someone who confirms after an update was published is not sent it.
    late = _subscriber("late@example.com", days_ago=0)
    late.confirmed_at = timezone.now() + timedelta(seconds=1)
    late.save()
    sending.fanout(update.pk)
    assert not MailDelivery.objects.filter(subscriber=late).exists()
    assert everything.deliveries.count() == 1


def test_an_incident_naming_no_component_goes_to_everyone(make_incident, publisher, payments, eager):
    _subscriber("payments@example.com", payments)
    update = publish(make_incident(public=False), publisher)

    sending.fanout(update.pk)

    assert [m.to for m in mail.outbox] == [["payments@example.com"]]


def test_the_mail_carries_the_update_its_author_links_and_one_click_unsubscribe(
    make_incident, publisher, payments, eager
):
    subscriber = _subscriber("kim@example.com")
    incident = _payments_incident(make_incident, payments)
    update = publish(
        incident, publisher, body="Refunds are **automatic**. <script>alert(1)</script>",
        component_statuses={payments: "partial_outage"}, next_update_at=timezone.now() + timedelta(minutes=30),
        author_title="VP Engineering",
    )  # fmt: skip

    sending.fanout(update.pk)

    [sent] = mail.outbox
    assert sent.subject == "[StatusHub] Payments <failing> & slow"
    assert sent.from_email == "StatusHub status <status@localhost>"
    assert "Refunds are automatic." in sent.body  # the text part is plain text, not Markdown
    assert "— Priya Raman, VP Engineering" in sent.body
    assert f"http://localhost:8000/updates/{update.public_id}/" in sent.body
    assert "Payments: Partial outage" in sent.body
    assert "Next update by" in sent.body
    assert isinstance(sent, EmailMultiAlternatives)
    [(content, kind)] = sent.alternatives
    html = str(content)
    assert kind == "text/html"
    assert "Payments &lt;failing&gt; &amp; slow" in html
    assert "<strong>automatic</strong>" in html
    assert "<script>" not in html
    assert "Priya Raman</strong>, VP Engineering" in html

    raw = message_from_bytes(sent.message().as_bytes(), policy=policy.default)
    delivery = MailDelivery.objects.get()
    assert (
        raw["Message-ID"] == delivery.message_id == f"<update.{update.public_id}.{subscriber.pk}@localhost>"
    )
    unsubscribe = str(raw["List-Unsubscribe"])
    https, mailto = [part.strip(" <>") for part in unsubscribe.split(",")]
    assert https.startswith("http://localhost:8000/subscribe/unsubscribe/")
    assert mailto.startswith("mailto:status@localhost?subject=unsubscribe%20")
    assert raw["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert https.removeprefix("http://localhost:8000") in sent.body

    from django.test import Client

    Client(enforce_csrf_checks=True).post(
        https.removeprefix("http://localhost:8000"), "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )  # fmt: skip
    subscriber.refresh_from_db()
    assert subscriber.state == "unsubscribed"


def test_later_updates_thread_under_the_first_mail_about_the_incident(
    make_incident, publisher, payments, eager
):
    _subscriber("kim@example.com")
    incident = _payments_incident(make_incident, payments)

    first = publish(incident, publisher, status="investigating", body="Looking.")
    sending.fanout(first.pk)
    second = publish(incident, publisher, status="identified", body="Found it.")
    sending.fanout(second.pk)
    other = publish(make_incident(public=False, title="Another"), publisher, body="Unrelated.")
    sending.fanout(other.pk)

    first_mail, second_mail, other_mail = mail.outbox
    root = first_mail.extra_headers["Message-ID"]
    assert "In-Reply-To" not in first_mail.extra_headers
    assert second_mail.extra_headers["In-Reply-To"] == root
    assert second_mail.extra_headers["References"] == root
    assert second_mail.subject == first_mail.subject
    assert "In-Reply-To" not in other_mail.extra_headers


def test_a_subscriber_who_leaves_before_the_batch_runs_is_not_mailed(make_incident, publisher):
    subscriber = _subscriber("kim@example.com")
    update = publish(make_incident(public=False), publisher)
    sending.fanout(update.pk)  # queued (not eager): the batch has not run yet
    subscriber.state = "unsubscribed"
    subscriber.save()

    delivery = MailDelivery.objects.get()
    outcome = sending.send_batch([delivery.pk])

    delivery.refresh_from_db()
    assert (outcome.sent, delivery.state, mail.outbox) == (0, "skipped", [])


def test_the_sweeper_resumes_a_crashed_batch_without_mailing_anyone_twice(make_incident, publisher, eager):
    for n in range(4):
        _subscriber(f"s{n}@example.com")
    update = publish(make_incident(public=False), publisher)
    from statushub.celery import app

    app.conf.task_always_eager = False  # the fan-out's batch task is "lost" in the crash
    sending.fanout(update.pk)
    app.conf.task_always_eager = True
    rows = list(MailDelivery.objects.order_by("pk"))
    long_ago = timezone.now() - timedelta(minutes=10)
    MailDelivery.objects.filter(pk=rows[0].pk).update(state="sent", sent_at=long_ago, updated_at=long_ago)
    MailDelivery.objects.filter(pk=rows[1].pk).update(state="sending", attempts=1, updated_at=long_ago)
    MailDelivery.objects.filter(pk__in=[r.pk for r in rows[2:]]).update(updated_at=long_ago)

    sending.sweep()
    sending.sweep()

    assert sorted(m.to[0] for m in mail.outbox) == ["s1@example.com", "s2@example.com", "s3@example.com"]
    assert set(MailDelivery.objects.values_list("state", flat=True)) == {"sent"}


def test_the_sweeper_fans_out_an_update_whose_task_never_ran(make_incident, publisher, eager):
    _subscriber("kim@example.com", days_ago=2)
    update = publish(make_incident(public=False), publisher)
    type(update).objects.filter(pk=update.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    assert not Fanout.objects.exists()

    sending.sweep()

    assert [m.to for m in mail.outbox] == [["kim@example.com"]]
    assert Fanout.objects.filter(update=update, completed_at__isnull=False).exists()


def test_the_fan_out_queues_full_batches_while_it_writes_and_a_rerun_only_what_is_still_pending(
    make_incident, publisher, monkeypatch, settings
):
    settings.STATUSHUB_MAIL_BATCH_SIZE = 3
    monkeypatch.setattr(sending, "WRITE_CHUNK", 4)
    batches: list[list[int]] = []
    monkeypatch.setattr(sending, "_enqueue_batch", lambda ids, countdown=0: batches.append(ids))
    for n in range(10):
        _subscriber(f"s{n}@example.com")
    update = publish(make_incident(public=False), publisher)

    assert sending.fanout(update.pk) == 10

    rows = list(MailDelivery.objects.filter(update=update).order_by("pk"))
    assert [len(batch) for batch in batches] == [3, 3, 3, 1]
    assert sorted(pk for batch in batches for pk in batch) == [row.pk for row in rows]
    assert {row.message_id for row in rows} == {
        f"<update.{update.public_id}.{row.subscriber_id}@localhost>" for row in rows
    }
    MailDelivery.objects.filter(pk__in=batches[0]).update(state="sent")
    batches.clear()

    assert sending.fanout(update.pk) == 7
    assert MailDelivery.objects.filter(update=update).count() == 10
    assert sorted(pk for batch in batches for pk in batch) == [row.pk for row in rows[3:]]


def test_a_publish_never_fails_because_the_broker_is_down(
    make_incident, publisher, django_capture_on_commit_callbacks, monkeypatch
):
    from subscribers import tasks

    def broken(*args, **kwargs):
        raise ConnectionError("broker away")

    monkeypatch.setattr(tasks.fan_out, "delay", broken)
    with django_capture_on_commit_callbacks(execute=True):
        update = publish(make_incident(public=False), publisher)

    assert update.pk and not Fanout.objects.exists()  # the sweeper will fan it out


def test_a_batch_costs_a_fixed_number_of_queries_one_per_chunk_and_one_per_mail(make_incident, publisher):
    """Per chunk: check its rows are still this batch's (the sweeper may have handed some on). Per mail: mark
    it sent as soon as the server accepted it (item 15: a kill must not resend what was accepted)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_to_send(count: int) -> int:
        MailDelivery.objects.all().delete()
        Subscriber.objects.all().delete()
        for n in range(count):
            _subscriber(f"s{n}@example.com")
        update = publish(make_incident(public=False), publisher)
        sending.fanout(update.pk)
        ids = list(MailDelivery.objects.filter(update=update).values_list("pk", flat=True))
        with CaptureQueriesContext(connection) as queries:
            assert sending.send_batch(ids).sent == count
        return len(queries)

    assert queries_to_send(10) - queries_to_send(3) == 7
    assert queries_to_send(2 * sending.CHUNK + 1) - queries_to_send(1) == 2 * sending.CHUNK + 2


def test_a_row_the_sweeper_handed_on_mid_batch_is_left_to_the_other_worker(
    make_incident, publisher, monkeypatch
):
    for n in range(2):
        _subscriber(f"slow{n}@example.com")
    update = publish(make_incident(public=False), publisher)
    sending.fanout(update.pk)
    first, second = MailDelivery.objects.order_by("pk")
    build = sending.UpdateMail.message

    def slow_server(self, copy, connection=None):
        # While the batch is on its way, the sweeper decides the second row is stuck and re-queues it.
        MailDelivery.objects.filter(pk=second.pk).update(state="failed")
        return build(self, copy, connection)

    monkeypatch.setattr(sending.UpdateMail, "message", slow_server)
    outcome = sending.send_batch([first.pk, second.pk])

    assert outcome.sent == 1 and [m.to for m in mail.outbox] == [["slow0@example.com"]]
    second.refresh_from_db()
    assert second.state == "failed"  # the re-queued task sends it, once


def _three_queued(make_incident, publisher) -> list[MailDelivery]:
    for n in range(3):
        _subscriber(f"s{n}@example.com")
    update = publish(make_incident(public=False), publisher)
    sending.fanout(update.pk)  # not eager: the batch is only queued
    return list(MailDelivery.objects.order_by("pk"))


def _taken_by_another_worker(row: MailDelivery) -> None:
    """What the sweeper and a second worker do to a row they think stuck: re-queue it, claim it again."""
    MailDelivery.objects.filter(pk=row.pk).update(state="sending", attempts=F("attempts") + 1)


def _on_send(monkeypatch, act) -> None:
    from django.core.mail.backends.locmem import EmailBackend

    send = EmailBackend.send_messages

    def spy(self, messages):
        act(messages[0].to[0])
        return send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", spy)


def test_a_slow_batch_renews_its_claim_before_each_mail_and_leaves_rows_it_lost(
    make_incident, publisher, monkeypatch
):
    first, second, third = _three_queued(make_incident, publisher)
    monkeypatch.setattr(sending, "LEASE_RENEW_SECONDS", -1)  # each mail as slow as the lease is long

    def sweeper_meanwhile(to: str) -> None:
        if to == "s0@example.com":
            _taken_by_another_worker(first)  # sent by us, re-claimed before we could mark it
            _taken_by_another_worker(second)  # not sent yet: the other worker sends it

    _on_send(monkeypatch, sweeper_meanwhile)
    outcome = sending.send_batch([first.pk, second.pk, third.pk])

    assert [m.to for m in mail.outbox] == [["s0@example.com"], ["s2@example.com"]]
    assert outcome.sent == 2
    rows = {row.pk: (row.state, row.attempts) for row in MailDelivery.objects.all()}
    # The other worker's rows are left as it holds them: not marked sent by this batch.
    assert rows == {first.pk: ("sending", 2), second.pk: ("sending", 2), third.pk: ("sent", 1)}


def test_mark_sent_and_mark_dead_change_only_rows_still_held(make_incident, publisher):
    first, second, _ = _three_queued(make_incident, publisher)
    claimed = {row.pk: row for row in sending._claim([first.pk, second.pk])}
    _taken_by_another_worker(first)
    _taken_by_another_worker(second)

    sending._mark_sent([claimed[first.pk]])
    sending._mark_dead([claimed[second.pk]], "refused")

    assert set(MailDelivery.objects.filter(pk__in=claimed).values_list("state", "last_error")) == {
        ("sending", "")
    }


def test_a_broken_connection_retries_only_rows_still_held(make_incident, publisher, monkeypatch):
    import smtplib

    first, second, third = _three_queued(make_incident, publisher)
    prepare = sending._prepare

    def handed_on_before_the_chunk(*args, **kwargs):
        _taken_by_another_worker(second)
        return prepare(*args, **kwargs)

    def server_gone(to: str) -> None:
        _taken_by_another_worker(third)  # after the chunk's check
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(sending, "_prepare", handed_on_before_the_chunk)
    _on_send(monkeypatch, server_gone)
    outcome = sending.send_batch([first.pk, second.pk, third.pk])

    assert outcome.sent == 0 and outcome.retry_in
    assert outcome.retry_ids == [first.pk, third.pk]  # not the row dropped as no longer ours
    rows = {row.pk: (row.state, row.attempts) for row in MailDelivery.objects.all()}
    assert rows == {first.pk: ("failed", 1), second.pk: ("sending", 2), third.pk: ("sending", 2)}


def test_a_mail_that_cannot_be_rendered_gives_up_its_batch_before_connecting(
    make_incident, publisher, monkeypatch, caplog
):
    rows = _three_queued(make_incident, publisher)
    opened = []
    monkeypatch.setattr(sending, "get_connection", lambda **kwargs: opened.append(kwargs))

    def broken_template(update):
        raise ValueError("template error")

    monkeypatch.setattr(sending, "mail_for", broken_template)
    outcome = sending.send_batch([row.pk for row in rows])

    assert (outcome.sent, outcome.retry_ids, opened, mail.outbox) == (0, None, [], [])
    assert set(MailDelivery.objects.values_list("state", "last_error")) == {("dead", sending.BUILD_ERROR)}
    assert "could not render the mail of update" in caplog.text


@pytest.mark.parametrize(
    ("code", "permanent"), [(550, True), (553, True), (450, False), (451, False), (452, False), (421, False)]
)
def test_only_a_5xx_refusal_of_a_recipient_is_final(code, permanent):
    import smtplib

    refused = smtplib.SMTPRecipientsRefused({"kim@example.com": (code, b"refused")})

    assert smtp_errors.is_permanent(refused) is permanent
    assert smtp_errors.is_deferred(refused) is (not permanent and code != 421)
