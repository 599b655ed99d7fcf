"""Drafting updates: shared per incident, autosaved, conflict-aware, then published once."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from incidents import services, signing
from incidents.models import Component, Incident, IncidentUpdate, UpdateDraft
from incidents.models.core import new_public_id
from people.services import profile_for
from statushub.lib import signing as lib

PRESENCE_SECONDS = 30


def draft_for_incident(*, incident: Incident, user: User) -> UpdateDraft:
    """The incident's open draft (one per incident, so the team writes one message), created on demand."""
    draft = UpdateDraft.objects.filter(
        incident=incident, published_update__isnull=True, corrects__isnull=True
    ).first()
    if draft is None:
        draft = UpdateDraft.objects.create(
            incident=incident, status=incident.status, created_by=user, last_edited_by=user
        )
    return draft


def draft_for_correction(*, update: IncidentUpdate, user: User) -> UpdateDraft:
    draft = UpdateDraft.objects.filter(corrects=update, published_update__isnull=True).first()
    if draft is None:
        draft = UpdateDraft.objects.create(
            incident=update.incident,
            corrects=update,
            status=update.incident.status,
            body=f"**Correction to our update of {update.published_at:%H:%M} UTC:** ",
            created_by=user,
            last_edited_by=user,
        )
    return draft


@transaction.atomic
def draft_propose_status(*, incident: Incident, user: User, status: str) -> UpdateDraft:
    """Start (or steer) the incident's draft towards ``status``: how a public incident changes status.

    Customers hear of a status change only through a published update, so the admin's status actions on a public
    incident land here and the communicator writes the words. A closing status promises no next update.
    """
    allowed = Incident.MAINTENANCE_STATUSES if incident.is_maintenance else Incident.INCIDENT_STATUSES
    if status not in allowed:
        raise ValueError(f"{status!r} is not a status for a {incident.get_kind_display().lower()}")
    draft = draft_for_incident(incident=incident, user=user)
    locked = UpdateDraft.objects.select_for_update(of=("self",)).get(pk=draft.pk)
    locked.status = status
    if status in Incident.CLOSED_STATUSES:
        locked.next_update_at = None
    locked.last_edited_by = user
    locked.version += 1  # anyone else editing it is told, rather than overwriting the new status
    locked.pending_statement = b""
    locked.save()
    return locked


@dataclass
class SaveResult:
    saved: bool
    draft: UpdateDraft
    conflict_with: str = ""


@transaction.atomic
def draft_save(
    *,
    draft: UpdateDraft,
    user: User,
    base_version: int,
    status: str,
    body: str,
    component_statuses: dict[str, str],
    next_update_at: datetime | None,
    force: bool = False,
) -> SaveResult:
    """Save unless someone else saved since ``base_version``: then nothing is overwritten and the caller is told."""
    locked = (
        UpdateDraft.objects.select_for_update(of=("self",)).select_related("last_edited_by").get(pk=draft.pk)
    )
    if locked.is_published:
        raise signing.SigningError("This draft has already been published.")
    if not force and locked.version != base_version and locked.last_edited_by_id != user.pk:
        other = locked.last_edited_by
        return SaveResult(False, locked, other.get_full_name() or other.get_username())
    locked.status = status
    locked.body = services.normalize_newlines(body)
    locked.component_statuses = component_statuses
    locked.next_update_at = next_update_at
    locked.last_edited_by = user
    locked.version += 1
    locked.pending_statement = b""  # any frozen statement no longer matches
    locked.save()
    return SaveResult(True, locked)


def presence_touch(*, draft: UpdateDraft, user: User) -> list[str]:
    """Record that ``user`` has the draft open; return the names of the others who have it open now."""
    key = f"draft-presence:{draft.pk}"
    now = timezone.now().timestamp()
    present: dict[str, tuple[str, float]] = cache.get(key) or {}
    present[str(user.pk)] = (user.get_full_name() or user.get_username(), now)
    present = {k: v for k, v in present.items() if now - v[1] <= PRESENCE_SECONDS}
    cache.set(key, present, timeout=PRESENCE_SECONDS * 4)
    return sorted(name for k, (name, _) in present.items() if k != str(user.pk))


def presence_of(draft: UpdateDraft) -> list[str]:
    """Who has the draft open now (without counting the reader)."""
    now = timezone.now().timestamp()
    present: dict[str, tuple[str, float]] = cache.get(f"draft-presence:{draft.pk}") or {}
    return sorted(name for name, at in present.values() if now - at <= PRESENCE_SECONDS)


def draft_components(draft: UpdateDraft) -> dict[Component, str]:
    ids = [int(pk) for pk in draft.component_statuses]
    by_id = Component.objects.in_bulk(ids)
    return {by_id[int(pk)]: status for pk, status in draft.component_statuses.items() if int(pk) in by_id}


def draft_problems(draft: UpdateDraft) -> list[str]:
    problems = []
    allowed = Incident.MAINTENANCE_STATUSES if draft.incident.is_maintenance else Incident.INCIDENT_STATUSES
    if draft.status not in allowed:
        problems.append("Choose a status.")
    if not draft.body.strip():
        problems.append("Write the update: the body is empty.")
    return problems


@transaction.atomic
def draft_publish(
    *,
    draft: UpdateDraft,
    user: User,
    version: int | None = None,
    offline_signature: str = "",
    request: HttpRequest | None = None,
    vet: Callable[[UpdateDraft], None] | None = None,
) -> IncidentUpdate:
    """Publish the draft as previewed: if ``version`` is given and the draft changed since, nothing is published.

    ``vet`` sees the draft as it will go out (locked: nobody can change it meanwhile) and may refuse it by raising
    ``SigningError``: the console's tone guard."""
    locked = (
        UpdateDraft.objects.select_for_update(of=("self",))
        .select_related("incident", "corrects")
        .get(pk=draft.pk)
    )
    if locked.is_published:
        raise signing.SigningError("This draft has already been published.")
    if version is not None and locked.version != version:
        raise signing.SigningError(
            "The draft changed after you previewed it. Check the preview again, then publish."
        )
    problems = draft_problems(locked)
    if problems:
        raise signing.SigningError(" ".join(problems))
    if vet is not None:
        vet(locked)
    offline = None
    if offline_signature:
        if not locked.pending_statement:
            raise signing.SigningError("Prepare the statement first, then sign that file.")
        try:
            signature = lib.b64decode_signature(offline_signature.strip())
        except ValueError as exc:
            raise signing.SigningError(f"That is not a signature: {exc}") from exc
        offline = services.OfflineSignature(statement=bytes(locked.pending_statement), signature=signature)
    update = services.update_publish(
        incident=locked.incident,
        author=user,
        status=locked.status,
        body=locked.body,
        component_statuses=draft_components(locked),
        next_update_at=locked.next_update_at,
        corrects=locked.corrects,
        offline=offline,
        request=request,
    )
    locked.published_update = update
    locked.save(update_fields=["published_update", "updated_at"])
    return update


@transaction.atomic
def draft_prepare_offline(*, draft: UpdateDraft, user: User) -> bytes:
    """Freeze the statement an offline key must sign: its update id, chain position and time are fixed now."""
    locked = (
        UpdateDraft.objects.select_for_update(of=("self",))
        .select_related("incident", "corrects")
        .get(pk=draft.pk)
    )
    problems = draft_problems(locked)
    if problems:
        raise signing.SigningError(" ".join(problems))
    key = signing.active_key(user)
    if key is None or not key.is_offline:
        raise signing.SigningError("Offline signing needs an offline key registered on the Keys page.")
    head = signing.lock_chain()
    profile = profile_for(user)
    fields = signing.statement_fields(
        key=key,
        incident=locked.incident,
        public_id=new_public_id(),
        seq=head.seq + 1,
        prev=head.digest,
        status=locked.status,
        components=signing.component_entries(draft_components(locked)),
        body=services.normalize_newlines(locked.body),
        author_name=profile.name,
        author_title=profile.title,
        published_at=timezone.now().replace(microsecond=0),
        corrects=locked.corrects,
    )
    locked.pending_statement = lib.build_statement(fields)
    locked.save(update_fields=["pending_statement", "updated_at"])
    return bytes(locked.pending_statement)
