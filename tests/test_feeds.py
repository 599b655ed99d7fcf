"""RSS and Atom feeds: what feed readers, validators and WebSub hubs rely on."""

import calendar
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import feedparser
import httpx
import pytest
import respx
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from incidents import feed_tasks, feeds, previews, services
from incidents.models import Component, Incident, UpdateDraft
from people.services import profile_for
from statushub.lib.outbound import OutboundError

S = Component.Status
SITE = "http://localhost:8000"
HUB = "https://hub.example.test/"
ATOM = "http://www.w3.org/2005/Atom"
NS = {"a": ATOM}

# RFC 4287 Appendix B (informative RELAX NG schema, compact syntax) transcribed by hand into RELAX NG's XML
# syntax, which lxml (libxml2) reads. Names follow the RFC's so each definition can be checked against it.
ATOM_RNG = """<?xml version="1.0" encoding="UTF-8"?>
<grammar xmlns="http://relaxng.org/ns/structure/1.0" ns="http://www.w3.org/2005/Atom"
         datatypeLibrary="http://www.w3.org/2001/XMLSchema-datatypes">
  <start><choice><ref name="atomFeed"/><ref name="atomEntry"/></choice></start>

  <define name="atomCommonAttributes">
    <optional><attribute><name ns="http://www.w3.org/XML/1998/namespace">base</name><ref name="atomUri"/></attribute></optional>
    <optional><attribute><name ns="http://www.w3.org/XML/1998/namespace">lang</name><ref name="atomLanguageTag"/></attribute></optional>
    <zeroOrMore><ref name="undefinedAttribute"/></zeroOrMore>
  </define>

  <define name="atomPlainTextConstruct">
    <ref name="atomCommonAttributes"/>
    <optional><attribute name="type"><choice><value>text</value><value>html</value></choice></attribute></optional>
    <text/>
  </define>
  <define name="atomXHTMLTextConstruct">
    <ref name="atomCommonAttributes"/>
    <attribute name="type"><value>xhtml</value></attribute>
    <ref name="xhtmlDiv"/>
  </define>
  <define name="atomTextConstruct">
    <choice><ref name="atomPlainTextConstruct"/><ref name="atomXHTMLTextConstruct"/></choice>
  </define>

  <define name="atomPersonConstruct">
    <ref name="atomCommonAttributes"/>
    <interleave>
      <element name="name"><text/></element>
      <optional><element name="uri"><ref name="atomUri"/></element></optional>
      <optional><element name="email"><ref name="atomEmailAddress"/></element></optional>
      <zeroOrMore><ref name="extensionElement"/></zeroOrMore>
    </interleave>
  </define>

  <define name="atomDateConstruct">
    <ref name="atomCommonAttributes"/>
    <data type="dateTime"/>
  </define>

  <define name="atomFeed">
    <element name="feed">
      <ref name="atomCommonAttributes"/>
      <interleave>
        <zeroOrMore><ref name="atomAuthor"/></zeroOrMore>
        <zeroOrMore><ref name="atomCategory"/></zeroOrMore>
        <zeroOrMore><ref name="atomContributor"/></zeroOrMore>
        <optional><ref name="atomGenerator"/></optional>
        <optional><ref name="atomIcon"/></optional>
        <ref name="atomId"/>
        <zeroOrMore><ref name="atomLink"/></zeroOrMore>
        <optional><ref name="atomLogo"/></optional>
        <optional><ref name="atomRights"/></optional>
        <optional><ref name="atomSubtitle"/></optional>
        <ref name="atomTitle"/>
        <ref name="atomUpdated"/>
        <zeroOrMore><ref name="extensionElement"/></zeroOrMore>
      </interleave>
      <zeroOrMore><ref name="atomEntry"/></zeroOrMore>
    </element>
  </define>

  <define name="atomEntry">
    <element name="entry">
      <ref name="atomCommonAttributes"/>
      <interleave>
        <zeroOrMore><ref name="atomAuthor"/></zeroOrMore>
        <zeroOrMore><ref name="atomCategory"/></zeroOrMore>
        <optional><ref name="atomContent"/></optional>
        <zeroOrMore><ref name="atomContributor"/></zeroOrMore>
        <ref name="atomId"/>
        <zeroOrMore><ref name="atomLink"/></zeroOrMore>
        <optional><ref name="atomPublished"/></optional>
        <optional><ref name="atomRights"/></optional>
        <optional><ref name="atomSource"/></optional>
        <optional><ref name="atomSummary"/></optional>
        <ref name="atomTitle"/>
        <ref name="atomUpdated"/>
        <zeroOrMore><ref name="extensionElement"/></zeroOrMore>
      </interleave>
    </element>
  </define>

  <define name="atomInlineTextContent">
    <element name="content">
      <ref name="atomCommonAttributes"/>
      <optional><attribute name="type"><choice><value>text</value><value>html</value></choice></attribute></optional>
      <text/>
    </element>
  </define>
  <define name="atomInlineXHTMLContent">
    <element name="content">
      <ref name="atomCommonAttributes"/>
      <attribute name="type"><value>xhtml</value></attribute>
      <ref name="xhtmlDiv"/>
    </element>
  </define>
  <define name="atomInlineOtherContent">
    <element name="content">
      <ref name="atomCommonAttributes"/>
      <optional><attribute name="type"><ref name="atomMediaType"/></attribute></optional>
      <zeroOrMore><choice><text/><ref name="anyElement"/></choice></zeroOrMore>
    </element>
  </define>
  <define name="atomOutOfLineContent">
    <element name="content">
      <ref name="atomCommonAttributes"/>
      <optional><attribute name="type"><ref name="atomMediaType"/></attribute></optional>
      <attribute name="src"><ref name="atomUri"/></attribute>
      <empty/>
    </element>
  </define>
  <define name="atomContent">
    <choice>
      <ref name="atomInlineTextContent"/>
      <ref name="atomInlineXHTMLContent"/>
      <ref name="atomInlineOtherContent"/>
      <ref name="atomOutOfLineContent"/>
    </choice>
  </define>

  <define name="atomAuthor"><element name="author"><ref name="atomPersonConstruct"/></element></define>
  <define name="atomCategory">
    <element name="category">
      <ref name="atomCommonAttributes"/>
      <attribute name="term"><text/></attribute>
      <optional><attribute name="scheme"><ref name="atomUri"/></attribute></optional>
      <optional><attribute name="label"><text/></attribute></optional>
      <ref name="undefinedContent"/>
    </element>
  </define>
  <define name="atomContributor"><element name="contributor"><ref name="atomPersonConstruct"/></element></define>
  <define name="atomGenerator">
    <element name="generator">
      <ref name="atomCommonAttributes"/>
      <optional><attribute name="uri"><ref name="atomUri"/></attribute></optional>
      <optional><attribute name="version"><text/></attribute></optional>
      <text/>
    </element>
  </define>
  <define name="atomIcon"><element name="icon"><ref name="atomCommonAttributes"/><ref name="atomUri"/></element></define>
  <define name="atomId"><element name="id"><ref name="atomCommonAttributes"/><ref name="atomUri"/></element></define>
  <define name="atomLogo"><element name="logo"><ref name="atomCommonAttributes"/><ref name="atomUri"/></element></define>
  <define name="atomLink">
    <element name="link">
      <ref name="atomCommonAttributes"/>
      <attribute name="href"><ref name="atomUri"/></attribute>
      <optional><attribute name="rel"><choice><ref name="atomNCName"/><ref name="atomUri"/></choice></attribute></optional>
      <optional><attribute name="type"><ref name="atomMediaType"/></attribute></optional>
      <optional><attribute name="hreflang"><ref name="atomLanguageTag"/></attribute></optional>
      <optional><attribute name="title"><text/></attribute></optional>
      <optional><attribute name="length"><text/></attribute></optional>
      <ref name="undefinedContent"/>
    </element>
  </define>
  <define name="atomPublished"><element name="published"><ref name="atomDateConstruct"/></element></define>
  <define name="atomRights"><element name="rights"><ref name="atomTextConstruct"/></element></define>
  <define name="atomSource">
    <element name="source">
      <ref name="atomCommonAttributes"/>
      <interleave>
        <zeroOrMore><ref name="atomAuthor"/></zeroOrMore>
        <zeroOrMore><ref name="atomCategory"/></zeroOrMore>
        <zeroOrMore><ref name="atomContributor"/></zeroOrMore>
        <optional><ref name="atomGenerator"/></optional>
        <optional><ref name="atomIcon"/></optional>
        <optional><ref name="atomId"/></optional>
        <zeroOrMore><ref name="atomLink"/></zeroOrMore>
        <optional><ref name="atomLogo"/></optional>
        <optional><ref name="atomRights"/></optional>
        <optional><ref name="atomSubtitle"/></optional>
        <optional><ref name="atomTitle"/></optional>
        <optional><ref name="atomUpdated"/></optional>
        <zeroOrMore><ref name="extensionElement"/></zeroOrMore>
      </interleave>
    </element>
  </define>
  <define name="atomSubtitle"><element name="subtitle"><ref name="atomTextConstruct"/></element></define>
  <define name="atomSummary"><element name="summary"><ref name="atomTextConstruct"/></element></define>
  <define name="atomTitle"><element name="title"><ref name="atomTextConstruct"/></element></define>
  <define name="atomUpdated"><element name="updated"><ref name="atomDateConstruct"/></element></define>

  <define name="atomNCName">
    <data type="string"><param name="minLength">1</param><param name="pattern">[^:]*</param></data>
  </define>
  <define name="atomMediaType"><data type="string"><param name="pattern">.+/.+</param></data></define>
  <define name="atomLanguageTag">
    <data type="string"><param name="pattern">[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*</param></data>
  </define>
  <define name="atomUri"><text/></define>
  <define name="atomEmailAddress"><data type="string"><param name="pattern">.+@.+</param></data></define>

  <define name="extensionElement">
    <choice><ref name="simpleExtensionElement"/><ref name="structuredExtensionElement"/></choice>
  </define>
  <define name="simpleExtensionElement">
    <element><anyName><except><nsName ns="http://www.w3.org/2005/Atom"/></except></anyName><text/></element>
  </define>
  <define name="structuredExtensionElement">
    <element>
      <anyName><except><nsName ns="http://www.w3.org/2005/Atom"/></except></anyName>
      <choice>
        <group>
          <oneOrMore><attribute><anyName/><text/></attribute></oneOrMore>
          <zeroOrMore><choice><text/><ref name="anyElement"/></choice></zeroOrMore>
        </group>
        <group>
          <zeroOrMore><attribute><anyName/><text/></attribute></zeroOrMore>
          <optional><text/></optional>
          <oneOrMore><ref name="anyElement"/></oneOrMore>
          <zeroOrMore><choice><text/><ref name="anyElement"/></choice></zeroOrMore>
        </group>
      </choice>
    </element>
  </define>
  <define name="undefinedAttribute">
    <attribute>
      <anyName><except>
        <name ns="http://www.w3.org/XML/1998/namespace">base</name>
        <name ns="http://www.w3.org/XML/1998/namespace">lang</name>
        <nsName ns=""/>
      </except></anyName>
      <text/>
    </attribute>
  </define>
  <define name="undefinedContent">
    <zeroOrMore><choice><text/><ref name="anyForeignElement"/></choice></zeroOrMore>
  </define>
  <define name="anyElement">
    <element><anyName/>
      <zeroOrMore><choice><attribute><anyName/></attribute><text/><ref name="anyElement"/></choice></zeroOrMore>
    </element>
  </define>
  <define name="anyForeignElement">
    <element><anyName><except><nsName ns="http://www.w3.org/2005/Atom"/></except></anyName>
      <zeroOrMore><choice><attribute><anyName/></attribute><text/><ref name="anyElement"/></choice></zeroOrMore>
    </element>
  </define>
  <define name="xhtmlDiv">
    <element><name ns="http://www.w3.org/1999/xhtml">div</name>
      <zeroOrMore><choice><attribute><anyName/></attribute><text/><ref name="anyXHTML"/></choice></zeroOrMore>
    </element>
  </define>
  <define name="anyXHTML">
    <element><nsName ns="http://www.w3.org/1999/xhtml"/>
      <zeroOrMore><choice><attribute><anyName/></attribute><text/><ref name="anyXHTML"/></choice></zeroOrMore>
    </element>
  </define>
</grammar>
"""
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

pytestmark = pytest.mark.django_db


# --- Validators ----------------------------------------------------------------------------------------


def assert_valid_atom(xml: bytes, self_url: str) -> etree._Element:
    """RFC 4287: the schema, then the MUSTs a schema cannot say (section numbers in the messages)."""
    root = etree.fromstring(xml)
    schema = etree.RelaxNG(etree.fromstring(ATOM_RNG.encode()))
    assert schema.validate(root), schema.error_log
    assert root.tag == f"{{{ATOM}}}feed"

    def alternates_unique(parent: etree._Element, where: str) -> None:
        seen = [
            (link.get("type"), link.get("hreflang"))
            for link in parent.findall("a:link", NS)
            if link.get("rel", "alternate") == "alternate"
        ]
        assert len(seen) == len(set(seen)), f"4.1.{where}: one alternate link per type and hreflang"

    def date(element: etree._Element, name: str) -> datetime | None:
        found = element.find(f"a:{name}", NS)
        if found is None:
            return None
        assert _RFC3339.match(found.text or ""), f"3.3: {name} must be an RFC 3339 date-time: {found.text}"
        return datetime.fromisoformat(found.text)

    alternates_unique(root, "1")
    assert re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", root.findtext("a:id", namespaces=NS)), "4.2.6: id is an IRI"
    assert date(root, "updated") is not None
    selfs = [link.get("href") for link in root.findall("a:link", NS) if link.get("rel") == "self"]
    assert selfs == [self_url], "the feed names its own URL (rel=self), as WebSub subscribers need"
    entries = root.findall("a:entry", NS)
    ids = [entry.findtext("a:id", namespaces=NS) for entry in entries]
    assert len(ids) == len(set(ids)), "4.1.1: entries of a feed have distinct ids"
    feed_has_author = root.find("a:author", NS) is not None
    for entry in entries:
        assert feed_has_author or entry.find("a:author", NS) is not None, "4.1.2: entry needs an author"
        alternates_unique(entry, "2")
        content = entry.find("a:content", NS)
        if content is None or content.get("src"):
            assert entry.find("a:summary", NS) is not None, "4.1.2: summary required without inline content"
        if content is None:
            assert any(link.get("rel", "alternate") == "alternate" for link in entry.findall("a:link", NS))
        published, updated = date(entry, "published"), date(entry, "updated")
        assert updated is not None
        assert published is None or published <= updated
    return root


def assert_valid_rss(xml: bytes, self_url: str) -> etree._Element:
    """RSS 2.0 (rssboard.org specification): required channel and item elements and their formats."""
    root = etree.fromstring(xml)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channels = root.findall("channel")
    assert len(channels) == 1
    channel = channels[0]
    for required in ("title", "link", "description"):
        assert (channel.findtext(required) or "").strip(), f"channel needs <{required}>"
    for name in ("pubDate", "lastBuildDate"):
        if channel.find(name) is not None:
            assert parsedate_to_datetime(channel.findtext(name)).tzinfo is not None, f"{name} is RFC 822"
    selfs = [link.get("href") for link in channel.findall("a:link", NS) if link.get("rel") == "self"]
    assert selfs == [self_url], "atom:link rel=self, as the RSS Advisory Board recommends"
    guids = []
    for item in channel.findall("item"):
        assert item.findtext("title") or item.findtext("description"), "an item needs a title or description"
        guid = item.find("guid")
        assert guid is not None and guid.get("isPermaLink") == "false"
        guids.append(guid.text)
        assert parsedate_to_datetime(item.findtext("pubDate")).tzinfo is not None
        assert item.find("author") is None, "RSS's <author> must be an e-mail address: we use dc:creator"
    assert len(guids) == len(set(guids))
    return root


# --- Fixtures ------------------------------------------------------------------------------------------


@pytest.fixture
def story(make_component, make_incident, publisher):
    """Two components; an incident on one with three updates, a maintenance on the other, an internal draft."""
    api = make_component("API")
    web = make_component("Web app")
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    profile = profile_for(publisher)
    profile.title = "VP Engineering"
    profile.save()
    incident = make_incident("Payments failing", public=False)
    first = services.update_publish(
        incident=incident,
        author=publisher,
        status="investigating",
        body="We are **investigating** failed card payments.",
        component_statuses={api: S.MAJOR_OUTAGE},
        at=start + timedelta(minutes=1),
    )
    second = services.update_publish(
        incident=incident,
        author=publisher,
        status="identified",
        body="A bad deploy. Rolling back.",
        next_update_at=start + timedelta(minutes=40),
        at=start + timedelta(minutes=2),
    )
    maintenance = make_incident(
        "Database upgrade",
        public=False,
        kind=Incident.Kind.MAINTENANCE,
        status=Incident.Status.SCHEDULED,
        scheduled_for=start + timedelta(hours=2),
    )
    planned = services.update_publish(
        incident=maintenance,
        author=publisher,
        status="in_progress",
        body="Upgrading now.",
        component_statuses={web: S.UNDER_MAINTENANCE},
        at=start + timedelta(minutes=3),
    )
    third = services.update_publish(
        incident=incident,
        author=publisher,
        status="resolved",
        body="Payments work again.",
        component_statuses={api: S.OPERATIONAL},
        at=start + timedelta(minutes=4),
    )
    internal = make_incident("Internal only", public=False)
    return {
        "api": api,
        "web": web,
        "incident": incident,
        "maintenance": maintenance,
        "internal": internal,
        "updates": {"first": first, "second": second, "planned": planned, "third": third},
    }


def _get(client, name, *args):
    return client.get(reverse(f"feeds:{name}", args=args))


def _when(parsed: time.struct_time) -> datetime:
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)


# --- Content -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_the_page_feed_has_one_entry_per_published_update_newest_first(client, story, fmt):
    response = _get(client, f"history-{fmt}")
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
    assert [_when(e.published_parsed) for e in parsed.entries] == [x.published_at for x in expected]
    assert {e.author for e in parsed.entries} == {"Priya Raman, VP Engineering"}
    assert [e.link for e in parsed.entries] == [f"{SITE}/updates/{x.public_id}/" for x in expected]
    assert parsed.feed.title == "StatusHub status"
    assert "Internal only" not in response.content.decode()


def test_an_atom_entry_carries_the_rendered_body_and_how_to_check_its_signature(client, story):
    first = story["updates"]["first"]
    parsed = feedparser.parse(_get(client, "history-atom").content)
    entry = next(e for e in parsed.entries if e.id.endswith(first.public_id))

    assert _when(entry.updated_parsed) == _when(entry.published_parsed) == first.published_at
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
    parsed = feedparser.parse(_get(client, "incident-rss", story["incident"].pk).content)
    entry = next(e for e in parsed.entries if e.id.endswith(second.public_id))
    expected = f"{second.next_update_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    assert f"Next update expected by {expected}." in entry.description


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_the_feed_is_dated_by_its_newest_update_never_by_when_it_was_generated(client, story, fmt):
    first = _get(client, f"history-{fmt}").content
    time.sleep(1.1)
    cache.clear()  # a new public version: the feed is generated again, not answered from an ETag
    again = _get(client, f"history-{fmt}").content
    assert first == again

    parsed = feedparser.parse(first)
    newest = story["updates"]["third"].published_at
    if fmt == "atom":
        assert _when(parsed.feed.updated_parsed) == newest
    else:
        channel = etree.fromstring(first).find("channel")
        assert parsedate_to_datetime(channel.findtext("lastBuildDate")) == newest
        assert parsedate_to_datetime(channel.findtext("pubDate")) == newest


def test_a_component_feed_has_only_the_updates_of_incidents_affecting_it(client, story):
    api = feedparser.parse(_get(client, "component-atom", story["api"].pk).content)
    web = feedparser.parse(_get(client, "component-rss", story["web"].pk).content)

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
    parsed = feedparser.parse(_get(client, "incident-atom", story["maintenance"].pk).content)
    assert parsed.bozo == 0
    assert [e.title for e in parsed.entries] == ["Maintenance: Database upgrade — In progress"]
    assert parsed.feed.title == "StatusHub status: Database upgrade"
    assert parsed.feed.link == f"{SITE}/incidents/{story['maintenance'].pk}/"


def test_unknown_components_and_unpublished_incidents_have_no_feed(client, story):
    assert _get(client, "component-atom", 999999).status_code == 404
    assert _get(client, "incident-rss", story["internal"].pk).status_code == 404
    assert _get(client, "incident-atom", 999999).status_code == 404


def test_an_empty_feed_is_valid_and_dated_by_what_it_follows(client, make_component):
    quiet = make_component("Quiet")
    response = _get(client, "component-atom", quiet.pk)
    assert_valid_atom(response.content, f"{SITE}/components/{quiet.pk}/history.atom")
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0 and parsed.entries == []
    assert parsed.feed.updated == quiet.created_at.replace(microsecond=0).isoformat()
    rss = _get(client, "history-rss")
    assert_valid_rss(rss.content, f"{SITE}/history.rss")
    assert feedparser.parse(rss.content).bozo == 0


def test_a_feed_keeps_only_the_newest_updates(client, story, monkeypatch):
    assert feeds.MAX_ENTRIES == 50
    monkeypatch.setattr(feeds, "MAX_ENTRIES", 2)
    parsed = feedparser.parse(_get(client, "history-atom").content)
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
    parsed = feedparser.parse(_get(client, "incident-atom", story["incident"].pk).content)
    entry = parsed.entries[0]
    assert entry.id == f"tag:localhost,2005:Update/{correction.public_id}"
    assert entry.title == "Payments failing — Resolved (correction)"
    assert f'This corrects <a href="{SITE}/updates/{original.public_id}/">' in entry.content[0].value
    assert len(parsed.entries) == 4


def test_what_people_typed_is_escaped_everywhere(client, make_incident):
    incident = make_incident('<script>alert("t")</script> & co', body="<img src=x onerror=alert(1)> **bold**")
    for fmt in ("atom", "rss"):
        xml = _get(client, f"incident-{fmt}", incident.pk).content
        root = etree.fromstring(xml)
        assert not [el for el in root.iter() if etree.QName(el).localname in ("script", "img")]
        parsed = feedparser.parse(xml)
        assert parsed.bozo == 0
        assert parsed.entries[0].title == '<script>alert("t")</script> & co — Investigating'
        raw = etree.tostring(root).decode()
        # The Markdown renderer turns typed HTML into text, so the escaped HTML in the feed escapes it again.
        assert "&amp;lt;img src=x onerror=alert(1)&amp;gt;" in raw
        assert "&lt;strong&gt;bold&lt;/strong&gt;" in raw


# --- Validity ------------------------------------------------------------------------------------------


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
    xml = _get(client, "history-atom").content
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
        _get(client, f"history-{fmt}")
    with django_assert_num_queries(2):
        _get(client, f"component-{fmt}", story["api"].pk)
    with django_assert_num_queries(2):
        _get(client, f"incident-{fmt}", story["incident"].pk)


# --- HTTP ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("history-atom", "application/atom+xml"), ("history-rss", "application/rss+xml")],
)
def test_feeds_are_public_cacheable_and_cookieless(client, story, name, content_type):
    client.cookies["csrftoken"] = "not-a-valid-token"
    client.cookies["sessionid"] = "stale-session"
    response = _get(client, name)
    assert response.status_code == 200
    assert response["Content-Type"] == f"{content_type}; charset=utf-8"
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert "public" in response["Cache-Control"]
    etag = response["ETag"]
    assert etag.startswith('"')  # strong
    assert client.get(reverse(f"feeds:{name}"), HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.head(reverse(f"feeds:{name}")).status_code == 200
    assert client.post(reverse(f"feeds:{name}")).status_code == 405


def test_a_new_update_changes_the_etag(client, story, publisher, django_capture_on_commit_callbacks):
    etag = _get(client, "history-rss")["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        services.update_publish(
            incident=story["incident"], author=publisher, status="postmortem", body="Write-up."
        )
    response = client.get(reverse("feeds:history-rss"), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert "Write-up." in response.content.decode()


def test_feeds_advertise_the_websub_hub_in_the_xml_and_the_link_header(client, story, settings):
    settings.STATUSHUB_WEBSUB_HUB = HUB
    incident = story["incident"].pk
    atom = client.get(reverse("feeds:incident-atom", args=[incident]))
    rss = client.get(reverse("feeds:incident-rss", args=[incident]))

    for response, fmt in ((atom, "atom"), (rss, "rss")):
        self_url = f"{SITE}/incidents/{incident}/history.{fmt}"
        assert response["Link"] == f'<{HUB}>; rel="hub", <{self_url}>; rel="self"'
        links = {
            (link.get("rel"), link.get("href"))
            for link in etree.fromstring(response.content).iter(f"{{{ATOM}}}link")
        }
        assert ("hub", HUB) in links and ("self", self_url) in links


def test_without_a_hub_the_feeds_name_only_themselves(client, story, settings):
    settings.STATUSHUB_WEBSUB_HUB = ""
    response = _get(client, "history-atom")
    assert response["Link"] == f'<{SITE}/history.atom>; rel="self"'
    assert b'rel="hub"' not in response.content


def test_the_public_pages_link_their_feeds(client, story):
    page = client.get("/").content.decode()
    assert (
        '<link rel="alternate" type="application/atom+xml" title="StatusHub status (Atom)" href="/history.atom">'
        in page
    )
    assert (
        '<link rel="alternate" type="application/rss+xml" title="StatusHub status (RSS)" href="/history.rss">'
        in page
    )
    assert '<a href="/history.rss">RSS</a>' in page

    pk = story["incident"].pk
    detail = client.get(reverse("status:incident", args=[pk])).content.decode()
    assert (
        f'type="application/atom+xml" title="Payments failing (Atom)" href="/incidents/{pk}/history.atom"'
        in detail
    )
    assert f'<a href="/incidents/{pk}/history.rss">RSS</a>' in detail
    assert 'href="/history.atom"' in detail  # the whole page's feeds too


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

    real = etree.fromstring(_get(client, "history-atom").content).find("a:entry", NS)
    assert [(child.tag, sorted(child.attrib)) for child in entry] == [
        (child.tag, sorted(child.attrib)) for child in real
    ]


# --- WebSub --------------------------------------------------------------------------------------------


def test_publishing_queues_one_ping_per_affected_feed(
    story, publisher, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.STATUSHUB_WEBSUB_HUB = HUB
    queued = []
    monkeypatch.setattr(feed_tasks.websub_ping, "delay", lambda hub, topic: queued.append((hub, topic)))
    incident = story["incident"]
    with django_capture_on_commit_callbacks(execute=True):
        services.update_publish(incident=incident, author=publisher, status="postmortem", body="Write-up.")

    api = story["api"].pk
    assert queued == [
        (HUB, f"{SITE}/history.atom"),
        (HUB, f"{SITE}/history.rss"),
        (HUB, f"{SITE}/incidents/{incident.pk}/history.atom"),
        (HUB, f"{SITE}/incidents/{incident.pk}/history.rss"),
        (HUB, f"{SITE}/components/{api}/history.atom"),
        (HUB, f"{SITE}/components/{api}/history.rss"),
    ]


def test_no_hub_configured_means_no_pings(
    story, publisher, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.STATUSHUB_WEBSUB_HUB = ""
    queued = []
    monkeypatch.setattr(feed_tasks.websub_ping, "delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        services.update_publish(incident=story["incident"], author=publisher, status="postmortem", body="x")
    assert queued == []


def test_a_broker_outage_never_turns_a_publish_into_an_error(
    story, publisher, settings, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    settings.STATUSHUB_WEBSUB_HUB = HUB

    def broken(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(feed_tasks.websub_ping, "delay", broken)
    with django_capture_on_commit_callbacks(execute=True):
        update = services.update_publish(
            incident=story["incident"], author=publisher, status="postmortem", body="x"
        )
    assert update.pk
    assert "WebSub pings for update" in caplog.text


@respx.mock
def test_the_ping_is_the_form_post_hubs_expect():
    route = respx.post(HUB).mock(return_value=httpx.Response(204))
    feed_tasks.hub_ping(HUB, f"{SITE}/history.atom")
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.content == b"hub.mode=publish&hub.url=http%3A%2F%2Flocalhost%3A8000%2Fhistory.atom"


@respx.mock
@pytest.mark.parametrize(
    ("response", "permanent", "retry_after"),
    [
        (httpx.Response(503, headers={"Retry-After": "7"}), False, 7.0),
        (httpx.Response(429), False, None),
        (httpx.Response(400), True, None),
        (httpx.Response(404), True, None),
    ],
)
def test_a_refusing_hub_is_retried_only_when_retrying_can_help(response, permanent, retry_after):
    respx.post(HUB).mock(return_value=response)
    with pytest.raises(OutboundError) as raised:
        feed_tasks.hub_ping(HUB, f"{SITE}/history.atom")
    assert raised.value.permanent is permanent
    assert raised.value.retry_after == retry_after


@respx.mock
def test_an_unreachable_hub_is_retried():
    respx.post(HUB).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(OutboundError) as raised:
        feed_tasks.hub_ping(HUB, f"{SITE}/history.atom")
    assert not raised.value.permanent


def test_a_hub_setting_that_is_not_a_url_stops_the_process_at_start(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "statushub.settings",
        "STATUSHUB_VAR_DIR": str(tmp_path),
        "STATUSHUB_WEBSUB_HUB": "pubsubhubbub.appspot.com",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "STATUSHUB_WEBSUB_HUB must be the hub's http(s) URL" in result.stderr


class _Hub(BaseHTTPRequestHandler):
    pings: list[tuple[str, str]] = []
    refused_once = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).pings.append((self.headers["Content-Type"], body))
        # The first ping of the whole page's Atom feed fails, as a busy hub's might: it must be retried.
        page_atom = body.endswith("history.atom") and "components" not in body and "incidents" not in body
        if page_atom and not type(self).refused_once:
            type(self).refused_once = True
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[str]:
    _Hub.pings, _Hub.refused_once = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hub"
    server.shutdown()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_pings_the_hub_for_every_feed_the_update_is_in(
    worker, hub, settings, make_component, make_incident, publisher
):
    settings.STATUSHUB_WEBSUB_HUB = hub
    api = make_component("API")
    incident = make_incident("Login broken", public=False)
    services.update_publish(
        incident=incident,
        author=publisher,
        status="investigating",
        body="Looking into it.",
        component_statuses={api: S.PARTIAL_OUTAGE},
    )

    topics = [
        f"{SITE}/history.atom",
        f"{SITE}/history.rss",
        f"{SITE}/incidents/{incident.pk}/history.atom",
        f"{SITE}/incidents/{incident.pk}/history.rss",
        f"{SITE}/components/{api.pk}/history.atom",
        f"{SITE}/components/{api.pk}/history.rss",
    ]
    deadline = time.monotonic() + 30
    while len(_Hub.pings) < len(topics) + 1:  # one ping is refused once and retried
        assert time.monotonic() < deadline, _Hub.pings
        time.sleep(0.1)
    time.sleep(0.5)  # nothing more arrives
    assert {content_type for content_type, _ in _Hub.pings} == {"application/x-www-form-urlencoded"}
    forms = [parse_qs(body, strict_parsing=True) for _, body in _Hub.pings]
    assert all(form["hub.mode"] == ["publish"] for form in forms)
    urls = [url for form in forms for url in form["hub.url"]]
    assert sorted(urls) == sorted([*topics, f"{SITE}/history.atom"])


def test_each_components_feed_is_linked_from_the_subscribe_page(client, make_component):
    payments = make_component("Payments")
    page = client.get("/subscribe/").content.decode()
    assert f'href="/components/{payments.pk}/history.atom"' in page
    assert f'href="/components/{payments.pk}/history.rss"' in page
