"""Typed errors of the harvester. Bad *inputs* (a file, a line, a commit) are skipped and counted;
these are raised only for a plan that cannot be harvested at all, with a message saying what to fix."""

from __future__ import annotations


class HarvestError(Exception):
    """The plan cannot be harvested as given (a missing path, not a git work tree, a bad setting)."""


class UnknownTokenizerFamily(HarvestError):
    """FIM was asked for, but the tokenizer has no fill-in-the-middle tokens we know."""
