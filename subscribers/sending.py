"""Fan-out of each published update to subscribers, and the batched, resumable e-mail sender.

``fanout`` writes one MailDelivery per matching subscriber (and one HookDelivery per matching hook); the
unique (update, subscriber) row means a repeated fan-out, a duplicated task or a sweep never mails anyone
twice. Mail goes out in batches: one Celery task per ``STATUSHUB_MAIL_BATCH_SIZE`` deliveries, one SMTP
connection per batch, each delivery marked sent (and committed) as soon as the server accepted its message. A
SIGKILL can thus resend at most the one message per running batch that was accepted but not yet marked (the
sweeper sends the rest of an interrupted batch, which certainly did not go out).

Throughput (bench/mail_fanout.py): a batch's fixed work is done once, not per mail — the update's mail is
rendered once per process (``update_mail.py``), rows are read as plain values and written a chunk at a time,
and Django's SMTP backend is handed finished bytes over a pipelined connection (``smtp.py``).
"""

import logging
import smtplib
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from incidents.models import IncidentUpdate
from statushub.lib import outbox
from statushub.lib.outbox import backoff_seconds
from subscribers import mail, selectors, smtp
from subscribers.hooks import enqueue_hook_delivery, hook_deliveries_sweep
from subscribers.models import Fanout, HookDelivery, MailDelivery, Subscriber
from subscribers.smtp_errors import describe, is_deferred, is_permanent
from subscribers.update_mail import UpdateMail, mail_for

LEASE_RENEW_SECONDS = 30  # well under the sweeper's STUCK_AFTER
# Mails built, and checked to be still this batch's, at a time (one query a chunk). Each is marked sent on its
# own, as soon as the server accepted it: marking 50 at a time resent up to 49 accepted mails per SIGKILL
# (bench/mail_fanout.py --kill).
CHUNK = 50
WRITE_CHUNK = 500  # deliveries written (then queued) at a time by the fan-out; SQLite takes 999 parameters
logger = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=5)
SWEEP_WINDOW = timedelta(days=1)  # updates older than this are not fanned out late
BUILD_ERROR = "Could not build the mail; see the worker log."


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), max(1, size))]


def _enqueue_batch(delivery_ids: list[int], countdown: float = 0) -> None:
    from subscribers.tasks import send_mail_batch

    send_mail_batch.apply_async(args=(delivery_ids,), countdown=countdown)


def _write_deliveries(update: IncidentUpdate, subscriber_ids: list[int]) -> list[int]:
    """One pending MailDelivery per subscriber, unless there is one already (the unique constraint decides);
    the ids of those still pending.

    One INSERT of literal rows: building a model instance per row for ``bulk_create`` cost 40 µs of worker CPU
    a row, a third of what sending its mail costs; this costs 2 µs. Both queries go by the subscribers' ids and
    the unique (update, subscriber) index, never by a scan whose cost grows with the fan-out."""
    if not subscriber_ids:
        return []
    before, after = mail.message_id_parts(update)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    columns = "created_at, updated_at, update_id, subscriber_id, state, attempts, last_error, message_id"
    values = (
        "%s, %s, %s, v.column1, %s, 0, '', CAST(%s AS TEXT) || CAST(v.column1 AS TEXT) || CAST(%s AS TEXT)"
    )
    rows = ", ".join(["(%s)"] * len(subscriber_ids))
    # The table name comes from the model; every value is a parameter. "WHERE 1 = 1" lets SQLite parse the
    # upsert after a SELECT.
    sql = f"INSERT INTO {MailDelivery._meta.db_table} ({columns}) SELECT {values} FROM (VALUES {rows}) AS v"  # noqa: S608
    sql += " WHERE 1 = 1 ON CONFLICT (update_id, subscriber_id) DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, now, update.pk, MailDelivery.State.PENDING, before, after, *subscriber_ids])
    written = MailDelivery.objects.filter(update=update, subscriber_id__in=subscriber_ids).values_list(
        "pk", "state"
    )
    return sorted(pk for pk, state in written if state == MailDelivery.State.PENDING)


def fanout(update_id: int) -> int:
    """Write the deliveries of one update and queue them. Safe to run any number of times.

    Batches are queued as soon as their rows are written, so the first mails go out while the rest are
    still being written."""
    update = IncidentUpdate.objects.select_related("incident").filter(pk=update_id).first()
    if update is None or not update.is_signed:
        return 0
    size = max(1, settings.STATUSHUB_MAIL_BATCH_SIZE)
    queued, waiting = 0, []
    subscriber_ids = list(selectors.subscribers_for(update).values_list("pk", flat=True))
    for chunk in _chunks(subscriber_ids, WRITE_CHUNK):
        pending = _write_deliveries(update, chunk)
        waiting += pending
        while len(waiting) >= size:
            _enqueue_batch(waiting[:size])
            waiting = waiting[size:]
        queued += len(pending)
    if waiting:
        _enqueue_batch(waiting)
    hook_ids = list(selectors.hooks_for(update).values_list("pk", flat=True))
    HookDelivery.objects.bulk_create(
        [HookDelivery(update=update, subscription_id=pk) for pk in hook_ids], ignore_conflicts=True
    )
    Fanout.objects.update_or_create(update=update, defaults={"completed_at": timezone.now()})
    for pk in HookDelivery.objects.filter(update=update, state=HookDelivery.State.PENDING).values_list(
        "pk", flat=True
    ):
        enqueue_hook_delivery(pk)
    return queued


@dataclass(slots=True)
class Claimed:
    """A delivery this batch holds, with what sending it needs of its subscriber."""

    pk: int
    update_id: int
    attempts: int
    message_id: str
    subscriber_id: int
    email: str
    token_nonce: str


_CLAIMED = (
    "pk",
    "update_id",
    "attempts",
    "message_id",
    "subscriber_id",
    "subscriber__email",
    "subscriber__token_nonce",
)


def _claim(delivery_ids: list[int]) -> list[Claimed]:
    """Lock what is still to send and mark it sending; skip mail to anyone who left since the fan-out.

    Plain values, not model instances: building 2 x 200 of them cost more than the queries."""
    now = timezone.now()
    with transaction.atomic():
        # By id alone: the state is checked here, so no plan can prefer the state index and read every row
        # still pending (all of a fan-out's, for each batch). Rows in other states are locked an instant.
        locked = (
            MailDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=delivery_ids)
            .order_by("pk")
            .values_list(*_CLAIMED, "state", "subscriber__state")
        )
        rows = [row for row in locked if row[-2] in (MailDelivery.State.PENDING, MailDelivery.State.FAILED)]
        claimed = [Claimed(*row[:-2]) for row in rows if row[-1] == Subscriber.State.ACTIVE]
        gone = [row[0] for row in rows if row[-1] != Subscriber.State.ACTIVE]
        if gone:
            MailDelivery.objects.filter(pk__in=gone).update(state=MailDelivery.State.SKIPPED, updated_at=now)
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


def _ours(rows: list[Claimed]) -> Q:
    """Those of ``rows`` still held by this batch: sending, and not claimed again since (the sweeper may have
    handed a row to another worker, whose claim raised its attempts)."""
    by_attempts: dict[int, list[int]] = {}
    for row in rows:
        by_attempts.setdefault(row.attempts, []).append(row.pk)
    held = Q(pk__in=[])
    for attempts, pks in by_attempts.items():
        held |= Q(pk__in=pks, attempts=attempts)
    return Q(state=MailDelivery.State.SENDING) & held


def _fail(rows: list[Claimed], error: str) -> float | None:
    """Put unsent rows back for a retry (or give up on those out of attempts); the wait before the retry.

    Only rows still this batch's change: one the sweeper handed to another worker is that worker's."""
    now = timezone.now()
    limit = outbox.max_attempts("mail")
    dead = [row for row in rows if row.attempts >= limit]
    retry = [row for row in rows if row.attempts < limit]
    if dead:
        MailDelivery.objects.filter(_ours(dead)).update(
            state=MailDelivery.State.DEAD, last_error=error, updated_at=now
        )
    if not retry:
        return None
    wait = backoff_seconds(max(row.attempts for row in retry))
    MailDelivery.objects.filter(_ours(retry)).update(
        state=MailDelivery.State.FAILED,
        last_error=error,
        next_attempt_at=now + timedelta(seconds=wait),
        updated_at=now,
    )
    return wait


@dataclass
class _Prepared:
    row: Claimed
    recipient: str = ""
    data: bytes = b""  # for Django's SMTP backend: the bytes it would send
    message: EmailMultiAlternatives | None = None  # for any other backend
    error: str = ""


def _prepare(
    mailer: UpdateMail,
    rows: list[Claimed],
    roots: dict[int, str],
    mail_connection: BaseEmailBackend,
    wire: bool,
) -> list[_Prepared]:
    prepared = []
    for row in rows:
        item = _Prepared(row)
        try:
            copy = mailer.copy_for(
                subscriber_id=row.subscriber_id, email=row.email, token_nonce=row.token_nonce,
                message_id=row.message_id, root_id=roots.get(row.subscriber_id),
            )  # fmt: skip
            if wire:
                item.recipient, item.data = mailer.wire(copy)
            else:
                item.message = mailer.message(copy, mail_connection)
        except Exception:  # a bug, not the mail server: retrying would fail the same way
            logger.exception("could not build the mail of delivery %s", row.pk)
            item.error = BUILD_ERROR
        prepared.append(item)
    return prepared


def _still_ours(prepared: list[_Prepared]) -> list[_Prepared]:
    """What the sweeper has not handed to another worker meanwhile (one query for the chunk)."""
    rows = MailDelivery.objects.filter(pk__in=[item.row.pk for item in prepared]).values_list(
        "pk", "attempts", "state"
    )
    ours = {(pk, attempts) for pk, attempts, state in rows if state == MailDelivery.State.SENDING}
    return [item for item in prepared if (item.row.pk, item.row.attempts) in ours]


def _mark_one_sent(row: Claimed) -> None:
    """Committed at once (autocommit): the server has the message, so no crash may send it again.

    One statement with parameters, not the ORM: it runs once per mail, and building the query is most of the
    ORM's cost. Guarded like ``_ours``: a row the sweeper handed to another worker is left alone."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            _MARK_ONE_SENT,
            [MailDelivery.State.SENT, now, now, row.pk, row.attempts, MailDelivery.State.SENDING],
        )


_MARK_ONE_SENT = (
    f"UPDATE {MailDelivery._meta.db_table} SET state = %s, sent_at = %s, updated_at = %s, last_error = '',"  # noqa: S608
    " next_attempt_at = NULL WHERE id = %s AND attempts = %s AND state = %s"
)


def _mark_sent(rows: list[Claimed]) -> None:
    if rows:
        now = timezone.now()
        MailDelivery.objects.filter(_ours(rows)).update(
            state=MailDelivery.State.SENT, sent_at=now, last_error="", next_attempt_at=None, updated_at=now
        )


def _mark_dead(rows: list[Claimed], error: str) -> None:
    MailDelivery.objects.filter(_ours(rows)).update(
        state=MailDelivery.State.DEAD, last_error=error, updated_at=timezone.now()
    )


@contextmanager
def _commits_without_waiting_for_disk() -> Iterator[None]:
    """One commit per mail, without waiting for PostgreSQL to flush each to disk (``synchronous_commit``).

    A commit is then visible at once and survives the worker being killed; only a crash of the PostgreSQL
    server itself within a fraction of a second could lose the last marks, and those few mails would be sent
    again. Other databases (the demo's SQLite) commit as they always do."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with suppress(Exception), connection.cursor() as cursor:  # a broken connection is discarded anyway
            cursor.execute("RESET synchronous_commit")


class _Lease:
    """Keeps this batch's claim fresh while a slow server makes it outlive the sweeper's patience.

    Looked at before each mail; a query only every ``LEASE_RENEW_SECONDS``. A renewal that finds rows no longer
    ours (a send slower than ``STUCK_AFTER``) tells the caller to check the rows it is about to send again."""

    def __init__(self) -> None:
        self.renewed = time.monotonic()

    def renew(self, rows: list[Claimed]) -> bool:
        """Whether all of ``rows`` are still ours (renewed), or nothing needed renewing yet."""
        if time.monotonic() - self.renewed <= LEASE_RENEW_SECONDS or not rows:
            return True
        changed = MailDelivery.objects.filter(_ours(rows)).update(updated_at=timezone.now())
        self.renewed = time.monotonic()
        return changed == len(rows)


def send_batch(delivery_ids: list[int]) -> BatchOutcome:
    """Send one batch over one connection. Per-message refusals stop only that message; a broken
    connection puts the rest back for a retry with backoff.

    The batch goes in chunks of ``CHUNK``: each chunk's mails are built and the rows checked to be still ours
    (one query a chunk); then each mail is sent and its row marked sent at once (one query a mail). Every write
    is guarded by the row's state and attempts, so a row the sweeper handed to another worker meanwhile is
    never overwritten."""
    rows = _claim(delivery_ids)
    outcome = BatchOutcome()
    if not rows:
        return outcome
    update = IncidentUpdate.objects.select_related("incident").get(pk=rows[0].update_id)
    try:
        mailer = mail_for(update)
    except Exception:  # a bug or a broken template, not the mail server: retrying would fail the same way
        logger.exception("could not render the mail of update %s", update.pk)
        _mark_dead(rows, BUILD_ERROR)
        return outcome
    roots = selectors.thread_roots(update=update, subscriber_ids=[r.subscriber_id for r in rows])
    mail_connection = get_connection(fail_silently=False)
    try:
        mail_connection.open()
    except Exception as exc:
        logger.warning("cannot open the mail connection: %s", describe(exc))
        outcome.retry_in = _fail(rows, f"could not connect to the mail server: {describe(exc)}")
        outcome.retry_ids = [row.pk for row in rows]
        return outcome
    # Django's own SMTP backend is given the finished bytes, pipelined; any other backend (an ESP's API, the
    # demo's file backend) a Django message. A subclass may sign or rewrite mail: it gets messages too.
    smtp_connection = mail_connection.connection if type(mail_connection) is SMTPBackend else None
    lease = _Lease()
    with _commits_without_waiting_for_disk():
        return _send_claimed(rows, mailer, roots, mail_connection, smtp_connection, lease, outcome)


def _send_claimed(
    rows: list[Claimed], mailer: UpdateMail, roots: dict[int, str], mail_connection: BaseEmailBackend,
    smtp_connection: smtplib.SMTP | None, lease: _Lease, outcome: BatchOutcome,
) -> BatchOutcome:  # fmt: skip
    deferred: list[Claimed] = []  # refused for now (4xx) by the server: retried alone, later
    deferred_wait: float | None = None
    try:
        for start in range(0, len(rows), CHUNK):
            chunk = _prepare(
                mailer, rows[start : start + CHUNK], roots, mail_connection, smtp_connection is not None
            )
            # Send a row only if it is still ours: if the sweeper handed it to another worker, that one sends it.
            ours = _still_ours(chunk)
            index = 0
            while index < len(ours):
                item = ours[index]
                if not lease.renew([i.row for i in ours[index:]] + rows[start + CHUNK :]):
                    ours = ours[:index] + _still_ours(ours[index:])
                    continue
                index += 1
                if item.error:
                    _mark_dead([item.row], item.error)
                    continue
                try:
                    if smtp_connection is None:  # then _prepare built a message, not bytes
                        mail_connection.send_messages([cast(EmailMultiAlternatives, item.message)])
                    else:
                        smtp.send(
                            smtp_connection, sender=mailer.envelope_sender, recipient=item.recipient,
                            data=item.data,
                        )  # fmt: skip
                except Exception as exc:
                    if is_permanent(exc):
                        _mark_dead([item.row], describe(exc))
                        continue
                    if is_deferred(exc):
                        wait = _fail([item.row], describe(exc))
                        if wait is not None:
                            deferred.append(item.row)
                            deferred_wait = max(deferred_wait or 0.0, wait)
                        continue
                    logger.warning("mail batch interrupted: %s", describe(exc))
                    remaining = [i.row for i in ours[index - 1 :]] + rows[start + CHUNK :]
                    wait = _fail(remaining, describe(exc))
                    waits = [w for w in (wait, deferred_wait) if w is not None]
                    outcome.retry_in = max(waits) if waits else None
                    outcome.retry_ids = [r.pk for r in deferred + remaining]
                    return outcome
                _mark_one_sent(item.row)
                outcome.sent += 1
        if deferred:
            outcome.retry_in, outcome.retry_ids = deferred_wait, [r.pk for r in deferred]
    finally:
        try:
            mail_connection.close()
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
    # Interrupted mid-send: the one message accepted but not yet marked sent (if the kill came between the
    # two) went out and goes again; the rest certainly did not. A row that was in flight every time it
    # was tried (a worker killed by it) is given up on.
    interrupted = MailDelivery.objects.filter(state=MailDelivery.State.SENDING, updated_at__lt=stale)
    resumed = outbox.resume_interrupted(interrupted, limit=outbox.max_attempts("mail"), now=now)
    rows = list(
        MailDelivery.objects.filter(outbox.due(resumed, stale=stale))
        .order_by("update_id", "pk")
        .values_list("update_id", "pk")[:10000]
    )
    by_update: dict[int, list[int]] = {}
    for update_id, pk in rows:
        by_update.setdefault(update_id, []).append(pk)
    for ids in by_update.values():
        for batch in _chunks(ids, settings.STATUSHUB_MAIL_BATCH_SIZE):
            _enqueue_batch(batch)
            queued += 1

    return queued + hook_deliveries_sweep()
