"""What the specification says about the emails."""

# The kinds of SPEC's email table: each in English and Nepali.
SPEC_KINDS = {
    "accounts/email/verification",
    "accounts/email/account_exists",
    "accounts/email/welcome",
    "accounts/email/password_reset",
    "accounts/email/password_changed",
    "candidates/email/registration_confirmation",
    "candidates/email/admin_notification",
    "candidates/email/approval",
    "candidates/email/rejection",
}
