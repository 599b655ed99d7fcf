"""The Standard Webhooks transport, at the HTTP boundary (respx): exact request and real error answers."""

import base64
import hashlib
import hmac
import json

import httpx
import pytest
import respx

from integrations.base import Message, OutboundError, Thread
from integrations.webhook.transport import WebhookTransport

SECRET_BYTES = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(SECRET_BYTES).decode()
URL = "https://hooks.example.com/statushub"


def _transport():
    return WebhookTransport({"url": URL}, {"secret": SECRET})


def _message():
    return Message(
        url="https://status.example/updates/abc/",
        title="T",
        author="Dana",
        document={"id": "abc", "body": "Hi"},
    )


@respx.mock
def test_it_posts_the_json_signed_per_standard_webhooks():
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    transport = _transport()
    request = transport.build_request(_message(), Thread(), idempotency_key="abc-7")

    sent = transport.send(request, Thread())

    wire = route.calls.last.request
    assert wire.headers["content-type"] == "application/json"
    assert wire.headers["webhook-id"] == "abc-7"
    timestamp = wire.headers["webhook-timestamp"]
    signed = f"abc-7.{timestamp}.".encode() + wire.content
    expected = base64.b64encode(hmac.new(SECRET_BYTES, signed, hashlib.sha256).digest()).decode()
    assert wire.headers["webhook-signature"] == f"v1,{expected}"
    body = json.loads(wire.content)
    assert body["type"] == "incident.update"
    assert body["data"] == {"id": "abc", "body": "Hi", "body_text": "Hi"}
    assert sent.remote_id == "abc-7"
    assert "webhook-signature" not in request["headers"]  # the stored request carries no secret-derived value


@respx.mock
@pytest.mark.parametrize(
    ("response", "permanent", "retry_after"),
    [
        (httpx.Response(503, headers={"Retry-After": "30"}), False, 30.0),
        (httpx.Response(429), False, None),
        (httpx.Response(410), True, None),
        (httpx.Response(401, text="bad signature"), True, None),
    ],
)
def test_it_classifies_error_answers(response, permanent, retry_after):
    respx.post(URL).mock(return_value=response)
    transport = _transport()
    with pytest.raises(OutboundError) as error:
        transport.send(transport.build_request(_message(), Thread(), idempotency_key="k"), Thread())
    assert (error.value.permanent, error.value.retry_after) == (permanent, retry_after)


@respx.mock
def test_a_timeout_is_transient():
    respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    transport = _transport()
    with pytest.raises(OutboundError, match="timed out") as error:
        transport.send(transport.build_request(_message(), Thread(), idempotency_key="k"), Thread())
    assert error.value.permanent is False
