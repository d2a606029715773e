"""Changes a logged-in user makes to her own account: name and language, password, address, deletion.

As in accounts.services, every email is queued in the transaction of the change
that causes it (mailer.api.enqueue) and goes out after the commit; a rollback
leaves neither the change nor the email. Passwords are checked by the forms
(accounts.account_forms) before these are called.

- ``user_profile_update``: first and last name, preferred language;
- ``password_change``: a new password; every other session ends (Django checks a
  session against the password hash), the "password changed" email is queued;
- ``email_change_request`` / ``email_change_confirm``: a 72 h single-use link to
  the new address; only a confirmed change applies, and the old address is told,
  with a link to reset the password. A new address that belongs to another
  account answers the same and tells that account's owner instead;
- ``user_delete``: the account and its personal data go, the emails to it are
  erased of personal data once final, and an "account deleted" email is queued.
"""

import enum
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from mailer import api as mail

from .models import EmailChange, PasswordResetToken, User
from .services import password_changed_queue, pending_signups_release, token_ttl_hours, user_email_context
from .tokens import new_token, token_hash

TEMPLATE_EMAIL_CHANGE_CONFIRMATION = "accounts/email/email_change_confirmation"
TEMPLATE_EMAIL_CHANGE_TAKEN = "accounts/email/email_change_taken"
TEMPLATE_EMAIL_CHANGED = "accounts/email/email_changed"
TEMPLATE_ACCOUNT_DELETED = "accounts/email/account_deleted"


def _locked(user: User) -> User:
    """The user's row, locked until the end of the transaction, as it is now in the database."""
    return User.objects.select_for_update().get(pk=user.pk)


def user_profile_update(*, user: User, first_name: str, last_name: str, preferred_language: str) -> User:
    """Save the user's names and preferred language (that of her emails, and of the site once she logs in)."""
    if preferred_language not in User.Language.values:
        raise ValueError(f"unknown language {preferred_language!r}")
    user.first_name, user.last_name, user.preferred_language = first_name, last_name, preferred_language
    user.save(update_fields=["first_name", "last_name", "preferred_language"])
    return user


@sensitive_variables("password")
def password_change(*, user: User, password: str) -> User:
    """Set a new password and queue the "password changed" email; return the saved user.

    Every session of the user made under the old password ends (Django compares a
    session's hash with the password's); the view keeps the current one with
    ``update_session_auth_hash``. Reset links die with the old password
    (PasswordResetToken's fingerprint).
    """
    with transaction.atomic():
        locked = _locked(user)
        locked.set_password(password)
        locked.save(update_fields=["password"])
        password_changed_queue(locked, other_sessions=True)
    user.password = locked.password
    return user


def email_change_request(*, user: User, email: str) -> None:
    """Ask to move the account to ``email``: a link to confirm goes there, nothing changes yet.

    The user's earlier pending requests die. If ``email`` already belongs to
    another account (any case), no link is made and that account's owner is told
    instead; the caller answers alike either way and cannot tell which happened.
    """
    with transaction.atomic():
        user = _locked(user)
        EmailChange.objects.filter(user=user, used_at__isnull=True).delete()
        # Only an account that holds the address (accounts.models.HOLDS_ADDRESS): pending sign-ups
        # share addresses, and telling one of them would tell a stranger who typed it.
        owner = User.objects.with_address(email).holding_address().exclude(pk=user.pk).first()
        if owner is not None:
            mail.enqueue(
                template=TEMPLATE_EMAIL_CHANGE_TAKEN,
                to=owner.email,
                language=owner.preferred_language,
                priority=mail.Priority.HIGH,
                context={
                    **user_email_context(owner),
                    "login_url": mail.site_url("accounts:login"),
                    "forgot_url": mail.site_url("accounts:forgot-password"),
                },
            )
            return
        token = new_token()
        change = EmailChange.objects.create(user=user, new_email=email, token_hash=token_hash(token))
        mail.enqueue(
            template=TEMPLATE_EMAIL_CHANGE_CONFIRMATION,
            to=email,
            language=user.preferred_language,
            priority=mail.Priority.HIGH,
            context={**user_email_context(user), "ttl_hours": token_ttl_hours(EmailChange)},
            secret_context={"confirm_url": mail.site_url("accounts:email-change-confirm", token)},
            expires_at=change.expires_at,
        )


def _live_changes(token: uuid.UUID):
    return EmailChange.objects.filter(
        token_hash=token_hash(token), used_at__isnull=True, created_at__gt=timezone.now() - EmailChange.ttl()
    )


@sensitive_variables("token")
def email_change_pending(*, token: uuid.UUID) -> EmailChange | None:
    """The live (unused, unexpired) change this token confirms, or None. Uses nothing up."""
    return _live_changes(token).select_related("user").first()


class EmailChangeResult(enum.Enum):
    """What ``email_change_confirm`` found: the view turns each into its message."""

    CHANGED = "changed"
    INVALID = "invalid"  # unknown, used or expired
    TAKEN = "taken"  # the address got an account of its own since the request


@sensitive_variables("token", "reset")
def email_change_confirm(*, token: uuid.UUID) -> EmailChangeResult:
    """Move the account to the address of a live change token; tell the old address.

    The new address counts as verified (the link reached it). Every pending change
    and every reset link of the user die (reset links went to the old address);
    the old address gets an "email changed" notice with a fresh 24 h reset link,
    its only way back in if the change was not the user's. Of two concurrent calls
    with one token, one wins.
    """
    with transaction.atomic():
        change = _live_changes(token).select_for_update().first()
        if change is None:
            return EmailChangeResult.INVALID
        user = User.objects.select_for_update().get(pk=change.user_id)
        now = timezone.now()
        change.used_at = now
        change.save(update_fields=["used_at"])
        if User.objects.with_address(change.new_email).holding_address().exclude(pk=user.pk).exists():
            return EmailChangeResult.TAKEN
        old_email = user.email
        user.email, user.email_verified_at = change.new_email, now
        try:
            with transaction.atomic():
                user.save(update_fields=["email", "email_verified_at"])
        except IntegrityError:  # a sign-up took the address a moment ago
            return EmailChangeResult.TAKEN
        pending_signups_release(holder=user)
        EmailChange.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
        PasswordResetToken.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
        reset = new_token()
        record = PasswordResetToken.objects.create(user=user, token_hash=token_hash(reset))
        mail.enqueue(
            template=TEMPLATE_EMAIL_CHANGED,
            to=old_email,
            language=user.preferred_language,
            priority=mail.Priority.HIGH,
            context={**user_email_context(user), "ttl_hours": token_ttl_hours(PasswordResetToken)},
            secret_context={"reset_url": mail.site_url("accounts:reset-password", reset)},
            expires_at=record.expires_at,
        )
        return EmailChangeResult.CHANGED


def user_delete(*, user: User) -> None:
    """Delete the account and its personal data; queue the "account deleted" email.

    Goes with the user row (ON DELETE CASCADE): her tokens, pending address
    changes, admin log entries and her candidate profile, whatever its status, so
    a pending profile leaves the review queue and an approved one its public page
    (candidates deletes the photo file once the deletion commits). The email,
    in her language, is queued in the same transaction and sent after the commit;
    every email to her addresses (the current one and those of pending changes) is
    erased of personal data once final (mailer.api.recipient_erase), that one too.
    The caller logs her out.
    """
    with transaction.atomic():
        user = _locked(user)
        pending = EmailChange.objects.filter(user=user, used_at__isnull=True).values_list("new_email", flat=True)
        addresses = [user.email, *pending]
        mail.enqueue(
            template=TEMPLATE_ACCOUNT_DELETED,
            to=user.email,
            language=user.preferred_language,
            priority=mail.Priority.HIGH,
            context={**user_email_context(user), "signup_url": mail.site_url("accounts:signup")},
        )
        mail.recipient_erase(addresses=addresses, since=user.date_joined)
        user.delete()
