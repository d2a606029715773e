"""Only an account that holds its address (verified, or active) makes it unique; pending sign-ups may share it.

So a sign-up with a taken address can leave the same inactive user row as one with a
free address (accounts.services.user_signup). The new index is stricter nowhere: it
only drops rows from the old one, so existing data always satisfies it.
"""

import django.db.models.functions.text
from django.db import migrations, models

import accounts.models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_address_requests_and_reset_fingerprint"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", accounts.models.AccountManager()),
            ],
        ),
        migrations.RemoveConstraint(
            model_name="user",
            name="accounts_user_email_ci_unique",
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("email"),
                condition=models.Q(("email_verified_at__isnull", False), ("is_active", True), _connector="OR"),
                name="accounts_user_email_holder_ci_unique",
            ),
        ),
    ]
