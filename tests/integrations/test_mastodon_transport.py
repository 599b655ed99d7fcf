"""Mastodon through Mastodon.py, answered by `responses` at the requests boundary."""

import time
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qs

import pytest
import responses

from integrations.base import Message, OutboundError, Thread
from integrations.mastodon.transport import MastodonTransport

INSTANCE = "https://mastodon.example"
STATUSES = f"{INSTANCE}/api/v1/statuses"
URL = "https://status.example/updates/abc123def456/"


def _send(thread: Thread = Thread(), limit: int = 500, body: str = "We found it. Refunds are automatic."):  # noqa: B008
    transport = MastodonTransport(
        {"instance": INSTANCE, "max_characters": limit}, {"access_token": "mastodon-token"}
    )
    message = Message(
        url=URL, title="Payments failing — Identified",
        author="Dana Whitfield, CEO",
        document={"body": body},
    )  # fmt: skip
    request = transport.build_request(message, thread, idempotency_key="abc123def456-4")
    return transport.send(request, thread), request


def _fields(call: responses.Call) -> dict[str, list[str]]:
    body = call.request.body
    assert isinstance(body, str | bytes), "Mastodon.py sends a form-encoded body"
    return parse_qs(body if isinstance(body, str) else body.decode())


@responses.activate
def test_it_posts_a_status_with_the_token_and_an_idempotency_key():
    responses.post(STATUSES, json={"id": "109", "url": f"{INSTANCE}/@northwind/109"})
    sent, request = _send()
    call = responses.calls[-1]
    assert call.request.headers["Authorization"] == "Bearer mastodon-token"
    assert call.request.headers["Idempotency-Key"] == "abc123def456-4"
    fields = _fields(call)
    assert fields["status"] == [
        f"Payments failing — Identified\n\nWe found it. Refunds are automatic.\n\n— Dana Whitfield, CEO\n{URL}"
    ]
    assert fields["visibility"] == ["public"]
    assert "in_reply_to_id" not in fields
    assert (sent.remote_id, sent.remote_url) == ("109", f"{INSTANCE}/@northwind/109")
    assert "mastodon-token" not in str(request)


@responses.activate
def test_later_updates_reply_to_the_previous_post():
    responses.post(STATUSES, json={"id": "110", "url": ""})
    _send(Thread(root_id="109", last_id="109"))
    assert _fields(responses.calls[-1])["in_reply_to_id"] == ["109"]


@responses.activate
def test_it_fits_the_instance_limit_and_says_so():
    responses.post(STATUSES, json={"id": "111", "url": ""})
    _, request = _send(limit=140, body="We found it. " * 40)
    assert request["shortened"] is True
    assert len(request["status"].replace(URL, "x" * 23)) <= 140


@responses.activate
@pytest.mark.parametrize(
    ("status", "permanent"), [(401, True), (404, True), (422, True), (503, False), (500, False)]
)
def test_it_classifies_mastodon_errors(status, permanent):
    responses.post(STATUSES, status=status, json={"error": "nope"})
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is permanent


@responses.activate
@pytest.mark.parametrize("server_clock_behind", [0, 300])
def test_a_429_waits_until_the_instance_says_the_limit_resets(server_clock_behind):
    """Mastodon says when the limit resets (X-RateLimit-Reset, an ISO time on the server's clock); a fixed
    minute made every rate-limited update a minute late."""
    now = time.time() - server_clock_behind
    reset = datetime.fromtimestamp(now + 7, UTC)
    responses.post(
        STATUSES, status=429, json={"error": "Too many requests"},
        headers={
            "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "Date": format_datetime(datetime.fromtimestamp(now, UTC), usegmt=True),
        },
    )  # fmt: skip
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False
    assert failure.value.retry_after is not None
    assert 5 <= failure.value.retry_after <= 8


@responses.activate
def test_a_429_without_a_reset_time_waits_a_minute():
    responses.post(STATUSES, status=429, json={"error": "Too many requests"})
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.retry_after == 60
