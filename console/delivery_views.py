"""Where did the update land? Live per-channel delivery state, with retry and cancel."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from channels import engine, services
from channels.models import Delivery
from channels.permissions import can_act_on_deliveries
from incidents.models import IncidentUpdate
from incidents.permissions import COMPOSE
from people.access import permission_required
from subscribers.selectors import update_reach


def _context(update: IncidentUpdate) -> dict[str, object]:
    deliveries = list(
        Delivery.objects.filter(update=update)
        .select_related("channel", "posted_by")
        .order_by("channel__kind", "channel__name")
    )
    reach, reach_open = update_reach(update)
    return {
        "update": update,
        "deliveries": deliveries,
        "reach": reach,
        "open": any(d.state in Delivery.OPEN_STATES for d in deliveries) or reach_open,
        "counts": {state.label: sum(d.state == state for d in deliveries) for state in Delivery.State},
    }


@permission_required(COMPOSE)
def deliveries(request: HttpRequest, public_id: str) -> HttpResponse:
    update = get_object_or_404(IncidentUpdate.objects.select_related("incident"), public_id=public_id)
    template = "manage/_deliveries.html" if getattr(request, "htmx", False) else "manage/deliveries.html"
    return render(request, template, _context(update))


@require_POST
@permission_required(COMPOSE)
def delivery_action(request: HttpRequest, pk: int) -> HttpResponse:
    # An update's deliveries; replies and private messages are acted on from the hub's own pages.
    delivery = get_object_or_404(
        Delivery.objects.select_related("update", "channel"), pk=pk, update__isnull=False
    )
    update = delivery.update
    assert update is not None
    if not can_act_on_deliveries(request.user, delivery.channel):  # type: ignore[arg-type]
        raise PermissionDenied("Only its owner can retry, cancel or post on a personal account's behalf.")
    if request.POST.get("action") == "retry":
        engine.delivery_retry(delivery=delivery)
    elif request.POST.get("action") == "cancel":
        engine.delivery_cancel(delivery=delivery)
    elif request.POST.get("action") == "posted":
        user: Any = request.user
        try:
            services.delivery_mark_posted(delivery=delivery, by=user, url=request.POST.get("url", ""))
        except services.ManualPostError as exc:
            context = {**_context(update), "errors": {delivery.pk: str(exc)}}
            partial = getattr(request, "htmx", False)
            return render(
                request, "manage/_deliveries.html" if partial else "manage/deliveries.html", context
            )
    if getattr(request, "htmx", False):
        return render(request, "manage/_deliveries.html", _context(update))
    return redirect("manage:deliveries", public_id=update.public_id)
