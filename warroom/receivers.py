"""The war room listens to the incident domain's events (connected in WarroomConfig.ready())."""

from typing import Any

from incidents.models import Incident, IncidentUpdate
from warroom import services


def on_update_publishing(sender: Any, update: IncidentUpdate, **kwargs: Any) -> None:
    """Inside the publish transaction: a promise is kept or made only if the update is."""
    services.on_update_publishing(update)


def on_incident_resolved(sender: Any, incident: Incident, **kwargs: Any) -> None:
    services.on_incident_closed(incident)
