"""The war room's audit actions (registered in WarroomConfig.ready())."""

from django.db import models


class Action(models.TextChoices):
    TONE_OVERRIDE = "tone_override", "Published past the tone guard"
