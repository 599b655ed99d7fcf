"""Promises of the next update: kept by the next update in time, missed by how long, and read by the API."""

from datetime import timedelta

import pytest

from incidents import services
from warroom.models import Promise, TimelineEntry
from warroom.selectors import as_api, comms

pytestmark = pytest.mark.django_db


def _publish(incident, author, at, next_update_at=None, status="investigating", **kw):
    return services.update_publish(
        incident=incident,
        author=author,
        status=status,
        body="Still on it.",
        at=at,
        next_update_at=next_update_at,
        **kw,
    )


def test_an_update_on_time_keeps_the_promise_and_says_so(war, publisher):
    incident, t0 = war["incident"], war["detected"]
    first = _publish(incident, publisher, t0 + timedelta(minutes=4), t0 + timedelta(minutes=34))
    second = _publish(incident, publisher, t0 + timedelta(minutes=30), status="identified")

    promise = Promise.objects.get()
    assert promise.made_by_update == first and promise.due_at == t0 + timedelta(minutes=34)
    assert promise.kept_by_update == second and promise.kept_at == second.published_at
    assert promise.state() == "kept" and promise.missed_by() is None
    texts = list(
        TimelineEntry.objects.filter(incident=incident).order_by("at", "id").values_list("text", flat=True)
    )
    assert texts[0].startswith(
        "Priya Raman published the first acknowledgement 4 min after detection, within"
    )
    assert f"promised the next update by {t0 + timedelta(minutes=34):%H:%M} UTC" in texts[1]
    assert texts[-1].endswith("promise kept.")


def test_a_late_update_misses_the_promise_by_how_long(war, publisher):
    incident, t0 = war["incident"], war["detected"]
    _publish(incident, publisher, t0 + timedelta(minutes=4), t0 + timedelta(minutes=34))
    late = _publish(incident, publisher, t0 + timedelta(minutes=41, seconds=30))

    promise = Promise.objects.get(made_by_update__published_at=t0 + timedelta(minutes=4))
    assert promise.state() == "missed"
    assert promise.missed_by() == timedelta(minutes=7, seconds=30)
    assert promise.kept_by_update == late
    assert TimelineEntry.objects.filter(text__endswith="promise missed by 7 min 30 s.").exists()


def test_an_owed_promise_past_its_time_is_overdue_by_the_time_so_far(war, publisher):
    incident, t0 = war["incident"], war["detected"]
    _publish(incident, publisher, t0 + timedelta(minutes=1), t0 + timedelta(minutes=2))

    promise = Promise.objects.get()
    assert promise.state(t0 + timedelta(minutes=1, seconds=59)) == "open"
    assert promise.state(t0 + timedelta(minutes=5)) == "overdue"
    assert promise.missed_by(t0 + timedelta(minutes=5)) == timedelta(minutes=3)


def test_a_correction_neither_keeps_nor_makes_a_promise(war, publisher):
    incident, t0 = war["incident"], war["detected"]
    first = _publish(incident, publisher, t0 + timedelta(minutes=1), t0 + timedelta(minutes=30))
    _publish(incident, publisher, t0 + timedelta(minutes=3), t0 + timedelta(minutes=10), corrects=first)

    (promise,) = Promise.objects.all()
    assert promise.is_open and promise.due_at == t0 + timedelta(minutes=30)


def test_resolving_keeps_the_promise_and_promises_nothing_more(war, publisher):
    incident, t0 = war["incident"], war["detected"]
    _publish(incident, publisher, t0 + timedelta(minutes=1), t0 + timedelta(minutes=30))
    _publish(incident, publisher, t0 + timedelta(minutes=20), t0 + timedelta(minutes=50), status="resolved")

    assert [p.state() for p in Promise.objects.all()] == ["kept"]
    assert comms(incident).next_update_due_at is None


def test_the_comms_document_has_the_clock_roster_and_promises(war, publisher):
    incident, t0 = war["incident"], war["detected"]
    first = _publish(incident, publisher, t0 + timedelta(minutes=6), t0 + timedelta(minutes=20))
    second = _publish(incident, publisher, t0 + timedelta(minutes=23), t0 + timedelta(minutes=53))
    incident.refresh_from_db()

    doc = as_api(comms(incident, now=t0 + timedelta(minutes=30)))

    assert doc["detected_at"] == t0 and doc["acknowledged_at"] == first.published_at
    assert (doc["tta_seconds"], doc["tta_target_seconds"], doc["tta_state"]) == (360, 300, "missed")
    assert doc["next_update_due_at"] == t0 + timedelta(minutes=53)
    assert doc["promises"] == [
        {"promised_at": second.published_at, "due_at": t0 + timedelta(minutes=53), "kept_at": None,
         "kept_by_update": None, "missed_by_seconds": None, "state": "open"},
        {"promised_at": first.published_at, "due_at": t0 + timedelta(minutes=20), "kept_at": second.published_at,
         "kept_by_update": second.public_id, "missed_by_seconds": 180, "state": "missed"},
    ]  # fmt: skip
    roster = {seat["role"]: [p["username"] for p in seat["people"]] for seat in doc["roster"]}
    assert roster == {
        "commander": ["priya"], "primary_communicator": ["sam"], "secondary_communicator": ["lee"],
        "tech_liaison": ["marco"], "executive_spokesperson": [],
    }  # fmt: skip
    assert [seat["vacant"] for seat in doc["roster"]] == [False, False, False, False, True]


def test_an_incident_closed_past_its_promise_without_an_update_counts_it_missed(war, publisher):
    incident, t0 = war["incident"], war["detected"]
    _publish(incident, publisher, t0 + timedelta(minutes=1), t0 + timedelta(minutes=10))
    promise = Promise.objects.get()
    Promise.objects.filter(pk=promise.pk).update(closed_at=t0 + timedelta(minutes=25))
    promise.refresh_from_db()

    assert promise.state() == "missed" and promise.missed_by() == timedelta(minutes=15)
