"""From labels to severity, component and suggested status; and reading each sender's payload."""

import json

import pytest

from alerts import mapping, payloads
from tests.alerts.test_alerts_helpers import am_alert, am_payload, generic_payload, grafana_payload


def _severity(value: str, **overrides: str) -> str:
    return mapping.severity_for({"severity": value}, label="severity", overrides=overrides, default="sev3")


@pytest.mark.parametrize(
    ("label", "severity"),
    [("critical", "sev1"), ("Critical", "sev1"), ("page", "sev1"), ("error", "sev2"), ("high", "sev2"),
     ("warning", "sev3"), ("info", "sev4"), ("P4", "sev4"), ("", "sev3"), ("whatever", "sev3")],
)  # fmt: skip
def test_usual_severity_words_map_to_sev1_to_sev4_and_others_to_the_default(label, severity):
    assert _severity(label) == severity


def test_a_sources_own_severity_words_win_and_bad_ones_fall_back_to_the_default():
    assert _severity("urgent", urgent="sev1") == "sev1"
    assert _severity("critical", critical="sev2") == "sev2"
    assert _severity("urgent", urgent="sev9") == "sev3"


def test_suggested_component_status_follows_severity():
    assert mapping.SUGGESTED_STATUS == {
        "sev1": "major_outage",
        "sev2": "partial_outage",
        "sev3": "partial_outage",
        "sev4": "degraded_performance",
    }


def test_components_are_found_by_label_by_map_or_not_at_all(make_component):
    payments, api = make_component("Payments"), make_component("Public API")
    components = {c.name.lower(): c for c in (payments, api)}

    def find(labels, mapping_=None):
        return mapping.component_for(
            labels, label_names=["component", "service"], mapping=mapping_ or {}, components=components
        )

    assert find({"service": "payments"}) == (payments, "")
    assert find({"component": "public api", "service": "payments"}) == (api, "")
    assert find({"service": "pay-svc"}, {"PAY-SVC": "Payments"}) == (payments, "")
    assert find({"component": "ledger", "service": "ledger-api"}) == (
        None,
        "component=ledger, service=ledger-api",
    )
    assert find({"job": "node"}) == (None, "")


def test_alertmanager_v4_is_read_with_go_times_and_zero_ends():
    batch = payloads.parse("alertmanager", json.dumps(am_payload(am_alert(fingerprint="f00d"))).encode())

    (alert,) = batch.alerts
    assert batch.group_key == '{}/{severity="critical"}:{alertname="PaymentsErrorRate"}'
    assert alert.fingerprint == "f00d" and alert.status == "firing" and alert.name == "PaymentsErrorRate"
    assert alert.starts_at is not None and alert.starts_at.tzinfo is not None and alert.ends_at is None
    assert alert.links == {"Runbook": "https://runbooks.example.com/payments/error-rate"}


def test_an_alert_without_a_fingerprint_gets_one_from_its_labels():
    first = {**am_alert(), "fingerprint": ""}
    same_labels = {**am_alert(summary="other words"), "fingerprint": ""}
    batch = payloads.parse("alertmanager", json.dumps(am_payload(first, same_labels)).encode())

    assert batch.alerts[0].fingerprint == batch.alerts[1].fingerprint != ""


def test_grafana_is_read_with_its_links():
    (alert,) = payloads.parse("grafana", json.dumps(grafana_payload()).encode()).alerts

    assert alert.name == "High latency" and alert.labels["component"] == "Public API"
    assert set(alert.links) == {"Dashboard", "Panel", "Silence"}


def test_grafana_payloads_are_not_taken_for_alertmanager_ones():
    with pytest.raises(payloads.PayloadError, match="only Alertmanager's webhook version 4"):
        payloads.parse("alertmanager", json.dumps(grafana_payload()).encode())


def test_the_generic_format_puts_severity_and_component_among_the_labels():
    (alert,) = payloads.parse("generic", json.dumps(generic_payload()).encode()).alerts

    assert alert.fingerprint == "checkout-5xx" and alert.name == "Checkout error rate above 5%"
    assert alert.labels == {
        "severity": "sev2",
        "component": "Payments",
        "alertname": "Checkout error rate above 5%",
    }
    assert alert.annotations == {"summary": "Checkout returns 502 for 6% of requests"}
    assert alert.generator_url == "https://monitor.example.com/checks/42"


@pytest.mark.parametrize(
    ("alert", "message"),
    [
        ({"status": "firing", "title": "x"}, "alerts[0].id is missing"),
        ({"id": "a", "status": "firing"}, "alerts[0].title is missing"),
        (
            {"id": "a", "title": "x", "started_at": "2026-05-01T10:00:00"},
            "alerts[0].started_at has no time zone",
        ),
        ({"id": "a", "title": "x", "labels": ["x"]}, "alerts[0].labels must be an object of strings"),
        ({"id": "a" * 129, "title": "x"}, "alerts[0].id is longer than 128 characters"),
    ],
)
def test_a_generic_alert_missing_what_it_needs_is_refused_saying_what(alert, message):
    with pytest.raises(payloads.PayloadError, match=message.replace("[", r"\[").replace("]", r"\]")):
        payloads.parse("generic", json.dumps({"alerts": [alert]}).encode())
