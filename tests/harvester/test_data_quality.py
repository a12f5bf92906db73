"""`ouro harvest --report` and `--rate N`: what each generator makes, what the judge keeps, and a
stratified sample rated on the rubric by the judge-model endpoint.

The rating goes over HTTP through the local OpenAI-compatible server; a strong judge model cannot
run here, so its backend is a named stand-in (`RaterStandIn`) that answers fixed verdicts, one of
them malformed, which is what the parsing and the shares need."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ouro.cli import main
from ouro.data_quality import parse_verdict, rate, report, shares, stratified
from services.evaluator.local_server import serve
from shared.chat_client import ChatEndpoint
from shared.events import Example, Provenance

from .conftest import PARSER_V1, PARSER_V2, RepoBuilder


def _ex(i: int, gen: str, cat: str) -> Example:
    return Example.build(specialist="coder", category=cat, generator=gen, provenance=Provenance(source=f"s{i}"),
                         messages=[("user", f"question {i} about {gen}"), ("assistant", f"answer {i}")])


EXAMPLES = ([_ex(i, "git_diffs", "code_review") for i in range(60)] + [_ex(i, "ast_code", "code_explanation")
            for i in range(100, 130)] + [_ex(i, "sessions", "debugging") for i in range(200, 203)])


def test_a_stratified_sample_covers_every_group_in_proportion_and_repeats() -> None:
    sample = stratified(EXAMPLES, 20)
    by = Counter(e.generator for e in sample)
    assert len(sample) == 20 and set(by) == {"git_diffs", "ast_code", "sessions"}
    assert by["git_diffs"] > by["ast_code"] > by["sessions"] >= 1
    assert [e.id for e in stratified(EXAMPLES, 20)] == [e.id for e in sample]
    assert len(stratified(EXAMPLES[:5], 80)) == 5  # never more than there is


def test_the_report_counts_kept_per_generator_and_category_with_samples() -> None:
    kept = {e.id for e in EXAMPLES[::2]}
    rows = {(r["generator"], r["category"]): r for r in report(EXAMPLES, kept)}
    assert rows[("git_diffs", "code_review")]["count"] == 60 and rows[("git_diffs", "code_review")]["kept"] == 30
    assert all(len(r["samples"]) == min(3, r["count"]) for r in rows.values())
    assert rows[("sessions", "debugging")]["samples"][0]["prompt"].startswith("[user] question 200")


def test_verdicts_parse_against_the_rubric_or_are_unrated() -> None:
    assert parse_verdict('{"correct": true, "useful": false, "defects": ["restates_prompt", "x"]}') == \
        (True, False, ["restates_prompt"])
    assert parse_verdict("Sure! ```json\n{\"correct\": false, \"useful\": false}\n```") == (False, False, [])
    assert parse_verdict("useful: yes") is None and parse_verdict('{"correct": "yes", "useful": true}') is None


class RaterStandIn:
    """Stand-in for the judge model (none runs here): useful for ast_code, not for git_diffs, and
    malformed for sessions."""

    def generate(self, prompts: list[list[dict]], max_new_tokens: int) -> list[str]:
        out = []
        for chat in prompts:
            text = chat[-1]["content"]
            if "about sessions" in text:
                out.append("I cannot decide")
            elif "ast_code" in text:
                out.append('{"correct": true, "useful": true, "defects": []}')
            else:
                out.append('{"correct": true, "useful": false, "defects": ["restates_prompt"]}')
        return out


def test_rate_gives_shares_with_the_unrated_counted() -> None:
    server = serve(RaterStandIn(), model_name="judge")  # type: ignore[arg-type]
    try:
        sample = stratified(EXAMPLES, 10)
        got = shares(rate(sample, ChatEndpoint(url=f"http://127.0.0.1:{server.server_address[1]}", model="judge")))
    finally:
        server.shutdown()
    unrated = sum(e.generator == "sessions" for e in sample)
    assert unrated >= 1  # the small group is sampled too
    assert got["sampled"] == 10 and got["unrated"] == unrated and got["rated"] == 10 - unrated
    assert got["by_generator"]["ast_code"]["useful"] == 1.0 and got["by_generator"]["git_diffs"]["useful"] == 0.0
    assert got["defects"]["restates_prompt"] == got["by_generator"]["git_diffs"]["n"]


def test_ouro_harvest_report(repo_builder: RepoBuilder, tiny_model_dir: Path, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    repo_builder.commit("Add the config parser", {"parser.py": PARSER_V1})
    repo_builder.commit("Keep the last character of values", {"parser.py": PARSER_V2})
    monkeypatch.setenv("OURO_BASE_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("OURO_JUDGE_COHERENCE", "false")
    out = tmp_path / "h.jsonl"
    assert main(["harvest", "--repo", str(repo_builder.root), "--specialist", "coder", "--out", str(out),
                 "--report"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    rows = summary["report"]
    assert sum(r["count"] for r in rows) == summary["examples"] == len(out.read_text().splitlines())
    assert 0 < sum(r["kept"] for r in rows) <= summary["examples"]
    assert "generator" in captured.err and "-> " in captured.err  # the table and the samples
    # rating needs the judge model's endpoint: said in one line, not a traceback
    assert main(["harvest", "--repo", str(repo_builder.root), "--out", str(out), "--rate", "5",
                 "--rate-url", ""]) != 0
    assert "--rate needs the judge-model endpoint" in capsys.readouterr().err
