"""A second factor for the people who speak for the company: publishers (they sign in the CEO's name) and
administrators. An authenticator app (TOTP, its key encrypted at rest) plus one-use recovery codes, on top of
django-otp, whose middleware tells whether this session passed the second step (``user.is_verified()``).
"""

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.oath import TOTP

from people.audit import Action
from people.models import Passkey, RecoveryCodes, TOTPDevice
from people.roles import second_factor_permissions
from people.services import audit_record
from statushub.lib.secrets import decrypt_json, encrypt_json

RECOVERY_CODES = 10
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def required_for(user: Any) -> bool:
    """Publishers and administrators must pass a second factor before the team pages and the admin."""
    return bool(
        user.is_authenticated
        and (user.is_superuser or any(user.has_perm(perm) for perm in second_factor_permissions()))
    )


def confirmed_totp(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def enrolled(user: User) -> bool:
    """Whether ``user`` has a second factor: an authenticator app or a passkey."""
    return confirmed_totp(user) is not None or Passkey.objects.filter(user=user, confirmed=True).exists()


def _keys() -> list[str]:
    return list(settings.STATUSHUB_KEY_ENCRYPTION_KEYS)


def totp_key(device: TOTPDevice) -> bytes:
    return base64.b32decode(decrypt_json(device.encrypted_key, _keys())["key"])


def _totp(device: TOTPDevice) -> TOTP:
    totp = TOTP(totp_key(device), step=30, t0=0, digits=6, drift=0)
    totp.time = time.time()
    return totp


def totp_code(device: TOTPDevice) -> str:
    """The code an authenticator app shows now (for the demo's `manage.py demo_code`)."""
    return f"{_totp(device).token():06d}"


def totp_config_url(device: TOTPDevice) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    issuer = settings.STATUSHUB_SITE_NAME.replace(":", "")
    label = quote(f"{issuer}:{device.user.get_username()}")
    secret = base64.b32encode(totp_key(device)).decode().rstrip("=")
    return f"otpauth://totp/{label}?" + urlencode(
        {"secret": secret, "issuer": issuer, "digits": 6, "period": 30}
    )


def totp_secret_text(device: TOTPDevice) -> str:
    """The key as people type it into an app by hand: base32 in groups of four."""
    secret = base64.b32encode(totp_key(device)).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_verify(device: TOTPDevice, token: str) -> bool:
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return False
    token = token.replace(" ", "")
    totp = _totp(device)
    verified = (
        token.isdigit() and len(token) == 6 and totp.verify(int(token), tolerance=1, min_t=device.last_t + 1)
    )
    if verified:
        device.last_t = totp.t()
        device.throttle_reset(commit=False)
        device.save()
    else:
        device.throttle_increment(commit=True)
    return bool(verified)


@transaction.atomic
def totp_start(*, user: User, key: bytes | None = None) -> TOTPDevice:
    """A new, unconfirmed authenticator for ``user`` (an earlier unconfirmed one is replaced). ``key`` fixes the
    secret (the demo's); otherwise 20 random bytes, as RFC 4226 recommends."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    secret = base64.b32encode(key or secrets.token_bytes(20)).decode()
    return TOTPDevice.objects.create(
        user=user,
        name="Authenticator app",
        confirmed=False,
        encrypted_key=encrypt_json({"key": secret}, _keys()),
    )


@transaction.atomic
def totp_confirm(*, device: TOTPDevice, request: HttpRequest | None = None) -> list[str]:
    """The app showed a right code: this device replaces any earlier one, the session counts as verified and
    fresh recovery codes are returned (to be shown once)."""
    TOTPDevice.objects.filter(user=device.user, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    if request is not None:
        otp_login(request, device)
    audit_record(
        action=Action.SECOND_FACTOR, actor=device.user, target=device.user.get_username(),
        data={"change": "authenticator added"}, request=request,
    )  # fmt: skip
    return recovery_codes_issue(user=device.user)


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").lower().encode()).hexdigest()


@transaction.atomic
def recovery_codes_issue(*, user: User) -> list[str]:
    """Ten new one-use codes, replacing any earlier ones. Only their hashes are kept: show them now or never."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    RecoveryCodes.objects.update_or_create(
        user=user, defaults={"name": "Recovery codes", "confirmed": True, "hashes": [_hash(c) for c in codes]}
    )
    return codes


def recovery_code_use(device: RecoveryCodes, token: str) -> bool:
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return False
    wanted = _hash(token)
    match = next((h for h in device.hashes if hmac.compare_digest(h, wanted)), None)
    if match is None:
        device.throttle_increment(commit=True)
        return False
    device.hashes = [h for h in device.hashes if h != match]
    device.throttle_reset(commit=False)
    device.save()
    return True


def verify(*, request: HttpRequest, user: User, code: str) -> bool:
    """Pass the second step with an authenticator code or a recovery code (which is then used up)."""
    code = code.strip()
    devices: list[TOTPDevice | RecoveryCodes] = []
    if totp := confirmed_totp(user):
        devices.append(totp)
    devices.extend(RecoveryCodes.objects.filter(user=user, confirmed=True))
    digits = code.replace(" ", "").isdigit()
    for device in devices:
        if isinstance(device, TOTPDevice) != digits:
            continue
        if device.verify_token(code):
            otp_login(request, device)
            if isinstance(device, RecoveryCodes):
                audit_record(
                    action=Action.SECOND_FACTOR, actor=user, target=user.get_username(),
                    data={"change": "recovery code used", "left": len(device.hashes)}, request=request,
                )  # fmt: skip
            return True
    return False
