"""Publishers' signing keys, the site's hash chain head, and update drafts."""

from django.conf import settings
from django.db import models

from statushub.lib.models import TimeStampedModel


class SigningKey(TimeStampedModel):
    """An Ed25519 key of one publisher. ``created_at`` is when it became valid; revocation records when it ended.

    A key made by StatusHub keeps its private half encrypted at rest (``encrypted_private_key``);
    a key the publisher registered from the CLI has none, and that publisher signs offline.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signing_keys")
    kid = models.CharField(max_length=64, unique=True)
    public_key = models.BinaryField(max_length=32)
    encrypted_private_key = models.TextField(blank=True)
    # Who the key speaks for, as listed publicly in keys.json (a snapshot: titles change, keys do not).
    owner_name = models.CharField(max_length=150)
    owner_title = models.CharField(max_length=150, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kid[:12]}… ({self.owner_name})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_offline(self) -> bool:
        return not self.encrypted_private_key

    @property
    def fingerprint(self) -> str:
        """A short, human-comparable form of the kid."""
        return " ".join(self.kid[i : i + 4] for i in range(0, 16, 4))


class ChainHead(models.Model):
    """One row: the last sequence number and digest of the site's chain of signed statements.

    Publishing locks this row, so sequence numbers have no gaps and ``prev`` always names the true predecessor.
    """

    seq = models.PositiveIntegerField(default=0)
    digest = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"seq {self.seq} ({self.digest[:12]})"


class UpdateDraft(TimeStampedModel):
    """What a communicator or publisher is composing for an incident; published at most once."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="drafts")
    corrects = models.ForeignKey(
        "incidents.IncidentUpdate", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=16, blank=True)
    body = models.TextField(blank=True)
    # {component id (str): new status}
    component_statuses = models.JSONField(default=dict, blank=True)
    next_update_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    last_edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)
    published_update = models.OneToOneField(
        "incidents.IncidentUpdate", null=True, blank=True, on_delete=models.SET_NULL, related_name="draft"
    )
    # For offline signing: the statement handed out to be signed, frozen with its seq, prev and time.
    pending_statement = models.BinaryField(default=b"", editable=False)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"Draft for {self.incident} ({self.status or 'no status'})"

    @property
    def is_published(self) -> bool:
        return self.published_update_id is not None
