"""The admin site: Django's, with a second factor (TOTP or a recovery code) for every staff login.

``electnepal.admin_apps.AdminConfig`` (in INSTALLED_APPS instead of ``django.contrib.admin``) makes
``StaffAdminSite`` the default site, so every ``admin.site.register`` and
``admin.site.admin_view`` of the project gets it. Staff who signed in with their
password but have not passed the second factor in this session are sent to
``/auth/two-factor/verify/`` (a device is set up) or ``/auth/two-factor/setup/``
(none yet): they cannot reach any admin page until then (accounts/mfa/).
"""

from functools import update_wrapper
from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django_otp import user_has_device
from django_otp.admin import OTPAdminSite


def two_factor_url(user, next_url: str) -> str:
    """Where staff ``user`` passes the second factor before going on to ``next_url``."""
    step = "two_factor:verify" if user_has_device(user) else "two_factor:setup"
    return f"{reverse(step)}?{urlencode({'next': next_url})}"


class StaffAdminSite(OTPAdminSite):
    """OTPAdminSite (has_permission also requires ``request.user.is_verified()``), keeping
    the name ``admin`` so that every ``admin:`` URL name stays as it is."""

    def __init__(self, name: str = "admin"):
        super().__init__(name)

    def admin_view(self, view, cacheable=False):
        """``AdminSite.admin_view``, but staff without the second factor go and pass it
        first (rather than to the login page, which would send them straight back)."""
        guarded = super().admin_view(view, cacheable)

        def view_after_two_factor(request, *args, **kwargs):
            user = request.user
            logging_out = request.path == reverse("admin:logout", current_app=self.name)
            if user.is_active and user.is_staff and not user.is_verified() and not logging_out:
                return redirect(two_factor_url(user, request.get_full_path()))
            return guarded(request, *args, **kwargs)

        return update_wrapper(never_cache(view_after_two_factor), view)
