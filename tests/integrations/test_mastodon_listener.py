"""Listening and answering on Mastodon through Mastodon.py, answered by `responses` at the requests boundary:
mentions (notifications), saved searches (v2 search), paging by Link headers, limits, an expired token, and a
person's reply or private message."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integrations.base import OutboundError, Remote, TooLong
from integrations.mastodon.listener import MastodonListener
from integrations.mastodon.transport import MastodonTransport
from integrations.registry import listener_class

INSTANCE = "https://mastodon.example"
NOTIFICATIONS = f"{INSTANCE}/api/v1/notifications"
SEARCH = f"{INSTANCE}/api/v2/search"
CONFIG = {"instance": INSTANCE, "max_characters": "500"}
CREDENTIALS = {"access_token": "mastodon-token"}


def _status(status_id: int, text: str, acct: str = "ana@mastodon.social", followers: int = 120) -> dict:
    return {
        "id": str(status_id), "created_at": "2026-12-03T10:00:00.000Z", "in_reply_to_id": None,
        "url": f"https://mastodon.social/@ana/{status_id}", "uri": f"https://mastodon.social/users/ana/statuses/{status_id}",
        "content": f"<p>{text}</p>", "visibility": "public",
        "account": {"id": "77", "acct": acct, "username": acct.split("@")[0], "display_name": "Ana Ruiz",
                    "url": "https://mastodon.social/@ana", "followers_count": followers},
    }  # fmt: skip


def _mention(notification_id: int, status: dict) -> dict:
    return {"id": str(notification_id), "type": "mention", "created_at": status["created_at"],
            "account": status["account"], "status": status}  # fmt: skip


def _query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(call.request.url)).query)


def _listener(*searches: str) -> MastodonListener:
    cls = listener_class("mastodon")
    assert cls is MastodonListener  # listed once, in the registry
    return cls(CONFIG, CREDENTIALS, searches=searches)


@responses.activate
def test_the_first_poll_hears_mentions_and_searches_once_each_with_who_said_it():
    said = _status(201, "@northwind payments are down <b>again</b> &amp; nobody answers")
    also = _status(202, "Is Northwind down for anyone else?", acct="bo@hachyderm.io", followers=5400)
    responses.get(NOTIFICATIONS, json=[_mention(9001, said)])
    responses.get(SEARCH, json={"accounts": [], "hashtags": [], "statuses": [also, said]})

    heard, cursor = _listener("Northwind").fetch("")

    assert [h.remote_id for h in heard] == ["201", "202"]  # the post found twice is heard once
    first = heard[0]
    assert first.text == "@northwind payments are down again & nobody answers"
    assert (first.author.account, first.author_name, first.reach, first.found_by) == (
        "ana@mastodon.social",
        "Ana Ruiz",
        120,
        "mention",
    )
    assert first.url == "https://mastodon.social/@ana/201"
    assert first.posted_at == datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert heard[1].found_by == "search:Northwind" and heard[1].reach == 5400

    notifications, search = responses.calls[0], responses.calls[1]
    assert notifications.request.headers["Authorization"] == "Bearer mastodon-token"
    assert _query(notifications) == {"types[]": ["mention"], "limit": ["40"]}  # no backlog: one page
    assert _query(search) == {
        "q": ["Northwind"],
        "type": ["statuses"],
        "limit": ["40"],
    }  # resolve: off by default
    assert '"mentions": "9001"' in cursor and '"search:Northwind": "202"' in cursor


@responses.activate
def test_later_polls_ask_only_for_newer_posts_and_follow_the_link_header_back():
    full_page = [_mention(9100 - i, _status(400 - i, f"mention {i}")) for i in range(40)]
    older = [_mention(9050, _status(350, "the oldest new one"))]
    responses.get(
        NOTIFICATIONS, json=full_page,
        headers={"Link": f'<{NOTIFICATIONS}?max_id=9061&since_id=9001>; rel="next", '
                         f'<{NOTIFICATIONS}?min_id=9100>; rel="prev"'},
    )  # fmt: skip
    responses.get(NOTIFICATIONS, json=older)

    heard, cursor = _listener().fetch('{"mentions": "9001"}')

    assert len(heard) == 41 and heard[-1].text == "the oldest new one"
    assert _query(responses.calls[0])["since_id"] == ["9001"]
    assert _query(responses.calls[1])["max_id"] == ["9061"]  # the page Mastodon linked to
    assert '"mentions": "9100"' in cursor


@responses.activate
def test_a_rate_limit_says_when_to_come_back_and_keeps_the_cursor_for_the_caller():
    reset = datetime.now(UTC) + timedelta(seconds=90)
    responses.get(
        NOTIFICATIONS, status=429, json={"error": "Too many requests"},
        headers={"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                 "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
    )  # fmt: skip
    with pytest.raises(OutboundError) as error:
        _listener().fetch('{"mentions": "9001"}')
    assert not error.value.permanent
    assert error.value.retry_after is not None and 60 <= error.value.retry_after <= 95


@responses.activate
def test_an_expired_token_is_a_permanent_error_a_person_must_fix():
    responses.get(NOTIFICATIONS, status=401, json={"error": "The access token is invalid"})
    with pytest.raises(OutboundError, match="refused the access token") as error:
        _listener().fetch("")
    assert error.value.permanent


@responses.activate
def test_a_reply_goes_into_their_thread_mentioning_them_and_a_direct_message_only_to_them():
    responses.post(f"{INSTANCE}/api/v1/statuses", json={"id": "501", "url": f"{INSTANCE}/@northwind/501"})
    responses.post(f"{INSTANCE}/api/v1/statuses", json={"id": "502", "url": ""})
    transport = MastodonTransport(CONFIG, CREDENTIALS)
    assert transport.can_reply() and transport.can_direct()
    ana = Remote(id="201", account="ana@mastodon.social")

    reply = transport.build_reply(
        "Sorry for the trouble, Ana. I'm Sam from Northwind.", ana, idempotency_key="r-1"
    )
    sent = transport.send(reply, thread=None)  # type: ignore[arg-type]
    direct = transport.build_direct(
        "Could you send me your account e-mail?",
        Remote(id="77", account="ana@mastodon.social"),
        idempotency_key="d-1",
    )
    transport.send(direct, thread=None)  # type: ignore[arg-type]

    first, second = (parse_qs(str(call.request.body)) for call in responses.calls)
    assert first["status"] == ["@ana@mastodon.social Sorry for the trouble, Ana. I'm Sam from Northwind."]
    assert (first["in_reply_to_id"], first["visibility"]) == (["201"], ["public"])
    assert responses.calls[0].request.headers["Idempotency-Key"] == "r-1"
    assert sent.remote_id == "501"
    assert second["visibility"] == ["direct"] and "in_reply_to_id" not in second
    assert second["status"][0].startswith("@ana@mastodon.social ")


def test_a_reply_too_long_for_the_instance_is_refused_never_cut():
    transport = MastodonTransport({**CONFIG, "max_characters": "60"}, CREDENTIALS)
    with pytest.raises(TooLong, match="Mastodon allows 60"):
        transport.build_reply("x" * 50, Remote(id="1", account="ana@mastodon.social"), idempotency_key="k")
