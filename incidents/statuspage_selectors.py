"""Reads for the Statuspage-compatible API. Each runs a fixed number of queries, whatever the history size."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet

from incidents.models import AffectedComponent, Component, ComponentGroup, Incident, IncidentUpdate
from incidents.selectors import OverallStatus, overall_status

# Statuspage lists at most this many incidents or maintenances in its "all" endpoints.
RECENT_LIMIT = 50

_PUBLISHED = ~Q(signature="")


@dataclass
class ComponentTree:
    """Every component and group, in the order the public page shows them."""

    groups: list[ComponentGroup]
    components: list[Component]

    def children(self, group: ComponentGroup) -> list[Component]:
        return [c for c in self.components if c.group_id == group.pk]

    @property
    def ungrouped(self) -> list[Component]:
        return [c for c in self.components if c.group_id is None]


def component_tree() -> ComponentTree:
    """Two queries. Groups and components in page order: groups by position, then their children."""
    groups = list(ComponentGroup.objects.order_by("position", "id"))
    components = list(Component.objects.order_by("position", "name", "id"))
    return ComponentTree(groups=groups, components=components)


def visible_incidents() -> QuerySet[Incident]:
    """Incidents the public may see: acknowledged, with at least one signed update. Drafts never show."""
    signed = IncidentUpdate.objects.filter(_PUBLISHED, incident=OuterRef("pk"))
    return Incident.objects.filter(Exists(signed), acknowledged_at__isnull=False)


def with_documents(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """Prefetch what a Statuspage incident needs: two more queries for any number of incidents.

    Signed updates land in ``published_updates`` (newest first), affected components in ``affected``.
    """
    updates = (
        IncidentUpdate.objects.filter(_PUBLISHED)
        .select_related("signing_key")
        .order_by("-published_at", "-id")
    )
    affected = AffectedComponent.objects.select_related("component").order_by(
        F("component__group__position").asc(nulls_last=True), "component__position", "component__name", "id"
    )
    return queryset.prefetch_related(
        Prefetch("updates", queryset=updates, to_attr="published_updates"),
        Prefetch("affected", queryset=affected),
    )


def _incidents() -> QuerySet[Incident]:
    return visible_incidents().filter(kind=Incident.Kind.INCIDENT).order_by("-acknowledged_at", "-id")


def recent_incidents() -> list[Incident]:
    return list(with_documents(_incidents())[:RECENT_LIMIT])


def unresolved_incidents() -> list[Incident]:
    return list(with_documents(_incidents().exclude(status__in=Incident.CLOSED_STATUSES)))


def _maintenances() -> QuerySet[Incident]:
    return visible_incidents().filter(kind=Incident.Kind.MAINTENANCE)


def recent_maintenances() -> list[Incident]:
    queryset = _maintenances().order_by(F("scheduled_for").desc(nulls_last=True), "-acknowledged_at", "-id")
    return list(with_documents(queryset)[:RECENT_LIMIT])


def _soonest_first(queryset: QuerySet[Incident]) -> list[Incident]:
    return list(with_documents(queryset.order_by(F("scheduled_for").asc(nulls_last=True), "id")))


def upcoming_maintenances() -> list[Incident]:
    return _soonest_first(_maintenances().filter(status=Incident.Status.SCHEDULED))


def active_maintenances() -> list[Incident]:
    return _soonest_first(
        _maintenances().filter(status__in=[Incident.Status.IN_PROGRESS, Incident.Status.VERIFYING])
    )


def open_maintenances() -> list[Incident]:
    """Upcoming and in progress, as summary.json lists them."""
    return _soonest_first(_maintenances().exclude(status__in=Incident.CLOSED_STATUSES))


def page_status(
    tree: ComponentTree,
    *,
    incidents: list[Incident] | None = None,
    maintenances: list[Incident] | None = None,
) -> OverallStatus:
    """The indicator, computed as the HTML page does. Loads the open incidents (one query) unless given."""
    if incidents is None or maintenances is None:
        open_ = list(visible_incidents().exclude(status__in=Incident.CLOSED_STATUSES))
        incidents = [i for i in open_ if not i.is_maintenance]
        maintenances = [i for i in open_ if i.is_maintenance]
    in_progress = [m for m in maintenances if m.status != Incident.Status.SCHEDULED]
    return overall_status(tree.components, incidents, in_progress)


def _newest(*stamps: QuerySet[Any, Any]) -> list[datetime | None]:
    if connection.features.supports_slicing_ordering_in_compound:
        first, *rest = stamps
        return list(first.union(*rest, all=True))  # one round trip
    return [stamp for query in stamps for stamp in query]  # SQLite (the embedded demo): one query each


def page_updated_at(tree: ComponentTree) -> datetime | None:
    """The last public change: a component or group edit, a signed update, a closing. One query.

    Each half is the newest row by an index (a ``Max`` over the join would read the whole history).
    """
    published = (
        IncidentUpdate.objects.filter(_PUBLISHED, incident__acknowledged_at__isnull=False)
        .order_by("-published_at")
        .values_list("published_at", flat=True)[:1]
    )
    resolved = (
        visible_incidents()
        .filter(resolved_at__isnull=False)
        .order_by("-resolved_at")
        .values_list("resolved_at", flat=True)[:1]
    )
    stamps = [
        *(c.updated_at for c in tree.components),
        *(g.updated_at for g in tree.groups),
        *_newest(published, resolved),
    ]
    return max((s for s in stamps if s is not None), default=None)
