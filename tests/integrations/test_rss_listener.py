"""RSS and Atom feeds as a listener (Google Alerts, review sites), answered by respx at the httpx boundary."""

import json

import httpx
import pytest
import respx

from integrations.base import OutboundError
from integrations.registry import listener_class

FEED = "https://www.google.com/alerts/feeds/0123/4567"
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Google Alert - Northwind</title><id>tag:alerts</id>
<updated>2026-12-03T10:00:00Z</updated>
{entries}
</feed>"""
ENTRY = """<entry><id>tag:google.com,2013:googlealerts/feed:{n}</id><title type="html">Northwind &lt;b&gt;outage&lt;/b&gt; {n}</title>
<link href="https://blog.example/northwind-{n}"/><published>2026-12-03T09:0{n}:00Z</published><updated>2026-12-03T09:0{n}:00Z</updated>
<content type="html">Payments failed &amp;amp; nobody answers</content><author><name>Blogger {n}</name></author></entry>"""


def _atom(*numbers: int) -> str:
    return ATOM.format(entries="\n".join(ENTRY.format(n=n) for n in numbers))


def _listener():
    cls = listener_class("rss")
    assert cls is not None
    return cls({"url": FEED}, {})


@respx.mock
def test_new_entries_are_heard_once_and_an_unchanged_feed_costs_a_304():
    route = respx.get(FEED).mock(
        side_effect=[
            httpx.Response(
                200,
                text=_atom(1, 2),
                headers={"ETag": '"v1"', "Last-Modified": "Thu, 03 Dec 2026 10:00:00 GMT"},
            ),
            httpx.Response(304),
            httpx.Response(200, text=_atom(2, 3), headers={"ETag": '"v2"'}),
        ]
    )
    listener = _listener()

    heard, cursor = listener.fetch("")
    assert [h.url for h in heard] == ["https://blog.example/northwind-1", "https://blog.example/northwind-2"]
    assert heard[0].text.startswith("Northwind outage 1")  # the title's markup gone
    assert (heard[0].author_name, heard[0].found_by) == ("Blogger 1", "feed")

    again, same = listener.fetch(cursor)
    assert again == [] and same == cursor
    sent = route.calls[1].request.headers
    assert (sent["If-None-Match"], sent["If-Modified-Since"]) == ('"v1"', "Thu, 03 Dec 2026 10:00:00 GMT")
    assert sent["User-Agent"].startswith("StatusHub/")

    later, _ = listener.fetch(cursor)
    assert [h.url for h in later] == ["https://blog.example/northwind-3"]  # entry 2 was heard already
    assert json.loads(_)["etag"] == '"v2"'


@respx.mock
@pytest.mark.parametrize(("status", "permanent"), [(404, True), (503, False), (429, False)])
def test_a_feed_that_fails_says_whether_to_try_again(status, permanent):
    respx.get(FEED).mock(return_value=httpx.Response(status, headers={"Retry-After": "120"}))
    with pytest.raises(OutboundError, match=f"HTTP {status}") as error:
        _listener().fetch("")
    assert error.value.permanent is permanent
    assert error.value.retry_after == (None if permanent else 120.0)


@respx.mock
def test_a_page_that_is_not_a_feed_is_a_clear_error():
    respx.get(FEED).mock(return_value=httpx.Response(200, text="<html><body>Sign in</body></html>"))
    with pytest.raises(OutboundError, match="does not serve an RSS or Atom feed"):
        _listener().fetch("")
