"""The alerts' audit actions (registered in AlertsConfig.ready())."""

from django.db import models


class Action(models.TextChoices):
    ALERT_INCIDENT_OPENED = "alert_incident_opened", "An alert opened a draft incident"
    ALERT_SOURCE_SECRET = "alert_source_secret", "Made a new alert source secret"
