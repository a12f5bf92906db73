"""The specialist file: the shipped one loads, and every mistake a person can make in their own
is refused at load time with the file, the entry and the field named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.events import HarvestRequested, decode
from shared.specialists import (
    DEFAULT_FILE,
    SpecialistConfigError,
    load_specialists,
    profile,
    specialists,
)

SUITE_ROW = {"id": "w-1", "category": "documentation", "messages": [{"role": "user", "content": "Explain X."}],
             "scorer": {"type": "contains", "strings": ["x"]}}


def write(tmp_path: Path, body: str, suite: bool = True) -> Path:
    if suite:
        (tmp_path / "suites" / "writer").mkdir(parents=True, exist_ok=True)
        (tmp_path / "suites" / "writer" / "documentation.jsonl").write_text(json.dumps(SUITE_ROW) + "\n")
    path = tmp_path / "specialists.yaml"
    path.write_text(body)
    return path


GOOD = """
specialists:
  writer:
    suite: suites/writer
    categories: {documentation: 0.6, explanation: null}
    tasks: {explain_doc: documentation, explain_function: explanation}
    hints: {diff_review/docs: documentation}
    training: {epochs: 1.0, lora_r: 4, lora_alpha: 8}
    promotion: {min_overall: 0.5}
    cadence: {harvest: '*/30 * * * *', train: '0 3 * * 0', min_new_examples: 5, session_horizon: 2d}
"""


def test_the_shipped_file_has_the_three_specialists() -> None:
    loaded = load_specialists(DEFAULT_FILE)
    assert loaded.names == ("orchestrator", "coder", "reasoner")
    assert len(loaded["orchestrator"].categories) == 9
    assert loaded["coder"].mix["instruction"] == 0.40 and loaded["coder"].epochs == 3.0
    assert loaded["coder"].category_for("diff_review", "bugfix") == "debugging"
    assert loaded["coder"].category_for("session_turn", "reasoner") is None
    assert loaded["coder"].category_for("diff_review") == "review"
    assert loaded["orchestrator"].cadence.harvest == "0 */12 * * *" and loaded["coder"].cadence.min_new_examples == 100


def test_a_written_file_loads_with_every_field(tmp_path: Path) -> None:
    w = load_specialists(write(tmp_path, GOOD))["writer"]
    assert w.categories == ("documentation", "explanation") and w.mix == {"documentation": 0.6}
    assert w.lora_r == 4 and w.lora_alpha == 8 and w.epochs == 1.0 and w.min_overall == 0.5
    assert w.cadence.harvest == "*/30 * * * *" and w.cadence.min_new_examples == 5
    assert w.cadence.session_horizon == 2 * 86400 and w.training.start_from == "champion"
    assert w.suite_dir == (tmp_path / "suites" / "writer").resolve()
    assert w.category_for("diff_review", "docs") == "documentation" and w.category_for("diff_review") is None


@pytest.mark.parametrize(("change", "field", "says"), [
    (("explain_doc: documentation", "explain_doc: docs"), "tasks.explain_doc", "'docs' is not one of its categories"),
    (("diff_review/docs: documentation", "diff_review/docs: nope"), "hints.diff_review/docs", "'nope'"),
    (("diff_review/docs:", "diff_review:"), "hints.diff_review", "'task/hint'"),
    (("documentation: 0.6, explanation: null", "documentation: 0.6, explanation: 0.5"), "categories",
     "sum to 1.100"),
    (("suite: suites/writer", "suite: suites/nosuch"), "suite", "no suite 'suites/nosuch'"),
    (("  writer:", "  Writer!:"), "name", "lower case"),
])
def test_each_mistake_names_the_entry_and_the_field(tmp_path: Path, change: tuple[str, str], field: str,
                                                   says: str) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(SpecialistConfigError) as err:
        load_specialists(path)
    assert str(path) in str(err.value) and f"field {field!r}" in str(err.value) and says in str(err.value)


def test_unknown_keys_and_bad_durations_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecialistConfigError, match="writer.training.lora_rank"):
        load_specialists(write(tmp_path, GOOD.replace("lora_r: 4", "lora_rank: 4")))
    with pytest.raises(SpecialistConfigError, match="not a duration"):
        load_specialists(write(tmp_path, GOOD.replace("2d", "soon")))
    with pytest.raises(SpecialistConfigError, match="writer.cadence.train.*cron"):
        load_specialists(write(tmp_path, GOOD.replace("'0 3 * * 0'", "'0 3 * *'")))
    with pytest.raises(SpecialistConfigError, match="does not exist"):
        load_specialists(tmp_path / "absent.yaml")


def test_the_promotion_gate_is_absolute_by_default_relative_when_written(tmp_path: Path) -> None:
    w = load_specialists(write(tmp_path, GOOD))["writer"]
    assert (w.gate, w.min_over_base) == ("absolute", 0.05)
    relative = GOOD.replace("promotion: {min_overall: 0.5}", "promotion: {gate: relative, min_over_base: 0.1}")
    w = load_specialists(write(tmp_path, relative))["writer"]
    assert (w.gate, w.min_over_base) == ("relative", 0.1)
    with pytest.raises(SpecialistConfigError, match="writer.promotion.gate"):
        load_specialists(write(tmp_path, GOOD.replace("promotion: {min_overall: 0.5}", "promotion: {gate: relatve}")))


def test_a_task_no_generator_makes_is_refused(tmp_path: Path) -> None:
    from services.harvester.categories import check_tasks

    loaded = load_specialists(write(tmp_path, GOOD.replace("explain_function:", "explain_everything:")))
    with pytest.raises(SpecialistConfigError, match="no generator produces task 'explain_everything'"):
        check_tasks(loaded)


def test_events_carry_only_a_loaded_specialist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="unknown specialist 'writer'"):
        HarvestRequested(cycle_id="c", specialist="writer", repo=".")
    data = HarvestRequested(cycle_id="c", specialist="coder", repo=".").model_dump_json().encode()
    with pytest.raises(ValueError, match="unknown specialist 'writer'"):
        decode("ouro.harvest.requested.v1", data.replace(b'"coder"', b'"writer"'))

    from tests.support.specialists import use_specialists

    with use_specialists(monkeypatch, write(tmp_path, GOOD)):
        assert specialists().names == ("writer",) and profile("writer").lora_r == 4
        assert HarvestRequested(cycle_id="c", specialist="writer", repo=".").specialist == "writer"
        with pytest.raises(ValidationError, match="unknown specialist 'coder'"):
            HarvestRequested(cycle_id="c", specialist="coder", repo=".")
    assert "coder" in specialists()


def test_the_cli_names_a_broken_file_instead_of_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from ouro.cli import main
    from shared import specialists as module

    path = write(tmp_path, GOOD.replace("explain_doc: documentation", "explain_doc: docs"))
    monkeypatch.setenv(module.ENV_VAR, str(path))
    module.reset()
    try:
        assert main(["status"]) == 2
    finally:
        module.reset()
    err = capsys.readouterr().err
    assert "specialist 'writer', field 'tasks.explain_doc'" in err and "Traceback" not in err
