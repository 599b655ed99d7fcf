"""The generic inbound webhook: ``POST /hooks/mentions/<slug>/``, signed per Standard Webhooks with the source's
secret, for monitoring tools (Mention, Brand24, BuzzSumo exports) and scripts.

The body is one mention or ``{"mentions": [...]}`` (at most ``MAX_ITEMS``), each with ``text`` and ``remote_id``
(the post's id where it was said: a post sent twice is stored once), and optionally ``service`` (default
"webhook"), ``url``, ``author_handle``, ``author_name``, ``followers`` and ``posted_at`` (ISO 8601 with its offset).
"""

import base64
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from mentions import services
from mentions.models import MentionSource, Service
from statushub.lib.secrets import decrypt_json, encrypt_json

MAX_ITEMS = 500


class Invalid(ValueError):
    """The body is signed but not what this endpoint takes: says which item and field."""


def new_secret(source: MentionSource) -> str:
    """A new signing secret for the source, shown once; only its encrypted form and a hint are kept."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    source.encrypted_secret = encrypt_json({"secret": secret}, settings.STATUSHUB_KEY_ENCRYPTION_KEYS)
    source.secret_hint = f"{secret[:12]}…"
    source.save(update_fields=["encrypted_secret", "secret_hint", "updated_at"])
    return secret


def secret_of(source: MentionSource) -> str:
    if not source.encrypted_secret:
        return ""
    return str(
        decrypt_json(source.encrypted_secret, settings.STATUSHUB_KEY_ENCRYPTION_KEYS).get("secret", "")
    )


def _text(item: dict[str, Any], name: str, n: int, *, limit: int, required: bool = False) -> str:
    value = item.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid(f"mentions[{n}].{name} must be a string")
    value = value.strip()
    if "\x00" in value:
        raise Invalid(f"mentions[{n}].{name} must not contain NUL characters")
    if required and not value:
        raise Invalid(f"mentions[{n}].{name} is required")
    if len(value) > limit:
        raise Invalid(f"mentions[{n}].{name} is longer than {limit} characters")
    return value


def parse(body: Any) -> list[services.Incoming]:
    items = body.get("mentions") if isinstance(body, dict) and "mentions" in body else [body]
    if not isinstance(items, list) or not items:
        raise Invalid('send one mention object, or {"mentions": [...]} with at least one')
    if len(items) > MAX_ITEMS:
        raise Invalid(f"at most {MAX_ITEMS} mentions per request")
    incoming = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise Invalid(f"mentions[{n}] must be an object")
        said_on = _text(item, "service", n, limit=16) or Service.WEBHOOK
        if said_on not in Service.values:
            raise Invalid(f"mentions[{n}].service must be one of {', '.join(Service.values)}")
        posted: datetime | None = timezone.now()
        if item.get("posted_at"):
            stamp = _text(item, "posted_at", n, limit=40)
            try:
                posted = parse_datetime(stamp)
            except ValueError:
                posted = None
            if posted is None or posted.tzinfo is None:
                raise Invalid(
                    f"mentions[{n}].posted_at must be ISO 8601 with its offset, e.g. 2026-12-03T09:12:00Z"
                )
        followers = item.get("followers")
        if followers is not None and (
            not isinstance(followers, int) or isinstance(followers, bool) or followers < 0
        ):
            raise Invalid(f"mentions[{n}].followers must be a whole number")
        incoming.append(
            services.Incoming(
                # Stored as the webhook's own, whatever it says: a sender must not take another service's post
                # ids (and so keep the real post out, or aim our account's reply at a post of its choosing).
                service=Service.WEBHOOK,
                remote_id=_text(item, "remote_id", n, limit=300, required=True),
                text=_text(item, "text", n, limit=10_000, required=True),
                posted_at=posted or timezone.now(),
                url=_text(item, "url", n, limit=1000),
                author_handle=_text(item, "author_handle", n, limit=200),
                author_name=_text(item, "author_name", n, limit=200),
                followers=followers,
                found_by=f"webhook ({said_on})" if said_on != Service.WEBHOOK else "webhook",
            )
        )
    return incoming
