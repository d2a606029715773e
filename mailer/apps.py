from django.apps import AppConfig


class MailerConfig(AppConfig):
    name = "mailer"
    verbose_name = "Email outbox"

    def ready(self) -> None:
        from celery.signals import worker_ready

        from .sending.warmup import on_worker_ready

        worker_ready.connect(on_worker_ready, weak=False, dispatch_uid="mailer.warmup")
