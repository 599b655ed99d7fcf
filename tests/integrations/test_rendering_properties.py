"""Hostile input: Markdown and Unicode no one tried by hand, through the page's HTML and every channel's text.

Properties, checked by hypothesis over generated updates (emoji, right-to-left scripts, combining marks, CJK,
stray Markdown syntax, control characters):
- no crash, on any input;
- each channel stays within its limit, counted as the service counts (X's weighted length through
  twitter-text, Bluesky's graphemes and bytes, Mastodon's characters with links as 23), and keeps its link;
- on plain-text channels, no Markdown syntax from well-formed Markdown leaks through, and paragraphs survive;
- shortening keeps a prefix of the text that ends between words;
- where the output is HTML (the page, the mail) or mrkdwn (Slack), the input's markup is escaped.
"""

import os
import re
from html.parser import HTMLParser
from typing import Any

import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twitter_text import parse_tweet

from integrations.base import Message, Thread
from integrations.bluesky.transport import BYTE_LIMIT
from integrations.registry import transport_class
from integrations.text import ELLIPSIS, linked_length
from statushub.lib.markdown import render_markdown
from statushub.lib.markdown_text import plain_text, plain_text_with_links, slack_mrkdwn

# Modest runs keep the whole file within a few seconds; STATUSHUB_HYPOTHESIS_EXAMPLES=2000 searches harder by hand.
FAST = settings(
    deadline=None,
    max_examples=int(os.environ.get("STATUSHUB_HYPOTHESIS_EXAMPLES", "30")),
    suppress_health_check=[HealthCheck.too_slow],
)

URL = "https://status.northwind.com/updates/abc123def456/"
AUTHOR = "Dana Whitfield, CEO"

# Letters of many scripts and the characters that trip up counting: emoji (with skin tones, flags and ZWJ
# families), combining accents, Hebrew and Arabic with direction marks, CJK, full-width forms.
HOSTILE = [
    "a", "Z", "é", "ß", "ø", "Ω", "ж", "😀", "👍🏽", "🇪🇺", "👩‍👩‍👧", "☕", "❤️", "e\u0301", "a\u0308\u0323",
    "ש", "ל", "\u05d5", "م", "ر", "ح", "\u200f", "\u200e", "\u202e", "決", "済", "障", "害", "ｶ", "한", "\u3000",
]  # fmt: skip
SYNTAX = [*"*_`[]()<>#~|\\!-+=.:&\"'", "**", "__", "> ", "- ", "1. ", "```", "](", "<https://x.com>"]
# A word never starts or ends with a space (Markdown would not read ** next to one as emphasis).
word = st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=6).map("".join).map(lambda w: w.strip() or "a")
sentence = st.lists(word, min_size=1, max_size=8).map(" ".join).map(lambda s: s + ".")
hostile_text = st.lists(
    st.one_of(
        st.sampled_from(HOSTILE), st.sampled_from(SYNTAX), st.sampled_from([" ", "\n", "\n\n", "\r\n", "\t"])
    ),
    max_size=200,
).map("".join)
anything = st.one_of(hostile_text, st.text(max_size=300))


@st.composite
def span(draw: st.DrawFn) -> str:
    words = draw(sentence)
    kind = draw(st.sampled_from(["plain", "plain", "strong", "em", "code", "link", "strike"]))
    return {
        "plain": words,
        "strong": f"**{words}**",
        "em": f"*{words}*",
        "code": f"`{words}`",
        "link": f"[{words}](https://northwind.com/{draw(st.sampled_from(['a', 'refunds', 'b/c']))})",
        "strike": f"~~{words}~~",
    }[kind]


paragraph = st.lists(span(), min_size=1, max_size=4).map(" ".join)


@st.composite
def block(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(["paragraph", "paragraph", "quote", "bullets", "numbers", "heading"]))
    if kind == "paragraph":
        return kind, draw(paragraph)
    if kind == "quote":
        lines = draw(st.lists(paragraph, min_size=1, max_size=3))
        return kind, "\n".join(f"> {line}" for line in lines)
    if kind == "heading":
        return kind, f"{'#' * draw(st.integers(1, 4))} {draw(sentence)}"
    items = draw(st.lists(paragraph, min_size=1, max_size=4))
    marker = "- " if kind == "bullets" else "{n}. "
    return kind, "\n".join(marker.format(n=n) + item for n, item in enumerate(items, 1))


@st.composite
def document(draw: st.DrawFn) -> tuple[str, int]:
    """Well-formed Markdown and how many blocks (paragraphs, quotes, lists, headings) a reader sees."""
    blocks = draw(st.lists(block(), min_size=1, max_size=6))
    # Two lists of one kind in a row are one list in Markdown: keep them apart for a clear count.
    kept = [
        b
        for i, b in enumerate(blocks)
        if i == 0 or b[0] not in ("bullets", "numbers") or blocks[i - 1][0] != b[0]
    ]
    return "\n\n".join(source for _, source in kept), len(kept)


def _measures() -> dict[str, Any]:
    return {
        "x": (lambda text: parse_tweet(text).weightedLength, 280),
        "bluesky": (_bluesky_length, 300),
        "mastodon": (linked_length, 120),
        "facebook": (len, 5000),
        "manual": (len, 140),
    }


def _bluesky_length(text: str) -> int:
    return len(regex.findall(r"\X", text)) if len(text.encode()) <= BYTE_LIMIT else 10**9


CONFIGS = {
    "x": {"username": "northwind"},
    "bluesky": {"service": "https://pds.example", "handle": "northwind.example"},
    "mastodon": {"instance": "https://mastodon.example", "max_characters": "120"},
    "facebook": {"page_id": "1234567890"},
    "manual": {"community": "UserVoice", "max_characters": "140"},
    "slack": {"channel": "C0123456789"},
    "reddit": {"subreddit": "northwind", "username": "northwind-status"},
    "discourse": {"forum_url": "https://forum.example", "category_id": "7", "api_username": "system"},
    "webhook": {"url": "https://hooks.example/statushub"},
}


def _request(kind: str, body: str, title: str = "Payments failing — Identified", thread: Thread = Thread()):  # noqa: B008
    cls = transport_class(kind)
    assert cls is not None
    message = Message(
        url=URL, title=title, author=AUTHOR,
        document={"status": "identified", "body": body, "published_at": "2026-03-14T09:12:07Z",
                  "incident": {"id": "1", "name": title, "status": "identified", "impact": "major"}},
    )  # fmt: skip
    return cls, cls(CONFIGS[kind], {}).build_request(message, thread, idempotency_key="abc123def456-4")


def _posted_text(kind: str, request: dict[str, Any]) -> str:
    """The text the service receives and counts (the preview's text_of adds notes a reader sees elsewhere)."""
    if kind == "facebook":
        return str(request["form"]["message"])
    if kind == "mastodon":
        return str(request["status"])
    if kind == "bluesky":
        return str(request["text"]) + str(request["link"]["text"])
    return str(request["text"])


# The generated words hold none of these: any in the output is Markdown syntax that leaked.
SYNTAX_CHARACTERS = set("*_`~[]#<>")


@FAST
@given(doc=document())
def test_plain_text_has_no_markdown_syntax_and_keeps_each_block(doc):
    source, blocks = doc

    text = plain_text(source)

    assert not SYNTAX_CHARACTERS & set(text), text
    assert "\n\n\n" not in text
    assert len(text.split("\n\n")) == blocks


@FAST
@given(doc=document(), kind=st.sampled_from(sorted(_measures())))
def test_plain_text_channels_keep_paragraphs_and_their_limit(doc, kind):
    source, _ = doc
    measure, limit = _measures()[kind]

    _, request = _request(kind, source)
    posted = _posted_text(kind, request)

    assert measure(posted) <= limit
    assert "**" not in posted and "](" not in posted
    body = plain_text_with_links(source).text if kind == "bluesky" else plain_text(source)
    if not request["shortened"]:
        assert body in posted
    else:
        kept = _kept_body(posted, kind)
        if kept is not None:
            assert body.startswith(kept)
            assert len(kept) == len(body) or body[len(kept)].isspace() or kept[-1] in "\u3002\uff01\uff1f"


def _kept_body(posted: str, kind: str) -> str | None:
    head = "Payments failing — Identified\n\n"
    if not posted.startswith(head) or ELLIPSIS + "\n\n" not in posted:
        return None  # nothing of the body kept, or the title itself shortened
    return posted.removeprefix(head).rsplit(ELLIPSIS + "\n\n", 1)[0]


@FAST
@given(body=anything, title=st.one_of(st.just("Payments failing — Identified"), anything.filter(str.strip)))
def test_any_input_fits_every_channel_and_keeps_the_link(body, title):
    for kind, (measure, limit) in _measures().items():
        _, request = _request(kind, body, title)
        posted = _posted_text(kind, request)
        assert measure(posted) <= limit, kind
        assert posted.endswith(
            "Signed update" if kind == "bluesky" else URL if kind != "facebook" else AUTHOR
        ), kind
    for kind in ("slack", "reddit", "discourse", "webhook"):
        cls, request = _request(kind, body, title, Thread("t1", "t1"))
        assert cls.text_of(request)


@FAST
@given(body=anything)
def test_bluesky_facets_point_at_whole_characters_of_the_linked_words(body):
    source = (
        f"{body}\n\nSee [the refunds page](https://northwind.com/refunds) and https://northwind.com/help ok"
    )

    _, request = _request("bluesky", source)

    encoded = request["text"].encode()
    for facet in request["facets"]:
        assert 0 <= facet["byteStart"] < facet["byteEnd"] <= len(encoded)
        words = encoded[facet["byteStart"] : facet["byteEnd"]].decode()  # raises if it cuts a character
        assert words.strip() == words and words


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, attrs))


ALLOWED = {
    "p": set(), "br": set(), "strong": set(), "em": set(), "del": set(), "code": set(), "pre": set(),
    "blockquote": set(), "ul": set(), "ol": {"start"}, "li": set(), "a": {"href", "title", "rel"}, "h3": set(),
    "h4": set(), "h5": set(), "h6": set(), "hr": set(), "table": set(), "thead": set(), "tbody": set(),
    "tr": set(), "th": {"align", "style"}, "td": {"align", "style"},
}  # fmt: skip


@FAST
@given(
    source=st.one_of(
        anything,
        st.sampled_from(
            [
                "<script>alert(1)</script>",
                '<img src=x onerror="a()">',
                "[x](javascript:alert(1))",
                "<a href='//evil'>x</a>",
            ]
        ),
    )
)
def test_the_pages_html_holds_only_allowed_tags_and_escapes_the_rest(source):
    html = render_markdown(source)

    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.seen:
        assert tag in ALLOWED, tag
        for name, value in attrs:
            assert name in ALLOWED[tag], (tag, name)
            if name == "href":
                assert re.match(r"(?i)(https?:|mailto:)", value or ""), value
    assert "<script" not in html.lower()


@FAST
@given(source=st.one_of(anything, document().map(lambda d: d[0])))
def test_slack_mrkdwn_escapes_every_angle_bracket_and_ampersand_but_its_own_links(source):
    text = slack_mrkdwn(source)

    outside = re.sub(r"<(?:https?:|mailto:)[^<>|\s]*(?:\|[^<>]*)?>", "", text)
    for line in outside.split("\n"):
        unquoted = re.sub(r"^(?:> ?)+", "", line)  # a quote's lines start with ">"
        assert "<" not in unquoted and ">" not in unquoted, line
    assert not re.search(r"&(?!amp;|lt;|gt;)", text)
