"""Evaluator: suites × categories, deterministic scorers, the same prompts for candidate and champion."""

from services.evaluator.backends import Backend, OpenAIBackend, TransformersBackend
from services.evaluator.evaluate import ItemResult, SuiteResult, compare, evaluate
from services.evaluator.suites import Suite, SuiteError, SuiteItem, load_suite

__all__ = [
    "Backend",
    "ItemResult",
    "OpenAIBackend",
    "Suite",
    "SuiteError",
    "SuiteItem",
    "SuiteResult",
    "TransformersBackend",
    "compare",
    "evaluate",
    "load_suite",
]
