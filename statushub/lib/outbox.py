"""What every outbox shares: channel deliveries, subscribers' hook deliveries and their mail.

Each is a table of rows, one per message to send, moving pending → sending → done | failed (retried) | dead.
``OutboxRow`` holds what they all have; ``backoff_seconds`` spaces the attempts (waits double from a base, up to
a cap, with jitter, never sooner than the service asked); ``resume_interrupted`` and ``due`` are the sweeper's two
steps (rows a killed worker left "sending", then everything whose message may have been lost); ``lock_open``,
``start_attempt`` and ``write_fields`` are the claim and the end of one attempt. Retry limits are settings
(``STATUSHUB_*_MAX_ATTEMPTS``), one documented default each.
"""

import random
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.db import models
from django.db.models import Q, QuerySet

from statushub.lib.models import TimeStampedModel

MAX_BACKOFF = 30 * 60  # seconds: the ceiling of backoff_seconds for mail, webhooks and feeds

PENDING, SENDING, FAILED, DEAD = "pending", "sending", "failed", "dead"
OPEN_STATES = (PENDING, SENDING, FAILED)


class OutboxRow(TimeStampedModel):
    """One message on its way out. Subclasses name what it carries and where it goes, and give ``state`` its
    choices (their own done states: delivered, sent, awaiting a person, skipped, cancelled)."""

    OPEN_STATES = OPEN_STATES

    state = models.CharField(max_length=16, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


Row = TypeVar("Row", bound=OutboxRow)


def max_attempts(outbox: str) -> int:
    """The retry limit of one outbox ("channel", "hook", "mail", "websub", "alert_notice") from the settings."""
    return int(getattr(settings, f"STATUSHUB_{outbox.upper()}_MAX_ATTEMPTS"))


def backoff_seconds(attempts: int, retry_after: float | None = None, cap: float = MAX_BACKOFF) -> float:
    base = min(cap, settings.STATUSHUB_DELIVERY_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    jittered = base * random.uniform(0.8, 1.2)  # noqa: S311  (spreading retries, not security)
    return max(jittered, retry_after or 0.0)


def lock_open(queryset: QuerySet[Row], pk: int) -> Row | None:
    """The row, locked until the caller's transaction ends, if it is still to be sent (pending, sending, failed)."""
    row = queryset.select_for_update(of=("self",)).filter(pk=pk).first()
    return row if row is not None and row.state in OPEN_STATES else None


def start_attempt(row: OutboxRow, **fields: Any) -> None:
    """Mark the row sending and count the attempt, with any other fields (a lease), in one UPDATE of those fields."""
    row.state = SENDING
    row.attempts += 1
    write_fields(row, **fields, state=SENDING, attempts=row.attempts)


def write_fields(row: OutboxRow, **fields: Any) -> None:
    """Write just these fields (and ``updated_at``): other columns may be counted by other tasks meanwhile."""
    for name, value in fields.items():
        setattr(row, name, value)
    row.save(update_fields=[*fields, "updated_at"])


def resume_interrupted(interrupted: QuerySet, *, limit: int, now: datetime) -> list[int]:
    """Rows a killed worker left "sending": given up once every attempt ended that way, the others made due
    again (failed, so that claiming them counts an attempt). Returns the ids to queue."""
    interrupted.filter(attempts__gte=limit).update(
        state=DEAD, last_error="Stopped after attempts that never finished.", updated_at=now
    )
    resumed = list(interrupted.values_list("pk", flat=True))
    interrupted.model.objects.filter(pk__in=resumed).update(state=FAILED, updated_at=now)
    return resumed


def due(resumed: list[int], *, stale: datetime) -> Q:
    """What the sweeper queues: the resumed rows, rows queued but never picked up, and retries whose message
    was lost (all older than ``stale``, so a row is queued again only once per grace period)."""
    return (
        Q(pk__in=resumed)
        | Q(state=PENDING, updated_at__lt=stale)
        | Q(state=FAILED, next_attempt_at__lt=stale)
    )
