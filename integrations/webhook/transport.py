"""Outbound webhooks signed per Standard Webhooks (https://www.standardwebhooks.com/).

Headers ``webhook-id`` (stable across retries, so receivers can de-duplicate), ``webhook-timestamp`` and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with the ``whsec_`` secret.
"""

import json
import time
from typing import Any

from integrations.base import Field, Message, Sent, Thread, Transport
from integrations.webhook.client import post, sign
from statushub.lib.markdown_text import plain_text


def with_plain_text(document: dict[str, Any]) -> dict[str, Any]:
    """The update as the API gives it, plus ``body_text``: the Markdown ``body`` as plain text, paragraphs kept."""
    return {**document, "body_text": plain_text(str(document.get("body") or ""))}


class WebhookTransport(Transport):
    kind = "webhook"
    fields = (
        Field("url", "Receiver URL", "Where each update is POSTed as JSON.", kind="url"),
        Field(
            "secret", "Signing secret", "whsec_ followed by base64; the receiver verifies webhook-signature with it.",
            secret=True, required=False, pattern=r"whsec_[A-Za-z0-9+/]+={0,2}",
        ),
    )  # fmt: skip
    connect_help = (
        "Any HTTPS endpoint that accepts JSON. Generate a secret (whsec_ + 24 random bytes in base64) and give "
        "it to the receiver: it checks the webhook-signature header with any Standard Webhooks library. "
        "Test connection sends a signed ping event."
    )

    def build_request(self, message: Message, thread: Thread, *, idempotency_key: str) -> dict[str, Any]:
        timestamp = int(time.time())
        body = json.dumps(
            {"type": "incident.update", "timestamp": timestamp, "data": with_plain_text(message.document)},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return {
            "method": "POST",
            "url": self.config["url"],
            "headers": {
                "content-type": "application/json",
                "webhook-id": idempotency_key,
                "webhook-timestamp": str(timestamp),
            },
            "body": body,
        }

    @staticmethod
    def text_of(request: dict[str, Any]) -> str:
        body = str(request.get("body", ""))
        try:  # the receiver gets compact JSON; people read it indented
            return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        except ValueError:
            return body

    def check(self) -> str:
        timestamp = int(time.time())
        body = json.dumps({"type": "ping", "timestamp": timestamp, "data": {}}, separators=(",", ":"))
        request = {
            "url": self.config["url"],
            "headers": {
                "content-type": "application/json",
                "webhook-id": f"ping-{timestamp}",
                "webhook-timestamp": str(timestamp),
            },
            "body": body,
        }
        self.send(request, Thread())
        return f"{self.config['url']} accepted a signed ping"

    def send(self, request: dict[str, Any], thread: Thread) -> Sent:
        headers = dict(request["headers"])
        secret = self.credentials.get("secret", "")
        if secret:
            headers["webhook-signature"] = sign(
                secret, headers["webhook-id"], int(headers["webhook-timestamp"]), request["body"]
            )
        post(request["url"], request["body"], headers, timeout=self.timeout)
        return Sent(remote_id=headers["webhook-id"])
