"""Bluesky through the atproto SDK, answered by respx at its httpx boundary."""

import base64
import json
import time

import httpx
import pytest
import respx

from integrations.base import Message, OutboundError, Thread
from integrations.bluesky.transport import BlueskyTransport

SERVICE = "https://pds.example"
DID = "did:plc:northwind"
URL = "https://status.example/updates/abc123def456/"
POST_URI = f"at://{DID}/app.bsky.feed.post/3kpostkey"


def _jwt() -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    return f"{part({'alg': 'ES256K', 'typ': 'at+jwt'})}.{part({'sub': DID, 'iat': now, 'exp': now + 3600, 'scope': 'com.atproto.appPass'})}.c2ln"


def _session(mock: respx.MockRouter) -> respx.Route:
    return mock.post(f"{SERVICE}/xrpc/com.atproto.server.createSession").mock(
        return_value=httpx.Response(
            200, json={"accessJwt": _jwt(), "refreshJwt": _jwt(), "handle": "northwind.example", "did": DID}
        )
    )


def _send(thread: Thread = Thread(), body: str = "We found it. Refunds are automatic."):  # noqa: B008
    transport = BlueskyTransport(
        {"service": SERVICE, "handle": "northwind.example"}, {"app_password": "abcd-efgh"}
    )
    message = Message(
        url=URL, title="Payments failing — Identified",
        author="Dana Whitfield, CEO",
        document={"body": body},
    )  # fmt: skip
    request = transport.build_request(message, thread, idempotency_key="k")
    return transport.send(request, thread), request


def test_it_logs_in_with_the_app_password_and_posts_with_a_link_facet():
    with respx.mock(assert_all_called=False) as mock:
        login = _session(mock)
        create = mock.post(f"{SERVICE}/xrpc/com.atproto.repo.createRecord").mock(
            return_value=httpx.Response(200, json={"uri": POST_URI, "cid": "bafycid1"})
        )
        sent, request = _send()

    assert json.loads(login.calls.last.request.content) == {
        "identifier": "northwind.example",
        "password": "abcd-efgh",
    }
    wire = create.calls.last.request
    assert wire.headers["Authorization"].startswith("Bearer ")
    record = json.loads(wire.content)
    assert record["repo"] == "northwind.example" and record["collection"] == "app.bsky.feed.post"
    text = record["record"]["text"]
    assert (
        text
        == "Payments failing — Identified\n\nWe found it. Refunds are automatic.\n\n— Dana Whitfield, CEO · Signed update"
    )
    (facet,) = record["record"]["facets"]
    assert facet["features"][0]["uri"] == URL
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert text.encode()[start:end] == b"Signed update"
    assert "reply" not in record["record"]
    assert sent.remote_id == f"{POST_URI}|bafycid1"
    assert sent.remote_url == "https://bsky.app/profile/northwind.example/post/3kpostkey"
    assert "abcd-efgh" not in json.dumps(request)


def test_replies_name_the_threads_root_and_parent():
    root, parent = f"{POST_URI}|bafyroot", "at://did:plc:northwind/app.bsky.feed.post/3kparent|bafyparent"
    with respx.mock(assert_all_called=False) as mock:
        _session(mock)
        create = mock.post(f"{SERVICE}/xrpc/com.atproto.repo.createRecord").mock(
            return_value=httpx.Response(200, json={"uri": POST_URI, "cid": "bafycid2"})
        )
        _send(Thread(root_id=root, last_id=parent))
    reply = json.loads(create.calls.last.request.content)["record"]["reply"]
    strong_ref = {"$type": "com.atproto.repo.strongRef"}
    assert reply["root"] == {**strong_ref, "uri": POST_URI, "cid": "bafyroot"}
    parent_uri = "at://did:plc:northwind/app.bsky.feed.post/3kparent"
    assert reply["parent"] == {**strong_ref, "uri": parent_uri, "cid": "bafyparent"}


def test_a_long_update_is_fitted_to_three_hundred_characters():
    message = Message(url=URL, title="T", author="Dana", document={"body": "Word " * 200})
    request = BlueskyTransport({"handle": "h"}, {}).build_request(message, Thread(), idempotency_key="k")
    assert len(request["text"] + request["link"]["text"]) <= 300
    assert request["shortened"] is True


@pytest.mark.parametrize(("status", "permanent"), [(401, True), (400, True), (429, False), (502, False)])
def test_it_classifies_bluesky_errors(status, permanent):
    with respx.mock(assert_all_called=False) as mock:
        _session(mock)
        mock.post(f"{SERVICE}/xrpc/com.atproto.repo.createRecord").mock(
            return_value=httpx.Response(status, json={"error": "Nope", "message": "no"})
        )
        mock.get(f"{SERVICE}/xrpc/com.atproto.repo.getRecord").mock(  # a 400 asks whether it was ours
            return_value=httpx.Response(400, json={"error": "RecordNotFound", "message": "Could not locate"})
        )
        with pytest.raises(OutboundError) as failure:
            _send()
    assert failure.value.permanent is permanent


class _Sessions:
    """An in-memory session store, as the engine's encrypted cache store behaves."""

    def __init__(self) -> None:
        self.value: str | None = None

    def get(self) -> str | None:
        return self.value

    def set(self, value: str) -> None:
        self.value = value

    def forget(self) -> None:
        self.value = None


def _transport(sessions: _Sessions) -> BlueskyTransport:
    return BlueskyTransport(
        {"service": SERVICE, "handle": "northwind.example"}, {"app_password": "abcd-efgh"}, sessions=sessions
    )


def _post(transport: BlueskyTransport):
    message = Message(url=URL, title="T — Identified", author="Dana", document={"body": "Found it."})
    request = transport.build_request(message, Thread(), idempotency_key="k")
    return transport.send(request, Thread())


def test_the_session_is_reused_across_deliveries_not_created_each_time():
    sessions = _Sessions()
    with respx.mock(assert_all_called=False) as mock:
        login = _session(mock)
        create = mock.post(f"{SERVICE}/xrpc/com.atproto.repo.createRecord").mock(
            return_value=httpx.Response(200, json={"uri": POST_URI, "cid": "bafycid"})
        )
        _post(_transport(sessions))
        assert sessions.value  # saved after the first login
        _post(_transport(sessions))  # a new transport, as the next delivery gets
    assert login.call_count == 1 and create.call_count == 2


def test_a_saved_session_the_server_rejects_is_replaced_by_a_fresh_login():
    sessions = _Sessions()
    with respx.mock(assert_all_called=False) as mock:
        login = _session(mock)
        mock.post(f"{SERVICE}/xrpc/com.atproto.repo.createRecord").mock(
            return_value=httpx.Response(200, json={"uri": POST_URI, "cid": "bafycid"})
        )
        _post(_transport(sessions))
        stale = sessions.value
        mock.post(f"{SERVICE}/xrpc/com.atproto.repo.createRecord").mock(
            side_effect=[
                httpx.Response(400, json={"error": "ExpiredToken", "message": "Token has expired"}),
                httpx.Response(200, json={"uri": POST_URI, "cid": "bafycid3"}),
            ]
        )
        sent = _post(_transport(sessions))
    assert login.call_count == 2
    assert sent.remote_id == f"{POST_URI}|bafycid3"
    assert stale and sessions.value  # the fresh session was saved in place of the stale one


def test_the_engine_keeps_sessions_encrypted_in_the_cache(settings):
    from django.core.cache import cache

    from channels.sessions import CachedSessions

    config = {"handle": "northwind.example", "service": SERVICE}
    store = CachedSessions(7, {"app_password": "abcd-efgh"}, config)
    store.set("northwind.example:::did:plc:northwind:::secret-jwt")
    assert "secret-jwt" not in str(cache.get(store.key))
    assert store.get() == "northwind.example:::did:plc:northwind:::secret-jwt"
    assert CachedSessions(7, {"app_password": "changed"}, config).get() is None  # new credentials, new login
    moved = {**config, "service": "https://elsewhere.example"}
    assert (
        CachedSessions(7, {"app_password": "abcd-efgh"}, moved).get() is None
    )  # never sent to another server
    store.forget()
    assert store.get() is None


def test_test_connection_reads_the_session_back():
    with respx.mock(assert_all_called=False) as mock:
        _session(mock)
        mock.get(f"{SERVICE}/xrpc/com.atproto.server.getSession").mock(
            return_value=httpx.Response(200, json={"handle": "northwind.example", "did": DID})
        )
        assert _transport(_Sessions()).check() == f"@northwind.example on Bluesky ({DID})"


def test_a_retry_of_a_post_that_went_out_finds_it_instead_of_posting_twice():
    transport = _transport(_Sessions())
    message = Message(
        url=URL, title="T — Identified", author="Dana",
        document={"body": "Found it.", "published_at": "2026-11-23T09:31:00Z"},
    )  # fmt: skip
    request = transport.build_request(message, Thread(), idempotency_key="abc123def456-7")
    again = transport.build_request(message, Thread(), idempotency_key="abc123def456-7")
    other = transport.build_request(message, Thread(), idempotency_key="abc123def456-8")
    assert request["rkey"] == again["rkey"] != other["rkey"]
    assert len(request["rkey"]) == 13 and request["rkey"][0] in "234567abcdefghij"

    text = transport.text_of(request)
    with respx.mock(assert_all_called=False) as mock:
        _session(mock)
        create = mock.post(f"{SERVICE}/xrpc/com.atproto.repo.createRecord").mock(
            return_value=httpx.Response(
                400, json={"error": "InvalidRequest", "message": "Record already exists"}
            )
        )
        lookup = mock.get(f"{SERVICE}/xrpc/com.atproto.repo.getRecord").mock(
            return_value=httpx.Response(200, json={
                "uri": f"at://{DID}/app.bsky.feed.post/{request['rkey']}", "cid": "bafyfirst",
                "value": {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-11-23T09:31:01Z"},
            })
        )  # fmt: skip
        sent = transport.send(request, Thread())
    assert json.loads(create.calls.last.request.content)["rkey"] == request["rkey"]
    assert lookup.calls.last.request.url.params["rkey"] == request["rkey"]
    assert sent.remote_id == f"at://{DID}/app.bsky.feed.post/{request['rkey']}|bafyfirst"


def test_a_refusal_that_is_not_our_earlier_post_stays_a_refusal():
    transport = _transport(_Sessions())
    message = Message(url=URL, title="T", author="Dana", document={"body": "Found it."})
    request = transport.build_request(message, Thread(), idempotency_key="k")
    with respx.mock(assert_all_called=False) as mock:
        _session(mock)
        mock.post(f"{SERVICE}/xrpc/com.atproto.repo.createRecord").mock(
            return_value=httpx.Response(400, json={"error": "InvalidRequest", "message": "Invalid record"})
        )
        mock.get(f"{SERVICE}/xrpc/com.atproto.repo.getRecord").mock(
            return_value=httpx.Response(
                400, json={"error": "RecordNotFound", "message": "Could not locate record"}
            )
        )
        with pytest.raises(OutboundError) as failure:
            transport.send(request, Thread())
    assert failure.value.permanent is True
