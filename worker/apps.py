from django.apps import AppConfig
from django.apps import apps as registry
from django.db.models.signals import post_migrate


def _install_schedules(sender, using, apps=registry, **kwargs) -> None:
    # migrate passes the migrated state's apps; flush (between transactional tests) none.
    from .schedules import install

    install(apps, using=using)


class WorkerConfig(AppConfig):
    """The Celery side as a Django app: ``migrate`` writes worker.schedules into beat's tables."""

    name = "worker"
    verbose_name = "Celery worker and beat"

    def ready(self) -> None:
        # post_migrate comes once per app with models, after every migration has run:
        # listen to django_celery_beat's (this app has no models, so gets none).
        beat = registry.get_app_config("django_celery_beat")
        post_migrate.connect(_install_schedules, sender=beat, dispatch_uid="worker.schedules")
