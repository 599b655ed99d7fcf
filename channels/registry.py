"""Kind → transport class, imported lazily so a broken or heavy SDK never loads for other channels."""

from django.utils.module_loading import import_string

from channels.transports import Transport

TRANSPORTS = {
    "webhook": "channels.integrations.webhook.transport.WebhookTransport",
    "slack": "channels.integrations.slack.transport.SlackTransport",
    "mastodon": "channels.integrations.mastodon.transport.MastodonTransport",
    "bluesky": "channels.integrations.bluesky.transport.BlueskyTransport",
    "x": "channels.integrations.x.transport.XTransport",
    "facebook": "channels.integrations.facebook.transport.FacebookTransport",
    "discourse": "channels.integrations.discourse.transport.DiscourseTransport",
    "reddit": "channels.integrations.reddit.transport.RedditTransport",
    "manual": "channels.integrations.manual.transport.ManualTransport",
}


def transport_class(kind: str) -> type[Transport] | None:
    path = TRANSPORTS.get(kind)
    return import_string(path) if path else None
