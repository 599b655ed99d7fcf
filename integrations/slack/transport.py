"""Slack: ``chat.postMessage`` with a bot token; later updates of an incident go into its thread (``thread_ts``).

https://api.slack.com/methods/chat.postMessage — errors arrive as ``{"ok": false, "error": "..."}``;
``ratelimited`` comes with HTTP 429 and ``Retry-After``. Slack has no idempotency key: each message carries
message metadata naming its delivery (``event_type`` ``statushub_update``), and before a retry the engine
looks for it in the incident's thread (``conversations.replies``) or the channel (``conversations.history``).
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from integrations.base import (
    Field,
    Lookup,
    Message,
    OutboundError,
    Sent,
    Thread,
    Transport,
    is_network_error,
    network_problem,
)
from integrations.text import LINK_TEXT, fit
from statushub.lib import outbound
from statushub.lib.markdown_text import escape_mrkdwn, slack_mrkdwn

# Answers that retrying cannot fix: a human must reconnect, re-invite the app, or pick another channel.
PERMANENT_ERRORS = {
    "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "missing_scope",
    "channel_not_found", "not_in_channel", "is_archived", "restricted_action", "msg_too_long", "no_text",
    "no_permission",
}  # fmt: skip
DEFAULT_BASE_URL = "https://slack.com/api/"
EVENT_TYPE = "statushub_update"
CLOCK_SKEW = timedelta(minutes=2)  # our clock against Slack's message timestamps
MAX_PAGES = 20


LIMIT = 40_000  # Slack cuts a message's text there: https://docs.slack.dev/reference/methods/chat.postMessage


def slack_text(message: Message) -> str:
    text, _ = fit(
        head=f"*{escape_mrkdwn(message.title)}*", body=slack_mrkdwn(str(message.document.get("body", ""))),
        tail=f"— {escape_mrkdwn(message.author)} · <{message.url}|{LINK_TEXT}>", limit=LIMIT,
    )  # fmt: skip
    return text


class SlackTransport(Transport):
    kind = "slack"
    fields = (
        Field("channel", "Channel ID", "e.g. C0123456789 (channel details → About, at the bottom)."),
        Field("token", "Bot token", "Starts with xoxb-.", secret=True),
    )
    connect_help = (
        "At api.slack.com/apps create an app for your workspace, add the bot scopes chat:write and "
        "channels:history (groups:history for a private channel) under OAuth & Permissions, install it to the workspace and copy the Bot User OAuth Token (xoxb-…). Invite the bot "
        "to the channel (/invite @yourapp) and paste the channel's ID."
    )

    def _client(self) -> WebClient:
        base_url = self.endpoint_override("base_url") or DEFAULT_BASE_URL
        if base_url != DEFAULT_BASE_URL:
            # slack_sdk connects through urllib, which takes no checking connection: slack.com is fixed, and
            # another base URL (a local fake server) is checked just before each call instead.
            outbound.check_url(base_url)
        return WebClient(
            token=self.credentials.get("token", ""),
            base_url=base_url,
            timeout=int(self.timeout),
            retry_handlers=[],  # the delivery engine owns retries, with backoff across workers
        )

    def build_request(self, message: Message, thread: Thread, *, idempotency_key: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "method": "chat.postMessage",
            "channel": self.config["channel"],
            "text": slack_text(message),
            "unfurl_links": False,
            # What finds this message again if its answer is lost (Slack ignores idempotency keys).
            "metadata": {"event_type": EVENT_TYPE, "event_payload": {"delivery": idempotency_key}},
        }
        if thread.root_id:
            request["thread_ts"] = thread.root_id
        return request

    def send(self, request: dict[str, Any], thread: Thread) -> Sent:
        arguments = {k: v for k, v in request.items() if k != "method"}
        response = self._call(lambda client: client.chat_postMessage(**arguments))
        return Sent(remote_id=str(response["ts"]))

    def find_sent(self, request: dict[str, Any], thread: Thread, lookup: Lookup) -> Sent | None:
        """The message carrying this delivery's metadata, in the thread (or the channel) since the delivery began."""
        key = (request.get("metadata") or {}).get("event_payload", {}).get("delivery")
        if not key:
            return None
        oldest = f"{(lookup.since - CLOCK_SKEW).timestamp():.6f}"
        arguments: dict[str, Any] = {
            "channel": request["channel"], "oldest": oldest, "include_all_metadata": True, "limit": 200,
        }  # fmt: skip
        cursor = ""
        for _ in range(MAX_PAGES):
            if cursor:
                arguments["cursor"] = cursor
            if request.get("thread_ts"):
                page = self._call(
                    lambda client: client.conversations_replies(ts=request["thread_ts"], **arguments)
                )
            else:
                page = self._call(lambda client: client.conversations_history(**arguments))
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == EVENT_TYPE and payload.get("delivery") == key:
                    return Sent(remote_id=str(message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                break
        return None

    def check(self) -> str:
        identity = self._call(lambda client: client.auth_test())
        channel = self._call(lambda client: client.conversations_info(channel=self.config["channel"]))
        data = channel.data if isinstance(channel.data, dict) else {}
        name = data.get("channel", {}).get("name", self.config["channel"])
        return f"{identity.get('user', 'the bot')} in {identity.get('team', 'Slack')}, posting to #{name}"

    def _call(self, call: Callable[[WebClient], SlackResponse]) -> SlackResponse:
        try:
            return call(self._client())
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            if error in PERMANENT_ERRORS:
                raise OutboundError(f"Slack refused: {error}", permanent=True) from exc
            wait = outbound.retry_after_seconds(dict(exc.response.headers or {}))
            raise OutboundError(f"Slack answered {error}", retry_after=wait) from exc
        except outbound.Refused as exc:
            raise OutboundError(f"could not reach Slack: {outbound.UNREACHABLE}", permanent=True) from exc
        except (
            Exception
        ) as exc:  # connection refused, DNS, timeouts, resets, cut answers (urllib, http.client)
            if is_network_error(exc):
                raise OutboundError(f"could not reach Slack: {network_problem(exc)}") from exc
            raise
