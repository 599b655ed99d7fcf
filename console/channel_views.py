"""Connect, change and test channels: the brand's (publishers) and a person's own accounts (any publisher).

Changing where the company speaks is as sensitive as speaking, so saving asks for the password again unless
the person confirmed it in the last few minutes, inside the same form so nothing typed is lost.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from channels import services
from channels.models import Channel, Delivery
from channels.permissions import ADD_BRAND, CHANGE_BRAND, can_manage
from console.channel_forms import ChannelForm
from incidents.permissions import PUBLISH
from integrations.registry import TRANSPORTS, transport_class
from people.access import password_confirmed, permission_required, reauth_redirect, reauthenticated_recently

# Services where a person has an account of their own to post from; the rest are the company's.
PERSONAL_KINDS = ("x", "mastodon", "bluesky", "reddit")


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # guaranteed by permission_required
    return request.user


def _kinds(only: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    labels = dict(Channel.Kind.choices)
    return [(kind, labels[kind]) for kind in TRANSPORTS if only is None or kind in only]


@permission_required("channels.view_channel")
def channel_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    latest = Delivery.objects.filter(channel=OuterRef("pk")).order_by("-created_at")
    channels = Channel.objects.annotate(
        last_state=Subquery(latest.values("state")[:1]),
        last_at=Subquery(latest.values("created_at")[:1]),
        last_update=Subquery(latest.values("update__public_id")[:1]),
    ).select_related("owner")
    return render(
        request,
        "manage/channels.html",
        {
            "brand": [c for c in channels if c.owner_id is None],
            "mine": [c for c in channels if c.owner_id == user.pk],
            "can_manage_brand": user.has_perm(CHANGE_BRAND),
            "can_add_brand": user.has_perm(ADD_BRAND),
            "can_link": user.has_perm(PUBLISH),
            "brand_kinds": _kinds(),
            "personal_kinds": _kinds(PERSONAL_KINDS),
            "states": dict(Delivery.State.choices),
        },
    )


class _Confirm(forms.Form):
    confirm_password = forms.CharField(
        label="Your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Changing where updates are posted needs your password again.",
    )


def _edit(request: HttpRequest, channel: Channel) -> HttpResponse:
    user = _user(request)
    transport = transport_class(channel.kind)
    if transport is None:
        raise Http404("No integration for this kind of channel.")
    if request.method != "POST" and not reauthenticated_recently(request):
        # Ask before the form, so the password check rarely has to interrupt a filled-in form.
        return reauth_redirect(request.get_full_path())
    data = request.POST if request.method == "POST" else None
    form = ChannelForm(data, transport=transport, channel=channel if channel.pk else None)
    confirm = None if reauthenticated_recently(request) else _Confirm(data, prefix="reauth")
    if request.method == "POST":
        valid = form.is_valid()
        if confirm is not None and confirm.is_valid():
            if password_confirmed(request, confirm.cleaned_data["confirm_password"]):
                confirm = None
            else:
                confirm.add_error("confirm_password", "That password is not right.")
        if valid and confirm is None:
            creating = channel.pk is None
            services.channel_save(
                channel=channel,
                name=form.cleaned_data["name"],
                enabled=form.cleaned_data["enabled"],
                dry_run=form.cleaned_data["dry_run"],
                config=form.config(),
                new_secrets=form.new_secrets(),
                by=user,
                request=request,
            )
            done = "Linked" if channel.is_personal and creating else "Saved"
            messages.success(request, f"{done} {channel.name}. Test the connection to be sure it works.")
            return redirect("manage:channels")
    context: dict[str, Any] = {
        "channel": channel,
        "form": form,
        "confirm": confirm,
        "connect_help": transport.connect_help,
        "kind_label": dict(Channel.Kind.choices).get(channel.kind, channel.kind),
        "has_secret_fields": any(field.secret for field in transport.fields),
    }
    return render(request, "manage/channel_form.html", context)


@permission_required("channels.view_channel")
def channel_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    kind = request.GET.get("kind", "")
    personal = request.GET.get("personal") == "1"
    if kind not in TRANSPORTS or (personal and kind not in PERSONAL_KINDS):
        messages.error(request, "Pick a kind of channel to connect.")
        return redirect("manage:channels")
    channel = Channel(kind=kind, owner=user if personal else None)
    if not can_manage(user, channel):
        raise PermissionDenied("You cannot connect this channel.")
    return _edit(request, channel)


@permission_required("channels.view_channel")
def channel_edit(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk)
    if not can_manage(_user(request), channel):
        raise PermissionDenied(
            "Only its owner (or, for the company's channels, a publisher) can change this."
        )
    return _edit(request, channel)


@require_POST
@permission_required("channels.view_channel")
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk)
    if not can_manage(_user(request), channel):
        raise PermissionDenied("Only whoever manages this channel can test it.")
    result = services.channel_check(channel=channel)
    channel.refresh_from_db()
    if getattr(request, "htmx", False):
        return render(request, "manage/_channel_check.html", {"channel": channel})
    (messages.success if result.ok else messages.error)(request, f"{channel.name}: {result.message}")
    return redirect("manage:channels")
