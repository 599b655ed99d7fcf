"""Invalidate the public version whenever something the public can see changes.

Signals (not services) because the admin, services and tasks all write these rows,
and a missed invalidation would leave the open status page showing an old state.
"""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal, receiver

from incidents.models import (
    AffectedComponent,
    Component,
    ComponentGroup,
    Incident,
    IncidentUpdate,
    ProgressNote,
    SigningKey,
)
from people.models import Profile
from statushub.lib.public_cache import bump_public_version

# Sent once an update is published *and committed* (kwarg ``update``): subscribers, feeds' WebSub pings and
# other fan-out listen here, so a rolled-back publish never mails or pings anyone.
update_published = Signal()

_PUBLIC_MODELS = (
    ComponentGroup, Component, Incident, AffectedComponent, IncidentUpdate, ProgressNote, SigningKey, Profile,
)  # fmt: skip


@receiver(post_save)
@receiver(post_delete)
def _bump_on_public_change(sender: type, **kwargs: Any) -> None:
    if sender in _PUBLIC_MODELS:
        transaction.on_commit(bump_public_version)
