"""Atlassian Statuspage's public v2 JSON API, under /api/v2/ (issue 5)."""

from django.urls import path

from incidents import statuspage_views as views

app_name = "statuspage"

urlpatterns = [
    path("summary.json", views.summary, name="summary"),
    path("status.json", views.status, name="status"),
    path("components.json", views.components, name="components"),
    path("incidents.json", views.incidents, name="incidents"),
    path("incidents/unresolved.json", views.incidents_unresolved, name="incidents-unresolved"),
    path("scheduled-maintenances.json", views.maintenances, name="maintenances"),
    path("scheduled-maintenances/upcoming.json", views.maintenances_upcoming, name="maintenances-upcoming"),
    path("scheduled-maintenances/active.json", views.maintenances_active, name="maintenances-active"),
]
