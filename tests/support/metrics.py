"""One scrape of ``GET /mailer/metrics/``, parsed with prometheus_client's own parser, and its samples."""

from prometheus_client.parser import text_string_to_metric_families

URL = "/mailer/metrics/"
TOKEN = "not-a-real-token"  # short: no credential-shaped string (tests/test_repository.py)


def scrape(client) -> dict[tuple, float]:
    """One authorised scrape as {(sample name, (label, value)...): value}."""
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, *sorted(labels.items())))


def histogram(samples: dict, name: str, **labels) -> tuple[list[tuple[float, float]], float, float]:
    """(buckets as (le, cumulative count) in order, count, sum) of histogram ``name``."""
    buckets = sorted(
        (float(dict(key[1:])["le"]), n)
        for key, n in samples.items()
        if key[0] == f"{name}_bucket" and {k: v for k, v in key[1:] if k != "le"} == labels
    )
    return buckets, value(samples, f"{name}_count", **labels), value(samples, f"{name}_sum", **labels)
