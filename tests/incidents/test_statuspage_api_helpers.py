"""Shared by the ``test_statuspage_api*`` modules: the v2 endpoints, fetching one, reading its times. No tests here.

Field names and enumerations come from /work/shared/reference/statuspage-v2.md (Atlassian's public v2 API).
"""

from datetime import datetime
from typing import Any

from django.urls import reverse

ENDPOINTS = {
    "summary": {"page", "status", "components", "incidents", "scheduled_maintenances"},
    "status": {"page", "status"},
    "components": {"page", "components"},
    "incidents": {"page", "incidents"},
    "incidents-unresolved": {"page", "incidents"},
    "maintenances": {"page", "scheduled_maintenances"},
    "maintenances-upcoming": {"page", "scheduled_maintenances"},
    "maintenances-active": {"page", "scheduled_maintenances"},
}


def api_url(name: str) -> str:
    return reverse(f"statuspage:{name}")


def get_json(client, name: str) -> dict[str, Any]:
    response = client.get(api_url(name))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def parse_time(value: str) -> datetime:
    # As Statuspage readers parse them (milliseconds, numeric offset); a naive or odd format fails here.
    parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    assert parsed.utcoffset() is not None
    return parsed
