import warnings

from django.apps import AppConfig


class CandidatesConfig(AppConfig):
    name = "candidates"
    verbose_name = "Candidates"

    def ready(self) -> None:
        from PIL import Image

        # Pillow only warns about an image over Image.MAX_IMAGE_PIXELS (it raises at
        # twice that): decoding one is what a decompression bomb wants. An error here,
        # for every use of Pillow in the process (candidates.photos checks first too).
        warnings.simplefilter("error", Image.DecompressionBombWarning)
