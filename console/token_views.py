"""Your API tokens: create (shown once, after a fresh password check), see when each was last used, revoke."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from console.token_forms import TokenForm
from people import tokens as token_services
from people.access import mark_reauthenticated, permission_required, reauthenticated_recently
from people.audit import Action as PeopleAction
from people.models import ApiToken
from people.services import audit_record

# Every role (engineer, communicator, publisher) can see incidents; a token needs at least that.
TOKENS_PERMISSION = "incidents.view_incident"


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # guaranteed by permission_required
    return request.user


def _page(request: HttpRequest, form: TokenForm, *, new_token: str = "", status: int = 200) -> HttpResponse:
    tokens = ApiToken.objects.filter(owner=_user(request)).order_by("revoked_at", "-created_at")
    response = render(
        request,
        "api/tokens.html",
        {"tokens": tokens, "form": form, "new_token": new_token, "now": timezone.now()},
        status=status,
    )
    # The page may carry a token in clear: no browser or proxy cache may keep it.
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@permission_required(TOKENS_PERMISSION)
def tokens(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    needs_password = not reauthenticated_recently(request)
    if request.method == "GET":
        return _page(request, TokenForm(user=user, needs_password=needs_password))
    form = TokenForm(request.POST, user=user, needs_password=needs_password)
    if not form.is_valid():
        return _page(request, form, status=400)
    if needs_password:
        if (
            authenticate(request, username=user.get_username(), password=form.cleaned_data["password"])
            != user
        ):
            form.add_error("password", "That password is not right.")
            return _page(request, form, status=400)
        mark_reauthenticated(request)
        audit_record(action=PeopleAction.REAUTH, actor=user, target=user.get_username(), request=request)
    try:
        _token, secret = token_services.token_create(
            owner=user,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=timezone.now() + timedelta(days=form.cleaned_data["expires_in"]),
            request=request,
        )
    except token_services.TokenError as exc:
        form.add_error(None, str(exc))
        return _page(request, form, status=400)
    # Shown in this response only: never redirected through the session or a message, which are stored.
    fresh = TokenForm(user=user, needs_password=False)
    return _page(request, fresh, new_token=secret)


@require_POST
@permission_required(TOKENS_PERMISSION)
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    token = get_object_or_404(ApiToken, pk=pk, owner=user)
    if token_services.token_revoke(token=token, by=user, request=request):
        messages.success(request, f"Token “{token.name}” revoked: it stops working now.")
    return redirect("tokens:list")
