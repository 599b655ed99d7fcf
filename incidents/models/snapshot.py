"""What the public snapshot has not caught up with yet (see ``incidents/snapshot.py``).

A row is written in the same transaction as the change it records, so a change that commits is never
missed by the snapshot, and a change that rolls back leaves nothing behind.
"""

from django.db import models


class PublicChange(models.Model):
    # A plain integer, not a foreign key: the incident may be gone (deleted or unpublished) by the time the
    # snapshot builder reads this row, and it must still remove that incident's pages.
    incident_id = models.BigIntegerField(
        null=True, blank=True, help_text="Empty: only site-wide pages changed."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"incident {self.incident_id}" if self.incident_id else "site-wide"
