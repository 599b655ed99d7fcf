"""Reminders, with a frozen clock: who is told, when, once, and what the message says to do."""

import json
from datetime import timedelta
from typing import Any

import pytest
import respx
from django.conf import settings
from django.core import mail

from incidents import services
from warroom import reminders, tasks
from warroom.models import Reminder, TimelineEntry

pytestmark = pytest.mark.django_db

SLACK = "https://hooks.slack.com/services/T0NW0000/B0WARROOM/Zx4dfGh7uYtRkLmNoPqRsTuV"


def _sweep(now, django_capture_on_commit_callbacks, execute=False):
    with django_capture_on_commit_callbacks(execute=execute):
        return tasks.sweep(now)


def test_nothing_before_half_the_target(war, django_capture_on_commit_callbacks):
    now = war["detected"] + timedelta(minutes=2, seconds=29)

    assert _sweep(now, django_capture_on_commit_callbacks) == []


def test_at_half_the_target_the_commander_primary_communicator_and_roster_publishers_are_told_once(
    war, django_capture_on_commit_callbacks
):
    now = war["detected"] + timedelta(minutes=2, seconds=30)

    (reminder,) = _sweep(now, django_capture_on_commit_callbacks)
    again = _sweep(now + timedelta(seconds=20), django_capture_on_commit_callbacks)

    assert reminder.kind == Reminder.Kind.TTA_HALF
    assert sorted(reminder.recipients) == ["priya", "sam"]  # dana publishes but is not on this incident
    assert again == []


def test_at_the_target_and_past_twice_it_the_next_steps_go_out_and_every_publisher_hears_the_last(
    war, django_capture_on_commit_callbacks
):
    start = war["detected"]
    _sweep(start + timedelta(minutes=3), django_capture_on_commit_callbacks)

    (at_target,) = _sweep(start + timedelta(minutes=5), django_capture_on_commit_callbacks)
    assert _sweep(start + timedelta(minutes=9), django_capture_on_commit_callbacks) == []
    (doubled,) = _sweep(start + timedelta(minutes=10), django_capture_on_commit_callbacks)

    assert at_target.kind == Reminder.Kind.TTA_TARGET
    assert doubled.kind == Reminder.Kind.TTA_DOUBLE
    assert sorted(doubled.recipients) == ["dana", "priya", "sam"]


def test_a_clock_first_seen_late_is_told_only_its_latest_step(war, django_capture_on_commit_callbacks):
    (reminder,) = _sweep(war["detected"] + timedelta(minutes=30), django_capture_on_commit_callbacks)

    assert reminder.kind == Reminder.Kind.TTA_DOUBLE
    assert Reminder.objects.count() == 1


def test_an_acknowledged_incident_is_not_nagged(war, publisher, django_capture_on_commit_callbacks):
    services.update_publish(
        incident=war["incident"], author=publisher, status="investigating", body="We know."
    )

    assert _sweep(war["detected"] + timedelta(minutes=8), django_capture_on_commit_callbacks) == []


def test_a_promise_is_reminded_ten_and_two_minutes_before_it_falls_due(
    war, publisher, django_capture_on_commit_callbacks
):
    incident = war["incident"]
    update = services.update_publish(
        incident=incident, author=publisher, status="investigating", body="We know.",
        next_update_at=war["detected"] + timedelta(minutes=40),
    )  # fmt: skip
    due = update.next_update_at
    assert due is not None

    assert _sweep(due - timedelta(minutes=10, seconds=1), django_capture_on_commit_callbacks) == []
    (ten,) = _sweep(due - timedelta(minutes=10), django_capture_on_commit_callbacks)
    assert _sweep(due - timedelta(minutes=3), django_capture_on_commit_callbacks) == []
    (two,) = _sweep(due - timedelta(minutes=2), django_capture_on_commit_callbacks)
    assert _sweep(due + timedelta(minutes=1), django_capture_on_commit_callbacks) == []

    assert (ten.kind, two.kind) == (Reminder.Kind.PROMISE_10, Reminder.Kind.PROMISE_2)
    assert sorted(two.recipients) == ["priya", "sam"]  # the commander and the primary communicator


def test_a_kept_promise_is_not_reminded(war, publisher, django_capture_on_commit_callbacks):
    incident = war["incident"]
    first = services.update_publish(
        incident=incident, author=publisher, status="investigating", body="We know.",
        next_update_at=war["detected"] + timedelta(minutes=40),
    )  # fmt: skip
    services.update_publish(incident=incident, author=publisher, status="identified", body="Found it.")

    due = war["detected"] + timedelta(minutes=40)
    assert first.next_update_at == due
    assert _sweep(due - timedelta(minutes=5), django_capture_on_commit_callbacks) == []


def test_the_reminder_mails_each_person_and_posts_to_the_team_slack_saying_what_to_do(
    war, settings, eager, django_capture_on_commit_callbacks
):
    settings.STATUSHUB_TEAM_SLACK_WEBHOOK_URL = SLACK
    incident = war["incident"]
    console = f"http://localhost:8000/manage/incidents/{incident.pk}/"
    with respx.mock(assert_all_called=True) as slack:
        route = slack.post(SLACK).respond(200, text="ok")
        (reminder,) = _sweep(war["detected"] + timedelta(minutes=5), django_capture_on_commit_callbacks, True)

    reminder.refresh_from_db()
    assert reminder.sent_at is not None and reminder.last_error == ""
    assert sorted(m.to[0] for m in mail.outbox) == ["priya@example.com", "sam@example.com"]
    message = mail.outbox[0]
    assert message.subject.startswith("[StatusHub] SEV1 not acknowledged after ")
    assert "(target 5 min): Checkout failing in the US region" in message.subject
    assert "press “Draft the first acknowledgement”" in message.body
    assert f"{console}#acknowledge" in message.body
    (request,) = [call.request for call in route.calls]
    text = json.loads(request.content)["text"]
    assert text.startswith(f":alarm_clock: <{console}|SEV1 not acknowledged after ")
    assert text.endswith("reminded: priya, sam")
    entry = TimelineEntry.objects.get(incident=incident, kind="reminder")
    assert entry.text == "Reminder sent (the time to acknowledge is up) to Priya Raman, Sam Okafor."


def test_a_slack_that_refuses_is_recorded_and_the_mail_still_goes(
    war, settings, eager, django_capture_on_commit_callbacks, caplog
):
    settings.STATUSHUB_TEAM_SLACK_WEBHOOK_URL = SLACK
    with respx.mock() as slack:
        slack.post(SLACK).respond(404, text="no_service")
        (reminder,) = _sweep(war["detected"] + timedelta(minutes=5), django_capture_on_commit_callbacks, True)

    reminder.refresh_from_db()
    assert reminder.last_error == "Slack: Slack answered 404 no_service"
    assert len(mail.outbox) == 2
    assert SLACK not in caplog.text  # the webhook URL is a secret


def test_the_beat_sweeps_at_least_every_minute():
    entry: dict[str, Any] = settings.CELERY_BEAT_SCHEDULE["warroom-reminders"]

    assert entry["task"] == "warroom.tasks.remind" and entry["schedule"] <= 60


def test_a_reminder_is_sent_once_even_if_its_task_runs_twice(war, django_capture_on_commit_callbacks):
    (reminder,) = _sweep(war["detected"] + timedelta(minutes=5), django_capture_on_commit_callbacks)

    assert tasks.send_reminder.apply(args=(reminder.pk,)).get() == "sent 2"
    assert tasks.send_reminder.apply(args=(reminder.pk,)).get() == "already sent or gone"
    assert len(mail.outbox) == 2


def test_a_reminder_that_is_no_longer_due_when_sent_is_not_sent(
    war, publisher, django_capture_on_commit_callbacks
):
    (reminder,) = _sweep(war["detected"] + timedelta(minutes=5), django_capture_on_commit_callbacks)
    services.update_publish(
        incident=war["incident"], author=publisher, status="investigating", body="We know."
    )

    assert tasks.send_reminder.apply(args=(reminder.pk,)).get() == "no longer due"
    assert mail.outbox == []


def test_an_incident_left_unacknowledged_for_days_mails_nobody(war, django_capture_on_commit_callbacks):
    assert _sweep(war["detected"] + timedelta(days=3), django_capture_on_commit_callbacks) == []


def test_a_recorded_reminder_whose_task_was_lost_is_queued_again(war, django_capture_on_commit_callbacks):
    now = war["detected"] + timedelta(minutes=5)
    (reminder,) = _sweep(now, django_capture_on_commit_callbacks)  # its task never ran
    Reminder.objects.filter(pk=reminder.pk).update(created_at=now)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert tasks.sweep(now + timedelta(minutes=3)) == []

    assert [cb.args for cb in queued] == [(reminder.pk,)]


def test_the_promise_reminder_says_how_long_is_left_rounded_up(
    war, publisher, django_capture_on_commit_callbacks
):
    due = war["detected"] + timedelta(minutes=40)
    services.update_publish(
        incident=war["incident"],
        author=publisher,
        status="investigating",
        body="We know.",
        next_update_at=due,
    )
    (reminder,) = _sweep(due - timedelta(minutes=2), django_capture_on_commit_callbacks)

    subject, body = reminders.message(
        reminder, due - timedelta(minutes=1, seconds=50)
    )  # sent a few seconds later

    assert (
        subject
        == f"[StatusHub] Next update promised by {due:%H:%M} UTC (2 min): Checkout failing in the US region"
    )
    assert "open the compose screen" in body and f"/manage/incidents/{war['incident'].pk}/compose/" in body
