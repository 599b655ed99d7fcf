"""The API takes exactly what its schema says: booleans are true or false, and a component may be named twice over."""

import pytest

from incidents.models import Incident, ProgressNote
from people import tokens

pytestmark = pytest.mark.django_db


def _headers(user, *scopes: str) -> dict[str, str]:
    _row, token = tokens.token_create(owner=user, name="script", scopes=list(scopes))
    return {"Authorization": f"Bearer {token}"}


def _post(client, url, data, headers):
    return client.post(url, data, content_type="application/json", headers=headers)


@pytest.mark.parametrize("public", [True, False])
def test_a_note_s_public_flag_is_a_json_boolean(client, engineer, make_incident, public):
    incident = make_incident()

    response = _post(
        client,
        f"/api/v1/incidents/{incident.pk}/notes",
        {"text": "Rolled back.", "public": public},
        _headers(engineer, "notes:write"),
    )

    assert response.status_code == 201
    assert ProgressNote.objects.get().is_public is public


@pytest.mark.parametrize("public", [0, 1, "true", "false", "yes", "0", 0.0, None])
def test_anything_else_for_public_is_refused_rather_than_guessed(client, engineer, make_incident, public):
    incident = make_incident()

    response = _post(
        client,
        f"/api/v1/incidents/{incident.pk}/notes",
        {"text": "Rolled back.", "public": public},
        _headers(engineer, "notes:write"),
    )

    assert response.status_code == 422, response.content
    assert response.json()["code"] == "validation_error"
    assert "public: Input should be a valid boolean" in response.json()["detail"]
    assert not ProgressNote.objects.exists()


def test_a_component_given_by_both_id_and_name_that_agree_is_accepted(client, communicator, make_component):
    payments = make_component("Payments")

    response = _post(
        client,
        "/api/v1/incidents",
        {"title": "Down", "severity": "sev2", "components": [{"id": payments.pk, "name": " payments "}]},
        _headers(communicator, "incidents:write"),
    )

    assert response.status_code == 201, response.content
    assert [c["id"] for c in response.json()["components"]] == [payments.pk]


def test_an_id_and_a_name_that_disagree_get_a_clear_422_and_create_nothing(
    client, communicator, make_component
):
    payments = make_component("Payments")
    make_component("Search")

    response = _post(
        client,
        "/api/v1/incidents",
        {"title": "Down", "severity": "sev2", "components": [{"id": payments.pk, "name": "Search"}]},
        _headers(communicator, "incidents:write"),
    )

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert f"component {payments.pk} is named 'Payments', not 'Search'" in body["detail"]
    assert body["errors"][0]["loc"] == ["body", "components", 0]
    assert not Incident.objects.exists()
