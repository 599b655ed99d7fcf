"""Every kind of integration, listed once: its label, its transport, its listener, and what it can do.

``Channel.Kind`` (where updates go) is made from this list, as are the connect form's choices and the hub's
listener kinds. Classes are imported lazily, so a broken or heavy SDK never loads for other kinds.
"""

from dataclasses import dataclass

from django.utils.module_loading import import_string

from integrations.base import Transport


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    transport_name: str = (
        ""  # the class in integrations/<key>/transport.py; blank for a kind that only listens
    )
    listener_name: str = ""  # the class in integrations/<key>/listener.py; blank where nobody reads back
    # What its transport can send beyond an update: a reply to someone's post, a private message. Set where the
    # transport implements build_reply/build_direct (the mentions inbox fills in the other kinds).
    replies: bool = False
    direct: bool = False

    @property
    def transport(self) -> str:
        return f"integrations.{self.key}.transport.{self.transport_name}" if self.transport_name else ""

    @property
    def listener(self) -> str:
        return f"integrations.{self.key}.listener.{self.listener_name}" if self.listener_name else ""


KINDS: tuple[Kind, ...] = (
    Kind("webhook", "Outbound webhook", "WebhookTransport"),
    Kind("slack", "Slack", "SlackTransport"),
    Kind("mastodon", "Mastodon", "MastodonTransport", "MastodonListener", replies=True, direct=True),
    Kind("bluesky", "Bluesky", "BlueskyTransport"),
    Kind("x", "X / Twitter", "XTransport"),
    Kind("facebook", "Facebook Page", "FacebookTransport"),
    Kind("discourse", "Discourse", "DiscourseTransport", "DiscourseListener"),
    Kind("reddit", "Reddit", "RedditTransport"),
    Kind("manual", "Manual community (copy and mark posted)", "ManualTransport"),
    Kind("rss", "RSS/Atom feed", listener_name="FeedListener"),
)
BY_KEY = {kind.key: kind for kind in KINDS}
TRANSPORTS = {kind.key: kind.transport for kind in KINDS if kind.transport}
LISTENERS = {kind.key: kind.listener for kind in KINDS if kind.listener}


def channel_choices() -> list[tuple[str, str]]:
    """The kinds an update can go to, in the order people see them."""
    return [(kind.key, kind.label) for kind in KINDS if kind.transport]


def transport_class(kind: str) -> type[Transport] | None:
    path = TRANSPORTS.get(kind)
    return import_string(path) if path else None


def listener_class(kind: str) -> type | None:
    path = LISTENERS.get(kind)
    return import_string(path) if path else None
