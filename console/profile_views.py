from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from console.profile_forms import ProfileForm
from people.services import profile_for


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """How you appear on the updates you publish."""
    instance = profile_for(request.user)  # type: ignore[arg-type]
    form = ProfileForm(request.POST or None, request.FILES or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(
            request, "Profile saved. New updates will carry it; published ones keep what they said."
        )
        return redirect("manage:profile")
    return render(request, "manage/profile.html", {"form": form, "profile": instance})
