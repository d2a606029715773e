"""Account pages. Each view validates a form, calls one service and redirects."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language as django_set_language
from django_ratelimit.decorators import ratelimit

from . import language, ratelimits, services
from .forms import EmailAddressForm, LoginForm, SetPasswordForm, SignupForm
from .models import AddressRequest
from .ratelimits import limit, link_key, posted_email_key

# Module-level texts are lazy: translated when a request shows them, in its language.
CHECK_YOUR_EMAIL = gettext_lazy("Thanks. Check your email: we sent you a link to continue.")
IF_REGISTERED = gettext_lazy(
    "If that address belongs to an account, we have sent it an email. It may take a few minutes to arrive."
)


def posted(request):
    """The POST data of a POST (even an empty one), else None for an unbound form."""
    return request.POST if request.method == "POST" else None


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
@ratelimit(group="signup", key="ip", rate=limit("RATELIMIT_SIGNUP"), method="POST", block=True)
@ratelimit(
    group="signup-address", key=posted_email_key, rate=limit("RATELIMIT_EMAIL_FORM_ADDRESS"), method="POST", block=True
)
def signup(request):
    """``/auth/signup/``: the same answer (302 to login, "check your email") whether the address is new or taken."""
    form = SignupForm(posted(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.user_signup(
                username=data["username"],
                email=data["email"],
                password=data["password1"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                preferred_language=data["preferred_language"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            # The same answer whether or not the address already had an account.
            messages.success(request, CHECK_YOUR_EMAIL)
            return redirect("accounts:login")
    return render(request, "accounts/signup.html", {"form": form})


VERIFY_OUTCOMES = {
    services.VerifyResult.VERIFIED: (
        messages.SUCCESS,
        gettext_lazy("Your email address is verified. You can log in now."),
        "accounts:login",
    ),
    services.VerifyResult.ALREADY_VERIFIED: (
        messages.INFO,
        gettext_lazy("This address is already verified. Please log in."),
        "accounts:login",
    ),
    services.VerifyResult.EXPIRED: (
        messages.ERROR,
        gettext_lazy("This verification link has expired. Enter your address to get a new one."),
        "accounts:resend-verification",
    ),
    services.VerifyResult.UNKNOWN: (
        messages.ERROR,
        gettext_lazy("This verification link is not valid."),
        "accounts:login",
    ),
}


def keep_link_private(response):
    """``response`` of a page whose URL carries a token, with the Referrer-Policy that keeps it there."""
    # The URL carries the token: keep it out of Referer headers (and caches, never_cache).
    # "strict-origin", not "no-referrer": a Referer never holds more than the site's
    # origin, and the page's own form POST keeps its real Origin header; under
    # "no-referrer" browsers send "Origin: null", which Django's CSRF check refuses (403).
    response["Referrer-Policy"] = "strict-origin"
    return response


@sensitive_variables("token")
@never_cache
@require_http_methods(["GET", "POST"])
@ratelimit(group="verify", key="ip", rate=limit("RATELIMIT_LINK_FORM_IP"), method="POST", block=True)
@ratelimit(group="verify-link", key=link_key, rate=limit("RATELIMIT_LINK_FORM_LINK"), method="POST", block=True)
def verify_email(request, token):
    """``/auth/verify-email/<token>/``: GET shows a confirm button (unless VERIFY_EMAIL_ON_GET), POST verifies."""
    # Mail scanners fetch every link: a GET only shows a button, unless configured otherwise.
    if request.method == "GET" and not settings.VERIFY_EMAIL_ON_GET:
        return keep_link_private(render(request, "accounts/verify_email.html"))
    level, text, target = VERIFY_OUTCOMES[services.email_verify(token=token)]
    messages.add_message(request, level, text)
    return redirect(target)


def _email_form_view(request, *, kind: str, template: str):
    """Resend-verification and forgot-password: one field, one answer for every address.

    The request only records the address for a worker (services.address_request_submit):
    the same work, and so the same time, whether or not the address has an account.
    """
    form = EmailAddressForm(posted(request))
    if request.method == "POST" and form.is_valid():
        services.address_request_submit(kind=kind, email=form.cleaned_data["email"])
        messages.success(request, IF_REGISTERED)
        return redirect(request.path)
    return render(request, template, {"form": form})


@require_http_methods(["GET", "POST"])
@ratelimit(group="resend", key="ip", rate=limit("RATELIMIT_EMAIL_FORM_IP"), method="POST", block=True)
@ratelimit(
    group="resend-address", key=posted_email_key, rate=limit("RATELIMIT_EMAIL_FORM_ADDRESS"), method="POST", block=True
)
def resend_verification(request):
    """``/auth/resend-verification/``: records the address for a worker; one answer for every address."""
    return _email_form_view(
        request, kind=AddressRequest.Kind.VERIFICATION_RESEND, template="accounts/resend_verification.html"
    )


@require_http_methods(["GET", "POST"])
@ratelimit(group="forgot", key="ip", rate=limit("RATELIMIT_EMAIL_FORM_IP"), method="POST", block=True)
@ratelimit(
    group="forgot-address", key=posted_email_key, rate=limit("RATELIMIT_EMAIL_FORM_ADDRESS"), method="POST", block=True
)
def forgot_password(request):
    """``/auth/forgot-password/``: records the address for a worker; one answer for every address."""
    return _email_form_view(request, kind=AddressRequest.Kind.PASSWORD_RESET, template="accounts/forgot_password.html")


def _reset_link_dead(request):
    messages.error(request, _("This password reset link is invalid, used or expired. Ask for a new one."))
    return redirect("accounts:forgot-password")


@sensitive_variables("token")
@sensitive_post_parameters("password", "password_confirm")
@never_cache
@require_http_methods(["GET", "POST"])
@ratelimit(group="reset", key="ip", rate=limit("RATELIMIT_LINK_FORM_IP"), method="POST", block=True)
@ratelimit(group="reset-link", key=link_key, rate=limit("RATELIMIT_LINK_FORM_LINK"), method="POST", block=True)
def reset_password(request, token):
    """``/auth/reset-password/<token>/``: the new-password form of a live link; a dead link goes to forgot-password."""
    user = services.password_reset_user(token=token)
    if user is None:
        return _reset_link_dead(request)
    form = SetPasswordForm(user, posted(request))
    if request.method == "POST" and form.is_valid():
        if services.password_reset_complete(token=token, password=form.cleaned_data["password"]) is None:
            return _reset_link_dead(request)
        messages.success(request, _("Your password has been changed. Log in with the new one."))
        return redirect("accounts:login")
    return keep_link_private(render(request, "accounts/reset_password.html", {"form": form}))


class LoginView(auth_views.LoginView):
    """Django's login view, under the failed-login limits of accounts.ratelimits.

    Per IP and per (IP, username): past either, 429 without a password check. Per
    username: attempts slow down (the wait grows with the name's recent failures),
    but the right password still logs in, from any IP that is not itself limited.
    Only failures spend an allowance, and the username's is spent whether or not
    it exists, so the limits tell nothing either.
    """

    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        self.attempt = ratelimits.login_attempt_begin(request)  # raises Ratelimited past a limit
        if self.attempt.delay:
            time.sleep(self.attempt.delay)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        ratelimits.login_attempt_succeeded(self.attempt)
        response = super().form_valid(form)
        # The site speaks her language from the first page after login.
        return language.language_cookie_set(response, self.request.user.preferred_language)

    def form_invalid(self, form):
        ratelimits.login_attempt_failed(self.request)
        return super().form_invalid(form)


@require_POST
def set_language(request):
    """``POST /i18n/setlang/``: Django's ``set_language`` (``language``, ``next``).

    A logged-in user's choice also becomes her ``preferred_language`` (her emails
    follow it). A language the site does not speak changes nothing (Django's rule).
    """
    response = django_set_language(request)
    chosen = request.POST.get("language")
    if request.user.is_authenticated and chosen in dict(settings.LANGUAGES):
        language.user_language_set(user=request.user, language=chosen)
    return response


def admin_login(request):
    """/admin/login/: the admin logs in through /auth/login/, under its failed-login limits.

    Django's admin has its own login form, which would check passwords without
    them. Anonymous: to /auth/login/?next=…; signed in without staff rights: 403.
    """
    if request.user.is_authenticated:
        if request.user.is_active and request.user.is_staff:
            return redirect("admin:index")
        raise PermissionDenied
    return redirect_to_login(request.GET.get("next") or "/admin/")
