"""Chromium under the Content-Security-Policy: no page breaks a rule, and every script still does its job."""

import threading
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.mail import send_mail

from incidents import services, snapshot, tasks
from people import two_factor
from statushub.lib.snapshot_store import snapshot_store
from statushub.serving import SnapshotApp
from tests.alerts.test_alerts_helpers import make_source
from tests.conftest import PASSWORD, enrol_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 15_000
# Every violation is reported to the page as an event, whatever Chromium prints to its console.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__violations.push(event.violatedDirective + " " + (event.blockedURI || "inline") + " at "
                           + event.sourceFile + ":" + event.lineNumber);
});
"""


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def snapshot_server() -> Iterator[str]:
    """The production front door (statushub.wsgi): public pages from the snapshot, the rest from Django."""
    server = make_server(
        "127.0.0.1",
        0,
        SnapshotApp(StaticFilesHandler(WSGIHandler())),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class Watched:
    """A Chromium page that records CSP violations (as events and console errors) and script errors."""

    def __init__(self, context: Any) -> None:
        self.page = context.new_page()
        self.console: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console.append(f"uncaught: {error}"))

    def _console(self, message: Any) -> None:
        if message.type == "error" and (
            "Content Security Policy" in message.text or "Content-Security-Policy" in message.text
        ):
            self.console.append(message.text)

    def visit(self, url: str) -> Any:
        response = self.page.goto(url)
        assert response is not None and response.ok, url
        assert "script-src 'self'" in (response.headers.get("content-security-policy") or ""), url
        self.page.wait_for_load_state("load")
        return response

    def assert_clean(self, where: str) -> None:
        violations = self.page.evaluate("window.__violations || []")
        assert violations == [] and self.console == [], f"{where}: {violations} {self.console}"


def _context(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(WATCH_VIOLATIONS)
    return context


def test_public_pages_from_the_snapshot_break_no_rule_and_refresh_themselves(
    browser, snapshot_server, settings, site, publisher
):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    settings.STATUSHUB_POLL_SECONDS = 1
    snapshot.build(snapshot_store())
    reader = Watched(_context(browser))
    incident = site["open"]

    for path in ["/history/", f"/incidents/{incident.pk}/", "/subscribe/", "/subscribe/hooks/webhook/", "/"]:
        reader.visit(snapshot_server + path)
        reader.assert_clean(path)

    # Scripts still run: localtime.js rewrote the times into the reader's zone, htmx polls the live region.
    expect(reader.page.locator("[data-tz-name]")).not_to_have_text("")
    reader.page.evaluate("window.__stillTheSamePage = true")
    services.update_publish(
        incident=incident, author=publisher, status="monitoring", body="A fix is out; we are watching."
    )
    tasks.refresh_snapshot()
    expect(reader.page.get_by_text("A fix is out; we are watching.")).to_be_visible()
    assert reader.page.evaluate("window.__stillTheSamePage") is True, "the page reloaded instead of updating"
    reader.assert_clean("/ after a live refresh")

    # The subscribe form posts (through to Django) and lands on its next page.
    reader.visit(snapshot_server + "/subscribe/")
    reader.page.get_by_label("E-mail address").fill("reader@example.com")
    reader.page.get_by_role("button", name="Subscribe").click()
    expect(reader.page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    reader.assert_clean("/subscribe/sent/")


def test_team_pages_and_the_admin_break_no_rule_and_htmx_still_works(
    browser, live_server, settings, tmp_path, site, admin_user, publisher
):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    settings.STATUSHUB_SITE_URL = live_server.url
    # The demo's outbox shows a mail's HTML, whose inline styles are the mail's own.
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mail"
    html = '<h1 style="margin:0 0 16px">Confirm your subscription</h1><p style="color:#52606d">Hello</p>'
    send_mail("Confirm", "Hello", None, ["reader@example.com"], html_message=html)
    incident = site["open"]
    services.note_add(incident=incident, author=publisher, text="Certificate renewed on the edge nodes")
    device = enrol_totp(admin_user)
    staff = Watched(_context(browser))
    staff.visit(f"{live_server.url}/admin/login/?next=/manage/")
    staff.page.fill("#id_username", admin_user.username)
    staff.page.fill("#id_password", PASSWORD)
    staff.page.click("input[type=submit]")
    staff.page.get_by_label("Code").fill(two_factor.totp_code(device))  # admins sign in in two steps
    staff.page.get_by_role("button", name="Continue").click()
    expect(staff.page.get_by_role("heading", name="Open incidents")).to_be_visible()
    staff.assert_clean("/admin/login/ → /manage/")

    # The compose screen: notes arrive over htmx, and typing autosaves over htmx.
    staff.page.get_by_role("row").filter(has_text=incident.title).get_by_role(
        "link", name="Compose update"
    ).click()
    staff.page.wait_for_url(f"{live_server.url}/manage/drafts/*/")
    expect(staff.page.get_by_text("Certificate renewed on the edge nodes")).to_be_visible()
    staff.page.get_by_label("Update (Markdown)").fill("We renewed the certificate; payments work again.")
    expect(staff.page.locator("#save-status")).to_contain_text("Saved")
    staff.assert_clean("the compose screen")
    draft_url = staff.page.url
    staff.visit(draft_url + "preview/")
    staff.assert_clean("the preview")

    team_pages = [
        "/manage/",
        "/manage/channels/",
        "/manage/keys/",
        "/manage/tokens/",
        "/manage/profile/",
        "/subscribe/outbox/",
        "/api/v1/docs",
        "/admin/",
        "/admin/incidents/incident/",
        f"/admin/incidents/incident/{incident.pk}/change/",
        "/admin/incidents/incident/add/",
        "/admin/incidents/component/",
        f"/admin/incidents/component/{site['api'].pk}/change/",
        "/admin/alerts/alertsource/add/",
        "/admin/auth/user/",
        f"/admin/auth/user/{publisher.pk}/change/",
        f"/admin/incidents/incident/{incident.pk}/history/",
    ]
    for path in team_pages:
        staff.visit(live_server.url + path)
        staff.assert_clean(path)

    # behaviours.js asks before an admin form that cannot be undone (it was an inline onsubmit).
    source, _secret = make_source("alertmanager")
    staff.visit(f"{live_server.url}/admin/alerts/alertsource/{source.pk}/change/")
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    staff.page.once("dialog", answer)
    staff.page.get_by_role("button", name="Issue a new secret").click()
    expect(staff.page.get_by_role("button", name="Issue a new secret")).to_be_visible()
    assert asked == ["The current secret stops working at once. Issue a new one?"]
    staff.assert_clean("the alert source's change form")

    # The admin's own scripts run: the collapsible navigation sidebar toggles.
    staff.visit(f"{live_server.url}/admin/incidents/incident/")
    toggle = staff.page.locator("#toggle-nav-sidebar")
    if toggle.count():
        before = staff.page.locator("#main").get_attribute("class") or ""
        toggle.click()
        expect(staff.page.locator("#main")).not_to_have_class(before)
    staff.assert_clean("the admin's sidebar")
