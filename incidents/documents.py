"""JSON documents the public reads (see docs/signing-wire-format.md). Issue 5 adds the Statuspage v2 shapes here."""

from typing import Any

from django.conf import settings
from django.urls import reverse

from incidents.models import Incident, IncidentUpdate, SigningKey
from statushub.lib import signing as lib


def absolute(path: str) -> str:
    return f"{settings.STATUSHUB_SITE_URL}{path}"


def update_document(update: IncidentUpdate) -> dict[str, Any]:
    return {
        "id": update.public_id,
        "incident_id": str(update.incident_id),
        "seq": update.seq,
        "status": update.status,
        "body": update.body,
        "author": {"name": update.author_name, "title": update.author_title},
        "published_at": lib.format_time(update.published_at),
        "next_update_at": lib.format_time(update.next_update_at) if update.next_update_at else None,
        "corrects": update.corrects.public_id if update.corrects else None,
        "signature": update.signature,
        "kid": update.signing_key.kid if update.signing_key else None,
        "statement_url": absolute(reverse("status:update-statement", args=[update.public_id])),
        "statement_sha256": update.statement_sha256,
        "prev": update.prev_sha256 or None,
    }


def incident_document(incident: Incident) -> dict[str, Any]:
    """An incident with its signed updates, newest first (Statuspage-like names; issue 5 completes the v2 shape)."""
    return {
        "id": str(incident.pk),
        "name": incident.title,
        "status": incident.status,
        "impact": incident.impact,
        "started_at": lib.format_time(incident.started_at) if incident.started_at else None,
        "resolved_at": lib.format_time(incident.resolved_at) if incident.resolved_at else None,
        "shortlink": absolute(reverse("status:incident", args=[incident.pk])),
        "incident_updates": [
            {**update_document(update), "display_at": lib.format_time(update.published_at)}
            for update in incident.updates.all()
            if update.is_signed
        ],
    }


def key_document(key: SigningKey) -> dict[str, Any]:
    return {
        **lib.public_jwk(bytes(key.public_key)),
        "owner": {"name": key.owner_name, "title": key.owner_title},
        "created": lib.format_time(key.created_at),
        "revoked": lib.format_time(key.revoked_at) if key.revoked_at else None,
    }


def chain_entry(update: IncidentUpdate) -> dict[str, Any]:
    return {
        "seq": update.seq,
        "update_id": update.public_id,
        "update_url": absolute(reverse("status:update", args=[update.public_id])),
        "statement_url": absolute(reverse("status:update-statement", args=[update.public_id])),
        "sha256": update.statement_sha256,
        "prev": update.prev_sha256 or None,
        "signature": update.signature,
        "kid": update.signing_key.kid if update.signing_key else None,
        "published_at": lib.format_time(update.published_at),
    }
