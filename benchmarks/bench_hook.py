"""Post-commit hook latency: `git commit` wall time with the ouro hook vs. without, NATS up.

    .venv/bin/python benchmarks/bench_hook.py [--commits 20]

Starts its own nats-server and a temp repo; prints JSON with median/p95 ms and how many of the
hook's commits.new events reached the stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from services.harvester.hooks import install
from shared.bus import Bus
from shared.events import STREAM_NAME
from shared.nats_server import EmbeddedNats

ENV = os.environ | {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "b@example.org",
                    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "b@example.org"}


def commits(repo: Path, n: int, tag: str) -> list[float]:
    out = []
    for i in range(n):
        (repo / f"{tag}{i}.txt").write_text(f"{i}\n")
        subprocess.run(["git", "add", "-A"], cwd=repo, env=ENV, check=True)
        t = time.perf_counter()
        subprocess.run(["git", "commit", "-q", "-m", f"{tag} {i}"], cwd=repo, env=ENV, check=True)
        out.append((time.perf_counter() - t) * 1000)
        time.sleep(0.3)  # let the background publisher finish, as between real commits
    return out


def summary(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)
    return {"median_ms": round(statistics.median(s), 1), "p95_ms": round(s[max(0, round(0.95 * len(s)) - 1)], 1)}


async def stream_count(url: str) -> int:
    bus = await Bus.connect(url, "bench", attempts=3)
    try:
        return (await bus.js.stream_info(STREAM_NAME)).state.messages
    finally:
        await bus.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--commits", type=int, default=20)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNats(Path(tmp) / "nats") as nats:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
        asyncio.run(stream_count(nats.url))  # creates the stream
        bare = commits(repo, args.commits, "bare")
        install(repo, nats_url=nats.url)
        hooked = commits(repo, args.commits, "hook")
        time.sleep(2)
        delivered = asyncio.run(stream_count(nats.url))
    print(json.dumps({"commits": args.commits, "without_hook": summary(bare), "with_hook": summary(hooked),
                      "events_in_stream": delivered}))


if __name__ == "__main__":
    main()
