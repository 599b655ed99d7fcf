"""The beat's reminder sweep and the task that sends one reminder (load by id, then act)."""

import logging
import smtplib
from datetime import datetime, timedelta
from functools import partial

from celery import Task, shared_task
from django.conf import settings
from django.core import mail
from django.db import transaction
from django.utils import timezone

from integrations.slack import incoming as slack_incoming
from statushub.lib.outbound import OutboundError
from statushub.lib.outbox import max_attempts
from warroom import reminders, services
from warroom.models import Reminder, TimelineEntry

log = logging.getLogger(__name__)
SLACK_TIMEOUT = 10.0
REQUEUE_AFTER = timedelta(minutes=2)


@shared_task
def remind() -> int:
    """The beat's sweep: record every reminder that fell due and queue each one's sending; returns how many."""
    return len(sweep(timezone.now()))


def sweep(now: datetime) -> list[Reminder]:
    recorded = []
    for item in reminders.due(now):
        reminder = reminders.record(item)
        if reminder is not None:
            transaction.on_commit(partial(send_reminder.delay, reminder.pk))
            recorded.append(reminder)
    # Recorded but never sent (the broker refused the task, a worker died): queued again; sending claims the row,
    # so a reminder is never sent twice.
    for pk in Reminder.objects.filter(
        sent_at__isnull=True, created_at__lt=now - REQUEUE_AFTER, created_at__gt=now - reminders.STALE
    ).values_list("pk", flat=True):
        transaction.on_commit(partial(send_reminder.delay, pk))
    return recorded


def _backoff(retries: int) -> int:
    return min(30 * 2**retries, 600)


@shared_task(bind=True, max_retries=None, acks_late=True)  # the limit is a setting: checked below
def send_reminder(self: Task, reminder_id: int) -> str:
    now = timezone.now()
    # Claimed first: a second copy of this task (redelivered, or queued again by the sweep) finds it taken.
    if not Reminder.objects.filter(pk=reminder_id, sent_at__isnull=True).update(sent_at=now):
        return "already sent or gone"
    reminder = Reminder.objects.select_related("incident", "promise").get(pk=reminder_id)
    if not reminders.still_due(reminder):
        Reminder.objects.filter(pk=reminder_id).update(last_error="No longer due when it was sent: not sent.")
        return "no longer due"
    subject, body = reminders.message(reminder, now)
    messages = [
        mail.EmailMessage(subject=subject[:200], body=body, to=[u.email])
        for u in reminders.who_to_mail(reminder)
    ]
    errors = []
    try:
        if messages:
            with mail.get_connection() as connection:
                connection.send_messages(messages)
    except (smtplib.SMTPException, OSError) as exc:
        if self.request.retries < max_attempts("alert_notice") - 1:
            Reminder.objects.filter(pk=reminder_id).update(sent_at=None)  # released for the retry
            raise self.retry(countdown=_backoff(self.request.retries)) from exc
        errors.append(f"e-mail: {exc}")
    url = settings.STATUSHUB_TEAM_SLACK_WEBHOOK_URL
    if url:
        try:
            slack_incoming.post_text(url, reminders.slack_text(reminder, now), timeout=SLACK_TIMEOUT)
        except OutboundError as exc:  # its message never holds the URL
            errors.append(f"Slack: {exc}")
    Reminder.objects.filter(pk=reminder.pk).update(last_error="; ".join(errors))
    services.timeline_add(
        incident=reminder.incident,
        kind=TimelineEntry.Kind.REMINDER,
        text=f"Reminder sent ({reminder.get_kind_display().lower()}) to {reminders.names(reminder)}.",
        at=now,
    )
    if errors:
        log.warning("Reminder %s sent with errors: %s", reminder_id, "; ".join(errors))
    return f"sent {len(messages)}"
