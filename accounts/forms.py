"""Forms of the account pages. They validate only; services do the work."""

import unicodedata

from django import forms
from django.contrib.auth.forms import AuthenticationForm, SetPasswordMixin
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .addresses import address_normalize
from .models import User


def _reject_control_characters(value: str) -> str:
    # A CR/LF in a name could become a header if the name ever reached one; other
    # control characters have no business in a name either.
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise forms.ValidationError(_("Line breaks and control characters are not allowed."), code="control")
    return value


class NameField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=150, required=False, **kwargs)

    def clean(self, value):
        return _reject_control_characters(super().clean(value))


class AddressField(forms.EmailField):
    """An email address in the project's one canonical form (accounts.addresses), look-alikes refused."""

    def __init__(self, **kwargs):
        super().__init__(max_length=254, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return address_normalize(value) if value else value


class _PasswordPair(SetPasswordMixin):
    """Django's own checks of a new password typed twice: the pair must match, then pass the validators.

    The validators' errors go on the first field, where the password was chosen;
    they are not run on a mismatched pair (the user types both again anyway).
    """

    error_messages = {"password_mismatch": _("The two passwords do not match.")}

    def check_password_pair(self, first: str, second: str, user: User) -> None:
        self.validate_passwords(first, second)
        if not self.has_error(second):
            self.validate_password_for_user(user, first)


class SignupForm(_PasswordPair, forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("Letters, digits and @/./+/-/_ only."),
    )
    email = AddressField(label=_("Email address"))
    first_name = NameField(label=_("First name"))
    last_name = NameField(label=_("Last name"))
    preferred_language = forms.ChoiceField(
        choices=User.Language.choices,
        required=False,
        initial=User.Language.ENGLISH,
        label=_("Language"),
        help_text=_("Of your emails, and of the site once you log in."),
    )
    password1 = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(label=_("Password (again)"), strip=False, widget=forms.PasswordInput)

    def clean_username(self) -> str:
        username = User.normalize_username(self.cleaned_data["username"])
        if User.objects.with_username(username).exists():
            raise forms.ValidationError(_("A user with that username already exists."), code="unique")
        return username

    def clean_preferred_language(self) -> str:
        return self.cleaned_data.get("preferred_language") or User.Language.ENGLISH

    def clean(self):
        cleaned = super().clean()
        # The user to be: the similarity validator compares the password with these.
        candidate = User(
            username=cleaned.get("username", ""),
            email=cleaned.get("email", ""),
            first_name=cleaned.get("first_name", ""),
            last_name=cleaned.get("last_name", ""),
        )
        self.check_password_pair("password1", "password2", candidate)
        return cleaned


class EmailAddressForm(forms.Form):
    """The single field of resend-verification and forgot-password."""

    email = AddressField(label=_("Email address"))


class SetPasswordForm(_PasswordPair, forms.Form):
    """The new password of a reset link's page, for ``user``."""

    password = forms.CharField(label=_("New password"), strip=False, widget=forms.PasswordInput)
    password_confirm = forms.CharField(label=_("New password (again)"), strip=False, widget=forms.PasswordInput)

    def __init__(self, user: User, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        self.check_password_pair("password", "password_confirm", self.user)
        return cleaned


class LoginForm(AuthenticationForm):
    """Django's login form, which also tells the owner of an unverified account what to do.

    Only someone who gave the account's password reaches ``confirm_login_allowed``
    (accounts.backends returns inactive accounts for exactly that), so the message
    reveals nothing to anyone else, and costs no second password hash.
    """

    # Django's wording, in the site's catalogue (Django's own Nepali lacks it).
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("Please enter a correct username and password. Both are case-sensitive."),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Username")
        self.fields["password"].label = _("Password")

    def confirm_login_allowed(self, user):
        if not user.is_active and not user.email_verified:
            raise forms.ValidationError(
                format_html(
                    _('Please verify your email address first. <a href="{}">Send the link again</a>.'),
                    reverse("accounts:resend-verification"),
                ),
                code="unverified",
            )
        super().confirm_login_allowed(user)
