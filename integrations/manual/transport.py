"""Communities with no posting API (UserVoice, Thwack, Quora …): a copy-ready text for a person to post.

The delivery waits until a named person marks it posted, with the link, so it is recorded like any other.
"""

from typing import Any

from integrations.base import Field, Message, OutboundError, Sent, Thread, Transport
from integrations.text import fit
from statushub.lib.markdown_text import plain_text


class ManualTransport(Transport):
    kind = "manual"
    manual = True
    fields = (
        Field("community", "Community", "e.g. UserVoice forum"),
        Field(
            "post_url", "Where to post", "The forum or board a person posts to.", kind="url", required=False
        ),
        Field("max_characters", "Character limit", kind="number", default="5000"),
    )
    connect_help = (
        "For communities with no posting API (UserVoice, Thwack, Quora…). Each update waits on the deliveries "
        "page with a copy-ready text; whoever posts it pastes the link and is recorded as the poster."
    )

    def check(self) -> str:
        return f"Posted by hand to {self.config.get('community') or 'the community'}; nothing to connect"

    def build_request(self, message: Message, thread: Thread, *, idempotency_key: str) -> dict[str, Any]:
        limit = int(self.config.get("max_characters", 5000))
        text, shortened = fit(
            head=message.title,
            body=plain_text(str(message.document.get("body", ""))),
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
        raise OutboundError("A person posts this one by hand.", permanent=True)
