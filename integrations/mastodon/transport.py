"""Mastodon: ``POST /api/v1/statuses`` through Mastodon.py, with an ``Idempotency-Key`` and replies per incident.

https://docs.joinmastodon.org/methods/statuses/#create — the instance's own character limit applies
(``configuration.statuses.max_characters``, 500 by default); every link counts as 23 characters.
The server keeps an ``Idempotency-Key`` for an hour: a retry within 50 minutes of the delivery's start is
answered with the status already made. Later than that, the engine first looks through the account's own
statuses since the delivery began for one linking to this update.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from mastodon import Mastodon

from integrations.base import Field, Lookup, Message, Remote, Sent, Thread, TooLong, Transport
from integrations.mastodon.client import call, connect
from integrations.text import fit, linked_length
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
        return connect(instance, self.credentials.get("access_token", ""), timeout=self.timeout)

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
        status = call(
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
        account = call(api, api.account_verify_credentials)
        since = lookup.since - CLOCK_SKEW
        max_id = None
        for _ in range(MAX_PAGES):
            page = call(
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
        account = call(api, api.account_verify_credentials)
        host = self.config["instance"].split("//")[-1].rstrip("/")
        return f"@{account['acct']} on {host}"

    def _person_to_person(self, text: str, to: Remote, **fields: Any) -> dict[str, Any]:
        """A status that starts by mentioning them (Mastodon delivers it to whoever it mentions), in the
        person's own words: never cut, refused when too long."""
        handle = "@" + to.account.lstrip("@")
        status = text if text.lstrip().startswith(handle) else f"{handle} {text.strip()}"
        limit = int(self.config.get("max_characters", 500))
        if (length := linked_length(status)) > limit:
            raise TooLong(f"{length} characters: Mastodon allows {limit} here, with the mention")
        return {
            "method": "POST /api/v1/statuses",
            "instance": self.config["instance"],
            "status": status,
            **fields,
        }

    def build_reply(self, text: str, to: Remote, *, idempotency_key: str) -> dict[str, Any]:
        """A public answer in their thread (``in_reply_to_id``), visible to all, mentioning them."""
        return self._person_to_person(
            text, to, visibility="public", in_reply_to_id=to.id, idempotency_key=idempotency_key
        )

    def build_direct(self, text: str, to: Remote, *, idempotency_key: str) -> dict[str, Any]:
        """A private mention: ``visibility=direct`` reaches only the people it mentions."""
        return self._person_to_person(
            text, to, visibility="direct", in_reply_to_id=None, idempotency_key=idempotency_key
        )
