"""`ouro artifacts`: list and fetch what the loop stored: datasets, adapters, eval reports, corpora.

    ouro artifacts list [--prefix adapters/coder]
    ouro artifacts get adapters/coder/3f2a9c... --out DIR   # one stored object by name
    ouro artifacts get 3f2a9c --out DIR                     # a checkpoint: its adapter, dataset, eval report

Directories (datasets, adapters) are stored as one tar and come back as a directory; files
(eval reports, corpora) as the file. The bytes are checked against the object store's digest.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

from shared.bus import Bus
from shared.registry import REGISTRY_BUCKET, Registry
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, get_dir


async def list_artifacts(bus: Bus, prefix: str = "") -> list[tuple[str, int]]:
    obj = await bus.object_store(ARTIFACT_BUCKET)
    try:
        infos = await obj.list()
    except Exception:  # noqa: BLE001 - nats-py raises NotFoundError on an empty store
        return []
    return sorted((i.name, i.size or 0) for i in infos if i.name.startswith(prefix) and not i.deleted)


async def get_object(bus: Bus, name: str, out: Path) -> Path:
    """One stored object into `out`: a directory for a stored directory, else the file itself."""
    obj = await bus.object_store(ARTIFACT_BUCKET)
    try:
        await obj.get_info(name)
    except Exception:  # noqa: BLE001 - nats-py ObjectNotFoundError
        raise LookupError(f"no artifact {name!r} in the store (`ouro artifacts list` shows what there is)") from None
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "object"
        with open(path, "wb") as f:
            await obj.get(name, writeinto=f)  # nats-py checks the SHA-256 digest it stored
        leaf = name.rsplit("/", 1)[-1]
        if tarfile.is_tarfile(path):
            dest = out / leaf
            with tarfile.open(path) as tar:
                tar.extractall(dest, filter="data")
            return dest
        dest = out / leaf
        dest.write_bytes(path.read_bytes())
        return dest


async def get_checkpoint(bus: Bus, ref: str, out: Path) -> dict[str, Path]:
    """A checkpoint's adapter, the dataset it trained on and its eval report, under `out`."""
    from ouro.show import resolve_checkpoint
    from shared.events import EvalCompleted

    registry = Registry(await bus.kv(REGISTRY_BUCKET))
    checkpoint_id = await resolve_checkpoint(registry, ref)
    record = await registry.checkpoint(checkpoint_id)
    assert record is not None
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    got = {"adapter": await get_dir(store, record.adapter, out / "adapter")}
    if record.dataset is not None:
        got["dataset"] = await get_dir(store, record.dataset, out / "dataset")
    raw = await registry.marked("eval", checkpoint_id)
    if raw:
        ev = EvalCompleted.model_validate_json(raw)
        if ev.report is not None:
            got["eval_report"] = await store.get_file(ev.report, out / "eval_report.json")
    return got


async def get(bus: Bus, ref: str, out: Path) -> dict[str, Path]:
    if "/" in ref:
        return {ref: await get_object(bus, ref, out)}
    return await get_checkpoint(bus, ref, out)
