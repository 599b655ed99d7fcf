"""Who may post alerts: Alertmanager's and Grafana's HTTP auth, or a Standard Webhooks signature.

- Alertmanager (``http_config.authorization`` or ``basic_auth``) and Grafana (*Authorization header* or *Basic
  authentication* on the webhook contact point) send the source's token as ``Authorization: Bearer <token>``, or
  as the password of HTTP basic auth (any user name). Only the token's SHA-256 is stored.
- The generic format is signed per Standard Webhooks, checked by ``integrations.webhook.inbound`` (shared with
  the mentions' receiver).
"""

import base64
import binascii
import hashlib
import hmac
import secrets
import string

from django.http import HttpRequest

from integrations.webhook import inbound

TOKEN_PREFIX = "shalert_"  # noqa: S105 (a marker secret scanners and people recognise, not a secret)
_ALPHABET = string.ascii_letters + string.digits


AuthError = inbound.AuthError


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
    return inbound.check_signature(request.headers, body, secret=secret, tolerance=tolerance, now=now)
