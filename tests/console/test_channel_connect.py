"""Connecting channels from the team UI: per-kind forms, encrypted secrets, test connection, personal accounts."""

import json

import pytest
import responses
from django.conf import settings
from django.urls import reverse

from channels import services
from channels.models import Channel, Delivery
from channels.rendering import message_for
from incidents import services as incident_services
from incidents.models import UpdateDraft
from people.models import AuditEvent
from statushub.lib import outbound
from statushub.lib.secrets import decrypt_json
from tests.conftest import PASSWORD, _person

pytestmark = pytest.mark.django_db

INSTANCE = "https://mastodon.example"


def _connect(client, data, **query):
    url = reverse("manage:channel-new") + "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return client.post(url, data)


def _mastodon_form(**overrides):
    return {
        "name": "@northwind on mastodon.example", "enabled": "on", "instance": INSTANCE,
        "max_characters": "500", "visibility": "public", "access_token": "token-one",
        "reauth-confirm_password": PASSWORD,
    } | overrides  # fmt: skip


def _reauth(client, user):
    client.force_login(user)
    client.post(reverse("manage:reauth"), {"password": PASSWORD})


def test_a_publisher_connects_a_brand_channel_with_encrypted_credentials(client, publisher):
    client.force_login(publisher)
    asked = client.get(reverse("manage:channel-new") + "?kind=mastodon")
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("manage:reauth"))
    _reauth(client, publisher)
    form = client.get(reverse("manage:channel-new") + "?kind=mastodon").content.decode()
    assert "write:statuses" in form  # where to get the token, beside the form
    assert 'name="access_token"' in form and 'type="password"' in form

    response = _connect(client, _mastodon_form(), kind="mastodon")
    assert response.status_code == 302
    channel = Channel.objects.get()
    assert (channel.kind, channel.owner, channel.config["instance"]) == ("mastodon", None, INSTANCE)
    assert channel.config["max_characters"] == 500
    assert "token-one" not in channel.encrypted_credentials and "token-one" not in json.dumps(channel.config)
    keys = list(settings.STATUSHUB_KEY_ENCRYPTION_KEYS)
    assert decrypt_json(channel.encrypted_credentials, keys) == {"access_token": "token-one"}
    event = AuditEvent.objects.get(action="channel.connected")
    assert event.actor == publisher and "token-one" not in json.dumps(event.data)
    listing = client.get(reverse("manage:channels")).content.decode()
    assert "@northwind on mastodon.example" in listing and "token-one" not in listing


def test_changing_a_channel_keeps_the_stored_secret_when_left_blank(client, publisher):
    client.force_login(publisher)
    _connect(client, _mastodon_form(), kind="mastodon")
    channel = Channel.objects.get()
    channel.config["api_base"] = "http://127.0.0.1:9"  # a setting the form does not offer is dropped on save
    channel.save()
    _reauth(client, publisher)
    page = client.get(reverse("manage:channel-edit", args=[channel.pk])).content.decode()
    assert "token-one" not in page and "Leave blank to keep it" in page

    client.post(
        reverse("manage:channel-edit", args=[channel.pk]), _mastodon_form(access_token="", dry_run="on")
    )
    channel.refresh_from_db()
    assert channel.dry_run is True and "api_base" not in channel.config
    assert services.channel_credentials(channel) == {"access_token": "token-one"}


def test_bad_input_is_explained_and_nothing_typed_is_lost(client, publisher):
    client.force_login(publisher)
    response = _connect(
        client, _mastodon_form(instance="not a url", **{"reauth-confirm_password": "wrong"}), kind="mastodon"
    )
    page = response.content.decode()
    assert response.status_code == 200 and not Channel.objects.exists()
    assert "Enter a valid URL" in page and "That password is not right." in page
    assert 'value="@northwind on mastodon.example"' in page and 'value="not a url"' in page
    # Secrets are never echoed back into a page; the form says so instead of silently emptying them.
    assert "token-one" not in page and "type any you had entered once more" in page


def test_communicators_see_channels_but_only_publishers_connect_them(client, communicator, engineer):
    channel = Channel.objects.create(
        kind="webhook", name="Partner feed", config={"url": "https://p.example/h"}
    )
    client.force_login(communicator)
    assert "Partner feed" in client.get(reverse("manage:channels")).content.decode()
    assert client.get(reverse("manage:channel-new") + "?kind=webhook").status_code == 403
    assert client.get(reverse("manage:channel-edit", args=[channel.pk])).status_code == 403
    assert client.post(reverse("manage:channel-test", args=[channel.pk])).status_code == 403
    client.force_login(engineer)
    assert client.get(reverse("manage:channels")).status_code == 403


@responses.activate
def test_test_connection_shows_who_we_post_as_and_clears_an_old_problem(client, publisher):
    channel = Channel.objects.create(
        kind="mastodon", name="Mastodon", config={"instance": INSTANCE}, problem="Mastodon refused: 401"
    )
    services.channel_save(
        channel=channel, name="Mastodon", enabled=True, dry_run=False, config={},
        new_secrets={"access_token": "t"}, by=publisher,
    )  # fmt: skip
    verify = responses.get(
        f"{INSTANCE}/api/v1/accounts/verify_credentials",
        json={"id": "1", "acct": "northwind", "username": "northwind"},
    )
    client.force_login(publisher)
    fragment = client.post(
        reverse("manage:channel-test", args=[channel.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert verify.calls[0].request.headers["Authorization"] == "Bearer t"
    assert "Connected" in fragment and "@northwind on mastodon.example" in fragment
    channel.refresh_from_db()
    assert channel.check_ok and channel.problem == ""

    responses.get(
        f"{INSTANCE}/api/v1/accounts/verify_credentials",
        status=401,
        json={"error": "The access token is invalid"},
    )
    fragment = client.post(
        reverse("manage:channel-test", args=[channel.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Test failed" in fragment and "Mastodon refused" in fragment
    channel.refresh_from_db()
    assert channel.check_ok is False


def test_a_publisher_links_their_own_account_and_only_their_updates_use_it(client, publisher, make_incident):
    dana = _person("dana", "Dana", "Whitfield", "Publisher")
    client.force_login(dana)
    response = _connect(
        client,
        {"name": "Dana on Bluesky", "enabled": "on", "handle": "dana.example", "service": "https://pds.example",
         "app_password": "abcd-efgh-ijkl-mnop", "reauth-confirm_password": PASSWORD},
        kind="bluesky", personal="1",
    )  # fmt: skip
    assert response.status_code == 302
    own = Channel.objects.get(name="Dana on Bluesky")
    assert own.owner == dana
    assert "Dana on Bluesky" in client.get(reverse("manage:channels")).content.decode()

    client.force_login(publisher)  # another publisher can neither see it among theirs nor change it
    assert "Dana on Bluesky" not in client.get(reverse("manage:channels")).content.decode()
    assert client.get(reverse("manage:channel-edit", args=[own.pk])).status_code == 403
    refused = _connect(client, {}, kind="webhook", personal="1")  # webhooks belong to the company
    assert refused["Location"] == reverse("manage:channels") and Channel.objects.count() == 1

    incident = make_incident(public=False)
    priya_update = incident_services.update_publish(
        incident=incident, author=publisher, status="identified", body="A"
    )
    dana_update = incident_services.update_publish(
        incident=incident, author=dana, status="monitoring", body="B"
    )
    assert not Delivery.objects.filter(update=priya_update, channel=own).exists()
    assert Delivery.objects.filter(update=dana_update, channel=own).exists()


def test_on_a_personal_account_the_post_says_whose_status_it_is(make_incident):
    incident = make_incident("Payments failing", public=False)
    common = dict(
        incident=incident, status="identified", author_name="Dana Whitfield", author_title="CEO",
        url="https://status.example/updates/abc/", document={"body": "x"},
    )  # fmt: skip
    brand = message_for(**common, personal=False)
    personal = message_for(**common, personal=True)
    assert (brand.title, brand.author) == ("Payments failing — Identified", "Dana Whitfield, CEO")
    assert personal.title == f"{settings.STATUSHUB_SITE_NAME}: Payments failing — Identified"
    assert personal.author == f"CEO, {settings.STATUSHUB_SITE_NAME}"


def test_the_preview_shows_every_channels_rendering_and_says_when_it_shortened(
    client, publisher, make_incident
):
    incident = make_incident(public=False)
    Channel.objects.create(
        kind="mastodon", name="Tiny Mastodon", config={"instance": INSTANCE, "max_characters": 160}
    )
    Channel.objects.create(kind="slack", name="Customer Slack", config={"channel": "C01"})
    Channel.objects.create(kind="mastodon", name="Broken", config={})  # no instance set
    Channel.objects.create(kind="bluesky", name="Off", config={"handle": "x"}, enabled=False)
    body = "Card payments fail for some customers. " * 8 + "Refunds are automatic."
    draft = UpdateDraft.objects.create(
        incident=incident, status="identified", body=body, created_by=publisher, last_edited_by=publisher
    )
    client.force_login(publisher)
    page = client.get(reverse("manage:preview", args=[draft.pk])).content.decode()
    section = page[page.index('id="pv-channels"') : page.index('id="pv-json"')]
    assert "Tiny Mastodon" in section and "Customer Slack" in section and "Off" not in section
    assert section.count("Shortened to fit") == 1  # Mastodon at 160 shortens; Slack carries it whole
    assert "Refunds are automatic." in section  # on Slack
    assert "Missing setting “instance”" in section
    assert "/updates/xxxxxxxxxxxx/" in section


def test_pointing_a_channel_elsewhere_asks_for_its_secret_again(client, publisher):
    client.force_login(publisher)
    _connect(client, _mastodon_form(), kind="mastodon")
    channel = Channel.objects.get()
    moved = _mastodon_form(instance="https://evil.example", access_token="")
    page = client.post(reverse("manage:channel-edit", args=[channel.pk]), moved).content.decode()
    assert "You changed the instance url: type this again" in page
    channel.refresh_from_db()
    assert (
        channel.config["instance"] == INSTANCE
    )  # nothing saved: the stored token never goes to evil.example

    client.post(reverse("manage:channel-edit", args=[channel.pk]), {**moved, "access_token": "token-two"})
    channel.refresh_from_db()
    assert channel.config["instance"] == "https://evil.example"
    assert services.channel_credentials(channel) == {"access_token": "token-two"}


def test_an_optional_setting_can_be_cleared_and_moving_starts_new_threads(client, publisher, make_incident):
    channel = Channel.objects.create(
        kind="manual", name="Forum", config={"community": "Thwack", "post_url": "https://thwack.example/f"}
    )
    channel.threads.create(incident=make_incident(public=False), root_id="1", last_id="1")
    _reauth(client, publisher)
    client.post(
        reverse("manage:channel-edit", args=[channel.pk]),
        {"name": "Forum", "enabled": "on", "community": "Thwack", "post_url": "", "max_characters": "5000"},
    )
    channel.refresh_from_db()
    assert "post_url" not in channel.config
    assert not channel.threads.exists()


def test_a_malformed_webhook_secret_is_refused_by_the_form(client, publisher):
    _reauth(client, publisher)
    page = _connect(
        client, {"name": "Hook", "enabled": "on", "url": "https://hooks.example/in", "secret": "whsec_not base64!"},
        kind="webhook",
    ).content.decode()  # fmt: skip
    assert "This does not look like a signing secret." in page and not Channel.objects.exists()


def test_one_broken_channel_never_keeps_the_preview_from_showing(client, publisher, make_incident):
    incident = make_incident(public=False)
    Channel.objects.create(
        kind="mastodon", name="Bad limit", config={"instance": INSTANCE, "max_characters": "500 chars"}
    )
    draft = UpdateDraft.objects.create(
        incident=incident,
        status="identified",
        body="Found it.",
        created_by=publisher,
        last_edited_by=publisher,
    )
    client.force_login(publisher)
    response = client.get(reverse("manage:preview", args=[draft.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "This channel cannot render the update (ValueError)" in page and "Sign and publish" in page


def test_a_dry_run_channel_needs_no_secrets_but_a_live_one_does(client, publisher):
    _reauth(client, publisher)
    x_form = {"name": "@northwind on X", "enabled": "on", "username": "northwind"}
    page = _connect(client, x_form, kind="x").content.decode()
    assert page.count("Needed to post for real") >= 4 and not Channel.objects.exists()
    assert _connect(client, {**x_form, "dry_run": "on"}, kind="x").status_code == 302
    channel = Channel.objects.get()
    result = services.channel_check(channel=channel)
    assert not result.ok and result.message.startswith("Not connected yet: API key")


def test_test_connection_explains_an_unreachable_service_in_plain_words(publisher):
    channel = Channel.objects.create(kind="webhook", name="Hook", config={"url": "http://127.0.0.1:9/in"})
    result = services.channel_check(channel=channel)
    assert (result.ok, result.message) == (
        False,
        f"could not reach the receiver: {outbound.UNREACHABLE}",  # as a private address reads
    )


def test_an_engineer_signing_in_lands_on_the_open_incidents_and_their_consoles(
    client, engineer, make_incident
):
    incident = make_incident("Payments failing", public=False)
    client.force_login(engineer)

    page = client.get(reverse("manage:dashboard")).content.decode()

    # The tech liaison keeps the situation in the console.
    assert reverse("manage:incident", args=[incident.pk]) in page
    assert reverse("manage:compose", args=[incident.pk]) not in page  # engineers do not write updates


def test_the_discourse_preview_shows_the_topic_title_that_will_be_sent(client, publisher, make_incident):
    incident = make_incident("Checkout errors", public=False)
    Channel.objects.create(
        kind="discourse", name="Forum", config={"forum_url": "https://forum.example", "category_id": "7"}
    )
    draft = UpdateDraft.objects.create(
        incident=incident,
        status="investigating",
        body="Looking.",
        created_by=publisher,
        last_edited_by=publisher,
    )
    client.force_login(publisher)
    page = client.get(reverse("manage:preview", args=[draft.pk])).content.decode()
    section = page[page.index('id="pv-channels"') : page.index('id="pv-json"')]
    # The title names the minute it is published, as the real topic's will.
    assert "Checkout errors — status update" not in section
    assert "Checkout errors — " in section and " UTC" in section.split("Checkout errors — ", 1)[1][:40]
