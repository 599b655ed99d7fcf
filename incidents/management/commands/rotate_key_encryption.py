"""Re-encrypt every stored private signing key (and authenticator-app key) with the first of
STATUSHUB_KEY_ENCRYPTION_KEYS.

Rotation: put the new Fernet key first in the list (keep the old one after it), run this, then drop the old key.
"""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from incidents.models import SigningKey
from people.models import TOTPDevice
from statushub.lib.secrets import decrypt_json, encrypt_json
from statushub.lib.signing import reencrypt_private_key


class Command(BaseCommand):
    help = "Re-encrypt all stored private signing keys with the primary key-encryption key."

    def handle(self, *args: Any, **options: Any) -> None:
        keys = list(settings.STATUSHUB_KEY_ENCRYPTION_KEYS)
        stored = SigningKey.objects.exclude(encrypted_private_key="")
        total = stored.count()
        with transaction.atomic():
            for done, key in enumerate(stored.select_for_update().iterator(), start=1):
                key.encrypted_private_key = reencrypt_private_key(key.encrypted_private_key, keys)
                key.save(update_fields=["encrypted_private_key", "updated_at"])
                if done % 50 == 0 or done == total:
                    self.stdout.write(f"re-encrypted {done}/{total}")
        self.stdout.write(self.style.SUCCESS(f"{total} private key(s) now encrypted with the primary key."))
        # Authenticator keys too: dropping the old key would otherwise lock every publisher out.
        with transaction.atomic():
            devices = TOTPDevice.objects.select_for_update()
            for device in devices:
                device.encrypted_key = encrypt_json(decrypt_json(device.encrypted_key, keys), keys)
                device.save(update_fields=["encrypted_key"])
        self.stdout.write(self.style.SUCCESS(f"{len(devices)} authenticator key(s) re-encrypted."))
