"""Router overhead and throughput through a swap, against the real local stand-in for vLLM.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_router.py [--requests 300] [--clients 8]

Starts its own nats-server, the stand-in (tiny model, several PEFT adapters) and the router in
this process. Added latency: the same request sent straight to the backend and through the
router, interleaved one by one (so drift hits both alike); p50/p99 of each and their difference.
Throughput: `--clients` concurrent clients for a window with no swap, then for a window in which
a promotion and a rollback happen; requests/s of each and the failures (the promise is zero).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

STAND_IN = """
import sys, threading
from pathlib import Path
from services.evaluator.backends import TransformersBackend
from services.evaluator.local_server import serve
model = Path(sys.argv[1])
serve(TransformersBackend(model), port=int(sys.argv[2]), model_name="base", base_model_dir=model)
threading.Event().wait()
"""
PROMPT = [{"role": "user", "content": "Which specialist should review the failing test?"}]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * len(s)) - 1))]


def ms(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values) * 1000, 2), "p99_ms": round(pct(values, 0.99) * 1000, 2)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def overhead(direct: httpx.AsyncClient, routed: httpx.AsyncClient, adapter: str, n: int) -> dict:
    body = {"messages": PROMPT, "max_tokens": 1}
    times: dict[str, list[float]] = {"direct": [], "router": []}
    for i in range(n + 10):
        for name, client, model in (("direct", direct, adapter), ("router", routed, "orchestrator")):
            t = time.perf_counter()
            r = await client.post("/v1/chat/completions", json={**body, "model": model})
            r.raise_for_status()
            if i >= 10:  # the first ten warm connections and caches
                times[name].append(time.perf_counter() - t)
    d, r = ms(times["direct"]), ms(times["router"])
    return {"requests_each": n, "direct": d, "router": r,
            "added_p50_ms": round(r["p50_ms"] - d["p50_ms"], 2), "added_p99_ms": round(r["p99_ms"] - d["p99_ms"], 2)}


async def window(routed: httpx.AsyncClient, clients: int, seconds: float, during=None) -> dict:  # noqa: ANN001
    stop = asyncio.Event()
    ok, failed, versions = 0, 0, set()

    async def client() -> None:
        nonlocal ok, failed
        while not stop.is_set():
            r = await routed.post("/v1/chat/completions",
                                  json={"model": "orchestrator", "messages": PROMPT, "max_tokens": 4})
            if r.status_code == 200:
                ok += 1
                versions.add(r.headers["x-ouro-adapter"])
            else:
                failed += 1

    started = time.perf_counter()
    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    if during is not None:
        await during()
    await asyncio.sleep(max(0.0, seconds - (time.perf_counter() - started)))
    stop.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return {"seconds": round(elapsed, 2), "ok": ok, "failed": failed, "requests_per_s": round(ok / elapsed, 1),
            "versions_served": sorted(versions)}


async def main_async(args: argparse.Namespace, tmp: Path) -> dict:
    from services.router.service import setup
    from services.router.settings import RouterSettings
    from shared.bus import Bus
    from shared.nats_server import EmbeddedNats
    from shared.registry import REGISTRY_BUCKET, Registry
    from shared.service import running
    from shared.settings import CommonSettings
    from tests.router.conftest import Stack
    from tests.support.tiny_model import build_tiny_model

    model_dir = build_tiny_model(tmp / "model")
    # The stand-in runs in its own process, as vLLM does: in this one, its torch threads would take
    # the GIL from the router's event loop and bill the router for the backend's work.
    backend_port = free_port()
    # One torch thread: on a small machine its spinning OpenMP workers would otherwise starve the
    # router of CPU; in production the backend has its own GPU.
    backend = subprocess.Popen([sys.executable, "-c", STAND_IN, str(model_dir), str(backend_port)], cwd=ROOT,
                               env=os.environ | {"OMP_NUM_THREADS": "1"})
    backend_url = f"http://127.0.0.1:{backend_port}"
    with EmbeddedNats(tmp / "nats", log_file=tmp / "nats.log") as nats:
        bus = await Bus.connect(nats.url, "bench", attempts=3)
        registry = Registry(await bus.kv(REGISTRY_BUCKET))
        port = free_port()
        settings = RouterSettings(host="127.0.0.1", port=port, backend_url=backend_url, base_model_name="base")
        table = await setup(bus, CommonSettings(data_dir=tmp / "data"), settings)
        limits = httpx.Limits(max_connections=64)
        async with running(bus, table), \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120, limits=limits) as routed, \
                httpx.AsyncClient(base_url=backend_url, timeout=120, limits=limits) as direct:
            stack = Stack(bus, registry, None, routed, model_dir, tmp)  # type: ignore[arg-type]

            async def up() -> bool:
                try:
                    return (await routed.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            async def backend_up() -> bool:
                try:
                    return (await direct.get("/v1/models")).status_code == 200
                except httpx.TransportError:
                    return False

            await stack.until(up, timeout=120)
            await stack.until(backend_up, timeout=120)
            _, rev = await stack.champion("orchestrator", seed=1)
            adapter = f"orchestrator-v{rev}"
            await stack.until(lambda: stack.serves(adapter))

            latency = await overhead(direct, routed, adapter, args.requests)
            steady = await window(routed, args.clients, args.seconds)

            async def swaps() -> None:
                await asyncio.sleep(args.seconds / 4)
                await stack.champion("orchestrator", seed=2)  # a promotion
                await asyncio.sleep(args.seconds / 4)
                await registry.rollback("orchestrator")  # and a rollback

            swapping = await window(routed, args.clients, args.seconds, swaps)
        await bus.close()
    backend.terminate()
    backend.wait()
    return {"backend": "services/evaluator/local_server.py (tiny model, CPU, own process)", "overhead": latency,
            "clients": args.clients, "steady": steady, "through_promotion_and_rollback": swapping}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(main_async(args, Path(tmp)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
