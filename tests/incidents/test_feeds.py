"""RSS and Atom feeds: what feed readers rely on, entry by entry (the ``story`` fixture is in conftest.py)."""

import time
from datetime import UTC
from email.utils import parsedate_to_datetime

import feedparser
import pytest
from django.core.cache import cache
from lxml import etree

from incidents import feeds, services
from tests.incidents.test_feeds_helpers import SITE, assert_valid_atom, assert_valid_rss, get_feed, utc_time

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_the_page_feed_has_one_entry_per_published_update_newest_first(client, story, fmt):
    response = get_feed(client, f"history-{fmt}")
    parsed = feedparser.parse(response.content)

    assert parsed.bozo == 0, parsed.get("bozo_exception")
    u = story["updates"]
    expected = [u["third"], u["planned"], u["second"], u["first"]]
    assert [e.id for e in parsed.entries] == [f"tag:localhost,2005:Update/{x.public_id}" for x in expected]
    assert [e.title for e in parsed.entries] == [
        "Payments failing — Resolved",
        "Maintenance: Database upgrade — In progress",
        "Payments failing — Identified",
        "Payments failing — Investigating",
    ]
    assert [utc_time(e.published_parsed) for e in parsed.entries] == [x.published_at for x in expected]
    assert {e.author for e in parsed.entries} == {"Priya Raman, VP Engineering"}
    assert [e.link for e in parsed.entries] == [f"{SITE}/updates/{x.public_id}/" for x in expected]
    assert parsed.feed.title == "StatusHub status"
    assert "Internal only" not in response.content.decode()


def test_an_atom_entry_carries_the_rendered_body_and_how_to_check_its_signature(client, story):
    first = story["updates"]["first"]
    parsed = feedparser.parse(get_feed(client, "history-atom").content)
    entry = next(e for e in parsed.entries if e.id.endswith(first.public_id))

    assert utc_time(entry.updated_parsed) == utc_time(entry.published_parsed) == first.published_at
    (content,) = entry.content
    assert content.type == "text/html"
    assert "We are <strong>investigating</strong> failed card payments." in content.value
    assert "Posted by Priya Raman, VP Engineering · Status: Investigating" in content.value
    assert "Components: API (Major outage)" in content.value
    assert first.signature in content.value
    assert f"{SITE}/updates/{first.public_id}/statement" in content.value
    links = {(link.rel, link.type): link.href for link in entry.links}
    assert links[("related", "application/octet-stream")] == f"{SITE}/updates/{first.public_id}/statement"
    assert links[("alternate", "text/html")] == f"{SITE}/updates/{first.public_id}/"
    assert links[("alternate", "application/json")] == f"{SITE}/updates/{first.public_id}.json"
    assert entry.tags[0].term == "investigating"


def test_the_promised_next_update_is_in_the_entry(client, story):
    second = story["updates"]["second"]
    parsed = feedparser.parse(get_feed(client, "incident-rss", story["incident"].pk).content)
    entry = next(e for e in parsed.entries if e.id.endswith(second.public_id))
    expected = f"{second.next_update_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    assert f"Next update expected by {expected}." in entry.description


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_the_feed_is_dated_by_its_newest_update_never_by_when_it_was_generated(client, story, fmt):
    first = get_feed(client, f"history-{fmt}").content
    time.sleep(1.1)
    cache.clear()  # a new public version: the feed is generated again, not answered from an ETag
    again = get_feed(client, f"history-{fmt}").content
    assert first == again

    parsed = feedparser.parse(first)
    newest = story["updates"]["third"].published_at
    if fmt == "atom":
        assert utc_time(parsed.feed.updated_parsed) == newest
    else:
        channel = etree.fromstring(first).find("channel")
        assert parsedate_to_datetime(channel.findtext("lastBuildDate")) == newest
        assert parsedate_to_datetime(channel.findtext("pubDate")) == newest


def test_a_component_feed_has_only_the_updates_of_incidents_affecting_it(client, story):
    api = feedparser.parse(get_feed(client, "component-atom", story["api"].pk).content)
    web = feedparser.parse(get_feed(client, "component-rss", story["web"].pk).content)

    u = story["updates"]
    assert [e.id.rsplit("/", 1)[1] for e in api.entries] == [
        u["third"].public_id,
        u["second"].public_id,
        u["first"].public_id,
    ]
    assert [e.id.rsplit("/", 1)[1] for e in web.entries] == [u["planned"].public_id]
    assert api.feed.title == "StatusHub status: API"
    assert api.bozo == 0 and web.bozo == 0


def test_an_incident_feed_has_only_that_incidents_updates(client, story):
    parsed = feedparser.parse(get_feed(client, "incident-atom", story["maintenance"].pk).content)
    assert parsed.bozo == 0
    assert [e.title for e in parsed.entries] == ["Maintenance: Database upgrade — In progress"]
    assert parsed.feed.title == "StatusHub status: Database upgrade"
    assert parsed.feed.link == f"{SITE}/incidents/{story['maintenance'].pk}/"


def test_unknown_components_and_unpublished_incidents_have_no_feed(client, story):
    assert get_feed(client, "component-atom", 999999).status_code == 404
    assert get_feed(client, "incident-rss", story["internal"].pk).status_code == 404
    assert get_feed(client, "incident-atom", 999999).status_code == 404


def test_an_empty_feed_is_valid_and_dated_by_what_it_follows(client, make_component):
    quiet = make_component("Quiet")
    response = get_feed(client, "component-atom", quiet.pk)
    assert_valid_atom(response.content, f"{SITE}/components/{quiet.pk}/history.atom")
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0 and parsed.entries == []
    assert parsed.feed.updated == quiet.created_at.replace(microsecond=0).isoformat()
    rss = get_feed(client, "history-rss")
    assert_valid_rss(rss.content, f"{SITE}/history.rss")
    assert feedparser.parse(rss.content).bozo == 0


def test_a_feed_keeps_only_the_newest_updates(client, story, monkeypatch):
    assert feeds.MAX_ENTRIES == 50
    monkeypatch.setattr(feeds, "MAX_ENTRIES", 2)
    parsed = feedparser.parse(get_feed(client, "history-atom").content)
    u = story["updates"]
    assert [e.id.rsplit("/", 1)[1] for e in parsed.entries] == [u["third"].public_id, u["planned"].public_id]


def test_a_correction_is_its_own_entry_pointing_at_the_update_it_corrects(client, story, publisher):
    original = story["updates"]["second"]
    correction = services.update_publish(
        incident=story["incident"],
        author=publisher,
        status="resolved",
        body="The cause was a certificate, not a deploy.",
        corrects=original,
    )
    parsed = feedparser.parse(get_feed(client, "incident-atom", story["incident"].pk).content)
    entry = parsed.entries[0]
    assert entry.id == f"tag:localhost,2005:Update/{correction.public_id}"
    assert entry.title == "Payments failing — Resolved (correction)"
    assert f'This corrects <a href="{SITE}/updates/{original.public_id}/">' in entry.content[0].value
    assert len(parsed.entries) == 4


def test_what_people_typed_is_escaped_everywhere(client, make_incident):
    incident = make_incident('<script>alert("t")</script> & co', body="<img src=x onerror=alert(1)> **bold**")
    for fmt in ("atom", "rss"):
        xml = get_feed(client, f"incident-{fmt}", incident.pk).content
        root = etree.fromstring(xml)
        assert not [el for el in root.iter() if etree.QName(el).localname in ("script", "img")]
        parsed = feedparser.parse(xml)
        assert parsed.bozo == 0
        assert parsed.entries[0].title == '<script>alert("t")</script> & co — Investigating'
        raw = etree.tostring(root).decode()
        # The Markdown renderer turns typed HTML into text, so the escaped HTML in the feed escapes it again.
        assert "&amp;lt;img src=x onerror=alert(1)&amp;gt;" in raw
        assert "&lt;strong&gt;bold&lt;/strong&gt;" in raw
