"""Keep public responses free of cookies, whatever other middleware wanted to do.

CSRF and session middleware may add a cookie to any response (e.g. replacing a malformed
``csrftoken`` a visitor's browser sent). A response that a CDN may cache and serve to
everyone must never carry one, so this runs outermost and strips them.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

PUBLIC_ATTRIBUTE = "statushub_public"


def mark_public(response: HttpResponse) -> HttpResponse:
    setattr(response, PUBLIC_ATTRIBUTE, True)
    return response


class PublicResponseMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(response, PUBLIC_ATTRIBUTE, False):
            response.cookies.clear()
            if response.has_header("Vary"):
                kept = [v.strip() for v in response["Vary"].split(",") if v.strip().lower() != "cookie"]
                del response["Vary"]
                if kept:
                    patch_vary_headers(response, kept)
        return response
