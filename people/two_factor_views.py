"""Setting up and passing the second factor: an authenticator app (QR code) or a passkey, and recovery codes
shown once."""

from typing import Any

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from people import passkeys
from people import two_factor as mfa
from people.models import Passkey, TOTPDevice


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True, "size": 12}
        ),
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or reverse("manage:dashboard")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return reverse("manage:dashboard")
    return target


def _codes_page(request: HttpRequest, codes: list[str], next_url: str) -> HttpResponse:
    response = render(request, "people/recovery_codes.html", {"codes": codes, "next": next_url})
    response["Cache-Control"] = "no-store"  # the codes are on this page in clear, once
    return response


@require_http_methods(["GET", "POST"])
@login_required
def second_step(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    next_url = _next(request)
    verified = user.is_verified()
    enrolling = not mfa.enrolled(user) or (verified and "replace" in request.GET)
    form = CodeForm(request.POST or None)
    if not enrolling:
        if request.method == "POST" and request.POST.get("credential"):
            try:
                passkeys.verify(request=request, user=user, credential=request.POST["credential"])
                return redirect(next_url)
            except passkeys.PasskeyError as exc:
                messages.error(request, str(exc))
            form = CodeForm()
        elif request.method == "POST" and form.is_valid():
            if mfa.verify(request=request, user=user, code=form.cleaned_data["code"]):
                return redirect(next_url)
            form.add_error(
                "code", "That code is not right, or was used already. Wait for the next one and retry."
            )
        context = {
            "form": form,
            "next": next_url,
            "verified": verified,
            "demo": settings.EMBEDDED,
            "required": mfa.required_for(user),
            "has_app": mfa.confirmed_totp(user) is not None,
            "passkeys": passkeys.user_passkeys(user),
            # Signing in with a passkey, or (once through) adding another one.
            "get_options": None if verified else passkeys.request_options(request, user),
            "create_options": passkeys.creation_options(request, user) if verified else None,
        }
        return render(request, "people/two_factor_verify.html", context)

    device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or mfa.totp_start(user=user)
    if request.method == "POST" and form.is_valid():
        if mfa.totp_verify(device, form.cleaned_data["code"]):
            codes = mfa.totp_confirm(device=device, request=request)
            return _codes_page(request, codes, next_url)
        form.add_error(
            "code", "That code is not right: check the app's clock, then type the code it shows now."
        )
    url = mfa.totp_config_url(device)
    qr = segno.make(url, error="m").svg_inline(scale=5, dark="#000", light="#fff", title="QR code to scan")
    context = {
        "form": form,
        "next": next_url,
        "qr": mark_safe(qr),  # noqa: S308 (segno's SVG of our own otpauth URL: no markup from anyone)
        "secret": mfa.totp_secret_text(device),
        "replacing": verified,
        "create_options": None if verified else passkeys.creation_options(request, user),
    }
    response = render(request, "people/two_factor_enrol.html", context)
    response["Cache-Control"] = "no-store"  # the key is on the page
    return response


@require_POST
@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if not user.is_verified():
        return redirect(reverse("account:two-factor") + "?next=" + reverse("account:two-factor"))
    codes = mfa.recovery_codes_issue(user=user)
    return _codes_page(request, codes, reverse("manage:dashboard"))


@require_POST
@login_required
def passkey_add(request: HttpRequest) -> HttpResponse:
    """Keep a new passkey: anyone who passed the second step, or who has no second factor yet (setting one up
    with a passkey instead of an app). A password alone never adds a factor beside an existing one."""
    user: Any = request.user
    next_url = _next(request)
    first = not mfa.enrolled(user)
    if not (first or user.is_verified()):
        return redirect(reverse("account:two-factor") + "?next=" + reverse("account:two-factor"))
    try:
        passkey = passkeys.register(
            request=request, user=user, credential=request.POST.get("credential", ""),
            name=request.POST.get("name", ""),
        )  # fmt: skip
    except passkeys.PasskeyError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("account:two-factor") + "?next=" + next_url)
    if first:
        otp_login(request, passkey)
        return _codes_page(request, mfa.recovery_codes_issue(user=user), next_url)
    messages.success(request, f"Passkey “{passkey.name}” added: use it the next time you sign in.")
    return redirect(reverse("account:two-factor"))


@require_POST
@login_required
def passkey_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove one of your own passkeys, after the second step; never the last second factor of someone who
    must have one."""
    user: Any = request.user
    if not user.is_verified():
        return redirect(reverse("account:two-factor") + "?next=" + reverse("account:two-factor"))
    passkey = get_object_or_404(Passkey, pk=pk, user=user)
    others = Passkey.objects.filter(user=user, confirmed=True).exclude(pk=pk).exists()
    if mfa.required_for(user) and not others and mfa.confirmed_totp(user) is None:
        messages.error(request, "That is your only second factor: add another passkey or an app first.")
    else:
        passkeys.remove(request=request, passkey=passkey)
        messages.success(request, f"Passkey “{passkey.name}” removed.")
    return redirect(reverse("account:two-factor"))
