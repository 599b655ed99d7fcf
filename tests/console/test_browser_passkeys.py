"""Passkeys in Chromium, with its virtual authenticator (DevTools' WebAuthn domain) standing in for a phone's
fingerprint: a publisher turns on two-step sign-in with a passkey, signs out, and signs in again with it."""

from typing import Any

import pytest

from people.models import Passkey
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _with_authenticator(browser: Any) -> tuple[Any, Any, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    devtools = context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    added = devtools.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True,
    }})  # fmt: skip
    return context, page, (devtools, added["authenticatorId"])


def _password(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/?next=/manage/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(lambda url: "/account/two-factor/" in url)


def test_a_publisher_turns_on_two_step_sign_in_with_a_passkey_and_signs_in_with_it(
    live_server, browser, publisher
):
    from playwright.sync_api import expect

    base = live_server.url.replace("127.0.0.1", "localhost")  # a passkey belongs to a host name, never an IP
    context, page, (devtools, authenticator) = _with_authenticator(browser)
    try:
        _password(page, base, publisher.username)
        expect(page.get_by_role("heading", name="Or use a passkey")).to_be_visible()
        page.get_by_label("Name it, to tell it from others later").fill("Priya's laptop")
        page.get_by_role("button", name="Turn on two-step sign-in with a passkey").click()
        expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
        assert Passkey.objects.get(user=publisher).name == "Priya's laptop"
        stored = devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
        assert len(stored) == 1  # the private key stayed on the device; we hold its public half

        context.clear_cookies()  # signed out
        _password(page, base, publisher.username)
        expect(page.get_by_role("heading", name="Second step: your passkey or code")).to_be_visible()
        page.get_by_role("button", name="Use a passkey").click()
        page.wait_for_url(lambda url: url.rstrip("/").endswith("/manage"))
        expect(page.get_by_role("link", name="Incidents").first).to_be_visible()
        assert Passkey.objects.get(user=publisher).last_used_at is not None

        page.goto(base + "/account/two-factor/")
        expect(page.get_by_role("cell", name="Priya's laptop", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Remove Priya's laptop")).to_be_visible()
    finally:
        context.close()
