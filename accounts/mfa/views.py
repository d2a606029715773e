"""The two-factor pages (/auth/two-factor/...): staff only, thin; the logic is in services.

Every page answers ``Cache-Control: no-store`` (the set-up page shows the secret, the
next one the recovery codes) and redirects onwards only to a ``next`` on this site.
"""

from base64 import b32encode
from functools import wraps

import segno
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import DEVICE_ID_SESSION_KEY, user_has_device
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from . import services
from .forms import CodeForm, DisableForm


def _staff_only(view):
    """Signed in (else to the login page) as active staff (else 403); GET and POST only."""

    @never_cache
    @require_http_methods(["GET", "POST"])
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _next_url(request) -> str:
    """``next`` if it is a path on this site, else the admin's index."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return url
    return reverse("admin:index")


def _to(viewname: str, request):
    response = redirect(viewname)
    response["Location"] += "?" + request.GET.urlencode() if request.GET else ""
    return response


def _passed(request, device) -> None:
    """This session passed the second factor with ``device``; a new session id for it."""
    otp_login(request, device)
    request.session.cycle_key()


@_staff_only
@sensitive_post_parameters("token")
def setup(request):
    """No authenticator yet: show its QR code and secret; a right code turns two-factor on
    and shows the recovery codes, once."""
    user = request.user
    if services.two_factor_enabled(user=user):
        return _to("two_factor:verify", request)
    device = services.two_factor_device_start(user=user)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        enabled = services.two_factor_enable(user=user, device_id=device.pk, token=form.cleaned_data["token"])
        if enabled:
            device, codes = enabled
            _passed(request, device)
            return render(request, "accounts/mfa/recovery_codes.html", {"codes": codes, "next_url": _next_url(request)})
        form.add_error(
            "token", _("That code is not right. Check that your phone's clock is right and enter the newest code.")
        )
    context = {
        "form": form,
        "qr_svg": mark_safe(segno.make(device.config_url, error="m").svg_inline(scale=4)),  # noqa: S308 segno's SVG of our own URL
        "secret": b32encode(device.bin_key).decode(),
        "next_url": _next_url(request),
    }
    return render(request, "accounts/mfa/setup.html", context)


@_staff_only
@sensitive_post_parameters("token")
def verify(request):
    """A code from the authenticator, or a recovery code, lets this session into the admin."""
    user = request.user
    if user.is_verified():
        return redirect(_next_url(request))
    if not user_has_device(user):
        return _to("two_factor:setup", request)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        device = services.two_factor_check(user=user, token=form.cleaned_data["token"])
        if device is not None:
            _passed(request, device)
            if isinstance(device, StaticDevice):
                left = device.token_set.count()
                used = ngettext(
                    "You used a recovery code; %(left)d is left. Turn two-factor off and on again to get new ones.",
                    "You used a recovery code; %(left)d are left. Turn two-factor off and on again to get new ones.",
                    left,
                )
                messages.warning(request, used % {"left": left})
            return redirect(_next_url(request))
        form.add_error("token", _("That code is not right."))
    return render(request, "accounts/mfa/verify.html", {"form": form, "next_url": _next_url(request)})


@_staff_only
@sensitive_post_parameters("password", "token")
def disable(request):
    """With the password and a current code: every device deleted, the address told."""
    user = request.user
    if not user.is_verified():
        return redirect(f"{reverse('two_factor:verify')}?next={reverse('two_factor:disable')}")
    form = DisableForm(request.POST or None, user=user)
    if form.is_valid():
        if services.two_factor_check(user=user, token=form.cleaned_data["token"]) is None:
            form.add_error("token", _("That code is not right."))
        else:
            services.two_factor_disable(user=user)
            request.session.pop(DEVICE_ID_SESSION_KEY, None)
            messages.success(request, _("Two-factor authentication is off. The admin will ask you to set it up again."))
            return redirect("home")
    return render(request, "accounts/mfa/disable.html", {"form": form})
