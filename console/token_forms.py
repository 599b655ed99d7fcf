from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.models import User

from people.tokens import scopes_allowed

LIFETIMES = [7, 30, 90, 180, 365]


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What it is for, e.g. “deploy pipeline” or “my laptop”.",
        widget=forms.TextInput(attrs={"autofocus": True}),
    )
    scopes = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        help_text="Only what your role can do is offered; the token loses a scope if your role does.",
    )
    expires_in = forms.TypedChoiceField(coerce=int, label="Expires in")
    password = forms.CharField(
        label="Your password",
        help_text="A token can act as you, so creating one needs your password again.",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, user: User, needs_password: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        scopes = self.fields["scopes"]
        assert isinstance(scopes, forms.MultipleChoiceField)
        scopes.choices = [(scope.name, f"{scope.label} ({scope.name})") for scope in scopes_allowed(user)]
        longest, default = settings.STATUSHUB_API_TOKEN_MAX_DAYS, settings.STATUSHUB_API_TOKEN_DEFAULT_DAYS
        days = sorted({d for d in LIFETIMES if d <= longest} | {default, longest})
        expires = self.fields["expires_in"]
        assert isinstance(expires, forms.TypedChoiceField)
        expires.choices = [(d, f"{d} days") for d in days]
        expires.initial = default
        if not needs_password:
            del self.fields["password"]
