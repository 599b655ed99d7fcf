"""RSS and Atom feeds: the whole page, per component, per incident. Names: ``feeds:<scope>-<atom|rss>``."""

from django.urls import path

from incidents import feed_views

app_name = "feeds"

urlpatterns = [
    path("history.atom", feed_views.page_feed, {"fmt": "atom"}, name="history-atom"),
    path("history.rss", feed_views.page_feed, {"fmt": "rss"}, name="history-rss"),
    path(
        "components/<int:pk>/history.atom", feed_views.component_feed, {"fmt": "atom"}, name="component-atom"
    ),
    path("components/<int:pk>/history.rss", feed_views.component_feed, {"fmt": "rss"}, name="component-rss"),
    path("incidents/<int:pk>/history.atom", feed_views.incident_feed, {"fmt": "atom"}, name="incident-atom"),
    path("incidents/<int:pk>/history.rss", feed_views.incident_feed, {"fmt": "rss"}, name="incident-rss"),
]
