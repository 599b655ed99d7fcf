"""Personal API tokens: what an engineer's scripts and the ``statushub`` CLI authenticate with.

The token is shown once, at creation. The database keeps only a short non-secret ``key_id`` (to find the row)
and the SHA-256 of the whole token: a leaked database or backup cannot be used to call the API.
"""

from django.conf import settings
from django.db import models

from statushub.lib.models import TimeStampedModel

TOKEN_PREFIX = "sh_"  # noqa: S105 (a marker that secret scanners and people recognise, not a secret)


class ApiToken(TimeStampedModel):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(
        max_length=100, help_text="What it is for, e.g. “deploy pipeline” or “my laptop”."
    )
    key_id = models.CharField(max_length=12, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix})"

    @property
    def display_prefix(self) -> str:
        """Enough of the token to recognise it, never enough to use it."""
        return f"{TOKEN_PREFIX}{self.key_id}_…"
