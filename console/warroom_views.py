"""The incident console: the war room of one incident, live over htmx (the clock, roster, promises and flow
refresh every few seconds; the forms never do, so nobody loses what they are typing)."""

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from channels.models import Delivery
from console.warroom_forms import RosterForm, SituationForm, SuggestionForm
from incidents import drafts
from incidents.models import Incident, IncidentUpdate, ProgressNote, UpdateDraft
from incidents.permissions import COMPOSE
from mentions import charts
from mentions.models import Mention
from people.access import permission_required
from warroom import selectors, services
from warroom.clock import detected_at
from warroom.models import Suggestion, TimelineEntry

VIEW = "warroom.view_timelineentry"
NOTES_SHOWN = 30
TIMELINE_SHOWN = 40
UPDATES_SHOWN = 10


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # guaranteed by permission_required
    return request.user


def _live_context(request: HttpRequest, incident: Incident) -> dict[str, Any]:
    """Everything that moves: a fixed number of queries however many notes, updates or timeline entries."""
    user = _user(request)
    comms = selectors.comms(incident)
    draft = (
        UpdateDraft.objects.filter(incident=incident, published_update__isnull=True, corrects__isnull=True)
        .select_related("last_edited_by")
        .first()
    )
    updates = list(
        IncidentUpdate.objects.filter(incident=incident).order_by("-published_at", "-id")[:UPDATES_SHOWN]
    )
    counts: dict[int, dict[str, int]] = {}
    for row in (
        Delivery.objects.filter(update__in=[u.pk for u in updates])
        .values("update_id", "state")
        .annotate(n=Count("id"))
    ):
        counts.setdefault(row["update_id"], {})[row["state"]] = row["n"]
    for update in updates:
        update.delivery_counts = sorted(counts.get(update.pk, {}).items())  # type: ignore[attr-defined]
    return {
        **_mentions_context(user, incident, comms.now),
        "incident": incident,
        "comms": comms,
        "now": comms.now,
        "looking": selectors.presence_touch(incident, user),
        "draft": draft,
        "draft_editors": drafts.presence_of(draft) if draft else [],
        "updates": updates,
        "notes": list(
            ProgressNote.objects.filter(incident=incident)
            .select_related("author")
            .order_by("-created_at", "-id")[:NOTES_SHOWN]
        ),
        "notes_total": ProgressNote.objects.filter(incident=incident).count(),
        "timeline": list(
            TimelineEntry.objects.filter(incident=incident).order_by("-at", "-id")[:TIMELINE_SHOWN]
        ),
        "suggestions": list(
            Suggestion.objects.filter(incident=incident)
            .select_related("author", "decided_by")
            .order_by("-created_at")[:20]
        ),
        "may_speak": services.may_speak(user, incident),
        "may_roster": services.may_manage_roster(user, incident),
        "may_compose": user.has_perm(COMPOSE),
    }


def _mentions_context(user: User, incident: Incident, now: datetime) -> dict[str, Any]:
    """What customers say about the incident (linked, or suggested and not yet confirmed): the most urgent, the
    counts, and the volume and sentiment over time. Three queries; none for engineers, who do not see them."""
    if not user.has_perm("mentions.view_mention"):
        return {"can_see_mentions": False}
    about = Mention.objects.filter(
        Q(incident=incident) | Q(incident__isnull=True, suggested_incident=incident)
    )
    counts = about.aggregate(
        linked=Count("id", filter=Q(incident=incident)),
        suggested=Count("id", filter=Q(incident__isnull=True)),
        open=Count("id", filter=Q(state__in=Mention.OPEN_STATES)),
        negative=Count("id", filter=Q(sentiment__lte=-0.05)),
    )
    points = list(about.order_by("-posted_at").values_list("posted_at", "sentiment")[:5000])
    return {
        "can_see_mentions": True,
        "mention_counts": counts,
        "mention_chart": charts.chart(points, since=detected_at(incident), now=now),
        "top_mentions": list(
            about.filter(state__in=Mention.OPEN_STATES)
            .order_by("-priority", "-posted_at")
            .select_related("assigned_to")[:6]
        ),
    }


@permission_required(VIEW)
def incident_console(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=pk)
    situation = services.situation_current(incident)
    context = _live_context(request, incident)
    context.update(
        {
            "situation": situation,
            "situation_form": SituationForm(instance=situation) if situation else SituationForm(),
            "roster_form": RosterForm(),
            "suggestion_form": SuggestionForm(),
        }
    )
    return render(request, "manage/incident.html", context)


@permission_required(VIEW)
def incident_live(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=pk)
    return render(request, "manage/_incident_live.html", _live_context(request, incident))


@require_POST
@permission_required("warroom.add_situationversion")
def situation(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=pk)
    form = SituationForm(request.POST)
    if form.is_valid():
        facts = {name: form.cleaned_data[name] for name in form.Meta.fields}
        services.situation_save(incident=incident, author=_user(request), **facts)
        messages.success(request, "Situation updated: every communicator now works from this version.")
    else:
        messages.error(request, "Not saved: check the situation's fields.")
        context = _live_context(request, incident)
        context.update(
            {
                "situation": services.situation_current(incident),
                "situation_form": form,
                "roster_form": RosterForm(),
                "suggestion_form": SuggestionForm(),
            }
        )
        return render(request, "manage/incident.html", context, status=400)
    return redirect("manage:incident", pk=incident.pk)


@require_POST
@permission_required(VIEW)
def roster(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=pk)
    form = RosterForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role and a person.")
        return redirect("manage:incident", pk=incident.pk)
    person, role = form.cleaned_data["user"], form.cleaned_data["role"]
    try:
        if form.cleaned_data["action"] == "assign":
            services.role_assign(incident=incident, user=person, role=role, by=_user(request))
        else:
            services.role_release(incident=incident, user=person, role=role, by=_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("manage:incident", pk=incident.pk)


@require_POST
@permission_required(COMPOSE)
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=pk)
    try:
        draft = services.acknowledgement_draft(incident=incident, user=_user(request), now=timezone.now())
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("manage:incident", pk=incident.pk)
    messages.success(
        request, "The first acknowledgement is drafted from the situation: check every word, then preview."
    )
    return redirect("manage:draft", pk=draft.pk)


@require_POST
@permission_required("warroom.add_suggestion")
def suggest(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=pk)
    form = SuggestionForm(request.POST)
    if form.is_valid():
        services.suggestion_create(incident=incident, author=_user(request), body=form.cleaned_data["body"])
        messages.success(request, "Suggestion sent to the primary communicator.")
    else:
        messages.error(request, "Write the wording you suggest.")
    return redirect("manage:incident", pk=incident.pk)


@require_POST
@permission_required(VIEW)
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    suggestion = get_object_or_404(Suggestion, pk=pk)
    accept = request.POST.get("decision") == "accept"
    try:
        draft = services.suggestion_decide(suggestion=suggestion, by=_user(request), accept=accept)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("manage:incident", pk=suggestion.incident_id)
    if draft is not None:
        messages.success(request, "Accepted: the shared draft now holds that wording.")
        return redirect("manage:draft", pk=draft.pk)
    messages.info(request, "Declined.")
    return redirect("manage:incident", pk=suggestion.incident_id)


@require_POST
@permission_required(COMPOSE)
def quote(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(ProgressNote.objects.select_related("incident", "author"), pk=pk)
    draft = services.quote_note(note=note, user=_user(request))
    messages.success(request, "Quoted at the end of the shared draft.")
    return redirect("manage:draft", pk=draft.pk)
