"""Publishers and administrators sign in in two steps (password, then an authenticator code or a recovery code)
before the team pages, the admin or the outbox; engineers and communicators are not asked."""

import re
import time

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from people import two_factor
from people.models import RecoveryCodes, TOTPDevice
from tests.conftest import PASSWORD, enrol_totp

pytestmark = pytest.mark.django_db


def _signed_in(user) -> Client:
    """Past the password only, through the real sign-in form."""
    client = Client()
    response = client.post(reverse("admin:login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("url", ["/manage/", "/admin/", "/subscribe/outbox/", "/manage/channels/"])
def test_a_publisher_with_only_a_password_is_sent_to_the_second_step(publisher, url):
    response = _signed_in(publisher).get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account:two-factor"))


def test_an_admin_too_and_an_engineer_or_communicator_not(admin_user, engineer, communicator):
    assert _signed_in(admin_user).get("/admin/").status_code == 302
    assert _signed_in(engineer).get("/admin/").status_code == 200
    assert _signed_in(communicator).get("/manage/").status_code == 200


def test_enrolling_shows_a_qr_code_then_recovery_codes_once(publisher):
    client = _signed_in(publisher)
    page = client.get(reverse("account:two-factor") + "?next=/manage/")
    content = page.content.decode()
    assert "<svg" in content and page["Cache-Control"] == "no-store"
    device = TOTPDevice.objects.get(user=publisher, confirmed=False)
    shown = re.search(r"<code>([A-Z2-7 ]+)</code>", content)
    assert shown and re.sub(r"\s", "", shown.group(1)) in two_factor.totp_config_url(device)
    assert client.get("/manage/").status_code == 302  # not yet

    wrong = client.post(reverse("account:two-factor"), {"code": "000000", "next": "/manage/"})
    assert "That code is not right" in wrong.content.decode()
    time.sleep(1.1)  # a wrong code holds the next try back for a second
    done = client.post(
        reverse("account:two-factor"), {"code": two_factor.totp_code(device), "next": "/manage/"}
    )
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.content.decode())
    assert len(codes) == 10 and done["Cache-Control"] == "no-store"
    assert client.get("/manage/").status_code == 200

    stored = RecoveryCodes.objects.get(user=publisher)
    assert not any(
        code in str(stored.hashes) or code.replace("-", "") in str(stored.hashes) for code in codes
    )


def test_the_key_is_stored_encrypted(publisher):
    device = enrol_totp(publisher)
    secret = two_factor.totp_secret_text(device).replace(" ", "")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM people_totpdevice")
        assert secret not in str(cursor.fetchall())


def test_signing_in_again_asks_for_the_apps_code_and_a_code_works_once(publisher):
    device = enrol_totp(publisher)
    client = _signed_in(publisher)
    code = two_factor.totp_code(device)
    assert client.post(reverse("account:two-factor"), {"code": "123456"}).status_code == 200
    time.sleep(1.1)  # a wrong code holds the next try back for a second
    passed = client.post(reverse("account:two-factor"), {"code": code, "next": "/manage/"})
    assert passed.status_code == 302 and passed["Location"] == "/manage/"
    assert client.get("/manage/").status_code == 200

    again = _signed_in(publisher)  # the same code, replayed in another session
    assert again.post(reverse("account:two-factor"), {"code": code}).status_code == 200
    assert again.get("/manage/").status_code == 302


def test_a_recovery_code_signs_in_once(publisher):
    enrol_totp(publisher)
    code = two_factor.recovery_codes_issue(user=publisher)[3]
    client = _signed_in(publisher)
    assert (
        client.post(reverse("account:two-factor"), {"code": code.upper(), "next": "/admin/"}).status_code
        == 302
    )
    assert client.get("/admin/").status_code == 200
    other = _signed_in(publisher)
    assert other.post(reverse("account:two-factor"), {"code": code}).status_code == 200
    assert other.get("/admin/").status_code == 302
    assert len(RecoveryCodes.objects.get(user=publisher).hashes) == 9


def test_wrong_codes_are_throttled(publisher):
    device = enrol_totp(publisher)
    client = _signed_in(publisher)
    client.post(reverse("account:two-factor"), {"code": "000000"})
    # Right away, even the right code waits out the back-off.
    assert (
        client.post(reverse("account:two-factor"), {"code": two_factor.totp_code(device)}).status_code == 200
    )
    device.refresh_from_db()
    assert device.throttling_failure_count >= 1


def test_new_recovery_codes_replace_the_old_ones(client, publisher):
    old = two_factor.recovery_codes_issue(user=publisher)
    client.force_login(publisher)
    page = client.post(reverse("account:recovery-codes"))
    new = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", page.content.decode())
    assert len(new) == 10 and not set(new) & set(old)


def test_the_demo_code_command_prints_what_the_app_shows(publisher):
    from io import StringIO

    from django.core.management import call_command

    device = enrol_totp(publisher)
    out = StringIO()
    call_command("demo_code", publisher.username, stdout=out)
    assert out.getvalue().strip() == two_factor.totp_code(device)


def test_rotating_the_encryption_key_keeps_authenticators_working(publisher, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    device = enrol_totp(publisher)
    key = two_factor.totp_key(device)
    new = Fernet.generate_key().decode()
    settings.STATUSHUB_KEY_ENCRYPTION_KEYS = [new, *settings.STATUSHUB_KEY_ENCRYPTION_KEYS]
    call_command("rotate_key_encryption", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.STATUSHUB_KEY_ENCRYPTION_KEYS = [new]
    device.refresh_from_db()
    assert two_factor.totp_key(device) == key
