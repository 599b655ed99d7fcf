"""Logins kept between deliveries, so a burst of updates does not burn a service's session limit.

Bluesky allows 30 ``createSession`` calls per 5 minutes per account: logging in once per delivery would lock
a busy incident out. Sessions live in the cache (Redis in production), encrypted with the same keys as the
channel credentials, under a key that changes when the credentials change.
"""

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.cache import cache

from statushub.lib.secrets import SecretError, decrypt_json, encrypt_json

TTL = 7 * 24 * 3600  # the service refreshes or rejects it long before; eviction only costs a login


class CachedSessions:
    def __init__(self, channel_id: int, credentials: dict[str, Any], config: dict[str, Any]) -> None:
        # A session belongs to one account on one server: new credentials or a new server, a new login.
        material = json.dumps([credentials, config], sort_keys=True, default=str)
        digest = hashlib.sha256(material.encode()).hexdigest()[:16]
        self.key = f"channel-session:{channel_id}:{digest}"
        self.keys = list(settings.STATUSHUB_KEY_ENCRYPTION_KEYS)

    def get(self) -> str | None:
        token = cache.get(self.key)
        if not token:
            return None
        try:
            return str(decrypt_json(token, self.keys).get("session") or "") or None
        except SecretError:  # keys rotated away: log in afresh
            return None

    def set(self, value: str) -> None:
        cache.set(self.key, encrypt_json({"session": value}, self.keys), TTL)

    def forget(self) -> None:
        cache.delete(self.key)
