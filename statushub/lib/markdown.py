"""Markdown to safe HTML for anything a person typed that the public will read."""

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

# Raw HTML in the source is treated as text; nh3 then removes anything unsafe the renderer produced.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)

_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}


def parse(source: str) -> list[Token]:
    """The tokens the page's HTML is made from: plain-text renderings walk these same ones."""
    return _md.parse(source or "")


def render_markdown(source: str) -> str:
    html = _md.render(source or "")
    # Headings from an update body must not compete with the page's own h1/h2.
    for level in ("1", "2"):
        html = html.replace(f"<h{level}>", "<h3>").replace(f"</h{level}>", "</h3>")
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
