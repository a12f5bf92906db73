"""shared/metrics.py: names and labels follow Prometheus' conventions, and /metrics only reads.

Conventions checked on the text exposition itself (what Prometheus parses): counters end in
`_total`, nothing else does; durations are `_seconds`, sizes `_bytes`, no other unit (no ms,
minutes, KB, percent); every name is `ouro_`-prefixed; no label that would make a series per
cycle, event, example, checkpoint, session or commit (unbounded cardinality).
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from shared import metrics
from shared.nats_server import free_port

# Label names whose values are ids: one series per cycle/event/... and Prometheus drowns.
HIGH_CARDINALITY = re.compile(r"(^|_)(cycle|event|example|checkpoint|dataset|session|commit|sha|request|prompt|"
                              r"item|path|file|user|message)(_id)?$|_id$")
# Units that are not base units (Prometheus: seconds, bytes, ratios 0-1).
NOT_BASE_UNITS = re.compile(r"_(ms|msec|millis|milliseconds|us|micros|microseconds|ns|minutes|hours|days|"
                            r"kb|mb|gb|kib|mib|gib|kilobytes|megabytes|gigabytes|percent|pct)(_|$)")
TIME_WORDS = re.compile(r"_(duration|latency|time|elapsed|wait)(_|$)")
LABEL_VALUES = "x"


def _shipped() -> list[MetricWrapperBase]:
    return [m for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)]


def _exposition() -> dict[str, tuple[str, set[str], set[str]]]:
    """family → (type, its sample names, its label names), from the text format of a private
    registry holding a copy of each shipped metric with one child (the global one stays untouched)."""
    registry = CollectorRegistry()
    kinds = {"counter": Counter, "gauge": Gauge, "histogram": Histogram, "summary": Summary}
    for m in _shipped():
        copy = kinds[m._type](m._name, m._documentation, m._labelnames, registry=registry)
        child = copy.labels(*[LABEL_VALUES] * len(m._labelnames)) if m._labelnames else copy
        (child.inc if m._type == "counter" else child.set if m._type == "gauge" else child.observe)(1)
    families = {}
    shipped = {m._name for m in _shipped()}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        if family.name.removesuffix("_created") in shipped and family.name.endswith("_created"):
            continue  # the client's creation timestamp of a counter or histogram, not a metric of ours
        labels = {k for s in family.samples for k in s.labels} - {"le", "quantile"}
        families[family.name] = (family.type, {s.name for s in family.samples}, labels)
    return families


def test_the_exposition_follows_the_naming_conventions() -> None:
    families = _exposition()
    assert len(families) == len(_shipped()) >= 20
    problems = []
    for name, (kind, samples, labels) in families.items():
        if not name.startswith("ouro_"):
            problems.append(f"{name}: not ouro_-prefixed")
        if kind == "counter":
            problems += [f"{name}: counter sample {s} does not end in _total" for s in samples
                         if not s.endswith(("_total", "_created"))]
        elif any(s.endswith("_total") for s in samples):
            problems.append(f"{name}: a {kind} named like a counter (_total)")
        if NOT_BASE_UNITS.search(name):
            problems.append(f"{name}: not in base units (seconds, bytes, ratios)")
        if TIME_WORDS.search(name) and not name.endswith("_seconds"):
            problems.append(f"{name}: a duration must be in _seconds")
        if kind == "histogram" and not name.endswith(("_seconds", "_bytes")):
            problems.append(f"{name}: a histogram without a unit suffix")
        problems += [f"{name}: label {label!r} has one value per id (high cardinality)" for label in sorted(labels)
                     if HIGH_CARDINALITY.search(label)]
    assert not problems, "\n".join(problems)


def test_the_checker_catches_bad_names() -> None:
    """The patterns above are what stands between a bad name and production: they bite."""
    assert NOT_BASE_UNITS.search("ouro_training_ms") and NOT_BASE_UNITS.search("ouro_artifact_size_mb")
    assert TIME_WORDS.search("ouro_handler_duration")
    assert all(HIGH_CARDINALITY.search(x) for x in ("cycle_id", "example_id", "checkpoint", "event_id", "commit"))
    assert not any(HIGH_CARDINALITY.search(x) for x in ("specialist", "category", "model", "service", "outcome"))


# ---------------------------------------------------------------------------------- /metrics


def _get(url: str, method: str = "GET", token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"x" if method == "POST" else None)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture
def endpoint() -> str:
    port = free_port()
    server = metrics.serve_metrics(port, token="s3cret-scrape-token")
    yield f"http://127.0.0.1:{port}/metrics"
    server.shutdown()
    server.server_close()


def test_metrics_need_the_bearer_token(endpoint: str) -> None:
    assert _get(endpoint.replace("/metrics", "/healthz")) == (200, "ok\n")  # probes: no token, no data
    assert _get(endpoint)[0] == 401
    assert _get(endpoint, token="wrong")[0] == 401
    status, text = _get(endpoint, token="s3cret-scrape-token")
    assert status == 200 and "ouro_events_handled_total" in text


def test_metrics_endpoint_writes_nothing(endpoint: str) -> None:
    for method in ("POST", "PUT", "DELETE"):
        assert _get(endpoint, method, token="s3cret-scrape-token")[0] == 405, method


def test_token_from_a_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("from-the-file\n")
    monkeypatch.setenv("OURO_METRICS_TOKEN_FILE", str(tmp_path / "token"))
    port = free_port()
    server = metrics.serve_metrics(port)
    try:
        assert _get(f"http://127.0.0.1:{port}/metrics")[0] == 401
        assert _get(f"http://127.0.0.1:{port}/metrics", token="from-the-file")[0] == 200
    finally:
        server.shutdown()
        server.server_close()
