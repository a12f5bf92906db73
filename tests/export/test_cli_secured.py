"""`ouro export` as the `operator` identity on a server with the generated permissions: reading the
corpus (current, earlier and missing versions) and a checkpoint needs no right the operator lacks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ouro.cli import main
from services.judge.corpus import Corpus
from services.judge.service import JUDGE_BUCKET
from shared.bus import Bus
from shared.nats_auth import ensure_credentials, read_auth
from shared.nats_server import EmbeddedNats
from shared.registry import REGISTRY_BUCKET, Registry
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, put_dir
from tests.export.adapters import REPORT, build_adapter, evaluation, record
from tests.export.corpora import SPECIALIST, T0, make_corpus
from tests.export.test_cli import _put_corpus


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedNats, Path]]:
    root = tmp_path_factory.mktemp("nats-export-auth")
    config = ensure_credentials(root / "auth")
    with EmbeddedNats(root / "store", config=config, log_file=root / "nats.log") as server:
        yield server, root / "auth"


async def test_the_operator_may_export(secured: tuple[EmbeddedNats, Path], tiny_model_dir: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    server, auth_dir = secured
    admin = await Bus.connect(server.url, "test-admin", attempts=3, auth=read_auth(auth_dir, "admin"))
    try:
        store = NatsArtifactStore(await admin.object_store(ARTIFACT_BUCKET))
        state = Registry(await admin.kv(JUDGE_BUCKET))
        corpus = make_corpus()
        first = Corpus(specialist=SPECIALIST).add(
            [e.example for e in corpus.entries.values() if e.cycle_id == "cycle-1"], cycle_id="cycle-1", now=T0)
        await _put_corpus(store, state, first, current=False)
        await _put_corpus(store, state, corpus, current=True)
        (tmp_path / "ds").mkdir()
        (tmp_path / "ds" / "report.json").write_text(json.dumps(REPORT))
        aref = await put_dir(store, "adapters/test/c-sec", build_adapter(tiny_model_dir, tmp_path / "trained"))
        dref = await put_dir(store, "datasets/test/c-sec", tmp_path / "ds")
        registry = Registry(await admin.kv(REGISTRY_BUCKET))
        await registry.put_checkpoint(record("c-sec", str(tiny_model_dir), adapter=aref, dataset=dref))
        await registry.mark("eval", "c-sec", evaluation("c-sec").model_dump_json().encode())
    finally:
        await admin.close()

    monkeypatch.setenv("OURO_NATS_USER", "operator")
    monkeypatch.setenv("OURO_NATS_PASSWORD", (auth_dir / "operator.password").read_text().strip())

    async def ouro(*argv: str) -> int:
        return await asyncio.to_thread(main, ["export", *argv, "--nats-url", server.url])

    assert await ouro("--specialist", SPECIALIST, "--format", "parquet", "--out", str(tmp_path / "a")) == 0, \
        capsys.readouterr().err
    assert await ouro("--specialist", SPECIALIST, "--format", "alpaca", "--corpus-version", "1",
                      "--out", str(tmp_path / "b")) == 0, capsys.readouterr().err
    assert await ouro("--specialist", SPECIALIST, "--format", "hf", "--corpus-version", "2",
                      "--out", str(tmp_path / "c")) == 2
    assert "stored versions: 1, 3 (current 3)" in capsys.readouterr().err
    assert await ouro("--adapter", "c-sec", "--out", str(tmp_path / "d")) == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "d" / "card.json").read_text())["dataset"]["corpus_version"] == 7
    assert "permissions violation" not in (server.log_file.read_text() if server.log_file else "")
