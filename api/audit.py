"""The API's audit actions (registered in ApiConfig.ready())."""

from django.db import models


class Action(models.TextChoices):
    API_INCIDENT_OPENED = "api_incident_opened", "Opened a draft incident through the API"
    API_NOTE_ADDED = "api_note_added", "Added a progress note through the API"
    API_COMPONENT_STATUS = "api_component_status", "Changed a component's status through the API"
