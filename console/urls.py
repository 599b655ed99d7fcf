from django.urls import path

from console import channel_views as connect_views
from console import compose_views, key_views, mention_views, warroom_views
from console import delivery_views as channel_views
from console import profile_views as people_views

app_name = "manage"

urlpatterns = [
    path("", compose_views.dashboard, name="dashboard"),
    path("incidents/<int:pk>/", warroom_views.incident_console, name="incident"),
    path("incidents/<int:pk>/_live/", warroom_views.incident_live, name="incident-live"),
    path("incidents/<int:pk>/situation/", warroom_views.situation, name="situation"),
    path("incidents/<int:pk>/roster/", warroom_views.roster, name="roster"),
    path("incidents/<int:pk>/acknowledge/", warroom_views.acknowledge, name="acknowledge"),
    path("incidents/<int:pk>/suggestions/", warroom_views.suggest, name="suggest"),
    path("suggestions/<int:pk>/", warroom_views.decide, name="suggestion"),
    path("notes/<int:pk>/quote/", warroom_views.quote, name="quote-note"),
    path("incidents/<int:pk>/compose/", compose_views.compose, name="compose"),
    path("incidents/<int:pk>/notes/", compose_views.notes_stream, name="notes"),
    path("updates/<slug:public_id>/correct/", compose_views.correct, name="correct"),
    path("drafts/<int:pk>/", compose_views.draft_editor, name="draft"),
    path("drafts/<int:pk>/preview/", compose_views.preview, name="preview"),
    path("drafts/<int:pk>/publish/", compose_views.publish, name="publish"),
    path("drafts/<int:pk>/statement/", compose_views.prepare_statement, name="statement"),
    path("updates/<slug:public_id>/deliveries/", channel_views.deliveries, name="deliveries"),
    path("deliveries/<int:pk>/", channel_views.delivery_action, name="delivery-action"),
    path("channels/", connect_views.channel_list, name="channels"),
    path("channels/new/", connect_views.channel_new, name="channel-new"),
    path("channels/<int:pk>/", connect_views.channel_edit, name="channel-edit"),
    path("channels/<int:pk>/test/", connect_views.channel_test, name="channel-test"),
    path("mentions/", mention_views.inbox, name="mentions"),
    path("mentions/new/", mention_views.mention_new, name="mention-new"),
    path("mentions/<int:pk>/", mention_views.mention_detail, name="mention"),
    path("mentions/<int:pk>/action/", mention_views.mention_action, name="mention-action"),
    path("mentions/<int:pk>/reply/", mention_views.mention_reply, name="mention-reply"),
    path("mention-sources/<int:pk>/poll/", mention_views.source_poll, name="source-poll"),
    path("spikes/<int:pk>/", mention_views.spike_action, name="spike"),
    path("incidents/<int:pk>/follow-up/", mention_views.follow_up, name="follow-up"),
    path("reauth/", compose_views.reauth, name="reauth"),
    path("keys/", key_views.keys, name="keys"),
    path("keys/action/", key_views.key_action, name="key-action"),
    path("profile/", people_views.profile, name="profile"),
]
