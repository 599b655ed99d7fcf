from django import forms
from django.core.files.uploadedfile import UploadedFile

from people.models import Profile
from people.photos import PhotoError, reencode

MAX_PHOTO_BYTES = 2 * 1024 * 1024


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ["display_name", "title", "photo", "work_email", "work_phone", "work_handle"]

    def clean_photo(self) -> object:
        photo = self.cleaned_data.get("photo")
        if photo and getattr(photo, "size", 0) > MAX_PHOTO_BYTES:
            raise forms.ValidationError("The photo must be 2 MB or smaller.")
        if photo and isinstance(photo, UploadedFile):  # a new upload (not the photo already stored)
            try:
                return reencode(photo)
            except PhotoError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return photo
