"""Two-factor services: set up, check, turn off. Keyword-only; callers hold no logic.

A staff member has at most one confirmed TOTP device ("authenticator") and one
static device holding their unused recovery codes. Turning two-factor on or off
emails the account's address through the outbox, in the same transaction, so that
whoever did it with a stolen password cannot do it unnoticed.
"""

from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from mailer import api as mail

from ..models import User

TEMPLATE_ENABLED = "accounts/email/two_factor_enabled"
TEMPLATE_DISABLED = "accounts/email/two_factor_disabled"
RECOVERY_CODES = 10
AUTHENTICATOR = "Authenticator app"
RECOVERY = "Recovery codes"


def _notify(user: User, template: str) -> None:
    mail.enqueue(
        template=template,
        to=user.email,
        language=user.preferred_language,
        priority=mail.Priority.HIGH,
        context={"username": user.get_username(), "forgot_url": mail.site_url("accounts:forgot-password")},
    )


def two_factor_enabled(*, user: User) -> bool:
    """Whether ``user`` has a confirmed authenticator."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_device_start(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator ``user`` is setting up (made once, kept across reloads)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR, confirmed=False)


def two_factor_enable(*, user: User, device_id: int, token: str) -> tuple[TOTPDevice, list[str]] | None:
    """Confirm ``user``'s unconfirmed authenticator ``device_id`` with a ``token`` it shows.

    Success: the device confirmed, new recovery codes (any older ones deleted), the
    "two-factor enabled" email queued, all in one transaction; returns the device
    and the codes, which exist in plain text nowhere else the user can see again.
    A wrong or stale token, or a device that is not ``user``'s unconfirmed one: None,
    nothing changed.
    """
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(pk=device_id, user=user, confirmed=False).first()
        if device is None or not device.verify_token(token):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        # One authenticator: an older confirmed one (re-enrolment) stops working.
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        StaticDevice.objects.filter(user=user).delete()
        recovery = StaticDevice.objects.create(user=user, name=RECOVERY, confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=recovery, token=code) for code in codes)
        _notify(user, TEMPLATE_ENABLED)
    return device, codes


def two_factor_check(*, user: User, token: str) -> Device | None:
    """The confirmed device of ``user`` that accepts ``token``, or None.

    Digits go to the authenticator (a code is accepted once: django-otp keeps the last
    time step used), anything else to the recovery codes (a code is deleted when used).
    Failures slow that device down (django-otp's throttling), so codes cannot be found
    by trying them all. Rows are locked: two requests with one code, one wins.
    """
    token = "".join(token.split()).lower()
    if not token:
        return None
    model = TOTPDevice if token.isdigit() else StaticDevice
    with transaction.atomic():
        for device in model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk"):
            if device.verify_token(token):
                return device
    return None


def two_factor_disable(*, user: User) -> None:
    """Delete every device of ``user`` and queue the "two-factor disabled" email, in one transaction."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        _notify(user, TEMPLATE_DISABLED)
