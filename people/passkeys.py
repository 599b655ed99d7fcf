"""Passkeys and security keys (WebAuthn) as a second factor, beside the authenticator app, through py_webauthn.

Each ceremony has two halves. The page that offers it asks for options (a fresh challenge, kept in the session,
good for one answer); the browser's passkey prompt answers them (``static/statushub/passkeys.js``), and the form
brings the answer back, which is checked here: challenge, origin, relying party and signature. The relying party
is the host the person signed in on, so a passkey made on ``status.example.com`` works there and nowhere else.
"""

import json
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from people.audit import Action
from people.models import Passkey, TOTPDevice
from people.services import audit_record

CREATE, GET = "passkey_create_challenge", "passkey_get_challenge"
TIMEOUT_MS = 120_000  # the browser's prompt waits two minutes


class PasskeyError(Exception):
    """Said to the person as it is: what went wrong and what to do."""


def relying_party(request: HttpRequest) -> tuple[str, str]:
    """The relying party's id (the host, without port) and the origin the browser must report."""
    origin = f"{request.scheme}://{request.get_host()}"  # get_host() is checked against ALLOWED_HOSTS
    return urlsplit(origin).hostname or "", origin


def _user_handle(user: User) -> bytes:
    # Stable and free of personal data (the spec asks for both): the account's number.
    return f"statushub-user-{user.pk}".encode()


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = []
    for name in passkey.transports or []:
        try:
            transports.append(AuthenticatorTransport(name))
        except ValueError:
            continue  # a transport this library does not know yet: the browser finds the key without it
    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id), transports=transports)


def user_passkeys(user: User) -> list[Passkey]:
    return list(Passkey.objects.filter(user=user, confirmed=True).order_by("pk"))


def creation_options(request: HttpRequest, user: User) -> dict[str, Any]:
    """Options for making a new passkey (the person's existing ones excluded, so one device is not added twice)."""
    rp_id, _ = relying_party(request)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=settings.STATUSHUB_SITE_NAME,
        user_id=_user_handle(user),
        user_name=user.get_username(),
        user_display_name=user.get_full_name() or user.get_username(),
        exclude_credentials=[_descriptor(p) for p in user_passkeys(user)],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        timeout=TIMEOUT_MS,
    )
    request.session[CREATE] = [bytes_to_base64url(options.challenge), time.time()]
    return dict(json.loads(options_to_json(options)))


def request_options(request: HttpRequest, user: User) -> dict[str, Any] | None:
    """Options for signing with one of the person's passkeys; None when they have none."""
    passkeys = user_passkeys(user)
    if not passkeys:
        return None
    rp_id, _ = relying_party(request)
    options = generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=[_descriptor(p) for p in passkeys],
        user_verification=UserVerificationRequirement.PREFERRED,
        timeout=TIMEOUT_MS,
    )
    request.session[GET] = [bytes_to_base64url(options.challenge), time.time()]
    return dict(json.loads(options_to_json(options)))


def _challenge(request: HttpRequest, key: str) -> bytes:
    kept = request.session.pop(key, None)  # one answer per challenge
    # Good while the browser's prompt is (two minutes), and a minute more for a slow network.
    if not (isinstance(kept, list) and len(kept) == 2 and time.time() - kept[1] < TIMEOUT_MS / 1000 + 60):
        raise PasskeyError("That passkey request has expired: try again.")
    return base64url_to_bytes(kept[0])


def register(*, request: HttpRequest, user: User, credential: str, name: str) -> Passkey:
    """Check the browser's answer to ``creation_options`` and keep the new passkey's public key."""
    expected = _challenge(request, CREATE)
    rp_id, origin = relying_party(request)
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=expected, expected_rp_id=rp_id, expected_origin=origin
        )
        listed = json.loads(credential).get("response", {}).get("transports")
        transports = listed if isinstance(listed, list) else []
    except (WebAuthnException, ValueError, TypeError, AttributeError) as exc:
        raise PasskeyError(f"The passkey could not be checked ({exc}). Try again.") from exc
    try:
        with transaction.atomic():
            passkey = Passkey.objects.create(
                user=user, name=(name.strip() or "Passkey")[:64], confirmed=True,
                credential_id=bytes_to_base64url(verified.credential_id),
                public_key=verified.credential_public_key, sign_count=verified.sign_count,
                transports=[str(t) for t in transports if isinstance(t, str)][:8],
            )  # fmt: skip
    except IntegrityError as exc:
        raise PasskeyError("That passkey is already added.") from exc
    audit_record(
        action=Action.SECOND_FACTOR, actor=user, target=user.get_username(),
        data={"change": "passkey added", "name": passkey.name}, request=request,
    )  # fmt: skip
    return passkey


def verify(*, request: HttpRequest, user: User, credential: str) -> Passkey:
    """Pass the second step with one of ``user``'s passkeys: the answer to ``request_options``."""
    expected = _challenge(request, GET)
    try:
        credential_id = str(json.loads(credential)["id"])
    except (ValueError, TypeError, KeyError) as exc:
        raise PasskeyError("The browser's answer was not a passkey's. Try again.") from exc
    passkey = Passkey.objects.filter(user=user, confirmed=True, credential_id=credential_id).first()
    if passkey is None:
        raise PasskeyError("That passkey is not one of this account's.")
    rp_id, origin = relying_party(request)
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=expected, expected_rp_id=rp_id, expected_origin=origin,
            credential_public_key=bytes(passkey.public_key), credential_current_sign_count=passkey.sign_count,
            require_user_verification=False,
        )  # fmt: skip
    except (WebAuthnException, ValueError, TypeError) as exc:
        raise PasskeyError(f"The passkey's signature did not check out ({exc}).") from exc
    passkey.sign_count = verified.new_sign_count
    passkey.set_last_used_timestamp(commit=False)
    passkey.save(update_fields=["sign_count", "last_used_at"])
    otp_login(request, passkey)
    return passkey


def remove(*, request: HttpRequest, passkey: Passkey) -> None:
    """Forget a passkey. This session passed the second step already: if it was with this passkey, it stays
    through with the person's other factor, rather than asking again."""
    user = passkey.user
    was_this_sessions = getattr(request.user, "otp_device", None) == passkey
    passkey.delete()
    if was_this_sessions:
        other = (
            Passkey.objects.filter(user=user, confirmed=True).first()
            or TOTPDevice.objects.filter(user=user, confirmed=True).first()
        )
        if other is not None:
            otp_login(request, other)
    audit_record(
        action=Action.SECOND_FACTOR, actor=user, target=user.get_username(),
        data={"change": "passkey removed", "name": passkey.name}, request=request,
    )  # fmt: skip
