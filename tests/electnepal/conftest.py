"""Rows for the staff pages to show: a user with a verification and a reset token, an email."""

import uuid

import pytest
from django.utils import timezone

from accounts.models import EmailVerification, PasswordResetToken, User
from accounts.tokens import token_hash
from mailer.models import Email
from tests.support.accounts import PASSWORD


@pytest.fixture
def rows(db):
    user = User.objects.create_user("ram", "ram@example.com", PASSWORD, email_verified_at=timezone.now())
    EmailVerification.objects.create(user=user, token_hash=token_hash(uuid.uuid4()))
    PasswordResetToken.objects.create(user=user, token_hash=token_hash(uuid.uuid4()))
    Email.objects.create(template="accounts/email/welcome", to="ram@example.com", next_attempt_at=timezone.now())
