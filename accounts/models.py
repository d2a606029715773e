"""Users, their one-time tokens, and the address forms waiting for a worker.

Tokens are random UUIDv4 values (122 random bits from os.urandom); only their
SHA-256 hex digest is stored, so a copy of the database holds no usable link.
"""

import hashlib
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Lower
from django.utils import timezone

from .addresses import address_normalize

# The accounts that hold their address: verified, or active (made by an admin or
# ``createsuperuser``, or verified before the verification date was recorded). An
# inactive, never-verified account is a pending sign-up: it holds its username, not
# its address, so a sign-up with a taken address and one with a free address can
# leave the same row behind (see accounts.services.user_signup).
HOLDS_ADDRESS = Q(email_verified_at__isnull=False) | Q(is_active=True)


class UserQuerySet(models.QuerySet):
    def with_address(self, address: str):
        """Users whose address is ``address``, compared as the unique index does: LOWER(email).

        ``address`` is normalised first (accounts.addresses); a refused address matches nobody.
        """
        try:
            address = address_normalize(address)
        except ValidationError:
            return self.none()
        return self.alias(email_lower=Lower("email")).filter(email_lower=address)

    def with_username(self, username: str):
        """Users named ``username``, compared as the unique index does: LOWER(username), after NFKC.

        Not ``__iexact`` (UPPER), which folds ``ı`` onto ``I`` where the index does not.
        """
        name = unicodedata.normalize("NFKC", username or "")
        return self.alias(username_lower=Lower("username")).filter(username_lower=Lower(Value(name)))

    def holding_address(self):
        """The accounts that own their address (HOLDS_ADDRESS): at most one per address."""
        return self.filter(HOLDS_ADDRESS)

    def pending(self):
        """Pending sign-ups: inactive accounts whose address was never verified."""
        return self.exclude(HOLDS_ADDRESS)


class AccountManager(UserManager.from_queryset(UserQuerySet)):
    @classmethod
    def normalize_email(cls, email):
        """Django's hook (create_user, User.clean): the project's one normalisation (accounts.addresses)."""
        return address_normalize(email) if email else ""


class User(AbstractUser):
    class Language(models.TextChoices):
        ENGLISH = "en", "English"
        NEPALI = "ne", "नेपाली (Nepali)"

    email = models.EmailField("email address", max_length=254)
    preferred_language = models.CharField(max_length=5, choices=Language.choices, default=Language.ENGLISH)
    email_verified_at = models.DateTimeField(null=True, blank=True)

    objects = AccountManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            # One account holds an address; pending sign-ups may share it (see HOLDS_ADDRESS).
            models.UniqueConstraint(
                Lower("email"), condition=HOLDS_ADDRESS, name="accounts_user_email_holder_ci_unique"
            ),
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
        ]

    def clean(self):
        try:
            super().clean()  # normalises the address through AccountManager.normalize_email
        except ValidationError as error:
            raise ValidationError({"email": error.messages}) from None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def holds_address(self) -> bool:
        """Whether this account owns its address (HOLDS_ADDRESS), rather than being a pending sign-up."""
        return self.email_verified_at is not None or self.is_active


class OneTimeToken(models.Model):
    """A link token: only its SHA-256 is kept; it dies TTL_SETTING hours after creation."""

    TTL_SETTING: str

    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        abstract = True

    @classmethod
    def ttl(cls) -> timedelta:
        return timedelta(hours=getattr(settings, cls.TTL_SETTING))

    @property
    def expires_at(self):
        return self.created_at + self.ttl()

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires_at


class EmailVerification(OneTimeToken):
    """The outstanding verification link of a user; a resend replaces it."""

    TTL_SETTING = "ACCOUNTS_VERIFICATION_TTL_HOURS"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_verifications")
    verified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"email verification #{self.pk} of user {self.user_id}"


class PasswordResetToken(OneTimeToken):
    """A single-use password-reset link; all of a user's die when the password changes.

    Any change: the token keeps a fingerprint of the password hash it was made
    under, and is live only while the user's hash is still that one, so a password
    set in the admin, by ``changepassword`` or by another reset kills it too.
    """

    TTL_SETTING = "ACCOUNTS_PASSWORD_RESET_TTL_HOURS"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_reset_tokens")
    used_at = models.DateTimeField(null=True, blank=True)
    password_fingerprint = models.CharField(max_length=64, default="", editable=False)

    def __str__(self) -> str:
        return f"password reset #{self.pk} of user {self.user_id}"

    def save(self, *args, **kwargs):
        # A token belongs to the password the user has when it is made.
        if not self.password_fingerprint:
            self.password_fingerprint = password_fingerprint(self.user)
        super().save(*args, **kwargs)

    def matches_password(self, user=None) -> bool:
        """True while the user's password hash is the one this token was made under."""
        return self.password_fingerprint == password_fingerprint(user or self.user)


class EmailChange(OneTimeToken):
    """A requested change of address, waiting for its link (sent to ``new_email``) to be confirmed.

    Single use; a new request replaces the user's pending ones. The account's
    address changes only when the link is followed (accounts.account_changes).
    """

    TTL_SETTING = "ACCOUNTS_EMAIL_CHANGE_TTL_HOURS"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_changes")
    new_email = models.EmailField(max_length=254)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"email change #{self.pk} of user {self.user_id}"


def password_fingerprint(user) -> str:
    """SHA-256 of the stored password hash (salted already; reveals nothing new)."""
    return hashlib.sha256((user.password or "").encode()).hexdigest()


class AddressRequest(models.Model):
    """A resend-verification or forgot-password form post, waiting for a worker.

    The request writes this row and publishes its id, whatever the address: which
    addresses have an account is decided by the worker (accounts.services
    address_request_process), so a known and an unknown address cost the request
    the same work and the same time. The row is deleted once handled.
    """

    class Kind(models.TextChoices):
        VERIFICATION_RESEND = "verification_resend", "Resend verification"
        PASSWORD_RESET = "password_reset", "Password reset"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    email = models.EmailField(max_length=254)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} request #{self.pk}"
