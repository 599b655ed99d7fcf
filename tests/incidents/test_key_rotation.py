"""Rotating the key-encryption key re-encrypts every secret at rest, not only signing keys: after the old key is
dropped, channels still post, subscriber hooks still reach their URLs, alert sources still notify, and
publishers still pass the second step."""

import io

import pytest
from django.apps import apps
from django.core.management import call_command

from alerts.services import source_create, source_credentials, source_set_slack_webhook
from channels import services as channel_services
from channels.models import Channel
from people import two_factor
from statushub.lib import secrets, signing
from subscribers.hooks import hook_register, hook_target
from subscribers.models import HookSubscription
from subscribers.services import Choice
from tests.conftest import enrol_totp

pytestmark = pytest.mark.django_db


def test_every_secret_at_rest_survives_dropping_the_old_key(settings, publisher):
    channel = Channel.objects.create(kind="webhook", name="Partner", config={"url": "https://p.example/h"})
    channel_services.channel_set_credentials(channel=channel, credentials={"secret": "whsec_partner"})
    registration = hook_register(
        kind=HookSubscription.Kind.WEBHOOK, owner_email="ops@customer.example",
        url="https://hooks.customer.example/status", choice=Choice(),
    )  # fmt: skip
    source, _ = source_create(by=None, kind="alertmanager", name="Prometheus", slug="prometheus")
    source_set_slack_webhook(source=source, url="https://hooks.slack.com/services/T0/B0/secret")
    device = enrol_totp(publisher)
    code_key = two_factor.totp_key(device)
    old = list(settings.STATUSHUB_KEY_ENCRYPTION_KEYS)
    new = signing.new_encryption_key()
    settings.STATUSHUB_KEY_ENCRYPTION_KEYS = [new, *old]

    out = io.StringIO()
    call_command("rotate_key_encryption", stdout=out)
    settings.STATUSHUB_KEY_ENCRYPTION_KEYS = [new]  # the old key dropped

    channel.refresh_from_db()
    assert channel_services.channel_credentials(channel)["secret"] == "whsec_partner"
    assert hook_target(HookSubscription.objects.get())["secret"] == registration.secret
    source.refresh_from_db()
    assert source_credentials(source)["slack_webhook_url"].endswith("/secret")
    device.refresh_from_db()
    assert two_factor.totp_key(device) == code_key
    assert "channel credentials: 1 re-encrypted" in out.getvalue()


def test_no_encrypted_field_is_left_out_of_rotation():
    """A new model with an encrypted_* field must be listed for rotation, or dropping the old key breaks it."""
    found = {
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if field.name.startswith("encrypted_")
    }
    listed = {f"{label}.{field}" for label, field, _ in secrets.ENCRYPTED_JSON_FIELDS}
    assert found == listed | {"incidents.SigningKey.encrypted_private_key"}
