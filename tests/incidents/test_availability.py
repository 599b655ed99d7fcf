from datetime import UTC, datetime, timedelta

import pytest

from incidents.availability import recompute_component_days
from incidents.models import Component, ComponentStatusChange

S = Component.Status
pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _change(component, status, at, previous=""):
    ComponentStatusChange.objects.create(
        component=component, status=status, previous_status=previous, changed_at=at
    )


def test_a_day_with_an_outage_counts_major_in_full_and_partial_at_thirty_percent(make_component):
    api = make_component("API", created_at=NOW - timedelta(days=30))
    day = datetime(2026, 11, 20, tzinfo=UTC)
    _change(api, S.MAJOR_OUTAGE, day + timedelta(hours=10), S.OPERATIONAL)
    _change(api, S.PARTIAL_OUTAGE, day + timedelta(hours=11), S.MAJOR_OUTAGE)
    _change(api, S.OPERATIONAL, day + timedelta(hours=13), S.PARTIAL_OUTAGE)

    recompute_component_days(api, now=NOW)

    row = api.days.get(day=day.date())
    assert row.observed_seconds == 86400
    assert (row.major_seconds, row.partial_seconds) == (3600, 7200)
    assert row.worst_status == S.MAJOR_OUTAGE
    assert row.downtime_seconds == pytest.approx(3600 + 0.3 * 7200)
    assert row.uptime_ratio == pytest.approx(1 - 5760 / 86400)
    assert api.days.get(day=day.date() + timedelta(days=1)).worst_status == S.OPERATIONAL


def test_an_outage_across_midnight_is_split_between_both_days(make_component):
    api = make_component("API", created_at=NOW - timedelta(days=30))
    midnight = datetime(2026, 11, 21, tzinfo=UTC)
    _change(api, S.DEGRADED_PERFORMANCE, midnight - timedelta(minutes=30), S.OPERATIONAL)
    _change(api, S.OPERATIONAL, midnight + timedelta(minutes=45), S.DEGRADED_PERFORMANCE)

    recompute_component_days(api, now=NOW)

    assert api.days.get(day=midnight.date() - timedelta(days=1)).degraded_seconds == 1800
    assert api.days.get(day=midnight.date()).degraded_seconds == 2700


def test_days_before_a_component_existed_have_no_data_and_today_counts_until_now(make_component):
    born = NOW - timedelta(days=2, hours=6)  # 2026-11-21 06:00
    api = make_component("API", created_at=born)

    written = recompute_component_days(api, now=NOW)

    assert written == 3
    assert api.days.get(day=born.date()).observed_seconds == 18 * 3600
    assert api.days.get(day=NOW.date()).observed_seconds == 12 * 3600
    assert not api.days.filter(day__lt=born.date()).exists()


def test_an_ongoing_outage_started_before_the_window_counts_from_its_first_day(make_component):
    api = make_component("API", created_at=NOW - timedelta(days=200))
    _change(api, S.MAJOR_OUTAGE, NOW - timedelta(days=120), S.OPERATIONAL)

    recompute_component_days(api, days=90, now=NOW)

    assert api.days.count() == 90
    assert all(day.worst_status == S.MAJOR_OUTAGE for day in api.days.all())
