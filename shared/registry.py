"""The model registry: who the champion of each specialist is, changed only by compare-and-set.

KV bucket `ouro-registry`:
- `champion.<specialist>`: the current champion (a `ChampionRecord`); every change is an
  `update(..., last=revision)`, so two promoters racing cannot both win;
- `archive.<specialist>.<checkpoint_id>`: every champion ever replaced (never deleted), the
  targets of `ouro rollback`;
- `checkpoint.<checkpoint_id>`: what the trainer produced (adapter ref, dataset, metrics);
- `done.<stage>.<key>`: idempotency markers, so a redelivery after JetStream's dedup window
  still does not train or promote twice.
"""

from __future__ import annotations

from datetime import datetime

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, TypeAdapter

from shared.events import ArtifactRef, ModelPromoted, ModelRejected, TrainMetrics
from shared.specialists import SpecialistName

REGISTRY_BUCKET = "ouro-registry"


# Both models forbid unknown fields and differ in their required ones, so the JSON says which it is.
_DECISION: TypeAdapter[ModelPromoted | ModelRejected] = TypeAdapter(ModelPromoted | ModelRejected)


class RegistryConflict(RuntimeError):
    """Somebody else changed the champion between our read and our write."""


class CheckpointRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    checkpoint_id: str
    specialist: SpecialistName
    adapter: ArtifactRef
    base_model: str
    dataset_id: str
    metrics: TrainMetrics
    created_at: datetime
    parent: str | None = None  # the champion it continued, None: trained from the base model
    dataset: ArtifactRef | None = None  # the dataset it was trained on (lineage)


class ChampionRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    checkpoint_id: str
    specialist: SpecialistName
    adapter: ArtifactRef
    overall: float
    categories: dict[str, float]
    promoted_at: datetime
    reason: str = "promoted"


class Registry:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def _get(self, key: str) -> tuple[bytes | None, int]:
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            return None, 0
        return entry.value, entry.revision

    # ------------------------------------------------------------------ champions

    async def champion(self, specialist: str) -> tuple[ChampionRecord | None, int]:
        raw, rev = await self._get(f"champion.{specialist}")
        return (ChampionRecord.model_validate_json(raw) if raw else None), rev

    async def set_champion(self, record: ChampionRecord, expected_revision: int) -> int:
        """CAS the champion pointer; archive the one it replaces. Raises RegistryConflict."""
        key = f"champion.{record.specialist}"
        previous, rev = await self.champion(record.specialist)
        if rev != expected_revision:
            raise RegistryConflict(f"{key} is at revision {rev}, expected {expected_revision}")
        if previous is not None:
            await self.kv.put(f"archive.{previous.specialist}.{previous.checkpoint_id}",
                              previous.model_dump_json().encode())
        data = record.model_dump_json().encode()
        try:
            if expected_revision == 0:
                return await self.kv.create(key, data)
            return await self.kv.update(key, data, last=expected_revision)
        except KeyWrongLastSequenceError as err:
            raise RegistryConflict(f"{key} changed under us: {err}") from err
        except Exception as err:
            if "wrong last sequence" in str(err) or "key exists" in str(err):
                raise RegistryConflict(f"{key} changed under us: {err}") from err
            raise

    async def archived(self, specialist: str) -> list[ChampionRecord]:
        prefix = f"archive.{specialist}."
        try:
            keys = await self.kv.keys()
        except Exception:  # nats-py raises NoKeysError on an empty bucket
            return []
        records = []
        for key in keys:
            if key.startswith(prefix):
                raw, _ = await self._get(key)
                if raw:
                    records.append(ChampionRecord.model_validate_json(raw))
        return sorted(records, key=lambda r: r.promoted_at)

    async def rollback(self, specialist: str, checkpoint_id: str | None = None) -> ChampionRecord:
        """Make an earlier champion the champion again, by CAS: by default the latest one promoted
        before the current champion, so repeated rollbacks walk back in time (C → B → A) instead
        of bouncing between the last two."""
        current, rev = await self.champion(specialist)
        candidates = [r for r in await self.archived(specialist)
                      if current is None or r.checkpoint_id != current.checkpoint_id]
        if checkpoint_id:
            candidates = [r for r in candidates if r.checkpoint_id == checkpoint_id]
        elif current is not None:
            candidates = [r for r in candidates if r.promoted_at < current.promoted_at]
        if not candidates:
            what = f"archived checkpoint {checkpoint_id}" if checkpoint_id else "archived earlier champion"
            raise LookupError(f"no {what} for {specialist} to roll back to")
        # promoted_at stays the original promotion time: it orders champions, the reason says why
        target = candidates[-1].model_copy(update={"reason": "rollback"})
        await self.set_champion(target, rev)
        return target

    # ------------------------------------------------------------------ checkpoints and markers

    async def put_checkpoint(self, record: CheckpointRecord) -> None:
        await self.kv.put(f"checkpoint.{record.checkpoint_id}", record.model_dump_json().encode())

    async def checkpoint(self, checkpoint_id: str) -> CheckpointRecord | None:
        raw, _ = await self._get(f"checkpoint.{checkpoint_id}")
        return CheckpointRecord.model_validate_json(raw) if raw else None

    async def record_decision(self, decision: ModelPromoted | ModelRejected) -> None:
        """The promoter's decision for a checkpoint, recorded before it is announced."""
        await self.mark("decision", decision.checkpoint_id, decision.model_dump_json().encode())

    async def decision(self, checkpoint_id: str) -> ModelPromoted | ModelRejected | None:
        raw = await self.marked("decision", checkpoint_id)
        return _DECISION.validate_json(raw) if raw else None

    async def mark(self, stage: str, key: str, value: bytes) -> None:
        await self.kv.put(f"done.{stage}.{key}", value)

    async def marked(self, stage: str, key: str) -> bytes | None:
        raw, _ = await self._get(f"done.{stage}.{key}")
        return raw
