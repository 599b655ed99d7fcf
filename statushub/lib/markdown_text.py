"""An update's Markdown as each kind of reader gets it when it cannot be HTML.

The body is written once, in Markdown, and the page shows it as HTML (``statushub.lib.markdown``). Plain-text
services (X, Bluesky, Mastodon, Facebook, hand-posted copies, the text part of a mail) get the same words with no
Markdown syntax left in them and the paragraphs kept; Slack gets its own mrkdwn. Both walk the tokens of the very
parser the page uses, so what counts as a paragraph, a quote or a link is what the page shows.
"""

import re
from dataclasses import dataclass
from typing import Literal

from markdown_it.tree import SyntaxTreeNode

from statushub.lib.markdown import parse

# C0/C1 controls other than tab and newline: invisible on every service, and some refuse the post over them.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bare addresses in the text: Bluesky shows them as links only if the post marks them (a facet).
_BARE_URL = re.compile(
    r"https?://[^\s<>\"'\u201c\u201d\u2018\u2019]+[^\s<>\"'\u201c\u201d\u2018\u2019.,;:!?)\]}]"
)


@dataclass(frozen=True)
class Link:
    """A linked stretch of the text: ``start``/``end`` count characters (code points) of ``PlainText.text``."""

    start: int
    end: int
    url: str


@dataclass(frozen=True)
class PlainText:
    text: str
    links: tuple[Link, ...] = ()


@dataclass
class _Run:
    text: str
    url: str = ""


Runs = list[_Run]


@dataclass
class _Style:
    markup: Literal["plain", "mrkdwn"] = "plain"
    quotes: Literal["curly", "angle"] = "curly"
    # "inline": "text (url)"; "facets": the text alone, the address kept aside (Bluesky's link facets).
    links: Literal["inline", "facets"] = "inline"


def clean_source(source: str) -> str:
    """The Markdown with one kind of line ending, no control characters and no trailing blanks."""
    source = (source or "").replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", source).strip()


def plain_text(source: str, *, quotes: Literal["curly", "angle"] = "curly") -> str:
    """The body as plain text: paragraphs apart by a blank line, lists as "• item", links as "text (url)".

    ``quotes``: "curly" wraps a quoted passage in “…” (social posts); "angle" starts each of its lines with
    "> ", as mail readers expect.
    """
    return _render(source, _Style(quotes=quotes)).text


def plain_text_with_links(source: str) -> PlainText:
    """The body as plain text with each link's words marked where they stand (for Bluesky's facets)."""
    return _render(source, _Style(links="facets"))


def slack_mrkdwn(source: str) -> str:
    """The body in Slack's mrkdwn: *bold*, _italic_, ~struck~, <url|text>, "> " quotes; &, < and > escaped."""
    return _render(source, _Style(markup="mrkdwn", quotes="angle")).text


def _render(source: str, style: _Style) -> PlainText:
    tree = SyntaxTreeNode(parse(clean_source(source)))
    runs = _join(_blocks(tree.children, style), "\n\n")
    text, links, position = [], [], 0
    for run in runs:
        if run.url and run.text:
            links.append(Link(position, position + len(run.text), run.url))
        text.append(run.text)
        position += len(run.text)
    # Spaces the parser keeps (Unicode ones, at a paragraph's start) would only shift every link after them.
    whole = "".join(text)
    joined = whole.strip()
    shift = len(whole) - len(whole.lstrip())
    links = [
        Link(max(link.start - shift, 0), min(link.end - shift, len(joined)), link.url)
        for link in links
        if link.end - shift > 0 and link.start - shift < len(joined)
    ]
    if style.links == "facets":
        links = _with_bare_urls(joined, links)
    return PlainText(joined, tuple(links))


def _with_bare_urls(text: str, links: list[Link]) -> list[Link]:
    found = list(links)
    for match in _BARE_URL.finditer(text):
        if not any(link.start < match.end() and match.start() < link.end for link in links):
            found.append(Link(match.start(), match.end(), match.group()))
    return sorted(found, key=lambda link: link.start)


def _join(blocks: list[Runs], separator: str) -> Runs:
    out: Runs = []
    for block in blocks:
        if not _text_of(block).strip():
            continue
        if out:
            out.append(_Run(separator))
        out.extend(block)
    return out


def _text_of(runs: Runs) -> str:
    return "".join(run.text for run in runs)


def _prefix_lines(runs: Runs, first: str, rest: str) -> Runs:
    """Each line of ``runs`` led by ``first`` (the first line) or ``rest`` (the others)."""
    out: Runs = [_Run(first)]
    for run in runs:
        parts = run.text.split("\n")
        for index, part in enumerate(parts):
            if index:
                out.append(_Run("\n"))
                out.append(_Run(rest))
            if part:
                out.append(_Run(part, run.url))
    # A blank line inside a quote stays a quoted blank line, without trailing spaces.
    for index in range(len(out) - 1):
        if out[index].text == rest and out[index + 1].text == "\n":
            out[index] = _Run(rest.rstrip())
    return out


def _blocks(nodes: list[SyntaxTreeNode], style: _Style) -> list[Runs]:
    return [_block(node, style) for node in nodes]


def _block(node: SyntaxTreeNode, style: _Style) -> Runs:
    kind = node.type
    if kind == "paragraph":
        return _inlines(node.children, style)
    if kind == "heading":
        inner = _inlines(node.children, style)
        return [_Run("*"), *inner, _Run("*")] if style.markup == "mrkdwn" and _text_of(inner) else inner
    if kind in ("fence", "code_block"):
        code = node.content.rstrip("\n")
        if style.markup == "mrkdwn":
            return [_Run("```\n" + escape_mrkdwn(code) + "\n```")]
        return [_Run(code)]
    if kind == "blockquote":
        inner = _join(_blocks(node.children, style), "\n\n")
        if style.quotes == "angle":
            return _prefix_lines(inner, "> ", "> ")
        return [_Run("“"), *inner, _Run("”")] if _text_of(inner) else []
    if kind in ("bullet_list", "ordered_list"):
        return _list(node, style)
    if kind == "hr":
        return [_Run("———")]
    if kind == "table":
        return _table(node, style)
    if kind == "inline":
        return _inlines(node.children, style)
    # Anything else the parser may grow: its text, never its syntax.
    return _join(_blocks(node.children, style), "\n")


def _list(node: SyntaxTreeNode, style: _Style) -> Runs:
    start = int(str(node.attrs.get("start", 1))) if node.type == "ordered_list" else 1
    items: list[Runs] = []
    for number, item in enumerate(node.children, start):
        marker = f"{number}. " if node.type == "ordered_list" else "• "
        content = _join(_blocks(item.children, style), "\n")
        items.append(_prefix_lines(content, marker, " " * len(marker)))
    return _join(items, "\n")


def _table(node: SyntaxTreeNode, style: _Style) -> Runs:
    rows: list[Runs] = []
    for section in node.children:
        for row in section.children:
            cells = [
                _inlines(cell.children[0].children if cell.children else [], style) for cell in row.children
            ]
            rows.append(_join(cells, " · "))
    return _join(rows, "\n")


def _inlines(nodes: list[SyntaxTreeNode], style: _Style) -> Runs:
    out: Runs = []
    for node in nodes:
        out.extend(_inline(node, style))
    return out


def _inline(node: SyntaxTreeNode, style: _Style) -> Runs:
    kind = node.type
    mrkdwn = style.markup == "mrkdwn"
    if kind == "inline":
        return _inlines(node.children, style)
    if kind == "text":
        return [_Run(escape_mrkdwn(node.content) if mrkdwn else node.content)]
    if kind == "softbreak":
        return [_Run(" ")]  # the page joins the lines of a paragraph, so every copy does
    if kind == "hardbreak":
        return [_Run("\n")]
    if kind == "code_inline":
        return [_Run(f"`{escape_mrkdwn(node.content)}`" if mrkdwn else node.content)]
    if kind in ("strong", "em", "s"):
        inner = _inlines(node.children, style)
        if not mrkdwn or not _text_of(inner).strip():
            return inner
        mark = {"strong": "*", "em": "_", "s": "~"}[kind]
        return [_Run(mark), *inner, _Run(mark)]
    if kind in ("link", "image"):
        return _link(node, style)
    return _inlines(node.children, style)


def _link(node: SyntaxTreeNode, style: _Style) -> Runs:
    url = str(node.attrs.get("href") or node.attrs.get("src") or "")
    words = _text_of(_inlines(node.children, _Style(quotes=style.quotes)))
    if not re.match(r"(?i)(https?:|mailto:)", url):  # what the page would not link either
        return [_Run(escape_mrkdwn(words) if style.markup == "mrkdwn" else words)]
    if style.markup == "mrkdwn":
        label = escape_mrkdwn(words).replace("|", "¦")
        plain = not label.strip() or words.strip() == url
        return [_Run(f"<{escape_mrkdwn(url)}>" if plain else f"<{escape_mrkdwn(url)}|{label}>")]
    if style.links == "facets":
        return [_Run(words or url, url)]
    shown = url.removeprefix("mailto:") if url.lower().startswith("mailto:") else url
    if not words.strip() or words.strip() in (url, shown):
        return [_Run(shown)]
    return [_Run(f"{words} ({shown})")]


def escape_mrkdwn(text: str) -> str:
    # https://api.slack.com/reference/surfaces/formatting#escaping
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
