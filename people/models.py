"""The humans behind updates (how they appear publicly), their credentials (second factors, personal API tokens)
and the audit log of what they did."""

from django.conf import settings
from django.db import models
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

from statushub.lib.models import TimeStampedModel


class Profile(TimeStampedModel):
    """How a person appears on a public update: "Dana Whitfield, CEO", with a photo."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=150, blank=True, help_text="Defaults to the user's full name.")
    title = models.CharField(max_length=150, blank=True, help_text="e.g. CEO, VP Engineering.")
    photo = models.ImageField(upload_to="people/", blank=True)
    # The private line a "take it offline" reply offers a customer (doctrine 7): their own, at work.
    work_email = models.EmailField(
        blank=True, help_text="Offered to customers in replies that take it offline."
    )
    work_phone = models.CharField(max_length=40, blank=True, help_text="Likewise, if you take calls.")
    work_handle = models.CharField(
        max_length=100, blank=True, help_text="Your work account on social services, e.g. @sam_northwind."
    )

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_full_name() or self.user.get_username()

    @property
    def initials(self) -> str:
        return "".join(part[0] for part in self.name.split()[:2]).upper()


class AuditEvent(models.Model):
    """One thing done that matters for trust. ``action`` is a value some app registered (``people.audit``)."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, db_index=True)
    target = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name}: {self.action_label} {self.target}"

    @property
    def action_label(self) -> str:
        from people.audit import label

        return label(self.action)


class TOTPDevice(ThrottlingMixin, Device):
    """An authenticator app (RFC 6238: 6 digits every 30 s). Its key is encrypted like channel credentials, so a
    copy of the database alone cannot make codes. Wrong codes slow further tries down (ThrottlingMixin)."""

    encrypted_key = models.TextField()  # type: ignore[var-annotated]
    # The time step of the last code accepted: a code is good once, and never one older than it.
    last_t = models.BigIntegerField(default=-1)  # type: ignore[var-annotated]

    class Meta(Device.Meta):
        verbose_name = "authenticator app"

    def get_throttle_factor(self) -> int:
        return 1

    def verify_token(self, token: object) -> bool:
        from people.two_factor import totp_verify  # the crypto lives with the other second-factor code

        return totp_verify(self, str(token))


class RecoveryCodes(ThrottlingMixin, Device):
    """One-use codes for when the authenticator is lost. Only their SHA-256 is stored: each is 50 random bits
    (no dictionary to try), so a slow hash would add nothing but a wait."""

    hashes = models.JSONField(default=list)

    class Meta(Device.Meta):
        verbose_name = "recovery codes"

    def get_throttle_factor(self) -> int:
        return 1

    def verify_token(self, token: object) -> bool:
        from people.two_factor import recovery_code_use

        return recovery_code_use(self, str(token))


class Passkey(TimestampMixin, Device):
    """A passkey or security key (WebAuthn): a key pair made on the person's device, of which we keep only the
    public half. Nothing here can sign in: a copy of the database holds no secret. The signature counter, where
    the authenticator keeps one, tells a cloned key (a count that goes back) from the original."""

    credential_id = models.CharField(max_length=1400, unique=True)  # type: ignore[var-annotated]  # base64url
    public_key = models.BinaryField()  # type: ignore[var-annotated]  # COSE
    sign_count = models.BigIntegerField(default=0)  # type: ignore[var-annotated]
    transports = models.JSONField(default=list, blank=True)

    class Meta(Device.Meta):
        verbose_name = "passkey"


TOKEN_PREFIX = "sh_"  # noqa: S105 (a marker that secret scanners and people recognise, not a secret)


class ApiToken(TimeStampedModel):
    """A personal API token: what an engineer's scripts and the ``statushub`` CLI authenticate with.

    The token is shown once, at creation. The database keeps only a short non-secret ``key_id`` (to find the row)
    and the SHA-256 of the whole token: a leaked database or backup cannot be used to call the API.
    """

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
        db_table = "api_apitoken"  # made by the api app, which kept tokens before they became a person's

    def __str__(self) -> str:
        return f"{self.name} ({self.display_prefix})"

    @property
    def display_prefix(self) -> str:
        """Enough of the token to recognise it, never enough to use it."""
        return f"{TOKEN_PREFIX}{self.key_id}_…"
