"""What SES reports about the email it accepted, delivered by SNS.

- ``webhook``: ``SESEventsView`` (``POST /mailer/ses/events/``);
- ``signatures``: ``envelope_problem``, ``trusted_topic``, ``verified``,
  ``confirm_subscription``: whether to believe a POST;
- ``events``: ``ses_event_record``: delivery, bounce and complaint rows, suppressions.

Imports ``outbox`` and ``mailer.models``; only ``mailer.urls`` imports it.
"""
