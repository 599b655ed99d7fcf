"""Every journey in Chromium, on the demo's story (``seed_demo``), against a live server and a real worker.

The reader follows the incident, subscribes and unsubscribes; the engineer posts notes from the admin and the CLI;
the communicator drafts, takes a role and drafts the resolution; the publisher composes, previews, publishes, watches
the deliveries, corrects and rotates a key; the admin manages people and sees the audit trail. Each screen is
photographed into ``artifacts/journeys/``; run with ``STATUSHUB_SCREENSHOTS=docs/screenshots`` to refresh the
README's screenshots.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command

from incidents.models import Incident, IncidentUpdate, SigningKey
from people import two_factor
from subscribers.models import Subscriber
from subscribers.outbox import latest_mails
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEMO_PASSWORD = "northwind-demo"
SEV2 = "Some customers charged twice on renewal"
TIMEOUT_MS = 20_000


@pytest.fixture
def demo(settings: Any, live_server: Any, tmp_path: Path) -> Any:
    """Northwind Cloud's demo story, with links and mail pointing at this live server."""
    settings.STATUSHUB_SITE_URL = live_server.url
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", stdout=quiet)
    return live_server


@pytest.fixture
def context(browser: Any) -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    opened = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
    opened.set_default_timeout(TIMEOUT_MS)
    yield opened
    opened.close()


def shot(page: Any, name: str) -> None:
    """A screenshot of the whole page, kept as a test artifact and, when asked, for the README."""
    folder = ARTIFACTS / "journeys"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    if target := os.environ.get("STATUSHUB_SCREENSHOTS"):
        from PIL import Image

        # For the README: 256 colours are plenty for these pages and keep the repository small.
        Path(target).mkdir(parents=True, exist_ok=True)
        with Image.open(folder / f"{name}.png") as image:
            image.convert("RGB").quantize(colors=256).save(Path(target) / f"{name}.png", optimize=True)


def log_in(page: Any, base: str, username: str, *, next_url: str = "/manage/") -> None:
    """Sign in through the team's login form, as a person of the demo would."""
    page.goto(f"{base}/admin/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    if "/account/two-factor/" in page.url:  # publishers and admins: the code the demo's shared key gives now
        device = two_factor.confirmed_totp(User.objects.get(username=username))
        assert device is not None, f"the demo enrols {username} with an authenticator app"
        page.get_by_label("Code").fill(two_factor.totp_code(device))
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(lambda url: "/account/two-factor/" not in url)


def sign_and_publish(page: Any, name: str) -> None:
    """Press *Sign and publish*; asked for the password, one press of *Confirm and publish* publishes (item 20)."""
    from playwright.sync_api import expect

    page.get_by_role("button", name=f"Sign and publish as {name}").click()
    confirm = page.get_by_role("heading", name="Confirm it's you")
    published = page.get_by_text("Published and signed.")
    expect(confirm.or_(published)).to_be_visible()
    if confirm.is_visible():
        shot(page, "publisher-reauth")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Confirm and publish").click()
    page.wait_for_url(re.compile(r"/manage/updates/[a-z0-9]+/deliveries/$"))
    expect(published).to_be_visible()


def mail_to(address: str, *, subject_has: str = "", wait: float = 30.0) -> Any:
    """The newest mail the worker wrote for ``address`` (the file backend, as in the demo)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for mail in latest_mails(Path(settings.EMAIL_FILE_PATH), limit=200):
            if address in mail.to and subject_has in mail.subject:
                return mail
        time.sleep(0.2)
    pytest.fail(f"no mail to {address} ({subject_has!r}) within {wait:.0f} s")


def local(url: str, base: str) -> str:
    """A link from a mail, on this test's live server (the worker writes links with its own site URL)."""
    return re.sub(r"^https?://[^/]+", base, url)


def test_a_reader_follows_the_incident_and_subscribes_then_unsubscribes(demo, context, threaded_worker):
    from playwright.sync_api import expect

    page = context.new_page()
    page.goto(demo.url + "/")
    expect(page.get_by_role("link", name=SEV2)).to_be_visible()
    expect(page.get_by_text("Payments").first).to_be_visible()
    shot(page, "reader-status-page")

    page.get_by_role("link", name=SEV2).click()
    expect(page.get_by_role("heading", name=SEV2)).to_be_visible()
    expect(page.locator(".timeline__entry").first).to_be_visible()
    shot(page, "reader-incident")

    page.get_by_role("link", name="Incident history").click()
    expect(page.get_by_role("heading", name=re.compile("history", re.I)).first).to_be_visible()
    shot(page, "reader-history")

    address = f"reader-{os.getpid()}-{time.monotonic_ns()}@customer.example"
    page.get_by_role("link", name="Get updates by e-mail").first.click()
    page.get_by_label(re.compile("e-mail", re.I)).first.fill(address)
    shot(page, "reader-subscribe")
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_url(re.compile(r"/subscribe/sent/$"))
    shot(page, "reader-subscribe-sent")

    confirmation = mail_to(address)
    link = re.search(r"https?://\S+/subscribe/confirm/\S+/", confirmation.text)
    assert link, confirmation.text
    page.goto(local(link.group(0), demo.url))
    shot(page, "reader-confirm")
    page.get_by_role("button", name=re.compile("confirm", re.I)).click()
    page.wait_for_url(re.compile(r"/subscribe/manage/.+confirmed=1"))
    assert Subscriber.objects.get(email=address).state == Subscriber.State.ACTIVE
    shot(page, "reader-manage")

    page.get_by_role("button", name=re.compile("unsubscribe", re.I)).click()
    expect(page.get_by_role("button", name=re.compile("subscribe again|resubscribe", re.I))).to_be_visible()
    assert Subscriber.objects.get(email=address).state == Subscriber.State.UNSUBSCRIBED
    shot(page, "reader-unsubscribed")


def test_an_engineer_posts_notes_from_the_admin_and_from_the_command_line(demo, context):
    from playwright.sync_api import expect

    incident = Incident.objects.get(title=SEV2)
    page = context.new_page()
    log_in(page, demo.url, "marco", next_url=f"/admin/incidents/incident/{incident.pk}/change/")
    expect(page.get_by_role("heading", name=SEV2, exact=True)).to_be_visible()
    page.fill("textarea[name='notes-0-text']", "Refund job started for the 212 affected renewals.")
    page.check("input[name='notes-0-is_public']")
    shot(page, "engineer-admin-note")
    page.click("input[name='_continue']")
    expect(page.locator(".messagelist .success")).to_be_visible()

    # A token for the command line, shown once.
    page.goto(demo.url + "/manage/tokens/")
    page.get_by_label("Name").fill("marco's laptop")
    page.get_by_label(re.compile(r"Post progress notes")).check()
    if page.get_by_label("Your password").count():
        page.get_by_label("Your password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token
    shot(page, "engineer-token")

    cli = subprocess.run(
        [sys.executable, "-m", "statushub.cli", "note", str(incident.pk), "Refunds: 180 of 212 done.", "--public"],
        env={**os.environ, "STATUSHUB_URL": demo.url, "STATUSHUB_TOKEN": token},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert f"posted on incident {incident.pk} (public)" in cli.stdout

    reader = context.new_page()
    reader.goto(f"{demo.url}/incidents/{incident.pk}/")
    expect(reader.get_by_text("Refund job started for the 212 affected renewals.")).to_be_visible()
    expect(reader.get_by_text("Refunds: 180 of 212 done.")).to_be_visible()
    shot(reader, "engineer-notes-on-the-page")


def test_a_communicator_takes_a_role_drafts_the_resolution_and_a_publisher_resolves(demo, context):
    from playwright.sync_api import expect

    incident = Incident.objects.get(title=SEV2)
    page = context.new_page()
    log_in(page, demo.url, "sam")
    expect(page.get_by_role("heading", name="Open incidents")).to_be_visible()
    shot(page, "communicator-dashboard")

    # Roles: Sam hands command to Priya and stays the one voice to customers (in the admin, from the console).
    page.get_by_role("link", name=SEV2).click()
    page.get_by_role("link", name="Details and notes (admin)").click()
    roles = page.locator("#roles-group")
    commander = roles.locator("tr.has_original").filter(
        has=page.locator("select[name$='-role'] option[value='commander'][selected]")
    )
    commander.locator("select[name$='-user']").select_option(value=str(User.objects.get(username="priya").pk))
    shot(page, "communicator-roles")
    page.click("input[name='_continue']")
    expect(page.locator(".messagelist .success")).to_be_visible()
    assert incident.roles.get(role="commander").user.username == "priya"
    assert incident.roles.get(role="primary_communicator").user.username == "sam"

    # The resolution, drafted and previewed; a publisher signs it.
    page.goto(demo.url + "/manage/")
    page.get_by_role("row").filter(has_text=SEV2).get_by_role("link", name="Compose update").click()
    page.wait_for_url(re.compile(r"/manage/drafts/\d+/$"))
    page.get_by_label("Status", exact=True).select_option(label="Resolved")
    page.get_by_label("Update (Markdown)").fill(
        "Every duplicate charge has been refunded and renewals charge once again.\n\n"
        "**What changed:** retries now reuse the first attempt's idempotency key."
    )
    expect(page.locator("#save-status")).to_contain_text("Saved")
    shot(page, "communicator-draft")
    page.get_by_role("button", name="Preview →").click()
    expect(page.get_by_text("Only a publisher can publish.")).to_be_visible()
    draft_url = page.url
    shot(page, "communicator-preview")

    dana = context.browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC").new_page()
    log_in(dana, demo.url, "dana", next_url=draft_url.removeprefix(demo.url))
    sign_and_publish(dana, "Dana Whitfield")

    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED
    reader = context.new_page()
    reader.goto(f"{demo.url}/incidents/{incident.pk}/")
    expect(reader.locator(".pill--resolved").first).to_be_visible()
    expect(reader.locator(".incident__promise")).to_have_count(0)  # a resolved incident promises nothing more
    shot(reader, "communicator-resolved-on-the-page")


def test_a_publisher_composes_publishes_watches_deliveries_corrects_and_rotates_her_key(
    demo, context, threaded_worker
):
    from playwright.sync_api import expect

    incident = Incident.objects.get(title=SEV2)
    page = context.new_page()
    log_in(page, demo.url, "priya")
    page.get_by_role("row").filter(has_text=SEV2).get_by_role("link", name="Compose update").click()
    page.wait_for_url(re.compile(r"/manage/drafts/\d+/$"))
    page.get_by_label("Status", exact=True).select_option(label="Monitoring")
    body = (
        "The fix is live: renewals charge once.\n\n"
        "**Refunds:** every duplicate charge is being refunded; most show within 3 working days."
    )
    page.get_by_label("Update (Markdown)").fill(body)
    expect(page.locator("#save-status")).to_contain_text("Saved")
    shot(page, "publisher-compose")

    page.get_by_role("button", name="Preview →").click()
    expect(page.get_by_role("heading", name=re.compile("^Preview:"))).to_be_visible()
    expect(page.locator("section[aria-labelledby='pv-page']").get_by_text("The fix is live")).to_be_visible()
    shot(page, "publisher-preview")
    sign_and_publish(page, "Priya Raman")

    # The worker fans out to every channel (the demo's are dry runs): the table fills in live.
    channels = page.locator("#deliveries tbody tr")
    expect(channels.first).to_be_visible()
    # Every channel is delivered but the forum the team posts on by hand, which waits for someone's link.
    expect(page.locator("#deliveries .delivery--awaiting")).to_have_count(1)
    copy = page.locator("#deliveries textarea.copy").input_value()
    assert "Refunds: every duplicate charge" in copy and "**" not in copy  # plain text, paragraphs kept
    assert "renewals charge once.\n\nRefunds:" in copy
    expect(page.locator("#deliveries .delivery--delivered")).to_have_count(
        channels.count() - 1, timeout=60_000
    )
    expect(page.get_by_text("updating live")).to_have_count(0)
    shot(page, "publisher-deliveries")
    first = IncidentUpdate.objects.filter(incident=incident).latest("published_at")
    assert first.status == "monitoring" and first.author_name == "Priya Raman" and first.signature

    # A correction names the update it corrects; both stay on the page.
    page.goto(demo.url + "/manage/")
    page.get_by_role("row").filter(has_text=SEV2).get_by_role("link", name="Compose update").click()
    page.locator("li").filter(has_text="The fix is live").get_by_role(
        "button", name="Correct this update"
    ).click()
    expect(page.get_by_text("This draft corrects the update of")).to_be_visible()
    page.get_by_label("Update (Markdown)").fill(
        "Correction: refunds show within 5 working days, not 3, for cards issued outside the EU."
    )
    expect(page.locator("#save-status")).to_contain_text("Saved")
    page.get_by_role("button", name="Preview →").click()
    shot(page, "publisher-correction-preview")
    sign_and_publish(page, "Priya Raman")
    correction = IncidentUpdate.objects.filter(incident=incident).latest("published_at")
    assert correction.corrects_id == first.pk

    reader = context.new_page()
    reader.goto(f"{demo.url}/incidents/{incident.pk}/")
    expect(reader.get_by_text("refunds show within 5 working days")).to_be_visible()
    expect(reader.get_by_text("The fix is live: renewals charge once.")).to_be_visible()
    shot(reader, "publisher-correction-on-the-page")

    # Key rotation: a new key signs from now on; what the old one signed still verifies.
    page.goto(demo.url + "/manage/keys/")
    old_keys = set(page.locator("td code").all_inner_texts())
    page.get_by_role("button", name="Rotate: make a new key").click()
    expect(page.get_by_text(re.compile("is now the one your updates are signed with"))).to_be_visible()
    new_keys = set(page.locator("td code").all_inner_texts()) - old_keys
    assert len(new_keys) == 1
    shot(page, "publisher-keys")
    published = reader.request.get(f"{demo.url}/.well-known/statushub/keys.json").text()
    assert all(key.kid in published for key in SigningKey.objects.filter(owner__username="priya"))
    assert SigningKey.objects.filter(owner__username="priya").count() == 2
    verify = subprocess.run(
        [sys.executable, "-m", "statushub.cli", "verify", f"{demo.url}/updates/{first.public_id}.json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_an_admin_gives_a_new_person_a_role_and_reads_the_audit_trail(demo, context):
    from playwright.sync_api import expect

    page = context.new_page()
    log_in(page, demo.url, "admin", next_url="/admin/")
    expect(page.get_by_role("heading", name="Incidents, components and people")).to_be_visible()
    shot(page, "admin-index")

    page.goto(demo.url + "/admin/auth/user/add/")
    page.fill("#id_username", "noor")
    page.fill("#id_password1", "a long and unusual passphrase 42")
    page.fill("#id_password2", "a long and unusual passphrase 42")
    page.click("input[name='_continue']")
    expect(page.locator(".messagelist .success")).to_be_visible()
    page.fill("#id_first_name", "Noor")
    page.fill("#id_last_name", "Haddad")
    page.check("#id_is_staff")
    page.locator("#id_groups_from").select_option(label="Engineer")
    page.locator("#id_groups_add").click()
    page.click("input[name='_save']")
    expect(page.locator(".messagelist .success")).to_be_visible()
    noor = User.objects.get(username="noor")
    assert noor.is_staff and list(noor.groups.values_list("name", flat=True)) == ["Engineer"]

    page.goto(demo.url + "/admin/people/auditevent/")
    expect(page.locator("#result_list")).to_be_visible()
    shot(page, "admin-audit")
