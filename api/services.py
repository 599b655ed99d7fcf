"""Writes for the engineers' API: token lifecycle, and the incident-domain writes a token may make.

Incident writes go through ``incidents.services`` (status history, availability, notes); this module adds what the
API needs around them: opening a *draft* incident, and attributing and auditing every write to the token's owner.
"""

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from api.audit import Action
from api.models import TOKEN_PREFIX, ApiToken
from api.scopes import SCOPES, missing_permissions
from incidents import drafts, services
from incidents.models import Component, Incident, ProgressNote
from people.services import audit_record

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


def _audit(action: str, *, actor: User, target: object, data: dict, request: HttpRequest | None) -> None:
    audit_record(action=action, actor=actor, target=target, data=data, request=request)


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
    _audit(
        Action.TOKEN_CREATED,
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
    _audit(
        Action.TOKEN_REVOKED,
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
            Action.TOKEN_REVOKED, f"This API token was revoked on {api_token.revoked_at:%Y-%m-%d %H:%M} UTC."
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


# --- incident-domain writes made with a token ---------------------------------------------------------------


# A first guess at what each severity does to a component; the publisher confirms it on the compose screen.
DEFAULT_COMPONENT_STATUS = {
    Incident.Severity.SEV1: Component.Status.MAJOR_OUTAGE,
    Incident.Severity.SEV2: Component.Status.PARTIAL_OUTAGE,
    Incident.Severity.SEV3: Component.Status.DEGRADED_PERFORMANCE,
    Incident.Severity.SEV4: Component.Status.DEGRADED_PERFORMANCE,
}


@dataclass(frozen=True)
class Affected:
    component: Component
    status: str | None = None  # None: the severity's default


@transaction.atomic
def incident_open_draft(
    *,
    by: User,
    token: ApiToken,
    title: str,
    severity: str,
    components: list[Affected],
    started_at: datetime | None = None,
    note: str = "",
    request: HttpRequest | None = None,
) -> Incident:
    """Open an incident that nobody outside the team can see yet.

    An incident is public only from its first published update, so this creates no update. The components and
    their proposed statuses are recorded on the incident and pre-filled in its shared draft, but the components'
    public statuses do not move: that happens when a publisher publishes (doctrine: a human speaks).
    """
    now = timezone.now()
    severity = Incident.Severity(severity)
    incident = Incident.objects.create(
        kind=Incident.Kind.INCIDENT,
        title=title,
        severity=severity,
        status=Incident.Status.INVESTIGATING,
        detected_at=now,
        started_at=started_at or now,
    )
    proposed = {
        entry.component: Component.Status(entry.status or DEFAULT_COMPONENT_STATUS[severity])
        for entry in components
    }
    # Only in the draft: an affected row, even on an unpublished incident, would hold its component out of
    # operational when another incident closes, and outlive a publisher's "No change".
    if proposed:
        draft = drafts.draft_for_incident(incident=incident, user=by)
        draft.component_statuses = {str(component.pk): status for component, status in proposed.items()}
        draft.save(update_fields=["component_statuses", "updated_at"])
    if note.strip():
        services.note_add(incident=incident, author=by, text=note)
    _audit(
        Action.API_INCIDENT_OPENED,
        actor=by,
        target=f"{incident} (#{incident.pk})",
        data={
            "token": token.key_id,
            "incident": incident.pk,
            "severity": severity.value,
            "components": {str(c.pk): s.value for c, s in proposed.items()},
        },
        request=request,
    )
    return incident


@transaction.atomic
def note_post(
    *,
    by: User,
    token: ApiToken,
    incident: Incident,
    text: str,
    is_public: bool = False,
    request: HttpRequest | None = None,
) -> ProgressNote:
    note = services.note_add(incident=incident, author=by, text=text, is_public=is_public)
    _audit(
        Action.API_NOTE_ADDED,
        actor=by,
        target=f"{incident} (#{incident.pk})",
        data={"token": token.key_id, "incident": incident.pk, "note": note.pk, "public": is_public},
        request=request,
    )
    return note


@transaction.atomic
def component_status_change(
    *,
    by: User,
    token: ApiToken,
    component: Component,
    status: str,
    request: HttpRequest | None = None,
) -> bool:
    """Change a component's status as the admin does (recorded, attributed to open incidents). False if unchanged."""
    previous = component.status
    changed = services.component_change_status(component=component, status=status, by=by)
    if changed:
        _audit(
            Action.API_COMPONENT_STATUS,
            actor=by,
            target=f"{component} (#{component.pk})",
            data={"token": token.key_id, "component": component.pk, "from": previous, "to": status},
            request=request,
        )
    return changed
