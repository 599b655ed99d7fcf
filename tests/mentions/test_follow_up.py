"""After the fix: everyone linked and not answered since gets a drafted reply; only the reviewed ones are sent."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from channels.models import Channel
from incidents.models import IncidentRole
from mentions import replies, services
from mentions.models import Mention, MentionReply

pytestmark = pytest.mark.django_db


def test_only_the_reviewed_follow_ups_are_sent(client, communicator, make_incident):
    Channel.objects.create(
        kind="mastodon", name="Northwind", dry_run=True, config={"instance": "https://m.example"}
    )
    incident = make_incident("Checkout failing", public=False)
    IncidentRole.objects.create(incident=incident, user=communicator, role="primary_communicator")
    stored = services.ingest(
        [services.Incoming(service="mastodon", remote_id=str(n), text=f"checkout broken {n}", author_name=name,
                           author_handle=f"{name.lower()}@m.example", posted_at=timezone.now())
         for n, name in enumerate(["Ana", "Ben", "Cy"])]
    )  # fmt: skip
    Mention.objects.filter(pk__in=[m.pk for m in stored]).update(incident=incident)
    ana, ben, cy = sorted(stored, key=lambda m: m.remote_id)
    # Ben was answered before the fix: he still hears that it works now. Cy was answered after it: not again.
    replies.reply_send(mention=ben, text="Sorry Ben, we are on it.", kind="by_hand", by=communicator)
    incident.status, incident.resolved_at = "resolved", timezone.now()
    incident.save()
    MentionReply.objects.create(mention=cy, kind="by_hand", body="Called Cy.", sent_by=communicator,
                                sent_at=incident.resolved_at + timedelta(minutes=1))  # fmt: skip
    client.force_login(communicator)
    url = reverse("manage:follow-up", args=[incident.pk])

    page = client.get(url).content.decode()
    assert "Hi Ana, Sam Okafor from StatusHub here. This should be working again now." in page
    assert "Hi Ben," in page and "Hi Cy," not in page

    client.post(url, {f"reviewed-{ana.pk}": "1", f"text-{ana.pk}": "Hi Ana, it works again now. Sorry!",
                      f"text-{ben.pk}": "never reviewed"})  # fmt: skip

    assert list(MentionReply.objects.filter(mention=ana).values_list("body", flat=True)) == [
        "Hi Ana, it works again now. Sorry!"
    ]
    assert not MentionReply.objects.filter(mention=ben, sent_at__gte=incident.resolved_at).exists()
