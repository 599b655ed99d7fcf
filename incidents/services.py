"""Writes to the incident domain. Each service is atomic and keyword-only.

Views, the admin, management commands and tasks call these rather than saving models
themselves, so status history, timestamps and the availability recompute never get skipped.
"""

from datetime import datetime
from functools import partial

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from incidents.models import (
    AffectedComponent,
    Component,
    Incident,
    IncidentUpdate,
    ProgressNote,
)

Status = Component.Status


def _display_name(user: User) -> str:
    return user.get_full_name() or user.get_username()


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
    transaction.on_commit(partial(_enqueue_availability, locked.pk))
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
    return incident


@transaction.atomic
def update_publish(
    *,
    incident: Incident,
    author: User,
    status: str,
    body: str,
    author_title: str = "",
    component_statuses: dict[Component, str] | None = None,
    at: datetime | None = None,
) -> IncidentUpdate:
    """Publish a public update: the incident's status, its components and first acknowledgement move together."""
    at = at or timezone.now()
    changes = []
    for component, new_status in (component_statuses or {}).items():
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
    if incident.acknowledged_at is None:
        incident.acknowledged_at = at
        incident.save(update_fields=["acknowledged_at", "updated_at"])
    return IncidentUpdate.objects.create(
        incident=incident,
        status=status,
        body=body,
        author=author,
        author_name=_display_name(author),
        author_title=author_title,
        published_at=at,
        affected_components=changes,
    )


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
