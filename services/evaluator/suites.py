"""The evaluator reads suites through the shared contract (shared/suites.py); nothing here parses them."""

from shared.suites import SUITES_DIR, Suite, SuiteError, SuiteItem, load_suite

__all__ = ["SUITES_DIR", "Suite", "SuiteError", "SuiteItem", "load_suite"]
