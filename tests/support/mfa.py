"""Staff past the second factor (accounts/mfa/): the admin lets no one in without it.

- ``staff_login(client, user)``: ``force_login`` plus a confirmed authenticator that
  this client's session has passed, as after /auth/two-factor/verify/.
- ``authenticator(user)``: a confirmed TOTP device; ``code_now(device)`` the code its app
  shows now (RFC 6238, django-otp's own arithmetic).
"""

import time

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def authenticator(user, *, confirmed: bool = True) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=confirmed)


def code_now(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code the authenticator app of ``device`` shows now (or ``steps_ahead`` steps of 30 s later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def pass_two_factor(client: Client, user) -> TOTPDevice:
    """Give ``user`` an authenticator and mark ``client``'s session as having passed it."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or authenticator(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


def staff_login(client: Client, user) -> TOTPDevice:
    """Sign ``user`` (staff) in on ``client``, second factor passed."""
    client.force_login(user)
    return pass_two_factor(client, user)
