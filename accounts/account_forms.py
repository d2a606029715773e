"""Forms of the account page and of the changes that need the password. They validate only."""

from django import forms
from django.contrib.auth import forms as auth_forms
from django.utils.translation import gettext_lazy as _

from .forms import AddressField, NameField
from .models import User


class AccountForm(forms.ModelForm):
    """Name and preferred language, on /auth/account/."""

    first_name = NameField(label=_("First name"))
    last_name = NameField(label=_("Last name"))
    preferred_language = forms.ChoiceField(
        choices=User.Language.choices,
        label=_("Language"),
        help_text=_("The language of the site once you log in, and of the emails we send you."),
    )

    class Meta:
        model = User
        fields = ["first_name", "last_name", "preferred_language"]


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's: ``old_password``, ``new_password1``, ``new_password2``, checked by the password validators."""

    error_messages = {
        **auth_forms.PasswordChangeForm.error_messages,
        "password_incorrect": _("Your current password was entered incorrectly. Please enter it again."),
        "password_mismatch": _("The two passwords do not match."),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = _("Current password")
        self.fields["new_password1"].label = _("New password")
        # As on the sign-up and reset forms: the validators speak when a password fails them
        # (Django's list of their rules is only partly translated into Nepali).
        self.fields["new_password1"].help_text = ""
        self.fields["new_password2"].label = _("New password (again)")


class _PasswordConfirmed(forms.Form):
    """A form that ends with the user's current password, checked against ``user``."""

    password = forms.CharField(
        label=_("Your current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user: User, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("Your password was entered incorrectly."), code="password_incorrect")
        return password


class EmailChangeForm(_PasswordConfirmed):
    """``email`` (the new address) and ``password``, on /auth/email-change/."""

    email = AddressField(label=_("New email address"))
    field_order = ["email", "password"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]  # canonical (accounts.addresses): look-alikes refused
        # Her own address: telling her so reveals nothing about anyone else.
        if email == (self.user.email or "").lower():
            raise forms.ValidationError(_("This is already the address of your account."), code="same")
        return email


class DeleteAccountForm(_PasswordConfirmed):
    """``password``, on /auth/delete-account/."""
