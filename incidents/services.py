"""Writes to the incident domain. Each service is atomic and keyword-only.

Views, the admin, management commands and tasks call these rather than saving models
themselves, so status history, timestamps and the availability recompute never get skipped.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from incidents import signing
from incidents.audit import Action
from incidents.models import (
    AffectedComponent,
    ChainHead,
    Component,
    Incident,
    IncidentRole,
    IncidentUpdate,
    ProgressNote,
    SigningKey,
)
from incidents.models.core import new_public_id
from incidents.signals import (
    incident_acknowledged,
    incident_resolved,
    incident_status_changed,
    send_on_commit,
    update_published,
    update_publishing,
)
from people.services import audit_record, profile_for
from statushub.lib.after_commit import after_commit, follow_up_delayed
from statushub.lib.signing import build_statement, parse_statement, parse_time

Status = Component.Status
log = logging.getLogger(__name__)


def _enqueue_availability(component_id: int) -> None:
    from incidents.tasks import recompute_availability

    recompute_availability.delay(component_id)


@transaction.atomic
def component_set_status(
    *,
    component: Component,
    status: str,
    by: User | None = None,
    incident: Incident | None = None,
    at: datetime | None = None,
) -> bool:
    """Set a component's status and record the change. Returns False if it already had that status."""
    status = Status(status)
    locked = Component.objects.select_for_update().get(pk=component.pk)
    if locked.status == status:
        return False
    locked.status_changes.create(
        status=status,
        previous_status=locked.status,
        changed_at=at or timezone.now(),
        changed_by=by if by is not None and by.is_authenticated else None,
        incident=incident,
    )
    locked.status = status
    locked.save(update_fields=["status", "updated_at"])
    component.status = status
    after_commit(partial(_enqueue_availability, locked.pk), what="the availability recompute")
    return True


@transaction.atomic
def incident_set_component_status(
    *,
    incident: Incident,
    component: Component,
    status: str,
    by: User | None = None,
    at: datetime | None = None,
) -> AffectedComponent:
    affected, _ = AffectedComponent.objects.update_or_create(
        incident=incident, component=component, defaults={"status": status}
    )
    component_set_status(component=component, status=status, by=by, incident=incident, at=at)
    return affected


@transaction.atomic
def component_change_status(
    *, component: Component, status: str, by: User | None = None, at: datetime | None = None
) -> bool:
    """A status change made on the component itself (not from an incident form).

    If open incidents list the component as affected, their entries follow, and the change is
    attributed to the most recent one, so it shows on that incident's timeline.
    """
    open_affected = list(
        AffectedComponent.objects.filter(component=component)
        .exclude(incident__status__in=Incident.CLOSED_STATUSES)
        .select_related("incident")
        .order_by("-incident__started_at", "-incident_id")
    )
    for affected in open_affected:
        affected.status = status
        affected.save(update_fields=["status"])
    incident = open_affected[0].incident if open_affected else None
    return component_set_status(component=component, status=status, by=by, incident=incident, at=at)


def _restore_components(incident: Incident, *, by: User | None, at: datetime) -> None:
    """On close, put affected components back to operational unless another open incident still holds them."""
    for affected in incident.affected.select_related("component"):
        still_held = (
            AffectedComponent.objects.filter(component=affected.component)
            .exclude(incident=incident)
            .exclude(incident__status__in=Incident.CLOSED_STATUSES)
            .exclude(status=Status.OPERATIONAL)
            .exists()
        )
        if not still_held:
            affected.status = Status.OPERATIONAL
            affected.save(update_fields=["status"])
            component_set_status(
                component=affected.component, status=Status.OPERATIONAL, by=by, incident=incident, at=at
            )


@transaction.atomic
def incident_set_status(
    *,
    incident: Incident,
    status: str,
    by: User | None = None,
    at: datetime | None = None,
) -> Incident:
    allowed = Incident.MAINTENANCE_STATUSES if incident.is_maintenance else Incident.INCIDENT_STATUSES
    if status not in allowed:
        raise ValueError(f"{status!r} is not a status for a {incident.get_kind_display().lower()}")
    at = at or timezone.now()
    was_closed = incident.is_closed
    old = incident.status
    incident.status = Incident.Status(status)
    fields = ["status", "updated_at"]
    if status == Incident.Status.MONITORING and incident.monitoring_at is None:
        incident.monitoring_at = at
        fields.append("monitoring_at")
    if status == Incident.Status.IN_PROGRESS and incident.started_at is None:
        incident.started_at = at
        fields.append("started_at")
    if incident.is_closed and not was_closed:
        incident.resolved_at = at
        fields.append("resolved_at")
        _restore_components(incident, by=by, at=at)
    elif not incident.is_closed and was_closed:
        incident.resolved_at = None
        fields.append("resolved_at")
    incident.save(update_fields=fields)
    if old != incident.status:
        send_on_commit(
            incident_status_changed, "a status change", incident=incident, old=old, new=incident.status, by=by
        )
    if incident.is_closed and not was_closed:
        send_on_commit(incident_resolved, "a resolution", incident=incident, by=by)
    return incident


def normalize_newlines(text: str) -> str:
    """Browsers send form text with CRLF line endings: store and sign ``\n`` only, whatever the client sent."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


# A prepared statement carries its publication time; signing it much later would misstate when it was said.
OFFLINE_STATEMENT_LIFETIME = timedelta(minutes=30)


@dataclass(frozen=True)
class OfflineSignature:
    """A statement frozen for offline signing, and the signature the publisher made over it with the CLI."""

    statement: bytes
    signature: bytes


def may_publish(
    user: User, incident: Incident, *, corrects: IncidentUpdate | None = None, status: str | None = None
) -> bool:
    """One voice: publishers post for every incident; the incident's primary communicator may post its *first*
    acknowledgement while no one has (``STATUSHUB_PRIMARY_MAY_ACKNOWLEDGE``), signed in their own name: an open
    incident (not a maintenance), with a status that does not close it, and not a correction."""
    if user.has_perm("incidents.publish_update"):
        return True
    return (
        settings.STATUSHUB_PRIMARY_MAY_ACKNOWLEDGE
        and corrects is None
        and incident.kind == Incident.Kind.INCIDENT
        and incident.acknowledged_at is None
        and not incident.is_closed
        and (status is None or status not in Incident.CLOSED_STATUSES)
        and user.has_perm("incidents.add_updatedraft")
        and IncidentRole.objects.filter(
            incident=incident, user=user, role=IncidentRole.Role.PRIMARY_COMMUNICATOR
        ).exists()
        and not IncidentUpdate.objects.filter(incident=incident).exists()
    )


@transaction.atomic
def update_publish(
    *,
    incident: Incident,
    author: User,
    status: str,
    body: str,
    author_title: str | None = None,
    component_statuses: dict[Component, str] | None = None,
    next_update_at: datetime | None = None,
    corrects: IncidentUpdate | None = None,
    at: datetime | None = None,
    offline: OfflineSignature | None = None,
    request: HttpRequest | None = None,
) -> IncidentUpdate:
    """Publish a signed public update.

    In one transaction: the chain head is locked, the statement is built and signed (or an offline signature
    checked), and the incident's status, its components and its first acknowledgement move with the update.
    """
    if status in Incident.CLOSED_STATUSES:
        next_update_at = None  # a closing update has nothing more to promise
    body = normalize_newlines(body)
    head = signing.lock_chain()
    # Publishes are serialised by the chain lock; work from the incident as it is now, not as the caller saw it.
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    # Checked under the chain lock: two people cannot both publish "the first acknowledgement".
    if not may_publish(author, incident, corrects=corrects, status=status):
        raise PermissionDenied(
            "Only publishers can publish updates (and the incident's primary communicator its first "
            "acknowledgement)."
        )
    profile = profile_for(author)
    title = profile.title if author_title is None else author_title
    statuses = sorted((component_statuses or {}).items(), key=lambda item: item[0].pk)
    common: dict[str, Any] = {
        "incident": incident, "status": status, "body": body, "author_name": profile.name, "author_title": title,
        "components": signing.component_entries(dict(statuses)),
        "corrects": corrects,
    }  # fmt: skip
    if offline is None:
        at = (at or timezone.now()).replace(microsecond=0)
        key = signing.key_for_publishing(author, at=at)
        fields = signing.statement_fields(
            key=key, public_id=new_public_id(), seq=head.seq + 1, prev=head.digest, published_at=at, **common
        )
        sealed = signing.seal(head=head, key=key, fields=fields)
    else:
        sealed = _seal_offline(head=head, author=author, offline=offline, common=common)
        at = sealed.published_at

    changes = []
    for component, new_status in statuses:
        changes.append(
            {
                "code": str(component.pk),
                "name": component.name,
                "old_status": component.status,
                "new_status": new_status,
            }
        )
        incident_set_component_status(
            incident=incident, component=component, status=new_status, by=author, at=at
        )
    if incident.status != status:
        incident_set_status(incident=incident, status=status, by=author, at=at)
    first = incident.acknowledged_at is None
    if first:
        incident.acknowledged_at = at
        incident.save(update_fields=["acknowledged_at", "updated_at"])
    update = IncidentUpdate.objects.create(
        public_id=sealed.public_id,
        incident=incident,
        status=status,
        body=body,
        author=author,
        author_name=profile.name,
        author_title=title,
        published_at=at,
        affected_components=changes,
        next_update_at=next_update_at,
        corrects=corrects,
        seq=sealed.seq,
        signing_key=sealed.key,
        statement=sealed.statement,
        statement_sha256=sealed.digest,
        signature=sealed.signature,
        prev_sha256=sealed.prev,
    )
    # Inside the transaction: what its receivers write (the channels' deliveries) exists only if the update does.
    update_publishing.send(sender=IncidentUpdate, update=update)
    after_commit(partial(_announce, update), what="subscriber notifications")
    if first:
        send_on_commit(incident_acknowledged, "the first acknowledgement", incident=incident, update=update)
    audit_record(
        action=Action.CORRECTION if corrects else Action.PUBLISH,
        actor=author,
        target=f"{incident} · update {update.public_id}",
        data={"seq": update.seq, "kid": sealed.key.kid, "sha256": sealed.digest},
        request=request,
    )
    return update


def _announce(update: IncidentUpdate) -> None:
    """Tell the fan-out listeners (subscribers, WebSub) after the commit, each on its own: one that fails is
    logged and the others still run; their sweepers pick the update up later."""
    for receiver, result in update_published.send_robust(sender=IncidentUpdate, update=update):
        if isinstance(result, Exception):
            log.warning("After publishing %s, %r failed", update.public_id, receiver, exc_info=result)
            follow_up_delayed("subscriber notifications")


def _seal_offline(
    *, head: ChainHead, author: User, offline: OfflineSignature, common: dict[str, Any]
) -> signing.Sealed:
    try:
        frozen = parse_statement(offline.statement)
    except ValueError as exc:
        raise signing.SigningError(f"The statement is not valid: {exc}") from exc
    if frozen.get("seq") != head.seq + 1 or (frozen.get("prev") or "") != head.digest:
        raise signing.SigningError(
            "Another update was published since this statement was prepared: prepare it again and sign the new one."
        )
    key = SigningKey.objects.filter(kid=frozen.get("kid"), owner=author, revoked_at__isnull=True).first()
    if key is None:
        raise signing.SigningError("The statement names a key that is not yours, or that has been revoked.")
    frozen_at = parse_time(str(frozen["published_at"]))
    if timezone.now() - frozen_at > OFFLINE_STATEMENT_LIFETIME:
        raise signing.SigningError(
            "This statement was prepared too long ago: prepare it again and sign the new one."
        )
    expected = signing.statement_fields(
        key=key, public_id=str(frozen["update"]), seq=head.seq + 1, prev=head.digest,
        published_at=parse_time(str(frozen["published_at"])), **common,
    )  # fmt: skip
    if build_statement(expected) != offline.statement:
        raise signing.SigningError("The draft changed after its statement was prepared: prepare it again.")
    return signing.seal(head=head, key=key, fields=expected, signature=offline.signature)


@transaction.atomic
def note_add(
    *,
    incident: Incident,
    author: User,
    text: str,
    is_public: bool = False,
    at: datetime | None = None,
) -> ProgressNote:
    note = ProgressNote(incident=incident, author=author, text=text, is_public=is_public)
    if at is not None:
        note.created_at = at
    note.save()
    return note
