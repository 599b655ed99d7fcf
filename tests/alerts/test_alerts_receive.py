"""Alert webhooks posted to /hooks/alerts/<slug>/ as Alertmanager, Grafana and a signed sender do: a firing
alert opens a draft internal incident, which stays off every public page until a human publishes."""

import json
from datetime import timedelta

import pytest

from alerts.models import Alert
from alerts.services import ALERTS_USERNAME
from incidents import services as incident_services
from incidents.models import (
    AffectedComponent,
    ComponentStatusChange,
    Incident,
    IncidentUpdate,
    UpdateDraft,
)
from tests.alerts.test_alerts_helpers import (
    am_alert,
    am_payload,
    basic,
    bearer,
    generic_payload,
    grafana_payload,
    minutes_ago,
    post,
    progress_notes,
    signed_headers,
)

pytestmark = pytest.mark.django_db


# --- Alertmanager -------------------------------------------------------------------------------------------


def test_a_firing_alert_opens_a_draft_internal_incident(client, alertmanager, payments):
    source, token = alertmanager
    started = minutes_ago(12)

    response = post(client, source, am_payload(am_alert(started=started)), bearer(token))

    assert response.status_code == 200, response.content
    body = response.json()
    incident = Incident.objects.get()
    assert body["opened"] is True and body["alerts"] == {"new": 1, "repeated": 0, "resolved": 0, "ignored": 0}
    assert body["incident"] == {
        "id": incident.pk,
        "public": False,
        "compose_url": f"http://localhost:8000/manage/incidents/{incident.pk}/compose/",
    }
    assert incident.title == "PaymentsErrorRate: Payment API 5xx above 5% for 5 minutes"
    assert incident.severity == "sev1" and incident.impact == "critical"
    assert incident.status == "investigating"
    # The time-to-acknowledge clock starts when the alert started, not when it reached us.
    assert incident.detected_at == started.replace(microsecond=250000)
    assert incident.acknowledged_at is None and not incident.is_public
    assert not IncidentUpdate.objects.exists()

    (note,) = progress_notes(incident)
    assert not note.is_public and note.author.username == ALERTS_USERNAME and not note.author.is_active
    assert "Alert firing: PaymentsErrorRate" in note.text
    assert "Payment API 5xx above 5% for 5 minutes" in note.text
    assert "5xx ratio is 7.3% on pay-1" in note.text
    assert (
        "<code>service=payments</code>" in note.text_html
        and "<code>severity=critical</code>" in note.text_html
    )
    assert (
        'href="http://prometheus.example.com:9090/graph?g0.expr=job%3Apay_5xx%3Aratio5m+%3E+0.05&amp;g0.tab=1"'
        in (note.text_html)
    )
    assert 'href="https://runbooks.example.com/payments/error-rate"' in note.text_html


def test_the_components_status_is_only_suggested_in_the_draft_until_a_human_publishes(
    client, alertmanager, payments, publisher
):
    source, token = alertmanager

    post(client, source, am_payload(am_alert(severity="critical")), bearer(token))

    incident = Incident.objects.get()
    payments.refresh_from_db()
    assert payments.status == "operational"
    assert not ComponentStatusChange.objects.exists()
    assert not AffectedComponent.objects.exists()
    draft = UpdateDraft.objects.get(incident=incident)
    assert draft.component_statuses == {str(payments.pk): "major_outage"} and draft.body == ""
    alert = Alert.objects.get()
    assert alert.component == payments and alert.suggested_status == "major_outage"

    # The compose screen opens on the alert's draft, the suggestion pre-selected.
    client.force_login(publisher)
    editor = client.get(f"/manage/incidents/{incident.pk}/compose/", follow=True).content.decode()
    field = editor.split(f'name="component_{payments.pk}"')[1].split("</select>")[0]
    assert '<option value="major_outage" selected>' in field

    # The publisher confirms the suggestion by publishing the draft: only now does the page change.
    incident_services.update_publish(
        incident=incident,
        author=publisher,
        status=draft.status,
        body="We are looking into failed payments.",
        component_statuses={payments: draft.component_statuses[str(payments.pk)]},
    )
    payments.refresh_from_db()
    assert payments.status == "major_outage"


def test_the_draft_is_on_no_public_page_or_json(client, alertmanager, payments):
    source, token = alertmanager
    post(client, source, am_payload(), bearer(token))
    incident = Incident.objects.get()

    page = client.get("/").content.decode()
    assert "PaymentsErrorRate" not in page and "Payment API 5xx" not in page
    assert "All Systems Operational" in page
    assert client.get(f"/incidents/{incident.pk}/").status_code == 404
    assert client.get(f"/incidents/{incident.pk}.json").status_code == 404
    summary = client.get("/api/v2/summary.json").json()
    assert summary["incidents"] == [] and summary["status"]["indicator"] == "none"
    assert {c["status"] for c in summary["components"]} == {"operational"}
    assert client.get("/api/v2/incidents.json").json()["incidents"] == []
    assert client.get("/api/v2/incidents/unresolved.json").json()["incidents"] == []


def test_time_to_acknowledge_runs_from_the_alert_to_the_first_published_update(
    client, alertmanager, payments, publisher
):
    source, token = alertmanager
    post(client, source, am_payload(am_alert(started=minutes_ago(9))), bearer(token))
    incident = Incident.objects.get()

    incident_services.update_publish(
        incident=incident, author=publisher, status="investigating", body="We are investigating."
    )

    incident.refresh_from_db()
    tta = incident.time_to_acknowledge
    assert incident.is_public and tta is not None
    assert timedelta(minutes=8.9) < tta < timedelta(minutes=9.2)


def test_an_alert_naming_no_known_component_says_so_in_the_note(client, alertmanager, payments):
    source, token = alertmanager

    post(client, source, am_payload(am_alert(service="ledger")), bearer(token))

    incident = Incident.objects.get()
    assert "No component is named service=ledger" in progress_notes(incident)[0].text
    assert UpdateDraft.objects.filter(incident=incident).count() == 0


def test_basic_auth_with_the_token_as_password_works(client, alertmanager, payments):
    source, token = alertmanager

    response = post(client, source, am_payload(), basic(token, user="alertmanager"))

    assert response.status_code == 200


# --- Grafana ------------------------------------------------------------------------------------------------


def test_a_grafana_alert_opens_a_draft_incident(client, grafana, make_component):
    source, token = grafana
    api = make_component("Public API")
    started = minutes_ago(4)

    response = post(client, source, grafana_payload(started=started), basic(token))

    assert response.status_code == 200, response.content
    incident = Incident.objects.get()
    assert incident.title == "High latency: API p99 latency above 1 s"
    assert incident.severity == "sev3" and incident.detected_at == started
    assert UpdateDraft.objects.get(incident=incident).component_statuses == {str(api.pk): "partial_outage"}
    note = progress_notes(incident)[0]
    assert 'href="https://grafana.example.com/d/api-latency?orgId=1"' in note.text_html  # the dashboard
    assert 'href="https://grafana.example.com/d/api-latency?orgId=1&amp;viewPanel=2"' in note.text_html

    resolved = post(
        client, source, grafana_payload(status="resolved", started=started), bearer(token), method="put"
    )
    assert resolved.json()["alerts"]["resolved"] == 1


# --- generic signed JSON ------------------------------------------------------------------------------------


def test_a_signed_generic_alert_opens_a_draft_incident(client, generic, payments):
    source, secret = generic
    body = json.dumps(generic_payload())

    response = post(client, source, body, signed_headers(secret, body))

    assert response.status_code == 200, response.content
    incident = Incident.objects.get()
    assert incident.title == "Checkout error rate above 5%: Checkout returns 502 for 6% of requests"
    assert incident.severity == "sev2"
    assert UpdateDraft.objects.get(incident=incident).component_statuses == {
        str(payments.pk): "partial_outage"
    }

    resolved = json.dumps(generic_payload(status="resolved"))
    again = post(client, source, resolved, signed_headers(secret, resolved, msg_id="msg_2"))
    assert again.json()["alerts"]["resolved"] == 1
