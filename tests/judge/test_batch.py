from __future__ import annotations

import json
from pathlib import Path

from services.judge.batch import BatchVerdicts, filter_batch
from services.judge.filters.length import LengthFilter
from services.judge.filters.secrets import SecretsFilter
from services.judge.verdict import Verdict
from tests.judge.conftest import make


class Boom:
    name = "boom"

    def filter(self, example: object) -> Verdict:
        raise RuntimeError("bug")


def test_malformed_inputs_are_rejected_with_reasons_never_lost() -> None:
    good = make()
    raw = good.model_dump(mode="json")
    missing = {k: v for k, v in raw.items() if k != "generator"}
    non_text = {**raw, "messages": [{"role": "user", "content": ["an", "image"]}]}
    no_answer = {**raw, "messages": [{"role": "user", "content": "hi"}]}
    huge = make("word " * 300_000)
    inputs = [good, raw, json.dumps(raw).encode(), b"{not json", missing, non_text, no_answer, huge, [1, 2]]
    out = filter_batch(inputs, [SecretsFilter()])
    assert len(out.kept) == 3
    assert [r.reason for r in out.rejected] == [
        "invalid:json", "invalid:missing_field", "invalid:non_text", "invalid:no_response", "too_large",
        "invalid:not_object",
    ]
    assert out.rejected[1].detail == "generator"
    assert BatchVerdicts.model_validate_json(out.model_dump_json()) == out  # survives the object store


def test_a_raising_filter_rejects_instead_of_losing() -> None:
    out = filter_batch([make()], [Boom()])  # type: ignore[list-item]
    assert out.kept == [] and out.rejected[0].reason == "error:boom"


def test_length_uses_the_tokenizer(tokenizer_dir: Path) -> None:
    f = LengthFilter(tokenizer_dir, min_tokens=10, max_tokens=800)
    out = filter_batch([make("Yes."), make(), make("add " * 2000)], [f])
    assert [r.reason for r in out.rejected] == ["length:too_short", "length:too_long"]
    assert len(out.kept) == 1


def test_a_secret_is_never_copied_into_the_audit_trail() -> None:
    leaked = make("the deploy key is AKIAIOSFODNN7EXAMPLE, keep it safe")
    out = filter_batch([leaked], [SecretsFilter()])
    (rejected,) = out.rejected
    assert rejected.reason.startswith("secret") and rejected.id == leaked.id
    assert "AKIAIOSFODNN7EXAMPLE" not in rejected.model_dump_json()
