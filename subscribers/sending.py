"""Fan-out of each published update to subscribers, and the batched, resumable e-mail sender.

``fanout`` writes one MailDelivery per matching subscriber (and one HookDelivery per matching hook); the
unique (update, subscriber) row means a repeated fan-out, a duplicated task or a sweep never mails anyone
twice. Mail goes out in batches: one Celery task per ``STATUSHUB_MAIL_BATCH_SIZE`` deliveries, one SMTP
connection per batch, each delivery marked sent as soon as its message was accepted. A crash loses at most
the state of the one message in flight; the sweeper picks up everything else.
"""

import logging
import smtplib
import time
from dataclasses import dataclass
from datetime import timedelta

from anymail.exceptions import AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from channels.services import backoff_seconds
from incidents.models import IncidentUpdate
from subscribers import mail, selectors
from subscribers.hooks import enqueue_hook_delivery, hook_deliveries_sweep
from subscribers.models import Fanout, HookDelivery, MailDelivery, Subscriber

LEASE_RENEW_SECONDS = 30  # well under the sweeper's STUCK_AFTER
logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
STUCK_AFTER = timedelta(minutes=5)
SWEEP_WINDOW = timedelta(days=1)  # updates older than this are not fanned out late


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), max(1, size))]


def _enqueue_batch(delivery_ids: list[int], countdown: float = 0) -> None:
    from subscribers.tasks import send_mail_batch

    send_mail_batch.apply_async(args=(delivery_ids,), countdown=countdown)


def fanout(update_id: int) -> int:
    """Write the deliveries of one update and queue them. Safe to run any number of times."""
    update = IncidentUpdate.objects.select_related("incident").filter(pk=update_id).first()
    if update is None or not update.is_signed:
        return 0
    size = settings.STATUSHUB_MAIL_BATCH_SIZE
    subscriber_ids = list(selectors.subscribers_for(update).values_list("pk", flat=True))
    for chunk in _chunks(subscriber_ids, 1000):
        MailDelivery.objects.bulk_create(
            [
                MailDelivery(
                    update=update,
                    subscriber_id=pk,
                    message_id=mail.message_id_for(update, Subscriber(pk=pk)),
                )
                for pk in chunk
            ],
            ignore_conflicts=True,
        )
    hook_ids = list(selectors.hooks_for(update).values_list("pk", flat=True))
    HookDelivery.objects.bulk_create(
        [HookDelivery(update=update, subscription_id=pk) for pk in hook_ids], ignore_conflicts=True
    )
    Fanout.objects.update_or_create(update=update, defaults={"completed_at": timezone.now()})
    pending = list(
        MailDelivery.objects.filter(update=update, state=MailDelivery.State.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for batch in _chunks(pending, size):
        _enqueue_batch(batch)
    for pk in HookDelivery.objects.filter(update=update, state=HookDelivery.State.PENDING).values_list(
        "pk", flat=True
    ):
        enqueue_hook_delivery(pk)
    return len(pending)


def _claim(delivery_ids: list[int]) -> list[MailDelivery]:
    """Lock what is still to send and mark it sending; skip mail to anyone who left since the fan-out."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            MailDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscriber")
            .filter(pk__in=delivery_ids, state__in=[MailDelivery.State.PENDING, MailDelivery.State.FAILED])
            .order_by("pk")
        )
        gone = [row.pk for row in rows if not row.subscriber.is_active]
        MailDelivery.objects.filter(pk__in=gone).update(state=MailDelivery.State.SKIPPED, updated_at=now)
        claimed = [row for row in rows if row.subscriber.is_active]
        MailDelivery.objects.filter(pk__in=[row.pk for row in claimed]).update(
            state=MailDelivery.State.SENDING, attempts=F("attempts") + 1, updated_at=now
        )
    for row in claimed:
        row.attempts += 1
    return claimed


@dataclass
class BatchOutcome:
    sent: int = 0
    retry_in: float | None = None
    retry_ids: list[int] | None = None


def _is_permanent(exc: Exception) -> bool:
    """The receiving side refused this one message for good (no such mailbox, policy): do not retry it."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused | AnymailRecipientsRefused):
        return True
    if isinstance(
        exc, smtplib.SMTPSenderRefused
    ):  # our From is refused: every mail would be; retry, then stop
        return False
    return isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [f"{code} {_text(reply)}" for code, reply in exc.recipients.values()]
        return f"refused by the mail server: {'; '.join(codes)}"[:300]
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"mail server answered {exc.smtp_code} {_text(exc.smtp_error)}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def _fail(rows: list[MailDelivery], error: str) -> float | None:
    """Put unsent rows back for a retry (or give up on those out of attempts); the wait before the retry."""
    now = timezone.now()
    dead = [row.pk for row in rows if row.attempts >= MAX_ATTEMPTS]
    retry = [row for row in rows if row.attempts < MAX_ATTEMPTS]
    MailDelivery.objects.filter(pk__in=dead).update(
        state=MailDelivery.State.DEAD, last_error=error, updated_at=now
    )
    if not retry:
        return None
    wait = backoff_seconds(max(row.attempts for row in retry))
    MailDelivery.objects.filter(pk__in=[row.pk for row in retry]).update(
        state=MailDelivery.State.FAILED,
        last_error=error,
        next_attempt_at=now + timedelta(seconds=wait),
        updated_at=now,
    )
    return wait


def send_batch(delivery_ids: list[int]) -> BatchOutcome:
    """Send one batch over one connection. Per-message refusals stop only that message; a broken
    connection puts the rest back for a retry with backoff."""
    rows = _claim(delivery_ids)
    outcome = BatchOutcome()
    if not rows:
        return outcome
    update = IncidentUpdate.objects.select_related("incident").get(pk=rows[0].update_id)
    roots = selectors.thread_roots(
        incident_id=update.incident_id, subscriber_ids=[r.subscriber_id for r in rows]
    )
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as exc:
        logger.warning("cannot open the mail connection: %s", _describe(exc))
        outcome.retry_in = _fail(rows, f"could not connect to the mail server: {_describe(exc)}")
        outcome.retry_ids = [row.pk for row in rows]
        return outcome
    renewed = time.monotonic()
    try:
        for index, row in enumerate(rows):
            # A slow server can make a batch outlive the sweeper's patience. Keep the claim fresh, and send a
            # row only if it is still ours: if the sweeper handed it to another worker, that one sends it.
            if time.monotonic() - renewed > LEASE_RENEW_SECONDS:
                MailDelivery.objects.filter(
                    pk__in=[r.pk for r in rows[index:]], state=MailDelivery.State.SENDING
                ).update(updated_at=timezone.now())
                renewed = time.monotonic()
            still_ours = MailDelivery.objects.filter(
                pk=row.pk, state=MailDelivery.State.SENDING, attempts=row.attempts
            ).exists()
            if not still_ours:
                continue
            try:
                message = mail.update_message(
                    update=update, subscriber=row.subscriber, message_id=row.message_id,
                    root_id=roots.get(row.subscriber_id), connection=connection,
                )  # fmt: skip
            except Exception:  # a bug, not the mail server: retrying would fail the same way
                logger.exception("could not build the mail of delivery %s", row.pk)
                MailDelivery.objects.filter(pk=row.pk).update(
                    state=MailDelivery.State.DEAD, last_error="Could not build the mail; see the worker log.",
                    updated_at=timezone.now(),
                )  # fmt: skip
                continue
            try:
                connection.send_messages([message])
            except Exception as exc:
                if _is_permanent(exc):
                    MailDelivery.objects.filter(pk=row.pk).update(
                        state=MailDelivery.State.DEAD, last_error=_describe(exc), updated_at=timezone.now()
                    )
                    continue
                logger.warning("mail batch interrupted: %s", _describe(exc))
                remaining = rows[index:]
                outcome.retry_in = _fail(remaining, _describe(exc))
                outcome.retry_ids = [r.pk for r in remaining]
                return outcome
            now = timezone.now()
            MailDelivery.objects.filter(pk=row.pk).update(
                state=MailDelivery.State.SENT,
                sent_at=now,
                last_error="",
                next_attempt_at=None,
                updated_at=now,
            )
            outcome.sent += 1
    finally:
        try:
            connection.close()
        except Exception:  # the server may already have dropped us; nothing is lost
            logger.debug("closing the mail connection failed", exc_info=True)
    return outcome


def sweep() -> int:
    """Resume what a crash, a lost task or a broker outage left: fan-outs never finished, deliveries stuck."""
    now = timezone.now()
    queued = 0
    done = Fanout.objects.filter(completed_at__isnull=False).values("update_id")
    unfinished = (
        IncidentUpdate.objects.exclude(signature="")
        .filter(created_at__gte=now - SWEEP_WINDOW, created_at__lt=now - STUCK_AFTER)
        .exclude(pk__in=done)
        .values_list("pk", flat=True)
    )
    from subscribers.tasks import fan_out

    for update_id in unfinished:
        fan_out.delay(update_id)
        queued += 1

    stale = now - STUCK_AFTER
    # Interrupted mid-send: the one message in flight may have gone out; the rest certainly did not. A row
    # that was in flight every time it was tried (a worker killed by it) is given up on.
    interrupted = MailDelivery.objects.filter(state=MailDelivery.State.SENDING, updated_at__lt=stale)
    interrupted.filter(attempts__gte=MAX_ATTEMPTS).update(
        state=MailDelivery.State.DEAD,
        last_error="Stopped after attempts that never finished.",
        updated_at=now,
    )
    resumed = list(interrupted.values_list("pk", flat=True))
    MailDelivery.objects.filter(pk__in=resumed).update(state=MailDelivery.State.FAILED, updated_at=now)
    due = (
        Q(pk__in=resumed)
        | Q(state=MailDelivery.State.PENDING, updated_at__lt=stale)
        | Q(state=MailDelivery.State.FAILED, next_attempt_at__lt=stale)
    )
    rows = list(
        MailDelivery.objects.filter(due).order_by("update_id", "pk").values_list("update_id", "pk")[:10000]
    )
    by_update: dict[int, list[int]] = {}
    for update_id, pk in rows:
        by_update.setdefault(update_id, []).append(pk)
    for ids in by_update.values():
        for batch in _chunks(ids, settings.STATUSHUB_MAIL_BATCH_SIZE):
            _enqueue_batch(batch)
            queued += 1

    return queued + hook_deliveries_sweep()
