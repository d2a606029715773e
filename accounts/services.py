"""Account services: sign-up, email verification, password reset.

Every service that causes an email writes the outbox row in its own transaction
(mailer.api.enqueue); nothing here talks to a mail server. Services that take an
address behave the same, as seen from outside, whether or not it has an account:
resend-verification and forgot-password do not even look the address up in the
request (address_request_submit), a worker does (address_request_process).
"""

import enum
import logging
import uuid
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from mailer import api as mail

from .addresses import address_normalize
from .models import AddressRequest, EmailVerification, PasswordResetToken, User
from .tokens import new_token, token_hash

logger = logging.getLogger("accounts")

TEMPLATE_VERIFICATION = "accounts/email/verification"
TEMPLATE_ACCOUNT_EXISTS = "accounts/email/account_exists"
TEMPLATE_WELCOME = "accounts/email/welcome"
TEMPLATE_PASSWORD_RESET = "accounts/email/password_reset"
TEMPLATE_PASSWORD_CHANGED = "accounts/email/password_changed"


def user_email_context(user: User) -> dict:
    """How an email greets its user: by the names the account chose, once the account holds its address.

    A pending sign-up's names are whatever it typed (150 characters each: a URL, a
    phone number, an insult), and the inbox may be someone else's: an email to an
    address no account holds carries no text the requester chose.
    """
    if not user.holds_address:
        return {}
    return {"first_name": user.first_name, "username": user.get_username()}


def token_ttl_hours(token_model) -> int:
    """The life of ``token_model``'s links, in whole hours (what the emails say)."""
    return int(token_model.ttl().total_seconds() // 3600)


def password_changed_queue(user: User, *, other_sessions: bool = False) -> None:
    """Queue the "password changed" email to ``user`` (in the caller's transaction).

    ``other_sessions``: the change kept this session and ended the others (a logged-in
    change), rather than ending every session (a reset).
    """
    context = {**user_email_context(user), "forgot_url": mail.site_url("accounts:forgot-password")}
    if other_sessions:
        context["other_sessions"] = True
    mail.enqueue(
        template=TEMPLATE_PASSWORD_CHANGED,
        to=user.email,
        language=user.preferred_language,
        priority=mail.Priority.HIGH,
        context=context,
    )


def _queue_link_email(user: User, *, token_model, template: str, viewname: str, link_name: str) -> None:
    """Create a one-time token of ``token_model`` and queue ``template`` with its link.

    The link (with the raw token) travels only in the email's encrypted secret
    context; the email expires with the token, so a late send carries no dead link.
    """
    token = new_token()
    record = token_model.objects.create(user=user, token_hash=token_hash(token))
    mail.enqueue(
        template=template,
        to=user.email,
        language=user.preferred_language,
        priority=mail.Priority.HIGH,
        context={**user_email_context(user), "ttl_hours": token_ttl_hours(token_model)},
        secret_context={link_name: mail.site_url(viewname, token)},
        expires_at=record.expires_at,
    )


def _queue_verification(user: User) -> None:
    _queue_link_email(
        user,
        token_model=EmailVerification,
        template=TEMPLATE_VERIFICATION,
        viewname="accounts:verify-email",
        link_name="verify_url",
    )


def _queue_account_exists(holder: User) -> None:
    # No greeting and nothing the sign-up typed: only the owner's own username,
    # which the owner (or an admin) chose, to remind them of the account.
    mail.enqueue(
        template=TEMPLATE_ACCOUNT_EXISTS,
        to=holder.email,
        language=holder.preferred_language,
        priority=mail.Priority.HIGH,
        context={
            "username": holder.get_username(),
            "login_url": mail.site_url("accounts:login"),
            "forgot_url": mail.site_url("accounts:forgot-password"),
        },
    )


@sensitive_variables("password", "password_hash")
def user_signup(
    *,
    username: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    preferred_language: str = User.Language.ENGLISH,
) -> User:
    """Create an inactive user (a pending sign-up) with a verification token; queue one email.

    The same rows whatever the address: a user row that holds the username (not the
    address, see models.HOLDS_ADDRESS) and a verification token. Only the email
    differs, and it goes to the address, not to whoever signed up: the verification
    link if no account holds the address, else an "account already exists" email to
    its owner (and that sign-up's token is never sent, so it can never be verified).
    So whoever signed up sees the same afterwards either way: the login page says
    "verify your email first" for the username and password, and the username is
    taken for later sign-ups. Raises ValidationError({"username": ...}) if the
    username was taken meanwhile.
    """
    email = address_normalize(email)
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        preferred_language=preferred_language,
        password=make_password(password),
        is_active=False,
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            # Lost a race with a concurrent sign-up for the username (addresses of
            # pending sign-ups are not unique).
            raise ValidationError({"username": _("A user with that username already exists.")}) from None
        holder = User.objects.holding_address().with_address(email).first()
        if holder is None:
            _queue_verification(user)
        else:
            # The same INSERT as the verification path, for a link nobody receives.
            EmailVerification.objects.create(user=user, token_hash=token_hash(new_token()))
            _queue_account_exists(holder)
        return user


class VerifyResult(enum.Enum):
    """What ``email_verify`` found: the view turns each into its message and redirect."""

    VERIFIED = "verified"
    ALREADY_VERIFIED = "already_verified"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@sensitive_variables("token")
def email_verify(*, token: uuid.UUID) -> VerifyResult:
    """Activate the account whose verification token this is, and queue the welcome email.

    The account then holds its address, and the other pending sign-ups with that
    address (a typo'd second try, or someone else's probe) are deleted, which frees
    their usernames. If another account holds the address by now, nothing changes
    and the answer is ALREADY_VERIFIED: the address has a verified account, which is
    what whoever reads its inbox needs to know.
    """
    with transaction.atomic():
        verification = (
            EmailVerification.objects.select_for_update()
            .select_related("user")
            .filter(token_hash=token_hash(token))
            .first()
        )
        if verification is None:
            return VerifyResult.UNKNOWN
        user = verification.user
        if verification.verified_at or user.email_verified:
            return VerifyResult.ALREADY_VERIFIED
        if verification.is_expired():
            return VerifyResult.EXPIRED
        now = timezone.now()
        user.is_active = True
        user.email_verified_at = now
        try:
            with transaction.atomic():
                user.save(update_fields=["is_active", "email_verified_at"])
        except IntegrityError:  # the address is held by another account (accounts_user_email_holder_ci_unique)
            return VerifyResult.ALREADY_VERIFIED
        verification.verified_at = now
        verification.save(update_fields=["verified_at"])
        pending_signups_release(holder=user)
        mail.enqueue(
            template=TEMPLATE_WELCOME,
            to=user.email,
            language=user.preferred_language,
            priority=mail.Priority.BULK,
            context={**user_email_context(user), "login_url": mail.site_url("accounts:login")},
        )
        return VerifyResult.VERIFIED


def pending_signups_release(*, holder: User) -> int:
    """Delete the pending sign-ups that share the address ``holder`` has just come to hold; return how many.

    Called in the transaction that verified the address (verification, a reset,
    a confirmed email change): their links can never be confirmed any more.
    """
    deleted, _ = User.objects.pending().with_address(holder.email).exclude(pk=holder.pk).delete()
    return deleted


def _address_owner(email: str, *, lock: bool = False) -> User | None:
    """The account an email to ``email`` is about: its holder, else its newest pending sign-up."""
    users = User.objects.with_address(email)
    if lock:
        users = users.select_for_update()
    return users.holding_address().first() or users.pending().order_by("-date_joined", "-pk").first()


def verification_resend(*, email: str) -> None:
    """Replace the pending sign-up's token with a new one and queue a new email.

    The newest pending sign-up of the address gets the link. Does nothing for
    unknown addresses, for addresses that an account holds (verified, or active:
    a pending sign-up next to one can never be verified), or when the last
    verification email of this address is younger than ACCOUNTS_RESEND_INTERVAL_SECONDS.
    """
    with transaction.atomic():
        # The row lock serialises concurrent resends of one address.
        user = _address_owner(email, lock=True)
        if user is None or user.is_active or user.email_verified:
            return
        latest = user.email_verifications.order_by("-created_at").first()
        if latest and (timezone.now() - latest.created_at).total_seconds() < settings.ACCOUNTS_RESEND_INTERVAL_SECONDS:
            return
        user.email_verifications.all().delete()
        _queue_verification(user)


def password_reset_request(*, email: str) -> None:
    """Queue a 24 h single-use reset link for the account of ``email``, if there is one.

    The account is the address's holder, else its newest pending sign-up (a
    completed reset verifies it). A new link revokes the user's earlier ones (as a
    resend does for verification): at most one reset link of a user is ever live.
    """
    with transaction.atomic():
        # The row lock serialises concurrent requests: exactly one link survives.
        user = _address_owner(email, lock=True)
        if user is None:
            return
        user.password_reset_tokens.filter(used_at__isnull=True).update(used_at=timezone.now())
        _queue_link_email(
            user,
            token_model=PasswordResetToken,
            template=TEMPLATE_PASSWORD_RESET,
            viewname="accounts:reset-password",
            link_name="reset_url",
        )


def _live_reset_tokens(token: uuid.UUID):
    return PasswordResetToken.objects.filter(
        token_hash=token_hash(token),
        used_at__isnull=True,
        created_at__gt=timezone.now() - PasswordResetToken.ttl(),
    )


@sensitive_variables("token")
def password_reset_user(*, token: uuid.UUID) -> User | None:
    """The user a live reset token belongs to, or None. Uses nothing up.

    Live: unused, unexpired, and made under the user's current password.
    """
    reset = _live_reset_tokens(token).select_related("user").first()
    return reset.user if reset and reset.matches_password() else None


@sensitive_variables("token", "password")
def password_reset_complete(*, token: uuid.UUID, password: str) -> User | None:
    """Set the password if the token is live; return the user, or None if it is not.

    Every reset token of the user dies, the address counts as verified, every
    session of the user ends (Django checks a session against the password hash),
    and a "password changed" email is queued. Of two concurrent calls with one
    token, one wins: the other waits on the row lock and then finds it used.
    """
    with transaction.atomic():
        reset = _live_reset_tokens(token).select_for_update().first()
        if reset is None:
            return None
        user = User.objects.select_for_update().get(pk=reset.user_id)
        if not reset.matches_password(user):
            return None  # the password changed since the link was sent: the link died with it
        now = timezone.now()
        user.set_password(password)
        fields = ["password"]
        if not user.email_verified:
            user.email_verified_at, user.is_active = now, True
            fields += ["email_verified_at", "is_active"]
        try:
            with transaction.atomic():
                user.save(update_fields=fields)
        except IntegrityError:
            # A pending sign-up's link, and another account took the address since: the link died.
            return None
        if "email_verified_at" in fields:
            pending_signups_release(holder=user)
        PasswordResetToken.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
        password_changed_queue(user)
        return user


# --- Resend-verification and forgot-password, handled by a worker ----------------

# A request whose task has not handled it after this long lost its message (the
# broker was down at commit time): the beat sweep handles it instead.
ADDRESS_REQUEST_SWEEP_AFTER = timedelta(seconds=60)


def address_request_submit(*, kind: str, email: str) -> None:
    """Record a resend or forgot-password request and hand it to a worker, on commit.

    The same work for every address: one INSERT, one publish, no lookup, no
    password hashing, no email. The task carries the row id only.
    """
    with transaction.atomic():
        request = AddressRequest.objects.create(kind=kind, email=email)
        transaction.on_commit(lambda: _publish_address_request(request.pk), robust=True)


# The task accounts.tasks registers for address_request_process; published by name.
ADDRESS_REQUEST_TASK = "accounts.address_request"


def _publish_address_request(request_id: int) -> None:
    try:
        current_app.send_task(ADDRESS_REQUEST_TASK, (request_id,))
    except Exception as exc:  # noqa: BLE001 broker down (any kombu error): the sweep handles the row later
        logger.warning("address request %s not published, the sweep will handle it: %s", request_id, exc)


def _handle_address_request(request: AddressRequest) -> None:
    match request.kind:
        case AddressRequest.Kind.VERIFICATION_RESEND:
            verification_resend(email=request.email)
        case AddressRequest.Kind.PASSWORD_RESET:
            password_reset_request(email=request.email)
        case _:
            raise ValueError(f"unknown address request kind {request.kind!r}")


def address_request_process(*, request_id: int) -> bool:
    """Handle AddressRequest ``request_id`` once: queue its email if the address calls for one.

    Idempotent: the row is locked (SKIP LOCKED) and deleted in the transaction that
    queues the email, so a redelivered message or a concurrent sweep finds nothing.
    A request that fails is logged and dropped (the user can ask again) rather than
    retried for ever. Returns whether this call handled it.
    """
    with transaction.atomic():
        request = AddressRequest.objects.select_for_update(skip_locked=True).filter(pk=request_id).first()
        if request is None:
            return False
        try:
            with transaction.atomic():
                _handle_address_request(request)
        except Exception:
            logger.exception("address request %s (%s) failed and is dropped", request.pk, request.kind)
        request.delete()
        return True


def address_request_sweep(*, older_than: timedelta = ADDRESS_REQUEST_SWEEP_AFTER) -> int:
    """Handle requests whose task never came (beat, every minute); return how many."""
    ids = list(
        AddressRequest.objects.filter(created_at__lte=timezone.now() - older_than)
        .order_by("created_at")
        .values_list("pk", flat=True)[:1000]
    )
    return sum(address_request_process(request_id=pk) for pk in ids)
