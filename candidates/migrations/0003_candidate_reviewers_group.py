"""The "Candidate reviewers" group: may view profiles and approve or reject them, nothing else.

Permissions are normally created after every migration has run (post_migrate), so
on a fresh database they do not exist yet here: they are made as Django would make
them, and create_permissions finds them later.
"""

from django.db import migrations

GROUP = "Candidate reviewers"
PERMISSIONS = {
    "view_candidate": "Can view candidate",
    "review_candidate": "Can approve or reject candidate profiles",
}


def create_group(apps, schema_editor):
    db = schema_editor.connection.alias
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    content_type, _ = ContentType.objects.using(db).get_or_create(app_label="candidates", model="candidate")
    permissions = [
        Permission.objects.using(db).get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )[0]
        for codename, name in PERMISSIONS.items()
    ]
    group, _ = Group.objects.using(db).get_or_create(name=GROUP)
    # Exactly these: a group that exists already is brought back to them.
    group.permissions.set(permissions)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("candidates", "0002_review_permission"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
