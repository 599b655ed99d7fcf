from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from incidents.models import Component, Incident, UpdateDraft

NEXT_UPDATE_CHOICES = [
    ("keep", "Keep the promised time"),
    ("15", "In 15 minutes"),
    ("30", "In 30 minutes"),
    ("45", "In 45 minutes"),
    ("60", "In 1 hour"),
    ("90", "In 1 hour 30"),
    ("120", "In 2 hours"),
    ("240", "In 4 hours"),
    ("none", "No next update promised"),
]


class DraftForm(forms.Form):
    base_version = forms.IntegerField(widget=forms.HiddenInput)
    status = forms.ChoiceField()
    body = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "placeholder": "Say what is happening, in your own words."}),
    )
    next_update = forms.ChoiceField(choices=NEXT_UPDATE_CHOICES, required=False, label="Next update by")

    def __init__(
        self,
        *args: Any,
        draft: UpdateDraft,
        components: list[Component],
        cadence_minutes: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.draft = draft
        statuses = (
            Incident.MAINTENANCE_STATUSES if draft.incident.is_maintenance else Incident.INCIDENT_STATUSES
        )
        status_field = self.fields["status"]
        assert isinstance(status_field, forms.ChoiceField)
        status_field.choices = [(s.value, s.label) for s in statuses]
        self.component_fields = []
        for component in components:
            name = f"component_{component.pk}"
            self.fields[name] = forms.ChoiceField(
                label=component.name,
                required=False,
                choices=[
                    ("", f"No change ({component.get_status_display().lower()})"),
                    *Component.Status.choices,
                ],
                initial=draft.component_statuses.get(str(component.pk), ""),
            )
            self.component_fields.append(self[name])
        if draft.status in Incident.CLOSED_STATUSES:
            self.fields["next_update"].initial = "none"  # a closing update has nothing more to promise
        else:
            self.fields["next_update"].initial = (
                "keep" if draft.next_update_at else str(cadence_minutes or 30)
            )
        if cadence_minutes:
            # The severity's cadence is the proposal: named as such, and offered even when it is not a usual step.
            field = self.fields["next_update"]
            assert isinstance(field, forms.ChoiceField)
            severity = draft.incident.severity.upper()
            choices = [(value, str(label)) for value, label in NEXT_UPDATE_CHOICES]
            values = [value for value, _ in choices]
            wanted = str(cadence_minutes)
            if wanted in values:
                at = values.index(wanted)
                choices[at] = (wanted, f"{choices[at][1]} (the {severity} cadence)")
            else:
                choices.insert(-1, (wanted, f"In {cadence_minutes} minutes (the {severity} cadence)"))
            field.choices = choices
        self.fields["base_version"].initial = draft.version
        self.fields["status"].initial = draft.status
        self.fields["body"].initial = draft.body

    def component_statuses(self) -> dict[str, str]:
        return {
            name.removeprefix("component_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("component_") and value
        }

    def next_update_at(self) -> Any:
        choice = self.cleaned_data.get("next_update") or "keep"
        if choice == "keep":
            return self.draft.next_update_at
        if choice == "none":
            return None
        return (timezone.now() + timedelta(minutes=int(choice))).replace(second=0, microsecond=0)


class ReauthForm(forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True})
    )


class OfflineSignatureForm(forms.Form):
    signature = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Paste the output of statushub sign"}),
        help_text="Base64 of the 64-byte Ed25519 signature.",
    )


class RegisterKeyForm(forms.Form):
    public_key = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "-----BEGIN PUBLIC KEY-----"}),
        help_text="The public PEM printed by `statushub keygen`.",
    )


class RevokeKeyForm(forms.Form):
    kid = forms.CharField(widget=forms.HiddenInput)
    reason = forms.CharField(max_length=200, initial="No longer trusted")
