"""``mailer.sending.warmup``: a worker renders every kind once and opens its backend at start."""

from celery.signals import worker_ready
from django.conf import settings as django_settings
from django.template import engines

from mailer.rendering import samples
from mailer.sending import transport
from mailer.sending.warmup import warm_up


def email_log() -> str:
    return (django_settings.LOG_DIR / "email.log").read_text()


def cached_loader():
    loader = engines["django"].engine.template_loaders[0]
    assert hasattr(loader, "get_template_cache"), "settings must use the cached template loader"
    return loader


def test_worker_ready_renders_every_kind_in_every_language_and_opens_the_backend(db, ses):
    loader = cached_loader()
    loader.reset()  # as in a new process
    transport.reset_connection()
    log_before = len(email_log())
    ses.faults.answer("GET", "/v2/email/account", 200, {"SendingEnabled": True})  # moto has no GetAccount

    worker_ready.send(sender=None)  # what Celery sends once the worker consumes

    for kind in samples.kinds():
        for part in ("subject.txt", "txt", "html"):
            assert f"{kind}.{part}" in loader.get_template_cache, (kind, part)
    assert "accounts/email/password_reset.ne.html" in loader.get_template_cache
    assert transport.connection().connection is not None  # the shared boto3 client is built
    expected = len(samples.kinds()) * len(samples.languages())
    assert (
        f"INFO mailer worker warm-up: {expected} emails rendered, django_ses.SESBackend opened (probe: ok)"
        in (email_log()[log_before:])
    )
    assert ses.faults.send_requests == 0  # rendering only: nothing is sent


def test_a_refused_probe_is_named_in_the_log_and_the_warm_up_completes(db, ses):
    transport.reset_connection()
    ses.faults.answer("GET", "/v2/email/account", 403, {"message": "not allowed"}, error_type="AccessDeniedException")
    log_before = len(email_log())

    assert warm_up() == len(samples.kinds()) * len(samples.languages())

    assert "opened (probe: AccessDeniedException)" in email_log()[log_before:]
    assert ses.faults.send_requests == 0


def test_a_failed_warm_up_is_logged_and_never_raises(db, settings):
    settings.EMAIL_BACKEND = "no.such.Backend"
    transport.reset_connection()
    log_before = len(email_log())

    rendered = warm_up()

    assert rendered == len(samples.kinds()) * len(samples.languages())
    assert "ERROR mailer worker warm-up failed" in email_log()[log_before:]
