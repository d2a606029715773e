"""Benchmark of rendering: ``python -m bench.render [--rounds 200]``.

Per email: the three templates (subject, text, HTML) through the cached loader, then
css-inline on the HTML, exactly as the worker does (mailer.rendering.templates.render), for
every kind and language with its sample context (mailer.rendering.samples). Reports the
median and p99 per email, and the inlining's share. No database or network.
Writes a markdown table to bench/results/render-<timestamp>.md and the console.
"""

import argparse
import hashlib
import os
import statistics
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="renders of each kind × language")
    args = parser.parse_args()
    # A derived key, as long as the settings ask for without DEBUG (electnepal/startup_checks.py).
    key = hashlib.sha256(b"electnepal-bench:" + str(Path(__file__).resolve().parent.parent).encode()).hexdigest()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="electnepal.settings",
        SECRET_KEY=key,
        READ_DOT_ENV="false",
        DATABASE_URL="sqlite://:memory:",
        SITE_URL="https://electnepal.test",
    )
    import django

    django.setup()
    from mailer.rendering import samples, templates

    cases = [
        (kind, lang, samples.sample_context(kind, lang))
        for kind in samples.kinds()
        for lang in samples.languages_of(kind)
    ]
    for kind, lang, context in cases:  # warm the template cache, as a running worker has
        templates.render(template=kind, context=context, language=lang)
    totals, inline, sizes = [], [], []
    for _ in range(args.rounds):
        for kind, lang, context in cases:
            started = time.perf_counter()
            email = templates.render(template=kind, context=context, language=lang)
            totals.append(time.perf_counter() - started)
            raw = templates._part(
                kind, "html", lang, {**templates.base_context(), **context, "language": lang}, autoescape=True
            )
            started = time.perf_counter()
            templates.inline_css(raw)
            inline.append(time.perf_counter() - started)
            sizes.append(len(email.html.encode()) + len(email.text.encode()))

    def us(values, q):
        return statistics.quantiles(values, n=100)[q - 1] * 1e6 if q != 50 else statistics.median(values) * 1e6

    rows = [
        ("emails rendered", f"{len(totals):,} ({len(cases)} kind × language pairs × {args.rounds})"),
        ("render + inline per email, median", f"{us(totals, 50):.0f} µs"),
        ("render + inline per email, p99", f"{us(totals, 99):.0f} µs"),
        ("css-inline alone, median", f"{us(inline, 50):.0f} µs"),
        ("email size (HTML + text), median", f"{statistics.median(sizes) / 1024:.1f} KiB"),
    ]
    table = "| measure | value |\n| --- | --- |\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    print(table)
    out = Path(__file__).resolve().parent / "results" / f"render-{time.strftime('%Y%m%d-%H%M%S')}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(table + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
