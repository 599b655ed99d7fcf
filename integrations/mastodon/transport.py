"""Mastodon: ``POST /api/v1/statuses`` through Mastodon.py, with an ``Idempotency-Key`` and replies per incident.

https://docs.joinmastodon.org/methods/statuses/#create — the instance's own character limit applies
(``configuration.statuses.max_characters``, 500 by default); every link counts as 23 characters.
The server keeps an ``Idempotency-Key`` for an hour: a retry within 50 minutes of the delivery's start is
answered with the status already made. Later than that, the engine first looks through the account's own
statuses since the delivery began for one linking to this update.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

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
from integrations.text import fit, linked_length
from statushub.lib import outbound
from statushub.lib.markdown_text import plain_text

KEY_KEPT = timedelta(minutes=50)  # Mastodon keeps an Idempotency-Key for an hour: leave a margin
CLOCK_SKEW = timedelta(minutes=2)
MAX_PAGES = 20


class MastodonTransport(Transport):
    kind = "mastodon"
    fields = (
        Field("instance", "Instance URL", "e.g. https://mastodon.social", kind="url", endpoint=True),
        Field(
            "max_characters", "Character limit", "The instance's own limit (500 on most).",
            kind="number", default="500",
        ),
        Field(
            "visibility", "Visibility", kind="choice", default="public",
            choices=(("public", "Public"), ("unlisted", "Unlisted")),
        ),
        Field("access_token", "Access token", "From Preferences → Development.", secret=True),
    )  # fmt: skip
    connect_help = (
        "On the posting account, open Preferences → Development → New application, tick the write:statuses "
        "and read:accounts scopes, save, and copy 'Your access token'. The character limit is in the "
        "instance's About page or /api/v2/instance (configuration.statuses.max_characters)."
    )

    @staticmethod
    def text_of(request: dict[str, Any]) -> str:
        return str(request.get("status", ""))

    def _api(self, instance: str) -> Mastodon:
        return Mastodon(
            access_token=self.credentials.get("access_token", ""),
            api_base_url=instance,
            ratelimit_method="throw",  # never sleep inside a worker: the engine schedules the retry
            request_timeout=self.timeout,
            version_check_mode="none",
            user_agent="StatusHub/0.1",
            session=outbound.session(),  # the instance is anyone's address: never one inside our network
        )

    def build_request(self, message: Message, thread: Thread, *, idempotency_key: str) -> dict[str, Any]:
        text, shortened = fit(
            head=message.title,
            body=plain_text(str(message.document.get("body", ""))),
            tail=f"— {message.author}\n{message.url}",
            limit=int(self.config.get("max_characters", 500)),
            measure=linked_length,
        )
        return {
            "method": "POST /api/v1/statuses",
            "instance": self.config["instance"],
            "status": text,
            "visibility": self.config.get("visibility", "public"),
            "in_reply_to_id": thread.last_id or None,
            "idempotency_key": idempotency_key,
            "shortened": shortened,
        }

    def send(self, request: dict[str, Any], thread: Thread) -> Sent:
        api = self._api(request["instance"])
        status = self._call(
            api,
            lambda: api.status_post(
                request["status"],
                in_reply_to_id=request["in_reply_to_id"],
                visibility=request["visibility"],
                idempotency_key=request["idempotency_key"],
            ),
        )
        return Sent(remote_id=str(status["id"]), remote_url=str(status.get("url") or ""))

    def find_sent(self, request: dict[str, Any], thread: Thread, lookup: Lookup) -> Sent | None:
        """Within the key's hour the server itself answers a retry with the status it made: nothing to look up.
        After it, the account's statuses since the delivery began, for the one linking to this update."""
        if datetime.now(UTC) - lookup.since < KEY_KEPT:
            return None
        link = str(request["status"]).rsplit("\n", 1)[-1].strip()
        api = self._api(request["instance"])
        account = self._call(api, api.account_verify_credentials)
        since = lookup.since - CLOCK_SKEW
        max_id = None
        for _ in range(MAX_PAGES):
            page = self._call(
                api,
                lambda before=max_id: api.account_statuses(  # type: ignore[misc]
                    account["id"], since_id=since, max_id=before, limit=40, exclude_reblogs=True
                ),
            )
            for status in page:
                if link and link in str(status.get("content", "")):
                    return Sent(remote_id=str(status["id"]), remote_url=str(status.get("url") or ""))
            if not page:
                return None
            max_id = page[-1]["id"]
        return None

    def check(self) -> str:
        api = self._api(self.config["instance"])
        account = self._call(api, api.account_verify_credentials)
        host = self.config["instance"].split("//")[-1].rstrip("/")
        return f"@{account['acct']} on {host}"

    @staticmethod
    def _call(api: Mastodon, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (MastodonUnauthorizedError, MastodonNotFoundError) as exc:
            raise OutboundError(f"Mastodon refused: {exc}", permanent=True) from exc
        except MastodonRatelimitError as exc:
            raise OutboundError("Mastodon rate limit reached", retry_after=_until_reset(api)) from exc
        except MastodonNetworkError as exc:
            raise OutboundError(f"could not reach Mastodon: {network_problem(exc)}") from exc
        except MastodonServerError as exc:
            raise OutboundError(f"Mastodon unavailable: {exc}") from exc
        except MastodonAPIError as exc:  # 4xx such as 422 (validation): retrying sends the same thing
            raise OutboundError(f"Mastodon rejected the post: {exc}", permanent=True) from exc
        except Exception as exc:
            if is_network_error(exc):
                raise OutboundError(f"could not reach Mastodon: {network_problem(exc)}") from exc
            raise


def _until_reset(api: Mastodon) -> float:
    """Seconds until the limit resets, as the instance said (X-RateLimit-Reset, which Mastodon.py reads and
    moves onto our clock by the answer's Date); a minute when it did not say."""
    reset = getattr(api, "ratelimit_reset", None)
    if not isinstance(reset, int | float):
        return 60.0
    return min(15 * 60.0, max(1.0, reset - time.time()))
