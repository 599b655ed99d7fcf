"""The inbox: most urgent first, with the reasons; taking, linking, closing; constant queries however many."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mentions import services
from mentions.models import Mention

pytestmark = pytest.mark.django_db


def _mentions(n, start=0):
    now = timezone.now()
    Mention.objects.bulk_create(
        [
            Mention(
                service="mastodon",
                remote_id=str(i),
                text=f"post {i}",
                author_handle=f"u{i}",
                posted_at=now - timedelta(seconds=i),
                received_at=now,
                priority=i % 90,
            )
            for i in range(start, start + n)
        ]
    )


def test_the_inbox_orders_by_priority_and_explains_it(client, communicator):
    services.ingest(
        [
            services.Incoming(
                service="mastodon", remote_id="1", text="Is checkout down?", posted_at=timezone.now()
            ),
            services.Incoming(
                service="mastodon",
                remote_id="2",
                posted_at=timezone.now(),
                followers=12_000,
                text="Checkout DOWN again. I'm going to blog about this.",
            ),
        ]
    )
    client.force_login(communicator)

    page = client.get(reverse("manage:mentions")).content.decode()

    assert page.index("going to blog") < page.index("Is checkout down?")
    assert "threatens to go public" in page and "12k followers" in page


def test_the_inbox_reads_a_fixed_number_of_queries(client, communicator):
    client.force_login(communicator)
    _mentions(60)
    client.get(reverse("manage:mentions"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("manage:mentions"))
    _mentions(2000, start=60)
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("manage:mentions")).content.decode()

    assert len(many) == len(few)
    assert page.count('class="mention-row') == 50 and "Next →" in page


def test_taking_linking_and_closing_a_mention(client, communicator, make_incident):
    incident = make_incident("Checkout failing in the US region", public=False)
    (mention,) = services.ingest(
        [
            services.Incoming(
                service="bluesky", remote_id="a", text="is checkout failing?", posted_at=timezone.now()
            )
        ]
    )
    assert mention.suggested_incident == incident
    client.force_login(communicator)
    act = reverse("manage:mention-action", args=[mention.pk])

    client.post(act, {"action": "take"})
    client.post(act, {"action": "link", "incident": incident.pk})
    mention.refresh_from_db()
    assert (mention.state, mention.assigned_to, mention.incident) == ("assigned", communicator, incident)

    client.post(act, {"action": "done"})
    mention.refresh_from_db()
    assert mention.state == "done"
    page = client.get(reverse("manage:mentions")).content.decode()
    assert "is checkout failing?" not in page  # closed: out of the open inbox


def test_a_mention_entered_by_hand_lands_in_the_inbox(client, communicator):
    client.force_login(communicator)

    response = client.post(
        reverse("manage:mention-new"),
        {
            "service": "manual",
            "author_handle": "+1 555 0100",
            "text": "Caller says checkout fails, wants a refund.",
        },
    )

    mention = Mention.objects.get()
    assert response["Location"] == reverse("manage:mention", args=[mention.pk])
    assert mention.entered_by == communicator and "refund" in mention.cues


def test_engineers_do_not_see_customers_words(client, engineer):
    client.force_login(engineer)
    assert client.get(reverse("manage:mentions")).status_code == 403


def test_the_first_response_clock_runs_by_priority(settings):
    settings.STATUSHUB_MENTION_RESPONSE_MINUTES = {60: 15, 30: 60, 0: 240}
    now = timezone.now()
    urgent = Mention(priority=70, received_at=now - timedelta(minutes=8), state="new")
    calm = Mention(priority=10, received_at=now - timedelta(minutes=8), state="new")

    assert urgent.response_target == timedelta(minutes=15) and calm.response_target == timedelta(hours=4)
    assert urgent.response_state(now) == "amber" and calm.response_state(now) == "ok"
    assert urgent.response_state(now + timedelta(minutes=8)) == "red"
    urgent.first_response_at = now + timedelta(minutes=5)
    assert urgent.response_state() == "met"
    urgent.first_response_at = now + timedelta(minutes=20)
    assert urgent.response_state() == "missed"
    assert Mention(priority=0, received_at=now, state="set_aside").response_state(now) == ""
