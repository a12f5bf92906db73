"""The artifact store: datasets and adapters, streamed to and from files, never whole in memory.

Two backends behind one small interface: the NATS object store (the default: no shared volume
between containers) and a local directory (offline CLI runs, tests of the cores). Directories
travel as one tar file; the reference carries the SHA-256 of the stored bytes, checked on read.
"""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
from pathlib import Path
from typing import Protocol

from nats.js.object_store import ObjectStore

from shared.events import ArtifactRef

ARTIFACT_BUCKET = "ouro-artifacts"
_CHUNK = 1 << 20


class ArtifactError(RuntimeError):
    pass


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class ArtifactStore(Protocol):
    async def put_file(self, name: str, path: Path) -> ArtifactRef: ...

    async def get_file(self, ref: ArtifactRef, dest: Path) -> Path: ...


class NatsArtifactStore:
    def __init__(self, obj: ObjectStore) -> None:
        self.obj = obj

    async def put_file(self, name: str, path: Path) -> ArtifactRef:
        sha = file_sha256(path)
        with open(path, "rb") as f:
            info = await self.obj.put(name, f)
        return ArtifactRef(name=name, sha256=sha, size=info.size)

    async def get_file(self, ref: ArtifactRef, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(dest, "wb") as f:
                await self.obj.get(ref.name, writeinto=f)
        except Exception as err:
            raise ArtifactError(f"artifact {ref.name!r} could not be read from the object store: {err}") from err
        _check(ref, dest)
        return dest


def _check(ref: ArtifactRef, path: Path) -> None:
    got = file_sha256(path)
    if got != ref.sha256:
        raise ArtifactError(f"artifact {ref.name!r} is corrupt: sha256 {got} != {ref.sha256}")


async def put_dir(store: ArtifactStore, name: str, directory: Path) -> ArtifactRef:
    """Store a directory as one tar file (streamed through a temporary file)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "artifact.tar"
        with tarfile.open(archive, "w") as tar:
            for path in sorted(directory.rglob("*")):
                tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
        ref = await store.put_file(name, archive)
    return ref.model_copy(update={"kind": "dir"})


async def get_dir(store: ArtifactStore, ref: ArtifactRef, dest: Path) -> Path:
    if ref.kind != "dir":
        raise ArtifactError(f"artifact {ref.name!r} is a file, not a directory")
    with tempfile.TemporaryDirectory() as tmp:
        archive = await store.get_file(ref, Path(tmp) / "artifact.tar")
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    return dest
