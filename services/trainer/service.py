"""Trainer bus adapter: dataset.ready → LoRA/QLoRA in a subprocess → adapter in the store → checkpoint.ready.

Training runs in a child process (`services.trainer.worker`) so this event loop keeps sending
`in_progress()` heartbeats for as long as it takes. The child dies with us (PR_SET_PDEATHSIG),
so a killed trainer leaves no orphan holding the CPU; its dataset.ready is redelivered one
`ack_wait` later and the new trainer starts over. The checkpoint id is derived from what
determines the result (dataset, base model, settings), so a redelivery after success only
re-announces the checkpoint that already exists.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from services.trainer.config import train_config
from services.trainer.progress import parse as progress_line
from services.trainer.settings import TrainerSettings
from services.trainer.train import TrainConfig
from shared import metrics
from shared.bus import Bus, Consumer, Delivery, Poison
from shared.events import CheckpointReady, DatasetReady, Progress, TrainMetrics, content_hash, derived_id, utcnow
from shared.models import resolve_base_model
from shared.progress import publish_progress
from shared.registry import REGISTRY_BUCKET, CheckpointRecord, Registry
from shared.service import ServiceTable
from shared.settings import CommonSettings
from shared.specialists import profile
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, get_dir, put_dir

log = logging.getLogger("ouro.trainer")
ROOT = Path(__file__).resolve().parents[2]


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


async def run_worker(dataset: Path, base: Path, out: Path, config: TrainConfig,
                     init_adapter: Path | None = None,
                     on_progress: Callable[[dict], Awaitable[None]] | None = None) -> TrainMetrics:
    """Train in the worker process; `on_progress` gets each progress report it writes."""
    extra = ["--init-adapter", str(init_adapter)] if init_adapter is not None else []
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.trainer.worker",
        "--dataset", str(dataset), "--base", str(base), "--out", str(out), "--config-json", config.to_json(), *extra,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, preexec_fn=_die_with_parent,
    )
    assert proc.stdout is not None
    last = ""
    async for raw in proc.stdout:  # line by line while it trains: progress, then the metrics
        line = raw.decode(errors="replace").strip()
        report = progress_line(line)
        if report is None:
            last = line or last
        elif on_progress is not None:
            await on_progress(report)
    await proc.wait()
    if proc.returncode != 0 or not last:
        raise RuntimeError(f"training worker exited with {proc.returncode}; see the trainer log")
    return TrainMetrics.model_validate_json(last)


class Trainer:
    def __init__(self, bus: Bus, registry: Registry, store: NatsArtifactStore, common: CommonSettings,
                 settings: TrainerSettings) -> None:
        self.bus, self.registry, self.store, self.common, self.settings = bus, registry, store, common, settings

    async def on_dataset(self, event: DatasetReady, delivery: Delivery) -> None:
        bus, registry, store, common, settings = self.bus, self.registry, self.store, self.common, self.settings
        if event.kept == 0:
            raise Poison(f"dataset {event.dataset_id} has no examples to train on")
        config = train_config(event.specialist, settings)
        # Build on what was learned: continue the champion's adapter (the specialist's
        # `training.start_from`), or start a fresh adapter from the base model.
        parent = None
        if profile(event.specialist).training.start_from == "champion":
            parent, _ = await registry.champion(event.specialist)
        parent_id = parent.checkpoint_id if parent else None
        determinants = [event.specialist, event.dataset_id, common.base_model, config.to_json()]
        if parent_id:
            determinants.append(parent_id)
        checkpoint_id = content_hash(determinants)[:32]
        record = await registry.checkpoint(checkpoint_id)
        if record is None:
            base_dir = await asyncio.to_thread(resolve_base_model, common.base_model, common.data_dir)
            (common.data_dir / "tmp").mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=common.data_dir / "tmp") as tmp:
                work = Path(tmp)
                await get_dir(store, event.ref, work / "dataset")
                init = await get_dir(store, parent.adapter, work / "parent") if parent else None
                log.info("training %s on dataset %s (%d examples, %d new, %d replayed) from %s", checkpoint_id,
                         event.dataset_id[:12], event.kept, event.new, event.replayed,
                         f"champion {parent_id}" if parent_id else "the base model")
                started = time.monotonic()
                async def relay(report: dict) -> None:
                    await publish_progress(bus, Progress(
                        cycle_id=event.cycle_id, specialist=event.specialist, stage="train", **report))

                train_metrics = await run_worker(work / "dataset", base_dir, work / "adapter", config, init,
                                                 on_progress=relay)
                metrics.TRAINING_SECONDS.labels(event.specialist).observe(time.monotonic() - started)
                metrics.TRAINING_LOSS.labels(event.specialist).set(train_metrics.train_loss)
                adapter = await put_dir(store, f"adapters/{event.specialist}/{checkpoint_id}", work / "adapter")
            record = CheckpointRecord(
                checkpoint_id=checkpoint_id, specialist=event.specialist, adapter=adapter,
                base_model=common.base_model, dataset_id=event.dataset_id, metrics=train_metrics, created_at=utcnow(),
                parent=parent_id, dataset=event.ref,
            )
            await registry.put_checkpoint(record)
            log.info("checkpoint %s: loss %.4f in %.0f s", checkpoint_id, train_metrics.train_loss,
                     train_metrics.duration_s)
        else:
            log.info("checkpoint %s exists already (redelivery): re-announcing", checkpoint_id)
        await bus.publish(CheckpointReady(
            event_id=derived_id("checkpoint", event.cycle_id, checkpoint_id),
            cycle_id=event.cycle_id, specialist=event.specialist, checkpoint_id=checkpoint_id,
            adapter=record.adapter, base_model=record.base_model, dataset_id=event.dataset_id,
            metrics=record.metrics, parent=record.parent,
        ))



async def setup(bus: Bus, common: CommonSettings | None = None,
                settings: TrainerSettings | None = None) -> ServiceTable:
    settings = settings or TrainerSettings()
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    t = Trainer(bus, Registry(await bus.kv(REGISTRY_BUCKET)), store, common or CommonSettings(), settings)
    return ServiceTable(consumers=[
        Consumer("trainer", {DatasetReady: t.on_dataset}, ack_wait=settings.ack_wait, max_deliver=3, max_ack_pending=8),
    ])
