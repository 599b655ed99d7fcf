"""The mentions inbox: what customers say, most urgent first; one mention with its reasons, its incident and
who is on it."""

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from incidents.models import Incident
from mentions import replies, services, spikes
from mentions.audit import Action
from mentions.models import Mention, MentionReply, MentionSource, SavedReply, Service, Spike
from mentions.polling import poll
from people.access import permission_required
from people.services import audit_record
from warroom import guard
from warroom.services import may_speak

VIEW = "mentions.view_mention"
CHANGE = "mentions.change_mention"
PAGE = 50
PRESENCE_SECONDS = 30


MAX_PAGE = 10_000


def _number(value: str) -> int | None:
    """A plain decimal id or page number (not "²", not a thousand digits), else None."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # guaranteed by permission_required
    return request.user


@permission_required(VIEW)
def inbox(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "open")
    mentions = Mention.objects.select_related("assigned_to", "incident", "suggested_incident")
    if state == "open":
        mentions = mentions.filter(state__in=Mention.OPEN_STATES)
    elif state in Mention.State.values:
        mentions = mentions.filter(state=state)
    service = request.GET.get("service", "")
    if service in Service.values:
        mentions = mentions.filter(service=service)
    incident = request.GET.get("incident", "")
    if (incident_id := _number(incident)) is not None:
        mentions = mentions.filter(incident_id=incident_id)
    page = min(_number(request.GET.get("page", "")) or 0, MAX_PAGE)
    # One page and a peek at the next: no count over a million rows.
    rows = list(mentions.order_by("-priority", "-posted_at", "-id")[page * PAGE : (page + 1) * PAGE + 1])
    context = {
        "mentions": rows[:PAGE],
        "has_next": len(rows) > PAGE,
        "page": page,
        "state": state,
        "service": service,
        "incident": incident,
        "services": Service.choices,
        "states": [("open", "Open"), *Mention.State.choices, ("all", "All")],
        "sources": MentionSource.objects.order_by("name"),
    }
    return render(request, "manage/mentions.html", context)


def _presence(mention: Mention, user: User) -> list[str]:
    key = f"mention-presence:{mention.pk}"
    now = timezone.now().timestamp()
    present: dict[str, tuple[str, float]] = cache.get(key) or {}
    present[str(user.pk)] = (user.get_full_name() or user.get_username(), now)
    present = {k: v for k, v in present.items() if now - v[1] <= PRESENCE_SECONDS}
    cache.set(key, present, timeout=PRESENCE_SECONDS * 4)
    return sorted(name for k, (name, _) in present.items() if k != str(user.pk))


@permission_required(VIEW)
def mention_detail(request: HttpRequest, pk: int) -> HttpResponse:
    mention = get_object_or_404(
        Mention.objects.select_related("assigned_to", "incident", "suggested_incident", "source"), pk=pk
    )
    user = _user(request)
    earlier = list(
        Mention.objects.filter(service=mention.service, author_handle=mention.author_handle)
        .exclude(pk=mention.pk)
        .exclude(author_handle="")
        .order_by("-posted_at")[:10]
    )
    saved = SavedReply.objects.all()
    chosen = request.GET.get("saved", "")
    text = mention.reply_draft  # drafted for a person to review, if anyone did
    if (saved_id := _number(chosen)) is not None and (reply := saved.filter(pk=saved_id).first()) is not None:
        try:
            text = replies.fill(reply, mention, user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    context: dict[str, Any] = {
        **_reply_context(mention, user, text),
        "saved_replies": list(saved),
        "mention": mention,
        "others": _presence(mention, user),
        "earlier": earlier,
        "open_incidents": Incident.objects.filter(kind=Incident.Kind.INCIDENT)
        .exclude(status__in=Incident.CLOSED_STATUSES)
        .order_by("-detected_at"),
    }
    return render(request, "manage/mention.html", context)


def _reply_context(mention: Mention, user: User, text: str, **extra: Any) -> dict[str, Any]:
    incident = mention.incident
    return {
        "reply_text": text,
        "tone": guard.check(text, kind="reply") if text else None,
        "may_answer": incident is None or may_speak(user, incident),
        "reply_channel": replies.channel_for(mention),
        "replies": list(mention.replies.select_related("sent_by", "delivery").order_by("sent_at", "id")),
        **extra,
    }


@require_POST
@permission_required("mentions.add_mentionreply")
def mention_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """Check the words (the tone guard, for a reply), then send them when a named person presses Send."""
    mention = get_object_or_404(Mention.objects.select_related("incident", "assigned_to", "source"), pk=pk)
    user = _user(request)
    text = request.POST.get("text", "")
    kind = request.POST.get("kind", MentionReply.Kind.REPLY)
    flags = guard.check(text, kind="reply").flags
    if request.POST.get("action") != "send":
        return _detail(request, mention, text)
    if mention.incident is not None and not may_speak(user, mention.incident):
        raise PermissionDenied(
            "One voice: only the incident's primary communicator and publishers answer mentions about it."
        )
    reason = " ".join(request.POST.get("tone_reason", "").split())[:500]
    if kind == MentionReply.Kind.BY_HAND:
        flags = []  # a record of what was said elsewhere: nothing goes out
    if flags and not (request.POST.get("tone_override") == "1" and reason):
        messages.error(
            request, "Not sent: the tone guard flagged this reply. Calm it, or say why it goes as is."
        )
        return _detail(request, mention, text)
    seen = _number(request.POST.get("replies_seen", ""))
    try:
        reply = replies.reply_send(mention=mention, text=text, kind=kind, by=user, replies_seen=seen)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _detail(request, mention, text)
    if flags:
        audit_record(
            action=Action.REPLY_TONE_OVERRIDE, actor=user, target=str(mention),
            data={"reason": reason, "flags": sorted({f.kind for f in flags})}, request=request,
        )  # fmt: skip
    messages.success(
        request,
        "Sent: the delivery is shown below." if reply.delivery else "Recorded as answered by hand.",
    )
    return redirect("manage:mention", pk=mention.pk)


def _detail(request: HttpRequest, mention: Mention, text: str) -> HttpResponse:
    user = _user(request)
    context = {
        **_reply_context(mention, user, text),
        "saved_replies": list(SavedReply.objects.all()),
        "mention": mention,
        "others": _presence(mention, user),
        "earlier": [],
        "open_incidents": Incident.objects.filter(kind=Incident.Kind.INCIDENT).exclude(
            status__in=Incident.CLOSED_STATUSES
        ),
    }
    return render(request, "manage/mention.html", context)


@require_POST
@permission_required(CHANGE)
def mention_action(request: HttpRequest, pk: int) -> HttpResponse:
    mention = get_object_or_404(Mention.objects.select_related("incident"), pk=pk)
    user = _user(request)
    action = request.POST.get("action", "")
    try:
        if action == "take":
            services.mention_assign(mention=mention, to=user, by=user)
            messages.success(request, "It is yours: the others see you are on it.")
        elif action == "release":
            services.mention_assign(mention=mention, to=None, by=user)
        elif action == "link":
            if mention.incident_id and not may_speak(user, mention.incident):  # type: ignore[arg-type]
                raise PermissionDenied(
                    "One voice: only the incident's primary communicator or a publisher unlinks it."
                )
            number = _number(request.POST.get("incident", ""))
            incident = Incident.objects.filter(pk=number).first() if number is not None else None
            services.mention_link(mention=mention, incident=incident, by=user)
            messages.success(
                request, f"Linked to {incident}." if incident else "No longer linked to an incident."
            )
        elif action == "done":
            services.mention_close(mention=mention, by=user)
        elif action == "spam":
            services.mention_close(mention=mention, by=user, reason="spam")
        elif action == "reopen":
            services.mention_reopen(mention=mention, by=user)
        else:
            messages.error(request, "Unknown action.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("manage:mention", pk=mention.pk)


class ManualMentionForm(forms.Form):
    service = forms.ChoiceField(choices=Service.choices, initial=Service.MANUAL, label="Where it was said")
    author_handle = forms.CharField(max_length=200, required=False, label="Who (handle, name or phone)")
    url = forms.URLField(max_length=1000, required=False, label="Link (if any)", assume_scheme="https")
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=10_000, label="What they said"
    )
    posted_at = forms.DateTimeField(
        required=False,
        label="When (UTC; default now)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    followers = forms.IntegerField(required=False, min_value=0, label="Followers (if known)")


@require_http_methods(["GET", "POST"])
@permission_required("mentions.add_mention")
def mention_new(request: HttpRequest) -> HttpResponse:
    form = ManualMentionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        now = timezone.now()
        user = _user(request)
        data = form.cleaned_data
        posted: datetime = data["posted_at"] or now
        remote_id = data["url"] or f"manual:{user.pk}:{now.timestamp():.6f}"
        existing = Mention.objects.filter(service=data["service"], remote_id=remote_id).first()
        if existing is not None:
            messages.info(request, "That post is already in the inbox.")
            return redirect("manage:mention", pk=existing.pk)
        services.ingest(
            [services.Incoming(service=data["service"], remote_id=remote_id, text=data["text"], posted_at=posted,
                               url=data["url"] or "", author_handle=data["author_handle"],
                               followers=data["followers"], found_by="entered by hand")],
            now=now, entered_by=user,
        )  # fmt: skip
        mention = Mention.objects.get(service=data["service"], remote_id=remote_id)
        messages.success(request, "Added to the inbox, scored like every other mention.")
        return redirect("manage:mention", pk=mention.pk)
    return render(request, "manage/mention_new.html", {"form": form})


@require_POST
@permission_required("mentions.add_mentionsource")
def source_poll(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(MentionSource, pk=pk)
    result = poll(source.pk, force=True)
    if result.skipped:
        messages.error(request, f"{source} is disabled.")
    elif result.error:
        messages.error(request, f"{source}: {result.error}")
    else:
        messages.success(request, f"{source}: heard {result.heard}, {result.stored} new.")
    return redirect("manage:mentions")


@require_POST
@permission_required(CHANGE)
def spike_action(request: HttpRequest, pk: int) -> HttpResponse:
    spike = get_object_or_404(Spike, pk=pk)
    user = _user(request)
    if request.POST.get("action") == "open":
        if not user.has_perm("incidents.add_incident"):
            raise PermissionDenied("Opening an incident needs the permission to add incidents.")
        incident = spikes.open_incident(spike=spike, by=user)
        messages.success(
            request, "A draft incident, internal until someone publishes: its mentions are suggested for it."
        )
        return redirect("manage:incident", pk=incident.pk)
    Spike.objects.filter(pk=spike.pk).update(dismissed_by=user, dismissed_at=timezone.now())
    messages.info(request, "Spike dismissed.")
    return redirect("manage:dashboard")


@require_http_methods(["GET", "POST"])
@permission_required("mentions.add_mentionreply")
def follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    """After the fix: everyone linked to the incident and not answered since, each with a drafted "it should be
    working now" reply. Only the rows a person ticked as reviewed are sent, in one press."""
    incident = get_object_or_404(Incident, pk=pk)
    user = _user(request)
    if incident.resolved_at is None:
        messages.info(request, "Follow-up replies are for after the fix: this incident is not resolved yet.")
        return redirect("manage:incident", pk=incident.pk)
    waiting = replies.after_the_fix(incident.pk, incident.resolved_at)
    if request.method == "POST":
        if not may_speak(user, incident):
            raise PermissionDenied("One voice: the primary communicator or a publisher sends these.")
        sent, problems = 0, []
        for mention in waiting:
            if request.POST.get(f"reviewed-{mention.pk}") != "1":
                continue  # never reviewed, never sent
            text = request.POST.get(f"text-{mention.pk}", "")
            if guard.check(text, kind="reply").flags:
                problems.append(f"{mention.author_handle or mention.pk}: the tone guard flagged it, not sent")
                continue
            try:
                replies.reply_send(
                    mention=mention,
                    text=text,
                    kind=MentionReply.Kind.REPLY,
                    by=user,
                    since=incident.resolved_at,
                )
                sent += 1
            except ValidationError as exc:
                problems.append(f"{mention.author_handle or mention.pk}: {' '.join(exc.messages)}")
        if sent:
            messages.success(request, f"{sent} follow-up repl{'y' if sent == 1 else 'ies'} sent.")
        for problem in problems:
            messages.error(request, problem)
        return redirect("manage:follow-up", pk=incident.pk)
    fixed = SavedReply.objects.filter(kind=SavedReply.Kind.FIXED).first()
    rows = []
    for mention in waiting:
        mention.incident = incident
        text = replies.fill(fixed, mention, user) if fixed else ""
        rows.append(
            {"mention": mention, "text": text, "tone": guard.check(text, kind="reply") if text else None}
        )
    return render(
        request,
        "manage/follow_up.html",
        {"incident": incident, "rows": rows, "may_send": may_speak(user, incident)},
    )
