"""The outbox: one Email row per recipient, the single source of truth for delivery.

A row moves queued → sending → sent | failed | expired | suppressed. The broker
message only says "there is email to send"; the rows decide what is sent.
"""

from django.db import models
from django.db.models.functions import Lower


def template_kind(template: str) -> str:
    """An email's kind: its template name's last part (``accounts/email/welcome`` → ``welcome``)."""
    return template.rsplit("/", 1)[-1]


class Email(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"
        SUPPRESSED = "suppressed", "Suppressed"

    class Priority(models.TextChoices):
        HIGH = "high", "High (account security)"
        BULK = "bulk", "Bulk"

    FINAL_STATUSES = (Status.SENT, Status.FAILED, Status.EXPIRED, Status.SUPPRESSED)

    template = models.CharField(max_length=100, help_text="Template name; also the email's kind.")
    to = models.EmailField(max_length=254)
    language = models.CharField(max_length=10, default="en")
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.BULK)
    # Plain context for rendering (names, ids). Never holds a secret.
    context = models.JSONField(default=dict, blank=True)
    # Fernet ciphertext of the secret part of the context (links with raw tokens).
    secret_context = models.TextField(blank=True, default="")

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(help_text="Not sent before this time.")
    lease_expires_at = models.DateTimeField(null=True, blank=True, help_text="End of the current claim.")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Not sent after this time.")

    # The worker process holding the row while it is ``sending`` (host:pid:random):
    # only it may record the outcome, and it keeps the lease alive while it runs.
    claimed_by = models.CharField(max_length=100, blank=True, default="")

    message_id = models.CharField(max_length=255, blank=True, default="", help_text="Provider message id.")
    last_error = models.TextField(blank=True, default="")
    # One entry per failed attempt: {"attempt", "at", "error", "transient"}.
    errors = models.JSONField(default=list, blank=True)
    # What SES reported after accepting it (SNS events): delivered, bounced, complained.
    delivery_status = models.CharField(max_length=12, blank=True, default="")
    # The recipient deleted her account: the address, context and errors are erased
    # when the row reaches a final state (mailer.outbox.erasure).
    erase_when_final = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # When the next queued row is due, and the backlog's figures.
            models.Index(
                fields=["next_attempt_at"],
                name="mailer_email_due_idx",
                condition=models.Q(status__in=["queued", "sending"]),
            ),
            # The claim: due rows of one priority, oldest first.
            models.Index(
                fields=["priority", "next_attempt_at"],
                name="mailer_email_claim_idx",
                condition=models.Q(status="queued"),
            ),
            # The keeper's reclaim: claims whose lease ran out.
            models.Index(
                fields=["lease_expires_at"],
                name="mailer_email_lease_idx",
                condition=models.Q(status="sending"),
            ),
            models.Index(fields=["created_at"], name="mailer_email_created_idx"),
            models.Index(fields=["message_id"], name="mailer_email_message_id_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.template} → {self.to} ({self.status})"

    @property
    def kind(self) -> str:
        return template_kind(self.template)


class Suppression(models.Model):
    """An address we must not send to (hard bounce, complaint, or by hand)."""

    class Reason(models.TextChoices):
        BOUNCE = "bounce", "Hard bounce"
        COMPLAINT = "complaint", "Complaint"
        MANUAL = "manual", "Added by staff"

    address = models.EmailField(max_length=254)
    reason = models.CharField(max_length=12, choices=Reason.choices, default=Reason.MANUAL)
    detail = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("address"), name="mailer_suppression_address_ci_unique")]

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})"


class EmailEvent(models.Model):
    """A notification from SES (via SNS) about a sent email: delivery, bounce, complaint."""

    class Type(models.TextChoices):
        DELIVERY = "delivery", "Delivery"
        BOUNCE = "bounce", "Bounce"
        COMPLAINT = "complaint", "Complaint"

    email = models.ForeignKey(Email, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    message_id = models.CharField(max_length=255)  # SES message id, as in Email.message_id
    # The MessageId of the SNS notification this row came from. SNS delivers at least
    # once and a redelivery keeps its MessageId: the unique constraint below makes a
    # redelivered notification add nothing. Empty for rows not made from SNS.
    sns_message_id = models.CharField(max_length=100, blank=True, default="")
    type = models.CharField(max_length=12, choices=Type.choices)
    # For bounces: Permanent / Transient / Undetermined; for complaints: the feedback type.
    subtype = models.CharField(max_length=50, blank=True, default="")
    recipient = models.EmailField(max_length=254, blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["message_id"], name="mailer_event_message_id_idx")]
        constraints = [
            # One row per recipient of a notification (a bounce may name several).
            models.UniqueConstraint(
                fields=["sns_message_id", "recipient"],
                condition=~models.Q(sns_message_id=""),
                name="mailer_event_sns_message_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.recipient} ({self.message_id})"
