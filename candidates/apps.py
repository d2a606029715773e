import warnings

from django.apps import AppConfig
from django.db.models.signals import post_delete


class CandidatesConfig(AppConfig):
    name = "candidates"
    verbose_name = "Candidates"

    def ready(self) -> None:
        from PIL import Image

        from . import photos
        from .models import Candidate

        # Pillow only warns about an image over Image.MAX_IMAGE_PIXELS (it raises at
        # twice that): decoding one is what a decompression bomb wants. An error here,
        # for every use of Pillow in the process (candidates.photos checks first too).
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        post_delete.connect(photos.photo_discard, sender=Candidate, dispatch_uid="candidates.photo_discard")
