"""Point the process at a specialist file a test wrote, and put the shipped one back afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import specialists


@contextlib.contextmanager
def use_specialists(monkeypatch: pytest.MonkeyPatch, path: Path) -> Iterator[None]:
    with monkeypatch.context() as m:
        m.setenv(specialists.ENV_VAR, str(path))
        specialists.reset()
        try:
            specialists.specialists()  # load (and validate) now, as a service does at start
            yield
        finally:
            specialists.reset()
    specialists.reset()
