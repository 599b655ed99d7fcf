"""Chromium, on the demo's story: Lee (customer support) opens the mentions inbox, takes the most urgent mention,
answers it with the "take it offline" saved reply after the tone guard flags a heated edit, and the reply shows as
delivered (dry run) on the mention."""

import re
import time

import pytest

from mentions.models import Mention, MentionReply
from tests.console.test_journeys import context, demo, log_in, shot  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_lee_answers_the_most_urgent_mention_as_a_person(demo, context, threaded_worker):  # noqa: F811
    from playwright.sync_api import expect

    top = (
        Mention.objects.filter(state__in=Mention.OPEN_STATES)
        .order_by("-priority", "-posted_at", "-id")
        .first()
    )
    assert top is not None
    page = context.new_page()
    log_in(page, demo.url, "lee")
    page.get_by_role("link", name="Mentions", exact=True).click()
    page.wait_for_url(re.compile(r"/manage/mentions/$"))
    first_row = page.locator("tr.mention-row").first
    expect(first_row).to_contain_text(top.text[:40])
    expect(first_row).to_contain_text("threatens to go public")
    shot(page, "listener-inbox")

    first_row.get_by_role("link").first.click()
    page.wait_for_url(re.compile(rf"/manage/mentions/{top.pk}/$"))
    page.get_by_role("button", name="Take it").click()
    expect(page.get_by_text("Lee Chen is on it")).to_be_visible()

    page.get_by_role("link", name="Take it offline").click()
    reply = page.get_by_label("Your reply")
    expect(reply).to_have_value(re.compile(r"^Hi Vic, I'm Lee Chen, Customer support at "))
    offline = reply.input_value()
    assert "lee@northwind.example" in offline

    # A heated edit: the guard flags it, and nothing is sent.
    reply.fill(offline + " Obviously this is not our fault!!!")
    page.get_by_role("button", name="Check the tone").click()
    guard = page.locator("#tone-guard")
    expect(guard.locator("[data-tone-kind='blame']")).to_be_visible()
    expect(guard).to_contain_text("Try:")
    shot(page, "listener-tone-guard")
    assert not MentionReply.objects.exists()

    page.get_by_label("Your reply").fill(offline)
    page.get_by_role("button", name="Check the tone").click()
    expect(page.locator("#tone-guard")).to_contain_text("Tone check: nothing to flag.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Sent: the delivery is shown below.")).to_be_visible()

    # The worker delivers it (dry run): the mention shows it delivered.
    deadline = time.monotonic() + 30
    state = page.locator("[data-delivery-state]").first
    while state.get_attribute("data-delivery-state") != "delivered" and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
        state = page.locator("[data-delivery-state]").first
    expect(state).to_have_attribute("data-delivery-state", "delivered")
    expect(state).to_contain_text("(dry run)")
    shot(page, "listener-reply-delivered")
    sent = MentionReply.objects.get()
    assert sent.sent_by.username == "lee" and sent.body == offline
    top.refresh_from_db()
    assert top.state == "answered"
