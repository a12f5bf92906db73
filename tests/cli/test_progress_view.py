"""What `ouro cycle --wait` prints from the live progress when its output is not a terminal:
clean lines (no carriage returns), throttled, always the end of a stage, only its own cycle."""

from __future__ import annotations

import io

from ouro.progress import ProgressView
from shared.events import Progress


def progress(step: int, total: int = 100, cycle: str = "c1", **kw: object) -> Progress:
    return Progress(cycle_id=cycle, specialist="coder", stage=kw.pop("stage", "train"), step=step, total=total,
                    **kw)  # type: ignore[arg-type]


def test_plain_lines_are_throttled_and_end_each_stage() -> None:
    out = io.StringIO()
    view = ProgressView("c1", out=out, every=3600, tty=False)
    view.show(progress(1, loss=2.5, tokens_per_s=120.0, eta_s=99.0))
    for step in range(2, 100):
        view.show(progress(step, loss=2.0))
    view.show(progress(100, loss=1.25))
    view.show(progress(5, cycle="other"))
    view.show(progress(0, 12, stage="evaluate", what="candidate"))
    view.show(progress(12, 12, stage="evaluate", what="candidate"))
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and len(lines) == 4, lines
    assert lines[0].endswith("trainer: step 1/100, loss 2.500, 120 tok/s, ETA 99 s")
    assert lines[1].endswith("trainer: step 100/100, loss 1.250")
    assert lines[2].endswith("evaluator: candidate 0/12 prompts") and lines[3].endswith("candidate 12/12 prompts")


def test_a_terminal_gets_a_bar_per_stage() -> None:
    out = io.StringIO()
    view = ProgressView("c1", out=out, tty=True)
    view.show(progress(50, loss=1.5))
    view.show(progress(100, loss=1.0))
    view.close()
    assert "training" in out.getvalue() and "100/100" in out.getvalue()
