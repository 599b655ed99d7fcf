"""RSS and Atom feeds over HTTP: cacheable and cookieless, naming their hub, linked from the public pages."""

import pytest
from django.urls import reverse
from lxml import etree

from incidents import services
from tests.incidents.test_feeds_helpers import ATOM, HUB, SITE, get_feed

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("history-atom", "application/atom+xml"), ("history-rss", "application/rss+xml")],
)
def test_feeds_are_public_cacheable_and_cookieless(client, story, name, content_type):
    client.cookies["csrftoken"] = "not-a-valid-token"
    client.cookies["sessionid"] = "stale-session"
    response = get_feed(client, name)
    assert response.status_code == 200
    assert response["Content-Type"] == f"{content_type}; charset=utf-8"
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert "public" in response["Cache-Control"]
    etag = response["ETag"]
    assert etag.startswith('"')  # strong
    assert client.get(reverse(f"feeds:{name}"), HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.head(reverse(f"feeds:{name}")).status_code == 200
    assert client.post(reverse(f"feeds:{name}")).status_code == 405


def test_a_new_update_changes_the_etag(client, story, publisher, django_capture_on_commit_callbacks):
    etag = get_feed(client, "history-rss")["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        services.update_publish(
            incident=story["incident"], author=publisher, status="postmortem", body="Write-up."
        )
    response = client.get(reverse("feeds:history-rss"), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert "Write-up." in response.content.decode()


def test_feeds_advertise_the_websub_hub_in_the_xml_and_the_link_header(client, story, settings):
    settings.STATUSHUB_WEBSUB_HUB = HUB
    incident = story["incident"].pk
    atom = client.get(reverse("feeds:incident-atom", args=[incident]))
    rss = client.get(reverse("feeds:incident-rss", args=[incident]))

    for response, fmt in ((atom, "atom"), (rss, "rss")):
        self_url = f"{SITE}/incidents/{incident}/history.{fmt}"
        assert response["Link"] == f'<{HUB}>; rel="hub", <{self_url}>; rel="self"'
        links = {
            (link.get("rel"), link.get("href"))
            for link in etree.fromstring(response.content).iter(f"{{{ATOM}}}link")
        }
        assert ("hub", HUB) in links and ("self", self_url) in links


def test_without_a_hub_the_feeds_name_only_themselves(client, story, settings):
    settings.STATUSHUB_WEBSUB_HUB = ""
    response = get_feed(client, "history-atom")
    assert response["Link"] == f'<{SITE}/history.atom>; rel="self"'
    assert b'rel="hub"' not in response.content


def test_the_public_pages_link_their_feeds(client, story):
    page = client.get("/").content.decode()
    assert (
        '<link rel="alternate" type="application/atom+xml" title="StatusHub status (Atom)" href="/history.atom">'
        in page
    )
    assert (
        '<link rel="alternate" type="application/rss+xml" title="StatusHub status (RSS)" href="/history.rss">'
        in page
    )
    assert '<a href="/history.rss">RSS</a>' in page

    pk = story["incident"].pk
    detail = client.get(reverse("status:incident", args=[pk])).content.decode()
    assert (
        f'type="application/atom+xml" title="Payments failing (Atom)" href="/incidents/{pk}/history.atom"'
        in detail
    )
    assert f'<a href="/incidents/{pk}/history.rss">RSS</a>' in detail
    assert 'href="/history.atom"' in detail  # the whole page's feeds too


def test_each_components_feed_is_linked_from_the_subscribe_page(client, make_component):
    payments = make_component("Payments")
    page = client.get("/subscribe/").content.decode()
    assert f'href="/components/{payments.pk}/history.atom"' in page
    assert f'href="/components/{payments.pk}/history.rss"' in page
