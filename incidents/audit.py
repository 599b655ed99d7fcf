"""The incident domain's audit actions (registered in IncidentsConfig.ready())."""

from django.db import models


class Action(models.TextChoices):
    PUBLISH = "publish", "Published an update"
    CORRECTION = "correction", "Published a correction"
    KEY_CREATED = "key_created", "Created a signing key"
    KEY_REGISTERED = "key_registered", "Registered an offline public key"
    KEY_ROTATED = "key_rotated", "Rotated a signing key"
    KEY_REVOKED = "key_revoked", "Revoked a signing key"
