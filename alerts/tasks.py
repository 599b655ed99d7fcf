"""Notifications for incidents opened by alerts, and pruning of old receipts. Tasks load by id, then act."""

import logging
import smtplib

from celery import Task, shared_task
from django.core import mail

from alerts import notify, services
from alerts.models import AlertSource
from incidents.models import Incident
from statushub.lib.outbound import OutboundError
from statushub.lib.outbox import max_attempts

log = logging.getLogger(__name__)


def retries_allowed() -> int:
    """Retries after the first attempt: STATUSHUB_ALERT_NOTICE_MAX_ATTEMPTS counts them all."""
    return max_attempts("alert_notice") - 1


def _backoff(retries: int) -> int:
    return min(30 * 2**retries, 1800)


def _load(incident_id: int, source_id: int) -> tuple[Incident, AlertSource] | None:
    incident = Incident.objects.filter(pk=incident_id).first()
    source = AlertSource.objects.filter(pk=source_id).first()
    if incident is None or source is None:
        return None
    return incident, source


@shared_task(bind=True, max_retries=None, acks_late=True)  # the limit is a setting: checked below
def notify_slack(self: Task, incident_id: int, source_id: int) -> str:
    loaded = _load(incident_id, source_id)
    if loaded is None:
        return "gone"
    incident, source = loaded
    url = services.source_credentials(source).get("slack_webhook_url")
    if not url:
        return "no slack webhook"
    try:
        notify.send_slack(url, notify.slack_text(incident, source))
    except OutboundError as exc:
        if exc.permanent or self.request.retries >= retries_allowed():
            log.warning(
                "Slack notice for incident %s (source %s) not sent: %s", incident_id, source.slug, exc
            )
            return "failed"
        raise self.retry(countdown=max(_backoff(self.request.retries), exc.retry_after or 0)) from exc
    return "sent"


@shared_task(bind=True, max_retries=None, acks_late=True)  # the limit is a setting: checked below
def notify_email(self: Task, incident_id: int, source_id: int) -> str:
    loaded = _load(incident_id, source_id)
    if loaded is None:
        return "gone"
    incident, source = loaded
    if not source.notify_email:
        return "e-mail off"
    messages = notify.team_messages(incident, source)
    if not messages:
        return "nobody to tell"
    try:
        # One connection for all; its timeout is EMAIL_TIMEOUT.
        with mail.get_connection() as connection:
            connection.send_messages(messages)
    except (smtplib.SMTPException, OSError) as exc:
        if self.request.retries >= retries_allowed():
            log.warning("E-mail notice for incident %s not sent: %s", incident_id, exc)
            return "failed"
        raise self.retry(countdown=_backoff(self.request.retries)) from exc
    return f"sent {len(messages)}"


@shared_task
def prune_receipts() -> int:
    return services.receipts_prune()
