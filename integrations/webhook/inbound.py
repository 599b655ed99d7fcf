"""Checking what others post to our webhooks: the Standard Webhooks signature (https://www.standardwebhooks.com/),
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``,
the scheme our own outbound webhooks sign with (``transport.sign``). A timestamp further than the tolerance from
our clock is refused, so a captured request cannot be replayed later. Shared by the alert and mention receivers.
"""

import hmac
import time
from collections.abc import Mapping

from integrations.webhook.transport import sign


class AuthError(Exception):
    """The request is not from the source. ``code`` is for machines, the message for the sender's operator."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_signature(
    headers: Mapping[str, str], body: bytes, *, secret: str, tolerance: int, now: float | None = None
) -> str:
    """Verify a Standard Webhooks signature; returns the message id."""
    msg_id = headers.get("webhook-id", "").strip()
    stamp = headers.get("webhook-timestamp", "").strip()
    signatures = headers.get("webhook-signature", "").split()
    if not (msg_id and stamp and signatures):
        raise AuthError(
            "missing_signature",
            "Sign the request: webhook-id, webhook-timestamp and webhook-signature headers.",
        )
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise AuthError("invalid_timestamp", "webhook-timestamp must be whole seconds since the epoch.")
    drift = abs((time.time() if now is None else now) - int(stamp))
    if drift > tolerance:
        raise AuthError(
            "stale_timestamp",
            f"webhook-timestamp is {int(drift)} s away from our clock (at most {tolerance} s): "
            "sign each request when you send it, and check the sender's clock.",
        )
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise AuthError("invalid_signature", "The body is not UTF-8, so its signature cannot match.") from exc
    expected = sign(secret, msg_id, int(stamp), text)
    if not any(
        hmac.compare_digest(expected.encode(), presented.encode("utf-8", "replace"))
        for presented in signatures
    ):
        raise AuthError("invalid_signature", "The signature does not match this source's signing secret.")
    return msg_id
