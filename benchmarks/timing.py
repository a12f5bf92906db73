"""Repeated timings and the machine they ran on, for the benchmarks.

Absolute times on a shared 2-core machine move with its load (other processes take a core and
the two-thread kernels wait on each other), so every figure is timed `repeats` times, reported
as median and spread (min..max), and compared with a baseline timed in the same run, alternating
which of the two goes first so a change in load hits both.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any


def machine() -> dict[str, Any]:
    """Cores, load average and CPU: printed beside every set of numbers."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def stats(samples: list[float], digits: int = 3) -> dict[str, Any]:
    """Median and spread of a list of timings (or ratios)."""
    return {
        "median": round(statistics.median(samples), digits),
        "min": round(min(samples), digits),
        "max": round(max(samples), digits),
        "runs": [round(s, digits) for s in samples],
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def compare(
    baseline: Callable[[], Any], candidate: Callable[[], Any], *, repeats: int = 3,
    before_each: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Time `baseline` and `candidate` `repeats` times each, alternating which runs first.

    Returns median/spread of both times and of the per-repeat ratio baseline/candidate (the
    speed-up), the load average at the start and end, and the last result of each.
    """
    base_s: list[float] = []
    cand_s: list[float] = []
    ratios: list[float] = []
    load_start = os.getloadavg()[0]
    base_out = cand_out = None
    for r in range(repeats):
        order = [("base", baseline), ("cand", candidate)]
        if r % 2:
            order.reverse()
        times: dict[str, float] = {}
        for label, fn in order:
            if before_each is not None:
                before_each()
            times[label], out = timed(fn)
            if label == "base":
                base_out = out
            else:
                cand_out = out
        base_s.append(times["base"])
        cand_s.append(times["cand"])
        ratios.append(times["base"] / max(times["cand"], 1e-9))
    return {
        "baseline_s": stats(base_s), "candidate_s": stats(cand_s), "speedup": stats(ratios, 2),
        "repeats": repeats, "loadavg_1m_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "_baseline_out": base_out, "_candidate_out": cand_out,
    }


def repeat(fn: Callable[[], Any], *, repeats: int = 3) -> tuple[dict[str, Any], Any]:
    """Median and spread of `repeats` timings of `fn`, and its last result."""
    samples: list[float] = []
    out = None
    for _ in range(repeats):
        t, out = timed(fn)
        samples.append(t)
    return stats(samples), out
