"""Slack incoming webhooks (https://api.slack.com/messaging/webhooks): ``POST {"text": …}`` to the URL Slack gave.

Shared by subscribers' Slack subscriptions and the alert notifications to the team's channel. The URL is a
secret (whoever has it can post to the channel): it is never logged or put in an error message.
"""

import json

from statushub.lib import outbound

# Slack answers a removed webhook with 403/404/410 and a word (no_service, channel_is_archived, invalid_token…).
GONE = (403, 404, 410)


def post_text(url: str, text: str, *, timeout: float = outbound.DEFAULT_TIMEOUT) -> None:
    """Post one message; ``OutboundError`` (``gone`` when the webhook was removed from the workspace)."""
    post_body(url, json.dumps({"text": text}), timeout=timeout)


def post_body(url: str, body: str, *, timeout: float = outbound.DEFAULT_TIMEOUT) -> None:
    """Post a message already encoded as Slack's JSON (``{"text": …}``)."""
    with outbound.reaching("Slack", timeout=timeout), outbound.client(timeout=timeout) as client:
        response = client.post(url, content=body.encode(), headers={"content-type": "application/json"})
    if response.status_code == 200:
        return
    # Slack's host is pinned and its body is its error code: worth showing, unlike a webhook receiver's page.
    said = f"Slack answered {response.status_code} {response.text[:100].strip()}".rstrip()
    raise outbound.error_for(response, said, gone=response.status_code in GONE)
