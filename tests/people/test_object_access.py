"""Object-level access: another person's linked account, API token and signing key stay theirs, even for a
publisher (or an admin) who may do the same with their own."""

import time

import pytest
from django.urls import reverse

from channels.models import Channel, Delivery
from incidents.models import SigningKey
from people.access import REAUTH_SESSION_KEY
from people.models import ApiToken
from tests.access_world import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(publisher):
    return build_world(publisher)


def _signed_in(client, user):
    client.force_login(user)
    session = client.session
    session[REAUTH_SESSION_KEY] = time.time()  # the password was just re-entered: only ownership is left
    session.save()


@pytest.mark.parametrize("persona", ["publisher", "admin_user"])
def test_someone_elses_linked_account_cannot_be_opened_changed_tested_or_acted_on(
    request, client, world, persona
):
    _signed_in(client, request.getfixturevalue(persona))
    channel = world["danas_channel"]
    assert client.get(reverse("manage:channel-edit", args=[channel.pk])).status_code == 403
    changed = client.post(
        reverse("manage:channel-edit", args=[channel.pk]),
        {"name": "Mine now", "instance": "https://evil.example", "enabled": "on"},
    )
    assert changed.status_code == 403
    assert client.post(reverse("manage:channel-test", args=[channel.pk])).status_code == 403
    retry = client.post(reverse("manage:delivery-action", args=[world["delivery"].pk]), {"action": "cancel"})
    assert retry.status_code == 403
    channel.refresh_from_db()
    assert channel.name == "Dana on Mastodon" and channel.config == {"instance": "https://m.example"}
    assert Delivery.objects.get(pk=world["delivery"].pk).state == world["delivery"].state


def test_the_brand_channel_is_the_publishers_not_the_communicators(client, communicator, world):
    _signed_in(client, communicator)
    brand = world["brand"]
    assert client.get(reverse("manage:channel-edit", args=[brand.pk])).status_code == 403
    assert client.post(reverse("manage:channel-test", args=[brand.pk])).status_code == 403
    assert Channel.objects.get(pk=brand.pk).name == "Partner feed"


@pytest.mark.parametrize("persona", ["engineer", "publisher", "admin_user"])
def test_someone_elses_api_token_cannot_be_revoked(request, client, world, persona):
    _signed_in(client, request.getfixturevalue(persona))
    assert client.post(reverse("tokens:revoke", args=[world["token"].pk])).status_code == 404
    assert ApiToken.objects.get(pk=world["token"].pk).revoked_at is None
    assert "Dana&#x27;s CI" not in client.get(reverse("tokens:list")).content.decode()


@pytest.mark.parametrize("persona", ["publisher", "admin_user"])
def test_someone_elses_signing_key_cannot_be_revoked(request, client, world, persona):
    _signed_in(client, request.getfixturevalue(persona))
    key = world["key"]
    response = client.post(
        reverse("manage:key-action"), {"action": "revoke", "kid": key.kid, "reason": "Not mine to revoke"}
    )
    assert response.status_code == 404
    assert SigningKey.objects.get(pk=key.pk).revoked_at is None


def test_an_engineer_cannot_open_or_publish_anyones_draft(client, engineer, world):
    _signed_in(client, engineer)
    draft = world["draft"]
    assert client.get(reverse("manage:draft", args=[draft.pk])).status_code == 403
    assert client.post(reverse("manage:publish", args=[draft.pk]), {"password": "x"}).status_code == 403
    assert client.post(reverse("manage:statement", args=[draft.pk])).status_code == 403
