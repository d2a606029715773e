from django.urls import path

from .ops.metrics import metrics_view
from .rendering.previews import preview_detail, preview_html, preview_index
from .ses.webhook import SESEventsView

app_name = "mailer"

urlpatterns: list = [
    path("metrics/", metrics_view, name="metrics"),
    path("ses/events/", SESEventsView.as_view(), name="ses-events"),
    path("preview/", preview_index, name="preview-index"),
    # The HTML route first: <path:> would otherwise take ".../en/html/" as a template.
    path("preview/<path:template>/<str:language>/html/", preview_html, name="preview-html"),
    path("preview/<path:template>/<str:language>/", preview_detail, name="preview"),
]
