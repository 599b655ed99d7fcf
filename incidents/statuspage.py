"""Atlassian Statuspage's public v2 documents, built from our models.

Existing dashboards, exporters and chat bots read these exact names, enumerations and nesting, so nothing of
Statuspage's is renamed or dropped; what we add (who said it, the signature, the next update promised) are
extra fields. Pure functions: callers pass objects with ``statuspage_selectors`` prefetches; nothing queries.
"""

import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse

from incidents.availability import worse
from incidents.documents import absolute
from incidents.models import Component, ComponentGroup, Incident, IncidentUpdate
from incidents.selectors import OverallStatus, current_promise
from incidents.statuspage_selectors import ComponentTree

Document = dict[str, Any]


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in the page's time zone with milliseconds and a numeric offset, as Statuspage writes them.

    ``+00:00`` rather than ``Z``: every ISO 8601 parser reads it, including Python's before 3.11.
    """
    if value is None:
        return None
    return value.astimezone(_zone(settings.STATUSHUB_TIME_ZONE)).isoformat(timespec="milliseconds")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def page_id() -> str:
    """Statuspage pages have an opaque 12-character id; ours derives from the public address: stable."""
    digest = hashlib.sha256(settings.STATUSHUB_SITE_URL.encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:12])


def group_code(group_id: int) -> str:
    # Groups and components are separate tables in our schema but one id space in Statuspage's.
    return f"group-{group_id}"


def page_document(*, updated_at: datetime | None) -> Document:
    return {
        "id": page_id(),
        "name": settings.STATUSHUB_SITE_NAME,
        "url": settings.STATUSHUB_SITE_URL,
        "time_zone": settings.STATUSHUB_TIME_ZONE,
        "updated_at": timestamp(updated_at),
    }


def status_document(overall: OverallStatus) -> Document:
    return {"indicator": overall.indicator, "description": overall.description}


def positions(tree: ComponentTree) -> dict[str, int]:
    """1-based positions by Statuspage id, in page order: each group, then its children; ungrouped last.

    Sorting by ``position`` (what most readers do) then reproduces our page.
    """
    order: list[str] = []
    for group in tree.groups:
        order.append(group_code(group.pk))
        order.extend(str(c.pk) for c in tree.children(group))
    order.extend(str(c.pk) for c in tree.ungrouped)
    return {code: n for n, code in enumerate(order, start=1)}


def component_document(component: Component, *, position: int) -> Document:
    return {
        "id": str(component.pk),
        "name": component.name,
        "status": component.status,
        "created_at": timestamp(component.created_at),
        "updated_at": timestamp(component.updated_at),
        "position": position,
        "description": component.description or None,
        "showcase": component.showcase,
        "start_date": _day(component.start_date),
        "group_id": group_code(component.group_id) if component.group_id else None,
        "page_id": page_id(),
        "group": False,
        "only_show_if_degraded": component.only_show_if_degraded,
    }


def group_document(group: ComponentGroup, children: list[Component], *, position: int) -> Document:
    status = Component.Status.OPERATIONAL.value
    for child in children:
        status = worse(status, child.status)
    return {
        "id": group_code(group.pk),
        "name": group.name,
        "status": status,
        "created_at": timestamp(group.created_at),
        # A group's status is its children's, so it changes when theirs do.
        "updated_at": timestamp(max([group.updated_at, *(c.updated_at for c in children)])),
        "position": position,
        "description": group.description or None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": page_id(),
        "group": True,
        "only_show_if_degraded": False,
        "components": [str(c.pk) for c in children],
    }


def components_documents(tree: ComponentTree) -> list[Document]:
    """Groups and components in one list, in page order."""
    at = positions(tree)
    documents = []
    for group in tree.groups:
        children = tree.children(group)
        documents.append(group_document(group, children, position=at[group_code(group.pk)]))
        documents.extend(component_document(c, position=at[str(c.pk)]) for c in children)
    documents.extend(component_document(c, position=at[str(c.pk)]) for c in tree.ungrouped)
    return documents


def update_document(update: IncidentUpdate, *, corrects: IncidentUpdate | None = None) -> Document:
    """One incident update. Published updates are never edited, so created, updated and displayed coincide."""
    published = timestamp(update.published_at)
    return {
        "id": update.public_id,
        "status": update.status,
        "body": update.body,
        "incident_id": str(update.incident_id),
        "created_at": published,
        "updated_at": published,
        "display_at": published,
        "affected_components": [
            {
                "code": str(change.get("code", "")),
                "name": change.get("name", ""),
                "old_status": change.get("old_status"),
                "new_status": change.get("new_status"),
            }
            for change in update.affected_components or []
        ],
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
        # Ours: who said it, the proof, and when they promised to speak next.
        "author": {"name": update.author_name, "title": update.author_title},
        "signature": update.signature,
        "kid": update.signing_key.kid if update.signing_key else None,
        "statement_url": absolute(reverse("status:update-statement", args=[update.public_id])),
        "next_update_at": timestamp(update.next_update_at),
        "corrects": corrects.public_id if corrects else None,
    }


def _impact(incident: Incident) -> str:
    impact = incident.impact or (
        Incident.Impact.MAINTENANCE
        if incident.is_maintenance
        else Incident.DEFAULT_IMPACT[Incident.Severity(incident.severity)]
    )
    # Statuspage reserves "maintenance" for scheduled maintenances; an incident given it reads as no impact.
    if impact == Incident.Impact.MAINTENANCE and not incident.is_maintenance:
        return Incident.Impact.NONE.value
    return str(impact)


def incident_document(incident: Incident, *, at: Mapping[str, int]) -> Document:
    """An incident (or, through ``maintenance_document``, a maintenance) with signed updates, newest first.

    ``created_at`` is when it first appeared on the page (its first signed update), not when a draft began.
    """
    updates: list[IncidentUpdate] = incident.published_updates  # type: ignore[attr-defined]
    by_pk = {u.pk: u for u in updates}
    stamps = [s for s in (incident.acknowledged_at, incident.resolved_at) if s]
    stamps += [u.published_at for u in updates[:1]]
    return {
        "id": str(incident.pk),
        "name": incident.title,
        "status": incident.status,
        "impact": _impact(incident),
        "created_at": timestamp(incident.acknowledged_at),
        "updated_at": timestamp(max(stamps)),
        "monitoring_at": timestamp(incident.monitoring_at),
        "resolved_at": timestamp(incident.resolved_at),
        "started_at": timestamp(incident.started_at or incident.acknowledged_at),
        "shortlink": absolute(reverse("status:incident", args=[incident.pk])),
        "page_id": page_id(),
        "incident_updates": [update_document(u, corrects=by_pk.get(u.corrects_id or 0)) for u in updates],
        "components": [
            component_document(a.component, position=at.get(str(a.component_id), 0))
            for a in incident.affected.all()
        ],
        # Ours.
        "postmortem_url": incident.postmortem_url or None,
        # The next update promised, while the incident is open: an engineering note or a later update without a
        # promise does not hide it from readers who look at the incident rather than its newest update.
        "next_update_at": timestamp(current_promise(incident)),
    }


def maintenance_document(incident: Incident, *, at: Mapping[str, int]) -> Document:
    return {
        **incident_document(incident, at=at),
        "scheduled_for": timestamp(incident.scheduled_for),
        "scheduled_until": timestamp(incident.scheduled_until),
    }
