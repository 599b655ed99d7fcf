"""Publishers and administrators pass a second factor before any team page, the admin or the demo outbox."""

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from people.two_factor import required_for

GUARDED = ("/manage/", "/admin/", "/subscribe/outbox/")
# Signing in and out happen before and after the second step.
OPEN = ("/admin/login/", "/admin/logout/")


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if (
            path.startswith(GUARDED)
            and not path.startswith(OPEN)
            and required_for(request.user)
            and not request.user.is_verified()  # type: ignore[union-attr]  # django-otp's middleware sets it
        ):
            return redirect(
                reverse("account:two-factor") + "?" + urlencode({"next": request.get_full_path()})
            )
        return self.get_response(request)
