"""Polling the listeners: each source on its own schedule, its cursor kept, backing off on errors.

A source is claimed by moving its ``next_poll_at`` forward (a lease) in one UPDATE, so two workers never poll
the same source at once; the service is called with no database lock held; what it returned is stored, and the
cursor moves on, in one transaction. An error keeps the cursor and waits longer each time (the service's
Retry-After when it gives one), so nothing heard is lost and a failing service is not hammered.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from channels.credentials import channel_credentials
from integrations import registry
from integrations.base import Heard, Listener
from mentions import demo, services
from mentions.models import MentionSource
from statushub.lib.outbound import OutboundError

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)


@dataclass
class Polled:
    source: MentionSource
    heard: int = 0
    stored: int = 0
    error: str = ""
    skipped: bool = False


def due_sources(now: datetime) -> list[int]:
    pollable = list(registry.LISTENERS)
    return list(
        MentionSource.objects.filter(enabled=True)
        .filter(Q(kind__in=pollable) | Q(dry_run=True))
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .values_list("pk", flat=True)
    )


def listener_for(source: MentionSource) -> Listener:
    cls = registry.listener_class(source.kind)
    if cls is None:
        raise OutboundError(f"nobody listens to {source.get_kind_display()} by polling", permanent=True)
    credentials = channel_credentials(source.channel) if source.channel else {}
    # The connected channel's settings win: a source's own config cannot point its credentials elsewhere.
    config = {**source.config, **(source.channel.config if source.channel else {})}
    return cls(config, credentials, searches=source.search_terms)


def poll(source_id: int, *, now: datetime | None = None, force: bool = False) -> Polled:
    now = now or timezone.now()
    claim = MentionSource.objects.filter(pk=source_id, enabled=True)
    if not force:
        claim = claim.filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
    if not claim.update(next_poll_at=now + LEASE):
        source = MentionSource.objects.filter(pk=source_id).first()
        return Polled(source=source, skipped=True)  # type: ignore[arg-type]
    source = MentionSource.objects.select_related("channel").get(pk=source_id)
    try:
        heard, cursor = _fetch(source)
    except Exception as exc:
        if not isinstance(exc, OutboundError):
            log.exception("Polling %s failed", source)
            exc = OutboundError(f"unexpected answer ({type(exc).__name__}): {exc}")
        source.failures += 1
        wait = min(MAX_BACKOFF, timedelta(seconds=source.poll_seconds * 2 ** min(source.failures, 10)))
        if exc.retry_after:
            wait = max(wait, timedelta(seconds=exc.retry_after))
        MentionSource.objects.filter(pk=source.pk).update(
            failures=source.failures, last_error=str(exc)[:500], last_polled_at=now, next_poll_at=now + wait
        )
        return Polled(source=source, error=str(exc))
    with transaction.atomic():
        stored = services.ingest(
            [services.Incoming.from_heard(source.kind, h) for h in heard], source=source, now=now
        )
        MentionSource.objects.filter(pk=source.pk).update(
            cursor=cursor, failures=0, last_error="", last_polled_at=now,
            next_poll_at=now + timedelta(seconds=source.poll_seconds),
        )  # fmt: skip
    return Polled(source=source, heard=len(heard), stored=len(stored))


def _fetch(source: MentionSource) -> tuple[list[Heard], str]:
    if source.dry_run:
        return demo.heard(source.kind, source.cursor)
    return listener_for(source).fetch(source.cursor)
