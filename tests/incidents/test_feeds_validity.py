"""RSS and Atom feeds are valid: RFC 4287 and RSS 2.0, at a constant number of queries, and the compose preview
shows the entry they will carry."""

import pytest
from django.urls import reverse
from lxml import etree

from incidents import previews
from incidents.models import UpdateDraft
from tests.incidents.test_feeds_helpers import (
    ATOM,
    HUB,
    NS,
    SITE,
    assert_valid_atom,
    assert_valid_rss,
    get_feed,
)

pytestmark = pytest.mark.django_db


def test_every_atom_feed_is_valid_rfc_4287(client, story, settings):
    settings.STATUSHUB_WEBSUB_HUB = HUB
    urls = [
        reverse("feeds:history-atom"),
        reverse("feeds:component-atom", args=[story["api"].pk]),
        reverse("feeds:component-atom", args=[story["web"].pk]),
        reverse("feeds:incident-atom", args=[story["incident"].pk]),
        reverse("feeds:incident-atom", args=[story["maintenance"].pk]),
    ]
    for url in urls:
        root = assert_valid_atom(client.get(url).content, f"{SITE}{url}")
        content_types = {c.get("type") for c in root.iterfind("a:entry/a:content", NS)}
        assert content_types == {"html"}


def test_every_rss_feed_is_valid_rss_2(client, story, settings):
    settings.STATUSHUB_WEBSUB_HUB = HUB
    urls = [
        reverse("feeds:history-rss"),
        reverse("feeds:component-rss", args=[story["api"].pk]),
        reverse("feeds:incident-rss", args=[story["maintenance"].pk]),
    ]
    for url in urls:
        channel = assert_valid_rss(client.get(url).content, f"{SITE}{url}").find("channel")
        assert channel.findtext("link").startswith(SITE)
        items = channel.findall("item")
        assert items and all(item.findtext("{http://purl.org/dc/elements/1.1/}creator") for item in items)


def test_the_schema_check_would_catch_an_invalid_feed(client, story):
    """The validator itself: a feed without an id, and content typed CDATA (what the preview once wrote)."""
    xml = get_feed(client, "history-atom").content
    root = etree.fromstring(xml)
    root.remove(root.find("a:id", NS))
    with pytest.raises(AssertionError):
        assert_valid_atom(etree.tostring(root), f"{SITE}/history.atom")
    root = etree.fromstring(xml)
    root.find("a:entry/a:content", NS).set("type", "CDATA")
    with pytest.raises(AssertionError):
        assert_valid_atom(etree.tostring(root), f"{SITE}/history.atom")
    root = etree.fromstring(xml)
    etree.SubElement(root.find("a:entry", NS), f"{{{ATOM}}}link", href=f"{SITE}/elsewhere", type="text/html")
    with pytest.raises(AssertionError, match="one alternate link per type"):
        assert_valid_atom(etree.tostring(root), f"{SITE}/history.atom")


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_a_feed_costs_the_same_few_queries_however_many_entries(
    client, story, fmt, django_assert_num_queries
):
    with django_assert_num_queries(1):
        get_feed(client, f"history-{fmt}")
    with django_assert_num_queries(2):
        get_feed(client, f"component-{fmt}", story["api"].pk)
    with django_assert_num_queries(2):
        get_feed(client, f"incident-{fmt}", story["incident"].pk)


# --- The compose preview -------------------------------------------------------------------------------


def test_the_preview_shows_the_entry_the_feeds_will_carry(client, story, publisher):
    incident = story["incident"]
    draft = UpdateDraft.objects.create(
        incident=incident,
        status="monitoring",
        body="Watching **closely**.",
        created_by=publisher,
        last_edited_by=publisher,
    )
    preview = previews.preview_context(draft, publisher)["feeds"]

    atom = etree.fromstring(f'<feed xmlns="{ATOM}">{preview["atom"]}</feed>'.encode())
    entry = atom.find("a:entry", NS)
    assert entry.find("a:content", NS).get("type") == "html"
    assert "Watching <strong>closely</strong>." in entry.findtext("a:content", namespaces=NS)
    assert entry.findtext("a:title", namespaces=NS) == "Payments failing — Monitoring"
    assert entry.findtext("a:author/a:name", namespaces=NS) == "Priya Raman, VP Engineering"
    assert "CDATA" not in preview["atom"] + preview["rss"]
    etree.fromstring(
        f'<rss xmlns:dc="http://purl.org/dc/elements/1.1/">{preview["rss"]}</rss>'.encode()
    )  # well-formed

    real = etree.fromstring(get_feed(client, "history-atom").content).find("a:entry", NS)
    assert [(child.tag, sorted(child.attrib)) for child in entry] == [
        (child.tag, sorted(child.attrib)) for child in real
    ]
