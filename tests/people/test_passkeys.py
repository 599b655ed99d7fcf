"""Passkeys (WebAuthn) as a second factor: set one up in place of an app, sign in with it, add and remove more,
with every answer checked (challenge used once, origin, relying party, signature, counter). The answers come from
a software authenticator (tests/soft_authenticator.py); tests/console/test_journeys.py does it with Chromium's."""

import pytest
from django.test import Client
from django.urls import reverse

from people.models import AuditEvent, Passkey
from tests.conftest import PASSWORD, enrol_totp
from tests.soft_authenticator import SoftAuthenticator, b64url

pytestmark = pytest.mark.django_db
ORIGIN = "http://testserver"  # the test client's host: the relying party is "testserver"


def _signed_in(user) -> Client:
    client = Client()
    assert (
        client.post(reverse("admin:login"), {"username": user.username, "password": PASSWORD}).status_code
        == 302
    )
    return client


def _add(client: Client, key: SoftAuthenticator, name: str = "Work laptop", origin: str = ORIGIN):
    page = client.get(reverse("account:two-factor") + "?next=/manage/")
    options = page.context["create_options"]
    assert options is not None, "the page offers no passkey"
    return client.post(
        reverse("account:passkey-add"),
        {"credential": key.create(options, origin), "name": name, "next": "/manage/"},
    )


def _second_step(client: Client, key: SoftAuthenticator, origin: str = ORIGIN, **kwargs):
    page = client.get(reverse("account:two-factor") + "?next=/manage/channels/")
    options = page.context["get_options"]
    assert options is not None, "the second step offers no passkey"
    answer = key.get(options, origin, **kwargs)
    return client.post(
        reverse("account:two-factor"), {"credential": answer, "next": "/manage/channels/"}
    ), answer


def test_a_publisher_sets_up_two_step_sign_in_with_a_passkey_and_gets_recovery_codes(publisher):
    client = _signed_in(publisher)
    assert client.get("/manage/").status_code == 302  # the second step first
    key = SoftAuthenticator()

    done = _add(client, key)

    assert done.status_code == 200 and done["Cache-Control"] == "no-store"
    assert len(done.content.decode().split("<code>")) - 1 == 10  # the recovery codes, shown once
    passkey = Passkey.objects.get(user=publisher)
    assert passkey.name == "Work laptop" and passkey.credential_id == b64url(key.credential_id)
    assert bytes(passkey.public_key) and "internal" in passkey.transports
    assert client.get("/manage/").status_code == 200  # this session passed the second step
    assert AuditEvent.objects.filter(actor=publisher, data__change="passkey added").exists()


def test_the_next_sign_in_takes_the_passkey_as_the_second_step(publisher):
    key = SoftAuthenticator()
    _add(_signed_in(publisher), key)

    client = _signed_in(publisher)
    page = client.get(reverse("account:two-factor"))
    assert "Use a passkey" in page.content.decode()
    response, _ = _second_step(client, key)

    assert response.status_code == 302 and response["Location"] == "/manage/channels/"
    assert client.get("/manage/channels/").status_code == 200
    passkey = Passkey.objects.get(user=publisher)
    assert passkey.sign_count == key.count and passkey.last_used_at is not None


def test_an_answer_is_good_once(publisher):
    key = SoftAuthenticator()
    _add(_signed_in(publisher), key)
    first = _signed_in(publisher)
    _, answer = _second_step(first, key)

    replay = _signed_in(publisher)
    replay.get(reverse("account:two-factor"))  # a fresh challenge of its own: the old answer does not sign it
    response = replay.post(reverse("account:two-factor"), {"credential": answer, "next": "/manage/"})

    assert response.status_code == 200
    assert replay.get("/manage/").status_code == 302
    assert "did not check out" in response.content.decode()


@pytest.mark.parametrize(
    ("origin", "rp_id"),
    [("https://evil.example", None), (ORIGIN, "evil.example")],
    ids=["origin", "relying party"],
)
def test_an_answer_made_for_another_site_is_refused(publisher, origin, rp_id):
    key = SoftAuthenticator()
    _add(_signed_in(publisher), key)
    client = _signed_in(publisher)

    response, _ = _second_step(client, key, origin=origin, rp_id=rp_id)

    assert response.status_code == 200 and client.get("/manage/").status_code == 302


def test_a_cloned_key_whose_counter_goes_back_is_refused(publisher):
    key = SoftAuthenticator()
    _add(_signed_in(publisher), key)
    _second_step(_signed_in(publisher), key)
    _second_step(_signed_in(publisher), key)
    key.count = 0  # the copy never saw the original's signatures

    client = _signed_in(publisher)
    response, _ = _second_step(client, key)

    assert client.get("/manage/").status_code == 302
    assert "did not check out" in response.content.decode()


def test_a_key_of_another_account_is_refused(publisher, admin_user):
    theirs = SoftAuthenticator()
    _add(_signed_in(admin_user), theirs)
    mine = SoftAuthenticator()
    _add(_signed_in(publisher), mine)

    client = _signed_in(publisher)
    page = client.get(reverse("account:two-factor"))
    response = client.post(
        reverse("account:two-factor"),
        {"credential": theirs.get(page.context["get_options"], ORIGIN), "next": "/"},
    )

    assert "not one of this account" in response.content.decode()
    assert client.get("/manage/").status_code == 302


def test_a_password_alone_cannot_add_a_passkey_beside_an_existing_factor(publisher):
    enrol_totp(publisher)
    client = _signed_in(publisher)
    page = client.get(reverse("account:two-factor"))
    assert page.context["create_options"] is None  # nothing offered before the second step

    response = client.post(reverse("account:passkey-add"), {"credential": "{}", "name": "Thief"})

    assert response.status_code == 302 and not Passkey.objects.exists()


def test_once_through_a_second_passkey_is_added_and_one_removed_but_never_the_last(publisher):
    first, second = SoftAuthenticator(), SoftAuthenticator()
    client = _signed_in(publisher)
    _add(client, first, name="Phone")
    assert _add(client, second, name="Security key").status_code == 302
    assert sorted(Passkey.objects.values_list("name", flat=True)) == ["Phone", "Security key"]
    assert _add(client, second).status_code == 302  # the same device again
    assert Passkey.objects.count() == 2

    phone, key = Passkey.objects.get(name="Phone"), Passkey.objects.get(name="Security key")
    client.post(reverse("account:passkey-remove", args=[phone.pk]))
    refused = client.post(reverse("account:passkey-remove", args=[key.pk]), follow=True)

    assert list(Passkey.objects.values_list("name", flat=True)) == ["Security key"]
    assert "only second factor" in refused.content.decode()


def test_no_one_removes_someone_elses_passkey(publisher, admin_user):
    _add(_signed_in(admin_user), SoftAuthenticator())
    client = _signed_in(publisher)
    _add(client, SoftAuthenticator())
    theirs = Passkey.objects.get(user=admin_user)

    assert client.post(reverse("account:passkey-remove", args=[theirs.pk])).status_code == 404
    assert Passkey.objects.filter(pk=theirs.pk).exists()
