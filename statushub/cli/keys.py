"""The site's published keys (keys.json): each one's thumbprint, owner and validity, checked once."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from statushub.cli.fetch import FetchError
from statushub.lib.signing import format_time, key_valid_at, kid_for, parse_time


@dataclass
class PublishedKey:
    """One entry of keys.json; ``problem`` says why it cannot be used, if it cannot."""

    kid: str
    public: bytes = b""
    owner: str = ""
    created: datetime | None = None
    revoked: datetime | None = None
    problem: str | None = None

    def validity_problem(self, published_at: datetime) -> str | None:
        """Why the key was not valid at ``published_at``, or None if it was."""
        if self.created is None:
            return f"key {self.kid} has no creation time in keys.json"
        if key_valid_at(self.created, self.revoked, published_at):
            return None
        when = format_time(published_at)
        if self.created > published_at:
            return f"key {self.kid} was created at {format_time(self.created)}, after the update's published_at {when}"
        assert self.revoked is not None
        return f"key {self.kid} was revoked at {format_time(self.revoked)}, before the update was published at {when}"


def load_keys(document: dict[str, Any]) -> dict[str, PublishedKey]:
    """Index a keys.json JWKS by kid, checking each key's thumbprint and times."""
    keys: dict[str, PublishedKey] = {}
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise FetchError("keys.json has no 'keys' array")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        key = PublishedKey(kid=entry["kid"])
        keys[key.kid] = key
        owner = entry.get("owner") if isinstance(entry.get("owner"), dict) else {}
        key.owner = person(owner)
        try:
            if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
                raise ValueError(
                    f"it is not an Ed25519 OKP key (kty={entry.get('kty')!r}, crv={entry.get('crv')!r})"
                )
            x = entry.get("x")
            if not isinstance(x, str):
                raise ValueError("it has no 'x'")
            key.public = _b64url_decode(x)
            if len(key.public) != 32:
                raise ValueError(f"its 'x' is {len(key.public)} bytes, not 32")
            thumbprint = kid_for(key.public)
            if thumbprint != key.kid:
                raise ValueError(f"its kid is not the RFC 7638 thumbprint of its 'x' ({thumbprint})")
            created = entry.get("created")
            if not isinstance(created, str):
                raise ValueError("it has no 'created' time")
            key.created = parse_time(created)
            revoked = entry.get("revoked")
            key.revoked = parse_time(revoked) if revoked is not None else None
        except ValueError as exc:
            key.problem = str(exc)
    return keys


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def person(value: object) -> str:
    if not isinstance(value, dict):
        return "unknown"
    name, title = value.get("name") or "unknown", value.get("title") or ""
    return f"{name}, {title}" if title else str(name)
