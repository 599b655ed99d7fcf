from typing import Any

from django import forms

from incidents.models import Component
from subscribers.hooks import HookTargetError, validate_target
from subscribers.models import HookSubscription
from subscribers.services import Choice

ALL = "all"
SOME = "some"


class ChoiceForm(forms.Form):
    """Everything, or some components (shown grouped by the template)."""

    scope = forms.ChoiceField(
        choices=[
            (ALL, "Everything, including components added later"),
            (SOME, "Only the components I choose"),
        ],
        initial=ALL,
        widget=forms.RadioSelect,
        label="What to hear about",
    )
    components = forms.ModelMultipleChoiceField(
        queryset=Component.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["components"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = Component.objects.order_by("group__position", "group__id", "position")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == SOME and not data.get("components"):
            self.add_error("components", "Choose at least one component, or choose everything.")
        return data

    def selected_ids(self) -> set[str]:
        """The components ticked, as the template compares them (bound or initial)."""
        value = self["components"].value() or []
        return {str(getattr(item, "pk", item)) for item in value}

    def scope_value(self) -> str:
        return str(self["scope"].value() or ALL)

    def choice(self) -> Choice:
        if self.cleaned_data["scope"] == ALL:
            return Choice(all_components=True)
        return Choice(all_components=False, components=list(self.cleaned_data["components"]))

    @staticmethod
    def initial_for(all_components: bool, components: list[Component]) -> dict[str, Any]:
        return {"scope": ALL if all_components else SOME, "components": components}


class SubscribeForm(ChoiceForm):
    email = forms.EmailField(
        label="Your e-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "you@example.com"}),
    )

    field_order = ["email", "scope", "components"]


class HookForm(ChoiceForm):
    url = forms.CharField(max_length=2000, widget=forms.URLInput(attrs={"autocomplete": "off"}))
    owner_email = forms.EmailField(
        label="Your e-mail address",
        max_length=254,
        help_text="We send a confirmation link here, and tell you if we ever have to stop.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    field_order = ["url", "owner_email", "scope", "components"]

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        url = self.fields["url"]
        if kind == HookSubscription.Kind.SLACK:
            url.label = "Slack incoming-webhook URL"
            url.help_text = (
                "In Slack: create an app (api.slack.com/apps) → Incoming Webhooks → Add New Webhook to Workspace, "
                "pick the channel, and copy the URL (https://hooks.slack.com/services/…)."
            )
        else:
            url.label = "Your endpoint's URL"
            url.help_text = "Each update is POSTed here as JSON, signed per Standard Webhooks."

    def clean_url(self) -> str:
        try:
            return validate_target(self.kind, self.cleaned_data["url"])
        except HookTargetError as exc:
            raise forms.ValidationError(str(exc)) from exc
