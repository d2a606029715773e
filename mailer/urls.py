from django.urls import path

from .metrics_view import metrics_view
from .views import SESEventsView

app_name = "mailer"

urlpatterns: list = [
    path("metrics/", metrics_view, name="metrics"),
    path("ses/events/", SESEventsView.as_view(), name="ses-events"),
]
