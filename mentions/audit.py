"""The mentions' audit actions (registered in MentionsConfig.ready())."""

from django.db import models


class Action(models.TextChoices):
    REPLY_TONE_OVERRIDE = "reply_tone_override", "Replied to a customer past the tone guard"
