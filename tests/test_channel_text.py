"""What each channel's readers see of an update written in Markdown: its words, its paragraphs, its quotes.

Plain-text services get no Markdown syntax and keep the paragraphs; Slack gets mrkdwn; Discourse and Reddit
get the Markdown itself. Built through each transport's ``build_request`` (what is sent and what previews show).
"""

import json
from typing import Any

import pytest

from channels.registry import transport_class
from channels.transports import Message, Thread

URL = "https://status.northwind.com/updates/abc123def456/"
BODY = (
    "**Refunds:** every failed payment is refunded automatically.\n"
    "No action is needed.\n\n"
    "We are watching the error rate.\n\n"
    "> Customers in the EU saw double charges.\n"
    "> These are refunded too."
)
PARAGRAPHS = [
    "Refunds: every failed payment is refunded automatically. No action is needed.",
    "We are watching the error rate.",
    "“Customers in the EU saw double charges. These are refunded too.”",
]
CONFIGS: dict[str, dict[str, str]] = {
    "x": {"username": "northwind"},
    "bluesky": {"service": "https://bsky.example", "handle": "northwind.example"},
    "mastodon": {"instance": "https://mastodon.example", "max_characters": "500"},
    "facebook": {"page_id": "1234567890"},
    "manual": {"community": "UserVoice", "max_characters": "5000"},
    "slack": {"channel": "C0123456789"},
    "reddit": {"subreddit": "northwind", "username": "northwind-status", "client_id": "abc"},
    "discourse": {"forum_url": "https://forum.example", "category_id": "7", "api_username": "system"},
    "webhook": {"url": "https://hooks.example/statushub"},
}
PLAIN = ["x", "bluesky", "mastodon", "facebook", "manual"]


def _message(body: str = BODY) -> Message:
    return Message(
        url=URL, title="Payments failing — Identified", author="Dana Whitfield, CEO",
        document={
            "status": "identified", "body": body, "published_at": "2026-03-14T09:12:07Z",
            "incident": {"id": "42", "name": "Payments failing", "status": "identified", "impact": "major"},
        },
    )  # fmt: skip


def _request(kind: str, body: str = BODY, thread: Thread = Thread()) -> dict[str, Any]:  # noqa: B008
    cls = transport_class(kind)
    assert cls is not None
    return cls(CONFIGS[kind], {}).build_request(_message(body), thread, idempotency_key="abc123def456-4")


def _text(kind: str, body: str = BODY, thread: Thread = Thread()) -> str:  # noqa: B008
    cls = transport_class(kind)
    assert cls is not None
    return cls.text_of(_request(kind, body, thread))


@pytest.mark.parametrize("kind", PLAIN)
def test_plain_text_channels_get_the_words_without_markdown_and_keep_each_paragraph(kind):
    text = _text(kind)

    assert "**" not in text
    assert "\n> " not in text and ">" not in text.split("—")[0]
    for paragraph in PARAGRAPHS:
        assert f"\n\n{paragraph}\n\n" in text


@pytest.mark.parametrize("kind", PLAIN)
def test_plain_text_channels_keep_paragraphs_when_the_update_is_shortened(kind):
    body = "\n\n".join(
        f"**Step {n}:** we moved {n} more regions to the standby processor." for n in range(1, 200)
    )

    request = _request(kind, body)
    text = _text(kind, body)

    assert request["shortened"] is True
    assert "**" not in text
    assert "\n\nStep 1: we moved 1 more regions to the standby processor.\n\nStep 2:" in text


@pytest.mark.parametrize("kind", ["x", "mastodon", "facebook", "manual"])
def test_plain_text_channels_show_a_links_address_beside_its_words(kind):
    text = _text(
        kind, "See [the refunds page](https://northwind.com/refunds) or <https://northwind.com/help>."
    )

    assert "See the refunds page (https://northwind.com/refunds) or https://northwind.com/help." in text
    assert "](" not in text


def test_bluesky_links_the_words_with_a_facet_at_their_utf8_byte_offsets():
    request = _request("bluesky", "Café ☕ — see [the refunds page](https://northwind.com/refunds).")

    text = request["text"].encode()
    facets = request["facets"]
    assert "the refunds page" in request["text"] and "https://northwind.com/refunds" not in request["text"]
    assert [text[f["byteStart"] : f["byteEnd"]].decode() for f in facets] == ["the refunds page"]
    assert facets[0]["uri"] == "https://northwind.com/refunds"


def test_slack_gets_mrkdwn_bold_quotes_links_and_escapes():
    text = _text("slack", BODY + "\n\nSee [refunds](https://northwind.com/r?a=1&b=2) — fees < 5 € & more.")

    assert "*Refunds:* every failed payment" in text
    assert "**" not in text
    assert "\n\n> Customers in the EU saw double charges. These are refunded too.\n\n" in text
    assert "<https://northwind.com/r?a=1&amp;b=2|refunds>" in text
    assert "fees &lt; 5 € &amp; more." in text


@pytest.mark.parametrize("kind", ["reddit", "discourse"])
def test_markdown_channels_get_the_markdown_with_its_paragraphs_even_when_shortened(kind):
    long = "\n\n".join(f"**Step {n}:** we moved region {n}.\n\n> quoted {n}" for n in range(1, 2000))

    whole = _text(kind, BODY)
    shortened = _request(kind, long, Thread("root1", "root1"))

    assert BODY in whole
    assert shortened["shortened"] is True
    text = _text(kind, long, Thread("root1", "root1"))
    assert "**Step 1:** we moved region 1.\n\n> quoted 1\n\n**Step 2:**" in text


def test_a_webhook_carries_the_plain_text_next_to_the_markdown():
    data = json.loads(_request("webhook")["body"])["data"]

    assert data["body"] == BODY
    assert data["body_text"] == "\n\n".join(PARAGRAPHS)
