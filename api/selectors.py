"""Reads for the engineers' API, each shaped so a page of results costs a fixed number of queries."""

from django.db.models import Prefetch, QuerySet

from channels.models import Delivery
from incidents.models import AffectedComponent, Component, Incident, IncidentUpdate, UpdateDraft


def incidents_for_api(*, status: str = "open") -> QuerySet[Incident]:
    """Newest first. ``status``: open, closed, all, or one incident status."""
    queryset = Incident.objects.prefetch_related(
        Prefetch(
            "affected",
            queryset=AffectedComponent.objects.select_related("component").order_by(
                "component__position", "component__name", "component_id"
            ),
        ),
        Prefetch(
            "drafts",
            queryset=UpdateDraft.objects.filter(published_update__isnull=True).order_by("-id"),
            to_attr="open_drafts",
        ),
    )
    if status == "open":
        queryset = queryset.exclude(status__in=Incident.CLOSED_STATUSES)
    elif status == "closed":
        queryset = queryset.filter(status__in=Incident.CLOSED_STATUSES)
    elif status != "all":
        queryset = queryset.filter(status=status)
    return queryset.order_by("-id")


def components_for_api() -> QuerySet[Component]:
    return Component.objects.select_related("group").order_by(
        "group__position", "group__name", "position", "name", "id"
    )


def deliveries_for_update(update: IncidentUpdate) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(update=update)
        .select_related("channel")
        .order_by("channel__kind", "channel__name", "id")
    )
