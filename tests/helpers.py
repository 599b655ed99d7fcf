"""Small helpers the tests of several apps share (fixtures are in conftest.py)."""

from typing import Any

from django.contrib.auth.models import User

from incidents import services
from incidents.models import Incident, IncidentUpdate


def publish(
    incident: Incident,
    author: User,
    body: str = "We found the cause.",
    status: str = "identified",
    **kwargs: Any,
) -> IncidentUpdate:
    """A signed public update, as a publisher's Publish button makes it."""
    return services.update_publish(incident=incident, author=author, status=status, body=body, **kwargs)
