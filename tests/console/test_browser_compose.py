"""Chromium, driven by Playwright: a publisher composes, previews, re-authenticates and publishes a signed update."""

import re

import pytest

from incidents import services
from incidents.models import Component, IncidentUpdate
from people import two_factor
from tests.conftest import ARTIFACTS, PASSWORD, enrol_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 15_000


def test_a_publisher_composes_previews_and_publishes_a_signed_update(
    browser, live_server, settings, make_component, make_incident, engineer, publisher
):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    settings.STATUSHUB_SITE_URL = live_server.url
    payments = make_component("Payments", group="Billing")
    incident = make_incident("Some customers charged twice on renewal", public=False)
    services.note_add(incident=incident, author=engineer, text="Root cause: retries reuse no idempotency key")
    body = "We found why some renewals were charged twice and are stopping it now. Sorry for the trouble."
    ARTIFACTS.mkdir(exist_ok=True)

    device = enrol_totp(publisher)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()

    # Log in through the admin's form, landing on the team's dashboard.
    page.goto(f"{live_server.url}/admin/login/?next=/manage/")
    page.fill("#id_username", publisher.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    # A publisher signs in in two steps: the code her authenticator app shows.
    expect(page.get_by_role("heading", name="Second step: your code")).to_be_visible()
    page.get_by_label("Code").fill(two_factor.totp_code(device))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Open incidents")).to_be_visible()

    # Compose.
    row = page.get_by_role("row").filter(has_text="Some customers charged twice on renewal")
    row.get_by_role("link", name="Compose update").click()
    expect(page.get_by_role("heading", name=re.compile("^Compose an update"))).to_be_visible()
    page.wait_for_url(re.compile(r"/manage/drafts/\d+/$"))
    draft_url = page.url
    page.get_by_label("Status", exact=True).select_option(label="Identified")
    page.locator(f"select[name='component_{payments.pk}']").select_option(label="Partial outage")
    textarea = page.get_by_label("Update (Markdown)")
    textarea.fill(body + "\n\n")
    # Notes load over htmx; quoting one dispatches an input event that autosaves the draft.
    with page.expect_response(
        lambda r: (
            r.request.method == "POST" and r.url == draft_url and "idempotency" in (r.request.post_data or "")
        )
    ) as saved:
        page.get_by_role("button", name="Quote into draft").click()
    assert saved.value.ok
    expect(textarea).to_have_value(
        re.compile(r"> Root cause: retries reuse no idempotency key\n>\n> — Marco Rossi, engineering")
    )
    assert textarea.input_value().startswith(body)
    expect(page.locator("#save-status")).to_contain_text("Saved")
    page.screenshot(path=str(ARTIFACTS / "compose-editor.png"), full_page=True)

    # Preview every rendering.
    page.get_by_role("button", name="Preview →").click()
    expect(page.get_by_role("heading", name=re.compile("^Preview:"))).to_be_visible()
    on_page = page.locator("section[aria-labelledby='pv-page']")
    expect(on_page.get_by_text(body)).to_be_visible()
    expect(on_page.locator("blockquote")).to_contain_text("Root cause: retries reuse no idempotency key")
    expect(on_page.locator(".pill--identified")).to_have_text("Identified")
    expect(page.get_by_role("heading", name="In the JSON API")).to_be_visible()
    expect(page.locator("section[aria-labelledby='pv-json'] pre")).to_contain_text('"status": "identified"')
    expect(page.get_by_role("heading", name="The statement you sign")).to_be_visible()
    statement = page.locator("section[aria-labelledby='pv-statement'] pre")
    expect(statement).to_contain_text("idempotency")
    expect(statement).to_contain_text('"status": "partial_outage"')
    page.screenshot(path=str(ARTIFACTS / "compose-preview.png"), full_page=True)
    publish = page.get_by_role("button", name="Sign and publish as Priya Raman")
    expect(publish).to_be_enabled()
    publish.click()

    # Publishing signs in her name: she confirms her password, and that publishes (no second press).
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    assert IncidentUpdate.objects.count() == 0
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm and publish").click()

    # The deliveries page (no channels configured here), then the public incident page from its link.
    page.wait_for_url(re.compile(r"/manage/updates/[a-z0-9]{12}/deliveries/$"))
    expect(page.get_by_text("Published and signed.")).to_be_visible()
    page.get_by_role("link", name="View it on the public page").click()
    page.wait_for_url(re.compile(rf"/incidents/{incident.pk}/#update-"))
    expect(page.get_by_role("heading", name="Some customers charged twice on renewal")).to_be_visible()
    entry = page.locator(".timeline__entry--update").first
    expect(entry.get_by_text(body)).to_be_visible()
    expect(entry.locator("blockquote")).to_contain_text("Root cause: retries reuse no idempotency key")
    expect(entry.locator(".pill--identified")).to_have_text("Identified")
    summary = entry.locator("details.signed summary")
    expect(summary).to_contain_text("Signed by Priya Raman")
    openssl = entry.get_by_text("openssl pkeyutl -verify")
    expect(openssl).to_be_hidden()
    summary.click()
    expect(openssl).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("Payments")
    page.screenshot(path=str(ARTIFACTS / "compose-published.png"), full_page=True)

    update = IncidentUpdate.objects.get()
    assert update.incident_id == incident.pk and update.signature
    assert update.author_name == "Priya Raman"
    incident.refresh_from_db()
    assert incident.acknowledged_at is not None
    assert incident.status == "identified"
    assert Component.objects.get(pk=payments.pk).status == Component.Status.PARTIAL_OUTAGE

    # The front page's banner and components move with the update.
    page.goto(live_server.url + "/")
    expect(page.locator(".banner h1")).to_have_text("Partial System Outage")
    payments_row = page.locator(".component").filter(has_text="Payments")
    expect(payments_row.locator(".status-text")).to_have_text("Partial outage")
    context.close()
