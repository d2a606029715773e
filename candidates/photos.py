"""A deleted profile's photo leaves the disk too.

Django deletes a row, not the file its ImageField names. When a Candidate row is
deleted (with its account, by the cascade from accounts.User, or in the admin),
the photo, personal data, is removed from storage once the deletion commits: a
rolled-back deletion keeps it. Connected to ``post_delete`` in candidates.apps.
"""

import logging

from django.db import transaction

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
