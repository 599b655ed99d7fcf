"""One message per update; each channel gets it fitted to its own limits (per-service rules grow here)."""

from typing import Any

from django.conf import settings
from django.urls import reverse

from channels.models import Channel
from incidents.documents import absolute, update_document
from incidents.models import Incident, IncidentUpdate
from integrations.base import Message


def message_for(
    *, incident: Incident, status: str, author_name: str, author_title: str, url: str,
    document: dict[str, Any], personal: bool, incident_status: str | None = None,
) -> Message:  # fmt: skip
    """The one message every channel fits to itself.

    On a person's own account the post is already in their name, so it says which company's status it is
    and in what capacity they speak ("CEO, Northwind Cloud") instead of repeating their name.
    """
    label = dict(Incident.Status.choices).get(status, status)
    site = settings.STATUSHUB_SITE_NAME
    if personal:
        title = f"{site}: {incident.title} — {label}"
        author = f"{author_title}, {site}" if author_title else f"{author_name} for {site}"
    else:
        title = f"{incident.title} — {label}"
        author = f"{author_name}, {author_title}" if author_title else author_name
    document = {
        **document,
        "incident": {"id": str(incident.pk), "name": incident.title, "status": incident_status or incident.status, "impact": incident.impact},
        "url": url,
    }  # fmt: skip
    return Message(url=url, title=title, author=author, document=document)


def render(update: IncidentUpdate, channel: Channel) -> Message:
    return message_for(
        incident=update.incident, status=update.status, author_name=update.author_name,
        author_title=update.author_title, url=absolute(reverse("status:update", args=[update.public_id])),
        document=update_document(update), personal=channel.owner_id is not None, incident_status=update.status,
    )  # fmt: skip
