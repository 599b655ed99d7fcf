"""RSS 2.0 and Atom feeds of published updates: the whole page, one component, one incident.

One entry per signed update, so a feed reader alerts on every update, not once per incident. Entry ids are
tag URIs that never change (``tag:<host>,2005:Update/<public_id>``, the form Statuspage uses for incidents), and
every time in a feed is a publication time, never the time the feed was generated: an unchanged feed is
byte-for-byte the same, which readers and the WebSub hub rely on. The compose preview builds its feed entry
with the same code (``entry_xml``), so what a publisher previews is what readers get.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from incidents.documents import absolute
from incidents.models import AffectedComponent, Component, Incident, IncidentUpdate

Format = Literal["atom", "rss"]
FORMATS: tuple[Format, ...] = ("atom", "rss")
CONTENT_TYPES: dict[Format, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
}
# Enough for any reader to catch up after a long absence; older updates stay on the history pages.
MAX_ENTRIES = 50
# Statuspage's tagging date: ids must never change once a reader has seen them, so this is fixed for good.
TAG_DATE = "2005"
# An empty feed still needs an <updated>; a fixed instant keeps it stable (and its ETag meaningful).
EMPTY_FEED_UPDATED = datetime(2000, 1, 1, tzinfo=UTC)
_ATOM_NS = "http://www.w3.org/2005/Atom"


def tag_host() -> str:
    # A tag URI names a domain, never a port (RFC 4151).
    return urlsplit(settings.STATUSHUB_SITE_URL).hostname or "localhost"


def tag_id(specific: str) -> str:
    return f"tag:{tag_host()},{TAG_DATE}:{specific}"


@dataclass(frozen=True)
class Scope:
    """Which updates a feed carries and how it presents itself."""

    name: str  # the url name prefix in incidents/feed_urls.py: history, component, incident
    args: tuple[int, ...]
    title: str
    description: str
    page_url: str  # the HTML page this feed mirrors
    empty_updated: datetime = EMPTY_FEED_UPDATED

    @property
    def id(self) -> str:
        return tag_id(reverse(f"feeds:{self.name}-atom", args=self.args).removesuffix(".atom"))

    def url(self, fmt: Format) -> str:
        return absolute(reverse(f"feeds:{self.name}-{fmt}", args=self.args))


def page_scope() -> Scope:
    site = settings.STATUSHUB_SITE_NAME
    return Scope(
        "history",
        (),
        f"{site} status",
        f"Every incident and maintenance update published on the {site} status page.",
        absolute(reverse("status:page")),
    )


def component_scope(component: Component) -> Scope:
    site = settings.STATUSHUB_SITE_NAME
    return Scope(
        "component",
        (component.pk,),
        f"{site} status: {component.name}",
        f"Every update on incidents and maintenance affecting {component.name}.",
        absolute(reverse("status:page")),
        empty_updated=component.created_at.replace(microsecond=0),
    )


def incident_scope(incident: Incident) -> Scope:
    site = settings.STATUSHUB_SITE_NAME
    kind = "maintenance" if incident.is_maintenance else "incident"
    return Scope(
        "incident",
        (incident.pk,),
        f"{site} status: {incident.title}",
        f"Every update on this {kind}, as published on the {site} status page.",
        absolute(reverse("status:incident", args=[incident.pk])),
        empty_updated=(incident.acknowledged_at or incident.created_at).replace(microsecond=0),
    )


def feed_updates(
    *, component: Component | None = None, incident: Incident | None = None
) -> list[IncidentUpdate]:
    """The newest published (signed) updates of public incidents, newest first: one query."""
    updates: QuerySet[IncidentUpdate] = IncidentUpdate.objects.exclude(signature="").filter(
        incident__acknowledged_at__isnull=False
    )
    if component is not None:
        updates = updates.filter(incident__components=component)
    if incident is not None:
        updates = updates.filter(incident=incident)
    return list(
        updates.select_related("incident", "signing_key", "corrects").order_by("-published_at", "-id")[
            :MAX_ENTRIES
        ]
    )


def feed_topics(update: IncidentUpdate) -> list[str]:
    """Every feed URL a newly published update appears in: what a WebSub hub must be told about."""
    component_ids = set(
        AffectedComponent.objects.filter(incident_id=update.incident_id).values_list(
            "component_id", flat=True
        )
    )
    component_ids |= {int(c["code"]) for c in update.affected_components if str(c.get("code", "")).isdigit()}
    scopes = [
        page_scope(),
        incident_scope(update.incident),
        *(component_scope(c) for c in Component.objects.filter(pk__in=component_ids).order_by("pk")),
    ]
    return [scope.url(fmt) for scope in scopes for fmt in FORMATS]


# --- Entries -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    signer: str
    key: str  # the key's fingerprint
    value: str
    key_url: str


@dataclass(frozen=True)
class Entry:
    """One update as every feed shows it."""

    id: str
    title: str
    url: str  # the update on the page
    json_url: str
    statement_url: str
    html: str  # the rendered body with the footer (author, status, signature)
    author: str
    published: datetime
    status: str
    status_label: str


def _when(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def entry_for(
    *,
    incident: Incident,
    public_id: str,
    status: str,
    body_html: str,
    author: str,
    published: datetime,
    url: str,
    json_url: str,
    statement_url: str,
    signature: Signature | None,
    affected_components: list[dict[str, Any]],
    next_update_at: datetime | None = None,
    corrects_url: str | None = None,
) -> Entry:
    """Build an entry from an update's parts: published updates and the compose preview both come here."""
    labels = dict(Incident.Status.choices)
    component_labels = dict(Component.Status.choices)
    status_label = labels.get(status, status)
    prefix = "Maintenance: " if incident.is_maintenance else ""
    title = f"{prefix}{incident.title} — {status_label}" + (" (correction)" if corrects_url else "")
    lines = [format_html("Posted by {} · Status: {}", author, status_label)]
    if affected_components:
        lines.append(
            format_html(
                "Components: {}",
                format_html_join(
                    ", ",
                    "{} ({})",
                    (
                        (c["name"], component_labels.get(c["new_status"], c["new_status"]))
                        for c in affected_components
                    ),
                ),
            )
        )
    if corrects_url:
        lines.append(format_html('This corrects <a href="{}">an earlier update</a>.', corrects_url))
    if next_update_at:
        lines.append(format_html("Next update expected by {}.", _when(next_update_at)))
    if signature:
        lines.append(
            format_html(
                'Signed by {} with key <a href="{}"><code>{}</code></a>. Signature (Ed25519, base64): '
                '<code>{}</code>. <a href="{}">Signed statement</a> · <a href="{}">details (JSON)</a>. '
                "Verify with <code>statushub verify {}</code>.",
                signature.signer,
                signature.key_url,
                signature.key,
                signature.value,
                statement_url,
                json_url,
                url,
            )
        )
    footer = format_html_join("", "<p><small>{}</small></p>", ((line,) for line in lines))
    return Entry(
        id=tag_id(f"Update/{public_id}"),
        title=title,
        url=url,
        json_url=json_url,
        statement_url=statement_url,
        html=f"{body_html}<hr>{footer}",
        author=author,
        published=published,
        status=status,
        status_label=status_label,
    )


def update_entry(update: IncidentUpdate) -> Entry:
    """Expects ``incident``, ``signing_key`` and ``corrects`` selected (see ``feed_updates``)."""
    key = update.signing_key
    signature = None
    if key is not None and update.signature:
        signature = Signature(
            signer=key.owner_name,
            key=key.fingerprint,
            value=update.signature,
            key_url=absolute(reverse("status:key-pem", args=[key.kid])),
        )
    return entry_for(
        incident=update.incident,
        public_id=update.public_id,
        status=update.status,
        body_html=update.body_html,
        author=update.author_line,
        published=update.published_at,
        url=absolute(reverse("status:update", args=[update.public_id])),
        json_url=absolute(reverse("status:update-json", args=[update.public_id])),
        statement_url=absolute(reverse("status:update-statement", args=[update.public_id])),
        signature=signature,
        affected_components=update.affected_components,
        next_update_at=update.next_update_at,
        corrects_url=absolute(reverse("status:update", args=[update.corrects.public_id]))
        if update.corrects
        else None,
    )


# --- Feeds ---------------------------------------------------------------------------------------------


class _HubLinkExtension(BaseExtension):
    """feedgen writes only the rel="self" atom:link into RSS; WebSub subscribers also need rel="hub" there."""

    hub = ""

    def extend_ns(self) -> dict[str, str]:
        return {"atom": _ATOM_NS}

    def extend_rss(self, rss_feed: Any) -> Any:
        if self.hub:
            channel = rss_feed.find("channel")
            etree.SubElement(channel, f"{{{_ATOM_NS}}}link", href=self.hub, rel="hub")
        return rss_feed


class _EntryLinksExtension(BaseEntryExtension):
    """An entry's links, written whole: feedgen 1.0 drops the rel, type and title of entry links (a variable
    is shadowed in ``FeedEntry.atom_entry``), which would turn the statement link into a second alternate."""

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []

    def extend_atom(self, entry: Any) -> Any:
        for link in self.links:
            etree.SubElement(entry, "link", **link)
        return entry

    def extend_rss(self, item: Any) -> Any:
        page = next(link["href"] for link in self.links if link.get("type") == "text/html")
        etree.SubElement(item, "link").text = page
        return item


def _add_entry(feed: FeedGenerator, entry: Entry) -> None:
    item = feed.add_entry(order="append")
    item.id(entry.id)
    item.title(entry.title)
    item.links.links = [
        {"href": entry.url, "rel": "alternate", "type": "text/html"},
        {
            "href": entry.json_url,
            "rel": "alternate",
            "type": "application/json",
            "title": "Update and signature",
        },
        {
            "href": entry.statement_url,
            "rel": "related",
            "type": "application/octet-stream",
            "title": "Signed statement",
        },
    ]
    item.content(entry.html, type="html")
    item.author({"name": entry.author})
    item.dc.dc_creator(entry.author)  # RSS's own <author> must be an e-mail address, which we never publish
    item.category(term=entry.status, label=entry.status_label)
    item.published(entry.published)
    item.updated(entry.published)  # updates are never edited in place: a correction is a new entry
    item.pubDate(entry.published)


def _new_feed(scope: Scope, fmt: Format, *, updated: datetime) -> FeedGenerator:
    feed = FeedGenerator()
    feed.load_extension("dc", atom=False, rss=True)
    hub = settings.STATUSHUB_WEBSUB_HUB
    feed.register_extension("websub", _HubLinkExtension, None, atom=False, rss=True)
    feed.websub.hub = hub
    feed.register_extension("links", BaseExtension, _EntryLinksExtension)
    feed.id(scope.id)
    feed.title(scope.title)
    feed.subtitle(scope.description)  # also RSS's <description>
    feed.author({"name": settings.STATUSHUB_SITE_NAME})
    feed.language("en")
    feed.generator("StatusHub")
    feed.link(href=scope.url(fmt), rel="self", type=CONTENT_TYPES[fmt].split(";")[0])
    if hub:
        feed.link(href=hub, rel="hub")
    # RSS keeps the last link as the channel's <link>: the page goes last.
    feed.link(href=scope.page_url, rel="alternate", type="text/html")
    feed.updated(updated)
    feed.lastBuildDate(updated)
    feed.pubDate(updated)
    return feed


def render_feed(scope: Scope, updates: list[IncidentUpdate], fmt: Format) -> bytes:
    entries = [update_entry(update) for update in updates]
    updated = max((entry.published for entry in entries), default=scope.empty_updated)
    feed = _new_feed(scope, fmt, updated=updated)
    for entry in entries:
        _add_entry(feed, entry)
    return bytes(feed.atom_str(pretty=True) if fmt == "atom" else feed.rss_str(pretty=True))


def link_header(scope: Scope, fmt: Format) -> str:
    """WebSub discovery (W3C WebSub §4): the hub and the topic's canonical URL, also as HTTP headers."""
    links = [f'<{scope.url(fmt)}>; rel="self"']
    if settings.STATUSHUB_WEBSUB_HUB:
        links.insert(0, f'<{settings.STATUSHUB_WEBSUB_HUB}>; rel="hub"')
    return ", ".join(links)


def entry_xml(entry: Entry) -> dict[str, str]:
    """One entry exactly as the page's Atom and RSS feeds carry it, for the compose preview."""
    out: dict[str, str] = {}
    for fmt in FORMATS:
        feed = _new_feed(page_scope(), fmt, updated=entry.published)
        _add_entry(feed, entry)
        text = (feed.atom_str(pretty=True) if fmt == "atom" else feed.rss_str(pretty=True)).decode()
        tag = "entry" if fmt == "atom" else "item"
        out[fmt] = text[text.index(f"<{tag}>") : text.index(f"</{tag}>") + len(f"</{tag}>")]
    return out
