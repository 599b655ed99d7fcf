"""Public, cookieless endpoints that let anyone verify a signed update without our code."""

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import condition

from incidents.documents import absolute, chain_entry, incident_document, key_document, update_document
from incidents.models import IncidentUpdate, SigningKey
from incidents.selectors import public_incidents
from incidents.views import etag, public
from statushub.lib import signing as lib

CHAIN_PAGE = 500


def _update(public_id: str) -> IncidentUpdate:
    queryset = IncidentUpdate.objects.exclude(signature="").select_related("signing_key", "corrects")
    return get_object_or_404(queryset, public_id=public_id)


def _json(data: object) -> JsonResponse:
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2}, safe=False)


@public
def update_redirect(request: HttpRequest, public_id: str) -> HttpResponse:
    update = _update(public_id)
    return redirect(reverse("status:incident", args=[update.incident_id]) + f"#update-{update.public_id}")


@public
@condition(etag_func=etag)
def update_statement(request: HttpRequest, public_id: str) -> HttpResponse:
    response = HttpResponse(bytes(_update(public_id).statement), content_type="application/octet-stream")
    response["Content-Disposition"] = f'inline; filename="statushub-{public_id}.statement"'
    return response


@public
@condition(etag_func=etag)
def update_json(request: HttpRequest, public_id: str) -> HttpResponse:
    return _json(update_document(_update(public_id)))


@public
@condition(etag_func=etag)
def incident_json(request: HttpRequest, pk: int) -> HttpResponse:
    updates = IncidentUpdate.objects.select_related("signing_key", "corrects").order_by(
        "-published_at", "-id"
    )
    queryset = public_incidents().prefetch_related(Prefetch("updates", queryset=updates))
    return _json(incident_document(get_object_or_404(queryset, pk=pk)))


@public
@condition(etag_func=etag)
def keys_json(request: HttpRequest) -> HttpResponse:
    keys = SigningKey.objects.order_by("created_at", "id")
    return _json({"keys": [key_document(key) for key in keys]})


@public
@condition(etag_func=etag)
def key_pem(request: HttpRequest, kid: str) -> HttpResponse:
    key = get_object_or_404(SigningKey, kid=kid)
    return HttpResponse(lib.public_pem(bytes(key.public_key)), content_type="application/x-pem-file")


@public
@condition(etag_func=etag)
def chain_json(request: HttpRequest, after: int | None = None) -> HttpResponse:
    """The chain, 500 entries a page. Later pages live at ``chain/<after>.json`` (a path, so a static export
    holds them too); ``?after=`` on the first address still works."""
    if after is None:
        try:
            after = max(0, int(request.GET.get("after", "0")))
        except ValueError:
            return HttpResponse("after must be a whole number", status=400, content_type="text/plain")
    page = list(
        IncidentUpdate.objects.exclude(signature="")
        .filter(seq__gt=after)
        .select_related("signing_key")
        .order_by("seq")[: CHAIN_PAGE + 1]
    )
    more = len(page) > CHAIN_PAGE
    page = page[:CHAIN_PAGE]
    next_url = absolute(reverse("status:chain-page", args=[page[-1].seq])) if more and page else None
    return _json({"site": absolute(""), "entries": [chain_entry(u) for u in page], "next": next_url})
