"""The Statuspage-compatible API: the exact v2 shape existing readers expect, and nothing unpublished in it.

Field names and enumerations come from /work/shared/reference/statuspage-v2.md (Atlassian's public v2 API).
"""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import AffectedComponent, Component, Incident, IncidentUpdate
from statushub.lib import signing as lib
from tests.incidents.test_statuspage_api_helpers import ENDPOINTS, api_url, get_json, parse_time

pytestmark = pytest.mark.django_db
S = Component.Status

PAGE_KEYS = {"id", "name", "url", "time_zone", "updated_at"}
STATUS_KEYS = {"indicator", "description"}
COMPONENT_KEYS = {
    "id", "name", "status", "created_at", "updated_at", "position", "description", "showcase", "start_date",
    "group_id", "page_id", "group", "only_show_if_degraded",
}  # fmt: skip
INCIDENT_KEYS = {
    "id", "name", "status", "impact", "created_at", "updated_at", "started_at", "monitoring_at",
    "resolved_at",
    "shortlink", "page_id", "incident_updates", "components",
}  # fmt: skip
MAINTENANCE_KEYS = INCIDENT_KEYS | {"scheduled_for", "scheduled_until"}
UPDATE_KEYS = {
    "id", "status", "body", "incident_id", "created_at", "updated_at", "display_at", "affected_components",
    "deliver_notifications", "custom_tweet", "tweet_id",
}  # fmt: skip
OUR_INCIDENT_FIELDS = {"postmortem_url", "next_update_at"}
OUR_UPDATE_FIELDS = {"author", "signature", "kid", "statement_url", "next_update_at", "corrects"}

INDICATORS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
    "maintenance": "Service Under Maintenance",
}
COMPONENT_STATUSES = {
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
IMPACTS = {"none", "minor", "major", "critical"}


def _check_component(doc: dict[str, Any]) -> None:
    extra = {"components"} if doc["group"] else set()
    assert set(doc) == COMPONENT_KEYS | extra
    assert isinstance(doc["id"], str) and isinstance(doc["page_id"], str)
    assert doc["status"] in COMPONENT_STATUSES
    parse_time(doc["created_at"]), parse_time(doc["updated_at"])
    assert isinstance(doc["position"], int)


def _check_incident(doc: dict[str, Any], *, maintenance: bool = False) -> None:
    assert set(doc) == (MAINTENANCE_KEYS if maintenance else INCIDENT_KEYS) | OUR_INCIDENT_FIELDS
    assert isinstance(doc["id"], str)
    if maintenance:
        assert doc["status"] in MAINTENANCE_STATUSES
        assert doc["impact"] in IMPACTS | {"maintenance"}
    else:
        assert doc["status"] in INCIDENT_STATUSES
        assert doc["impact"] in IMPACTS
    for key in ("created_at", "updated_at", "started_at"):
        parse_time(doc[key])
    assert doc["incident_updates"], "a listed incident always has a published update"
    for update in doc["incident_updates"]:
        assert set(update) == UPDATE_KEYS | OUR_UPDATE_FIELDS
        assert update["incident_id"] == doc["id"]
        assert update["status"] in (MAINTENANCE_STATUSES if maintenance else INCIDENT_STATUSES)
        parse_time(update["display_at"])
        for change in update["affected_components"]:
            assert set(change) == {"code", "name", "old_status", "new_status"}
            assert {change["old_status"], change["new_status"]} <= COMPONENT_STATUSES
    for component in doc["components"]:
        _check_component(component)


@pytest.fixture
def page(make_component, make_incident, publisher) -> dict[str, Any]:
    """A group, an active incident, a resolved one, an upcoming and a running maintenance, and a draft."""
    payments = make_component("Payments", group="Billing", description="Card payments", position=1)
    make_component("Invoicing", group="Billing", position=2)
    api = make_component("Public API", group=None)
    now = timezone.now().replace(microsecond=0)

    # Oldest first: a publisher's signing key is created at their first publish and cannot sign earlier times.
    resolved = make_incident(
        "API errors", public=False, severity="sev3", started_at=now - timedelta(days=2, hours=1)
    )
    services.update_publish(
        incident=resolved,
        author=publisher,
        status="investigating",
        body="Looking.",
        at=now - timedelta(days=2),
    )
    services.update_publish(
        incident=resolved, author=publisher, status="resolved", body="Fixed.", at=now - timedelta(days=1)
    )
    active = make_incident("Some customers charged twice", public=False)
    services.update_publish(
        incident=active, author=publisher, status="investigating", body="We're looking.",
        component_statuses={payments: S.PARTIAL_OUTAGE}, at=now - timedelta(minutes=20),
    )  # fmt: skip
    services.update_publish(
        incident=active, author=publisher, status="identified", body="Found it.",
        next_update_at=now + timedelta(minutes=30), at=now - timedelta(minutes=5),
        author_title="VP Engineering",
    )  # fmt: skip
    upcoming = make_incident(
        "EU database upgrade", kind="maintenance", status="scheduled", severity="sev4",
        scheduled_for=now + timedelta(days=3), scheduled_until=now + timedelta(days=3, hours=1),
    )  # fmt: skip
    AffectedComponent.objects.create(incident=upcoming, component=api, status=S.UNDER_MAINTENANCE)
    running = make_incident(
        "Invoice archive migration", kind="maintenance", status="in_progress", severity="sev4",
        scheduled_for=now - timedelta(minutes=10), scheduled_until=now + timedelta(minutes=50),
    )  # fmt: skip
    draft = make_incident("Alert: db latency", public=False, severity="sev1")
    return {
        "active": active, "resolved": resolved, "upcoming": upcoming, "running": running, "draft": draft,
        "payments": payments, "api": api,
    }  # fmt: skip


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_every_endpoint_has_statuspage_top_level_keys_and_page(client, page, settings, name):
    body = get_json(client, name)

    assert set(body) == ENDPOINTS[name]
    assert set(body["page"]) == PAGE_KEYS
    assert body["page"]["name"] == settings.STATUSHUB_SITE_NAME
    assert body["page"]["url"] == settings.STATUSHUB_SITE_URL
    assert body["page"]["time_zone"] == "Etc/UTC"
    assert len(body["page"]["id"]) == 12
    parse_time(body["page"]["updated_at"])
    if "status" in body:
        assert set(body["status"]) == STATUS_KEYS
        assert INDICATORS[body["status"]["indicator"]] == body["status"]["description"]
    for component in body.get("components", []):
        _check_component(component)
    for incident in body.get("incidents", []):
        _check_incident(incident)
    for maintenance in body.get("scheduled_maintenances", []):
        _check_incident(maintenance, maintenance=True)


def test_summary_lists_unresolved_incidents_and_open_maintenance_with_a_consistent_status(client, page):
    body = get_json(client, "summary")

    assert [i["name"] for i in body["incidents"]] == ["Some customers charged twice"]
    assert [m["name"] for m in body["scheduled_maintenances"]] == [
        "Invoice archive migration",
        "EU database upgrade",
    ]
    assert body["status"] == {"indicator": "major", "description": "Partial System Outage"}
    incident = body["incidents"][0]
    assert (incident["status"], incident["impact"]) == ("identified", "major")
    assert incident["shortlink"] == f"http://localhost:8000/incidents/{page['active'].pk}/"
    assert [c["name"] for c in incident["components"]] == ["Payments"]
    assert incident["components"][0]["status"] == "partial_outage"


def test_incident_updates_come_newest_first_with_their_component_changes_and_our_signature(client, page):
    incident = get_json(client, "incidents-unresolved")["incidents"][0]
    newest, first = incident["incident_updates"]

    assert [newest["status"], first["status"]] == ["identified", "investigating"]
    assert first["affected_components"] == [
        {"code": str(page["payments"].pk), "name": "Payments", "old_status": "operational",
         "new_status": "partial_outage"}
    ]  # fmt: skip
    assert newest["affected_components"] == []
    assert newest["author"] == {"name": "Priya Raman", "title": "VP Engineering"}
    assert parse_time(newest["next_update_at"]) - parse_time(newest["display_at"]) == timedelta(minutes=35)
    assert incident["updated_at"] == newest["display_at"]
    assert incident["created_at"] == first["display_at"]

    # The extra fields are enough to verify the update with our public files alone.
    update = IncidentUpdate.objects.get(public_id=newest["id"])
    key = update.signing_key
    assert key is not None
    assert newest["kid"] == key.kid
    statement = client.get(newest["statement_url"].removeprefix("http://localhost:8000"))
    assert lib.verify(bytes(key.public_key), lib.b64decode_signature(newest["signature"]), statement.content)


def test_an_incident_carries_its_open_promise_and_a_resolved_one_none(client, page, publisher):
    incident = get_json(client, "incidents-unresolved")["incidents"][0]
    assert incident["next_update_at"] == incident["incident_updates"][0]["next_update_at"] is not None

    services.incident_set_status(incident=page["active"], status="resolved", by=publisher)
    resolved = next(i for i in get_json(client, "incidents")["incidents"] if i["id"] == incident["id"])
    assert resolved["next_update_at"] is None


def test_a_group_is_a_component_listing_its_children_who_name_their_group(client, page):
    components = get_json(client, "components")["components"]
    by_name = {c["name"]: c for c in components}
    billing, payments, invoicing, api = (
        by_name[n] for n in ["Billing", "Payments", "Invoicing", "Public API"]
    )

    assert billing["group"] is True and billing["group_id"] is None
    assert billing["components"] == [payments["id"], invoicing["id"]]
    assert billing["status"] == "partial_outage", "a group shows its worst child"
    assert payments["group"] is False and payments["group_id"] == billing["id"]
    assert payments["description"] == "Card payments"
    assert api["group_id"] is None
    assert len({c["id"] for c in components}) == len(components), "groups and components share one id space"
    assert [c["name"] for c in sorted(components, key=lambda c: c["position"])] == [
        "Billing", "Payments", "Invoicing", "Public API",
    ]  # fmt: skip


def test_drafts_and_unsigned_updates_never_appear(client, page, publisher):
    # An incident marked acknowledged but with no signed update (e.g. imported) stays off the API too.
    ghost = Incident.objects.create(title="Ghost", acknowledged_at=timezone.now())
    IncidentUpdate.objects.create(
        incident=ghost, status="investigating", body="unsigned", author=publisher, author_name="Priya",
        published_at=timezone.now(),
    )  # fmt: skip
    IncidentUpdate.objects.create(
        incident=page["active"], status="monitoring", body="unsigned leak", author=publisher,
        author_name="Priya", published_at=timezone.now(),
    )  # fmt: skip

    for name in ENDPOINTS:
        text = client.get(api_url(name)).content.decode()
        assert "Alert: db latency" not in text
        assert "Ghost" not in text
        assert "unsigned leak" not in text
    assert get_json(client, "status")["status"]["indicator"] == "major", (
        "a draft SEV1 does not move the indicator"
    )


def test_incidents_json_lists_the_50_most_recent_incidents_newest_first(client, publisher):
    now = timezone.now()
    incidents = Incident.objects.bulk_create(
        Incident(
            title=f"Incident {n}", status="resolved", impact="minor", acknowledged_at=now - timedelta(hours=n)
        )
        for n in range(55)
    )
    Incident.objects.create(
        title="Old maintenance", kind="maintenance", status="completed", impact="maintenance",
        acknowledged_at=now,
    )  # fmt: skip
    IncidentUpdate.objects.bulk_create(
        IncidentUpdate(incident=i, status="resolved", body="x", author=publisher, author_name="Priya",
                       published_at=i.acknowledged_at or now, signature="sig")
        for i in Incident.objects.all()
    )  # fmt: skip

    listed = get_json(client, "incidents")["incidents"]

    assert [i["name"] for i in listed] == [f"Incident {n}" for n in range(50)]
    assert incidents[54].title not in {i["name"] for i in listed}
    assert get_json(client, "incidents-unresolved")["incidents"] == []


def test_unresolved_leaves_out_resolved_postmortem_and_maintenance(client, make_incident):
    for status in ["investigating", "identified", "monitoring", "resolved", "postmortem"]:
        make_incident(f"Is {status}", status=status)
    make_incident("Planned", kind="maintenance", status="in_progress")

    names = {i["name"] for i in get_json(client, "incidents-unresolved")["incidents"]}

    assert names == {"Is investigating", "Is identified", "Is monitoring"}


def test_maintenance_filters_follow_the_maintenance_status(client, make_incident, publisher):
    now = timezone.now()
    for n, status in enumerate(["scheduled", "in_progress", "verifying", "completed"]):
        maintenance = make_incident(
            status, kind="maintenance", status=status if status != "completed" else "verifying",
            scheduled_for=now + timedelta(hours=n - 2), scheduled_until=now + timedelta(hours=n),
        )  # fmt: skip
    services.update_publish(incident=maintenance, author=publisher, status="completed", body="Done.")

    def names(name: str) -> list[str]:
        return [m["name"] for m in get_json(client, name)["scheduled_maintenances"]]

    assert names("maintenances-upcoming") == ["scheduled"]
    assert names("maintenances-active") == ["in_progress", "verifying"]
    assert names("maintenances") == ["completed", "verifying", "in_progress", "scheduled"]
    assert names("summary") == ["scheduled", "in_progress", "verifying"]
    assert get_json(client, "summary")["status"] == {
        "indicator": "maintenance",
        "description": INDICATORS["maintenance"],
    }
    completed = get_json(client, "maintenances")["scheduled_maintenances"][0]
    assert completed["impact"] == "maintenance"
    assert parse_time(completed["scheduled_until"]) - parse_time(completed["scheduled_for"]) == timedelta(
        hours=2
    )
    assert completed["resolved_at"] is not None


@pytest.mark.parametrize(
    ("severity", "impact", "indicator"),
    [("sev1", "critical", "critical"), ("sev3", "minor", "minor"), ("sev4", "none", "none")],
)
def test_the_indicator_follows_the_worst_open_impact(client, make_incident, severity, impact, indicator):
    make_incident(severity=severity)
    body = get_json(client, "summary")
    assert body["incidents"][0]["impact"] == impact
    assert body["status"] == {"indicator": indicator, "description": INDICATORS[indicator]}


def test_an_incident_given_maintenance_impact_reads_as_no_impact(client, make_incident):
    make_incident(impact="maintenance")
    assert get_json(client, "incidents")["incidents"][0]["impact"] == "none"


def test_nothing_wrong_reads_all_systems_operational(client, make_component):
    make_component("Web app")
    assert get_json(client, "status")["status"] == {
        "indicator": "none",
        "description": "All Systems Operational",
    }


def test_timestamps_are_in_the_page_time_zone_with_offset(client, page, settings):
    settings.STATUSHUB_TIME_ZONE = "America/Los_Angeles"
    body = get_json(client, "summary")
    assert body["page"]["time_zone"] == "America/Los_Angeles"
    assert body["incidents"][0]["created_at"][-6:] in {"-08:00", "-07:00"}


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_responses_are_cacheable_cookieless_and_readable_from_any_origin(client, page, name):
    first = client.get(api_url(name), HTTP_ORIGIN="https://dashboard.example")
    etag = first["ETag"]

    assert etag.startswith('"') and not etag.startswith("W/"), "a strong ETag"
    assert not first.cookies
    assert "public" in first["Cache-Control"] and "max-age=" in first["Cache-Control"]
    assert first["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in first["Access-Control-Expose-Headers"]
    again = client.get(api_url(name), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["Access-Control-Allow-Origin"] == "*"
    assert not again.cookies


def test_a_cors_preflight_is_answered(client):
    response = client.options(
        api_url("summary"), HTTP_ORIGIN="https://dashboard.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response["Access-Control-Allow-Methods"]


def test_the_etag_changes_when_public_data_changes(
    client, page, django_capture_on_commit_callbacks, settings
):
    etag = client.get(api_url("components"))["ETag"]
    payments = page["payments"]
    payments.name = "Card payments"
    with django_capture_on_commit_callbacks(execute=True):
        payments.save()

    changed = client.get(api_url("components"), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert "Card payments" in changed.content.decode()

    # The page's name is in every document: renaming it must not leave readers on a stale 304.
    settings.STATUSHUB_SITE_NAME = "Northwind status"
    assert client.get(api_url("components"), HTTP_IF_NONE_MATCH=changed["ETag"]).status_code == 200


def test_writes_are_refused(client):
    assert client.post(api_url("summary")).status_code in {403, 405}
