"""Connect a channel: one form per kind, built from the fields its transport declares."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from channels.models import Channel
from integrations.base import Field, Transport
from statushub.lib import outbound

KEEP_HINT = "Stored encrypted. Leave blank to keep it; type a new one to replace it."


def _outside_private_networks(url: str) -> None:
    if outbound.names_private_address(url):
        raise ValidationError("This address is inside a private network: StatusHub does not call there.")


def _form_field(field: Field, *, has_secret: bool) -> forms.Field:
    common: dict[str, Any] = {"label": field.label, "help_text": field.help, "required": field.required}
    if field.pattern:
        common["validators"] = [
            RegexValidator(f"^(?:{field.pattern})$", f"This does not look like a {field.label.lower()}.")
        ]
    if field.secret:
        # Checked in ChannelForm.clean: a dry-run channel posts nothing, so it needs no secrets yet.
        common["required"] = False
        hint = (
            KEEP_HINT
            if has_secret
            else ("Needed to post for real; not in dry run." if field.required else "")
        )
        common["help_text"] = " ".join(part for part in (field.help, hint) if part)
        return forms.CharField(
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
            strip=True,
            **common,
        )
    if field.kind == "url":
        return forms.URLField(assume_scheme="https", validators=[_outside_private_networks], **common)
    if field.kind == "number":
        return forms.IntegerField(min_value=1, **common)
    if field.kind == "choice":
        return forms.ChoiceField(choices=field.choices, **common)
    return forms.CharField(max_length=300, **common)


_EXAMPLE_NAMES = {
    "x": "@northwind on X", "facebook": "Northwind Cloud Page", "mastodon": "@northwind@mastodon.social",
    "bluesky": "@status.northwind.example", "slack": "#status in the customer Slack",
    "discourse": "Community forum", "reddit": "r/NorthwindCloud", "webhook": "Partner status feed",
    "manual": "UserVoice forum",
}  # fmt: skip


def _example_name(kind: str) -> str:
    return _EXAMPLE_NAMES.get(kind, "Status updates")


class ChannelForm(forms.Form):
    name = forms.CharField(max_length=100)
    enabled = forms.BooleanField(required=False, initial=True, help_text="Send published updates here.")
    dry_run = forms.BooleanField(
        required=False, label="Dry run", help_text="Record exactly what would be sent, and send nothing."
    )

    def __init__(
        self,
        data: Any = None,
        *,
        transport: type[Transport],
        channel: Channel | None = None,
        initial: dict[str, Any] | None = None,
    ) -> None:
        has_secrets = bool(channel and channel.encrypted_credentials)
        initial = dict(initial or {})
        if channel is not None:
            initial |= {"name": channel.name, "enabled": channel.enabled, "dry_run": channel.dry_run}
            initial |= {
                f.name: channel.config.get(f.name, f.default) for f in transport.fields if not f.secret
            }
        else:
            initial |= {f.name: f.default for f in transport.fields if f.default and not f.secret}
        super().__init__(data, initial=initial)
        self.fields[
            "name"
        ].help_text = f"How the team will recognise it, e.g. “{_example_name(transport.kind)}”."
        self.transport = transport
        self.channel = channel
        for field in transport.fields:
            self.fields[field.name] = _form_field(field, has_secret=has_secrets)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        stored = (
            self.channel.config if self.channel is not None and self.channel.encrypted_credentials else None
        )
        if stored is None:
            if not cleaned.get("dry_run"):
                for field in self.transport.fields:
                    if field.secret and field.required and not cleaned.get(field.name):
                        self.add_error(
                            field.name, "Needed to post for real (a dry-run channel can do without)."
                        )
            return cleaned
        moved = [
            f for f in self.transport.fields
            if f.endpoint and f.name in cleaned and str(cleaned[f.name] or f.default) != str(stored.get(f.name, f.default))
        ]  # fmt: skip
        if moved:
            for field in self.transport.fields:
                if field.secret and not cleaned.get(field.name):
                    self.add_error(
                        field.name,
                        f"You changed the {moved[0].label.lower()}: type this again, so it is only ever sent "
                        "where you say.",
                    )
        return cleaned

    def config(self) -> dict[str, Any]:
        """The form's settings; a blank one is None, which clears it (settings the form does not show stay)."""
        return {
            f.name: None if self.cleaned_data.get(f.name) in (None, "") else self.cleaned_data[f.name]
            for f in self.transport.fields
            if not f.secret
        }

    def new_secrets(self) -> dict[str, str]:
        """Only the secrets typed in this time: blank ones keep what is stored."""
        return {
            f.name: self.cleaned_data[f.name]
            for f in self.transport.fields
            if f.secret and self.cleaned_data.get(f.name)
        }
