"""Taking mentions in: stored once per (service, post), scored, set aside when spam or ours, suggested for the
open incident they most likely concern."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import AffectedComponent
from mentions import services
from mentions.models import Mention

pytestmark = pytest.mark.django_db


def _in(remote_id, text, minutes_ago=1, service="mastodon", handle="ana@m.example", **kw):
    return services.Incoming(
        service=service, remote_id=remote_id, text=text, author_handle=handle,
        posted_at=timezone.now() - timedelta(minutes=minutes_ago), **kw,
    )  # fmt: skip


def test_the_same_post_found_twice_is_one_mention():
    services.ingest([_in("1", "checkout down?"), _in("1", "checkout down?", found_by="search:checkout")])
    again = services.ingest([_in("1", "checkout down?")])

    assert Mention.objects.count() == 1 and again == []
    services.ingest([_in("1", "same id, another service", service="bluesky")])
    assert Mention.objects.count() == 2


def test_a_third_mention_from_the_same_author_today_says_so():
    services.ingest([_in("1", "checkout down", 30), _in("2", "still down", 20)])
    (third,) = services.ingest([_in("3", "still down, nobody answers", 10)])

    assert "third mention today" in third.priority_reasons


def test_spam_and_our_own_posts_are_set_aside(settings):
    settings.STATUSHUB_OWN_HANDLES = ["northwind@mastodon.example"]
    stored = services.ingest(
        [
            _in("1", "Free followers! DM me for a crypto giveaway", handle="promo@spam.example"),
            _in("2", "We are investigating checkout errors.", handle="@northwind@mastodon.example"),
        ]
    )

    assert sorted((m.state, m.set_aside_reason) for m in stored) == [
        ("set_aside", "our own post"), ("set_aside", "spam"),
    ]  # fmt: skip


def test_a_mention_is_suggested_for_the_open_incident_it_talks_about(make_incident, make_component):
    us = make_component("US region", group="Regions")
    checkout = make_incident("Checkout failing in the US region", public=False, severity="sev1")
    AffectedComponent.objects.create(incident=checkout, component=us, status="major_outage")
    make_incident("Some customers charged twice on renewal", public=False)

    (about_checkout, about_billing, unrelated) = sorted(
        services.ingest(
            [
                _in("1", "Is Northwind checkout broken in the US?"),
                _in("2", "charged twice on my renewal!!", handle="li@m.example"),
                _in("3", "Love the new dashboard", handle="jo@m.example"),
            ]
        ),
        key=lambda m: m.remote_id,
    )

    assert about_checkout.suggested_incident == checkout
    assert about_checkout.suggestion_reason == "mentions checkout"
    assert about_billing.suggested_incident is not None
    assert about_billing.suggested_incident.title == "Some customers charged twice on renewal"
    assert unrelated.suggested_incident is None
    assert about_checkout.incident is None  # a person confirms


def test_a_post_from_before_an_incident_began_is_not_suggested_for_it(make_incident):
    make_incident("Checkout failing", public=False, detected_at=timezone.now())

    (old,) = services.ingest([_in("1", "checkout failing for me", minutes_ago=120)])

    assert old.suggested_incident is None


def test_customers_words_for_the_same_thing_count(make_incident):
    billing = make_incident("Some customers charged twice on renewal", public=False)

    (mention,) = services.ingest([_in("1", "I got double-billed by northwind this morning")])

    assert mention.suggested_incident == billing
