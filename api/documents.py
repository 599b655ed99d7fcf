"""The JSON the engineers' API answers with, built from rows already loaded (see ``api/selectors.py``)."""

from typing import Any

from django.urls import reverse

from channels.models import Delivery
from incidents.documents import absolute
from incidents.models import Component, Incident, ProgressNote
from people.models import ApiToken


def token_document(token: ApiToken) -> dict[str, Any]:
    return {
        "name": token.name,
        "prefix": token.display_prefix,
        "owner": token.owner.get_username(),
        "scopes": token.scopes,
        "expires_at": token.expires_at,
    }


def component_document(component: Component) -> dict[str, Any]:
    return {
        "id": component.pk,
        "name": component.name,
        "group": component.group.name if component.group else None,
        "status": component.status,
        "updated_at": component.updated_at,
    }


def incident_document(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.pk,
        "title": incident.title,
        "kind": incident.kind,
        "severity": incident.severity,
        "impact": incident.impact,
        "status": incident.status,
        "public": incident.is_public,
        "detected_at": incident.detected_at,
        "started_at": incident.started_at,
        "acknowledged_at": incident.acknowledged_at,
        "resolved_at": incident.resolved_at,
        "components": _components(incident),
        "compose_url": absolute(reverse("manage:compose", args=[incident.pk])),
        "admin_url": absolute(reverse("admin:incidents_incident_change", args=[incident.pk])),
        "public_url": absolute(reverse("status:incident", args=[incident.pk]))
        if incident.is_public
        else None,
    }


def _components(incident: Incident) -> list[dict[str, Any]]:
    """What the incident affects publicly; before that, what its draft proposes (``proposed: true``)."""
    affected = [
        {"id": row.component_id, "name": row.component.name, "status": row.status, "proposed": False}
        for row in incident.affected.all()
    ]
    drafts = getattr(incident, "open_drafts", None)
    if drafts is None:
        drafts = list(incident.drafts.filter(published_update__isnull=True).order_by("-id"))
    proposed = drafts[0].component_statuses if drafts else {}
    known = {row["id"] for row in affected}
    ids = [int(pk) for pk in proposed if str(pk).isdigit() and int(pk) not in known]
    names = dict(Component.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    return affected + [
        {"id": pk, "name": names[pk], "status": proposed[str(pk)], "proposed": True}
        for pk in ids
        if pk in names
    ]


def note_document(note: ProgressNote) -> dict[str, Any]:
    return {
        "id": note.pk,
        "incident_id": note.incident_id,
        "text": note.text,
        "public": note.is_public,
        "on_public_timeline": note.is_public and note.incident.is_public,
        "author": note.author_name,
        "created_at": note.created_at,
    }


def delivery_document(delivery: Delivery) -> dict[str, Any]:
    channel = delivery.channel
    return {
        "id": delivery.pk,
        "channel": {
            "id": channel.pk,
            "kind": channel.kind,
            "name": channel.name,
            "personal": channel.is_personal,
        },
        "state": delivery.state,
        "state_label": delivery.get_state_display(),
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "next_attempt_at": delivery.next_attempt_at,
        "delivered_at": delivery.delivered_at,
        "dry_run": delivery.dry_run,
        "remote_url": delivery.remote_url,
        "updated_at": delivery.updated_at,
    }
