"""Candidate photos: the body capped before parsing, re-encoded without metadata, no bombs, served as JPEG."""

import io
import os
import struct
import subprocess
import sys
import zlib

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.test import Client
from PIL import Image

from candidates.models import Candidate
from tests.support.candidates import logged_in, make_user, png, step1, step_url

pytestmark = pytest.mark.django_db

GPS = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def jpeg_with_gps(size=(64, 48), *, orientation: int = 1) -> bytes:
    """A camera-like JPEG: GPS position (Kathmandu), camera make, orientation, a comment."""
    image = Image.new("RGB", size, (30, 120, 200))
    exif = Image.Exif()
    exif[MAKE] = "Phone Camera"
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS).update({1: "N", 2: (27.0, 42.0, 3.5), 3: "E", 4: (85.0, 19.0, 1.2)})
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"home, Baneshwor")
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS)[2] == (27.0, 42.0, 3.5)  # it really is there
    return data


def png_bomb(width: int, height: int) -> bytes:
    """A real, valid PNG of ``width`` x ``height`` black 1-bit pixels, a few kB on disk.

    Written chunk by chunk (never held as a bitmap here): this is what a
    decompression bomb looks like to the server.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\x00" * ((width + 7) // 8)  # filter byte + the row's bits
    squeeze = zlib.compressobj(9)
    idat = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def upload(data: bytes, name: str, content_type: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def form_errors(response) -> dict:
    assert response.status_code == 200, response.status_code  # a form error, never a 500
    return response.context["form"].errors


# --- Re-encoded: no EXIF, no GPS, a fixed format and extension -----------------------------


def test_a_jpeg_with_gps_is_stored_re_encoded_without_any_metadata(media):
    client = logged_in(make_user())
    photo = upload(jpeg_with_gps((64, 48), orientation=6), "IMG_2041.JPEG", "image/jpeg")
    assert client.post(step_url(1), {**step1(), "photo": photo}).status_code == 302

    candidate = Candidate.objects.get()
    assert candidate.photo.name.startswith("candidates/photos/") and candidate.photo.name.endswith(".jpg")
    assert "IMG_2041" not in candidate.photo.name
    stored = (media / candidate.photo.name).read_bytes()
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert dict(image.getexif()) == {} and not image.getexif().get_ifd(GPS)
    assert "exif" not in image.info and "comment" not in image.info and "icc_profile" not in image.info
    assert b"Phone Camera" not in stored and b"Baneshwor" not in stored
    assert image.size == (48, 64)  # orientation 6 applied before the tag went


def test_a_png_or_webp_becomes_a_jpeg_named_jpg(media):
    client = logged_in(make_user())
    for data, name in ((png((40, 30)).read(), "photo.png"), (_webp(), "picture.webp")):
        response = client.post(step_url(1), {**step1(), "photo": upload(data, name, "image/png")})
        assert response.status_code == 302
        candidate = Candidate.objects.get()
        assert candidate.photo.name.endswith(".jpg")
        assert Image.open(media / candidate.photo.name).format == "JPEG"


def _webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (20, 20), (0, 200, 0, 128)).save(out, format="WEBP")
    return out.getvalue()


def test_another_image_format_is_refused(media):
    client = logged_in(make_user())
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, format="GIF")
    errors = form_errors(client.post(step_url(1), {**step1(), "photo": upload(gif.getvalue(), "a.gif", "image/gif")}))
    assert errors["photo"] == ["Upload a JPEG, PNG or WebP photo."]


# --- Decompression bombs ---------------------------------------------------------------------


# As in a process of the site (CandidatesConfig): pytest resets the filters around each test.
@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_a_pixel_bomb_over_pillows_limit_is_a_form_error_and_never_decoded(media):
    # 10,000 x 9,000 = 90 M pixels: over Image.MAX_IMAGE_PIXELS (89.5 M), under twice
    # it, where Pillow by itself only warns. 11 kB on the wire.
    bomb = png_bomb(10_000, 9_000)
    assert len(bomb) < 64 * 1024 and Image.MAX_IMAGE_PIXELS < 10_000 * 9_000
    client = logged_in(make_user())
    errors = form_errors(client.post(step_url(1), {**step1(), "photo": upload(bomb, "bomb.png", "image/png")}))
    assert "pixels" in errors["photo"][0]
    assert Candidate.objects.get().step == 0 and not media.exists()


def test_a_photo_over_the_sites_own_pixel_limit_is_a_form_error(media, settings):
    settings.CANDIDATES_PHOTO_MAX_PIXELS = 1_000_000
    client = logged_in(make_user())
    errors = form_errors(
        client.post(step_url(1), {**step1(), "photo": upload(png_bomb(1200, 900), "b.png", "image/png")})
    )
    assert errors["photo"] == ["The photo is 1200 × 900 pixels; please upload a smaller one."]


def test_pillows_bomb_warning_is_an_error_in_a_process_of_the_site(tmp_path):
    # In a process of its own: pytest resets warning filters around its phases, a
    # web or worker process does not.
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(10_000, 9_000))
    script = (
        "import django; django.setup()\n"
        "from PIL import Image\n"
        "try:\n"
        f"    Image.open({str(bomb)!r})\n"
        "except Image.DecompressionBombWarning:\n"
        "    print('refused')\n"
        "else:\n"
        "    print('opened')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, cwd=settings.BASE_DIR
    )
    assert result.stdout.strip() == "refused", result.stderr


# --- The body is capped before it is parsed ---------------------------------------------------


class RecordingUploadHandler(MemoryFileUploadHandler):
    """Django's in-memory handler, noting each file that parsing reached (the proof that a body was parsed)."""

    files = []

    def new_file(self, field_name, *args, **kwargs):
        RecordingUploadHandler.files.append(field_name)
        return super().new_file(field_name, *args, **kwargs)


@pytest.fixture
def recorded_uploads(settings):
    RecordingUploadHandler.files = []
    settings.FILE_UPLOAD_HANDLERS = [
        f"{__name__}.RecordingUploadHandler",
        "django.core.files.uploadhandler.TemporaryFileUploadHandler",
    ]
    return RecordingUploadHandler.files


def test_an_oversize_body_is_refused_with_413_before_it_is_parsed(media, settings, recorded_uploads):
    settings.CANDIDATES_PHOTO_MAX_BYTES = 100 * 1024
    settings.CANDIDATES_UPLOAD_MAX_BYTES = 110 * 1024
    client = logged_in(make_user())
    big = upload(b"\xff\xd8\xff" + b"\0" * (300 * 1024), "big.jpg", "image/jpeg")
    response = client.post(step_url(1), {**step1(), "photo": big})
    assert response.status_code == 413
    assert "a photo may be at most 100.0\xa0KB" in response.content.decode()
    assert recorded_uploads == []  # nothing read the multipart body: no file was ever parsed
    assert not Candidate.objects.filter(step__gt=0).exists()

    # Under the cap, the same request is parsed and judged by the form as usual.
    small = png((40, 40))
    assert client.post(step_url(1), {**step1(), "photo": small}).status_code == 302
    assert recorded_uploads == ["photo"]


def test_the_capped_view_still_checks_csrf(media):
    user = make_user()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(step_url(1), step1()).status_code == 403
    page = client.get(step_url(1))
    token = page.cookies["csrftoken"].value
    assert client.post(step_url(1), {**step1(), "csrfmiddlewaretoken": token}).status_code == 302


# --- Served as image/jpeg, to those who may see it ----------------------------------------------


def test_the_photo_is_served_as_jpeg_to_the_owner_and_staff_and_once_approved_to_everyone(media):
    owner = make_user()
    client = logged_in(owner)
    client.post(step_url(1), {**step1(), "photo": upload(jpeg_with_gps(), "me.php.png", "text/html")})
    candidate = Candidate.objects.get()
    url = f"/candidates/{candidate.pk}/photo.jpg"

    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg" and response["X-Content-Type-Options"] == "nosniff"
    body = b"".join(response.streaming_content)
    assert Image.open(io.BytesIO(body)).format == "JPEG"
    assert url in client.get(step_url(1)).content.decode()  # the form links to it, not to MEDIA_URL

    assert Client().get(url).status_code == 404  # a draft's photo is not public
    assert logged_in(make_user("other")).get(url).status_code == 404
    assert Client().get("/media/" + candidate.photo.name).status_code == 404  # MEDIA_ROOT is not served
    Candidate.objects.filter(pk=candidate.pk).update(status=Candidate.Status.APPROVED)
    assert Client().get(url)["Content-Type"] == "image/jpeg"


def test_a_replaced_photo_leaves_no_file_behind(media, django_capture_on_commit_callbacks):
    client = logged_in(make_user())

    def post(data):
        with django_capture_on_commit_callbacks(execute=True):  # as at the request's commit
            assert client.post(step_url(1), {**step1(), **data}).status_code == 302

    post({"photo": upload(jpeg_with_gps(), "a.jpg", "image/jpeg")})
    first = Candidate.objects.get().photo.name
    assert (media / first).exists()
    post({"photo": png()})
    second = Candidate.objects.get().photo.name
    assert second != first and (media / second).exists() and not (media / first).exists()
    post({"photo-clear": "on"})
    assert not Candidate.objects.get().photo and not (media / second).exists()


def test_photos_stored_before_re_encoding_are_re_encoded_by_the_migration(transactional_db, media):
    from django.core.files.base import ContentFile
    from django.core.management import call_command

    call_command("migrate", "candidates", "0004", verbosity=0)
    with_gps = Candidate.objects.create(user=make_user("hari"), full_name_en="Hari")
    with_gps.photo.save("home.JPG", ContentFile(jpeg_with_gps()))
    broken = Candidate.objects.create(user=make_user("gita"), full_name_en="Gita")
    broken.photo.save("cv.png", ContentFile(b"not an image"))
    old_files = [media / with_gps.photo.name, media / broken.photo.name]
    assert all(path.exists() for path in old_files)

    call_command("migrate", "candidates", verbosity=0)
    with_gps.refresh_from_db()
    broken.refresh_from_db()
    assert with_gps.photo.name.endswith(".jpg") and "home" not in with_gps.photo.name
    image = Image.open(media / with_gps.photo.name)
    assert image.format == "JPEG" and not image.getexif().get_ifd(GPS) and not dict(image.getexif())
    assert not broken.photo  # could not be made safe: gone, to be uploaded again
    assert not any(path.exists() for path in old_files)
