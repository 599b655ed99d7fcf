"""Chromium, driven by Playwright, against a live server on loopback."""

import pytest

from incidents import services
from tests.conftest import ARTIFACTS, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_engineers_public_note_appears_on_the_open_page_without_a_reload(
    browser, live_server, settings, make_component, make_incident, engineer
):
    settings.STATUSHUB_POLL_SECONDS = 1
    payments = make_component("Payments", group="Billing")
    incident = make_incident("Some customers charged twice on renewal", body="We're aware and investigating.")
    services.incident_set_component_status(incident=incident, component=payments, status="partial_outage")

    reader = browser.new_context(timezone_id="America/New_York", viewport={"width": 390, "height": 844})
    page = reader.new_page()
    page.goto(live_server.url + "/")
    page.get_by_role("heading", name="Partial System Outage").wait_for()
    assert page.get_by_text("We're aware and investigating.").is_visible()
    # Times are shown in the reader's zone (EST/EDT), not the server's UTC.
    first_time = page.locator(".timeline time").first
    assert "UTC" not in first_time.inner_text()
    page.evaluate("window.__stillTheSamePage = true")

    staff = browser.new_context().new_page()
    staff.goto(f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/")
    staff.fill("#id_username", engineer.username)
    staff.fill("#id_password", PASSWORD)
    staff.click("input[type=submit]")
    staff.fill("textarea[name='notes-0-text']", "Fix deployed to canary; no duplicate charges since 09:41.")
    staff.check("input[name='notes-0-is_public']")
    staff.click("input[name='_continue']")
    staff.locator(".messagelist .success").wait_for()

    note = page.get_by_text("Fix deployed to canary; no duplicate charges since 09:41.")
    note.wait_for(timeout=15_000)
    assert page.evaluate("window.__stillTheSamePage") is True, "the page reloaded instead of updating itself"
    assert page.locator(".timeline__entry--note").first.get_by_text("Engineering note").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "public-note-appeared-phone.png"), full_page=True)


def test_every_reader_gets_one_24_hour_clock_in_their_own_zone(
    browser, live_server, make_incident, publisher
):
    from datetime import timedelta

    from django.utils import timezone

    incident = make_incident(
        "Evening outage", detected_at=timezone.now().replace(hour=21, minute=5) - timedelta(days=1)
    )
    services.update_publish(
        incident=incident, author=publisher, status="identified", body="Found it.",
        next_update_at=timezone.now() + timedelta(minutes=30),
    )  # fmt: skip
    for locale in ("en-US", "en-GB"):
        context = browser.new_context(locale=locale, timezone_id="America/New_York")
        page = context.new_page()
        page.goto(f"{live_server.url}/incidents/{incident.pk}/")
        page.locator("footer").get_by_text("America/New_York").wait_for()
        times = page.locator("main time[datetime]").all_inner_texts()
        assert times, "the page shows times"
        for text in times:
            assert "AM" not in text and "PM" not in text, (locale, text)
            assert "UTC" not in text, (locale, text)
        context.close()
