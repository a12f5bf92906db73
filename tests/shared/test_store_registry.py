"""Artifact store round trips and the registry's compare-and-set, on a real nats-server."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from shared.bus import Bus
from shared.events import ArtifactRef, TrainMetrics, utcnow
from shared.registry import ChampionRecord, Registry, RegistryConflict
from shared.store import ArtifactError, NatsArtifactStore, get_dir, put_dir


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("hello")
    (root / "sub" / "b.bin").write_bytes(bytes(range(256)) * 5000)  # > one 128 KiB chunk
    return root


async def test_directory_round_trip(bus: Bus, tmp_path: Path) -> None:
    store = NatsArtifactStore(await bus.object_store("test-artifacts"))
    ref = await put_dir(store, f"adapters/{uuid.uuid4().hex}", _tree(tmp_path / "src"))
    assert ref.kind == "dir" and ref.size > 1_280_000
    out = await get_dir(store, ref, tmp_path / "dst")
    assert (out / "a.txt").read_text() == "hello"
    assert (out / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 5000


async def test_corrupt_reference_is_refused(bus: Bus, tmp_path: Path) -> None:
    store = NatsArtifactStore(await bus.object_store("test-artifacts"))
    (tmp_path / "f").write_text("data")
    ref = await store.put_file(f"f-{uuid.uuid4().hex}", tmp_path / "f")
    bad = ref.model_copy(update={"sha256": "0" * 64})
    with pytest.raises(ArtifactError, match="corrupt"):
        await store.get_file(bad, tmp_path / "g")


def _champion(cid: str) -> ChampionRecord:
    return ChampionRecord(
        checkpoint_id=cid, specialist="coder",
        adapter=ArtifactRef(name=f"adapters/{cid}", sha256="0" * 64, size=1, kind="dir"),
        overall=0.8, categories={"review": 0.8}, promoted_at=utcnow(),
    )


async def test_champion_changes_only_by_compare_and_set(bus: Bus) -> None:
    registry = Registry(await bus.kv(f"reg-{uuid.uuid4().hex[:8]}"))
    assert await registry.champion("coder") == (None, 0)
    with pytest.raises(LookupError, match="no archived earlier champion for coder"):
        await registry.rollback("coder")
    rev1 = await registry.set_champion(_champion("c1"), 0)
    with pytest.raises(RegistryConflict):
        await registry.set_champion(_champion("c2"), 0)  # stale revision: somebody else won
    await registry.set_champion(_champion("c2"), rev1)
    current, _ = await registry.champion("coder")
    assert current is not None and current.checkpoint_id == "c2"
    assert [r.checkpoint_id for r in await registry.archived("coder")] == ["c1"]
    current, rev = await registry.champion("coder")
    await registry.set_champion(_champion("c3"), rev)
    # Rollbacks walk back in time: c3 → c2 → c1, then there is nothing earlier.
    assert (await registry.rollback("coder")).checkpoint_id == "c2"
    restored = await registry.rollback("coder")
    assert restored.checkpoint_id == "c1" and restored.reason == "rollback"
    current, _ = await registry.champion("coder")
    assert current is not None and current.checkpoint_id == "c1"
    with pytest.raises(LookupError):
        await registry.rollback("coder")
    # every champion replaced is archived, never deleted: c3 can still be restored by name
    assert {r.checkpoint_id for r in await registry.archived("coder")} == {"c1", "c2", "c3"}
    assert (await registry.rollback("coder", "c3")).checkpoint_id == "c3"


def test_train_metrics_roundtrip() -> None:
    m = TrainMetrics(method="lora", device="cpu", examples=1, steps=1, epochs=1, train_loss=1.0, tokens=3,
                     duration_s=0.1)
    assert TrainMetrics.model_validate_json(m.model_dump_json()) == m
