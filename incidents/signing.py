"""Publishers' keys and the signing of updates into the site's hash chain.

The wire format is in docs/signing-wire-format.md; the primitives are in ``statushub.lib.signing``
(no Django there, so the CLI verifies with the same code). This module owns keys and the chain.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from incidents.audit import Action
from incidents.models import ChainHead, Component, Incident, IncidentUpdate, SigningKey, UpdateDraft
from people.services import audit_record, profile_for
from statushub.lib import signing as lib


class SigningError(Exception):
    """A publish cannot be signed; the message is for the publisher."""


def _keys() -> list[str]:
    return list(settings.STATUSHUB_KEY_ENCRYPTION_KEYS)


def _floor(at: datetime) -> datetime:
    return at.replace(microsecond=0)


def active_key(owner: User) -> SigningKey | None:
    return (
        SigningKey.objects.filter(owner=owner, revoked_at__isnull=True).order_by("-created_at", "-id").first()
    )


@transaction.atomic
def key_create(*, owner: User, at: datetime | None = None, request: HttpRequest | None = None) -> SigningKey:
    private = lib.generate_private_key()
    public = lib.public_key_bytes(private)
    profile = profile_for(owner)
    key = SigningKey.objects.create(
        owner=owner,
        kid=lib.kid_for(public),
        public_key=public,
        encrypted_private_key=lib.encrypt_private_key(private, _keys()),
        owner_name=profile.name,
        owner_title=profile.title,
        created_at=_floor(at or timezone.now()),
    )
    audit_record(action=Action.KEY_CREATED, actor=owner, target=key.kid, request=request)
    return key


@transaction.atomic
def key_register_public(*, owner: User, pem: str, request: HttpRequest | None = None) -> SigningKey:
    """A publisher who keeps the private key offline registers its public half and signs with the CLI."""
    try:
        public = lib.public_raw_from_pem(pem)
    except ValueError as exc:
        raise SigningError(str(exc)) from exc
    kid = lib.kid_for(public)
    if SigningKey.objects.filter(kid=kid).exists():
        raise SigningError("That key is already registered.")
    for old in SigningKey.objects.filter(owner=owner, revoked_at__isnull=True):
        key_revoke(key=old, by=owner, reason="replaced by an offline key", request=request)
    profile = profile_for(owner)
    key = SigningKey.objects.create(
        owner=owner, kid=kid, public_key=public, owner_name=profile.name, owner_title=profile.title,
        created_at=_floor(timezone.now()),
    )  # fmt: skip
    audit_record(action=Action.KEY_REGISTERED, actor=owner, target=kid, request=request)
    return key


@transaction.atomic
def key_revoke(
    *, key: SigningKey, by: User, reason: str, at: datetime | None = None, request: HttpRequest | None = None
) -> SigningKey:
    """Updates published before ``at`` stay valid; anything signed with the key from then on does not."""
    if key.revoked_at is None:
        # Statements carry whole seconds: without a backdated ``at``, revocation starts at the next second,
        # so an update signed earlier in the same second stays valid (published_at < revoked).
        key.revoked_at = _floor(at) if at else _floor(timezone.now()) + timedelta(seconds=1)
        key.revoked_reason = reason[:200]
        key.save(update_fields=["revoked_at", "revoked_reason", "updated_at"])
        # Statements prepared for offline signing may name this key: none of them can be published now.
        UpdateDraft.objects.exclude(pending_statement=b"").update(pending_statement=b"")
        audit_record(
            action=Action.KEY_REVOKED,
            actor=by,
            target=key.kid,
            data={"reason": reason},
            request=request,
        )
    return key


@transaction.atomic
def key_rotate(*, owner: User, request: HttpRequest | None = None) -> SigningKey:
    new = key_create(owner=owner, request=request)
    for old in SigningKey.objects.filter(owner=owner, revoked_at__isnull=True).exclude(pk=new.pk):
        key_revoke(key=old, by=owner, reason=f"rotated to {new.kid}", request=request)
    audit_record(action=Action.KEY_ROTATED, actor=owner, target=new.kid, request=request)
    return new


def key_for_publishing(owner: User, *, at: datetime) -> SigningKey:
    """The publisher's active key, generated on first use."""
    key = active_key(owner)
    if key is None:
        return key_create(owner=owner, at=at)
    if key.is_offline:
        raise SigningError(
            "Your signing key is kept offline: download the statement and sign it with `statushub sign`."
        )
    return key


@dataclass
class Sealed:
    """Everything the update row needs to carry its signature."""

    public_id: str
    seq: int
    prev: str
    statement: bytes
    digest: str
    signature: str
    key: SigningKey
    published_at: datetime


def component_entries(component_statuses: dict[Component, str]) -> list[dict[str, str]]:
    """The statement's ``components`` member: the changed components, in id order."""
    ordered = sorted(component_statuses.items(), key=lambda item: item[0].pk)
    return [{"id": str(c.pk), "name": c.name, "status": str(s)} for c, s in ordered]


def statement_fields(
    *,
    key: SigningKey,
    incident: Incident,
    public_id: str,
    seq: int,
    prev: str,
    status: str,
    components: list[dict[str, str]],
    body: str,
    author_name: str,
    author_title: str,
    published_at: datetime,
    corrects: IncidentUpdate | None,
) -> dict[str, object]:
    return {
        "v": 1,
        "kid": key.kid,
        "site": settings.STATUSHUB_SITE_URL,
        "incident": str(incident.pk),
        "update": public_id,
        "seq": seq,
        "status": status,
        "impact": incident.impact,
        "components": components,
        "body": body,
        "author": {"name": author_name, "title": author_title},
        "published_at": lib.format_time(published_at),
        "corrects": corrects.public_id if corrects else None,
        "prev": prev or None,
    }


def lock_chain() -> ChainHead:
    """Lock the chain head for the rest of the transaction (callers must be in one)."""
    head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
    return head


def seal(
    *, head: ChainHead, key: SigningKey, fields: dict[str, object], signature: bytes | None = None
) -> Sealed:
    """Sign (or check an offline signature over) the statement and advance the locked chain head."""
    statement = lib.build_statement(fields)
    if signature is None:
        private = lib.decrypt_private_key(key.encrypted_private_key, _keys())
        signature = lib.sign(private, statement)
    elif not lib.verify(bytes(key.public_key), signature, statement):
        raise SigningError("The signature does not match this statement and your registered key.")
    published_at = lib.parse_time(str(fields["published_at"]))
    if not lib.key_valid_at(key.created_at, key.revoked_at, published_at):
        raise SigningError("Your signing key is not valid at this publication time (revoked, or newer).")
    digest = lib.digest(statement)
    head.seq = int(str(fields["seq"]))
    head.digest = digest
    head.save(update_fields=["seq", "digest"])
    return Sealed(
        public_id=str(fields["update"]),
        seq=head.seq,
        prev=str(fields["prev"] or ""),
        statement=statement,
        digest=digest,
        signature=lib.b64encode_signature(signature),
        key=key,
        published_at=published_at,
    )
