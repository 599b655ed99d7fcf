"""A small world for the access tests: one object of each kind, owned by different people, and the URL arguments
that reach them. ``dana`` (another publisher) owns the personal channel, the token and the signing key that the
personas must not touch."""

from typing import Any

from axes.models import AccessAttempt
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from alerts.services import source_create
from channels.models import Channel, Delivery
from incidents import services, signing
from incidents.models import Component, Incident, IncidentUpdate, UpdateDraft
from mentions.models import Mention, MentionSource
from people import roles
from people.models import Passkey
from people.tokens import token_create
from subscribers.models import HookSubscription, Subscriber
from tests.conftest import PASSWORD, enrol_totp


def build_world(publisher: User) -> dict[str, Any]:
    roles.sync_role_groups()
    dana = User.objects.create_user(username="dana", password=PASSWORD, first_name="Dana", is_staff=True)
    dana.groups.add(Group.objects.get(name=roles.PUBLISHER))
    component = Component.objects.create(name="Payments API")
    incident = Incident.objects.create(
        title="Card payments failing", severity=Incident.Severity.SEV2, detected_at=timezone.now()
    )
    services.update_publish(
        incident=incident, author=publisher, status=incident.status, body="Investigating."
    )
    update = IncidentUpdate.objects.get(incident=incident)
    dana_draft = UpdateDraft.objects.create(
        incident=incident, status="identified", body="Dana's words.", created_by=dana, last_edited_by=dana
    )
    brand = Channel.objects.create(kind="webhook", name="Partner feed", config={"url": "https://p.example/h"})
    danas = Channel.objects.create(
        kind="mastodon", name="Dana on Mastodon", owner=dana, config={"instance": "https://m.example"}
    )
    delivery = Delivery.objects.create(update=update, channel=danas)
    token, _ = token_create(owner=dana, name="Dana's CI", scopes=["incidents:read"])
    key = signing.key_create(owner=dana)
    source, _ = source_create(by=None, kind="alertmanager", name="Prometheus", slug="prometheus")
    enrol_totp(dana)  # an authenticator and recovery codes, someone else's
    Passkey.objects.create(
        user=dana, name="Dana's phone", confirmed=True, credential_id="AAEC", public_key=b"\xa5"
    )
    Subscriber.objects.create(email="alex@customer.example")
    HookSubscription.objects.create(
        kind="webhook", owner_email="ops@customer.example", target_display="https://hooks.customer.example/…"
    )
    AccessAttempt.objects.create(username="dana", ip_address="203.0.113.9", failures_since_start=2)
    listening = MentionSource.objects.create(kind="rss", name="Alerts", config={"url": "https://a.example/f"})
    mention = Mention.objects.create(
        service="mastodon", remote_id="1", text="Is checkout down?", posted_at=timezone.now(),
        received_at=timezone.now(),
    )  # fmt: skip
    return {
        "dana": dana, "component": component, "incident": incident, "update": update, "draft": dana_draft,
        "brand": brand, "danas_channel": danas, "delivery": delivery, "token": token, "key": key,
        "source": source, "mention": mention, "mention_source": listening,
    }  # fmt: skip


def url_kwargs(world: dict[str, Any]) -> dict[str, Any]:
    """A value for each URL argument name used by a route."""
    now = timezone.now()
    return {
        "pk": world["incident"].pk, "incident_id": world["incident"].pk, "public_id": world["update"].public_id,
        "component_id": world["component"].pk, "kid": world["key"].kid, "after": 1, "year": now.year,
        "month": now.month, "token": "not-a-token", "kind": "slack", "slug": world["source"].slug,
        "source_id": world["mention_source"].pk, "mention_id": world["mention"].pk,
        "path": "people/none.png", "ext": "png",
        "app_label": "incidents", "url": "no-such-page/",
        "content_type_id": ContentType.objects.get_for_model(Incident).pk, "object_id": world["incident"].pk,
    }  # fmt: skip


# Routes whose ``pk`` is not an incident's.
PK_OF = {
    "manage:draft": "draft", "manage:preview": "draft", "manage:publish": "draft", "manage:statement": "draft",
    "manage:delivery-action": "delivery", "manage:channel-edit": "danas_channel",
    "manage:channel-test": "danas_channel", "tokens:revoke": "token", "feeds:component-atom": "component",
    "feeds:component-rss": "component", "manage:mention": "mention", "manage:mention-action": "mention",
    "manage:mention-reply": "mention",
    "manage:source-poll": "mention_source",
}  # fmt: skip
