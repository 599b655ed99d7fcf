"""The Statuspage-compatible API costs the same few queries however long the history."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import AffectedComponent, Component, Incident, IncidentUpdate
from tests.incidents.test_statuspage_api_helpers import ENDPOINTS, get_json

pytestmark = pytest.mark.django_db


def _status(n: int) -> str:
    if n % 4 == 0:
        return "scheduled" if n % 8 == 0 else "completed"
    return "identified" if n < 20 else "resolved"


def _long_history(count: int, publisher, components: list[Component]) -> None:
    """``count`` public incidents and maintenances, each with three signed updates and two components."""
    now = timezone.now()
    incidents = Incident.objects.bulk_create(
        Incident(
            title=f"Incident {n}", severity="sev3", impact="minor",
            kind="maintenance" if n % 4 == 0 else "incident",
            status=_status(n),
            started_at=now - timedelta(hours=n), acknowledged_at=now - timedelta(hours=n),
            scheduled_for=now + timedelta(hours=n),
        )
        for n in range(count)
    )  # fmt: skip
    IncidentUpdate.objects.bulk_create(
        IncidentUpdate(
            incident=i, status=i.status, body="x", author=publisher, author_name="Priya", signature="sig",
            published_at=now - timedelta(minutes=k), affected_components=[{"code": "1", "name": "C",
            "old_status": "operational", "new_status": "degraded_performance"}],
        )
        for i in incidents for k in range(3)
    )  # fmt: skip
    AffectedComponent.objects.bulk_create(
        AffectedComponent(incident=i, component=c, status="degraded_performance")
        for i in incidents
        for c in components[:2]
    )


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_queries_stay_constant_with_200_incidents(
    client, make_component, publisher, django_assert_max_num_queries, name
):
    components = [make_component(f"C{n}", group=f"G{n % 3}") for n in range(9)]
    _long_history(200, publisher, components)

    with django_assert_max_num_queries(9):
        body = get_json(client, name)

    if name in {"incidents", "maintenances"}:
        assert len(body.get("incidents") or body["scheduled_maintenances"]) == 50
