"""The bus part of `ouro export`: read a corpus version or a checkpoint's facts, then call the core.

The corpus comes from the judge's state (KV `ouro-judge`, `done.corpus.<specialist>`) and the
artifact store (`corpus/<specialist>/<version:08d>.jsonl.gz`); a checkpoint from the registry
(`checkpoint.<id>`, `done.eval.<id>`, `done.decision.<id>`) and its adapter and dataset from the
artifact store. Nothing here writes to the bus.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ouro.export.adapter import AdapterFacts
from ouro.export.rows import ExportError
from services.judge.corpus import Corpus, CorpusManifest
from services.judge.service import JUDGE_BUCKET
from shared.bus import Bus
from shared.events import EvalCompleted
from shared.registry import REGISTRY_BUCKET, CheckpointRecord, Registry
from shared.specialists import profile, specialists
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, get_dir
from shared.suites import SuiteError, load_suite

MAX_ANCESTORS = 100


def _corpus_name(specialist: str, version: int) -> str:
    return f"corpus/{specialist}/{version:08d}.jsonl.gz"


async def _stored_versions(store: NatsArtifactStore, specialist: str) -> list[int]:
    prefix = f"corpus/{specialist}/"
    try:
        infos = await store.obj.list()
    except Exception:  # nats-py raises NotFoundError on an empty store
        return []
    return sorted(int(i.name[len(prefix):].split(".")[0]) for i in infos
                  if i.name.startswith(prefix) and not i.deleted)


async def load_corpus_version(bus: Bus, specialist: str, version: int | None = None) -> Corpus:
    """The corpus of `specialist` at `version` (None: the current one). Raises ExportError."""
    if specialist not in specialists():
        raise ExportError(f"unknown specialist {specialist!r}; known: {', '.join(specialists().names)}")
    state = Registry(await bus.kv(JUDGE_BUCKET))
    raw = await state.marked("corpus", specialist)
    if not raw:
        raise ExportError(f"no corpus for {specialist} on the bus: the judge has not kept any example for it yet")
    manifest = CorpusManifest.model_validate_json(raw)
    want = manifest.version if version is None else version
    if want == manifest.version and manifest.ref is None:
        raise ExportError(f"the corpus of {specialist} is empty (version {manifest.version}): nothing to export")
    if not 1 <= want <= manifest.version:
        raise ExportError(f"no corpus version {version} for {specialist}; the current one is {manifest.version}")
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "corpus.jsonl.gz"
        if want == manifest.version:
            await store.get_file(manifest.ref, dest)  # checked against the manifest's sha256
        else:
            try:
                with dest.open("wb") as fh:
                    await store.obj.get(_corpus_name(specialist, want), writeinto=fh)
            except Exception as err:
                stored = await _stored_versions(store, specialist)
                raise ExportError(f"no corpus version {want} for {specialist} in the artifact store; stored "
                                  f"versions: {', '.join(map(str, stored)) or 'none'} (current {manifest.version})"
                                  ) from err
        corpus = Corpus.loads(dest.read_bytes())
    if corpus.specialist != specialist or corpus.version != want:
        raise ExportError(f"{_corpus_name(specialist, want)} holds {corpus.specialist} version {corpus.version}")
    return corpus


async def load_checkpoint(bus: Bus, checkpoint_id: str, workdir: Path) -> tuple[Path, AdapterFacts]:
    """The checkpoint's adapter, fetched under `workdir`, and everything its card tells."""
    registry = Registry(await bus.kv(REGISTRY_BUCKET))
    record = await registry.checkpoint(checkpoint_id)
    if record is None:
        raise ExportError(f"no checkpoint {checkpoint_id!r} in the registry (see `ouro history` for checkpoint ids)")
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    adapter_dir = await get_dir(store, record.adapter, workdir / "adapter")
    report = None
    if record.dataset is not None:
        ds_dir = await get_dir(store, record.dataset, workdir / "dataset")
        report = json.loads((ds_dir / "report.json").read_text(encoding="utf-8"))
    raw = await registry.marked("eval", checkpoint_id)
    evaluation = EvalCompleted.model_validate_json(raw) if raw else None
    ancestors: list[CheckpointRecord] = []
    parent = record.parent
    while parent and len(ancestors) < MAX_ANCESTORS and parent not in {a.checkpoint_id for a in ancestors}:
        rec = await registry.checkpoint(parent)
        if rec is None:
            break
        ancestors.append(rec)
        parent = rec.parent
    return adapter_dir, AdapterFacts(
        record=record, evaluation=evaluation, decision=await registry.decision(checkpoint_id),
        dataset_report=report, ancestors=ancestors, prompts_per_category=_suite_counts(evaluation),
    )


def _suite_counts(ev: EvalCompleted | None) -> dict[str, int] | None:
    """Prompts per category of the suite the evaluation ran, if the suite here is that same version."""
    if ev is None or ev.specialist not in specialists():
        return None
    try:
        suite = load_suite(profile(ev.specialist).suite_dir)
    except SuiteError:
        return None
    if suite.version != ev.suite_version:
        return None
    counts: dict[str, int] = {}
    for item in suite.items:
        counts[item.category] = counts.get(item.category, 0) + 1
    return counts
