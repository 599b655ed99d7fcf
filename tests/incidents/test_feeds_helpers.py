"""Shared by the ``test_feeds*`` modules: what an Atom or RSS feed must be, and fetching one. No tests here."""

import calendar
import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from django.urls import reverse
from lxml import etree

from incidents.models import Component

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


def get_feed(client, name, *args):
    return client.get(reverse(f"feeds:{name}", args=args))


def utc_time(parsed: time.struct_time) -> datetime:
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
