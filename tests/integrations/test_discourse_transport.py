"""The Discourse transport at its httpx boundary (respx): the exact requests the forum expects and its real answers."""

import json
import re

import httpx
import pytest
import respx

from integrations.base import Message, OutboundError, Thread
from integrations.discourse.transport import DiscourseTransport

FORUM = "https://forum.example.com"
POSTS = f"{FORUM}/posts.json"
KEY = "d1s-api-key-0123456789abcdef"
URL = "https://status.example/updates/abc123def456/"
TITLE = "Payments failing — 14 Mar 2025, 09:12 UTC"
RAW = "**Identified**\n\nWe found it.\n\n- Refunds are automatic.\n- No action needed.\n\n— Dana Whitfield, CEO · [Signed update](https://status.example/updates/abc123def456/)"
SLUG = "payments-failing-14-mar-2025-09-12-utc"
CREATED = {"id": 901, "username": "system", "post_number": 1, "topic_id": 342, "topic_slug": SLUG}

# Discourse's own error answers (ApplicationController#render_json_error and NewPostResultSerializer).
INVALID_ACCESS = {
    "errors": ["You are not permitted to view the requested resource. The API username or key is invalid."],
    "error_type": "invalid_access",
}
NOT_FOUND = {"errors": ["The requested URL or resource could not be found."], "error_type": "not_found"}
RATE_LIMITED = {
    "errors": [
        "You\u2019ve performed this action too many times. Please wait 24 seconds before trying again."
    ],
    "error_type": "rate_limit",
    "extras": {"wait_seconds": 24, "time_left": "24 seconds"},
}
TAKEN = {"action": "create_post", "errors": ["External has already been taken"]}


def _message(
    body: str = "We found it.\n\n- Refunds are automatic.\n- No action needed.",
    *,
    name: str = "Payments failing",
    incident_id: str = "42",
    published_at: str | None = "2025-03-14T09:12:07Z",
    url: str = URL,
) -> Message:
    return Message(
        url=url, title=f"{name} — Identified", author="Dana Whitfield, CEO",
        document={
            "status": "identified", "body": body, "published_at": published_at,
            "incident": {"id": incident_id, "name": name, "status": "identified", "impact": "major"},
        },
    )  # fmt: skip


def _transport(**config: str) -> DiscourseTransport:
    return DiscourseTransport(
        {"forum_url": FORUM, "category_id": "7", "api_username": "system", **config}, {"api_key": KEY}
    )


def _build(thread: Thread = Thread(), message: Message | None = None, **config: str):  # noqa: B008
    transport = _transport(**config)
    return transport, transport.build_request(message or _message(), thread, idempotency_key="abc123def456-4")


def _send(thread: Thread = Thread(), message: Message | None = None, **config: str):  # noqa: B008
    transport, request = _build(thread, message, **config)
    return transport.send(request, thread), request


def _json(route: respx.Route, index: int = -1) -> dict:
    return json.loads(route.calls[index].request.content)


@respx.mock
def test_the_first_update_starts_a_topic_in_the_category_with_the_key_headers():
    route = respx.post(POSTS).mock(return_value=httpx.Response(200, json=CREATED))

    sent, request = _send()

    wire = route.calls.last.request
    assert wire.headers["Api-Key"] == KEY
    assert wire.headers["Api-Username"] == "system"
    assert wire.headers["content-type"] == "application/json"
    body = _json(route)
    assert set(body) == {"title", "raw", "category", "external_id"}
    assert (body["title"], body["raw"], body["category"]) == (TITLE, RAW, 7)
    assert (sent.remote_id, sent.remote_url) == ("342", f"{FORUM}/t/{SLUG}/342/1")
    assert sent.extra["post_id"] == 901
    assert request["method"] == "POST /posts.json"
    assert request["topic_id"] is None
    assert KEY not in json.dumps(request)


@respx.mock
def test_later_updates_reply_in_the_topic_and_answer_with_the_topic_id_for_the_next_ones():
    route = respx.post(POSTS).mock(
        return_value=httpx.Response(200, json={**CREATED, "id": 905, "post_number": 3})
    )

    sent, request = _send(Thread(root_id="342", last_id="342"))

    assert _json(route) == {"topic_id": 342, "raw": RAW}
    assert request["topic_id"] == "342"
    assert sent.remote_id == "342"  # the engine replies to root_id: it must stay the topic, not the post
    assert sent.remote_url == f"{FORUM}/t/{SLUG}/342/3"
    assert sent.extra == {"post_id": 905, "post_number": 3}
    assert KEY not in json.dumps(request)


def test_the_external_id_is_stable_per_incident_and_channel_and_valid_for_discourse():
    _, first = _build()
    _, later = _build(message=_message("Fixed.", published_at="2025-03-14T11:00:00Z"))
    _, other_incident = _build(message=_message(incident_id="43"))
    _, other_category = _build(category_id="8")
    _, other_user = _build(api_username="dana")
    _, other_site = _build(message=_message(url="https://status.other.example/updates/abc123def456/"))

    external_id = first["json"]["external_id"]
    assert later["json"]["external_id"] == external_id
    others = {r["json"]["external_id"] for r in (other_incident, other_category, other_user, other_site)}
    assert len(others) == 4
    assert external_id not in others
    assert re.fullmatch(r"[\w-]{1,50}", external_id)
    assert external_id.startswith("statushub-42-")


@pytest.mark.parametrize(
    ("name", "published_at", "title"),
    [
        ("DB down", "2025-01-02T03:04:05Z", "DB down — 2 Jan 2025, 03:04 UTC"),
        ("X", None, "X — status update"),
        ("  ", "2025-01-02T03:04:05Z", "Incident — 2 Jan 2025, 03:04 UTC"),
    ],
)
def test_the_topic_title_is_the_incident_name_and_date_and_never_below_the_forum_minimum(
    name, published_at, title
):
    _, request = _build(message=_message(name=name, published_at=published_at))
    assert request["json"]["title"] == title
    assert len(request["json"]["title"]) >= 15


def test_a_long_incident_name_is_cut_between_words_to_fit_the_title_limit():
    name = " ".join(["Checkout and payments degraded"] * 20)
    _, request = _build(message=_message(name=name))
    title = request["json"]["title"]
    assert len(title) <= 255
    kept, when = title.split("… — ")
    assert when == "14 Mar 2025, 09:12 UTC"
    assert name.startswith(kept)
    assert name[len(kept)] == " "  # cut between words


def test_markdown_is_kept_as_written_and_the_text_includes_the_topic_title():
    _, first = _build()
    assert first["shortened"] is False
    assert DiscourseTransport.text_of(first) == f"{TITLE}\n\n{RAW}"

    _, reply = _build(Thread(root_id="342", last_id="342"))
    assert DiscourseTransport.text_of(reply) == RAW


def test_an_update_longer_than_the_forums_post_limit_is_fitted_and_says_so():
    _, request = _build(message=_message("We found it and are rolling back. " * 1200))
    raw = request["json"]["raw"]
    assert len(raw) <= 32000
    assert raw.endswith(
        " …\n\n— Dana Whitfield, CEO · [Signed update](https://status.example/updates/abc123def456/)"
    )
    assert request["shortened"] is True


@respx.mock
def test_api_base_replaces_the_forum_for_api_calls_but_links_stay_on_the_forum():
    route = respx.post("http://127.0.0.1:8765/posts.json").mock(
        return_value=httpx.Response(200, json=CREATED)
    )
    sent, request = _send(api_base="http://127.0.0.1:8765/")
    assert route.called
    assert request["url"] == "http://127.0.0.1:8765/posts.json"
    assert sent.remote_url == f"{FORUM}/t/{SLUG}/342/1"


@respx.mock
def test_check_reads_the_category_and_says_who_posts_where():
    route = respx.get(f"{FORUM}/c/7/show.json").mock(
        return_value=httpx.Response(200, json={"category": {"id": 7, "name": "Status", "permission": 1}})
    )
    assert _transport().check() == "posting as @system in “Status” on forum.example.com"
    wire = route.calls.last.request
    assert (wire.headers["Api-Key"], wire.headers["Api-Username"]) == (KEY, "system")


@respx.mock
def test_check_fails_when_the_user_may_not_start_topics_in_the_category():
    respx.get(f"{FORUM}/c/7/show.json").mock(
        return_value=httpx.Response(200, json={"category": {"id": 7, "name": "Status", "permission": None}})
    )
    with pytest.raises(OutboundError) as failure:
        _transport(api_username="dana").check()
    assert failure.value.permanent is True
    assert "@dana" in failure.value.message
    assert "may not create topics" in failure.value.message


@respx.mock
@pytest.mark.parametrize(("status", "body"), [(403, INVALID_ACCESS), (404, NOT_FOUND)])
def test_check_with_a_bad_key_or_a_missing_category_is_permanent_and_does_not_echo_the_key(status, body):
    respx.get(f"{FORUM}/c/7/show.json").mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(OutboundError) as failure:
        _transport().check()
    assert failure.value.permanent is True
    assert body["errors"][0] in failure.value.message
    assert KEY not in failure.value.message


@respx.mock
@pytest.mark.parametrize("category_id", ["status", "", "7a"])
def test_a_category_that_is_not_a_number_is_refused_without_calling_the_forum(category_id):
    transport, request = _build(category_id=category_id)
    with pytest.raises(OutboundError) as failure:
        transport.send(request, Thread())
    assert failure.value.permanent is True
    with pytest.raises(OutboundError):
        transport.check()
    assert not respx.calls


@respx.mock
@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [
        (401, INVALID_ACCESS, True),
        (403, INVALID_ACCESS, True),  # bad key, or the user may not post in the category
        (404, NOT_FOUND, True),
        (400, {"errors": ["param is missing or the value is empty: raw"]}, True),
        (500, {}, False),
        (502, b"<html>Bad Gateway</html>", False),
        (503, {"errors": ["Site is in read only mode"]}, False),
        (429, RATE_LIMITED, False),
    ],
)
def test_it_classifies_discourse_answers(status, body, permanent):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    respx.post(POSTS).mock(return_value=httpx.Response(status, content=content))
    with pytest.raises(OutboundError) as failure:
        _send(Thread(root_id="342", last_id="342"))
    assert failure.value.permanent is permanent
    assert KEY not in failure.value.message


@respx.mock
def test_a_rejected_reply_is_permanent_and_shows_discourses_reasons():
    respx.post(POSTS).mock(
        return_value=httpx.Response(
            422, json={"action": "create_post", "errors": ["Body is too short", "Topic is closed"]}
        )
    )
    with pytest.raises(OutboundError) as failure:
        _send(Thread(root_id="342", last_id="342"))
    assert failure.value.permanent is True
    assert "Body is too short; Topic is closed" in failure.value.message
    assert len(respx.calls) == 1  # replies have no external_id to look up


@respx.mock
@pytest.mark.parametrize(
    ("headers", "body", "retry_after"),
    [
        ({"Retry-After": "30"}, RATE_LIMITED, 30.0),
        ({}, RATE_LIMITED, 24.0),
        ({}, b"<html><center><h1>429 Too Many Requests</h1></center></html>", None),
    ],
)
def test_rate_limits_wait_as_long_as_discourse_says(headers, body, retry_after):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    respx.post(POSTS).mock(return_value=httpx.Response(429, content=content, headers=headers))
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False
    assert failure.value.retry_after == retry_after


@respx.mock
@pytest.mark.parametrize(
    "exception",
    [httpx.ConnectTimeout("timed out"), httpx.ReadTimeout("timed out"), httpx.ConnectError("refused")],
)
def test_timeouts_and_connection_errors_are_transient(exception):
    respx.post(POSTS).mock(side_effect=exception)
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False


def _existing(external_id: str, cooked: str) -> tuple[respx.Route, respx.Route]:
    lookup = respx.get(f"{FORUM}/t/external_id/{external_id}.json").mock(
        return_value=httpx.Response(301, headers={"Location": f"{FORUM}/t/{SLUG}/342.json"})
    )
    first = {"id": 901, "post_number": 1, "topic_id": 342, "cooked": cooked}
    topic = respx.get(f"{FORUM}/t/342.json").mock(
        return_value=httpx.Response(
            200, json={"id": 342, "slug": SLUG, "title": TITLE, "post_stream": {"posts": [first]}}
        )
    )
    return lookup, topic


@respx.mock
def test_a_topic_an_earlier_attempt_already_made_is_found_by_its_external_id_instead_of_failing():
    _, request = _build()
    posts = respx.post(POSTS).mock(return_value=httpx.Response(422, json=TAKEN))
    lookup, topic = _existing(request["json"]["external_id"], f'<p><a href="{URL}">Signed update</a></p>')

    sent, _ = _send()

    assert posts.call_count == 1
    assert lookup.calls.last.request.headers["Api-Key"] == KEY
    assert topic.calls.last.request.headers["Api-Username"] == "system"
    assert (sent.remote_id, sent.remote_url) == ("342", f"{FORUM}/t/{SLUG}/342/1")
    assert sent.extra["post_id"] == 901


@respx.mock
def test_a_topic_another_update_started_meanwhile_gets_this_update_as_a_reply():
    _, request = _build()
    posts = respx.post(POSTS).mock(
        side_effect=[
            httpx.Response(422, json=TAKEN),
            httpx.Response(200, json={**CREATED, "id": 902, "post_number": 2}),
        ]
    )
    _existing(
        request["json"]["external_id"],
        '<p><a href="https://status.example/updates/zzz/">Signed update</a></p>',
    )

    sent, _ = _send()

    assert _json(posts, 1) == {"topic_id": 342, "raw": RAW}
    assert (sent.remote_id, sent.remote_url) == ("342", f"{FORUM}/t/{SLUG}/342/2")


@respx.mock
@pytest.mark.parametrize(
    ("lookup", "message"),
    [
        (httpx.Response(404, json=NOT_FOUND), "Title has already been used"),
        (httpx.Response(403, json=INVALID_ACCESS), "Title has already been used"),
    ],
)
def test_a_rejected_topic_that_is_not_ours_fails_permanently_with_discourses_reasons(lookup, message):
    _, request = _build()
    respx.post(POSTS).mock(
        return_value=httpx.Response(
            422, json={"action": "create_post", "errors": ["Title has already been used"]}
        )
    )
    respx.get(f"{FORUM}/t/external_id/{request['json']['external_id']}.json").mock(return_value=lookup)
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is True
    assert message in failure.value.message


@respx.mock
def test_a_rate_limited_lookup_is_retried_later():
    _, request = _build()
    respx.post(POSTS).mock(return_value=httpx.Response(422, json=TAKEN))
    respx.get(f"{FORUM}/t/external_id/{request['json']['external_id']}.json").mock(
        return_value=httpx.Response(429, json=RATE_LIMITED)
    )
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False
    assert failure.value.retry_after == 24.0


@respx.mock
def test_a_post_held_for_approval_is_permanent_and_says_where_to_approve_it():
    respx.post(POSTS).mock(
        return_value=httpx.Response(
            200, json={"action": "enqueued", "pending_post": {"id": 3}, "pending_count": 1, "success": True}
        )
    )
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is True
    assert "approval" in failure.value.message


@respx.mock
def test_a_success_without_a_topic_id_is_retried_rather_than_recorded():
    respx.post(POSTS).mock(return_value=httpx.Response(200, json={"id": 901}))
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False


@respx.mock
def test_a_redirected_post_is_permanent_and_names_the_address_to_use():
    respx.post("http://forum.example.com/posts.json").mock(
        return_value=httpx.Response(301, headers={"Location": POSTS})
    )
    with pytest.raises(OutboundError) as failure:
        _send(forum_url="http://forum.example.com")
    assert failure.value.permanent is True
    assert POSTS in failure.value.message


def test_the_form_asks_for_the_forum_and_category_and_keeps_only_the_key_secret():
    fields = {field.name: field for field in DiscourseTransport.fields}
    assert set(fields) == {"forum_url", "category_id", "api_username", "api_key"}
    assert [name for name, field in fields.items() if field.secret] == ["api_key"]
    assert (fields["forum_url"].kind, fields["category_id"].kind) == ("url", "number")
    assert fields["api_username"].default == "system"
