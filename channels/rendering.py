"""One message per update; each channel gets it fitted to its own limits (per-service rules grow here)."""

import re
from collections.abc import Callable

from django.urls import reverse

from channels.models import Channel
from channels.transports import Message
from incidents.documents import absolute, update_document
from incidents.models import Incident, IncidentUpdate


def render(update: IncidentUpdate, channel: Channel) -> Message:
    incident = update.incident
    status = dict(Incident.Status.choices).get(update.status, update.status)
    url = absolute(reverse("status:update", args=[update.public_id]))
    title = f"{incident.title} — {status}"
    document = {
        **update_document(update),
        "incident": {
            "id": str(incident.pk),
            "name": incident.title,
            "status": incident.status,
            "impact": incident.impact,
        },
        "url": url,
    }
    return Message(url=url, title=title, author=update.author_line, document=document)


_URL = re.compile(r"https?://\S+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


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
    for pieces, joiner in ((_SENTENCE_END.split(body), " "), (body.split(" "), " ")):
        kept: list[str] = []
        for piece in pieces:
            if measure(compose(joiner.join([*kept, piece]), True)) > limit:
                break
            kept.append(piece)
        if kept:
            return compose(joiner.join(kept), True), True
    return compose("", True), True
