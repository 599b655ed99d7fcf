"""Polling a listener: the cursor moves on, the same posts are not stored twice, errors back off and keep the
cursor. The feed is served by a local fake that checks the conditional GET."""

from datetime import timedelta

import httpx
import pytest
import respx
from django.utils import timezone

from mentions import polling
from mentions.models import Mention, MentionSource

pytestmark = pytest.mark.django_db

FEED = "https://alerts.example/feeds/northwind"
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Google Alert - northwind</title><id>tag:alerts</id>
<updated>2026-12-03T09:00:00Z</updated>
<entry><id>tag:1</id><title>Northwind checkout &lt;b&gt;down&lt;/b&gt; again</title>
<link href="https://blog.example/northwind-down"/><updated>2026-12-03T09:00:00Z</updated>
<summary>Customers report checkout failures.</summary></entry>
</feed>"""


@pytest.fixture
def feed_source():
    return MentionSource.objects.create(
        kind="rss", name="Google Alerts", config={"url": FEED}, poll_seconds=120
    )


def test_a_feed_is_polled_its_cursor_kept_and_an_unchanged_feed_costs_a_304(feed_source):
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(FEED).mock(
            side_effect=[
                httpx.Response(
                    200, text=ATOM, headers={"ETag": '"v1"', "content-type": "application/atom+xml"}
                ),
                httpx.Response(304),
            ]
        )
        first = polling.poll(feed_source.pk)
        second = polling.poll(feed_source.pk, force=True)

    assert (first.heard, first.stored) == (1, 1) and (second.heard, second.stored) == (0, 0)
    assert route.calls[1].request.headers["If-None-Match"] == '"v1"'
    mention = Mention.objects.get()
    assert mention.service == "rss" and mention.url == "https://blog.example/northwind-down"
    assert mention.text.startswith("Northwind checkout down again")
    feed_source.refresh_from_db()
    assert feed_source.failures == 0 and feed_source.next_poll_at > timezone.now() + timedelta(seconds=100)


def test_a_source_is_not_polled_before_it_is_due_unless_forced(feed_source):
    MentionSource.objects.filter(pk=feed_source.pk).update(next_poll_at=timezone.now() + timedelta(minutes=1))

    assert polling.poll(feed_source.pk).skipped
    assert polling.due_sources(timezone.now()) == []


def test_an_error_backs_off_keeps_the_cursor_and_honours_retry_after(feed_source):
    MentionSource.objects.filter(pk=feed_source.pk).update(cursor='{"etag": "\\"v1\\""}')
    with respx.mock() as mock:
        mock.get(FEED).respond(429, headers={"Retry-After": "900"})
        result = polling.poll(feed_source.pk)

    feed_source.refresh_from_db()
    assert result.error and feed_source.failures == 1
    assert feed_source.cursor == '{"etag": "\\"v1\\""}'
    assert feed_source.next_poll_at >= timezone.now() + timedelta(seconds=890)
    assert "429" in feed_source.last_error


def test_a_demo_source_in_dry_run_hears_its_posts_once(db):
    source = MentionSource.objects.create(kind="mastodon", name="Demo Mastodon", dry_run=True)

    first = polling.poll(source.pk)
    second = polling.poll(source.pk, force=True)

    assert first.stored >= 5 and second.stored == 0
    # The demo has two spammers on Mastodon.
    assert Mention.objects.filter(set_aside_reason="spam").count() == 2
