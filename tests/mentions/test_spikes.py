"""Spike detection: more mentions than the same hour's baseline, mostly negative, that no open incident explains:
the team is told once, and may open a draft incident in one click. Nothing is published."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from incidents.models import IncidentUpdate
from mentions import services, spikes
from mentions.models import Mention, Spike

pytestmark = pytest.mark.django_db


def _burst(n, *, minutes_ago=30, text="Northwind checkout down, payments failing", days_ago=0, prefix="b"):
    now = timezone.now() - timedelta(days=days_ago)
    services.ingest(
        [
            services.Incoming(service="mastodon", remote_id=f"{prefix}{days_ago}-{i}", text=f"{text} #{i}",
                              author_handle=f"u{i}@m.example", posted_at=now - timedelta(minutes=minutes_ago))
            for i in range(n)
        ]
    )  # fmt: skip


def test_a_burst_of_unhappy_mentions_nobody_explains_is_a_spike_told_once(publisher, communicator):
    publisher.email, communicator.email = "priya@example.com", "sam@example.com"
    publisher.save()
    communicator.save()
    for day in range(1, 8):
        _burst(1, days_ago=day, text="nice dashboard", prefix="base")  # about one an hour, usually
    _burst(14)

    spike = spikes.detect()
    assert spike is not None and spike.volume == 14 and spike.negative == 14 and spike.baseline == 1.0
    assert "checkout" in spike.words and "payments" in spike.words
    assert spikes.detect() is None  # this hour's spike is known
    assert spikes.notify(spike) == 2
    assert mail.outbox[0].subject.startswith("[StatusHub] Mentions spike: ")
    assert (
        "People are saying: " in mail.outbox[0].body and "14 mentions in the last hour" in mail.outbox[0].body
    )


def test_no_spike_when_it_is_usual_calm_or_explained(make_incident):
    _burst(12, text="love the new dashboard, great work")  # calm
    assert spikes.detect() is None
    Mention.objects.all().delete()
    make_incident("Checkout and payments failing", public=False)
    _burst(12)  # explained by the open incident (suggested for it)
    assert spikes.detect() is None


def test_opening_a_draft_incident_from_a_spike_publishes_nothing(client, communicator):
    _burst(12)
    spike = spikes.detect()
    assert spike is not None
    client.force_login(communicator)
    assert spike.summary in client.get(reverse("manage:dashboard")).content.decode()

    response = client.post(reverse("manage:spike", args=[spike.pk]), {"action": "open"})

    spike.refresh_from_db()
    incident = spike.incident
    assert incident is not None and response["Location"] == reverse("manage:incident", args=[incident.pk])
    assert incident.title.startswith("Customers report problems: ") and not incident.is_public
    assert not IncidentUpdate.objects.exists()
    assert Mention.objects.filter(suggested_incident=incident).count() == 12
    assert incident.notes.get().text.startswith("Opened from a mentions spike.")
    assert Spike.objects.count() == 1
