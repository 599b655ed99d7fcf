"""Findings of a review of the mentions inbox, each one reproduced: bad input gets a clear answer, never a 500;
credentials go only where the channel says; one voice and one answer hold."""

import time
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import respx
from django.urls import reverse
from django.utils import timezone

from channels.models import Channel
from integrations.discourse.listener import DiscourseListener
from mentions import inbound, polling, services
from mentions.charts import chart
from mentions.models import Mention, MentionReply, MentionSource

pytestmark = pytest.mark.django_db


def _mention(**kw):
    (m,) = services.ingest(
        [
            services.Incoming(
                service="mastodon",
                remote_id=kw.pop("remote_id", "1"),
                text="checkout down",
                posted_at=timezone.now(),
                **kw,
            )
        ]
    )
    return m


def test_a_stored_api_base_cannot_send_the_forums_key_elsewhere(settings):
    settings.STATUSHUB_TRANSPORT_OVERRIDES = False
    listener = DiscourseListener(
        {"forum_url": "https://community.example", "api_base": "https://attacker.example"}, {"api_key": "k"},
        searches=["northwind"],
    )  # fmt: skip
    with respx.mock(assert_all_called=True) as fake:
        forum = fake.get("https://community.example/search.json").respond(
            200, json={"posts": [], "topics": []}
        )
        listener.fetch("")
    assert forum.called


def test_a_sources_config_cannot_override_its_channels_address(db):
    channel = Channel.objects.create(
        kind="discourse", name="Forum", config={"forum_url": "https://community.example"}
    )
    source = MentionSource.objects.create(
        kind="discourse", name="Forum", channel=channel, config={"forum_url": "https://attacker.example"}
    )
    assert polling.listener_for(source).config["forum_url"] == "https://community.example"


def test_someone_without_the_say_cannot_unlink_a_mention_to_answer_it(client, communicator, make_incident):
    incident = make_incident("Checkout failing", public=False)
    mention = _mention()
    Mention.objects.filter(pk=mention.pk).update(incident=incident)
    client.force_login(communicator)  # a communicator, not this incident's primary communicator

    response = client.post(
        reverse("manage:mention-action", args=[mention.pk]), {"action": "link", "incident": ""}
    )

    assert response.status_code == 403
    mention.refresh_from_db()
    assert mention.incident == incident


def test_a_second_press_on_send_does_not_answer_twice(client, communicator):
    Channel.objects.create(
        kind="mastodon", name="Northwind", dry_run=True, config={"instance": "https://m.example"}
    )
    mention = _mention()
    client.force_login(communicator)
    form = {"text": "Hi, sorry for the trouble.", "kind": "reply", "action": "send", "replies_seen": "0"}

    client.post(reverse("manage:mention-reply", args=[mention.pk]), form)
    again = client.post(reverse("manage:mention-reply", args=[mention.pk]), form)

    assert MentionReply.objects.count() == 1
    assert "Someone answered this mention a moment ago" in again.content.decode()


@pytest.mark.parametrize(
    "headers",
    [
        {"webhook-id": "m", "webhook-timestamp": "²", "webhook-signature": "v1,x"},
        {"webhook-id": "m", "webhook-timestamp": "9" * 400, "webhook-signature": "v1,x"},
        {"webhook-id": "m", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,ünïcode"},
    ],
)
def test_odd_signature_headers_are_refused_not_a_crash(client, headers):
    source = MentionSource.objects.create(kind="webhook", name="Hook", slug="hook")
    inbound.new_secret(source)

    response = client.post("/hooks/mentions/hook/", "{}", content_type="application/json", headers=headers)

    assert response.status_code == 401


def test_an_impossible_date_is_a_clear_error():
    with pytest.raises(inbound.Invalid, match="posted_at"):
        inbound.parse({"remote_id": "1", "text": "x", "posted_at": "2026-02-30T10:00:00Z"})


def test_only_web_links_are_kept_and_nul_characters_dropped():
    mention = _mention(url="javascript:alert(1)", author_handle="ana\x00")
    assert mention.url == "" and mention.author_handle == "ana"


def test_an_unexpected_answer_is_recorded_on_the_source_not_a_crash(db):
    source = MentionSource.objects.create(kind="rss", name="Feed", config={"url": "https://feed.example/f"})
    with mock.patch.object(polling, "_fetch", side_effect=KeyError("items")):
        result = polling.poll(source.pk)
    source.refresh_from_db()
    assert result.error and source.failures == 1 and "KeyError" in source.last_error


def test_odd_inbox_parameters_are_ignored(client, communicator):
    client.force_login(communicator)
    assert client.get(reverse("manage:mentions") + "?page=²&incident=9" + "9" * 30).status_code == 200


def test_an_old_post_linked_to_an_incident_cannot_stretch_the_chart():
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    drawn = chart([(now - timedelta(days=400), -0.5), (now, -0.5)], since=now - timedelta(hours=1), now=now)
    assert drawn is not None and len(drawn.bars) <= 96


def test_the_pages_keep_the_incident_filter(client, communicator, make_incident):
    incident = make_incident("Checkout failing", public=False)
    now = timezone.now()
    Mention.objects.bulk_create(
        [
            Mention(
                service="x", remote_id=str(i), text="t", posted_at=now, received_at=now, incident=incident
            )
            for i in range(60)
        ]
    )
    client.force_login(communicator)
    page = client.get(reverse("manage:mentions") + f"?incident={incident.pk}").content.decode()
    assert f"incident={incident.pk}&amp;page=1" in page
