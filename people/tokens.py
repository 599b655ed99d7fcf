"""Personal API tokens: made, revoked and checked here, for whatever speaks the API (the ``api`` app registers what a
token may be used for: its scopes).

A scope narrows a token; the owner's permissions still apply on every call. The token is shown once; only its
SHA-256 is kept.
"""

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from people.audit import Action
from people.models import TOKEN_PREFIX, ApiToken
from people.services import audit_record


@dataclass(frozen=True)
class Scope:
    name: str
    label: str
    # The owner needs all of these, checked on every call: a token never does more than its owner can.
    permissions: tuple[str, ...]


SCOPES: dict[str, Scope] = {}


def register_scopes(*scopes: Scope) -> None:
    """Called by the app that serves the API, from its ``AppConfig.ready()``."""
    for scope in scopes:
        SCOPES[scope.name] = scope


def missing_permissions(user: User | AnonymousUser, scope: str) -> list[str]:
    return [perm for perm in SCOPES[scope].permissions if not user.has_perm(perm)]


def scopes_allowed(user: User | AnonymousUser) -> list[Scope]:
    """The scopes this person's role can use: the only ones offered when they create a token."""
    return [scope for scope in SCOPES.values() if not missing_permissions(user, scope.name)]


KEY_ID_LENGTH = 12
SECRET_LENGTH = 40  # base62: about 238 bits, so a fast hash is safe (nothing to brute-force)
_KEY_ID_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
TOKEN_PATTERN = re.compile(
    rf"^{TOKEN_PREFIX}(?P<key_id>[a-z0-9]{{{KEY_ID_LENGTH}}})_[A-Za-z0-9]{{{SECRET_LENGTH}}}$"
)
# ``last_used_at`` is for people checking their tokens, not an access log: one write a minute is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    """A token cannot be created as asked (unknown scope, a scope the owner's role lacks, bad expiry)."""


class TokenRejected(Exception):
    """A presented token cannot be used. ``code`` is for machines, the message for the person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@transaction.atomic
def token_create(
    *,
    owner: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the token itself, which is never stored and cannot be shown again."""
    now = timezone.now()
    name = name.strip()
    if not name:
        raise TokenError("Give the token a name, so you can tell your tokens apart.")
    if not scopes:
        raise TokenError("Choose at least one scope.")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise TokenError(f"Unknown scope: {', '.join(unknown)}.")
    beyond = [scope for scope in scopes if missing_permissions(owner, scope)]
    if beyond:
        raise TokenError(
            f"Your role cannot {', '.join(SCOPES[s].label.lower() for s in beyond)}, so a token of yours cannot either."
        )
    expires_at = expires_at or now + timedelta(days=settings.STATUSHUB_API_TOKEN_DEFAULT_DAYS)
    if expires_at <= now:
        raise TokenError("The expiry must be in the future.")
    longest = timedelta(days=settings.STATUSHUB_API_TOKEN_MAX_DAYS)
    if expires_at - now > longest + timedelta(minutes=1):
        raise TokenError(f"A token can live at most {longest.days} days.")

    key_id = _random(_KEY_ID_ALPHABET, KEY_ID_LENGTH)
    token = f"{TOKEN_PREFIX}{key_id}_{_random(_SECRET_ALPHABET, SECRET_LENGTH)}"
    api_token = ApiToken.objects.create(
        owner=owner,
        name=name[:100],
        key_id=key_id,
        token_hash=token_hash(token),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    audit_record(
        action=Action.TOKEN_CREATED,
        actor=owner,
        target=f"API token {api_token}",
        data={"key_id": key_id, "scopes": api_token.scopes, "expires_at": expires_at.isoformat()},
        request=request,
    )
    return api_token, token


@transaction.atomic
def token_revoke(*, token: ApiToken, by: User, request: HttpRequest | None = None) -> bool:
    """Revoke now. Returns False if it was already revoked."""
    locked = ApiToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is not None:
        return False
    locked.revoked_at = timezone.now()
    locked.revoked_by = by
    locked.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
    token.revoked_at, token.revoked_by = locked.revoked_at, by
    audit_record(
        action=Action.TOKEN_REVOKED,
        actor=by,
        target=f"API token {locked}",
        data={"key_id": locked.key_id, "owner": locked.owner.get_username()},
        request=request,
    )
    return True


def token_authenticate(*, token: str, ip: str | None = None, now: datetime | None = None) -> ApiToken:
    """The usable token for this secret, with its owner; raises ``TokenRejected`` saying why not."""
    now = now or timezone.now()
    match = TOKEN_PATTERN.match(token.strip())
    if match is None:
        raise TokenRejected(
            "invalid_token", "That is not a StatusHub API token: tokens start with sh_ and are 56 characters."
        )
    api_token = ApiToken.objects.select_related("owner").filter(key_id=match["key_id"]).first()
    # The key id only finds the row; the secret is checked in constant time against the stored hash.
    if api_token is None or not hmac.compare_digest(api_token.token_hash, token_hash(token.strip())):
        raise TokenRejected(
            "invalid_token", "Unknown API token: check it was copied whole, or create a new one."
        )
    if api_token.revoked_at is not None:
        raise TokenRejected(
            "token_revoked", f"This API token was revoked on {api_token.revoked_at:%Y-%m-%d %H:%M} UTC."
        )
    if api_token.expires_at <= now:
        raise TokenRejected(
            "token_expired",
            f"This API token expired on {api_token.expires_at:%Y-%m-%d %H:%M} UTC: create a new one.",
        )
    if not api_token.owner.is_active:
        raise TokenRejected("account_disabled", "The account this API token belongs to is disabled.")
    if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now, last_used_ip=ip)
        api_token.last_used_at, api_token.last_used_ip = now, ip
    return api_token
