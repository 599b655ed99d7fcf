"""E-mail subscription pages: subscribe, confirm, manage, and RFC 8058 one-click unsubscribe.

No page sets a cookie or needs one: forms post without a CSRF token because the only credential is the signed
link itself (a forged post to /subscribe/ can only cause a confirmation mail, which is rate-limited).
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import condition

from incidents.views import etag, public
from subscribers import selectors, services
from subscribers.forms import ChoiceForm, SubscribeForm
from subscribers.mail import EMAIL
from subscribers.models import Subscriber
from subscribers.tokens import Purpose, TokenExpired, read_token
from subscribers.web import bad_link, cookieless, page, private, rate_limited, too_many


def _form_page(request: HttpRequest, form: SubscribeForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "groups": selectors.component_groups(),
        "selected": form.selected_ids(),
        "mail_from": settings.STATUSHUB_MAIL_FROM,
    }
    return page(request, "subscribers/subscribe.html", context, status=status)


@public
@condition(etag_func=etag)
def _subscribe_form(request: HttpRequest) -> HttpResponse:
    return _form_page(request, SubscribeForm())


@csrf_exempt
def subscribe(request: HttpRequest) -> HttpResponse:
    if request.method in ("GET", "HEAD"):
        return _subscribe_form(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    if wait := rate_limited(
        request, group="subscribe-ip", rate=settings.STATUSHUB_SUBSCRIBE_RATE_IP, key="ip"
    ):
        return too_many(request, wait)
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return private(_form_page(request, form, status=400))
    email = services.normalise_email(form.cleaned_data["email"])
    if wait := rate_limited(
        request,
        group="subscribe-address",
        rate=settings.STATUSHUB_SUBSCRIBE_RATE_ADDRESS,
        key=lambda g, r: email,
    ):
        return too_many(request, wait)
    services.subscriber_request(email=email, choice=form.choice())
    return cookieless(redirect("subscribers:sent"))


@public
@condition(etag_func=etag)
def sent(request: HttpRequest) -> HttpResponse:
    return page(request, "subscribers/sent.html", {"mail_from": settings.STATUSHUB_MAIL_FROM})


def _subscriber(token: str, purpose: Purpose) -> Subscriber | None:
    max_age = settings.STATUSHUB_SUBSCRIBE_CONFIRM_HOURS * 3600 if purpose == Purpose.CONFIRM else None
    found = read_token(EMAIL, purpose, token, max_age=max_age)
    if found is None:
        return None
    return Subscriber.objects.filter(pk=found[0], token_nonce=found[1]).prefetch_related("components").first()


def _manage_url(subscriber: Subscriber) -> str:
    from subscribers.mail import token_for

    return reverse("subscribers:manage", args=[token_for(subscriber, Purpose.MANAGE)])


@csrf_exempt
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what will be confirmed and a button; only the POST confirms, so a mail scanner that opens
    links cannot subscribe anyone."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    try:
        subscriber = _subscriber(token, Purpose.CONFIRM)
    except TokenExpired:
        return bad_link(request, expired=True, again_url=reverse("subscribers:subscribe"))
    if subscriber is None:
        return bad_link(request)
    if request.method == "POST":
        subscriber = services.subscriber_confirm(subscriber=subscriber)
        return private(redirect(_manage_url(subscriber) + "?confirmed=1"))
    if subscriber.is_active:
        return private(redirect(_manage_url(subscriber)))
    return private(page(request, "subscribers/confirm.html", {"subscriber": subscriber}))


@csrf_exempt
def manage(request: HttpRequest, token: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    subscriber = _subscriber(token, Purpose.MANAGE)
    if subscriber is None:
        return bad_link(request)
    saved = False
    form = ChoiceForm(
        initial=ChoiceForm.initial_for(subscriber.all_components, list(subscriber.components.all()))
    )
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "unsubscribe":
            services.subscriber_unsubscribe(subscriber=subscriber, how="manage page")
            return private(redirect(request.path))
        if action == "resubscribe":
            # The link came by mail to this address, so it proves ownership as a confirmation would.
            services.subscriber_confirm(subscriber=subscriber)
            return private(redirect(request.path + "?confirmed=1"))
        form = ChoiceForm(request.POST)
        if form.is_valid():
            subscriber = services.subscriber_set_choice(subscriber=subscriber, choice=form.choice())
            saved = True
    subscriber.refresh_from_db()
    context = {
        "subscriber": subscriber,
        "form": form,
        "groups": selectors.component_groups(),
        "selected": form.selected_ids(),
        "saved": saved,
        "confirmed": request.GET.get("confirmed") == "1",
    }
    return private(page(request, "subscribers/manage.html", context, status=400 if form.errors else 200))


@csrf_exempt
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """RFC 8058: mail clients POST ``List-Unsubscribe=One-Click`` here with no page and no cookie, and expect
    it to take effect. A person who opens the link gets a page with one button (the same POST)."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    subscriber = _subscriber(token, Purpose.UNSUBSCRIBE)
    if subscriber is None:
        return bad_link(request)
    if request.method == "POST":
        subscriber = services.subscriber_unsubscribe(subscriber=subscriber, how="one-click")
        context = {"subscriber": subscriber, "done": True, "manage_url": _manage_url(subscriber)}
        return private(page(request, "subscribers/unsubscribe.html", context))
    context = {
        "subscriber": subscriber,
        "done": not subscriber.is_active,
        "manage_url": _manage_url(subscriber),
    }
    return private(page(request, "subscribers/unsubscribe.html", context))
