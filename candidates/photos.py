"""Candidate photos: what an upload becomes before it is stored, and how it is served.

An upload is never stored as sent. It is decoded with Pillow and drawn again as a
new JPEG (``PHOTO_FORMAT``) under a random name ending in ``.jpg``: no EXIF (a
phone's photo carries the GPS position of where it was taken, often the
candidate's home), no comment, no colour profile and no file name or extension
chosen by the uploader survive. Stored photos are always JPEG, so they are served
as ``image/jpeg`` whatever the file was called (``PHOTO_CONTENT_TYPE``).

Decompression bombs (a small file that decodes to a huge bitmap) are refused from
the header, before any pixel is decoded: over ``CANDIDATES_PHOTO_MAX_PIXELS`` or
Pillow's own ``Image.MAX_IMAGE_PIXELS``, whichever is smaller. The app also turns
Pillow's ``DecompressionBombWarning`` into an error process-wide (CandidatesConfig),
so no other code path can decode such an image either.

Django deletes a row, not the file its ImageField names: when a Candidate row is
deleted (with its account, by the cascade from accounts.User, or in the admin),
``photo_discard`` removes the photo, personal data, from storage once the deletion
commits; a rolled-back deletion keeps it (connected in candidates.apps).
"""

import io
import logging
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

# What a candidate may upload, as Pillow names the formats.
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
PHOTO_FORMAT = "JPEG"
PHOTO_EXTENSION = ".jpg"
PHOTO_CONTENT_TYPE = "image/jpeg"
# Stored photos are scaled down to fit this square: pages show them at 160 px.
PHOTO_MAX_SIDE = 1200
PHOTO_QUALITY = 85
# A transparent PNG or WebP is laid on white: JPEG has no transparency.
BACKGROUND = (255, 255, 255)


def max_pixels() -> int:
    """The most pixels (width x height) an upload may decode to."""
    limit = settings.CANDIDATES_PHOTO_MAX_PIXELS
    return min(limit, Image.MAX_IMAGE_PIXELS) if Image.MAX_IMAGE_PIXELS else limit


def photo_reencode(*, upload) -> ContentFile:
    """The uploaded file ``upload`` (any file-like with ``size``) as a clean JPEG, ready to store.

    Raises ValidationError, with a message for the uploader, for a file over
    CANDIDATES_PHOTO_MAX_BYTES, one that is not a JPEG, PNG or WebP image, a damaged
    one, or one over the pixel limit (``max_pixels``). Returns a ContentFile named
    ``<random hex>.jpg`` holding only the pixels (orientation applied, at most
    PHOTO_MAX_SIDE on each side), RGB, without any metadata of the upload.
    """
    if upload.size > settings.CANDIDATES_PHOTO_MAX_BYTES:
        raise ValidationError(
            _("The photo is %(size)s; the limit is %(limit)s.")
            % {"size": filesizeformat(upload.size), "limit": filesizeformat(settings.CANDIDATES_PHOTO_MAX_BYTES)},
            code="photo_too_big",
        )
    upload.seek(0)
    try:
        # open() reads the header only; a bomb over twice Pillow's limit (or over it,
        # with the warning an error) is refused here already.
        with Image.open(upload) as image:
            if image.format not in ACCEPTED_FORMATS:
                raise ValidationError(_("Upload a JPEG, PNG or WebP photo."), code="photo_format")
            width, height = image.size
            if width * height > max_pixels():
                raise ValidationError(
                    _("The photo is %(width)s × %(height)s pixels; please upload a smaller one.")
                    % {"width": width, "height": height},
                    code="photo_pixels",
                )
            # JPEG can decode at a fraction of its size: a big photo never takes
            # its full size in memory.
            image.draft("RGB", (PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
            image = ImageOps.exif_transpose(image)  # as the camera held it, before EXIF goes
            image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
            clean = _pixels_only(image)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError(
            _("The photo has too many pixels; please upload a smaller one."), code="photo_pixels"
        ) from exc
    except Exception as exc:
        # Pillow raises many kinds of error for a file that is not an image or is damaged.
        raise ValidationError(
            _("Upload a valid JPEG, PNG or WebP photo: this file is not one, or is damaged."), code="photo_invalid"
        ) from exc
    out = io.BytesIO()
    clean.save(out, format=PHOTO_FORMAT, quality=PHOTO_QUALITY, optimize=True)
    return ContentFile(out.getvalue(), name=uuid.uuid4().hex + PHOTO_EXTENSION)


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new RGB image with the pixels of ``image`` and nothing else (``info`` empty: no EXIF, ICC, comment)."""
    clean = Image.new("RGB", image.size, BACKGROUND)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        clean.paste(rgba, mask=rgba.getchannel("A"))
    else:
        clean.paste(image.convert("RGB"))
    return clean


logger = logging.getLogger("candidates")


def photo_discard(sender, instance, using=None, **kwargs) -> None:
    """``post_delete`` of Candidate: delete ``instance.photo``'s file after the commit, if it had one."""
    photo = instance.photo
    if not photo:
        return
    storage, name = photo.storage, photo.name

    def discard() -> None:
        try:
            storage.delete(name)
        except OSError as exc:  # the row is gone either way; the file is an orphan to report
            logger.warning("photo %s of deleted candidate %s not removed: %s", name, instance.pk, exc)

    transaction.on_commit(discard, using=using)
