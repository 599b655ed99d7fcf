"""Profile photos are decoded and re-encoded by Pillow, so what is stored and served is only an image.

An upload keeps nothing of its own: not its name or extension (which set the type it would be served with), not
bytes appended after the image (a GIF can carry HTML), not its metadata (EXIF can hold where it was taken).
"""

from __future__ import annotations

import io
import secrets

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED = {"JPEG", "PNG", "GIF", "WEBP"}
MAX_SIDE = 1024  # photos are shown at avatar size; larger ones only cost bytes
# Served with these types: the URL pattern and nginx both go by the extension.
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg"}


class PhotoError(ValueError):
    pass


def reencode(upload: UploadedFile) -> ContentFile[bytes]:
    """The upload as a fresh JPEG (photos) or PNG (images with transparency or few colours), randomly named."""
    upload.seek(0)
    try:
        with Image.open(upload) as original:
            if original.format not in ACCEPTED:
                raise PhotoError(
                    f"Upload a photo in JPEG or PNG (GIF and WebP are converted too), not {original.format}."
                )
            original.seek(0)  # an animated GIF keeps its first frame
            image = ImageOps.exif_transpose(original)
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            as_png = (
                original.format in ("PNG", "GIF") or "A" in image.getbands() or "transparency" in image.info
            )
            out = io.BytesIO()
            if as_png:
                image.convert("RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB").save(
                    out, "PNG", optimize=True
                )
            else:
                image.convert("RGB").save(out, "JPEG", quality=88)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise PhotoError("Upload a valid image: this file is not one, or it is damaged.") from exc
    return ContentFile(out.getvalue(), name=f"{secrets.token_hex(8)}.{'png' if as_png else 'jpg'}")
