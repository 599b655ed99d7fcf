from django.urls import path

from api import mention_endpoints  # noqa: F401  (registers its routes on the same API)
from api.endpoints import api

urlpatterns = [path("", api.urls)]
