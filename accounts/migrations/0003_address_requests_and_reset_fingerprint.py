"""AddressRequest (resend and forgot-password posts handled by a worker); reset tokens bound to the password hash.

Tokens made before this migration have an empty fingerprint and die: they lived 24 h at most.
"""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="AddressRequest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[("verification_resend", "Resend verification"), ("password_reset", "Password reset")],
                        max_length=32,
                    ),
                ),
                ("email", models.EmailField(max_length=254)),
                ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
            ],
        ),
        migrations.AddField(
            model_name="passwordresettoken",
            name="password_fingerprint",
            field=models.CharField(default="", editable=False, max_length=64),
        ),
    ]
