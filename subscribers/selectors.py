"""Reads: who gets an update, and what the subscription forms offer."""

from dataclasses import dataclass

from django.db.models import Model, Q, QuerySet

from incidents.models import Component, ComponentGroup, IncidentUpdate
from subscribers.models import HookSubscription, MailDelivery, Subscriber


@dataclass
class ComponentChoiceGroup:
    group: ComponentGroup | None
    components: list[Component]


def component_groups() -> list[ComponentChoiceGroup]:
    """Components in page order, grouped as on the status page (one query)."""
    groups: list[ComponentChoiceGroup] = []
    components = Component.objects.select_related("group").order_by(
        "group__position", "group__id", "position"
    )
    for component in components:
        if not groups or groups[-1].group != component.group:
            groups.append(ComponentChoiceGroup(component.group, []))
        groups[-1].components.append(component)
    return groups


def update_component_ids(update: IncidentUpdate) -> set[int]:
    """The components an update is about: its incident's affected ones and any whose status it changed."""
    ids = set(update.incident.affected.values_list("component_id", flat=True))
    for change in update.affected_components or []:
        try:
            ids.add(int(change["code"]))
        except (KeyError, TypeError, ValueError):
            continue
    return ids


def _matching(
    queryset: QuerySet, through: type[Model], owner_field: str, component_ids: set[int]
) -> QuerySet:
    # An incident naming no component may touch anything: everyone hears about it.
    if not component_ids:
        return queryset
    chosen = through._default_manager.filter(component_id__in=component_ids).values(owner_field)
    return queryset.filter(Q(all_components=True) | Q(pk__in=chosen))


def subscribers_for(update: IncidentUpdate) -> QuerySet[Subscriber]:
    """Confirmed subscribers who asked for this update's components, and who subscribed before it was
    published (someone who joins later is not sent the backlog)."""
    queryset = Subscriber.objects.filter(state=Subscriber.State.ACTIVE, confirmed_at__lte=update.created_at)
    through = Subscriber.components.through
    return _matching(queryset, through, "subscriber_id", update_component_ids(update)).order_by("pk")


def hooks_for(update: IncidentUpdate) -> QuerySet[HookSubscription]:
    queryset = HookSubscription.objects.filter(
        state=HookSubscription.State.ACTIVE, confirmed_at__lte=update.created_at
    )
    through = HookSubscription.components.through
    return _matching(queryset, through, "hooksubscription_id", update_component_ids(update)).order_by("pk")


def thread_roots(*, update: IncidentUpdate, subscriber_ids: list[int]) -> dict[int, str]:
    """For each subscriber, the Message-ID of the first mail they were sent about the update's incident, if
    that was for an earlier update (one query, none for an incident's first update).

    Asked by (update, subscriber) pairs, the unique index answers it whatever the planner knows of the table:
    during a large fan-out its statistics lag behind, and a plan through the update's index alone reads every
    delivery of the update for each batch."""
    earlier = list(
        IncidentUpdate.objects.filter(incident_id=update.incident_id)
        .filter(
            Q(published_at__lt=update.published_at) | Q(published_at=update.published_at, pk__lt=update.pk)
        )
        .order_by("published_at", "pk")
        .values_list("pk", flat=True)
    )
    if not earlier:
        return {}
    order = {pk: index for index, pk in enumerate(earlier)}
    rows = (
        MailDelivery.objects.filter(update_id__in=earlier, subscriber_id__in=subscriber_ids)
        .exclude(state__in=[MailDelivery.State.SKIPPED, MailDelivery.State.DEAD])
        .values_list("subscriber_id", "update_id", "message_id")
    )
    roots: dict[int, tuple[int, str]] = {}
    for subscriber_id, update_id, message_id in rows:
        if subscriber_id not in roots or order[update_id] < roots[subscriber_id][0]:
            roots[subscriber_id] = (order[update_id], message_id)
    return {subscriber_id: message_id for subscriber_id, (_, message_id) in roots.items()}


def update_reach(update: IncidentUpdate) -> tuple[dict[str, dict[str, int]], bool]:
    """How many subscriber mails and hook posts an update made, by state, and whether any is still on its way
    (for the publisher's deliveries page)."""
    from django.db.models import Count

    from subscribers.models import HookDelivery, MailDelivery

    def by_state(model: type[MailDelivery] | type[HookDelivery]) -> dict[str, int]:
        rows = model.objects.filter(update=update).values("state").annotate(n=Count("id"))
        labels = dict(model.State.choices)
        return {str(labels[row["state"]]): row["n"] for row in rows}

    still_open = (
        MailDelivery.objects.filter(update=update, state__in=MailDelivery.OPEN_STATES).exists()
        or HookDelivery.objects.filter(update=update, state__in=HookDelivery.OPEN_STATES).exists()
    )
    reach = {
        "E-mail subscribers": by_state(MailDelivery),
        "Webhook and Slack subscribers": by_state(HookDelivery),
    }
    return reach, still_open
