from django.urls import path

from incidents import views

app_name = "status"

urlpatterns = [
    path("", views.status_page, name="page"),
    path("_live/", views.status_live, name="live"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident"),
    path("incidents/<int:pk>/_live/", views.incident_live, name="incident-live"),
    path("history/", views.history_index, name="history"),
    path("history/<int:year>/<int:month>/", views.history_month, name="history-month"),
]
