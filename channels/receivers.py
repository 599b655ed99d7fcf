"""What the channels hear from the incident domain (which never imports them)."""

from typing import Any

from channels.services import deliveries_create
from incidents.models import IncidentUpdate


def write_deliveries(sender: Any, update: IncidentUpdate, **kwargs: Any) -> None:
    """``update_publishing``: inside the publish transaction, one delivery per enabled channel. If this raises,
    the publish rolls back with it: a delivery exists if and only if its update does."""
    deliveries_create(update=update)
