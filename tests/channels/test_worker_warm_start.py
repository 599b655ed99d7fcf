"""What a worker does once, so each delivery does not: load the channels' integrations, share one TLS context."""

import logging

import pytest

from channels import services
from channels.models import Channel
from integrations.base import Transport, tls_context


@pytest.mark.django_db
def test_it_loads_the_integrations_of_enabled_channels_only(monkeypatch):
    Channel.objects.create(kind="bluesky", name="Bluesky")
    Channel.objects.create(kind="webhook", name="Partner")
    Channel.objects.create(kind="webhook", name="Another partner")
    Channel.objects.create(kind="reddit", name="Old subreddit", enabled=False)
    loaded = []
    monkeypatch.setattr(services, "transport_class", lambda kind: loaded.append(kind))

    assert services.transports_load() == ["bluesky", "webhook"]
    assert loaded == ["bluesky", "webhook"]


@pytest.mark.django_db
def test_an_integration_that_fails_to_load_is_logged_and_the_others_still_load(monkeypatch, caplog):
    Channel.objects.create(kind="bluesky", name="Bluesky")
    Channel.objects.create(kind="webhook", name="Partner")
    loaded = []

    def load(kind: str) -> None:
        if kind == "bluesky":
            raise ImportError("atproto is broken")
        loaded.append(kind)

    monkeypatch.setattr(services, "transport_class", load)

    with caplog.at_level(logging.ERROR, logger="channels.services"):
        services.transports_load()

    assert loaded == ["webhook"]
    assert "the bluesky integration could not be loaded" in caplog.text


def test_every_http_client_shares_the_process_tls_context():
    first, second = Transport({}, {}).http(), Transport({}, {}).http()

    # httpx keeps the context on its connection pool; building one per client cost ~30 ms of CPU each.
    assert first._transport._pool._ssl_context is tls_context()  # type: ignore[attr-defined]
    assert second._transport._pool._ssl_context is tls_context()  # type: ignore[attr-defined]
    assert tls_context().verify_mode.name == "CERT_REQUIRED" and tls_context().check_hostname
