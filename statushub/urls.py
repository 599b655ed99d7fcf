from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

admin.site.site_header = "StatusHub"
admin.site.site_title = "StatusHub admin"
admin.site.index_title = "Incidents, components and people"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("manage/", include("incidents.manage_urls")),
    # Profile photos. Behind nginx, serve MEDIA_ROOT directly instead (see deploy docs).
    re_path(r"^media/(?P<path>people/[\w.-]+)$", serve, {"document_root": settings.MEDIA_ROOT}),
    path("", include("incidents.urls")),
]
