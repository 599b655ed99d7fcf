"""Reads for the public page. Every selector runs a fixed number of queries, whatever the history size."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import chain

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from incidents.availability import worse
from incidents.models import (
    AffectedComponent,
    Component,
    ComponentDay,
    ComponentGroup,
    ComponentStatusChange,
    Incident,
    IncidentUpdate,
    ProgressNote,
)

_IMPACT_RANK = {"none": 0, "maintenance": 0, "minor": 1, "major": 2, "critical": 3}
_COMPONENT_INDICATOR = {
    Component.Status.DEGRADED_PERFORMANCE: "minor",
    Component.Status.PARTIAL_OUTAGE: "major",
    Component.Status.MAJOR_OUTAGE: "critical",
}
INDICATOR_DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
    "maintenance": "Service Under Maintenance",
}


@dataclass
class DayBar:
    day: date
    status: str | None  # None: no data (before the component existed)
    uptime: float | None
    downtime_minutes: int = 0


@dataclass
class ComponentRow:
    component: Component
    days: list[DayBar]
    uptime: float | None


@dataclass
class GroupRow:
    group: ComponentGroup | None
    components: list[ComponentRow]

    @property
    def status(self) -> str:
        worst = Component.Status.OPERATIONAL.value
        for row in self.components:
            worst = worse(worst, row.component.status)
        return worst


@dataclass
class OverallStatus:
    indicator: str
    description: str


@dataclass
class TimelineEntry:
    kind: str  # "update" or "note"
    at: datetime
    status: str
    status_label: str
    html: str
    author: str
    anchor: str
    update: IncidentUpdate | None = None
    corrects: IncidentUpdate | None = None
    corrected_by: list[IncidentUpdate] = field(default_factory=list)


@dataclass
class StatusPage:
    overall: OverallStatus
    groups: list[GroupRow]
    active_incidents: list[Incident]
    active_maintenance: list[Incident]
    upcoming_maintenance: list[Incident]
    recent_incidents: list[Incident] = field(default_factory=list)


def public_incidents() -> QuerySet[Incident]:
    return Incident.objects.filter(acknowledged_at__isnull=False)


def with_timeline(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """Prefetch what a timeline needs: three queries for any number of incidents."""
    return queryset.prefetch_related(
        Prefetch(
            "updates",
            queryset=IncidentUpdate.objects.select_related("signing_key", "author__profile").order_by(
                "-published_at", "-id"
            ),
        ),
        Prefetch(
            "notes",
            queryset=ProgressNote.objects.filter(is_public=True)
            .select_related("author")
            .order_by("-created_at"),
            to_attr="public_notes",
        ),
        Prefetch("affected", queryset=AffectedComponent.objects.select_related("component")),
    )


def incident_timeline(incident: Incident) -> list[TimelineEntry]:
    """Updates and public engineering notes, newest first. Expects ``with_timeline`` prefetches."""
    status_labels = dict(Incident.Status.choices)
    all_updates = list(incident.updates.all())
    by_id = {u.pk: u for u in all_updates}
    corrected_by: dict[int, list[IncidentUpdate]] = {}
    for u in all_updates:
        if u.corrects_id:
            corrected_by.setdefault(u.corrects_id, []).append(u)
    updates = (
        TimelineEntry(
            "update", u.published_at, u.status, status_labels[u.status], u.body_html, u.author_line,
            f"update-{u.public_id}", update=u, corrects=by_id.get(u.corrects_id or 0),
            corrected_by=corrected_by.get(u.pk, []),
        )
        for u in all_updates
    )  # fmt: skip
    notes = (
        TimelineEntry(
            "note", n.created_at, "", "Engineering note", n.text_html, n.author_name, f"note-{n.pk}"
        )
        for n in getattr(incident, "public_notes", [])
    )
    return sorted(chain(updates, notes), key=lambda entry: entry.at, reverse=True)


def current_promise(incident: Incident) -> datetime | None:
    """When the incident's newest update promised to speak next, while it is open; a closed one promises nothing.

    Reads the prefetched updates (``with_timeline``, or the API's ``published_updates``), newest first.
    """
    if incident.is_closed:
        return None
    updates = getattr(incident, "published_updates", None)
    if updates is None:
        updates = list(incident.updates.all())
    return updates[0].next_update_at if updates else None


def overall_status(
    components: list[Component], active: list[Incident], maintenance: list[Incident]
) -> OverallStatus:
    """The page's status as Statuspage computes it: the blend of its components' statuses.

    An open incident is shown as itself below the banner; its impact sets the banner only on a page with no
    components, or "Partial System Outage" would top a page where every component says operational.
    """
    indicator = "none"
    for incident in active if not components else []:
        if _IMPACT_RANK[incident.impact] > _IMPACT_RANK[indicator]:
            indicator = incident.impact
    for component in components:
        level = _COMPONENT_INDICATOR.get(Component.Status(component.status), "none")
        if _IMPACT_RANK[level] > _IMPACT_RANK[indicator]:
            indicator = level
    if indicator == "none" and (
        maintenance or any(c.status == Component.Status.UNDER_MAINTENANCE for c in components)
    ):
        indicator = "maintenance"
    return OverallStatus(indicator, INDICATOR_DESCRIPTIONS[indicator])


def _component_rows(components: list[Component], *, days: int, today: date) -> dict[int, ComponentRow]:
    first_day = today - timedelta(days=days - 1)
    by_component: dict[int, dict[date, ComponentDay]] = {c.pk: {} for c in components}
    for row in ComponentDay.objects.filter(component__in=components, day__gte=first_day):
        by_component[row.component_id][row.day] = row

    rows = {}
    for component in components:
        bars, observed, downtime = [], 0, 0.0
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            record = by_component[component.pk].get(day)
            if record is None or not record.observed_seconds:
                bars.append(DayBar(day, None, None))
                continue
            observed += record.observed_seconds
            downtime += record.downtime_seconds
            bars.append(
                DayBar(day, record.worst_status, record.uptime_ratio, round(record.downtime_seconds / 60))
            )
        uptime = max(0.0, 1 - downtime / observed) if observed else None
        rows[component.pk] = ComponentRow(component, bars, uptime)
    return rows


def status_page(*, days: int = 90, now: datetime | None = None) -> StatusPage:
    now = now or timezone.now()
    components = list(
        Component.objects.select_related("group").order_by("group__position", "group__id", "position")
    )
    rows = _component_rows(components, days=days, today=now.astimezone(UTC).date())

    groups: list[GroupRow] = []
    for component in components:
        if component.only_show_if_degraded and component.status == Component.Status.OPERATIONAL:
            continue
        if not groups or groups[-1].group != component.group:
            groups.append(GroupRow(component.group, []))
        groups[-1].components.append(rows[component.pk])

    open_incidents = list(
        with_timeline(
            public_incidents()
            .exclude(status__in=Incident.CLOSED_STATUSES)
            .order_by("kind", "scheduled_for", "-started_at", "-id")
        )
    )
    active = [i for i in open_incidents if not i.is_maintenance]
    active_maintenance = [
        i for i in open_incidents if i.is_maintenance and i.status != Incident.Status.SCHEDULED
    ]
    upcoming = [i for i in open_incidents if i.is_maintenance and i.status == Incident.Status.SCHEDULED]
    recent = list(
        public_incidents()
        .filter(kind=Incident.Kind.INCIDENT, resolved_at__gte=now - timedelta(days=7))
        .order_by("-resolved_at")[:10]
    )
    return StatusPage(
        overall=overall_status(components, active, active_maintenance),
        groups=groups,
        active_incidents=active,
        active_maintenance=active_maintenance,
        upcoming_maintenance=upcoming,
        recent_incidents=recent,
    )


@dataclass
class HistoryMonth:
    year: int
    month: int
    incidents: list[Incident]
    newer: tuple[int, int] | None
    older: tuple[int, int] | None

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _started(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    return queryset.order_by("-acknowledged_at")


def history_month(*, year: int, month: int) -> HistoryMonth:
    """Public incidents and maintenance first acknowledged in one month, with links to neighbouring busy months."""
    start = _month_start(year, month)
    end = _month_start(*_next_month(year, month))
    base = public_incidents()
    incidents = list(
        base.filter(acknowledged_at__gte=start, acknowledged_at__lt=end)
        .prefetch_related(
            Prefetch("affected", queryset=AffectedComponent.objects.select_related("component"))
        )
        .order_by("-acknowledged_at")
    )
    older_at = (
        _started(base.filter(acknowledged_at__lt=start)).values_list("acknowledged_at", flat=True).first()
    )
    newer_at = (
        base.filter(acknowledged_at__gte=end)
        .order_by("acknowledged_at")
        .values_list("acknowledged_at", flat=True)
        .first()
    )
    return HistoryMonth(
        year=year,
        month=month,
        incidents=incidents,
        newer=(newer_at.year, newer_at.month) if newer_at else None,
        older=(older_at.year, older_at.month) if older_at else None,
    )


@dataclass
class AdminEntry:
    at: datetime
    kind: str  # update, note, change
    label: str
    who: str
    html: str


def admin_timeline(incident: Incident) -> list[AdminEntry]:
    """Everything that happened on an incident, public or not, newest first: for the team, not the public."""
    labels = dict(Incident.Status.choices)
    entries = [
        AdminEntry(
            u.published_at, "update", f"Public update · {labels[u.status]}", u.author_line, u.body_html
        )
        for u in incident.updates.all()
    ]
    entries += [
        AdminEntry(
            n.created_at,
            "note",
            "Public note" if n.is_public else "Internal note",
            n.author_name,
            n.text_html,
        )
        for n in incident.notes.select_related("author")
    ]
    entries += [
        AdminEntry(
            c.changed_at,
            "change",
            "Component status",
            str(c.changed_by or "system"),
            f"{c.component.name}: {c.get_previous_status_display() or '—'} → {c.get_status_display()}",
        )
        for c in ComponentStatusChange.objects.filter(incident=incident).select_related(
            "component", "changed_by"
        )
    ]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)
