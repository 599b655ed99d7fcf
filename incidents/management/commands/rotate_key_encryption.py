"""Re-encrypt every secret at rest with the first of STATUSHUB_KEY_ENCRYPTION_KEYS: private signing keys, channel
credentials, subscriber hook targets, alert source credentials and authenticator-app keys.

Rotation: put the new Fernet key first in the list (keep the old one after it), run this, then drop the old key.
All of it happens in one transaction: a secret no key decrypts stops the run and changes nothing.
"""

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from incidents.models import SigningKey
from statushub.lib.secrets import ENCRYPTED_JSON_FIELDS, SecretError, reencrypt_json
from statushub.lib.signing import KeyEncryptionError, reencrypt_private_key


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (signing keys, credentials, authenticator keys) with the primary key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        keys = list(settings.STATUSHUB_KEY_ENCRYPTION_KEYS)
        try:
            with transaction.atomic():
                self._signing_keys(keys)
                for label, field, what in ENCRYPTED_JSON_FIELDS:
                    self._json_field(keys, label, field, what)
        except (SecretError, KeyEncryptionError) as exc:
            raise CommandError(
                f"{exc} Nothing was changed: add the key that encrypted it to the list."
            ) from exc

    def _signing_keys(self, keys: list[str]) -> None:
        stored = SigningKey.objects.exclude(encrypted_private_key="")
        total = stored.count()
        for done, key in enumerate(stored.select_for_update().iterator(), start=1):
            key.encrypted_private_key = reencrypt_private_key(key.encrypted_private_key, keys)
            key.save(update_fields=["encrypted_private_key", "updated_at"])
            if done % 50 == 0 or done == total:
                self.stdout.write(f"re-encrypted {done}/{total}")
        self.stdout.write(self.style.SUCCESS(f"{total} private key(s) now encrypted with the primary key."))

    def _json_field(self, keys: list[str], label: str, field: str, what: str) -> None:
        model = apps.get_model(label)
        rows = model.objects.exclude(**{field: ""}).select_for_update().only("pk", field)
        count = 0
        for row in rows.iterator():
            model.objects.filter(pk=row.pk).update(**{field: reencrypt_json(getattr(row, field), keys)})
            count += 1
        self.stdout.write(self.style.SUCCESS(f"{what}: {count} re-encrypted."))
