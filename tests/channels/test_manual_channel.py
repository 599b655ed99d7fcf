"""Communities with no posting API: a copy-ready text, then a named person marks it posted with the link."""

import pytest
from django.urls import reverse

from channels import engine
from channels.models import Channel, Delivery
from incidents import services as incident_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def uservoice(db):
    return Channel.objects.create(
        kind="manual", name="UserVoice forum",
        config={"community": "UserVoice", "post_url": "https://feedback.northwind.example/forums/1"},
    )  # fmt: skip


def _awaiting(make_incident, publisher):
    update = incident_services.update_publish(
        incident=make_incident(public=False), author=publisher, status="identified", body="We found it."
    )
    delivery = Delivery.objects.get(update=update)
    engine.delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    return delivery


def test_the_worker_prepares_a_copy_ready_text_and_waits_for_a_person(make_incident, publisher, uservoice):
    delivery = _awaiting(make_incident, publisher)
    assert delivery.state == "awaiting"
    assert "We found it." in delivery.request["text"]
    assert delivery.request["text"].endswith(f"/updates/{delivery.update.public_id}/")
    assert engine.deliveries_sweep() == 0  # waiting for a human is not "stuck"


def test_a_communicator_marks_it_posted_with_the_link(
    client, make_incident, publisher, communicator, uservoice
):
    delivery = _awaiting(make_incident, publisher)
    client.force_login(communicator)
    page = client.get(reverse("manage:deliveries", args=[delivery.update.public_id])).content.decode()
    assert "Post this on UserVoice" in page and "We found it." in page

    bad = client.post(
        reverse("manage:delivery-action", args=[delivery.pk]), {"action": "posted", "url": "not a link"}
    )
    assert "Give the link to the post" in bad.content.decode()
    assert Delivery.objects.get(pk=delivery.pk).state == "awaiting"

    link = "https://feedback.northwind.example/forums/1/posts/88"
    client.post(reverse("manage:delivery-action", args=[delivery.pk]), {"action": "posted", "url": link})
    delivery.refresh_from_db()
    assert (delivery.state, delivery.remote_url, delivery.posted_by) == ("delivered", link, communicator)
    assert (
        "posted by Sam Okafor"
        in client.get(reverse("manage:deliveries", args=[delivery.update.public_id])).content.decode()
    )
