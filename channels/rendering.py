"""One message per update; each channel gets it fitted to its own limits (per-service rules grow here)."""

import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.urls import reverse

from channels.models import Channel
from channels.transports import Message
from incidents.documents import absolute, update_document
from incidents.models import Incident, IncidentUpdate


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


# The words that carry the link to the signed update where a service shows links behind text.
LINK_TEXT = "Signed update"

_URL = re.compile(r"https?://\S+")


def linked_length(text: str, *, url_weight: int = 23) -> int:
    """Characters as Mastodon and X count them: every link weighs the same, whatever its length."""
    return len(_URL.sub("x" * url_weight, text))


def fit(
    *, head: str, body: str, tail: str, limit: int, measure: Callable[[str], int] = len
) -> tuple[str, bool]:
    """``head``, as much of ``body`` as fits, ``tail``: never cutting a word, preferring whole sentences.

    Returns the text and whether the body was shortened (the link in ``tail`` leads to the whole update).
    """

    def compose(part: str, cut: bool) -> str:
        return f"{head}\n\n{part}{' …' if cut else ''}\n\n{tail}" if part else f"{head}\n\n{tail}"

    body = " ".join(body.split())
    if measure(compose(body, False)) <= limit:
        return compose(body, False), False
    # Pieces keep the space after them, so sentences written without spaces rejoin exactly.
    sentences = [m.group() for m in re.finditer(r".+?(?:[.!?](?:\s+|$)|[\u3002\uff01\uff1f]|$)", body)]
    words = [f"{word} " for word in body.split(" ")]
    for pieces in (sentences, words):
        kept = ""
        for piece in pieces:
            if measure(compose((kept + piece).rstrip(), True)) > limit:
                break
            kept += piece
        if kept.strip():
            return compose(kept.rstrip(), True), True
    if measure(compose("", True)) <= limit:
        return compose("", True), True
    # Even the title is too long: keep as many of its words as fit; the link still leads to everything.
    words = head.split(" ")
    while len(words) > 1 and measure(f"{' '.join(words)} …\n\n{tail}") > limit:
        words.pop()
    return f"{' '.join(words)} …\n\n{tail}", True
