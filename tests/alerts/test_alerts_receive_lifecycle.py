"""Alert webhooks after the first: repeats, resolutions, groups, alerts firing again and concurrent peers, all on
the one open incident, which only a person closes."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from alerts.models import Alert, AlertReceipt
from incidents import services as incident_services
from incidents.models import (
    Incident,
    ProgressNote,
    UpdateDraft,
)
from tests.alerts.test_alerts_helpers import (
    am_alert,
    am_payload,
    bearer,
    generic_payload,
    minutes_ago,
    post,
    progress_notes,
    signed_headers,
)

pytestmark = pytest.mark.django_db


# --- Alertmanager -------------------------------------------------------------------------------------------


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
    note = progress_notes(incident)[-1]
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
    assert len(progress_notes(incident)) == 2


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
    (note,) = progress_notes(incident)
    assert note.text.count("Alert firing:") == 2

    post(client, source, am_payload({**pay, "status": "resolved"}, gateway), bearer(token))
    first = progress_notes(incident)[-1].text
    assert "Alert resolved: PaymentsErrorRate" in first and "resolved.**" not in first

    post(
        client,
        source,
        am_payload({**pay, "status": "resolved"}, {**gateway, "status": "resolved"}),
        bearer(token),
    )
    last = progress_notes(incident)[-1].text
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
    assert "Alert firing: InvoiceQueueStuck" in progress_notes(incident)[-1].text


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
    assert "Alert firing again: PaymentsErrorRate" in progress_notes(incident)[-1].text
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


# --- generic signed JSON ------------------------------------------------------------------------------------


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
    assert (
        "Alert firing again: Checkout error rate above 5%" in progress_notes(Incident.objects.get())[-1].text
    )


# --- at once, and again ------------------------------------------------------------------------------------


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
