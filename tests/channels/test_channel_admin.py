"""Channels change only through the channel forms and services: the admin shows them read-only, and a config key
no form offers (e.g. an endpoint override that would send the stored token elsewhere) can be neither set nor kept."""

import pytest
from django.contrib import admin
from django.test import override_settings
from django.urls import reverse

from channels import services
from channels.admin import DeliveryAdmin
from channels.models import Channel, Delivery
from integrations.registry import transport_class

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked_account(admin_user):
    return Channel.objects.create(
        kind="slack", name="Ada's Slack", owner=admin_user, config={"channel": "C0STATUS"}
    )


def test_a_publisher_cannot_change_or_repoint_a_channel_in_the_admin(client, publisher, linked_account):
    client.force_login(publisher)
    change = reverse("admin:channels_channel_change", args=[linked_account.pk])
    page = client.get(change)
    assert page.status_code in (200, 403)
    if page.status_code == 200:  # read-only: no form fields to post
        assert 'name="config"' not in page.content.decode()
        assert 'name="owner"' not in page.content.decode()
    response = client.post(
        change,
        {"kind": "slack", "name": "Mine now", "owner": publisher.pk, "enabled": "on",
         "config": '{"channel": "C0STATUS", "base_url": "http://evil.example/api/"}'},
    )  # fmt: skip
    assert response.status_code == 403
    linked_account.refresh_from_db()
    assert linked_account.owner_id != publisher.pk
    assert "base_url" not in linked_account.config
    assert client.get(reverse("admin:channels_channel_add")).status_code == 403
    assert client.post(reverse("admin:channels_channel_delete", args=[linked_account.pk])).status_code == 403
    assert Channel.objects.filter(pk=linked_account.pk).exists()


def test_even_an_admin_sees_channels_and_deliveries_read_only(client, admin_user, linked_account):
    client.force_login(admin_user)
    assert client.get(reverse("admin:channels_channel_changelist")).status_code == 200
    page = client.get(reverse("admin:channels_channel_change", args=[linked_account.pk]))
    assert page.status_code == 200 and 'name="config"' not in page.content.decode()
    assert client.get(reverse("admin:channels_channel_add")).status_code == 403
    assert client.get(reverse("admin:channels_delivery_changelist")).status_code == 200


def test_channel_save_drops_config_keys_no_form_offers_even_stored_ones(publisher):
    channel = Channel.objects.create(
        kind="slack", name="Status", config={"channel": "C0STATUS", "base_url": "http://evil.example/api/"}
    )
    services.channel_save(
        channel=channel, name="Status", enabled=True, dry_run=False,
        config={"channel": "C0OTHER", "api_base": "http://evil.example"}, new_secrets={}, by=publisher,
    )  # fmt: skip
    channel.refresh_from_db()
    assert channel.config == {"channel": "C0OTHER"}


@override_settings(STATUSHUB_TRANSPORT_OVERRIDES=False)
def test_outside_tests_transports_ignore_endpoint_overrides():
    slack = transport_class("slack")
    assert slack is not None
    transport = slack({"channel": "C0", "base_url": "http://127.0.0.1:1/api/"}, {"token": "xoxb-1"})
    assert transport.endpoint_override("base_url") == ""
    with override_settings(STATUSHUB_TRANSPORT_OVERRIDES=True):
        assert transport.endpoint_override("base_url") == "http://127.0.0.1:1/api/"


def test_deliveries_cannot_be_changed_in_the_admin(client, admin_user):
    client.force_login(admin_user)
    model_admin = DeliveryAdmin(Delivery, admin.site)
    request = client.get(reverse("admin:channels_delivery_changelist")).wsgi_request
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert not model_admin.has_add_permission(request)
