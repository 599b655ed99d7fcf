"""The acknowledgement clock: amber at half the severity's target, red past it, met or missed once acknowledged."""

from datetime import UTC, datetime, timedelta

import pytest

from incidents.models import Incident
from warroom.clock import clock, policy_for, proposed_next_update
from warroom.models import SeverityPolicy

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _incident(severity="sev1", **fields):
    return Incident(title="Checkout failing", severity=severity, detected_at=T0, **fields)


@pytest.mark.parametrize(
    ("severity", "after", "state"),
    [
        ("sev1", timedelta(seconds=0), "ok"),
        ("sev1", timedelta(minutes=2, seconds=29), "ok"),
        ("sev1", timedelta(minutes=2, seconds=30), "amber"),
        ("sev1", timedelta(minutes=5), "amber"),
        ("sev1", timedelta(minutes=5, seconds=1), "red"),
        ("sev2", timedelta(minutes=4, seconds=59), "ok"),
        ("sev2", timedelta(minutes=5), "amber"),
        ("sev2", timedelta(minutes=10, seconds=1), "red"),
        ("sev3", timedelta(minutes=15), "amber"),
        ("sev3", timedelta(minutes=31), "red"),
        ("sev4", timedelta(minutes=59), "ok"),
        ("sev4", timedelta(hours=1), "amber"),
        ("sev4", timedelta(hours=2, minutes=1), "red"),
    ],
)
def test_a_running_clock_turns_amber_at_half_the_target_and_red_past_it(severity, after, state):
    c = clock(_incident(severity), policy_for(severity), T0 + after)

    assert c.running and c.state == state
    assert c.elapsed == after


def test_the_default_targets_are_five_ten_thirty_minutes_and_two_hours():
    targets = {s: policy_for(s).tta_target_minutes for s in ["sev1", "sev2", "sev3", "sev4"]}

    assert targets == {"sev1": 5, "sev2": 10, "sev3": 30, "sev4": 120}


def test_a_target_set_in_the_admin_counts():
    SeverityPolicy.objects.filter(severity="sev1").update(tta_target_minutes=2)

    assert clock(_incident(), policy_for("sev1"), T0 + timedelta(minutes=1, seconds=30)).state == "amber"
    assert clock(_incident(), policy_for("sev1"), T0 + timedelta(minutes=2, seconds=1)).state == "red"


@pytest.mark.parametrize(
    ("acknowledged_after", "state"),
    [
        (timedelta(minutes=4, seconds=10), "met"),
        (timedelta(minutes=5), "met"),
        (timedelta(minutes=7), "missed"),
    ],
)
def test_the_clock_stops_at_the_first_public_update(acknowledged_after, state):
    incident = _incident(acknowledged_at=T0 + acknowledged_after)

    c = clock(incident, policy_for("sev1"), T0 + timedelta(hours=3))

    assert not c.running and c.state == state
    assert c.elapsed == acknowledged_after  # frozen at the acknowledgement, however late it is now


def test_without_an_alert_the_clock_runs_from_when_the_incident_was_opened():
    incident = Incident(title="Reported by a customer", severity="sev2", detected_at=None, created_at=T0)

    assert clock(incident, policy_for("sev2"), T0 + timedelta(minutes=6)).state == "amber"


def test_the_next_promise_is_proposed_from_the_cadence_on_a_readable_minute():
    assert proposed_next_update(policy_for("sev1"), T0 + timedelta(minutes=1, seconds=20)) == T0 + timedelta(
        minutes=35
    )
    assert proposed_next_update(policy_for("sev2"), T0) == T0 + timedelta(hours=1)
