"""Per-day availability of components, computed from their recorded status changes."""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from incidents.models import Component, ComponentDay, ComponentStatusChange

_SECONDS_FIELD = {
    Component.Status.DEGRADED_PERFORMANCE: "degraded_seconds",
    Component.Status.PARTIAL_OUTAGE: "partial_seconds",
    Component.Status.MAJOR_OUTAGE: "major_seconds",
    Component.Status.UNDER_MAINTENANCE: "maintenance_seconds",
}
# Worst first; maintenance is planned, so it ranks below any unplanned trouble.
SEVERITY_ORDER = [
    Component.Status.MAJOR_OUTAGE,
    Component.Status.PARTIAL_OUTAGE,
    Component.Status.DEGRADED_PERFORMANCE,
    Component.Status.UNDER_MAINTENANCE,
    Component.Status.OPERATIONAL,
]
_RANK = {status: rank for rank, status in enumerate(SEVERITY_ORDER)}


def worse(a: str, b: str) -> str:
    return a if _RANK[Component.Status(a)] <= _RANK[Component.Status(b)] else b


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def recompute_component_days(component: Component, *, days: int = 90, now: datetime | None = None) -> int:
    """Rewrite the last ``days`` ComponentDay rows of one component. Returns the number of rows written."""
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    first_day = today - timedelta(days=days - 1)
    window_start = _day_start(first_day)

    counted_from = component.created_at
    if component.start_date:
        counted_from = min(counted_from, _day_start(component.start_date))

    before = (
        ComponentStatusChange.objects.filter(component=component, changed_at__lt=window_start)
        .order_by("-changed_at", "-id")
        .first()
    )
    changes = list(
        ComponentStatusChange.objects.filter(
            component=component, changed_at__gte=window_start, changed_at__lte=now
        )
    )
    if before is not None:
        status = before.status
    elif changes:
        status = changes[0].previous_status or Component.Status.OPERATIONAL
    else:
        status = component.status

    # Build (start, end, status) intervals covering the window up to now.
    intervals = []
    cursor = window_start
    for change in changes:
        intervals.append((cursor, change.changed_at, status))
        cursor, status = change.changed_at, change.status
    intervals.append((cursor, now, status))

    seconds: dict[date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    worst: dict[date, str] = {}
    for start, end, state in intervals:
        start = max(start, counted_from)
        while start < end:
            day = start.astimezone(UTC).date()
            day_end = min(_day_start(day + timedelta(days=1)), end)
            span = (day_end - start).total_seconds()
            seconds[day]["observed_seconds"] += span
            if state in _SECONDS_FIELD:
                seconds[day][_SECONDS_FIELD[Component.Status(state)]] += span
            worst[day] = worse(worst.get(day, Component.Status.OPERATIONAL), state)
            start = day_end

    rows = [
        ComponentDay(
            component=component,
            day=day,
            worst_status=worst[day],
            **{name: round(value) for name, value in fields.items()},
        )
        for day, fields in sorted(seconds.items())
    ]
    with transaction.atomic():
        ComponentDay.objects.filter(component=component, day__gte=first_day).delete()
        ComponentDay.objects.bulk_create(rows)
    return len(rows)
