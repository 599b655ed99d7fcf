"""Slack through slack_sdk against a local fake Slack API, asserting the exact chat.postMessage request."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from integrations.base import Message, OutboundError, Thread
from integrations.slack.transport import SlackTransport

TOKEN = "xoxb-test-token"


class _FakeSlack(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    answer: tuple[int, dict[str, Any], dict[str, str]] = (200, {"ok": True, "ts": "1764000000.000100"}, {})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append(
            {"path": self.path, "auth": self.headers["Authorization"], "type": self.headers["Content-Type"],
             "json": json.loads(body)}
        )  # fmt: skip
        status, payload, headers = self.answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slack() -> Iterator[str]:
    _FakeSlack.requests = []
    _FakeSlack.answer = (200, {"ok": True, "ts": "1764000000.000100"}, {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeSlack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/"
    server.shutdown()


def _send(base_url: str, thread: Thread = Thread()) -> Any:  # noqa: B008
    transport = SlackTransport({"channel": "C0STATUS", "base_url": base_url}, {"token": TOKEN})
    message = Message(
        url="https://status.example/updates/abc/", title="Payments failing — Identified",
        author="Dana Whitfield, CEO",
        document={"body": "We found it. **Refunds** are automatic."},
    )  # fmt: skip
    request = transport.build_request(message, thread, idempotency_key="abc-1")
    return transport.send(request, thread), request


def test_it_posts_the_update_with_the_bot_token(slack):
    sent, request = _send(slack)
    wire = _FakeSlack.requests[-1]
    assert wire["path"] == "/api/chat.postMessage"
    assert wire["auth"] == f"Bearer {TOKEN}"
    assert wire["type"].startswith("application/json")
    assert wire["json"] == {
        "channel": "C0STATUS",
        "text": "*Payments failing — Identified*\n\nWe found it. *Refunds* are automatic.\n\n"
        "— Dana Whitfield, CEO · <https://status.example/updates/abc/|Signed update>",
        "unfurl_links": False,
        # Slack ignores idempotency keys: the metadata is what finds this message again after a lost answer.
        "metadata": {"event_type": "statushub_update", "event_payload": {"delivery": "abc-1"}},
    }
    assert sent.remote_id == "1764000000.000100"
    assert TOKEN not in json.dumps(request)


def test_later_updates_reply_in_the_incidents_thread(slack):
    _send(slack, Thread(root_id="1764000000.000100", last_id="1764000000.000100"))
    assert _FakeSlack.requests[-1]["json"]["thread_ts"] == "1764000000.000100"


@pytest.mark.parametrize("error", ["invalid_auth", "token_revoked", "channel_not_found", "not_in_channel"])
def test_credential_and_channel_errors_are_permanent(slack, error):
    _FakeSlack.answer = (200, {"ok": False, "error": error}, {})
    with pytest.raises(OutboundError) as failure:
        _send(slack)
    assert failure.value.permanent is True
    assert error in failure.value.message


def test_rate_limiting_is_retried_after_the_time_slack_asks(slack):
    _FakeSlack.answer = (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})
    with pytest.raises(OutboundError) as failure:
        _send(slack)
    assert (failure.value.permanent, failure.value.retry_after) == (False, 7.0)


def test_an_unreachable_slack_is_transient():
    with pytest.raises(OutboundError) as failure:
        _send("http://127.0.0.1:9/api/")
    assert failure.value.permanent is False


@pytest.mark.django_db
def test_the_engine_threads_an_incidents_later_updates_under_its_first_post(slack, make_incident, publisher):
    from channels import engine, services
    from channels.models import Channel, Delivery
    from incidents import services as incident_services

    channel = Channel.objects.create(
        kind="slack", name="#status", config={"channel": "C0STATUS", "base_url": slack}
    )
    services.channel_set_credentials(channel=channel, credentials={"token": TOKEN})
    incident = make_incident(public=False)
    for body in ("First.", "Second."):
        update = incident_services.update_publish(
            incident=incident, author=publisher, status="identified", body=body
        )
        engine.delivery_attempt(Delivery.objects.get(update=update).pk)

    first, second = _FakeSlack.requests
    assert "thread_ts" not in first["json"]
    assert second["json"]["thread_ts"] == "1764000000.000100"
