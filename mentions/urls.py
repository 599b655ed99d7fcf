from django.urls import path

from mentions import views

app_name = "mentions"

urlpatterns = [path("<slug:slug>/", views.receive, name="receive")]
