"""Writes for the engineers' API: the incident-domain writes a token may make (tokens themselves: ``people.tokens``).

Incident writes go through ``incidents.services`` (status history, availability, notes); this module adds what the
API needs around them: opening a *draft* incident, and attributing and auditing every write to the token's owner.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from api.audit import Action
from incidents import drafts, services
from incidents.models import Component, Incident, ProgressNote
from people.models import ApiToken
from people.services import audit_record


def _audit(action: str, *, actor: User, target: object, data: dict, request: HttpRequest | None) -> None:
    audit_record(action=action, actor=actor, target=target, data=data, request=request)


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
