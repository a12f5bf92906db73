"""`ouro.toml`: the file sets what no env var sets, an env var wins over the file, `ouro config`
says where every value came from, and a wrong key is one line naming it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ouro.cli import main


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The CLI writes the file's settings into os.environ: put it back as it was afterwards."""
    saved = dict(os.environ)
    for var in [k for k in os.environ if k.startswith("OURO_")]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    yield
    os.environ.clear()
    os.environ.update(saved)


def config(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict]:
    assert main([*args, "config", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    return {f"{s['section']}.{s['key']}": s for s in out["settings"]} | {"_file": out["file"]}


def test_file_then_env_precedence(env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "conf" / "mine.toml"
    path.parent.mkdir()
    path.write_text('[loop]\ndata_dir = "state"\n[trainer]\nmax_steps = 8\n[promoter]\nmargin = 0.1\n')
    os.environ["OURO_PROMOTER_MARGIN"] = "0.2"
    got = config(capsys, "--config", str(path))
    assert got["_file"] == str(path.resolve())
    assert got["trainer.max_steps"] | {"help": ""} == {"section": "trainer", "key": "max_steps", "help": "",
                                                       "env": "OURO_TRAINER_MAX_STEPS", "value": "8", "source": "file"}
    assert (got["promoter.margin"]["value"], got["promoter.margin"]["source"]) == ("0.2", "env")
    # relative paths are relative to the file, not to where the command runs
    assert (got["loop.data_dir"]["value"], got["loop.data_dir"]["source"]) == (str(path.parent / "state"), "file")
    assert (got["trainer.batch_size"]["value"], got["trainer.batch_size"]["source"]) == ("4", "default")


def test_ouro_toml_in_the_working_directory_and_OURO_CONFIG(env: None, tmp_path: Path, capsys) -> None:
    (tmp_path / "ouro.toml").write_text("[evaluator]\nmax_new_tokens = 7\n")
    assert config(capsys)["evaluator.max_new_tokens"]["value"] == "7"
    other = tmp_path / "other.toml"
    other.write_text("[evaluator]\nmax_new_tokens = 9\n")
    os.environ["OURO_CONFIG"] = str(other)
    assert config(capsys)["evaluator.max_new_tokens"]["value"] == "9"


def test_init_writes_a_commented_file_that_loads(env: None, tmp_path: Path, capsys) -> None:
    assert main(["init"]) == 0
    assert capsys.readouterr().out.startswith("wrote ouro.toml")
    text = (tmp_path / "ouro.toml").read_text()
    assert "# max_steps = -1    # OURO_TRAINER_MAX_STEPS" in text and "[promoter]" in text
    got = config(capsys)  # every line is commented: all defaults
    assert {s["source"] for k, s in got.items() if k != "_file"} == {"default"}
    assert main(["init"]) == 2 and "exists already" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "message"), [
    ("[trainer]\nmax_stepz = 3\n", "[trainer] has no setting 'max_stepz'; it has "),
    ("[nosuch]\nx = 1\n", "unknown section [nosuch]; the sections are loop, "),
    ("[trainer\n", "is not valid TOML"),
])
def test_a_wrong_file_is_one_line(env: None, tmp_path: Path, capsys, text: str, message: str) -> None:
    (tmp_path / "bad.toml").write_text(text)
    assert main(["--config", str(tmp_path / "bad.toml"), "config"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ouro: ") and message in err and "\n" not in err


def test_a_missing_config_file_is_named(env: None, tmp_path: Path, capsys) -> None:
    assert main(["--config", str(tmp_path / "gone.toml"), "config"]) == 2
    assert f"--config {tmp_path / 'gone.toml'} does not exist" in capsys.readouterr().err


def test_models_convert_into_a_shared_cache_not_the_working_directory(env: None, tmp_path: Path) -> None:
    from shared.models import _converted, model_cache_dir

    os.environ["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    assert model_cache_dir() == tmp_path / "xdg" / "ouroboros" / "models"
    assert _converted("m", tmp_path / ".ouro") == tmp_path / "xdg" / "ouroboros" / "models" / "m"
    os.environ["OURO_MODEL_CACHE"] = str(tmp_path / "cache")
    assert _converted("m", tmp_path / ".ouro") == tmp_path / "cache" / "m"
    legacy = tmp_path / ".ouro" / "models" / "m"
    legacy.mkdir(parents=True)
    (legacy / "model.safetensors").write_bytes(b"")
    assert _converted("m", tmp_path / ".ouro") == legacy  # an earlier conversion is not made again
