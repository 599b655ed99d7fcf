from django.urls import path

from subscribers import bounce_views, hook_views, outbox, views

app_name = "subscribers"

urlpatterns = [
    path("", views.subscribe, name="subscribe"),
    path("sent/", views.sent, name="sent"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("manage/<str:token>/", views.manage, name="manage"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("hooks/confirm/<str:token>/", hook_views.confirm, name="hook-confirm"),
    path("hooks/manage/<str:token>/", hook_views.manage, name="hook-manage"),
    path("hooks/<slug:kind>/", hook_views.register, name="hook-register"),
    path("outbox/", outbox.outbox, name="outbox"),
    # django-anymail's webhook paths (anymail/<esp>/tracking/), for the providers we document.
    path("anymail/postmark/tracking/", bounce_views.postmark_tracking, name="postmark-tracking"),
    path("anymail/postmark/inbound/", bounce_views.postmark_inbound, name="postmark-inbound"),
    path("anymail/mailgun/tracking/", bounce_views.mailgun_tracking, name="mailgun-tracking"),
    path("anymail/mailgun/inbound/", bounce_views.mailgun_inbound, name="mailgun-inbound"),
]
