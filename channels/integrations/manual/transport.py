"""Communities with no posting API (UserVoice, Thwack, Quora …): a copy-ready text for a person to post.

The delivery waits until a named person marks it posted, with the link, so it is recorded like any other.
"""

from typing import Any

from channels.rendering import fit
from channels.transports import Message, Sent, Thread, Transport, TransportError


class ManualTransport(Transport):
    kind = "manual"
    manual = True

    def build_request(self, message: Message, thread: Thread, *, idempotency_key: str) -> dict[str, Any]:
        limit = int(self.config.get("max_characters", 5000))
        text, shortened = fit(
            head=message.title,
            body=str(message.document.get("body", "")),
            tail=f"— {message.author}\n{message.url}",
            limit=limit,
        )
        return {
            "method": "manual",
            "community": self.config.get("community", ""),
            "where": self.config.get("post_url", ""),
            "text": text,
            "reply_to": thread.last_id or None,
            "shortened": shortened,
        }

    def send(self, request: dict[str, Any], thread: Thread) -> Sent:
        raise TransportError("A person posts this one by hand.", permanent=True)
