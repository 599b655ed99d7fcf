"""Who may post alerts: Alertmanager's and Grafana's HTTP auth, or a Standard Webhooks signature.

- Alertmanager (``http_config.authorization`` or ``basic_auth``) and Grafana (*Authorization header* or *Basic
  authentication* on the webhook contact point) send the source's token as ``Authorization: Bearer <token>``, or
  as the password of HTTP basic auth (any user name). Only the token's SHA-256 is stored.
- The generic format is signed per Standard Webhooks (https://www.standardwebhooks.com/): ``webhook-id``,
  ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, the scheme
  our outbound webhooks use (``integrations.webhook.transport.sign``). A timestamp further than the
  tolerance from our clock is refused, so a captured request cannot be replayed later.
"""

import base64
import binascii
import hashlib
import hmac
import secrets
import string
import time

from django.http import HttpRequest

from integrations.webhook.transport import sign

TOKEN_PREFIX = "shalert_"  # noqa: S105 (a marker secret scanners and people recognise, not a secret)
_ALPHABET = string.ascii_letters + string.digits


class AuthError(Exception):
    """The request is not from the source. ``code`` is for machines, the message for the sender's operator."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def new_token() -> str:
    return TOKEN_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(40))


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hint(secret: str) -> str:
    """Enough to recognise a secret in a config file, never enough to use it."""
    return f"{secret[:12]}…"


def presented_token(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "").strip()
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise AuthError(
                "invalid_authorization", "The basic auth credentials are not valid base64."
            ) from exc
        return decoded.partition(":")[2]
    raise AuthError(
        "missing_authorization",
        "Send the source's token as Authorization: Bearer <token> (or as the basic auth password).",
    )


def check_token(request: HttpRequest, *, expected_hash: str) -> None:
    token = presented_token(request)
    if not expected_hash or not hmac.compare_digest(token_hash(token), expected_hash):
        raise AuthError("invalid_token", "Unknown token for this alert source: check it was copied whole.")


def check_signature(
    request: HttpRequest, body: bytes, *, secret: str, tolerance: int, now: float | None = None
) -> str:
    """Verify a Standard Webhooks signature; returns the message id."""
    msg_id = request.headers.get("webhook-id", "").strip()
    stamp = request.headers.get("webhook-timestamp", "").strip()
    signatures = request.headers.get("webhook-signature", "").split()
    if not (msg_id and stamp and signatures):
        raise AuthError(
            "missing_signature",
            "Sign the request: webhook-id, webhook-timestamp and webhook-signature headers.",
        )
    if not stamp.isdigit():
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
    if not any(hmac.compare_digest(expected, presented) for presented in signatures):
        raise AuthError("invalid_signature", "The signature does not match this source's signing secret.")
    return msg_id
