"""CPU floor: render + MIME + one SES request per email, one thread, no queue or database."""

import time
from collections.abc import Iterator

from bench.harness import CONTEXT, SES, Bench
from bench.report import Section, md


def cpu_floor(ses: SES, n: int) -> dict:
    """The floor of sending: render + MIME + one SES request per email, one thread, no queue or database.

    mailer.outbox.message.build_message (templates, css-inline, headers) and
    mailer.sending.transport.send (django-ses, the shared boto3 client) on unsaved rows, back
    to back, against the fake SES at 0 ms. CPU from time.process_time (this process only).
    """
    from mailer.models import Email
    from mailer.outbox.message import build_message
    from mailer.sending import transport

    ses.configure(latency_ms=0)
    emails = [
        Email(
            pk=i,
            template="accounts/email/welcome",
            to=f"floor{i}@example.com",
            context=CONTEXT,
            language="ne" if i % 2 else "en",
        )
        for i in range(n + 50)
    ]
    for email in emails[:50]:  # warm: templates, client, connection
        transport.send(build_message(email))
    cpu0 = time.process_time()
    for email in emails[50:]:  # render + MIME alone
        build_message(email).message().as_bytes()
    render_cpu = time.process_time() - cpu0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for email in emails[50:]:
        transport.send(build_message(email))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"n": n, "cpu_ms": cpu * 1000 / n, "render_mime_ms": render_cpu * 1000 / n, "rate": n / wall}


def run(bench: Bench) -> Iterator[Section]:
    floor = cpu_floor(bench.ses, bench.n)
    yield Section(
        "CPU floor: render + MIME + one SES request per email (one thread, no queue, no database)",
        md(
            ["measure", "value"],
            [
                ["emails", floor["n"]],
                ["CPU per email", f"{floor['cpu_ms']:.2f} ms"],
                ["of which render + MIME (measured apart)", f"{floor['render_mime_ms']:.2f} ms"],
                ["emails/s on one core", f"{floor['rate']:.0f}"],
            ],
        ),
    )
