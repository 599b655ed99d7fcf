"""The engineers' API, endpoint by endpoint, as a script holding a personal token uses it."""

from datetime import timedelta
from datetime import timezone as dt_timezone

import pytest
from django.urls import reverse
from django.utils import timezone

from channels.models import Channel, Delivery
from incidents.models import AffectedComponent, ComponentStatusChange, Incident, ProgressNote, UpdateDraft
from incidents.selectors import public_incidents
from people import tokens
from people.models import AuditEvent

pytestmark = pytest.mark.django_db

ALL_SCOPES = ["incidents:read", "incidents:write", "notes:write", "components:write", "deliveries:read"]


def _headers(user, *scopes: str) -> dict[str, str]:
    _row, token = tokens.token_create(owner=user, name="script", scopes=list(scopes))
    return {"Authorization": f"Bearer {token}"}


def _post(client, url, data, headers):
    return client.post(url, data, content_type="application/json", headers=headers)


# --- POST /incidents ----------------------------------------------------------------------------------------


def test_a_communicator_opens_a_draft_incident_that_nobody_outside_can_see(
    client, communicator, make_component
):
    payments = make_component("Payments")
    api_component = make_component("API")
    headers = _headers(communicator, "incidents:write")

    response = _post(
        client,
        "/api/v1/incidents",
        {
            "title": "  Card payments failing  ",
            "severity": "SEV2",
            "components": [{"name": "payments"}, {"id": api_component.pk, "status": "degraded_performance"}],
            "note": "Error rate at 40% since the 14:02 deploy.",
        },
        headers,
    )

    assert response.status_code == 201, response.content
    body = response.json()
    incident = Incident.objects.get(pk=body["id"])
    assert body["title"] == incident.title == "Card payments failing"
    assert body["severity"] == "sev2" and body["status"] == "investigating" and body["impact"] == "major"
    assert body["public"] is False and body["public_url"] is None
    assert body["compose_url"] == f"http://localhost:8000/manage/incidents/{incident.pk}/compose/"
    assert {(c["name"], c["status"], c["proposed"]) for c in body["components"]} == {
        ("Payments", "partial_outage", True),
        ("API", "degraded_performance", True),
    }
    assert not incident.affected.exists()  # nothing holds the components before a publisher speaks
    # Not public: no update, not on the page, and the components' public statuses have not moved.
    assert not incident.updates.exists()
    assert incident not in public_incidents()
    payments.refresh_from_db()
    assert payments.status == "operational"
    assert not ComponentStatusChange.objects.filter(incident=incident).exists()
    # The proposal waits in the shared draft for the publisher, and the note for the team.
    draft = UpdateDraft.objects.get(incident=incident)
    assert draft.component_statuses == {
        str(payments.pk): "partial_outage",
        str(api_component.pk): "degraded_performance",
    }
    note = ProgressNote.objects.get(incident=incident)
    assert note.author == communicator and not note.is_public
    event = AuditEvent.objects.get(action="api_incident_opened")
    assert event.actor == communicator
    assert event.data["incident"] == incident.pk
    assert incident.history.first().history_user == communicator


def test_engineers_cannot_open_incidents_even_with_a_token(client, engineer, communicator):
    row, token = tokens.token_create(owner=communicator, name="x", scopes=["incidents:write"])
    row.owner = engineer  # a token whose owner has no longer the role it was made with
    row.save()

    response = _post(
        client,
        "/api/v1/incidents",
        {"title": "Down", "severity": "sev1"},
        {"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Incident.objects.exists()


def test_a_token_without_the_scope_gets_403_and_changes_nothing(client, publisher):
    response = _post(
        client, "/api/v1/incidents", {"title": "Down", "severity": "sev1"}, _headers(publisher, "notes:write")
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "This token does not have the incidents:write scope. Create a token with it at /manage/tokens/.",
        "code": "insufficient_scope",
    }
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"severity": "sev1"}, "title: Field required"),
        ({"title": "   ", "severity": "sev1"}, "title: must not be blank"),
        ({"title": "Down", "severity": "sev9"}, "severity: Input should be"),
        (
            {"title": "Down", "severity": "sev1", "components": [{"name": "Nope"}]},
            "no component named 'Nope'",
        ),
        ({"title": "Down", "severity": "sev1", "components": [{}]}, "either the component's id or its name"),
        (
            {"title": "Down", "severity": "sev1", "components": [{"id": 2**70}]},
            "components.0.id: Input should be",
        ),
        (
            {"title": "Down", "severity": "sev1", "components": [{"name": "Payments"}, {"name": "PAYMENTS"}]},
            "Payments is listed twice",
        ),
        ({"title": "Down", "severity": "sev1", "started_at": "2020-01-01T10:00:00"}, "timezone"),
        ({"title": "Down\x00", "severity": "sev1"}, "title: must not contain NUL"),
        (
            {"title": "Down", "severity": "sev1", "started_at": "0001-01-01T00:00:00+01:00"},
            "too far in the past",
        ),
        ({"title": "Down", "severity": "sev1", "note": "\ud800"}, "note: Input should be a valid string"),
        (
            {"title": "Down", "severity": "sev1", "started_at": "2999-01-01T10:00:00Z"},
            "cannot be in the future",
        ),
    ],
)
def test_bad_input_gets_422_saying_what_is_wrong_and_creates_nothing(
    client, communicator, make_component, payload, message
):
    make_component("Payments")

    response = _post(client, "/api/v1/incidents", payload, _headers(communicator, "incidents:write"))

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert message in response.json()["detail"]
    assert response.json()["errors"]
    assert not Incident.objects.exists()


def test_the_start_time_can_be_given_with_any_offset(client, communicator):
    started = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    local = started.astimezone(dt_timezone(timedelta(hours=20, minutes=41)))  # beyond PostgreSQL's ±15:59

    response = _post(
        client,
        "/api/v1/incidents",
        {"title": "Down", "severity": "sev1", "started_at": local.isoformat()},
        _headers(communicator, "incidents:write"),
    )

    assert response.status_code == 201
    assert Incident.objects.get().started_at == started
    assert response.json()["started_at"] == started.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_malformed_json_gets_400(client, communicator):
    response = client.post(
        "/api/v1/incidents",
        "{not json",
        content_type="application/json",
        headers=_headers(communicator, "incidents:write"),
    )

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


# --- POST /incidents/{id}/notes -----------------------------------------------------------------------------


def test_an_engineer_posts_an_internal_note_by_default(client, engineer, make_incident):
    incident = make_incident()

    response = _post(
        client,
        f"/api/v1/incidents/{incident.pk}/notes",
        {"text": "Rolled back to v41."},
        _headers(engineer, "notes:write"),
    )

    assert response.status_code == 201
    note = ProgressNote.objects.get(pk=response.json()["id"])
    assert note.author == engineer and note.text == "Rolled back to v41." and not note.is_public
    assert response.json()["public"] is False and response.json()["on_public_timeline"] is False
    assert response.json()["author"] == "Marco Rossi"
    event = AuditEvent.objects.get(action="api_note_added")
    assert event.actor == engineer and event.data["note"] == note.pk
    assert "Rolled back" not in client.get(reverse("status:incident", args=[incident.pk])).content.decode()


def test_a_public_note_joins_the_public_timeline(client, engineer, make_incident):
    incident = make_incident()

    response = _post(
        client,
        f"/api/v1/incidents/{incident.pk}/notes",
        {"text": "Payments are <b>recovering</b>.", "public": True},
        _headers(engineer, "notes:write"),
    )

    assert response.status_code == 201
    assert response.json()["on_public_timeline"] is True
    page = client.get(reverse("status:incident", args=[incident.pk])).content.decode()
    assert "recovering" in page
    assert "<b>recovering</b>" not in page  # escaped like every note


def test_a_public_note_on_a_draft_incident_waits_for_the_incident_to_be_public(
    client, engineer, make_incident
):
    incident = make_incident(public=False)

    response = _post(
        client,
        f"/api/v1/incidents/{incident.pk}/notes",
        {"text": "Found it.", "public": True},
        _headers(engineer, "notes:write"),
    )

    assert response.json()["public"] is True
    assert response.json()["on_public_timeline"] is False


def test_a_note_for_an_unknown_incident_gets_404(client, engineer):
    response = _post(
        client, "/api/v1/incidents/999999/notes", {"text": "x"}, _headers(engineer, "notes:write")
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "There is no incident 999999.", "code": "not_found"}


# --- GET /incidents -----------------------------------------------------------------------------------------


def test_the_list_shows_open_incidents_newest_first_with_pagination(
    client, engineer, make_incident, django_assert_max_num_queries, make_component
):
    component = make_component("Payments")
    older = make_incident("Older")
    newer = make_incident("Newer", public=False)
    AffectedComponent.objects.create(incident=newer, component=component, status="major_outage")
    closed = make_incident("Closed", status=Incident.Status.RESOLVED)
    headers = _headers(engineer, "incidents:read")

    body = client.get("/api/v1/incidents", headers=headers).json()
    assert body["count"] == 2
    assert [i["id"] for i in body["items"]] == [newer.pk, older.pk]
    assert body["items"][0]["components"] == [
        {"id": component.pk, "name": "Payments", "status": "major_outage", "proposed": False}
    ]

    assert [
        i["id"] for i in client.get("/api/v1/incidents?status=closed", headers=headers).json()["items"]
    ] == [closed.pk]
    page = client.get("/api/v1/incidents?status=all&limit=1&offset=1", headers=headers).json()
    assert page["count"] == 3 and page["limit"] == 1 and [i["id"] for i in page["items"]] == [newer.pk]

    for n in range(10):
        make_incident(f"Bulk {n}", public=False)
    with django_assert_max_num_queries(8):
        assert len(client.get("/api/v1/incidents", headers=headers).json()["items"]) == 12


def test_the_list_rejects_an_unknown_status_filter_and_oversized_pages(client, engineer):
    headers = _headers(engineer, "incidents:read")

    assert client.get("/api/v1/incidents?status=broken", headers=headers).status_code == 422
    assert client.get("/api/v1/incidents?limit=1000", headers=headers).status_code == 422


def test_one_incident(client, engineer, make_incident):
    incident = make_incident()

    body = client.get(f"/api/v1/incidents/{incident.pk}", headers=_headers(engineer, "incidents:read")).json()

    assert body["id"] == incident.pk and body["public"] is True
    assert body["public_url"] == f"http://localhost:8000/incidents/{incident.pk}/"


# --- components ---------------------------------------------------------------------------------------------


def test_an_engineer_changes_a_component_status_as_the_admin_would(
    client, engineer, make_component, make_incident
):
    component = make_component("Payments")
    incident = make_incident()
    AffectedComponent.objects.create(incident=incident, component=component, status="operational")
    headers = _headers(engineer, "components:write")

    response = client.patch(
        f"/api/v1/components/{component.pk}",
        {"status": "major_outage"},
        content_type="application/json",
        headers=headers,
    )

    assert response.status_code == 200
    assert response.json()["changed"] is True
    assert response.json()["component"]["status"] == "major_outage"
    change = ComponentStatusChange.objects.filter(component=component).latest("changed_at")
    assert (change.previous_status, change.status, change.changed_by) == (
        "operational",
        "major_outage",
        engineer,
    )
    assert change.incident == incident  # shown on the open incident's timeline, as the admin does
    assert AffectedComponent.objects.get(incident=incident, component=component).status == "major_outage"
    event = AuditEvent.objects.get(action="api_component_status")
    assert event.actor == engineer and event.data["from"] == "operational"

    again = client.patch(
        f"/api/v1/components/{component.pk}",
        {"status": "major_outage"},
        content_type="application/json",
        headers=headers,
    )
    assert again.json()["changed"] is False
    assert AuditEvent.objects.filter(action="api_component_status").count() == 1


def test_a_bad_component_status_or_id(client, engineer, make_component):
    component = make_component("Payments")
    headers = _headers(engineer, "components:write")

    bad = client.patch(
        f"/api/v1/components/{component.pk}",
        {"status": "on_fire"},
        content_type="application/json",
        headers=headers,
    )
    missing = client.patch(
        "/api/v1/components/999999",
        {"status": "major_outage"},
        content_type="application/json",
        headers=headers,
    )

    assert bad.status_code == 422 and "status: Input should be" in bad.json()["detail"]
    assert missing.status_code == 404 and missing.json()["detail"] == "There is no component 999999."


def test_components_are_listed_with_their_ids(client, engineer, make_component):
    payments = make_component("Payments")

    body = client.get("/api/v1/components", headers=_headers(engineer, "incidents:read")).json()

    assert body["count"] == 1
    assert body["items"][0] | {"updated_at": None} == {
        "id": payments.pk,
        "name": "Payments",
        "group": "Core",
        "status": "operational",
        "updated_at": None,
    }


# --- deliveries ---------------------------------------------------------------------------------------------


def test_deliveries_of_a_published_update(client, communicator, engineer, make_incident):
    Channel.objects.create(kind=Channel.Kind.WEBHOOK, name="Ops hook", dry_run=True)
    Channel.objects.create(kind=Channel.Kind.MANUAL, name="Community forum")
    update = make_incident().updates.get()
    Delivery.objects.filter(channel__name="Community forum").update(state="dead", last_error="HTTP 403")

    response = client.get(
        f"/api/v1/updates/{update.public_id}/deliveries", headers=_headers(communicator, "deliveries:read")
    )

    assert response.status_code == 200
    items = response.json()["items"]
    assert [(d["channel"]["name"], d["state"], d["dry_run"]) for d in items] == [
        ("Community forum", "dead", False),
        ("Ops hook", "pending", True),
    ]
    assert items[0]["last_error"] == "HTTP 403" and items[0]["state_label"] == "Failed permanently"
    # Engineers do not see where updates go, and no token of theirs can.
    with pytest.raises(tokens.TokenError):
        tokens.token_create(owner=engineer, name="x", scopes=["deliveries:read"])
    unknown = client.get("/api/v1/updates/nope/deliveries", headers=_headers(communicator, "deliveries:read"))
    assert unknown.status_code == 404
    odd = client.get("/api/v1/updates/a%00b/deliveries", headers=_headers(communicator, "deliveries:read"))
    assert odd.status_code == 422
    assert odd.json()["detail"] == "public_id: has characters that are not allowed"


# --- the API as a whole -------------------------------------------------------------------------------------


def test_no_cookies_and_no_csrf_needed_even_with_a_session(client, engineer, make_incident):
    incident = make_incident()
    client.force_login(engineer)
    csrf_client = client.__class__(enforce_csrf_checks=True)
    csrf_client.cookies = client.cookies

    response = _post(
        csrf_client,
        f"/api/v1/incidents/{incident.pk}/notes",
        {"text": "x"},
        _headers(engineer, "notes:write"),
    )

    assert response.status_code == 201
    assert not response.cookies
    assert response["Cache-Control"] == "no-store"


def test_a_session_alone_is_not_enough(client, engineer, make_incident):
    incident = make_incident()
    client.force_login(engineer)

    response = _post(client, f"/api/v1/incidents/{incident.pk}/notes", {"text": "x"}, {})

    assert response.status_code == 401
    assert not ProgressNote.objects.exists()


def test_tone_check_answers_any_token_with_the_flags(client, engineer):
    response = client.post(
        "/api/v1/tone/check",
        {"text": "It's just a small glitch, fixed soon!!", "kind": "update"},
        content_type="application/json",
        headers=_headers(engineer, "incidents:read"),
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    assert [(f["kind"], f["text"]) for f in body["flags"]] == [
        ("minimising", "just a small glitch"),
        ("vague", "soon"),
        ("heat", "!!"),
    ]
    assert set(body["flags"][0]) == {"kind", "start", "end", "text", "why", "suggestion"}
    assert -1 <= body["heat"] <= 1
    assert (
        client.post("/api/v1/tone/check", {"text": "x"}, content_type="application/json").status_code == 401
    )
    bad = client.post(
        "/api/v1/tone/check",
        {"text": "x", "kind": "tweet"},
        content_type="application/json",
        headers=_headers(engineer, "incidents:read"),
    )
    assert bad.status_code == 422
