from django.apps import AppConfig
from django.db.models.signals import post_delete


class CandidatesConfig(AppConfig):
    name = "candidates"
    verbose_name = "Candidates"

    def ready(self):
        from . import photos
        from .models import Candidate

        post_delete.connect(photos.photo_discard, sender=Candidate, dispatch_uid="candidates.photo_discard")
