"""Prometheus metrics. Each service runs in its own process and serves its own /metrics.

Names are the contract with deploy/prometheus (alerts) and deploy/grafana (dashboard):
change them together.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

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


def serve_metrics(port: int) -> None:
    if port:
        start_http_server(port)
