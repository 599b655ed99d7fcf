"""Upgrading to the post-call window: deliveries already attempted may have posted, and still look first."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from channels.models import Channel, Delivery
from incidents import services as incident_services

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("channels", "0005_delivery_lease_and_task_count")]
AFTER = [("channels", "0006_delivery_send_window")]


def test_attempted_deliveries_keep_looking_up_from_their_creation(make_incident, publisher):
    Channel.objects.create(kind="webhook", name="Partner", config={"url": "https://p.example/h"})
    Channel.objects.create(kind="webhook", name="Other", config={"url": "https://o.example/h"})
    update = incident_services.update_publish(
        incident=make_incident(public=False),
        author=publisher,
        status="identified",
        body="Before the upgrade.",
    )
    tried, untried = update.deliveries.order_by("pk")
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("channels", "Delivery")
    old.objects.filter(pk=tried.pk).update(attempts=2, state="failed")  # failed twice, maybe after posting
    old.objects.filter(pk=untried.pk).update(attempts=0, state="pending")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("channels", "Delivery")
    tried, untried = new.objects.get(pk=tried.pk), new.objects.get(pk=untried.pk)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # the schema the other tests expect

    assert tried.first_send_at == tried.created_at and tried.last_send_at is None
    assert untried.first_send_at is None
    assert Delivery.objects.get(pk=tried.pk).kind == "update"  # later migrations keep them updates
