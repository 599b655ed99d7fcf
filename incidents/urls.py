from django.urls import path

from incidents import verify_views, views

app_name = "status"

urlpatterns = [
    path("", views.status_page, name="page"),
    path("_live/", views.status_live, name="live"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident"),
    path("incidents/<int:pk>/_live/", views.incident_live, name="incident-live"),
    path("incidents/<int:pk>.json", verify_views.incident_json, name="incident-json"),
    path("history/", views.history_index, name="history"),
    path("history/<int:year>/<int:month>/", views.history_month, name="history-month"),
    path("updates/<slug:public_id>/", verify_views.update_redirect, name="update"),
    path("updates/<slug:public_id>/statement", verify_views.update_statement, name="update-statement"),
    path("updates/<slug:public_id>.json", verify_views.update_json, name="update-json"),
    path(".well-known/statushub/keys.json", verify_views.keys_json, name="keys"),
    path(".well-known/statushub/keys/<str:kid>.pem", verify_views.key_pem, name="key-pem"),
    path(".well-known/statushub/chain.json", verify_views.chain_json, name="chain"),
    path(".well-known/statushub/chain/<int:after>.json", verify_views.chain_json, name="chain-page"),
]
