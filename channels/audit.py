"""The channels' audit actions (registered in ChannelsConfig.ready())."""

from django.db import models


class Action(models.TextChoices):
    CHANNEL_CONNECTED = "channel.connected", "Connected a channel"
    CHANNEL_CHANGED = "channel.changed", "Changed a channel"
