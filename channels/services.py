"""Channels: connecting one (settings, secrets, a test call), and the deliveries a publish, a reply or a private
message writes. The engine that works them is ``channels.engine``."""

import logging
from dataclasses import dataclass
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

from channels import engine
from channels.audit import Action
from channels.credentials import (
    ChannelSetupError,
    channel_credentials,
    channel_set_credentials,
    transport_for,
)
from channels.engine import missing_setting, not_connected
from channels.models import Channel, ChannelThread, Delivery
from incidents.models import IncidentUpdate
from integrations.base import (
    OutboundError,
    Remote,
    TooLong,
    refusals_are_permanent,
)
from integrations.registry import transport_class
from people.services import audit_record
from statushub.lib.after_commit import after_commit
from statushub.lib.secrets import encrypt_json

logger = logging.getLogger(__name__)
# Also found here by their callers (the console, the admin, tests): the credentials module is the engine's too.
__all__ = ["ChannelSetupError", "channel_credentials", "channel_set_credentials", "transport_for"]


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


def deliveries_create(*, update: IncidentUpdate) -> list[Delivery]:
    """Called inside the publish transaction: the deliveries exist if and only if the update does."""
    channels = Channel.objects.filter(enabled=True).filter(Q(owner__isnull=True) | Q(owner=update.author))
    deliveries = Delivery.objects.bulk_create(
        [Delivery(update=update, channel=channel, dry_run=channel.dry_run) for channel in channels]
    )
    for delivery in deliveries:
        # If the broker is down the rows stay pending, and the sweeper queues them once it is back.
        after_commit(partial(engine._enqueue, delivery.pk), what="channel deliveries")
    return deliveries


class MessageError(ValueError):
    """A reply or private message that cannot go out as written: say why, keep the words."""


@transaction.atomic
def message_queue(*, channel: Channel, kind: str, text: str, to: Remote, by: User) -> Delivery:
    """A person's reply to someone's post (``kind`` "reply") or private message to someone ("direct"), sent by
    the delivery engine like an update: retried, looked up after a lost answer, never sent twice. Its request is
    built now, so a message the service cannot carry (too long, no such capability) is refused before it is kept."""
    if kind not in (Delivery.Kind.REPLY, Delivery.Kind.DIRECT):
        raise MessageError(f"{kind!r} is not a reply or a private message")
    transport = transport_for(channel)
    if not (transport.can_reply() if kind == Delivery.Kind.REPLY else transport.can_direct()):
        what = "reply to posts" if kind == Delivery.Kind.REPLY else "send private messages"
        raise MessageError(f"{channel.get_kind_display()} cannot {what} from StatusHub yet.")
    try:
        if kind == Delivery.Kind.REPLY:
            transport.build_reply(text, to, idempotency_key="check")
        else:
            transport.build_direct(text, to, idempotency_key="check")
    except TooLong as exc:
        raise MessageError(f"Too long to send: {exc}. Shorten it; nothing was cut.") from exc
    delivery = Delivery.objects.create(
        kind=kind, channel=channel, text=text, written_by=by, dry_run=channel.dry_run,
        to={"id": to.id, "account": to.account, "url": to.url},
    )  # fmt: skip
    after_commit(partial(engine._enqueue, delivery.pk), what="channel deliveries")
    return delivery


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


CONNECTION_FIELDS = ["name", "enabled", "dry_run", "config", "encrypted_credentials", "updated_at"]


@transaction.atomic
def _offered_settings(kind: str) -> set[str]:
    transport = transport_class(kind)
    return {f.name for f in transport.fields if not f.secret} if transport else set()


def channel_save(
    *, channel: Channel, name: str, enabled: bool, dry_run: bool, config: dict[str, Any],
    new_secrets: dict[str, str], by: User, request: HttpRequest | None = None,
) -> Channel:  # fmt: skip
    """Create or change a channel. ``None`` in ``config`` clears a setting. Only the settings its form offers
    are set or kept: anything else (e.g. an endpoint override, which would send the stored secrets to another
    server) is dropped, even if it was stored. When where it posts changes, the incident threads start afresh."""
    creating = channel.pk is None
    offered = _offered_settings(channel.kind)
    config = {key: value for key, value in config.items() if key in offered}
    changed = sorted(key for key, value in config.items() if channel.config.get(key) != value)
    changed += [
        key
        for key, value in (("name", name), ("enabled", enabled), ("dry_run", dry_run))
        if getattr(channel, key) != value
    ]
    channel.name, channel.enabled, channel.dry_run = name, enabled, dry_run
    merged = {**channel.config, **config}
    channel.config = {key: value for key, value in merged.items() if value is not None and key in offered}
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
        action=Action.CHANNEL_CONNECTED if creating else Action.CHANNEL_CHANGED,
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
            raise OutboundError(problem, permanent=True)
        with refusals_are_permanent():
            result = CheckResult(True, transport.check())
    except (ChannelSetupError, OutboundError) as exc:
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
