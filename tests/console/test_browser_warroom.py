"""Chromium, on the demo's story: the war room of a fresh SEV1. Sam (its primary communicator) sees the clock amber,
drafts the first acknowledgement in one click, is warned by the tone guard, calms the words and publishes; Dana
publishes the next update, and the console shows the promise kept."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from incidents.models import Incident, IncidentUpdate
from people import two_factor
from tests.console.test_journeys import context, demo, log_in, shot, sign_and_publish  # noqa: F401  (fixtures)
from warroom.models import Promise

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEV1 = "Checkout failing in the US region"
HEATED = "This is NOT our fault!!! The card processor broke it."


def test_sam_acknowledges_through_the_tone_guard_and_dana_keeps_the_promise(demo, context, browser):  # noqa: F811
    from playwright.sync_api import expect

    incident = Incident.objects.get(title=SEV1)
    # Three minutes since detection, whatever the time the seeding took: amber (SEV1's target is 5 minutes).
    Incident.objects.filter(pk=incident.pk).update(detected_at=timezone.now() - timedelta(minutes=3))

    page = context.new_page()
    log_in(page, demo.url, "sam")
    row = page.get_by_role("row").filter(has_text=SEV1)
    expect(row.locator(".clock-badge--amber")).to_contain_text("Not acknowledged")
    row.get_by_role("link", name="Open console").click()
    page.wait_for_url(re.compile(rf"/manage/incidents/{incident.pk}/$"))
    clock = page.locator("#tta")
    expect(clock).to_have_class(re.compile(r"\bclock--amber\b"))
    expect(clock).to_contain_text("Amber: half the target has gone")
    expect(page.locator("#roster")).to_contain_text("Sam Okafor ● here")
    expect(page.locator("#roster")).to_contain_text("Marco Rossi")
    shot(page, "warroom-console-amber")

    # One click: the first acknowledgement, drafted from the SEV1 template and the situation panel.
    page.get_by_role("button", name="Draft the first acknowledgement").click()
    page.wait_for_url(re.compile(r"/manage/drafts/\d+/$"))
    body = page.get_by_label("Update (Markdown)")
    expect(body).to_have_value(re.compile(r"^We are aware that checkout in the US region is affected\."))
    drafted = body.input_value()

    # A heated sentence: the guard flags it as typed, says why and suggests calmer words.
    body.click()
    page.keyboard.press("End")
    body.press_sequentially(" " + HEATED, delay=5)
    guard = page.locator("#tone-guard")
    expect(guard.locator("[data-tone-kind='blame']")).to_contain_text(re.compile("not our fault", re.I))
    expect(guard.locator("[data-tone-kind='heat']").first).to_be_visible()
    expect(guard).to_contain_text("Try:")
    shot(page, "warroom-tone-guard")

    # Fixed: calm again, and the flags clear.
    body.fill(drafted + "\n\nWe are sorry for the trouble this causes.")
    expect(guard).to_contain_text("Tone check: nothing to flag.")
    expect(page.locator("#save-status")).to_contain_text("Saved")
    page.get_by_role("button", name="Preview →").click()
    expect(
        page.get_by_text("you may publish its first acknowledgement, signed in your own name")
    ).to_be_visible()
    # Speaking in his own name, Sam confirms his second factor first (publishers do at sign-in).
    page.get_by_role("link", name="Confirm your second factor").click()
    device = two_factor.confirmed_totp(User.objects.get(username="sam"))
    assert device is not None, "the demo enrols sam with an authenticator app"
    page.get_by_label("Code").fill(two_factor.totp_code(device))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/manage/drafts/\d+/preview/$"))
    sign_and_publish(page, "Sam Okafor")

    first = IncidentUpdate.objects.get(incident=incident)
    assert first.author_name == "Sam Okafor" and first.signature
    assert first.next_update_at is not None

    page.goto(f"{demo.url}/manage/incidents/{incident.pk}/")
    expect(page.locator("#tta")).to_have_class(re.compile(r"\bclock--met\b"))
    expect(page.locator("#promise")).to_contain_text("Due in")
    expect(page.locator("#flow")).to_contain_text("Sam Okafor published the first acknowledgement")

    # Dana, a publisher, posts the next update: the promise is kept, and Sam's console shows it without a reload.
    her_browser = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
    her_browser.set_default_timeout(20_000)
    dana = her_browser.new_page()
    log_in(dana, demo.url, "dana")
    dana.goto(f"{demo.url}/manage/incidents/{incident.pk}/compose/")
    dana.get_by_label("Status", exact=True).select_option(label="Identified")
    dana.get_by_label("Update (Markdown)").fill(
        "I'm Dana Whitfield, CEO of Northwind Cloud. We have found why checkouts in the US region fail and are "
        "rolling back the change that caused it. I'm sorry for the trouble."
    )
    dana.get_by_role("button", name="Preview →").click()
    sign_and_publish(dana, "Dana Whitfield")

    expect(page.locator("#promise details summary")).to_contain_text("1 kept, 0 missed", timeout=15_000)
    page.locator("#promise details summary").click()
    expect(page.locator(".promise-row--kept")).to_contain_text("kept")
    shot(page, "warroom-console-promise-kept")
    her_browser.close()
    promise = Promise.objects.get(made_by_update=first)
    assert promise.state() == "kept"
    assert promise.kept_by_update is not None and promise.kept_by_update.author_name == "Dana Whitfield"
