"""Who may do what with a channel. A person's own account is theirs alone; the company's are the publishers'."""

from django.contrib.auth.models import User

from channels.models import Channel
from incidents.permissions import COMPOSE, PUBLISH

ADD_BRAND = "channels.add_channel"
CHANGE_BRAND = "channels.change_channel"


def can_manage(user: User, channel: Channel) -> bool:
    """Connect, change or test it."""
    if channel.owner_id is not None:
        return channel.owner_id == user.pk and user.has_perm(PUBLISH)
    return user.has_perm(CHANGE_BRAND if channel.pk else ADD_BRAND)


def can_act_on_deliveries(user: User, channel: Channel) -> bool:
    """Retry, cancel or mark posted: anyone composing, for the company's channels; only the owner for theirs."""
    if channel.owner_id is not None:
        return channel.owner_id == user.pk
    return user.has_perm(COMPOSE)
