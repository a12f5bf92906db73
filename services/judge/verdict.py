"""What a filter returns, and the protocol every judge filter implements.

Like datatrove's filters: one method, never raises for a bad document, returns the reason.
The judge's report is the count of those reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from shared.events import Example


@dataclass(frozen=True)
class Verdict:
    keep: bool
    reason: str | None = None
    # A filter that cleans text (noise) or scores it (coherence) hands back the changed example,
    # so later filters and the dataset see the cleaned version.
    example: Example | None = None


KEEP = Verdict(True)


def drop(reason: str) -> Verdict:
    return Verdict(False, reason)


@runtime_checkable
class Filter(Protocol):
    name: str

    def filter(self, example: Example) -> Verdict: ...


@runtime_checkable
class BatchFilter(Filter, Protocol):
    """A filter that is cheaper over a whole batch (tokenizer, embedding model).

    `prepare` is called once with every example still alive before `filter` is called on each.
    """

    def prepare(self, examples: Sequence[Example]) -> None: ...
