from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.http import FileResponse, HttpRequest
from django.urls import include, path, re_path
from django.views.decorators.http import require_safe
from django.views.static import serve

from people.photos import CONTENT_TYPES
from statushub.lib.middleware import PUBLIC_ATTRIBUTE


def media(request: HttpRequest, path: str, ext: str) -> FileResponse:
    """A stored photo, typed by its extension: the profile form only ever stores re-encoded PNG and JPEG."""
    response = serve(request, path, document_root=str(settings.MEDIA_ROOT))
    response["Content-Type"] = CONTENT_TYPES[ext]
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def favicon(request: HttpRequest) -> FileResponse:
    """Browsers and feed readers ask /favicon.ico whatever the page links: answer it, cookieless, for a day."""
    response = FileResponse(FAVICON.open("rb"), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    setattr(response, PUBLIC_ATTRIBUTE, True)  # public: the middleware strips any cookie
    return response


FAVICON = Path(settings.BASE_DIR) / "static" / "statushub" / "favicon.ico"


admin.site.site_header = "StatusHub"
admin.site.site_title = "StatusHub admin"
admin.site.index_title = "Incidents, components and people"

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("manage/tokens/", include("console.token_urls")),
    path("manage/", include("console.urls")),
    path("api/v2/", include("incidents.statuspage_urls")),
    path("api/v1/", include("api.urls")),
    path("subscribe/", include("subscribers.urls")),
    path("account/", include("people.urls")),
    path("hooks/alerts/", include("alerts.urls")),
    path("hooks/mentions/", include("mentions.urls")),
    path("", include("incidents.feed_urls")),
    # Profile photos. Behind nginx, serve MEDIA_ROOT directly instead.
    re_path(r"^media/(?P<path>people/[\w-]+\.(?P<ext>png|jpg))$", media),
    path("", include("incidents.urls")),
]
