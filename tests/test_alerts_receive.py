"""Alert webhooks end to end, posted to /hooks/alerts/<slug>/ as Alertmanager, Grafana and a signed sender do."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from alerts.models import Alert, AlertReceipt
from alerts.services import ALERTS_USERNAME
from incidents import services as incident_services
from incidents.models import (
    AffectedComponent,
    ComponentStatusChange,
    Incident,
    IncidentUpdate,
    ProgressNote,
    UpdateDraft,
)
from tests.test_alerts_helpers import (
    am_alert,
    am_payload,
    basic,
    bearer,
    generic_payload,
    grafana_payload,
    make_source,
    minutes_ago,
    post,
    signed_headers,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def alertmanager(db):
    return make_source("alertmanager")


@pytest.fixture
def grafana(db):
    return make_source("grafana")


@pytest.fixture
def generic(db):
    return make_source("generic")


@pytest.fixture
def payments(make_component):
    return make_component("Payments", group="Billing")


def _notes(incident):
    return list(ProgressNote.objects.filter(incident=incident).order_by("created_at", "id"))


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

    (note,) = _notes(incident)
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


def test_a_repeated_notification_is_recorded_once(client, alertmanager, payments):
    source, token = alertmanager
    payload = am_payload()

    first = post(client, source, payload, bearer(token))
    # Alertmanager repeats every repeat_interval, and both peers of an HA pair send each notification.
    second = post(client, source, payload, bearer(token))
    third = post(client, source, payload, bearer(token))

    assert first.json()["opened"] is True
    assert second.json()["opened"] is False and second.json()["alerts"]["repeated"] == 1
    assert second.json()["incident"]["id"] == first.json()["incident"]["id"] == third.json()["incident"]["id"]
    assert Incident.objects.count() == 1
    assert ProgressNote.objects.count() == 1
    alert = Alert.objects.get()
    assert alert.times_seen == 3 and alert.status == "firing"
    assert AlertReceipt.objects.filter(outcome="accepted").count() == 3


def test_a_resolved_alert_is_noted_and_the_incident_stays_open_for_a_human_to_close(
    client, alertmanager, payments
):
    source, token = alertmanager
    started = minutes_ago(40)
    post(client, source, am_payload(am_alert(started=started)), bearer(token))
    ended = minutes_ago(2)

    response = post(
        client, source, am_payload(am_alert(status="resolved", started=started, ended=ended)), bearer(token)
    )

    assert response.json()["alerts"]["resolved"] == 1 and response.json()["opened"] is False
    incident = Incident.objects.get()
    assert incident.status == "investigating" and incident.resolved_at is None
    note = _notes(incident)[-1]
    assert (
        f"**Alert resolved: PaymentsErrorRate** at {ended:%Y-%m-%d %H:%M:%S} UTC, after 38 min." in note.text
    )
    assert "The alert is resolved.** The incident stays open until a person closes it" in note.text
    alert = Alert.objects.get()
    assert alert.status == "resolved" and alert.ends_at == ended

    # The resolved notification repeats too: recorded once.
    again = post(
        client, source, am_payload(am_alert(status="resolved", started=started, ended=ended)), bearer(token)
    )
    assert again.json()["alerts"]["repeated"] == 1
    assert len(_notes(incident)) == 2


def test_a_group_of_alerts_opens_one_incident_and_says_when_all_are_resolved(
    client, alertmanager, payments, make_component
):
    source, token = alertmanager
    api = make_component("Public API")
    gateway_started = minutes_ago(20)
    pay = am_alert(fingerprint="aa01", severity="warning", started=minutes_ago(15))
    gateway = am_alert(
        "GatewayTimeouts",
        fingerprint="aa02",
        service="public api",
        severity="critical",
        started=gateway_started,
    )

    opened = post(client, source, am_payload(pay, gateway), bearer(token))

    assert opened.json()["alerts"]["new"] == 2
    incident = Incident.objects.get()
    assert incident.title == "PaymentsErrorRate: Payment API 5xx above 5% for 5 minutes (+1 more)"
    assert incident.severity == "sev1"  # the worst of the group
    assert incident.detected_at == gateway_started  # the earliest start
    draft = UpdateDraft.objects.get(incident=incident)
    assert draft.component_statuses == {str(payments.pk): "partial_outage", str(api.pk): "major_outage"}
    (note,) = _notes(incident)
    assert note.text.count("Alert firing:") == 2

    post(client, source, am_payload({**pay, "status": "resolved"}, gateway), bearer(token))
    first = _notes(incident)[-1].text
    assert "Alert resolved: PaymentsErrorRate" in first and "resolved.**" not in first

    post(
        client,
        source,
        am_payload({**pay, "status": "resolved"}, {**gateway, "status": "resolved"}),
        bearer(token),
    )
    last = _notes(incident)[-1].text
    assert "Alert resolved: GatewayTimeouts" in last and "Alert resolved: PaymentsErrorRate" not in last
    assert "**All 2 alerts on this incident are resolved.** The incident stays open" in last
    incident.refresh_from_db()
    assert incident.status == "investigating" and incident.resolved_at is None


def test_a_new_alert_in_the_same_group_joins_the_open_incident(
    client, alertmanager, payments, make_component
):
    source, token = alertmanager
    invoicing = make_component("Invoicing", group="Billing")
    post(client, source, am_payload(am_alert(fingerprint="bb01", severity="warning")), bearer(token))
    incident = Incident.objects.get()
    assert incident.severity == "sev3"

    response = post(
        client,
        source,
        am_payload(
            am_alert("InvoiceQueueStuck", fingerprint="bb02", service="invoicing", severity="critical")
        ),
        bearer(token),
    )

    assert response.json()["opened"] is False and response.json()["incident"]["id"] == incident.pk
    assert Incident.objects.count() == 1
    incident.refresh_from_db()
    assert (
        incident.severity == "sev1" and incident.impact == "critical"
    )  # still a draft: raised with its alerts
    draft = UpdateDraft.objects.get(incident=incident)
    assert draft.component_statuses == {str(payments.pk): "partial_outage", str(invoicing.pk): "major_outage"}
    assert "Alert firing: InvoiceQueueStuck" in _notes(incident)[-1].text


def test_what_a_person_chose_in_the_draft_is_kept_when_more_alerts_arrive(
    client, alertmanager, payments, communicator
):
    source, token = alertmanager
    post(client, source, am_payload(am_alert(fingerprint="cc01")), bearer(token))
    draft = UpdateDraft.objects.get()
    draft.component_statuses = {str(payments.pk): "degraded_performance"}
    draft.last_edited_by = communicator
    draft.save()

    post(client, source, am_payload(am_alert("PaymentsLatency", fingerprint="cc02")), bearer(token))

    draft.refresh_from_db()
    assert draft.component_statuses == {str(payments.pk): "degraded_performance"}
    assert draft.last_edited_by == communicator


def test_out_of_order_deliveries_change_nothing(client, alertmanager, payments):
    source, token = alertmanager
    started = minutes_ago(30)
    # A resolved alert we never saw firing: nothing to open.
    early = post(client, source, am_payload(am_alert(status="resolved", started=started)), bearer(token))
    assert early.json() | {"receipt": 0} == {
        "status": "accepted",
        "receipt": 0,
        "opened": False,
        "incident": None,
        "alerts": {"new": 0, "repeated": 0, "resolved": 0, "ignored": 1},
    }
    assert not Incident.objects.exists()

    post(client, source, am_payload(am_alert(started=started)), bearer(token))
    post(client, source, am_payload(am_alert(status="resolved", started=started)), bearer(token))
    # The firing notification of the same occurrence arrives late, after its resolution.
    late = post(client, source, am_payload(am_alert(started=started)), bearer(token))

    assert late.json()["alerts"]["ignored"] == 1
    assert Alert.objects.get().status == "resolved"
    assert ProgressNote.objects.count() == 2


def test_an_alert_firing_again_is_noted_on_the_same_open_incident(client, alertmanager, payments):
    source, token = alertmanager
    first_start = minutes_ago(50)
    post(client, source, am_payload(am_alert(started=first_start)), bearer(token))
    post(client, source, am_payload(am_alert(status="resolved", started=first_start)), bearer(token))

    response = post(client, source, am_payload(am_alert(started=minutes_ago(5))), bearer(token))

    assert response.json()["opened"] is False
    incident = Incident.objects.get()
    assert "Alert firing again: PaymentsErrorRate" in _notes(incident)[-1].text
    alert = Alert.objects.get()
    assert alert.status == "firing" and alert.ends_at is None
    assert incident.detected_at == first_start.replace(microsecond=250000)


def test_once_a_person_closes_the_incident_repeats_do_not_reopen_it_but_a_new_occurrence_does(
    client, alertmanager, payments, communicator
):
    source, token = alertmanager
    started = minutes_ago(30)
    post(client, source, am_payload(am_alert(started=started)), bearer(token))
    incident = Incident.objects.get()
    incident_services.incident_set_status(incident=incident, status="resolved", by=communicator)

    repeat = post(client, source, am_payload(am_alert(started=started)), bearer(token))
    assert repeat.json()["opened"] is False and repeat.json()["alerts"]["repeated"] == 1
    assert Incident.objects.count() == 1

    new = post(client, source, am_payload(am_alert(started=minutes_ago(1))), bearer(token))
    assert new.json()["opened"] is True
    assert Incident.objects.count() == 2
    assert Incident.objects.exclude(pk=incident.pk).get().status == "investigating"


def test_an_alert_naming_no_known_component_says_so_in_the_note(client, alertmanager, payments):
    source, token = alertmanager

    post(client, source, am_payload(am_alert(service="ledger")), bearer(token))

    incident = Incident.objects.get()
    assert "No component is named service=ledger" in _notes(incident)[0].text
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
    note = _notes(incident)[0]
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


def test_a_generic_alert_without_start_times_fires_again_after_a_resolve(client, generic, payments):
    source, secret = generic

    def send(status: str, msg_id: str) -> dict:
        payload = generic_payload(status=status)
        del payload["alerts"][0]["started_at"]
        body = json.dumps(payload)
        return post(client, source, body, signed_headers(secret, body, msg_id=msg_id)).json()["alerts"]

    assert send("firing", "m1")["new"] == 1
    assert send("firing", "m2")["repeated"] == 1  # a retry of the same report
    assert send("resolved", "m3")["resolved"] == 1
    send("firing", "m4")

    assert Alert.objects.get().status == "firing"
    assert "Alert firing again: Checkout error rate above 5%" in _notes(Incident.objects.get())[-1].text


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ("body", "invalid_signature"),
        ("secret", "invalid_signature"),
        ("stale", "stale_timestamp"),
        ("future", "stale_timestamp"),
        ("missing", "missing_signature"),
    ],
)
def test_a_generic_alert_with_a_bad_or_stale_signature_is_refused(client, generic, payments, tamper, code):
    source, secret = generic
    body = json.dumps(generic_payload())
    now = int(timezone.now().timestamp())
    headers = {
        "body": lambda: signed_headers(secret, body.replace("5%", "9%")),
        "secret": lambda: signed_headers("whsec_" + "c2VjcmV0LW9mLXNvbWVvbmUtZWxzZQ==", body),
        "stale": lambda: signed_headers(secret, body, at=now - 301),
        "future": lambda: signed_headers(secret, body, at=now + 301),
        "missing": lambda: {},
    }[tamper]()

    response = post(client, source, body, headers)

    assert response.status_code == 401
    assert response.json()["error"] == code
    assert not Incident.objects.exists() and not AlertReceipt.objects.exists()


def test_a_signature_within_five_minutes_is_accepted(client, generic, payments):
    source, secret = generic
    body = json.dumps(generic_payload())

    response = post(
        client, source, body, signed_headers(secret, body, at=int(timezone.now().timestamp()) - 290)
    )

    assert response.status_code == 200


# --- refusals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("shalert_wrong"), {"Authorization": "Token abc"}, {"Authorization": "Basic !!!"}],
    ids=["none", "wrong-token", "other-scheme", "bad-basic"],
)
def test_a_request_without_the_sources_token_gets_401_and_changes_nothing(client, alertmanager, headers):
    source, _token = alertmanager

    response = post(client, source, am_payload(), headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="StatusHub alerts"'
    assert response.json()["error"] in {"missing_authorization", "invalid_token", "invalid_authorization"}
    assert not Incident.objects.exists() and not AlertReceipt.objects.exists()


def test_another_sources_token_does_not_open_this_one(client, alertmanager, grafana):
    source, _token = alertmanager
    _other, other_token = grafana

    assert post(client, source, am_payload(), bearer(other_token)).status_code == 401


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("{not json", "The body is not valid JSON"),
        ("[]", "The body must be a JSON object."),
        (json.dumps({"version": "4"}), "alerts must be a list of alerts."),
        (json.dumps({"version": "4", "alerts": []}), "alerts is empty"),
        (
            json.dumps(am_payload(am_alert(status="pending"))),
            'alerts[0].status must be "firing" or "resolved"',
        ),
        (
            json.dumps(am_payload({**am_alert(), "startsAt": "yesterday"})),
            "alerts[0].startsAt is not an RFC 3339",
        ),
        (
            json.dumps(am_payload({**am_alert(), "labels": {"severity": 1}})),
            "alerts[0].labels.severity must be",
        ),
        (json.dumps({**am_payload(), "version": "3"}), "only Alertmanager's webhook version 4 is"),
        ("[" * 100_000, "The body is nested too deeply to be an alert."),
    ],
    ids=["not-json", "array", "no-alerts", "empty", "status", "time", "label", "version", "deep"],
)
def test_a_malformed_payload_gets_400_and_is_kept_for_inspection(client, alertmanager, body, detail):
    source, token = alertmanager

    response = post(client, source, body, bearer(token))

    assert response.status_code == 400
    data = response.json()
    assert data["error"] == "invalid_payload" and detail in data["detail"], data
    receipt = AlertReceipt.objects.get(pk=data["receipt"])
    assert receipt.outcome == "rejected" and receipt.body == body and receipt.error == data["detail"]
    assert not Incident.objects.exists()


def test_a_body_over_a_megabyte_gets_413(client, alertmanager):
    source, token = alertmanager
    payload = am_payload(am_alert(summary="x" * (1024 * 1024)))

    response = post(client, source, payload, bearer(token))

    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert not Incident.objects.exists()


def test_a_disabled_source_is_refused_but_what_it_sent_is_kept(client, alertmanager):
    source, token = alertmanager
    source.enabled = False
    source.save()

    response = post(client, source, am_payload(), bearer(token))

    assert response.status_code == 403 and response.json()["error"] == "source_disabled"
    assert AlertReceipt.objects.get().outcome == "disabled"
    assert not Incident.objects.exists()


def test_unknown_sources_and_other_methods(client, alertmanager):
    source, _token = alertmanager

    assert client.post("/hooks/alerts/nope/", "{}", content_type="application/json").status_code == 404
    response = client.get(f"/hooks/alerts/{source.slug}/")
    assert response.status_code == 405 and response["Allow"] == "POST, PUT"


def test_no_csrf_token_needed_no_cookies_set_nothing_cached(client, alertmanager, payments, engineer):
    source, token = alertmanager
    csrf_client = client.__class__(enforce_csrf_checks=True)
    csrf_client.force_login(engineer)

    response = post(csrf_client, source, am_payload(), bearer(token))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert not response.cookies
    assert response["Cache-Control"] == "no-store"


@override_settings(STATUSHUB_ALERTS_RATE="2/m")
def test_a_flood_of_requests_gets_429(client, alertmanager, payments):
    source, token = alertmanager

    codes = [post(client, source, am_payload(), bearer(token)).status_code for _ in range(3)]

    assert codes == [200, 200, 429]


def test_the_alert_note_escapes_what_the_rule_wrote(client, alertmanager, payments):
    source, token = alertmanager
    alert = am_alert("Boom<script>", summary="<img src=x onerror=alert(1)> **loud**")
    alert["generatorURL"] = "javascript:alert(1)"

    post(client, source, am_payload(alert), bearer(token))

    html = ProgressNote.objects.get().text_html
    assert "<script>" not in html and "<img" not in html and "javascript:" not in html
    assert "Boom&lt;script&gt;" in html
    assert Incident.objects.get().title.startswith("Boom<script>")  # stored as text, escaped where shown


def test_delivered_at_a_time_in_the_future_the_clock_starts_now(client, alertmanager, payments):
    source, token = alertmanager
    before = timezone.now()

    post(client, source, am_payload(am_alert(started=timezone.now() + timedelta(hours=1))), bearer(token))

    detected = Incident.objects.get().detected_at
    assert detected is not None and before <= detected <= timezone.now()


@pytest.mark.django_db(transaction=True)
def test_both_peers_of_an_alertmanager_pair_posting_at_once_open_one_incident(alertmanager, make_component):
    make_component("Payments")
    source, token = alertmanager
    body = json.dumps(am_payload())

    def peer(_: int) -> int:
        try:
            return post(Client(), source, body, bearer(token)).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(peer, range(4)))

    assert codes == [200, 200, 200, 200]
    assert Incident.objects.count() == 1 and Alert.objects.count() == 1 and ProgressNote.objects.count() == 1
    assert Alert.objects.get().times_seen == 4


def test_a_captured_signed_request_replayed_is_taken_once(client, generic, payments):
    from alerts.models import AlertReceipt

    source, secret = generic
    body = json.dumps(generic_payload())
    headers = signed_headers(secret, body, msg_id="msg_replayed")
    assert post(client, source, body, headers).json()["status"] == "accepted"
    replay = post(client, source, body, headers)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    assert AlertReceipt.objects.count() == 1 and ProgressNote.objects.count() == 1


def test_a_body_with_nul_characters_is_refused_and_still_kept(client, alertmanager):
    from alerts.models import AlertReceipt

    source, token = alertmanager
    body = json.dumps(am_payload(am_alert())).replace('"firing"', '"fir\\u0000ing"', 1)
    response = post(client, source, body, bearer(token))
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    assert AlertReceipt.objects.get().outcome == AlertReceipt.Outcome.REJECTED
