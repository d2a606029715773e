"""Photos stored before uploads were re-encoded: re-encode them now (candidates.photos).

Such a file is the upload as sent: its EXIF (a phone's GPS position), its
extension, and whatever else it carried. Each becomes a clean JPEG under a new
name and the original is deleted. A file that cannot be re-encoded (gone,
damaged, over today's limits) is removed from the profile and deleted: the
candidate uploads a photo again, and nothing unchecked is ever served.
"""

import re

from django.db import migrations

from candidates.photos import PHOTO_EXTENSION, photo_reencode

# What photo_reencode names its files: 32 hex digits and the extension.
_REENCODED = re.compile(r"^[0-9a-f]{32}" + re.escape(PHOTO_EXTENSION) + "$")


def reencode(apps, schema_editor):
    from django.core.exceptions import ValidationError

    Candidate = apps.get_model("candidates", "Candidate")
    for candidate in Candidate.objects.using(schema_editor.connection.alias).exclude(photo="").iterator():
        old = candidate.photo.name
        if _REENCODED.match(old.rsplit("/", 1)[-1]):
            continue
        storage = candidate.photo.storage
        try:
            with storage.open(old, "rb") as original:
                clean = photo_reencode(upload=original)
        except (OSError, ValidationError):
            candidate.photo = ""
        else:
            candidate.photo.save(clean.name, clean, save=False)
        candidate.save(update_fields=["photo"])
        storage.delete(old)


class Migration(migrations.Migration):
    dependencies = [("candidates", "0004_submissions")]

    operations = [migrations.RunPython(reencode, migrations.RunPython.noop, elidable=True)]
