"""A publisher's own signing keys: see, rotate, revoke, or register an offline key."""

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.compose_forms import RegisterKeyForm, RevokeKeyForm
from incidents import signing
from incidents.models import SigningKey
from incidents.permissions import PUBLISH
from people.access import permission_required, reauth_redirect, reauthenticated_recently


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # guaranteed by permission_required
    return request.user


@permission_required(PUBLISH)
def keys(request: HttpRequest) -> HttpResponse:
    own = SigningKey.objects.filter(owner=_user(request)).order_by("-created_at")
    return render(
        request,
        "manage/keys.html",
        {"keys": own, "register_form": RegisterKeyForm(), "revoke_form": RevokeKeyForm()},
    )


@require_POST
@permission_required(PUBLISH)
def key_action(request: HttpRequest) -> HttpResponse:
    if not reauthenticated_recently(request):
        return reauth_redirect(reverse("manage:keys"))
    user = _user(request)
    action = request.POST.get("action")
    if action == "create":
        key = signing.key_rotate(owner=user, request=request)
        messages.success(request, f"New key {key.fingerprint} is now the one your updates are signed with.")
    elif action == "revoke":
        revoke = RevokeKeyForm(request.POST)
        if revoke.is_valid():
            key = get_object_or_404(SigningKey, kid=revoke.cleaned_data["kid"], owner=user)
            signing.key_revoke(key=key, by=user, reason=revoke.cleaned_data["reason"], request=request)
            messages.success(
                request, f"Key {key.fingerprint} revoked; updates it signed before now stay valid."
            )
    elif action == "register":
        register = RegisterKeyForm(request.POST)
        if register.is_valid():
            try:
                key = signing.key_register_public(
                    owner=user, pem=register.cleaned_data["public_key"], request=request
                )
            except signing.SigningError as exc:
                messages.error(request, f"Not registered: {exc}")
            else:
                messages.success(
                    request, f"Offline key {key.fingerprint} registered. Sign drafts with `statushub sign`."
                )
    return redirect("manage:keys")
