"""Work a worker process does once, at start, rather than for its first emails.

Every kind of email is rendered once in every language with its sample context
(mailer.rendering.samples): templates are parsed into the cached loader, the
translation catalogues are loaded and css-inline's inliner is built. The process's
shared SES client is built too (sending.transport) and makes one read-only call
(transport.probe), so that the first send is not also botocore's slow first
request. Without this, the first email of each kind in each process pays for all of
it (docs/performance.md).
"""

import logging
import time

from django.conf import settings

from ..rendering import samples
from . import transport

logger = logging.getLogger("mailer")


def warm_up() -> int:
    """Render every kind × language once and open the email backend; return the emails rendered.

    Never raises: a failure here is logged and left to the first real email, which
    reports it where it belongs (its row).
    """
    started = time.monotonic()
    rendered = 0
    try:
        for kind in samples.kinds():
            for language in samples.languages():
                samples.render_sample(kind, language)
                rendered += 1
        answer = transport.probe()
    except Exception:
        logger.exception("worker warm-up failed; the first emails will do the work instead")
        return rendered
    logger.info(
        "worker warm-up: %d emails rendered, %s opened (probe: %s) in %.0f ms",
        rendered,
        settings.EMAIL_BACKEND,
        answer,
        (time.monotonic() - started) * 1000,
    )
    return rendered
