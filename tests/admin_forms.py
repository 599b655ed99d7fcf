"""Build the POST body a browser would send for a Django admin change form, from the rendered context."""

from typing import Any

from django.forms import BaseForm, MultiWidget


def _add_field(data: dict[str, Any], form: BaseForm, name: str) -> None:
    bound = form[name]
    value = bound.value()
    key = form.add_prefix(name)
    widget = form.fields[name].widget
    if isinstance(widget, MultiWidget):
        for index, part in enumerate(widget.decompress(value) or []):
            if part is not None:
                data[f"{key}_{index}"] = part
    elif value is True:
        data[key] = "on"
    elif value in (None, False):
        return
    elif isinstance(value, list | tuple):
        data[key] = [str(v) for v in value]
    else:
        data[key] = value


def change_form_data(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    adminform = response.context["adminform"]
    for name in adminform.form.fields:
        _add_field(data, adminform.form, name)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for form in formset.forms:
            for name in form.fields:
                _add_field(data, form, name)
    return data


def inline(response: Any, model_name: str) -> Any:
    for inline_formset in response.context["inline_admin_formsets"]:
        if inline_formset.formset.model._meta.model_name == model_name:
            return inline_formset
    raise LookupError(f"no inline for {model_name}")


def inline_prefix(response: Any, model_name: str) -> str:
    return str(inline(response, model_name).formset.prefix)
