"""`ouro lineage CHECKPOINT` and the corpus part of `ouro status`: read from the registry, the
judge's state and the artifact store, never from a service's memory."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

from services.judge.corpus import Corpus, CorpusManifest
from services.judge.curator import InFlight
from services.judge.service import JUDGE_BUCKET
from shared.bus import Bus
from shared.cron import Cron
from shared.events import utcnow
from shared.registry import REGISTRY_BUCKET, Registry
from shared.specialists import profile
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, get_dir


async def load_corpus(bus: Bus, specialist: str) -> tuple[CorpusManifest | None, Corpus | None]:
    state = Registry(await bus.kv(JUDGE_BUCKET))
    raw = await state.marked("corpus", specialist)
    if not raw:
        return None, None
    manifest = CorpusManifest.model_validate_json(raw)
    if manifest.ref is None:
        return manifest, Corpus(specialist=specialist)
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    with tempfile.TemporaryDirectory() as tmp:
        path = await store.get_file(manifest.ref, Path(tmp) / "corpus.jsonl.gz")
        return manifest, Corpus.loads(path.read_bytes())


async def corpus_status(bus: Bus, specialist: str) -> dict[str, object]:
    state = Registry(await bus.kv(JUDGE_BUCKET))
    manifest, corpus = await load_corpus(bus, specialist)
    running = await state.marked("training", specialist)
    out: dict[str, object] = {"version": 0, "live": 0, "retired": 0, "new_since_training": 0}
    if manifest is not None and corpus is not None:
        out = {"version": manifest.version, **corpus.counts(), "trained_version": manifest.trained_version,
               "updated_at": manifest.updated_at.isoformat()}
    if running:
        r = InFlight.model_validate_json(running)
        out["training"] = {"cycle_id": r.cycle_id, "since": r.since.isoformat(), "pending": r.pending,
                           "attempt": r.attempts, "stage": await _stage(bus, r.cycle_id)}
    last = await Registry(await bus.kv(REGISTRY_BUCKET)).marked("decision", f"last-{specialist}")
    if last:
        d = json.loads(last)
        out["last_decision"] = {"decision": "promoted" if "previous_champion" in d else "rejected",
                                "checkpoint_id": d["checkpoint_id"], "at": d["occurred_at"], "cycle_id": d["cycle_id"],
                                "reasons": d.get("reasons", [])}
    failed = await state.marked("failed", specialist)
    if failed:
        out["last_failed_cycle"] = json.loads(failed)
    cadence = profile(specialist).cadence
    nxt = Cron.parse(cadence.train).next(utcnow())
    new = int(out.get("new_since_training", 0))  # type: ignore[arg-type]
    out["next_training"] = {
        "scheduled": nxt.isoformat() if nxt else None, "schedule": cadence.train,
        "why": (f"{new} of {cadence.min_new_examples} new examples: trains at the next commit or session harvest"
                if new >= cadence.min_new_examples else
                f"{new} new, trains at {cadence.min_new_examples} new or on schedule ({cadence.train} UTC)"
                + (" if anything is new" if new == 0 else "")),
    }
    return out


async def _stage(bus: Bus, cycle_id: str, window: int = 500) -> str:
    """What the cycle is waiting on, from its latest event in the stream's last `window` messages."""
    from ouro.cycle import waiting_on
    from shared.events import STREAM_NAME, decode

    info = await bus.js.stream_info(STREAM_NAME)
    for seq in range(info.state.last_seq, max(info.state.first_seq, info.state.last_seq - window) - 1, -1):
        try:
            raw = await bus.js.get_msg(STREAM_NAME, seq)
            event = decode(raw.subject, raw.data)
        except Exception:  # noqa: BLE001 - a deleted or foreign message
            continue
        if event.cycle_id == cycle_id:
            return waiting_on(event)
    return f"unknown (its events are older than the last {window} in the stream)"


async def lineage(bus: Bus, checkpoint_id: str) -> dict[str, object]:
    """The checkpoint, what it continued, its dataset and corpus version, and where every example came from."""
    registry = Registry(await bus.kv(REGISTRY_BUCKET))
    record = await registry.checkpoint(checkpoint_id)
    if record is None:
        raise LookupError(f"no checkpoint {checkpoint_id} in the registry")
    out: dict[str, object] = {
        "checkpoint_id": record.checkpoint_id, "specialist": record.specialist, "parent": record.parent,
        "dataset_id": record.dataset_id, "base_model": record.base_model, "created_at": record.created_at.isoformat(),
        "train_loss": record.metrics.train_loss, "steps": record.metrics.steps,
    }
    if record.dataset is None:
        return out | {"note": "trained before datasets were recorded with checkpoints"}
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    with tempfile.TemporaryDirectory() as tmp:
        ds_dir = await get_dir(store, record.dataset, Path(tmp) / "dataset")
        report = json.loads((ds_dir / "report.json").read_text())
        from datasets import load_from_disk

        rows = load_from_disk(str(ds_dir / "data"))
        ids = list(rows["id"])
        gens, cats = Counter(rows["generator"]), Counter(rows["category"])
    _, corpus = await load_corpus(bus, record.specialist)
    entries = [corpus.entries[i] for i in ids if corpus is not None and i in corpus.entries]
    commits = sorted({e.example.provenance.commit for e in entries if e.example.provenance.commit})
    sessions = sorted({e.example.provenance.session_id for e in entries if e.example.provenance.session_id})
    paths = Counter(e.example.provenance.path for e in entries if e.example.provenance.path)
    return out | {
        "corpus_version": report.get("corpus", {}).get("version"), "examples": len(ids),
        "by_generator": dict(sorted(gens.items())), "by_category": dict(sorted(cats.items())),
        "commits": commits, "sessions": sessions, "paths": dict(paths.most_common(20)),
        "cycles": sorted({e.cycle_id for e in entries}),
        "retired_since": sum(1 for e in entries if not e.live),
    }
