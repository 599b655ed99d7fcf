"""The Statuspage-compatible API read through the whole stack by a reader written as the common ones are."""

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import close_old_connections
from django.utils import timezone

from tests.incidents.test_statuspage_api_helpers import parse_time

pytestmark = pytest.mark.django_db


class StatuspageReader:
    """A Statuspage reader written the way the common ones are (dashboards, chat bots, aRez's status module):
    fetch summary.json, trust the indicator, index components by id, resolve groups and incidents through ids.
    Any renamed field, non-string id or unparseable timestamp breaks it as it would break them."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def summary(self) -> dict[str, Any]:
        response = self.http.get("/api/v2/summary.json")
        response.raise_for_status()
        data = response.json()
        components = {c["id"]: c for c in data["components"]}
        groups = {c["id"]: c for c in components.values() if c["group"]}
        return {
            "page": data["page"]["name"],
            "updated": parse_time(data["page"]["updated_at"]),
            "indicator": data["status"]["indicator"],
            "description": data["status"]["description"],
            "degraded": sorted(
                (groups[c["group_id"]]["name"] if c["group_id"] else "", c["name"], c["status"])
                for c in components.values()
                if not c["group"] and c["status"] != "operational"
            ),
            "incidents": [
                {
                    "name": i["name"],
                    "impact": i["impact"],
                    "latest": i["incident_updates"][0]["body"],
                    "latest_at": parse_time(i["incident_updates"][0]["display_at"]),
                    "by": i["incident_updates"][0].get("author", {}).get("name"),
                    "components": [components[c["id"]]["name"] for c in i["components"]],
                    "link": i["shortlink"],
                }
                for i in data["incidents"]
            ],
            "maintenance": [
                (
                    m["name"],
                    m["status"],
                    parse_time(m["scheduled_for"]),
                    [components[c["id"]]["name"] for c in m["components"]],
                )
                for m in data["scheduled_maintenances"]
            ],
        }


@pytest.fixture
def reader() -> Iterator[Callable[[], StatuspageReader]]:
    """The whole Django stack over WSGI through a real HTTP client, in the test's own database transaction."""
    # As Django's test client does: a finished request must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    transport = httpx.WSGITransport(app=WSGIHandler())
    try:
        yield lambda: StatuspageReader(httpx.Client(transport=transport, base_url="http://localhost:8000"))
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def test_a_statuspage_reader_reads_the_demo(reader):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    summary = reader().summary()

    assert summary["page"] == "StatusHub"
    assert (summary["indicator"], summary["description"]) == ("major", "Partial System Outage")
    assert summary["degraded"] == [("Billing", "Payments", "partial_outage")]
    [incident] = summary["incidents"]
    assert incident["name"] == "Some customers charged twice on renewal"
    assert incident["impact"] == "major"
    assert incident["latest"].startswith("I'm Dana Whitfield, CEO of Northwind Cloud.")
    assert incident["by"] == "Dana Whitfield"
    assert incident["components"] == ["Payments"]
    [maintenance] = summary["maintenance"]
    name, status, begins, components = maintenance
    assert (name, status, components) == ("Database upgrade for the EU region", "scheduled", ["EU region"])
    assert begins.weekday() == 5 and begins > timezone.now()
    assert summary["updated"] >= incident["latest_at"]
