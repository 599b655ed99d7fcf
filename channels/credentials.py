"""A channel's secrets (encrypted at rest) and the transport that speaks for it."""

from typing import Any

from django.conf import settings

from channels.models import Channel
from channels.sessions import CachedSessions
from integrations.base import Transport
from integrations.registry import transport_class
from statushub.lib.secrets import SecretError, decrypt_json, encrypt_json


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
