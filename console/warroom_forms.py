from typing import Any

from django import forms
from django.contrib.auth.models import User

from incidents.models import IncidentRole
from warroom.models import SituationVersion


class SituationForm(forms.ModelForm):
    class Meta:
        model = SituationVersion
        fields = list(SituationVersion.FACTS)
        widgets = {
            "since": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "workaround": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"since": "Affected since (UTC)"}


class RosterForm(forms.Form):
    action = forms.ChoiceField(choices=[("assign", "Assign"), ("release", "Release")])
    role = forms.ChoiceField(choices=IncidentRole.Role.choices)
    user = forms.ModelChoiceField(queryset=User.objects.none(), label="Person")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["user"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            User.objects.filter(is_active=True, groups__isnull=False).distinct().order_by("first_name")
        )
        field.label_from_instance = lambda u: u.get_full_name() or u.get_username()  # type: ignore[method-assign,assignment]


class SuggestionForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "Wording you would like the next update to use"}
        ),
        label="Suggest wording",
        max_length=5000,
    )
