"""The delivery engine: one Delivery per (update, channel), worked by Celery, never lost.

Deliveries are written in the publishing transaction and queued on commit. A sweeper re-queues any that a
crash left pending or sending. Transient errors retry with exponential backoff and jitter (honouring the
service's Retry-After); permanent ones stop at once and flag the channel for a human.
"""

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from channels.models import Channel, ChannelThread, Delivery
from channels.registry import transport_class
from channels.rendering import render
from channels.sessions import CachedSessions
from channels.transports import Thread, Transport, TransportError
from incidents.models import IncidentUpdate
from people.services import audit_record
from statushub.lib.after_commit import after_commit
from statushub.lib.secrets import SecretError, decrypt_json, encrypt_json

MAX_ATTEMPTS = 8
MAX_BACKOFF = 30 * 60  # seconds; the broker's visibility timeout must stay above this
STUCK_AFTER = timedelta(minutes=2)
WAIT_FOR_EARLIER = 2.0  # seconds between looks while an earlier update of the incident is still on its way

logger = logging.getLogger(__name__)


def channel_set_credentials(*, channel: Channel, credentials: dict[str, str]) -> None:
    channel.encrypted_credentials = encrypt_json(credentials, list(settings.STATUSHUB_KEY_ENCRYPTION_KEYS))
    channel.save(update_fields=["encrypted_credentials", "updated_at"])


class ChannelSetupError(Exception):
    """The channel cannot be used as configured (no integration, or credentials nobody can decrypt)."""


def channel_credentials(channel: Channel) -> dict[str, Any]:
    try:
        return decrypt_json(channel.encrypted_credentials, list(settings.STATUSHUB_KEY_ENCRYPTION_KEYS))
    except SecretError as exc:
        raise ChannelSetupError(str(exc)) from exc


def transport_for(channel: Channel) -> Transport:
    cls = transport_class(channel.kind)
    if cls is None:
        raise ChannelSetupError(f"No integration for {channel.get_kind_display()} yet.")
    credentials = channel_credentials(channel)
    return cls(channel.config, credentials, sessions=CachedSessions(channel.pk, credentials, channel.config))


def transports_load() -> list[str]:
    """Import the integrations of the enabled channels, for a worker that is starting.

    Otherwise the first publish after a start pays for the SDKs' imports (about 1.2 s for all of them, on the
    delivery threads, one after another under the GIL). Kinds nobody uses stay unloaded, as the registry
    intends; one that fails to import is logged here and fails its own deliveries, as it would have.
    """
    kinds = sorted(set(Channel.objects.filter(enabled=True).values_list("kind", flat=True)))
    for kind in kinds:
        try:
            transport_class(kind)
        except Exception:
            logger.exception("the %s integration could not be loaded", kind)
    return kinds


def _enqueue(delivery_id: int, countdown: float = 0) -> None:
    from channels.tasks import deliver

    deliver.apply_async(args=(delivery_id,), countdown=countdown)


def deliveries_create(*, update: IncidentUpdate) -> list[Delivery]:
    """Called inside the publish transaction: the deliveries exist if and only if the update does."""
    channels = Channel.objects.filter(enabled=True).filter(Q(owner__isnull=True) | Q(owner=update.author))
    deliveries = Delivery.objects.bulk_create(
        [Delivery(update=update, channel=channel, dry_run=channel.dry_run) for channel in channels]
    )
    for delivery in deliveries:
        # If the broker is down the rows stay pending, and the sweeper queues them once it is back.
        after_commit(partial(_enqueue, delivery.pk), what="channel deliveries")
    return deliveries


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    base = min(MAX_BACKOFF, settings.STATUSHUB_DELIVERY_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    jittered = base * random.uniform(0.8, 1.2)  # noqa: S311  (spreading retries, not security)
    return max(jittered, retry_after or 0.0)


@dataclass
class Outcome:
    state: str
    retry_in: float | None = None


def _claim(delivery_id: int) -> Delivery | float | None:
    """Lock the delivery and mark it sending; or say how long to wait while an earlier update of the same
    incident is still open on the same channel (replies must follow the post they reply to)."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("channel", "update__incident", "update__signing_key", "update__corrects")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.state not in Delivery.OPEN_STATES:
            return None
        earlier = list(
            Delivery.objects.filter(
                channel_id=delivery.channel_id,
                update__incident_id=delivery.update.incident_id,
                update_id__lt=delivery.update_id,
                state__in=Delivery.OPEN_STATES,
            ).values_list("next_attempt_at", flat=True)
        )
        if earlier:
            now = timezone.now()
            due = max((at for at in earlier if at is not None), default=None)
            wait = max(WAIT_FOR_EARLIER, (due - now).total_seconds() + 1 if due else 0.0)
            # Scheduled, not stuck: the sweeper leaves it alone until this time has passed.
            Delivery.objects.filter(pk=delivery.pk).update(
                next_attempt_at=now + timedelta(seconds=wait), updated_at=now
            )
            return wait
        delivery.state = Delivery.State.SENDING
        delivery.attempts += 1
        delivery.save(update_fields=["state", "attempts", "updated_at"])
        return delivery


def _finish(delivery: Delivery, state: str, **fields: object) -> Outcome:
    for name, value in fields.items():
        setattr(delivery, name, value)
    delivery.state = state
    delivery.save()
    return Outcome(state)


def delivery_attempt(delivery_id: int) -> Outcome | None:
    """Try one delivery once. Returns None if there was nothing to do (already done, cancelled, or gone)."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    if isinstance(delivery, float):
        return Outcome(Delivery.State.PENDING, retry_in=delivery)
    try:
        return _attempt(delivery)
    except Exception as exc:
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


def _attempt(delivery: Delivery) -> Outcome:
    channel = delivery.channel
    try:
        transport = transport_for(channel)
    except ChannelSetupError as exc:
        return _finish(delivery, Delivery.State.DEAD, last_error=str(exc))
    thread_row = ChannelThread.objects.filter(channel=channel, incident=delivery.update.incident).first()
    thread = Thread(thread_row.root_id, thread_row.last_id) if thread_row else Thread()
    try:
        request = transport.build_request(
            render(delivery.update, channel),
            thread,
            idempotency_key=f"{delivery.update.public_id}-{channel.pk}",
        )
    except KeyError as exc:  # the channel lacks a setting its service needs: a human must add it
        _flag(channel, missing_setting(exc))
        return _finish(delivery, Delivery.State.DEAD, last_error=missing_setting(exc))
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
        sent = transport.send(request, thread)
    except TransportError as exc:
        if exc.permanent or delivery.attempts >= MAX_ATTEMPTS:
            _flag(channel, exc.message)
            return _finish(delivery, Delivery.State.DEAD, request=request, last_error=exc.message)
        wait = backoff_seconds(delivery.attempts, exc.retry_after)
        outcome = _finish(
            delivery, Delivery.State.FAILED, request=request, last_error=exc.message,
            next_attempt_at=timezone.now() + timedelta(seconds=wait),
        )  # fmt: skip
        outcome.retry_in = wait
        return outcome
    if thread_row is None:
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


class ManualPostError(ValueError):
    pass


@transaction.atomic
def delivery_mark_posted(*, delivery: Delivery, by: User, url: str) -> Delivery:
    """A person posted a manual channel's text: record who, where and when, like any other delivery."""
    url = url.strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise ManualPostError("Give the link to the post (https://…).") from exc
    locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
    if locked.state != Delivery.State.AWAITING:
        raise ManualPostError("This delivery is not waiting to be posted.")
    locked.state = Delivery.State.DELIVERED
    locked.remote_url = url
    locked.posted_by = by
    locked.delivered_at = timezone.now()
    locked.save()
    return locked


def delivery_retry(*, delivery: Delivery) -> None:
    if delivery.state in (Delivery.State.DEAD, Delivery.State.FAILED, Delivery.State.CANCELLED):
        Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.PENDING, next_attempt_at=None)
        after_commit(partial(_enqueue, delivery.pk), what="channel deliveries")


def delivery_cancel(*, delivery: Delivery) -> None:
    cancellable = [*Delivery.OPEN_STATES, Delivery.State.AWAITING]
    Delivery.objects.filter(pk=delivery.pk, state__in=cancellable).update(state=Delivery.State.CANCELLED)


def deliveries_sweep() -> int:
    """Re-queue deliveries a crash or a lost message left behind. Safe to run often: claiming is atomic."""
    now = timezone.now()
    stuck = Delivery.objects.filter(
        Q(state=Delivery.State.SENDING, updated_at__lt=now - STUCK_AFTER)
        | Q(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=now - STUCK_AFTER),
            state=Delivery.State.PENDING,
            updated_at__lt=now - STUCK_AFTER,
        )
        | Q(state=Delivery.State.FAILED, next_attempt_at__lt=now - STUCK_AFTER)
    ).values_list("pk", flat=True)
    ids = list(stuck[:1000])
    # A delivery stuck in "sending" was interrupted mid-attempt: make it claimable again, unless every
    # attempt so far ended that way (a worker killed by it each time): then a person must look.
    interrupted = Delivery.objects.filter(pk__in=ids, state=Delivery.State.SENDING)
    interrupted.filter(attempts__gte=MAX_ATTEMPTS).update(
        state=Delivery.State.DEAD, last_error=f"Stopped after {MAX_ATTEMPTS} attempts that never finished."
    )
    interrupted.update(state=Delivery.State.FAILED)
    for delivery_id in ids:
        _enqueue(delivery_id)
    return len(ids)


CONNECTION_FIELDS = ["name", "enabled", "dry_run", "config", "encrypted_credentials", "updated_at"]


@transaction.atomic
def channel_save(
    *, channel: Channel, name: str, enabled: bool, dry_run: bool, config: dict[str, Any],
    new_secrets: dict[str, str], by: User, request: HttpRequest | None = None,
) -> Channel:  # fmt: skip
    """Create or change a channel. ``None`` in ``config`` clears a setting; settings not named (e.g.
    ``api_base``) are kept. When where it posts changes, the incident threads start afresh there."""
    creating = channel.pk is None
    changed = sorted(key for key, value in config.items() if channel.config.get(key) != value)
    changed += [
        key
        for key, value in (("name", name), ("enabled", enabled), ("dry_run", dry_run))
        if getattr(channel, key) != value
    ]
    channel.name, channel.enabled, channel.dry_run = name, enabled, dry_run
    merged = {**channel.config, **config}
    channel.config = {key: value for key, value in merged.items() if value is not None}
    if new_secrets:
        try:
            stored = {} if creating else channel_credentials(channel)
        except ChannelSetupError:  # the old keys are gone: the new secrets replace what nobody can read
            stored = {}
        channel.encrypted_credentials = encrypt_json(
            {**stored, **new_secrets}, list(settings.STATUSHUB_KEY_ENCRYPTION_KEYS)
        )
        channel.problem = ""  # new credentials: let the next delivery (or a test) tell
        changed.append("credentials")
    # A new place (instance, channel, category, page, subreddit, account) starts its own threads; new
    # credentials alone are usually the same account's rotated keys, so threads carry on.
    if changed and not creating:  # the last test said nothing about these settings
        channel.checked_at, channel.check_ok, channel.check_message = None, False, ""
    if not creating and (
        set(changed) - {"name", "enabled", "dry_run", "credentials", "max_characters", "visibility"}
    ):
        ChannelThread.objects.filter(channel=channel).delete()
    channel.save()
    audit_record(
        action="channel.connected" if creating else "channel.changed",
        actor=by,
        target=channel,
        data={"kind": channel.kind, "personal": channel.is_personal, "changed": changed},
        request=request,
    )
    return channel


@dataclass
class CheckResult:
    ok: bool
    message: str


def channel_check(*, channel: Channel) -> CheckResult:
    """Test connection: one harmless authenticated call. Success also clears an old problem flag."""
    try:
        transport = transport_for(channel)
        if problem := not_connected(transport):
            raise TransportError(problem, permanent=True)
        result = CheckResult(True, transport.check())
    except (ChannelSetupError, TransportError) as exc:
        result = CheckResult(False, str(exc))
    except KeyError as exc:  # a required setting is missing from config
        result = CheckResult(False, missing_setting(exc))
    except Exception as exc:
        logger.exception("testing channel %s failed unexpectedly", channel.pk)
        result = CheckResult(False, f"Unexpected error ({type(exc).__name__}); the web log has the details.")
    fields: dict[str, Any] = {
        "checked_at": timezone.now(),
        "check_ok": result.ok,
        "check_message": (result.message[:1].upper() + result.message[1:])[:300],
    }
    if result.ok:
        fields |= {"problem": "", "problem_at": None}
    Channel.objects.filter(pk=channel.pk).update(**fields)
    return result
