from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "StatusHub"
admin.site.site_title = "StatusHub admin"
admin.site.index_title = "Incidents, components and people"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("incidents.urls")),
]
