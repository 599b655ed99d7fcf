"""Every channel's rendering of a draft, for the compose preview: the exact words each one would carry."""

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from channels.engine import missing_setting
from channels.models import Channel, ChannelThread
from channels.rendering import message_for
from incidents.documents import absolute
from incidents.models import UpdateDraft
from incidents.permissions import PUBLISH
from incidents.previews import draft_document
from incidents.signing import active_key
from integrations.base import Thread
from integrations.registry import transport_class
from people.services import profile_for
from statushub.lib import signing as lib

# The real link has a 12-character id: a placeholder of the same length fits exactly the same way.
PLACEHOLDER_ID = "xxxxxxxxxxxx"


@dataclass
class ChannelPreview:
    channel: Channel
    text: str = ""
    shortened: bool = False
    reply: bool = False
    manual: bool = False
    error: str = ""


def channel_previews(draft: UpdateDraft, user: User) -> list[ChannelPreview]:
    own = Q(owner=user) if user.has_perm(PUBLISH) else Q(pk__in=[])
    channels = list(Channel.objects.filter(enabled=True).filter(Q(owner__isnull=True) | own))
    threads = {
        row.channel_id: Thread(row.root_id, row.last_id)
        for row in ChannelThread.objects.filter(incident=draft.incident, channel__in=channels)
    }
    profile = profile_for(user)
    url = absolute(reverse("status:update", args=[PLACEHOLDER_ID]))
    key = active_key(user)
    document = draft_document(
        draft, profile.name, profile.title, key.kid if key else "(made on first publish)"
    )
    # Channels render the publication time (Discourse's topic title names it): show this minute's, as it will read.
    document["published_at"] = lib.format_time(timezone.now().replace(microsecond=0))
    previews = []
    for channel in channels:
        preview = ChannelPreview(channel)
        cls = transport_class(channel.kind)
        if cls is None:
            preview.error = "No integration for this kind of channel."
            previews.append(preview)
            continue
        message = message_for(
            incident=draft.incident, status=draft.status, author_name=profile.name,
            author_title=profile.title, url=url, document=document, personal=channel.is_personal,
            incident_status=draft.status,
        )  # fmt: skip
        thread = threads.get(channel.pk, Thread())
        try:
            request = cls(channel.config, {}).build_request(message, thread, idempotency_key="preview")
        except KeyError as exc:  # a setting the channel needs is missing
            preview.error = missing_setting(exc)
        except Exception as exc:  # one broken channel must never keep the preview (and Publish) from showing
            preview.error = (
                f"This channel cannot render the update ({type(exc).__name__}): check its settings."
            )
        else:
            preview.text = cls.text_of(request)
            preview.shortened = bool(request.get("shortened"))
            preview.reply = bool(thread.root_id)
            preview.manual = cls.manual
        previews.append(preview)
    return previews
