"""The outbox: every email of the site is a row here first, then a send through SES.

Other apps call ``mailer.api`` only. Inside, one folder per concern, each importing
only the ones below it (``.importlinter`` states it and ``make test`` checks it):

    ops/  ses/     operations tooling | SES's reports (webhook, signatures, events)
    outbox/        enqueue, doorbell, state, delivery, sweep, retention, resend
    sending/       transport, error classes, rate limiter, breaker, counters, warm-up
    rendering/     templates, samples, previews
    models         Email, Suppression, EmailEvent

Django's fixed places stay where Django looks for them (api, models, admin, urls,
apps, tasks, management/, templatetags/, migrations/); only urls, admin, tasks and
the management commands reach ``ops`` and ``ses``.
"""
