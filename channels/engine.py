"""The delivery engine: one Delivery per (update, channel), worked by Celery, never lost.

Deliveries are written in the publishing transaction and queued on commit. Within one incident's thread on
one channel they go out in order (a reply needs the post it replies to): a delivery whose turn has not come
ends its task at once, and the delivery before it queues it when it finishes. A claimed ("sending") delivery
holds a lease; the sweeper (every 10 s) hands out again what a killed worker, a lost message or a broker outage
left behind: leases run out, queued rows nobody picked up, retries whose message vanished. Transient errors
retry with exponential backoff and jitter (honouring the service's Retry-After); permanent ones stop at once
and flag the channel for a human.
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from channels.credentials import ChannelSetupError, transport_for
from channels.models import Channel, ChannelThread, Delivery
from channels.rendering import render
from integrations.base import (
    Lookup,
    OutboundError,
    Remote,
    Sent,
    Thread,
    TooLong,
    Transport,
    is_network_error,
    network_problem,
    refusals_are_permanent,
)
from integrations.registry import transport_class
from statushub.lib import outbox
from statushub.lib.after_commit import after_commit
from statushub.lib.outbox import backoff_seconds, max_attempts

# A channel's retries: waits double from the base (STATUSHUB_DELIVERY_BACKOFF_SECONDS, 5 s) up to three times the
# base (15 s) and stay there, so a blip costs an update seconds; after STATUSHUB_CHANNEL_MAX_ATTEMPTS (40: about
# ten minutes at the default) a service that is down for good ends the delivery and flags the channel. A
# Retry-After or a rate-limit reset always wins.
RETRY_CAP_IN_BASES = 3
LOOKUP_TRIES = 4  # within one attempt, for lookups that fail fast
# A queued delivery (or a due retry) that no worker has picked up after this long lost its message (broker
# restarted, publish-time queueing failed): the sweeper queues it again.
QUEUED_GRACE = timedelta(seconds=20)

logger = logging.getLogger(__name__)


def _enqueue(delivery_id: int, countdown: float = 0) -> None:
    from channels.tasks import deliver

    deliver.apply_async(args=(delivery_id,), countdown=countdown)


def delivery_queue(*, delivery_id: int, countdown: float = 0) -> None:
    _enqueue(delivery_id, countdown)


def lease_for(channel: Channel) -> timedelta:
    """How long a claim holds: room for the few calls of one attempt (log in, look up, post), each of which
    gives up after the transport's timeout. A worker killed mid-attempt delays its thread by this much."""
    cls = transport_class(channel.kind)
    timeout = cls.timeout if cls is not None else Transport.timeout
    return timedelta(seconds=settings.STATUSHUB_DELIVERY_LEASE_TIMEOUTS * timeout)


@dataclass
class Outcome:
    state: str
    retry_in: float | None = None


WAITING = "waiting"  # an earlier update of the incident is still open on the channel: that one wakes this one


def _earlier_open(delivery: Delivery) -> bool:
    update = delivery.update if delivery.update_id is not None else None
    if update is None:  # a reply or a private message waits for nothing
        return False
    return Delivery.objects.filter(
        channel_id=delivery.channel_id,
        update__incident_id=update.incident_id,
        update_id__lt=delivery.update_id,
        state__in=Delivery.OPEN_STATES,
    ).exists()


def _claim(delivery_id: int) -> Delivery | str | None:
    """Lock the delivery and mark it sending, under a lease; WAITING if an earlier update of the same incident
    is still open on the same channel (replies must follow the post they reply to); None if there is nothing
    to do (done, or another worker holds it, or its retry is not due: this message is a duplicate)."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("channel", "update__incident", "update__signing_key", "update__corrects")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return None
        Delivery.objects.filter(pk=delivery.pk).update(tasks=F("tasks") + 1)
        delivery.tasks += 1
        now = timezone.now()
        if delivery.state not in Delivery.OPEN_STATES:
            return None
        if delivery.state == Delivery.State.SENDING and delivery.lease_until and delivery.lease_until > now:
            return None
        if (
            delivery.state == Delivery.State.FAILED
            and delivery.next_attempt_at
            and delivery.next_attempt_at > now + timedelta(seconds=1)
        ):
            return None  # its own retry is queued for later
        if _earlier_open(delivery):
            # No retry of our own: the earlier delivery queues this one when it finishes (_wake_next), and the
            # sweeper leaves a row that waits its turn alone.
            return WAITING
        if delivery.state == Delivery.State.SENDING and delivery.attempts >= max_attempts("channel"):
            delivery.state, delivery.lease_until = Delivery.State.DEAD, None
            delivery.last_error = f"Stopped after {max_attempts('channel')} attempts that never finished."
            delivery.save(update_fields=["state", "lease_until", "last_error", "updated_at"])
            transaction.on_commit(partial(_wake_next, delivery))
            return None
        outbox.start_attempt(delivery, lease_until=now + lease_for(delivery.channel))
        return delivery


def _wake_next(delivery: Delivery) -> None:
    """The delivery is done with (delivered, dead, cancelled, handed to a person): queue the next update of
    its incident on its channel, which waited for it. If this fails the sweeper finds that one instead."""
    update = delivery.update if delivery.update_id is not None else None
    if update is None:
        return
    following = (
        Delivery.objects.filter(
            channel_id=delivery.channel_id,
            update__incident_id=update.incident_id,
            update_id__gt=delivery.update_id,
            state=Delivery.State.PENDING,
        )
        .order_by("update_id")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        try:
            _enqueue(following)
        except Exception:
            logger.warning("could not queue delivery %s; the sweeper will", following, exc_info=True)


def _finish(delivery: Delivery, state: str, **fields: object) -> Outcome:
    # Not a whole-row save: ``tasks`` is counted by other tasks meanwhile (a duplicate message, a wake).
    outbox.write_fields(delivery, **fields, state=state, lease_until=None)
    if state not in Delivery.OPEN_STATES:
        _wake_next(delivery)
    return Outcome(state)


def delivery_attempt(delivery_id: int) -> Outcome | None:
    """Try one delivery once. Returns None if there was nothing to do (already done, cancelled, or gone)."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    if isinstance(delivery, str):
        return Outcome(delivery)
    try:
        return _attempt(delivery)
    except Exception as exc:
        if is_network_error(exc):  # an SDK let a timeout, reset or close through: transient, as any other
            logger.warning("delivery %s: network error %s, will retry", delivery.pk, type(exc).__name__)
            error = OutboundError(f"could not reach the service: {network_problem(exc)}")
            return _failed(delivery, error)
        # A bug or an answer nobody foresaw. The post may even have gone out, so never retry blindly:
        # stop, and let a person look (the traceback is in the worker log, where secrets are not).
        logger.exception("delivery %s to channel %s failed unexpectedly", delivery.pk, delivery.channel_id)
        message = f"Stopped on an unexpected error ({type(exc).__name__}); the worker log has the details."
        _flag(delivery.channel, message)
        return _finish(delivery, Delivery.State.DEAD, last_error=message)


def _flag(channel: Channel, problem: str) -> None:
    Channel.objects.filter(pk=channel.pk).update(problem=problem[:300], problem_at=timezone.now())


def missing_setting(exc: KeyError) -> str:
    return f"Missing setting “{exc.args[0]}”: change the channel to add it."


def not_connected(transport: Transport) -> str:
    """Why the channel cannot post yet (required secrets never given), or ""."""
    missing = [
        f.label for f in transport.fields if f.secret and f.required and not transport.credentials.get(f.name)
    ]
    if not missing:
        return ""
    return f"Not connected yet: {', '.join(missing)} missing. Change the channel to add {'it' if len(missing) == 1 else 'them'}."


def idempotency_key(delivery: Delivery) -> str:
    """Stable across a delivery's attempts: what the service de-duplicates on, and what finds a post again."""
    if delivery.update is not None:
        return f"{delivery.update.public_id}-{delivery.channel_id}"
    return f"{delivery.kind}-{delivery.pk}"


def build(transport: Transport, delivery: Delivery, thread: Thread) -> dict[str, Any]:
    """The exact request for any outbox row: an update fitted to the channel, or a person's words as they wrote
    them, in reply to a post or privately to an account."""
    if delivery.update is not None:
        message = render(delivery.update, delivery.channel)
        return transport.build_request(message, thread, idempotency_key=idempotency_key(delivery))
    to = Remote(**{key: str(value) for key, value in delivery.to.items() if key in ("id", "account", "url")})
    if delivery.kind == Delivery.Kind.DIRECT:
        return transport.build_direct(delivery.text, to, idempotency_key=idempotency_key(delivery))
    return transport.build_reply(delivery.text, to, idempotency_key=idempotency_key(delivery))


def _attempt(delivery: Delivery) -> Outcome:
    channel = delivery.channel
    try:
        transport = transport_for(channel)
    except ChannelSetupError as exc:
        return _finish(delivery, Delivery.State.DEAD, last_error=str(exc))
    thread_row = None
    if delivery.update is not None:
        thread_row = ChannelThread.objects.filter(channel=channel, incident=delivery.update.incident).first()
    thread = Thread(thread_row.root_id, thread_row.last_id) if thread_row else Thread()
    try:
        request = build(transport, delivery, thread)
    except KeyError as exc:  # the channel lacks a setting its service needs: a human must add it
        _flag(channel, missing_setting(exc))
        return _finish(delivery, Delivery.State.DEAD, last_error=missing_setting(exc))
    except (TooLong, NotImplementedError) as exc:  # checked when queued; the channel changed since
        return _finish(delivery, Delivery.State.DEAD, last_error=str(exc))
    if transport.manual:
        return _finish(delivery, Delivery.State.AWAITING, request=request, last_error="")
    if delivery.dry_run:
        return _finish(
            delivery, Delivery.State.DELIVERED, request=request, remote_id="dry-run", delivered_at=timezone.now(),
            last_error="",
        )  # fmt: skip
    if problem := not_connected(transport):
        _flag(channel, problem)
        return _finish(delivery, Delivery.State.DEAD, request=request, last_error=problem)
    try:
        with refusals_are_permanent():
            sent = _already_sent(delivery, transport, request, thread) or _send(
                delivery, transport, request, thread
            )
    except OutboundError as exc:
        if exc.permanent or delivery.attempts >= max_attempts("channel"):
            _flag(channel, exc.message)
            return _finish(delivery, Delivery.State.DEAD, request=request, last_error=exc.message)
        return _failed(delivery, exc, request=request)
    if delivery.update is None:
        pass  # a reply or a private message starts no thread of the incident's
    elif thread_row is None:
        ChannelThread.objects.get_or_create(
            channel=channel, incident=delivery.update.incident,
            defaults={"root_id": sent.remote_id, "last_id": sent.remote_id},
        )  # fmt: skip
    else:
        ChannelThread.objects.filter(pk=thread_row.pk).update(last_id=sent.remote_id)
    return _finish(
        delivery, Delivery.State.DELIVERED, request=request, remote_id=sent.remote_id, remote_url=sent.remote_url,
        delivered_at=timezone.now(), last_error="", next_attempt_at=None,
    )  # fmt: skip


def _failed(delivery: Delivery, exc: OutboundError, **fields: object) -> Outcome:
    """A transient failure: try again after the backoff, or stop once every attempt is spent."""
    if delivery.attempts >= max_attempts("channel"):
        _flag(delivery.channel, exc.message)
        return _finish(delivery, Delivery.State.DEAD, last_error=exc.message, **fields)
    cap = RETRY_CAP_IN_BASES * settings.STATUSHUB_DELIVERY_BACKOFF_SECONDS
    wait = backoff_seconds(delivery.attempts, exc.retry_after, cap=cap)
    outcome = _finish(
        delivery, Delivery.State.FAILED, last_error=exc.message,
        next_attempt_at=timezone.now() + timedelta(seconds=wait), **fields,
    )  # fmt: skip
    outcome.retry_in = wait
    return outcome


def _already_sent(
    delivery: Delivery, transport: Transport, request: dict[str, Any], thread: Thread
) -> Sent | None:
    """The post an earlier attempt made, when one may have reached the service (its answer lost, the worker
    killed). Without this, each answer held past the timeout became a second post.

    A fault while looking is transient: the delivery retries, never posts blind and never dies of it. A
    refusal to be looked at (e.g. a Slack app without the history scope) cannot improve by retrying: then the
    post goes out as before, and the log says why it was not looked up first.
    """
    if delivery.first_send_at is None:  # no attempt got as far as the post: there is nothing to find
        return None
    # A post is made within the lease its call renewed; one client timeout more for a slow service.
    lease = lease_for(delivery.channel) + timedelta(seconds=transport.timeout)
    until = delivery.last_send_at + lease if delivery.last_send_at else None
    lookup = Lookup(key=idempotency_key(delivery), since=delivery.first_send_at, until=until)
    started = time.monotonic()
    for tries_left in range(LOOKUP_TRIES - 1, -1, -1):
        try:
            return _find_sent(transport, request, thread, lookup)
        except OutboundError as exc:
            if exc.permanent:
                logger.warning(
                    "delivery %s: could not look for an earlier post (%s)", delivery.pk, exc.message
                )
                return None
            # A read is safe to repeat: one that failed fast (a 500, a reset) is tried again at once, rather
            # than costing the whole attempt and a backoff, while the lookups have taken less than one client
            # timeout (the lease leaves room for one more, and the post). Never after a 429.
            quick = exc.retry_after is None and time.monotonic() - started < transport.timeout
            if not (tries_left and quick):
                raise
            logger.info("delivery %s: looking again after %s", delivery.pk, exc.message)
    return None


def _find_sent(transport: Transport, request: dict[str, Any], thread: Thread, lookup: Lookup) -> Sent | None:
    try:
        return transport.find_sent(request, thread, lookup)
    except OutboundError:
        raise
    except Exception as exc:
        if is_network_error(exc):
            raise OutboundError(f"could not look for the post already sent: {network_problem(exc)}") from exc
        raise


def _send(delivery: Delivery, transport: Transport, request: dict[str, Any], thread: Thread) -> Sent:
    """Post, only while this worker still holds the delivery: its lease renewed for the call, and the marks
    of a post attempt committed before it (a worker killed during the call leaves them). An attempt whose
    lookups ran past its lease may have been handed to another worker: it posts nothing."""
    now = timezone.now()
    held = Delivery.objects.filter(
        pk=delivery.pk, state=Delivery.State.SENDING, attempts=delivery.attempts, lease_until__gt=now
    ).update(
        first_send_at=delivery.first_send_at or now, last_send_at=now,
        lease_until=now + lease_for(delivery.channel),
    )  # fmt: skip
    if not held:
        raise OutboundError("The attempt ran out of time before posting; the next one looks first.")
    delivery.first_send_at, delivery.last_send_at = delivery.first_send_at or now, now
    return transport.send(request, thread)


def delivery_retry(*, delivery: Delivery) -> None:
    if delivery.state in (Delivery.State.DEAD, Delivery.State.FAILED, Delivery.State.CANCELLED):
        Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.PENDING, next_attempt_at=None)
        after_commit(partial(_enqueue, delivery.pk), what="channel deliveries")


def delivery_cancel(*, delivery: Delivery) -> None:
    cancellable = [*Delivery.OPEN_STATES, Delivery.State.AWAITING]
    if Delivery.objects.filter(pk=delivery.pk, state__in=cancellable).update(state=Delivery.State.CANCELLED):
        after_commit(partial(_wake_next, delivery), what="channel deliveries")


def deliveries_sweep() -> int:
    """Queue again what a killed worker, a lost message or a broker outage left behind. Safe to run often:
    claiming is atomic, and a row is queued again only once per QUEUED_GRACE."""
    now = timezone.now()
    # Interrupted mid-attempt (worker killed, database connection dropped): the lease ran out.
    expired = Delivery.objects.filter(state=Delivery.State.SENDING).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, updated_at__lt=now - QUEUED_GRACE)
    )
    # Every attempt so far ended that way (a worker killed by it each time): a person must look.
    given_up = list(expired.filter(attempts__gte=max_attempts("channel")).select_related("update"))
    for delivery in given_up:
        _finish(
            delivery,
            Delivery.State.DEAD,
            last_error=f"Stopped after {max_attempts('channel')} attempts that never finished.",
        )
    resumed = list(expired.values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=resumed, state=Delivery.State.SENDING).update(
        state=Delivery.State.FAILED, lease_until=None, next_attempt_at=now, updated_at=now
    )
    stale = now - QUEUED_GRACE
    waits_its_turn = Exists(
        Delivery.objects.filter(
            channel_id=OuterRef("channel_id"),
            update__incident_id=OuterRef("update__incident_id"),
            update_id__lt=OuterRef("update_id"),
            state__in=Delivery.OPEN_STATES,
        )
    )
    due = (
        Delivery.objects.filter(
            Q(pk__in=resumed)
            | Q(state=Delivery.State.PENDING, updated_at__lt=stale)
            | Q(state=Delivery.State.FAILED, next_attempt_at__lt=stale)  # its retry's message was lost
        )
        .exclude(waits_its_turn)  # the delivery before it queues it when done
        .order_by("update_id")
    )
    ids = list(due.values_list("pk", flat=True)[:1000])
    # Touched, so each is queued again only after another QUEUED_GRACE if this message is lost too.
    Delivery.objects.filter(pk__in=ids, state=Delivery.State.PENDING).update(updated_at=now)
    Delivery.objects.filter(pk__in=ids, state=Delivery.State.FAILED).update(next_attempt_at=now)
    for delivery_id in ids:
        _enqueue(delivery_id)
    return len(ids)
