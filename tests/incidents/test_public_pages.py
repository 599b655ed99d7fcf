from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import Component, Incident

S = Component.Status
pytestmark = pytest.mark.django_db


def _assert_public_response(response):
    assert not response.cookies, "public pages must not set cookies"
    assert "Cookie" not in response.get("Vary", "")
    cache_control = response["Cache-Control"]
    assert "public" in cache_control
    assert "stale-if-error" in cache_control


def test_the_page_shows_the_overall_status_components_and_active_incident_timeline(
    client, make_component, make_incident, engineer, publisher
):
    payments = make_component("Payments", group="Billing")
    make_component("Web app", group="Core")
    incident = make_incident("Some customers charged twice", body="We're aware of double charges.")
    services.incident_set_component_status(incident=incident, component=payments, status=S.PARTIAL_OUTAGE)
    services.note_add(
        incident=incident, author=engineer, text="Retry logic reuses no idempotency key", is_public=True
    )
    services.note_add(incident=incident, author=engineer, text="Internal: blame the vendor", is_public=False)

    response = client.get(reverse("status:page"))

    _assert_public_response(response)
    page = response.content.decode()
    assert "Partial System Outage" in page
    assert "Some customers charged twice" in page
    assert "We&#x27;re aware of double charges." in page or "We're aware of double charges." in page
    assert "Priya Raman, VP Engineering" in page
    assert "Engineering note" in page
    assert "Retry logic reuses no idempotency key" in page
    assert "Internal: blame the vendor" not in page
    components = page.split('id="components-heading"', 1)[1]
    assert components.index("Billing") < components.index("Payments")
    assert "Partial outage" in components
    assert 'class="bars"' in page


def test_all_operational_when_nothing_is_wrong(client, make_component):
    make_component("Web app")
    response = client.get("/")
    assert "All Systems Operational" in response.content.decode()


def test_a_draft_incident_is_not_public_until_acknowledged(client, make_incident):
    draft = make_incident("Alert fired: db latency", public=False)
    page = client.get("/").content.decode()
    assert "Alert fired" not in page
    assert client.get(reverse("status:incident", args=[draft.pk])).status_code == 404


def test_everything_typed_by_people_is_escaped(client, make_component, make_incident):
    make_component('<img src=x onerror="alert(1)">')
    make_incident("<script>alert('title')</script>", body="<script>alert('body')</script>")
    page = client.get("/").content.decode()
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;title&#x27;)" in page


def test_a_repeat_request_with_the_etag_gets_304_until_something_changes(client, make_incident, engineer):
    incident = make_incident()
    first = client.get("/")
    etag = first["ETag"]

    assert client.get("/", HTTP_IF_NONE_MATCH=etag).status_code == 304

    services.note_add(incident=incident, author=engineer, text="Deploying fix", is_public=True)
    # The bump runs on commit; run it the way the commit would.
    from statushub.lib.public_cache import bump_public_version

    bump_public_version()
    again = client.get("/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200
    assert again["ETag"] != etag


def test_the_live_region_answers_204_while_nothing_changed(client, make_incident):
    make_incident()
    page = client.get("/").content.decode()
    live_url = page.split('hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")

    unchanged = client.get(live_url)
    assert unchanged.status_code == 204
    _assert_public_response(unchanged)

    stale = client.get(reverse("status:live") + "?v=old")
    assert stale.status_code == 200
    assert 'id="live"' in stale.content.decode()


def test_public_pages_refuse_writes(client):
    assert client.post("/").status_code == 405


def test_the_incident_page_shows_the_full_timeline_newest_first(client, make_incident, publisher, engineer):
    incident = make_incident("API down", body="Looking into it.")
    services.note_add(incident=incident, author=engineer, text="Found a bad deploy", is_public=True,
                      at=timezone.now() + timedelta(minutes=5))  # fmt: skip
    services.update_publish(incident=incident, author=publisher, status="resolved", body="All fixed.",
                            at=timezone.now() + timedelta(minutes=10))  # fmt: skip

    response = client.get(reverse("status:incident", args=[incident.pk]))

    _assert_public_response(response)
    page = response.content.decode()
    assert page.index("All fixed.") < page.index("Found a bad deploy") < page.index("Looking into it.")
    assert "Resolved" in page


def test_upcoming_maintenance_is_shown_ahead_of_time(client, publisher):
    start = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    maintenance = Incident.objects.create(
        kind="maintenance", status="scheduled", title="EU database upgrade", scheduled_for=start,
        scheduled_until=start + timedelta(hours=1),
    )  # fmt: skip
    services.update_publish(
        incident=maintenance, author=publisher, status="scheduled", body="Read-only for 10 min."
    )

    page = client.get("/").content.decode()

    assert "Scheduled maintenance" in page
    assert "EU database upgrade" in page
    assert 'datetime="2026-12-05T02:00:00Z"' in page


def test_history_is_paginated_by_month_with_links_to_busy_neighbours(client, make_incident, publisher):
    def resolved(title, when):
        incident = make_incident(title, public=False, detected_at=when)
        services.update_publish(incident=incident, author=publisher, status="resolved", body="Done.", at=when)

    resolved("August outage", datetime(2026, 8, 3, 10, tzinfo=UTC))
    resolved("October slowness", datetime(2026, 10, 12, 10, tzinfo=UTC))
    resolved("Another October one", datetime(2026, 10, 20, 10, tzinfo=UTC))

    page = client.get(reverse("status:history-month", args=[2026, 10])).content.decode()
    assert "October slowness" in page and "Another October one" in page
    assert "August outage" not in page
    assert reverse("status:history-month", args=[2026, 8]) in page  # skips the empty September
    assert "Newer" not in page

    assert client.get(reverse("status:history-month", args=[2026, 13])).status_code == 404
    this_month = client.get(reverse("status:history"))
    assert this_month.status_code == 200  # this month's page itself: a static export cannot redirect
    now = timezone.now()
    assert (
        this_month.content == client.get(reverse("status:history-month", args=[now.year, now.month])).content
    )


def test_no_cookie_leaks_onto_a_cacheable_page_even_with_a_malformed_csrf_cookie(client, make_incident):
    make_incident()
    client.cookies["csrftoken"] = "not-a-valid-token"
    client.cookies["sessionid"] = "stale-session"
    for url in ["/", reverse("status:live") + "?v=x", reverse("status:history-month", args=[2026, 1])]:
        _assert_public_response(client.get(url))


def test_absurd_months_are_not_found_rather_than_errors(client):
    assert client.get(reverse("status:history-month", args=[9999, 12])).status_code == 404
    assert client.get(reverse("status:history-month", args=[1900, 1])).status_code == 404


def test_the_promised_next_update_stays_with_the_incident_after_an_engineering_note(
    client, make_incident, publisher, engineer
):
    incident = make_incident("API down", body="Looking into it.")
    promised = (timezone.now() + timedelta(minutes=30)).replace(second=0, microsecond=0)
    services.update_publish(
        incident=incident, author=publisher, status="identified", body="Found it.", next_update_at=promised,
        at=timezone.now() + timedelta(minutes=1),
    )  # fmt: skip
    services.note_add(incident=incident, author=engineer, text="Rolling back the deploy", is_public=True,
                      at=timezone.now() + timedelta(minutes=5))  # fmt: skip

    stamp = promised.astimezone(UTC).isoformat().replace("+00:00", "Z")
    for url in ["/", reverse("status:incident", args=[incident.pk])]:
        page = client.get(url).content.decode()
        assert page.index("Rolling back the deploy") < page.index("Found it.")
        assert "Next update by" in page, url
        assert 'class="incident__promise"' in page
        assert f'datetime="{stamp}"' in page.split('class="incident__promise"', 1)[1][:300]


def test_a_resolved_incident_shows_no_open_promise(client, make_incident, publisher):
    incident = make_incident("API down", body="Looking into it.")
    services.update_publish(
        incident=incident, author=publisher, status="identified", body="Found it.",
        next_update_at=timezone.now() + timedelta(minutes=30),
    )  # fmt: skip
    # Closed some other way than by an update (an older admin action, the API): the promise is moot.
    services.incident_set_status(incident=incident, status="resolved", by=publisher)

    page = client.get(reverse("status:incident", args=[incident.pk])).content.decode()
    assert "Next update by" not in page


def test_a_closing_update_carries_no_promise(make_incident, publisher):
    incident = make_incident("API down", body="Looking into it.")
    update = services.update_publish(
        incident=incident, author=publisher, status="resolved", body="All fixed.",
        next_update_at=timezone.now() + timedelta(minutes=30),
    )  # fmt: skip
    assert update.next_update_at is None


def test_an_open_page_asks_every_2_seconds_and_no_cache_answers_for_longer_than_a_poll(client, make_incident):
    from pathlib import Path

    make_incident()
    page = client.get("/").content.decode()
    assert 'hx-trigger="every 2s"' in page
    live = client.get(reverse("status:live") + "?v=x")
    assert live["Cache-Control"] == "public, max-age=1, stale-if-error=86400"
    # nginx, serving the export or falling back to it, says the same.
    nginx = Path(__file__).resolve().parents[2] / "deploy" / "nginx"
    for conf in ("statushub-static.conf", "statushub-maps.conf"):
        assert '"public, max-age=1, stale-if-error=86400"' in (nginx / conf).read_text(), conf
        assert '"public, max-age=5, stale-if-error=86400"' not in (nginx / conf).read_text(), conf


def test_the_banner_follows_the_components_not_the_incidents_impact(client, make_component, make_incident):
    make_component("Payments")
    make_incident(
        "Slow invoices", severity=Incident.Severity.SEV2
    )  # major impact, every component operational

    page = client.get("/").content.decode()
    status = client.get(reverse("statuspage:status")).json()["status"]

    banner = page.split('id="overall-status"', 1)[1][:80]
    assert "All Systems Operational" in banner and "Partial System Outage" not in page
    assert status == {"indicator": "none", "description": "All Systems Operational"}
    assert "Slow invoices" in page  # the incident itself is still shown, below the banner


def test_on_a_phone_the_bars_say_how_many_days_they_show(client, make_component):
    from pathlib import Path

    make_component("Payments", showcase=True)
    page = client.get("/").content.decode()
    legend = page.split('class="bars__legend"', 1)[1].split("</p>", 1)[0]
    assert '<span class="narrow-only">Last 30 days shown · </span>' in legend
    assert "uptime over 90 days" in legend or "No data yet" in legend
    css = (Path(__file__).resolve().parents[2] / "static" / "statushub" / "status.css").read_text()
    phone = css.split("@media (max-width: 600px)", 1)[1].split("}\n}", 1)[0]
    assert ".bars .bar:nth-last-child(n+31) { display: none; }" in phone  # exactly 30 bars stay


def test_every_page_has_a_favicon_and_favicon_ico_answers(client, make_incident, publisher):
    incident = make_incident()
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200 and ico["Content-Type"] == "image/x-icon"
    assert b"".join(ico.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert not ico.cookies and "public" in ico["Cache-Control"]

    pages = ["/", reverse("status:incident", args=[incident.pk]), reverse("status:history"),
             reverse("subscribers:subscribe"), reverse("admin:login")]  # fmt: skip
    for url in pages:
        assert 'rel="icon"' in client.get(url).content.decode(), url
    client.force_login(publisher)
    for url in [reverse("manage:dashboard"), reverse("admin:index")]:
        assert 'rel="icon"' in client.get(url).content.decode(), url
