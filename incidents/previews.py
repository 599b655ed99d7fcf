"""What a draft will look like once published: on the page, in the JSON, in the feeds, and the signed statement."""

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from feedgen.feed import FeedGenerator

from incidents import signing
from incidents.drafts import draft_components
from incidents.models import Incident, UpdateDraft
from incidents.selectors import TimelineEntry
from people.services import profile_for
from statushub.lib import signing as lib
from statushub.lib.markdown import render_markdown

PENDING = "(assigned when published)"


def feed_entry_xml(
    *, incident: Incident, entry_id: str, title: str, html: str, author: str, at: Any
) -> dict[str, str]:
    """One feed entry as feedgen writes it, in Atom and RSS: the same code the feeds use."""
    feed = FeedGenerator()
    feed.id(f"{settings.STATUSHUB_SITE_URL}/")
    feed.title(f"{settings.STATUSHUB_SITE_NAME} status")
    feed.link(href=f"{settings.STATUSHUB_SITE_URL}/")
    feed.description(f"{settings.STATUSHUB_SITE_NAME} status updates")
    item = feed.add_entry()
    item.id(entry_id)
    item.title(title)
    item.link(href=f"{settings.STATUSHUB_SITE_URL}/incidents/{incident.pk}/")
    item.content(html, type="CDATA")
    item.author({"name": author})
    item.published(at)
    item.updated(at)
    atom = feed.atom_str(pretty=True).decode()
    rss = feed.rss_str(pretty=True).decode()
    return {
        "atom": atom[atom.index("<entry>") : atom.index("</entry>") + len("</entry>")],
        "rss": rss[rss.index("<item>") : rss.index("</item>") + len("</item>")],
    }


def draft_document(draft: UpdateDraft, author_name: str, author_title: str, kid: str) -> dict[str, Any]:
    """The update as the JSON API (and each channel) will carry it, with what publishing fills in marked."""
    return {
        "id": PENDING,
        "incident_id": str(draft.incident_id),
        "seq": PENDING,
        "status": draft.status,
        "body": draft.body,
        "author": {"name": author_name, "title": author_title},
        "published_at": "(the moment you publish)",
        "next_update_at": lib.format_time(draft.next_update_at) if draft.next_update_at else None,
        "corrects": draft.corrects.public_id if draft.corrects else None,
        "signature": "(made when published)",
        "kid": kid,
        "statement_url": f"{settings.STATUSHUB_SITE_URL}/updates/{PENDING}/statement",
        "statement_sha256": "(computed when published)",
        "prev": "(the previous update's digest)",
    }


def preview_context(draft: UpdateDraft, user: User) -> dict[str, Any]:
    incident = draft.incident
    profile = profile_for(user)
    author = f"{profile.name}, {profile.title}" if profile.title else profile.name
    now = timezone.now().replace(microsecond=0)
    html = render_markdown(draft.body)
    status_label = dict(Incident.Status.choices).get(draft.status, draft.status)
    changes = signing.component_entries(draft_components(draft))
    key = signing.active_key(user)
    statement = {
        "v": 1,
        "kid": key.kid if key else "(generated on first publish)",
        "site": settings.STATUSHUB_SITE_URL,
        "incident": str(incident.pk),
        "update": PENDING,
        "seq": PENDING,
        "status": draft.status,
        "impact": incident.impact,
        "components": changes,
        "body": draft.body,
        "author": {"name": profile.name, "title": profile.title},
        "published_at": "(the moment you publish)",
        "corrects": draft.corrects.public_id if draft.corrects else None,
        "prev": "(the previous update's digest)",
    }
    document = draft_document(draft, profile.name, profile.title, str(statement["kid"]))
    entry = TimelineEntry(
        "update", now, draft.status, status_label, html, author, "preview", corrects=draft.corrects
    )
    return {
        "entry": entry,
        "author": author,
        "profile": profile,
        "page_html": html,
        "document_json": json.dumps(document, indent=2, ensure_ascii=False),
        "statement_json": json.dumps(statement, indent=2, ensure_ascii=False, sort_keys=True),
        "feeds": feed_entry_xml(
            incident=incident,
            entry_id=f"tag:{settings.STATUSHUB_SITE_URL.split('//')[-1].split('/')[0]},2026:Update/{PENDING}",
            title=f"{incident.title} — {status_label}",
            html=html,
            author=author,
            at=now,
        ),
    }
