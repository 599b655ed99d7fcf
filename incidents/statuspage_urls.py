"""Atlassian Statuspage's public v2 JSON API, under /api/v2/ (issue 5)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
