"""The Discourse listener against a fake of its API (respx at the client boundary, checking the exact request):
search per saved term, pages, the cursor, a refused key, the rate limit; and the forum's signed webhook."""

import hashlib
import hmac
import json

import httpx
import pytest
import respx

from integrations.discourse.listener import DiscourseListener
from statushub.lib.outbound import OutboundError

FORUM = "https://community.northwind.example"
CONFIG = {"forum_url": FORUM, "api_username": "system"}
CREDS = {"api_key": "dk_test"}


def _page(ids, more=False):
    return {
        "posts": [
            {"id": i, "username": f"user{i}", "name": f"User {i}", "created_at": "2026-12-03T09:00:00.000Z",
             "blurb": f"checkout down for me too ({i})", "topic_id": 77, "post_number": i % 10 + 1}
            for i in ids
        ],
        "topics": [{"id": 77, "slug": "checkout-down", "title": "Checkout down?"}],
        "grouped_search_result": {"more_full_page_results": more},
    }  # fmt: skip


def _listener():
    return DiscourseListener(CONFIG, CREDS, searches=["northwind"])


def test_search_sends_the_key_and_the_latest_order_and_the_cursor_moves_on():
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"{FORUM}/search.json").mock(
            side_effect=[
                httpx.Response(200, json=_page([12, 11])),
                httpx.Response(200, json=_page([15, 14, 13], more=True)),
                httpx.Response(200, json=_page([12, 11])),
            ]
        )
        first, cursor = _listener().fetch("")
        second, cursor2 = _listener().fetch(cursor)

    request = route.calls[0].request
    assert request.headers["Api-Key"] == "dk_test" and request.headers["Api-Username"] == "system"
    assert dict(request.url.params) == {"q": "northwind order:latest", "page": "1"}
    assert [h.remote_id for h in first] == ["12", "11"] and json.loads(cursor) == {"northwind": 12}
    assert first[0].url == f"{FORUM}/t/checkout-down/77/3" and first[0].author.account == "user12"
    # Everything on page 1 was new and there is more: page 2 is read, and stops at what was seen.
    assert route.calls[2].request.url.params["page"] == "2"
    assert [h.remote_id for h in second] == ["15", "14", "13"] and json.loads(cursor2) == {"northwind": 15}


def test_a_refused_key_is_permanent_and_the_rate_limit_says_when_to_come_back():
    with respx.mock() as mock:
        mock.get(f"{FORUM}/search.json").respond(
            403,
            json={
                "errors": ["You are not permitted to view the requested resource."],
                "error_type": "invalid_access",
            },
        )
        with pytest.raises(OutboundError) as refused:
            _listener().fetch("")
    assert refused.value.permanent and "expired or revoked" in str(refused.value)

    with respx.mock() as mock:
        mock.get(f"{FORUM}/search.json").respond(
            429, headers={"Retry-After": "42"}, json={"errors": ["slow down"]}
        )
        with pytest.raises(OutboundError) as limited:
            _listener().fetch("")
    assert not limited.value.permanent and limited.value.retry_after == 42


def test_the_forums_webhook_is_verified_and_only_new_posts_are_heard():
    body = json.dumps({"post": {"id": 901, "username": "ana", "name": "Ana", "cooked": "<p>Checkout <b>down</b></p>",
                                "created_at": "2026-12-03T09:05:00Z", "topic_id": 5, "topic_slug": "outage",
                                "post_number": 2}}).encode()  # fmt: skip
    signature = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()

    heard = _listener().inbound_post(
        {"X-Discourse-Event": "post_created", "X-Discourse-Event-Signature": signature}, body, "s3cret"
    )
    assert heard is not None and heard.text == "Checkout down" and heard.url == f"{FORUM}/t/outage/5/2"
    edited = {"X-Discourse-Event": "post_edited", "X-Discourse-Event-Signature": signature}
    assert _listener().inbound_post(edited, body, "s3cret") is None
    with pytest.raises(PermissionError):
        _listener().inbound_post({"X-Discourse-Event-Signature": "sha256=00"}, body, "s3cret")
