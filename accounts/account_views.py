"""The account page and the changes made from it. Each view validates a form, calls one service, redirects."""

from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from . import account_changes as changes
from . import language
from .account_forms import AccountForm, DeleteAccountForm, EmailChangeForm, PasswordChangeForm
from .ratelimits import limit, link_key, posted_email_key
from .views import keep_link_private, posted

# The same answer whether or not the new address has an account.
CHECK_NEW_ADDRESS = gettext_lazy(
    "Check the inbox of the new address: we sent it a link to confirm the change. "
    "Your address stays the same until you follow it."
)


def _password_limited(view):
    """POSTs of a form that checks the user's password: limited per account (RATELIMIT_ACCOUNT_PASSWORD_CHECKS)."""
    limited = ratelimit(
        group="account-password", key="user", rate=limit("RATELIMIT_ACCOUNT_PASSWORD_CHECKS"), method="POST", block=True
    )
    return limited(view)


@login_required
@require_http_methods(["GET", "POST"])
def account(request):
    """``/auth/account/``: name and preferred language; links to the other changes."""
    form = AccountForm(posted(request), instance=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = changes.user_profile_update(
            user=request.user,
            first_name=data["first_name"],
            last_name=data["last_name"],
            preferred_language=data["preferred_language"],
        )
        messages.success(request, _("Your account has been saved."))
        # The site follows her choice at once, as Django's set_language would.
        response = language.language_cookie_set(redirect("accounts:account"), user.preferred_language)
        return response
    return render(request, "accounts/account.html", {"form": form})


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
@require_http_methods(["GET", "POST"])
@_password_limited
def password_change(request):
    """``/auth/password-change/``: a new password; this session stays, the others end."""
    form = PasswordChangeForm(request.user, posted(request))
    if request.method == "POST" and form.is_valid():
        user = changes.password_change(user=request.user, password=form.cleaned_data["new_password1"])
        update_session_auth_hash(request, user)
        messages.success(request, _("Your password has been changed. Your other sessions were logged out."))
        return redirect("accounts:account")
    return render(request, "accounts/password_change.html", {"form": form})


@sensitive_post_parameters("password")
@login_required
@require_http_methods(["GET", "POST"])
@ratelimit(group="email-change", key="ip", rate=limit("RATELIMIT_EMAIL_FORM_IP"), method="POST", block=True)
@ratelimit(
    group="email-change-address",
    key=posted_email_key,
    rate=limit("RATELIMIT_EMAIL_FORM_ADDRESS"),
    method="POST",
    block=True,
)
@_password_limited
def email_change(request):
    """``/auth/email-change/``: a link to the new address; the same answer whether or not it has an account."""
    form = EmailChangeForm(request.user, posted(request))
    if request.method == "POST" and form.is_valid():
        changes.email_change_request(user=request.user, email=form.cleaned_data["email"])
        messages.success(request, CHECK_NEW_ADDRESS)
        return redirect("accounts:account")
    return render(request, "accounts/email_change.html", {"form": form})


def _change_link_dead(request):
    messages.error(request, _("This link to change your email address is invalid, used or expired."))
    return redirect("accounts:account")


@sensitive_variables("token")
@never_cache
@require_http_methods(["GET", "POST"])
@ratelimit(group="email-change-confirm", key="ip", rate=limit("RATELIMIT_LINK_FORM_IP"), method="POST", block=True)
@ratelimit(
    group="email-change-confirm-link", key=link_key, rate=limit("RATELIMIT_LINK_FORM_LINK"), method="POST", block=True
)
def email_change_confirm(request, token):
    """``/auth/email-change/<token>/``: GET shows a confirm button, POST changes the address.

    Mail scanners fetch links, so a GET alone changes nothing.
    """
    if request.method == "GET":
        change = changes.email_change_pending(token=token)
        if change is None:
            return _change_link_dead(request)
        page = render(request, "accounts/email_change_confirm.html", {"new_email": change.new_email})
        return keep_link_private(page)
    result = changes.email_change_confirm(token=token)
    if result is changes.EmailChangeResult.INVALID:
        return _change_link_dead(request)
    if result is changes.EmailChangeResult.TAKEN:
        messages.error(request, _("This address now belongs to another account; your address was not changed."))
        return redirect("accounts:account")
    messages.success(request, _("Your email address has been changed."))
    return redirect("accounts:account" if request.user.is_authenticated else "accounts:login")


@sensitive_post_parameters("password")
@login_required
@require_http_methods(["GET", "POST"])
@_password_limited
def delete_account(request):
    """``/auth/delete-account/``: with the password, the account goes; logged out, back to the home page."""
    form = DeleteAccountForm(request.user, posted(request))
    if request.method == "POST" and form.is_valid():
        changes.user_delete(user=request.user)
        logout(request)
        messages.success(request, _("Your account has been deleted. We have sent you a last email to confirm it."))
        return redirect("home")
    return render(request, "accounts/delete_account.html", {"form": form})
