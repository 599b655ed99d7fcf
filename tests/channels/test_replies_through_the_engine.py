"""A person's reply and private message are outbox rows like an update: the delivery engine sends them through
the channel's transport to the service (a local fake of Mastodon speaking its real API), records what went out,
and a message the service cannot carry is refused before it is kept."""

from urllib.parse import parse_qs

import pytest

from channels import engine, services
from channels.models import Channel, ChannelThread, Delivery
from integrations.base import Remote
from tests.fake_channels import INSTALL, config
from tests.fake_services import FakeServices

pytestmark = pytest.mark.django_db
ANA = Remote(id="109000000000000777", account="ana@mastodon.social", url="https://mastodon.social/@ana/777")


@pytest.fixture
def mastodon(fake: FakeServices) -> Channel:
    INSTALL["mastodon"](fake)
    settings, secrets = config("mastodon", fake.base)
    channel = Channel.objects.create(kind="mastodon", name="Northwind on Mastodon", config=settings)
    services.channel_set_credentials(channel=channel, credentials=secrets)
    return channel


def test_a_reply_and_a_private_message_go_out_through_the_engine(
    fake, mastodon, communicator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        reply = services.message_queue(
            channel=mastodon, kind="reply", text="Sorry about the failed payments, Ana. I'm Sam.", to=ANA,
            by=communicator,
        )  # fmt: skip
        direct = services.message_queue(
            channel=mastodon,
            kind="direct",
            text="Could you send me your account e-mail?",
            to=ANA,
            by=communicator,
        )
    assert len(queued) == 2  # each queued on commit, as an update's deliveries are

    assert engine.delivery_attempt(reply.pk).state == "delivered"  # type: ignore[union-attr]
    assert engine.delivery_attempt(direct.pk).state == "delivered"  # type: ignore[union-attr]

    posted = [parse_qs(call.body.decode()) for call in fake.calls("POST", "/mastodon/api/v1/statuses")]
    assert posted[0]["status"] == ["@ana@mastodon.social Sorry about the failed payments, Ana. I'm Sam."]
    assert (posted[0]["in_reply_to_id"], posted[0]["visibility"]) == ([ANA.id], ["public"])
    assert posted[1]["visibility"] == ["direct"] and "in_reply_to_id" not in posted[1]
    keys = [call.headers["Idempotency-Key"] for call in fake.calls("POST", "/mastodon/api/v1/statuses")]
    assert keys == [f"reply-{reply.pk}", f"direct-{direct.pk}"]

    reply.refresh_from_db()
    assert reply.remote_id and reply.request["in_reply_to_id"] == ANA.id and reply.written_by == communicator
    assert not ChannelThread.objects.exists()  # a reply starts no incident thread


def test_a_reply_the_service_cannot_carry_is_refused_and_nothing_is_kept(mastodon, communicator):
    with pytest.raises(services.MessageError, match="Too long to send"):
        services.message_queue(channel=mastodon, kind="reply", text="x" * 600, to=ANA, by=communicator)
    webhook = Channel.objects.create(
        kind="webhook", name="Partner", config={"url": "https://hooks.example.com/in"}
    )
    with pytest.raises(services.MessageError, match="cannot reply to posts"):
        services.message_queue(channel=webhook, kind="reply", text="Hello", to=ANA, by=communicator)
    assert not Delivery.objects.exists()
