"""Alert webhooks refused: bad or stale signatures, missing tokens, malformed or oversized bodies, disabled
sources, floods; what was refused is kept for inspection."""

import json
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from alerts.models import AlertReceipt
from incidents.models import (
    Incident,
    ProgressNote,
)
from tests.alerts.test_alerts_helpers import (
    am_alert,
    am_payload,
    bearer,
    generic_payload,
    post,
    signed_headers,
)

pytestmark = pytest.mark.django_db


# --- generic signed JSON: signatures -----------------------------------------------------------------------


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
        # Well past the 300 s tolerance: a slow machine can take a second or more between signing and checking.
        "stale": lambda: signed_headers(secret, body, at=now - 330),
        "future": lambda: signed_headers(secret, body, at=now + 330),
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


def test_a_body_with_nul_characters_is_refused_and_still_kept(client, alertmanager):
    from alerts.models import AlertReceipt

    source, token = alertmanager
    body = json.dumps(am_payload(am_alert())).replace('"firing"', '"fir\\u0000ing"', 1)
    response = post(client, source, body, bearer(token))
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    assert AlertReceipt.objects.get().outcome == AlertReceipt.Outcome.REJECTED
