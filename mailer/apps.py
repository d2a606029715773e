from django.apps import AppConfig


class MailerConfig(AppConfig):
    name = "mailer"
    verbose_name = "Email outbox"

    def ready(self) -> None:
        from celery import signals

        from .outbox import lifecycle

        # The process that runs the tasks: a prefork child, or the worker itself (threads, solo).
        signals.worker_process_init.connect(lifecycle.process_started, weak=False, dispatch_uid="mailer.child")
        signals.worker_ready.connect(lifecycle.worker_ready, weak=False, dispatch_uid="mailer.ready")
        signals.worker_shutting_down.connect(lifecycle.shutting_down, weak=False, dispatch_uid="mailer.stop")
