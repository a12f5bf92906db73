"""The recipe "add a scorer" (docs/architecture.md): a spec model in shared/suites.py (its `type`
and parameters) and a function in services/evaluator/scorers.py's SCORERS. The evaluator finds a
scorer by the spec's type, so nothing else changes; a spec type with no function fails at import."""

from __future__ import annotations

from typing import Literal

import pytest

from services.evaluator import scorers
from shared.suites import SCORER_SPECS, ScorerSpec, _Spec


def _type(spec: type[_Spec]) -> str:
    return spec.model_fields["type"].annotation.__args__[0]


def test_every_spec_type_in_the_contract_has_a_scorer() -> None:
    union = {_type(s) for s in ScorerSpec.__origin__.__args__}  # the discriminated union suites validate with
    assert union == {_type(s) for s in SCORER_SPECS} == set(scorers.SCORERS)


def test_a_new_scorer_is_a_spec_and_a_function(monkeypatch: pytest.MonkeyPatch) -> None:
    class StartsWithSpec(_Spec):  # step 1 (in shared/suites.py: also add it to ScorerSpec and SCORER_SPECS)
        type: Literal["starts_with"]
        prefix: str

    def starts_with(output: str, spec: StartsWithSpec) -> float:  # step 2
        return float(output.strip().lower().startswith(spec.prefix.lower()))

    monkeypatch.setitem(scorers.SCORERS, "starts_with", starts_with)
    spec = StartsWithSpec(type="starts_with", prefix="Yes")
    assert scorers.score("yes, it does", spec) == 1.0 and scorers.score("No.", spec) == 0.0

    # and the import-time check names a spec type that has no function
    monkeypatch.setattr(scorers, "SCORER_SPECS", (*SCORER_SPECS, StartsWithSpec))
    monkeypatch.delitem(scorers.SCORERS, "starts_with")
    with pytest.raises(RuntimeError, match="starts_with"):
        scorers._check_every_spec_has_a_scorer()
