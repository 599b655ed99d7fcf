"""A profile photo is re-encoded by Pillow and served as the image it is, whatever its uploader called it."""

import io

import pytest
from django.urls import reverse
from PIL import Image

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _image(fmt: str, name: str, *, mode: str = "RGB", trailer: bytes = b"") -> io.BytesIO:
    data = io.BytesIO()
    Image.new(mode, (40, 30), "teal").save(data, fmt)
    data.write(trailer)
    data.seek(0)
    data.name = name
    return data


def _upload(client, photo):
    return client.post(reverse("manage:profile"), {"title": "VP Engineering", "photo": photo})


def test_a_gif_carrying_html_is_stored_and_served_as_a_clean_png(client, publisher):
    client.force_login(publisher)
    hostile = _image("GIF", "photo.gif", mode="P", trailer=b"<script>alert(document.cookie)</script>")
    assert _upload(client, hostile).status_code == 302
    publisher.profile.refresh_from_db()
    name = publisher.profile.photo.name
    assert name.startswith("people/") and name.endswith(".png")
    response = client.get(publisher.profile.photo.url)
    body = b"".join(response.streaming_content)
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"<script>" not in body and Image.open(io.BytesIO(body)).format == "PNG"


def test_a_jpeg_stays_a_jpeg_with_its_metadata_dropped(client, publisher):
    client.force_login(publisher)
    data = io.BytesIO()
    image = Image.new("RGB", (40, 30), "teal")
    exif = image.getexif()
    exif[0x010F] = "SecretCam"  # camera make: metadata the reader has no business with
    image.save(data, "JPEG", exif=exif)
    data.seek(0)
    data.name = "me.webp"
    assert _upload(client, data).status_code == 302
    publisher.profile.refresh_from_db()
    assert publisher.profile.photo.name.endswith(".jpg")
    response = client.get(publisher.profile.photo.url)
    body = b"".join(response.streaming_content)
    assert response["Content-Type"] == "image/jpeg"
    assert b"SecretCam" not in body


def test_other_image_formats_are_refused_with_a_clear_error(client, publisher):
    client.force_login(publisher)
    response = _upload(client, _image("BMP", "photo.bmp"))
    assert response.status_code == 200
    assert "JPEG or PNG" in response.content.decode()


def test_only_stored_photos_of_known_types_are_served(client, publisher, tmp_path):
    (tmp_path / "people").mkdir()
    (tmp_path / "people" / "page.html").write_text("<script>alert(1)</script>")
    assert client.get("/media/people/page.html").status_code == 404
