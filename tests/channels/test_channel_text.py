"""What each channel's readers see of an update written in Markdown: its words, its paragraphs, its quotes.

Plain-text services get no Markdown syntax and keep the paragraphs; Slack gets mrkdwn; Discourse and Reddit
get the Markdown itself. Built through each transport's ``build_request`` (what is sent and what previews show).
"""

import json
from email import message_from_bytes, policy
from typing import Any

import httpx
import pytest
import respx
from django.utils import timezone

from channels.models import Channel
from channels.rendering import render
from console.channel_previews import PLACEHOLDER_ID, channel_previews
from incidents import services as incident_services
from incidents.models import UpdateDraft
from integrations.base import Message, Thread
from integrations.registry import transport_class
from people.services import profile_for
from subscribers import hooks
from subscribers.models import Subscriber
from subscribers.update_mail import UpdateMail
from tests.integrations.test_bluesky_transport import SERVICE, _session

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
    "bluesky": {"service": SERVICE, "handle": "northwind.example"},
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


def test_bluesky_sends_the_body_links_facets_beside_the_signed_update_link():
    body = "Café ☕ — see [the refunds page](https://northwind.com/refunds)."
    request = _request("bluesky", body)
    transport = transport_class("bluesky")({**CONFIGS["bluesky"]}, {"app_password": "abcd-efgh"})  # type: ignore[misc]
    with respx.mock(assert_all_called=False) as mock:
        _session(mock)
        create = mock.post(f"{SERVICE}/xrpc/com.atproto.repo.createRecord").mock(
            return_value=httpx.Response(
                200, json={"uri": "at://did:plc:n/app.bsky.feed.post/3k", "cid": "bafy"}
            )
        )
        transport.send(request, Thread())

    record = json.loads(create.calls.last.request.content)["record"]
    text = record["text"].encode()
    linked = [
        (text[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(), f["features"][0]["uri"])
        for f in record["facets"]
    ]
    assert linked == [("the refunds page", "https://northwind.com/refunds"), ("Signed update", URL)]


@pytest.mark.django_db
def test_the_mails_text_part_is_plain_text_with_quotes_as_mail_readers_quote(make_incident, publisher):
    incident = make_incident(public=False)
    update = incident_services.update_publish(
        incident=incident, author=publisher, status="identified", body=BODY, author_title="CEO"
    )
    subscriber = Subscriber.objects.create(
        email="kim@example.com", state="active", confirmed_at=timezone.now()
    )
    mail = UpdateMail(update)
    copy = mail.copy_for(
        subscriber_id=subscriber.pk, email=subscriber.email, token_nonce=subscriber.token_nonce,
        message_id=f"<update.x.{subscriber.pk}@localhost>", root_id=None,
    )  # fmt: skip

    _, raw = mail.wire(copy)

    part = message_from_bytes(raw, policy=policy.default).get_body(preferencelist=("plain",))
    assert part is not None
    text = part.get_content().replace("\r\n", "\n")
    assert "**" not in text
    assert (
        "\n\n"
        + "\n\n".join(PARAGRAPHS[:2])
        + "\n\n> Customers in the EU saw double charges. These are refunded too.\n"
    ) in text


@pytest.mark.django_db
def test_each_channels_preview_shows_the_text_that_is_then_sent(make_incident, publisher):
    incident = make_incident(public=False)
    for kind in ("x", "mastodon", "facebook", "manual", "slack", "reddit", "bluesky"):
        Channel.objects.create(kind=kind, name=kind, config=CONFIGS[kind])
    draft = UpdateDraft.objects.create(
        incident=incident, status="identified", body=BODY, created_by=publisher, last_edited_by=publisher
    )
    previews = {preview.channel.kind: preview for preview in channel_previews(draft, publisher)}
    update = incident_services.update_publish(
        incident=incident, author=publisher, status="identified", body=BODY,
        author_title=profile_for(publisher).title,
    )  # fmt: skip

    for channel in Channel.objects.all():
        cls = transport_class(channel.kind)
        assert cls is not None
        request = cls(channel.config, {}).build_request(
            render(update, channel), Thread(), idempotency_key="k"
        )
        sent = cls.text_of(request).replace(update.public_id, PLACEHOLDER_ID)
        assert previews[channel.kind].text == sent, channel.kind
        assert "**Refunds:**" not in sent or channel.kind == "reddit"


@pytest.mark.django_db
def test_subscribers_slack_hooks_get_mrkdwn_and_their_webhooks_the_plain_text(make_incident, publisher):
    update = incident_services.update_publish(
        incident=make_incident(public=False),
        author=publisher,
        status="identified",
        body=BODY,
        author_title="CEO",
    )

    text = hooks.slack_text(update)

    assert "*Refunds:* every failed payment" in text and "**" not in text
    assert "\n\n> Customers in the EU saw double charges. These are refunded too." in text
    assert hooks._document(update)["body_text"] == "\n\n".join(PARAGRAPHS)
