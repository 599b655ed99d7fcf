"""Fitting one message into a service's limits: sentences kept whole, the link and the signature never cut.

Pure text, no Django: transports, listeners and replies all measure with these.
"""

import bisect
import html
import re
from collections.abc import Callable
from dataclasses import dataclass

import regex
from twitter_text import extract_urls_with_indices

# The words that carry the link to the signed update where a service shows links behind text.
LINK_TEXT = "Signed update"

ELLIPSIS = " …"
# Where a sentence ends: after . ! ? and the spaces that follow, or after the full-width stops of CJK text.
_SENTENCE_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)|[\u3002\uff01\uff1f]")
_GRAPHEME = regex.compile(r"\X")


def linked_length(text: str, *, url_weight: int = 23) -> int:
    """Characters as Mastodon counts them: every link it recognises weighs the same, whatever its length.

    Mastodon finds links with twitter-text's URL pattern, with the scheme required
    (``StatusLengthValidator``); anything else counts character by character.
    """
    urls = extract_urls_with_indices(text, False)
    return (
        len(text)
        - sum(end - start for start, end in (url["indices"] for url in urls))
        + url_weight * len(urls)
    )


def grapheme_length(text: str) -> int:
    """Characters as a reader sees them (Unicode extended grapheme clusters), as Bluesky counts its 300."""
    return len(_GRAPHEME.findall(text))


@dataclass(frozen=True)
class Fitted:
    text: str
    shortened: bool
    body_start: int = 0  # where the body begins in ``text``
    body_kept: int = 0  # how many characters of the body are in ``text``


def fit(
    *, head: str, body: str, tail: str, limit: int, measure: Callable[[str], int] = len
) -> tuple[str, bool]:
    """``head``, as much of ``body`` as fits, ``tail``: see ``fit_parts``."""
    fitted = fit_parts(head=head, body=body, tail=tail, limit=limit, measure=measure)
    return fitted.text, fitted.shortened


def fit_parts(*, head: str, body: str, tail: str, limit: int, measure: Callable[[str], int] = len) -> Fitted:
    """``head``, as much of ``body`` as fits, ``tail``, a blank line between them; ``head`` may be empty.

    The body keeps its paragraphs (blank lines), lines and spaces. When it must be shortened it stops after the
    last whole paragraph that fits, then takes whole sentences of the next one; only when not one
    sentence fits does it stop between words. It never cuts a word, and the tail (with the link to the
    whole update) is always kept. ``shortened`` says whether anything of the body was left out.
    """
    lead = f"{head}\n\n" if head else ""

    def compose(part: str, cut: bool) -> str:
        return f"{lead}{part}{ELLIPSIS if cut else ''}\n\n{tail}" if part else f"{lead}{tail}".lstrip("\n")

    body = _tidy(body)
    if measure(compose(body, False)) <= limit:
        return Fitted(compose(body, False), False, len(lead), len(body))
    paragraphs, sentences, words = _stops(body)
    kept = _longest(paragraphs, 0, lambda stop: measure(compose(body[:stop], True)) <= limit)
    kept = _longest(sentences, kept, lambda stop: measure(compose(body[:stop], True)) <= limit)
    if not kept:
        kept = _longest(words, 0, lambda stop: measure(compose(body[:stop], True)) <= limit)
    if kept:
        return Fitted(compose(body[:kept], True), True, len(lead), kept)
    if measure(compose("", True)) <= limit:
        return Fitted(compose("", True), True, len(lead), 0)
    # Even the title is too long: keep as many of its words as fit; the link still leads to everything.
    title = head.split(" ")
    while len(title) > 1 and measure(f"{' '.join(title)} …\n\n{tail}") > limit:
        title.pop()
    # One word too long by itself (CJK titles have no spaces): whole characters as a reader sees them.
    letters = _GRAPHEME.findall(" ".join(title))
    low, high = 0, len(letters)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(f"{''.join(letters[:middle]).rstrip()} …\n\n{tail}") <= limit:
            low = middle
        else:
            high = middle - 1
    short = "".join(letters[:low]).rstrip()
    return Fitted(f"{short} …\n\n{tail}" if short else tail, True, 0, 0)


def _tidy(body: str) -> str:
    """One kind of line ending, nothing around. Nothing inside changes: two spaces at a line's end are a
    line break in Markdown, and blank lines in a code block are the code's."""
    return body.replace("\r\n", "\n").replace("\r", "\n").strip()


def _longest(stops: list[int], kept: int, fits: Callable[[int], bool]) -> int:
    """The furthest stop past ``kept`` that fits (a binary search: a longer text does not measure shorter)."""
    low, high = bisect.bisect_right(stops, kept), len(stops)
    while low < high:
        middle = (low + high) // 2
        if fits(stops[middle]):
            kept, low = stops[middle], middle + 1
        else:
            high = middle
    return kept


def _stops(body: str) -> tuple[list[int], list[int], list[int]]:
    """Where the body may end, best first: after a paragraph; after a sentence or a line; after a word.

    Each list holds positions in ``body`` (the kept part is ``body[:stop]``), in order.
    """
    paragraphs = [match.start() for match in re.finditer(r"\n[ \t]*\n", body)]
    sentences = sorted(
        {match.end() for match in _SENTENCE_END.finditer(body)}
        | {m.start() for m in re.finditer(r"\n", body)}
    )
    words = [match.start() for match in re.finditer(r"\s+", body)]

    return paragraphs, sentences, words


_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def html_words(content: str) -> str:
    """Someone's post as HTML (a Mastodon status, a feed entry's summary) as the words people read: paragraphs and
    line breaks kept, tags gone, entities decoded."""
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", content))).strip()
