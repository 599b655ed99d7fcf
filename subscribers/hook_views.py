"""Webhook and Slack subscription pages: register (the secret is shown once), confirm by the owner's mail,
manage (components, re-enable after a disable, a new secret, cancel)."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import condition

from incidents.views import etag, public
from subscribers import hooks, selectors
from subscribers.forms import ChoiceForm, HookForm
from subscribers.mail import HOOK, token_for
from subscribers.models import HookSubscription
from subscribers.tokens import Purpose, TokenExpired, read_token
from subscribers.web import bad_link, page, private, rate_limited, too_many

KINDS = {"webhook": HookSubscription.Kind.WEBHOOK, "slack": HookSubscription.Kind.SLACK}


def _form_page(request: HttpRequest, form: HookForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "kind": form.kind,
        "kind_label": HookSubscription.Kind(form.kind).label,
        "groups": selectors.component_groups(),
        "selected": form.selected_ids(),
    }
    return page(request, "subscribers/hook_register.html", context, status=status)


@public
@condition(etag_func=etag)
def _register_form(request: HttpRequest, kind: str) -> HttpResponse:
    return _form_page(request, HookForm(kind=kind))


@csrf_exempt
def register(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in KINDS:
        raise Http404("No such kind of subscription")
    if request.method in ("GET", "HEAD"):
        return _register_form(request, KINDS[kind])
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    if wait := rate_limited(
        request, group="subscribe-ip", rate=settings.STATUSHUB_SUBSCRIBE_RATE_IP, key="ip"
    ):
        return too_many(request, wait)
    form = HookForm(request.POST, kind=KINDS[kind])
    if not form.is_valid():
        return private(_form_page(request, form, status=400))
    owner = form.cleaned_data["owner_email"].strip().lower()
    if wait := rate_limited(
        request,
        group="subscribe-address",
        rate=settings.STATUSHUB_SUBSCRIBE_RATE_ADDRESS,
        key=lambda g, r: owner,
    ):
        return too_many(request, wait)
    registration = hooks.hook_register(
        kind=KINDS[kind], owner_email=owner, url=form.cleaned_data["url"], choice=form.choice()
    )
    context = {"subscription": registration.subscription, "secret": registration.secret}
    return private(page(request, "subscribers/hook_registered.html", context))


def _subscription(token: str, purpose: Purpose) -> HookSubscription | None:
    max_age = settings.STATUSHUB_SUBSCRIBE_CONFIRM_HOURS * 3600 if purpose == Purpose.CONFIRM else None
    found = read_token(HOOK, purpose, token, max_age=max_age)
    if found is None:
        return None
    return (
        HookSubscription.objects.filter(pk=found[0], token_nonce=found[1])
        .prefetch_related("components")
        .first()
    )


def _manage_path(subscription: HookSubscription) -> str:
    return reverse("subscribers:hook-manage", args=[token_for(subscription, Purpose.MANAGE)])


@csrf_exempt
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    try:
        subscription = _subscription(token, Purpose.CONFIRM)
    except TokenExpired:
        return bad_link(
            request, expired=True, again_url=reverse("subscribers:hook-register", args=["webhook"])
        )
    if subscription is None:
        return bad_link(request)
    if request.method == "POST":
        hooks.hook_confirm(subscription=subscription)
        return private(redirect(_manage_path(subscription) + "?confirmed=1"))
    if subscription.state != HookSubscription.State.PENDING:
        return private(redirect(_manage_path(subscription)))
    return private(page(request, "subscribers/hook_confirm.html", {"subscription": subscription}))


@csrf_exempt
def manage(request: HttpRequest, token: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    subscription = _subscription(token, Purpose.MANAGE)
    if subscription is None:
        return bad_link(request)
    form = ChoiceForm(
        initial=ChoiceForm.initial_for(subscription.all_components, list(subscription.components.all()))
    )
    saved, secret = False, ""
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "cancel":
            hooks.hook_cancel(subscription=subscription)
        elif action == "enable":
            hooks.hook_enable(subscription=subscription)
        elif action == "rotate" and subscription.kind == HookSubscription.Kind.WEBHOOK:
            secret = hooks.hook_rotate_secret(subscription=subscription)
        else:
            form = ChoiceForm(request.POST)
            if form.is_valid():
                hooks.hook_set_choice(subscription=subscription, choice=form.choice())
                saved = True
        if action in ("cancel", "enable"):
            return private(redirect(request.path))
    subscription.refresh_from_db()
    recent = subscription.deliveries.select_related("update__incident").order_by("-created_at")[:10]
    context = {
        "subscription": subscription,
        "form": form,
        "groups": selectors.component_groups(),
        "selected": form.selected_ids(),
        "saved": saved,
        "secret": secret,
        "recent": recent,
        "confirmed": request.GET.get("confirmed") == "1",
    }
    return private(page(request, "subscribers/hook_manage.html", context, status=400 if form.errors else 200))
