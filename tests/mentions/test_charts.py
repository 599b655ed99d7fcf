"""An incident's mentions over time: the buckets, their counts and mean sentiment, and the console's panel."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from mentions import services
from mentions.charts import chart

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_mentions_are_counted_per_bucket_with_their_mean_sentiment():
    points = [
        (T0 + timedelta(minutes=1), -0.8),
        (T0 + timedelta(minutes=3), -0.4),
        (T0 + timedelta(minutes=12), 0.6),
    ]

    drawn = chart(points, since=T0, now=T0 + timedelta(minutes=60))

    assert drawn is not None and drawn.step_minutes == 5
    assert [b.count for b in drawn.bars][:4] == [2, 0, 1, 0]
    assert drawn.bars[0].sentiment == pytest.approx(-0.6) and drawn.peak == 2
    assert drawn.bars[0].h > drawn.bars[2].h > 0 and drawn.bars[1].h == 0
    assert len(drawn.line.split()) == 2  # a point for each bucket with mentions


def test_a_long_incident_gets_wider_buckets_and_nothing_draws_nothing():
    drawn = chart([(T0, 0.0)], since=T0, now=T0 + timedelta(hours=10))

    assert drawn is not None and drawn.step_minutes == 30 and len(drawn.bars) <= 24
    assert chart([], since=T0, now=T0) is None


@pytest.mark.django_db
def test_the_incident_console_shows_its_mentions_and_their_chart(
    client, communicator, engineer, make_incident
):
    incident = make_incident("Checkout failing in the US region", public=False)
    services.ingest(
        [
            services.Incoming(service="mastodon", remote_id=str(n), text=text, posted_at=timezone.now())
            for n, text in enumerate(
                ["checkout down again, I'm going to blog about it", "is checkout failing?"]
            )
        ]
    )
    client.force_login(communicator)

    page = client.get(reverse("manage:incident-live", args=[incident.pk])).content.decode()

    assert "0 linked, 2 suggested" in page and "<svg" in page and "chart-bar--negative" in page
    assert "threatens to go public" in page
    client.force_login(engineer)
    assert "<svg" not in client.get(reverse("manage:incident-live", args=[incident.pk])).content.decode()
