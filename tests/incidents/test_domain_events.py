"""The incident domain tells the apps above it what happened through signals, and never imports them."""

from typing import Any

import pytest
from django.db import transaction

from channels import receivers
from channels.models import Channel, Delivery
from incidents import services
from incidents.models import ChainHead, Incident, IncidentUpdate
from incidents.signals import (
    incident_acknowledged,
    incident_resolved,
    incident_status_changed,
    update_publishing,
)
from people import audit, roles
from people.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard() -> Any:
    """Every on-commit event the domain sends, as (signal name, kwargs), while the test runs."""
    events: list[tuple[str, dict[str, Any]]] = []
    connected = []
    for name, signal in (
        ("acknowledged", incident_acknowledged),
        ("status_changed", incident_status_changed),
        ("resolved", incident_resolved),
    ):

        def record(sender: Any, _name: str = name, **kwargs: Any) -> None:
            kwargs.pop("signal", None)
            events.append((_name, kwargs))

        signal.connect(record, weak=False)
        connected.append((signal, record))
    yield events
    for signal, record in connected:
        signal.disconnect(record)


def test_the_channels_write_deliveries_through_the_publishing_signal(make_incident, publisher):
    # Connected in ChannelsConfig.ready(): the domain itself imports no channel code.
    live = update_publishing._live_receivers(IncidentUpdate)
    assert receivers.write_deliveries in (live[0] if isinstance(live, tuple) else live)
    channel = Channel.objects.create(
        kind="webhook", name="Partner", config={"url": "https://hooks.example.com/in"}
    )

    update = services.update_publish(
        incident=make_incident(public=False), author=publisher, status="identified", body="Found it."
    )

    assert list(update.deliveries.values_list("channel", flat=True)) == [channel.pk]


def test_a_failing_publishing_receiver_rolls_the_whole_publish_back(make_incident, publisher):
    Channel.objects.create(kind="webhook", name="Partner", config={"url": "https://hooks.example.com/in"})
    incident = make_incident(public=False)
    head_before = ChainHead.objects.values_list("seq", flat=True).first()

    def broken(sender: Any, update: IncidentUpdate, **kwargs: Any) -> None:
        raise RuntimeError("a receiver broke")

    update_publishing.connect(broken, weak=False)
    try:
        with pytest.raises(RuntimeError, match="a receiver broke"):
            services.update_publish(
                incident=incident, author=publisher, status="identified", body="Found it."
            )
    finally:
        update_publishing.disconnect(broken)

    assert not IncidentUpdate.objects.exists()
    assert not Delivery.objects.exists()  # written by the channels' receiver before the failure, rolled back
    assert ChainHead.objects.values_list("seq", flat=True).first() == head_before
    assert not AuditEvent.objects.filter(action="publish").exists()
    incident.refresh_from_db()
    assert incident.acknowledged_at is None


def test_the_first_update_acknowledges_once_and_status_moves_are_told_after_the_commit(
    make_incident, publisher, heard, django_capture_on_commit_callbacks
):
    incident = make_incident(public=False)
    assert incident.status == "investigating"

    with django_capture_on_commit_callbacks(execute=False) as pending:
        first = services.update_publish(
            incident=incident, author=publisher, status="identified", body="Found it."
        )
    assert heard == []  # nothing before the commit
    for callback in pending:
        callback()

    assert ("acknowledged", {"incident": incident, "update": first}) in heard
    changed = [kwargs for name, kwargs in heard if name == "status_changed"]
    assert [(c["old"], c["new"], c["by"]) for c in changed] == [("investigating", "identified", publisher)]

    heard.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.update_publish(incident=incident, author=publisher, status="resolved", body="Fixed.")

    names = [name for name, _ in heard]
    assert "acknowledged" not in names  # only the first update acknowledges
    assert names.count("resolved") == 1
    assert [(k["old"], k["new"]) for n, k in heard if n == "status_changed"] == [("identified", "resolved")]


def test_a_rolled_back_status_change_tells_nobody(
    make_incident, publisher, heard, django_capture_on_commit_callbacks
):
    incident = make_incident(public=False)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.incident_set_status(incident=incident, status=Incident.Status.RESOLVED, by=publisher)
        raise RuntimeError("changed our mind")
    assert heard == []


def test_each_app_registers_its_own_audit_actions_and_role_permissions():
    # people/ lists none of the other apps' actions: the field has no choices to migrate when an app appears.
    assert AuditEvent._meta.get_field("action").choices is None
    labels = dict(audit.choices())
    assert labels["channel.connected"] == "Connected a channel"  # channels/audit.py
    assert labels["publish"] == "Published an update"  # incidents/audit.py
    assert labels["token_created"] == "Created an API token"  # api/audit.py
    assert labels["alert_source_secret"] == "Made a new alert source secret"  # alerts/audit.py
    granted = roles.role_permissions()
    assert "channels.view_channel" in granted[roles.COMMUNICATOR]  # channels/apps.py
    assert "channels.change_channel" in granted[roles.PUBLISHER] - granted[roles.COMMUNICATOR]
    assert "incidents.publish_update" in roles.second_factor_permissions()  # incidents/apps.py
    assert granted[roles.ENGINEER] <= granted[roles.COMMUNICATOR] <= granted[roles.PUBLISHER]
