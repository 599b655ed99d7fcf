"""The compose screen: draft together, preview every rendering, then a publisher signs and publishes."""

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from console.channel_previews import channel_previews
from console.compose_forms import DraftForm, OfflineSignatureForm, ReauthForm
from incidents import drafts, services, signing
from incidents.models import Component, Incident, IncidentUpdate, ProgressNote, UpdateDraft
from incidents.permissions import COMPOSE, PUBLISH
from incidents.previews import preview_context
from mentions.models import Spike
from people.access import password_confirmed, permission_required, reauthenticated_recently
from people.services import profile_for
from statushub.lib.after_commit import watching_follow_up
from warroom import guard
from warroom import services as warroom
from warroom.clock import policy_for
from warroom.selectors import board

CONSOLE = "warroom.view_timelineentry"  # the team's screens: engineers (tech liaison) included


def _user(request: HttpRequest) -> Any:
    return request.user


def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_authenticated and not user.has_perm(CONSOLE) and user.has_perm("incidents.view_incident"):
        # Someone who reads incidents but takes no part in the war room works in the admin.
        return redirect("admin:incidents_incident_changelist")
    return _dashboard(request)


@permission_required(CONSOLE)
def _dashboard(request: HttpRequest) -> HttpResponse:
    """Every open incident with its acknowledgement clock and next promised update; the way into its console."""
    open_incidents = list(
        Incident.objects.exclude(status__in=Incident.CLOSED_STATUSES).order_by("-detected_at", "-id")
    )
    now = timezone.now()
    spikes = (
        list(
            Spike.objects.filter(
                hour__gte=now - timedelta(hours=3), incident__isnull=True, dismissed_at__isnull=True
            )
        )
        if request.user.has_perm("mentions.view_mention")
        else []
    )
    return render(
        request, "manage/dashboard.html", {"rows": board(open_incidents), "now": now, "spikes": spikes}
    )


@permission_required(COMPOSE)
def compose(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=pk)
    draft = drafts.draft_for_incident(incident=incident, user=_user(request))
    return redirect("manage:draft", pk=draft.pk)


@require_POST
@permission_required(COMPOSE)
def correct(request: HttpRequest, public_id: str) -> HttpResponse:
    update = get_object_or_404(IncidentUpdate, public_id=public_id)
    draft = drafts.draft_for_correction(update=update, user=_user(request))
    return redirect("manage:draft", pk=draft.pk)


def _editor_context(
    request: HttpRequest, draft: UpdateDraft, form: DraftForm | None = None
) -> dict[str, Any]:
    components = list(Component.objects.select_related("group").order_by("group__position", "position"))
    user = _user(request)
    cadence = policy_for(draft.incident.severity).cadence_minutes
    return {
        "draft": draft,
        "incident": draft.incident,
        "form": form or DraftForm(draft=draft, components=components, cadence_minutes=cadence),
        "profile": profile_for(user),
        "can_publish": services.may_publish(
            user, draft.incident, corrects=draft.corrects, status=draft.status
        ),
        "situation": warroom.situation_current(draft.incident),
        "key": signing.active_key(user),
        "others": drafts.presence_touch(draft=draft, user=user),
        "offline_form": OfflineSignatureForm(),
        "published_updates": draft.incident.updates.order_by("-published_at")[:20],
        # The tone guard on the words as typed (every autosave, debounced), before anyone can publish them.
        "tone": guard.check(
            form.data.get("body", draft.body) if form is not None and form.is_bound else draft.body
        ),
    }


@require_http_methods(["GET", "POST"])
@permission_required(COMPOSE)
def draft_editor(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_object_or_404(UpdateDraft.objects.select_related("incident", "corrects"), pk=pk)
    if draft.is_published:
        messages.info(request, "That draft was published.")
        return redirect(reverse("status:update", args=[draft.published_update.public_id]))  # type: ignore[union-attr]
    if request.method == "GET":
        return render(request, "manage/editor.html", _editor_context(request, draft))

    components = list(Component.objects.all())
    cadence = policy_for(draft.incident.severity).cadence_minutes
    form = DraftForm(request.POST, draft=draft, components=components, cadence_minutes=cadence)
    htmx = bool(getattr(request, "htmx", False))
    template = "manage/_save_status.html" if htmx else "manage/editor.html"
    if not form.is_valid():
        context = _editor_context(request, draft, form)
        return render(
            request,
            template,
            {**context, "save_error": "Not saved: check the highlighted fields.", "oob_tone": htmx},
        )
    try:
        result = drafts.draft_save(
            draft=draft,
            user=_user(request),
            base_version=form.cleaned_data["base_version"],
            status=form.cleaned_data["status"],
            body=form.cleaned_data["body"],
            component_statuses=form.component_statuses(),
            next_update_at=form.next_update_at(),
            force=request.POST.get("force") == "1",
        )
    except signing.SigningError as exc:
        context = _editor_context(request, draft, form)
        return render(request, template, {**context, "save_error": f"Not saved: {exc}", "oob_tone": htmx})
    context = {**_editor_context(request, result.draft, form), "result": result, "oob_tone": htmx}
    if not getattr(request, "htmx", False):
        if result.saved:
            if "_preview" in request.POST:
                return redirect("manage:preview", pk=draft.pk)
            messages.success(request, "Draft saved.")
            return redirect("manage:draft", pk=draft.pk)
        context["form"] = form
    return render(request, template, context)


@permission_required(COMPOSE)
def notes_stream(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=pk)
    notes = (
        ProgressNote.objects.filter(incident=incident).select_related("author").order_by("-created_at")[:50]
    )
    draft_id = request.GET.get("draft")
    others = []
    if draft_id and draft_id.isdigit():
        draft = UpdateDraft.objects.filter(pk=int(draft_id), incident=incident).first()
        if draft:
            others = drafts.presence_touch(draft=draft, user=_user(request))
    return render(request, "manage/_notes.html", {"notes": notes, "incident": incident, "others": others})


@permission_required(COMPOSE)
def preview(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_object_or_404(UpdateDraft.objects.select_related("incident", "corrects"), pk=pk)
    context = {"draft": draft, "incident": draft.incident, **preview_context(draft, _user(request))}
    context["problems"] = drafts.draft_problems(draft)
    # A closing update promises nothing (the publish drops it): the preview must not show a promise either.
    context["promise"] = None if draft.status in Incident.CLOSED_STATUSES else draft.next_update_at
    user = _user(request)
    context["can_publish"] = services.may_publish(
        user, draft.incident, corrects=draft.corrects, status=draft.status
    )
    context["first_ack_by_communicator"] = context["can_publish"] and not user.has_perm(PUBLISH)
    # Whoever speaks for the company passes a second factor: publishers at sign-in, a primary communicator here.
    context["needs_second_factor"] = context["first_ack_by_communicator"] and not user.is_verified()
    context["key"] = signing.active_key(_user(request))
    context["tone"] = guard.check(draft.body)
    context["offline_form"] = OfflineSignatureForm()
    context["channel_previews"] = channel_previews(draft, _user(request))
    return render(request, "manage/preview.html", context)


@require_POST
@permission_required(COMPOSE)
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    """Publishers publish; the incident's primary communicator its first acknowledgement (``may_publish``)."""
    draft = get_object_or_404(UpdateDraft.objects.select_related("incident", "corrects"), pk=pk)
    user = _user(request)
    if not services.may_publish(user, draft.incident, corrects=draft.corrects, status=draft.status):
        raise PermissionDenied(
            "Only publishers publish updates (and the incident's primary communicator its first acknowledgement)."
        )
    if not user.has_perm(PUBLISH) and not user.is_verified():
        messages.error(
            request,
            "Publishing in your own name needs your second factor: confirm it (or set it up), then publish.",
        )
        return redirect(
            reverse("account:two-factor")
            + "?"
            + urlencode({"next": reverse("manage:preview", args=[draft.pk])})
        )
    carry = {
        "version": request.POST.get("version", ""),
        "signature": request.POST.get("signature", ""),
        "tone_override": request.POST.get("tone_override", ""),
        "tone_reason": request.POST.get("tone_reason", ""),
    }
    if not reauthenticated_recently(request):
        # Ask for the password on the way: once it is right, this same press publishes what was previewed.
        form = ReauthForm(request.POST if "password" in request.POST else None)
        if form.is_bound and form.is_valid():
            if password_confirmed(request, form.cleaned_data["password"]):
                return _publish(request, draft, **carry)
            form.add_error("password", "That password is not right.")
        context = {
            "form": form,
            "action": reverse("manage:publish", args=[draft.pk]),
            "carry": carry,
            "back": reverse("manage:preview", args=[draft.pk]),
            "button": "Confirm and publish",
        }
        return render(request, "manage/reauth.html", context)
    return _publish(request, draft, **carry)


def _publish(
    request: HttpRequest,
    draft: UpdateDraft,
    *,
    version: str,
    signature: str,
    tone_override: str = "",
    tone_reason: str = "",
) -> HttpResponse:
    # The tone guard again, on the words as they go out (the draft locked): past a flag only with "I have stepped
    # away from the mic" and a reason, which the audit log and the team's timeline keep. A person decides.
    reason = " ".join(tone_reason.split())[:500]
    flagged: list[str] = []

    def vet(locked: UpdateDraft) -> None:
        kinds = sorted({flag.kind for flag in guard.check(locked.body).flags})
        if kinds and not (tone_override == "1" and reason):
            raise signing.SigningError(
                f"the tone guard flagged this draft ({', '.join(kinds)}). Calm the wording, or confirm that you "
                "have stepped away from the mic and say why it should go out as it is."
            )
        flagged[:] = kinds

    try:
        with watching_follow_up() as delayed, transaction.atomic():
            update = drafts.draft_publish(
                draft=draft,
                user=_user(request),
                version=int(version) if version.isdigit() else None,
                offline_signature=signature,
                request=request,
                vet=vet,
            )
            if flagged:
                warroom.record_override(
                    incident=draft.incident,
                    user=_user(request),
                    reason=reason,
                    kinds=flagged,
                    request=request,
                )
    except (signing.SigningError, ValueError) as exc:
        messages.error(request, f"Not published: {exc}")
        return redirect("manage:preview", pk=draft.pk)
    messages.success(request, "Published and signed. Delivery to each channel is shown below, live.")
    if delayed:
        # The update is committed and signed: only work that follows it could not start (Redis or the broker
        # is down). It is retried on its own; say so rather than fail a publish that happened.
        messages.warning(
            request,
            f"Some follow-up is delayed ({', '.join(delayed)}): it will be retried automatically once the "
            "queue is back. Nothing needs to be published again.",
        )
    return redirect("manage:deliveries", public_id=update.public_id)


@require_POST
@permission_required(PUBLISH)
def prepare_statement(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_object_or_404(UpdateDraft, pk=pk)
    try:
        statement = drafts.draft_prepare_offline(draft=draft, user=_user(request))
    except signing.SigningError as exc:
        messages.error(request, str(exc))
        return redirect("manage:preview", pk=draft.pk)
    response = HttpResponse(statement, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="draft-{draft.pk}.statement"'
    return response


@require_http_methods(["GET", "POST"])
@permission_required(PUBLISH)
def reauth(request: HttpRequest) -> HttpResponse:
    next_url = request.GET.get("next") or request.POST.get("next") or reverse("manage:dashboard")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("manage:dashboard")
    form = ReauthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if password_confirmed(request, form.cleaned_data["password"]):
            messages.success(request, "Password confirmed: you can carry on for the next few minutes.")
            return redirect(next_url)
        form.add_error("password", "That password is not right.")
    return render(request, "manage/reauth.html", {"form": form, "next": next_url})
