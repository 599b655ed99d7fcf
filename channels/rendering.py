"""One message per update; each channel gets it fitted to its own limits (per-service rules grow here)."""

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
    text = f"{title}\n\n{update.body.strip()}\n\n— {update.author_line}\n{url}"
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
    return Message(text=text, url=url, title=title, document=document)
