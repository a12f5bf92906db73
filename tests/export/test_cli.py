"""`ouro export` against a real NATS server: the corpus and a checkpoint as the judge and trainer left them."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import pytest

from ouro.cli import main
from services.judge.corpus import Corpus
from services.judge.service import JUDGE_BUCKET
from shared.bus import Bus
from shared.nats_server import EmbeddedNats
from shared.registry import REGISTRY_BUCKET, Registry
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, put_dir
from tests.busutil import fresh_bucket
from tests.export.adapters import REPORT, build_adapter, decision, evaluation, record
from tests.export.corpora import SPECIALIST, T0, T1, make_corpus


async def _put_corpus(store: NatsArtifactStore, state: Registry, corpus: Corpus, *, current: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = corpus.save(Path(tmp) / "c.jsonl.gz")
        ref = await store.put_file(f"corpus/{corpus.specialist}/{corpus.version:08d}.jsonl.gz", path)
    if current:
        await state.mark("corpus", corpus.specialist, corpus.manifest(ref, T1).model_dump_json().encode())


@pytest.fixture
async def loop(bus: Bus, nats_server: EmbeddedNats) -> str:
    """Corpus versions 1 and 3 stored (3 current), as the judge leaves them."""
    await fresh_bucket(bus, JUDGE_BUCKET)
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    state = Registry(await bus.kv(JUDGE_BUCKET))
    corpus = make_corpus()
    first = Corpus(specialist=SPECIALIST).add([e.example for e in corpus.entries.values() if e.cycle_id == "cycle-1"],
                                              cycle_id="cycle-1", now=T0)
    await _put_corpus(store, state, first, current=False)
    await _put_corpus(store, state, corpus, current=True)
    return nats_server.url


async def _ouro(*argv: str) -> int:
    return await asyncio.to_thread(main, ["export", *argv])


async def test_export_the_current_and_an_earlier_version(loop: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    rc = await _ouro("--specialist", SPECIALIST, "--format", "openai", "--out", str(tmp_path / "now"),
                     "--nats-url", loop, "--licence", "alpaca_cleaned.jsonl=CC-BY-4.0")
    assert rc == 0, capsys.readouterr().err
    card = json.loads((tmp_path / "now" / "card.json").read_text())
    assert card["corpus_version"] == 3 and card["external_datasets"][0]["licence"] == "CC-BY-4.0"
    assert (tmp_path / "now" / "train.jsonl").is_file()
    rc = await _ouro("--specialist", SPECIALIST, "--corpus-version", "1", "--format", "hf", "--out",
                     str(tmp_path / "v1"), "--nats-url", loop, "--validation-share", "0")
    assert rc == 0, capsys.readouterr().err
    card = json.loads((tmp_path / "v1" / "card.json").read_text())
    assert card["corpus_version"] == 1 and card["counts"]["validation"] == 0
    assert "external" not in card["by_generator"]  # the external rows entered at version 2


@pytest.mark.parametrize(("argv", "message"), [
    (["--specialist", "nobody", "--format", "hf"], "unknown specialist 'nobody'; known: "),
    (["--specialist", SPECIALIST, "--format", "csv"], "unknown format 'csv'; one of: hf, parquet"),
    (["--specialist", SPECIALIST], "--format is required"),
    (["--specialist", SPECIALIST, "--format", "hf", "--corpus-version", "2"],
     "no corpus version 2 for orchestrator in the artifact store; stored versions: 1, 3 (current 3)"),
    (["--specialist", SPECIALIST, "--format", "hf", "--corpus-version", "9"],
     "no corpus version 9 for orchestrator; the current one is 3"),
    (["--specialist", "coder", "--format", "hf"], "no corpus for coder on the bus"),
    (["--adapter", "no-such-checkpoint"], "no checkpoint 'no-such-checkpoint' in the registry"),
])
async def test_bad_requests_fail_clearly_and_write_nothing(loop: str, tmp_path: Path, argv: list[str], message: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    rc = await _ouro(*argv, "--out", str(tmp_path / "out"), "--nats-url", loop)
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert not any(tmp_path.iterdir())


async def test_an_empty_corpus_on_the_bus_is_refused(bus: Bus, loop: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    empty = Corpus(specialist="reasoner").manifest(None, T1)  # what the judge records before keeping anything
    await Registry(await bus.kv(JUDGE_BUCKET)).mark("corpus", "reasoner", empty.model_dump_json().encode())
    assert await _ouro("--specialist", "reasoner", "--format", "hf", "--out", str(tmp_path / "out"),
                       "--nats-url", loop) == 2
    assert "the corpus of reasoner is empty (version 0): nothing to export" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


async def test_a_non_empty_out_is_refused_unless_forced(loop: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    argv = ["--specialist", SPECIALIST, "--format", "sharegpt", "--out", str(tmp_path / "out"), "--nats-url", loop]
    assert await _ouro(*argv) == 2
    assert "not empty; pass --force" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.txt"]
    assert await _ouro(*argv, "--force") == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["README.md", "card.json", "train.jsonl",
                                                                     "validation.jsonl"]


async def test_export_a_checkpoint_from_the_registry(bus: Bus, nats_server: EmbeddedNats, tiny_model_dir: Path,
                                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    registry = Registry(await bus.kv(REGISTRY_BUCKET))
    adapter = build_adapter(tiny_model_dir, tmp_path / "trained")
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "report.json").write_text(json.dumps(REPORT))
    cid = f"ckpt-export-{tmp_path.name}"
    aref = await put_dir(store, f"adapters/test/{cid}", adapter)
    dref = await put_dir(store, f"datasets/test/{cid}", tmp_path / "ds")
    await registry.put_checkpoint(record("p0", str(tiny_model_dir)))
    await registry.put_checkpoint(record("p1", str(tiny_model_dir), parent="p0"))
    await registry.put_checkpoint(record(cid, str(tiny_model_dir), parent="p1", adapter=aref, dataset=dref))
    await registry.mark("eval", cid, evaluation(cid).model_dump_json().encode())
    await registry.record_decision(decision(cid))

    out = tmp_path / "exported"
    assert await _ouro("--adapter", cid, "--out", str(out), "--nats-url", nats_server.url) == 0, \
        capsys.readouterr().err
    card = json.loads((out / "card.json").read_text())
    assert card["dataset"]["corpus_version"] == 7 and card["decision"]["promoted"] is True
    assert [a["checkpoint_id"] for a in card["lineage"]["ancestors"]] == ["p1", "p0"]
    assert card["evaluation"]["categories"]["tool_use"]["low"] < 0.5
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(out))

    merged = tmp_path / "merged"
    assert await _ouro("--adapter", cid, "--out", str(merged), "--merge", "--base-model", str(tiny_model_dir),
                       "--nats-url", nats_server.url) == 0, capsys.readouterr().err
    AutoModelForCausalLM.from_pretrained(merged)
    assert json.loads((merged / "card.json").read_text())["kind"] == "merged_model"
