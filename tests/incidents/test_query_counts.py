"""Pages must cost the same number of queries with a long history as with a short one."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.availability import recompute_component_days
from incidents.models import AffectedComponent, Component, Incident, IncidentUpdate, ProgressNote

pytestmark = pytest.mark.django_db


def _history(count, components, author, *, open_count=2):
    """Bulk-create ``count`` public incidents, each with three updates, a public note and two affected components."""
    now = timezone.now()
    incidents = Incident.objects.bulk_create(
        Incident(
            title=f"Incident {n}",
            severity="sev3",
            impact="minor",
            status="investigating" if n < open_count else "resolved",
            started_at=now - timedelta(hours=n * 7),
            acknowledged_at=now - timedelta(hours=n * 7),
            resolved_at=None if n < open_count else now - timedelta(hours=n * 7 - 2),
        )
        for n in range(count)
    )
    IncidentUpdate.objects.bulk_create(
        IncidentUpdate(
            incident=incident, status="investigating", body="x", body_html="<p>x</p>", author=author,
            author_name="Priya", published_at=now - timedelta(minutes=k),
        )
        for incident in incidents for k in range(3)
    )  # fmt: skip
    ProgressNote.objects.bulk_create(
        ProgressNote(incident=i, author=author, text="n", text_html="<p>n</p>", is_public=True)
        for i in incidents
    )
    AffectedComponent.objects.bulk_create(
        AffectedComponent(incident=i, component=c, status="degraded_performance")
        for i in incidents
        for c in components[:2]
    )
    for component in components:
        recompute_component_days(component)
    return incidents


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url_for",
    [
        lambda incidents: reverse("status:page"),
        lambda incidents: reverse("status:live") + "?v=stale",
        lambda incidents: reverse("status:incident", args=[incidents[0].pk]),
        lambda incidents: reverse(
            "status:history-month", args=[incidents[0].started_at.year, incidents[0].started_at.month]
        ),
    ],
    ids=["page", "live", "incident", "history"],
)
def test_queries_do_not_grow_with_the_history(client, make_component, publisher, url_for):
    components = [make_component(f"C{n}", group=f"G{n % 3}") for n in range(9)]
    small = _history(5, components, publisher)
    small_count = _queries(client, url_for(small))

    Incident.objects.all().delete()
    large = _history(1500, components, publisher, open_count=40)
    large_count = _queries(client, url_for(large))

    assert large_count == small_count
    assert large_count <= 8
    assert Component.objects.count() == 9
