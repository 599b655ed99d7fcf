"""Reads for inbound alerts."""

from django.contrib.auth.models import User
from django.db.models import QuerySet

from alerts.models import Alert
from incidents.models import Incident
from people import roles


def team_to_notify() -> QuerySet[User]:
    """Who hears of an incident an alert opened: the people who can speak for it (publishers, communicators)."""
    return (
        User.objects.filter(is_active=True, groups__name__in=[roles.PUBLISHER, roles.COMMUNICATOR])
        .exclude(email="")
        .distinct()
        .order_by("email")
    )


def incident_alerts(incident: Incident) -> list[Alert]:
    return list(
        Alert.objects.filter(incident=incident)
        .select_related("component", "source")
        .order_by("starts_at", "id")
    )
