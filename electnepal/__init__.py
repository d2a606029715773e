# Load the Celery app whenever Django starts, so that shared tasks publish through
# it (and its Redis broker) rather than through Celery's default app.
from worker import app as celery_app

__all__ = ["celery_app"]
