"""Who may use a team screen: permission checks and recent re-authentication, shared by every app's views.

Model permissions only: no ``is_superuser`` shortcuts. Each app names its own permissions (e.g.
``incidents.permissions.PUBLISH``); this module only checks them."""

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from people.audit import Action
from people.services import audit_record

View = Callable[..., HttpResponse]
REAUTH_SESSION_KEY = "statushub_reauth_at"


def permission_required(perm: str) -> Callable[[View], View]:
    """Anonymous visitors go to the login page; signed-in people without the permission get 403."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse(settings.LOGIN_URL))
            if not request.user.has_perm(perm):
                raise PermissionDenied(f"You need the {perm} permission.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def reauthenticated_recently(request: HttpRequest) -> bool:
    at = request.session.get(REAUTH_SESSION_KEY)
    return isinstance(at, int | float) and time.time() - at <= settings.STATUSHUB_REAUTH_SECONDS


def mark_reauthenticated(request: HttpRequest) -> None:
    request.session[REAUTH_SESSION_KEY] = time.time()


def password_confirmed(request: HttpRequest, password: str) -> bool:
    """Whether ``password`` is the signed-in person's; if so they count as re-authenticated for a while.

    Goes through ``authenticate()`` with the request, so wrong guesses count towards the lockout (django-axes)
    exactly as on the sign-in page.
    """
    user = request.user
    if authenticate(request, username=user.get_username(), password=password) != user:
        return False
    mark_reauthenticated(request)
    audit_record(action=Action.REAUTH, actor=user, target=user.get_username(), request=request)  # type: ignore[arg-type]
    return True


def reauth_redirect(next_url: str) -> HttpResponse:
    return redirect(reverse("manage:reauth") + "?" + urlencode({"next": next_url}))
