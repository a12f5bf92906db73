"""Prometheus metrics. Each service runs in its own process and serves its own /metrics.

Names are the contract with deploy/prometheus (alerts) and deploy/grafana (dashboard):
change them together.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import Counter, Gauge, Histogram, make_wsgi_app

EVENTS_HANDLED = Counter("ouro_events_handled_total", "Events handled and acked", ["service", "subject"])
EVENTS_FAILED = Counter("ouro_events_failed_total", "Event deliveries that failed", ["service", "subject", "kind"])
DEAD_LETTERS = Counter("ouro_dead_letters_total", "Events sent to the DLQ", ["service", "subject"])
HANDLER_SECONDS = Histogram(
    "ouro_handler_seconds", "Time to handle one event", ["service", "subject"],
    buckets=(0.01, 0.1, 1, 5, 30, 60, 300, 900, 3600),
)
EXAMPLES_HARVESTED = Counter("ouro_examples_harvested_total", "Examples emitted", ["generator", "category"])
HARVEST_SKIPPED = Counter("ouro_harvest_skipped_total", "Inputs skipped by the harvester", ["reason"])
COMMITS_MINED = Counter("ouro_commits_mined_total", "Commits mined, by class", ["kind"])
SECRETS_SCRUBBED = Counter("ouro_secrets_scrubbed_total", "Secrets and personal data replaced", ["kind"])
EXAMPLES_KEPT = Counter("ouro_judge_kept_total", "Examples kept by the judge", ["specialist", "category"])
EXAMPLES_DROPPED = Counter("ouro_judge_dropped_total", "Examples dropped by the judge", ["specialist", "reason"])
DATASETS = Counter("ouro_datasets_total", "Datasets written", ["specialist"])
CORPUS_EXAMPLES = Gauge("ouro_corpus_examples", "Examples in the specialist's corpus", ["specialist", "state"])
SERVICE_RESTARTS = Counter("ouro_service_restarts_total", "Services restarted by `ouro up` after dying", ["service"])
CYCLES_FAILED = Counter("ouro_cycles_failed_total", "Cycles that got no decision", ["specialist", "reason"])
TRAINING_SECONDS = Histogram(
    "ouro_training_seconds", "Wall time of one training run", ["specialist"],
    buckets=(10, 30, 60, 300, 900, 1800, 3600, 7200),
)
TRAINING_LOSS = Gauge("ouro_training_loss", "Final training loss of the last run", ["specialist"])
EVAL_SCORE = Gauge("ouro_eval_score", "Score of the last evaluated model", ["specialist", "category", "model"])
PROMOTIONS = Counter("ouro_promotions_total", "Checkpoints promoted", ["specialist"])
REJECTIONS = Counter("ouro_rejections_total", "Checkpoints rejected", ["specialist"])
ROLLBACKS = Counter("ouro_rollbacks_total", "Rollbacks to an archived champion", ["specialist"])
ROUTER_REQUESTS = Counter("ouro_router_requests_total", "Chat requests the router answered", ["specialist", "status"])
ROUTER_SECONDS = Histogram(
    "ouro_router_request_seconds", "Time from request to the last byte of the answer", ["specialist"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
ROUTER_SWAPS = Counter("ouro_router_swaps_total", "Adapter swaps (promotions, rollbacks) served", ["specialist"])
ROUTER_UNLOADS = Counter("ouro_router_unloads_total", "Old adapters unloaded after a swap", ["outcome"])
ROUTER_CAPTURED = Counter("ouro_router_sessions_captured_total", "Served conversations sent to the loop", ["outcome"])


SANDBOX_RUNS = Counter(
    "ouro_sandbox_runs_total", "Untrusted code runs in the sandbox, by outcome (timeout, killed: a limit hit)",
    ["outcome"],
)

# ---------------------------------------------------------------- /metrics

Wsgi = Callable[[dict, Callable], Iterable[bytes]]


def guarded(app: Wsgi, token: str) -> Wsgi:
    """Read-only and, with a token, authenticated: GET/HEAD only (nothing here writes), and
    `Authorization: Bearer <token>` (Prometheus' `authorization.credentials_file`) when set.
    `/healthz` answers without the token and says nothing but "ok", for liveness probes."""
    expected = f"Bearer {token}".encode()

    def guard(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")])
            return [b"/metrics is read-only\n"]
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        given = environ.get("HTTP_AUTHORIZATION", "").encode()
        if token and not hmac.compare_digest(given, expected):  # constant time: no guessing by timing
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Bearer realm="metrics"'),
                                                ("Content-Type", "text/plain")])
            return [b"a bearer token is required\n"]
        return app(environ, start_response)

    return guard


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        """Every scrape would be a log line."""


def serve_metrics(port: int, token: str | None = None) -> WSGIServer | None:
    """Serve /metrics on `port` (0: not at all) in a daemon thread. `token`: the bearer token a
    scraper must send; None: `OURO_METRICS_TOKEN` / `OURO_METRICS_TOKEN_FILE` (empty: open)."""
    if not port:
        return None
    if token is None:
        from shared.settings import CommonSettings

        token = CommonSettings().metrics_bearer()
    server = make_server("", port, guarded(make_wsgi_app(), token), _Server, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


# The 95% interval of each score in ouro_eval_score (bootstrap over the category's prompts), so a
# dashboard shows how far apart two scores must be before the gate can tell them apart.
EVAL_SCORE_LOW = Gauge("ouro_eval_score_low", "Lower end of the 95% interval of ouro_eval_score",
                       ["specialist", "category", "model"])
EVAL_SCORE_HIGH = Gauge("ouro_eval_score_high", "Upper end of the 95% interval of ouro_eval_score",
                        ["specialist", "category", "model"])
