"""Queries on the write paths stay fixed: a publish costs the same however many channels it fans out to, and a
delivery attempt costs the same for every update. Counted exactly, so a new query per row shows up here."""

import httpx
import pytest
import respx

from channels import engine, services
from channels.models import Channel
from tests.helpers import publish

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/in"


def _channels(count: int) -> None:
    for n in range(count):
        channel = Channel.objects.create(kind="webhook", name=f"Partner {n}", config={"url": URL})
        services.channel_set_credentials(channel=channel, credentials={"secret": "whsec_" + "QUJD" * 8})


def _queries_to_publish(make_incident, publisher, channels: int, capture) -> int:
    _channels(channels)
    incident = make_incident(public=False)
    publish(incident, publisher, "Warm-up: the signing key and profile exist.")
    with capture() as context:
        publish(incident, publisher, "Found it.")
    return len(context.captured_queries)


def test_a_publish_costs_the_same_queries_for_one_channel_or_twelve(
    make_incident, publisher, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def capture():
        return CaptureQueriesContext(connection)

    one = _queries_to_publish(make_incident, publisher, 1, capture)
    Channel.objects.all().delete()
    twelve = _queries_to_publish(make_incident, publisher, 12, capture)
    assert one == twelve  # the deliveries are one bulk insert
    # And the number itself, so that a new query on this path is a decision, not an accident.
    incident = make_incident(public=False)
    publish(incident, publisher, "Warm-up.")
    with django_assert_num_queries(one):
        publish(incident, publisher, "Again.")


@respx.mock
def test_a_delivery_attempt_costs_a_fixed_number_of_queries(
    make_incident, publisher, django_assert_num_queries
):
    respx.post(URL).mock(return_value=httpx.Response(204))
    _channels(1)
    incident = make_incident(public=False)
    first = publish(incident, publisher, "First.").deliveries.get()
    assert engine.delivery_attempt(first.pk).state == "delivered"  # type: ignore[union-attr]
    second = publish(incident, publisher, "Second.").deliveries.get()

    # The claim in its savepoint (lock the row with its update, count the task, is an earlier one open, mark it
    # sending), the incident's thread, the mark of the post call, the thread's last post, the finish, and the
    # delivery waiting on this one: 11, whatever the history.
    with django_assert_num_queries(11):
        assert engine.delivery_attempt(second.pk).state == "delivered"  # type: ignore[union-attr]
