"""Invalidate the public version whenever something the public can see changes.

Signals (not services) because the admin, services and tasks all write these rows,
and a missed invalidation would leave the open status page showing an old state.
"""

import logging
from collections.abc import Iterable
from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver

from incidents.models import (
    AffectedComponent,
    Component,
    ComponentGroup,
    Incident,
    IncidentUpdate,
    ProgressNote,
    PublicChange,
    SigningKey,
)
from people.models import Profile
from statushub.lib.after_commit import after_commit
from statushub.lib.public_cache import bump_public_version

log = logging.getLogger(__name__)

# --- What the domain tells the apps above it (which it never imports) ---------------------------------------
#
# Sent *inside* the publishing transaction (kwarg ``update``), with ``send``: a receiver writes what must exist if
# and only if the update does (the channels' deliveries, connected in ChannelsConfig.ready()). A receiver that
# raises rolls the whole publish back.
update_publishing = Signal()
# Sent once an update is published *and committed* (kwarg ``update``): subscribers, feeds' WebSub pings and
# other fan-out listen here, so a rolled-back publish never mails or pings anyone.
update_published = Signal()
# The following are sent on commit too, each receiver on its own (``send_robust``: one that fails is logged).
# The incident's first public update went out: kwargs ``incident``, ``update``.
incident_acknowledged = Signal()
# The incident's status moved: kwargs ``incident``, ``old``, ``new`` (Incident.Status values), ``by`` (a User or None).
incident_status_changed = Signal()
# It closed (resolved, postmortem or completed) having been open: kwargs ``incident``, ``by``.
incident_resolved = Signal()


def send_on_commit(signal: Signal, what: str, **kwargs: Any) -> None:
    """Send ``signal`` once the caller's transaction commits; never if it rolls back."""

    def send() -> None:
        for listener, result in signal.send_robust(sender=Incident, **kwargs):
            if isinstance(result, Exception):
                log.warning("After %s, %r failed", what, listener, exc_info=result)

    after_commit(send, what=what)


_PUBLIC_MODELS = (
    ComponentGroup, Component, Incident, AffectedComponent, IncidentUpdate, ProgressNote, SigningKey, Profile,
)  # fmt: skip


@receiver(post_save)
@receiver(post_delete)
def _bump_on_public_change(sender: type, **kwargs: Any) -> None:
    if sender in _PUBLIC_MODELS:
        # On its own: if Redis is down, the later hooks (deliveries, snapshot, fan-out) still run, and the
        # snapshot refresh that follows the outage bumps the version (incidents/tasks.py).
        after_commit(bump_public_version, what="the refresh of open pages")


# --- The public snapshot (incidents/snapshot.py) -----------------------------------------------------------


def record_public_change(incident_ids: Iterable[int] = ()) -> None:
    """Note, in the caller's transaction, what the snapshot must re-render; refresh it once that commits."""
    ids = sorted({pk for pk in incident_ids if pk})
    PublicChange.objects.bulk_create([PublicChange(incident_id=pk) for pk in ids] or [PublicChange()])
    # If the broker is down, the change is recorded all the same and the scheduler's periodic refresh renders it.
    after_commit(_refresh_snapshot, what="the public page snapshot", once=True)


def _refresh_snapshot() -> None:
    from incidents.tasks import refresh_snapshot

    refresh_snapshot.delay()


def _incidents_touched(sender: type, instance: Any) -> Iterable[int]:
    if sender is Incident:
        return [instance.pk]
    if sender in (IncidentUpdate, ProgressNote, AffectedComponent):
        return [instance.incident_id]
    if sender is Component:
        # Incident pages name the components they affected.
        return AffectedComponent.objects.filter(component_id=instance.pk).values_list(
            "incident_id", flat=True
        )
    if sender is Profile:
        # Timelines show their authors' photos.
        updates = IncidentUpdate.objects.filter(author_id=instance.user_id)
        return updates.values_list("incident_id", flat=True).distinct()
    return []


@receiver(post_save)
@receiver(post_delete)
def _record_for_snapshot(sender: type, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if sender in _PUBLIC_MODELS and not raw:
        record_public_change(_incidents_touched(sender, instance))
