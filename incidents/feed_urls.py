"""RSS and Atom feeds: the whole page, per component, per incident (issue 5)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
