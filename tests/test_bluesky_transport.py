"""Bluesky through the atproto SDK, answered by respx at its httpx boundary."""

import base64
import json
import time

import httpx
import pytest
import respx

from channels.integrations.bluesky.transport import BlueskyTransport
from channels.transports import Message, Thread, TransportError

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
        with pytest.raises(TransportError) as failure:
            _send()
    assert failure.value.permanent is permanent
