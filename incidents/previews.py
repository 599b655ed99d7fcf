"""What a draft will look like once published: on the page, in the JSON, in the feeds, and the signed statement."""

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from incidents import feeds, signing
from incidents.documents import absolute
from incidents.drafts import draft_components
from incidents.models import Incident, IncidentUpdate, UpdateDraft
from incidents.permissions import PUBLISH
from incidents.selectors import TimelineEntry
from people.services import profile_for
from statushub.lib import signing as lib
from statushub.lib.markdown import render_markdown

PENDING = "(assigned when published)"
SIGNER_PENDING = "the publisher who publishes it"


def feed_entry_xml(
    *,
    incident: Incident,
    status: str,
    html: str,
    author: str,
    at: datetime,
    components: list[dict[str, str]],
    signer: str,
    kid: str,
    next_update_at: datetime | None,
    corrects: IncidentUpdate | None,
) -> dict[str, str]:
    """The entry as the Atom and RSS feeds will carry it, built by the feeds' own code (``incidents.feeds``)."""
    site = settings.STATUSHUB_SITE_URL
    entry = feeds.entry_for(
        incident=incident,
        public_id=PENDING,
        status=status,
        body_html=html,
        author=author,
        published=at,
        url=f"{site}/updates/{PENDING}/",
        json_url=f"{site}/updates/{PENDING}.json",
        statement_url=f"{site}/updates/{PENDING}/statement",
        signature=feeds.Signature(
            signer=signer,
            key=kid,
            value="(made when published)",
            key_url=f"{site}/.well-known/statushub/keys.json",
        ),
        affected_components=[
            {"code": c["id"], "name": c["name"], "new_status": c["status"]} for c in components
        ],
        next_update_at=next_update_at,
        corrects_url=absolute(reverse("status:update", args=[corrects.public_id])) if corrects else None,
    )
    return feeds.entry_xml(entry)


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
            status=draft.status,
            html=html,
            author=author,
            at=now,
            components=changes,
            # Only a publisher signs: anyone else previewing sees who will, not themselves.
            signer=(key.owner_name if key else profile.name) if user.has_perm(PUBLISH) else SIGNER_PENDING,
            kid=key.fingerprint if key else str(statement["kid"]),
            next_update_at=draft.next_update_at,
            corrects=draft.corrects,
        ),
    }
