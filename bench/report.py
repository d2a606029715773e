"""The pipeline benchmark's markdown report: tables, sections and the file.

Each section is printed as soon as its scenario yields it (a long run shows its
figures as it goes), and the whole report is written to
bench/results/pipeline-<timestamp>.md (gitignored) at the end.
"""

import os
import sys
import time
from typing import NamedTuple

from bench.harness import DB_NAME, ROOT


class Section(NamedTuple):
    title: str
    body: str


def md(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


class Report:
    def __init__(self, worker_command: str) -> None:
        self.parts = [
            f"# Mail pipeline benchmark, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n",
            (
                f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
                f"workers: `{worker_command}` (docker-compose.yml), one per configuration, "
                "`--concurrency=<processes>` and MAILER_SEND_THREADS=<threads> added where a row sets them; "
                f"django-ses (SES v2) → bench/fake_ses.py (aiohttp); PostgreSQL {DB_NAME}, Redis db 14.\n"
            ),
        ]

    def add(self, section: Section) -> None:
        text = f"## {section.title}\n\n{section.body}"
        print(text, flush=True)
        self.parts.append(text)

    def write(self) -> None:
        results_dir = ROOT / "bench" / "results"
        results_dir.mkdir(exist_ok=True)
        out = results_dir / time.strftime("pipeline-%Y%m%d-%H%M%S.md")
        out.write_text("\n".join(self.parts))
        print(f"written to {out}")
