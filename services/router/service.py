"""Router bus adapter: champions (registry KV) → adapters loaded in the backend; HTTP → the backend.

The router consumes no events. It watches `champion.*` in the registry (one watch, no lookup per
request): each new champion, promoted or rolled back, is fetched from the artifact store into
`<data_dir>/serving/<specialist>-v<revision>` (the path the backend reads: a shared volume with
vLLM) and swapped in by `AdapterTable.promote`; a deleted champion puts the specialist back on the
base model. HTTP is served only once the current champions are loaded, so the first request after
a restart already goes to the right adapter. Served conversations go back to the bus as
`sessions.new` when capture is consented (`capture.py`).

The router owns the backend's adapters: leave `OURO_PROMOTER_VLLM_URL` empty where a router serves,
or the promoter would unload an old adapter while requests still use it.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

from nats.js.kv import KV_DEL, KV_PURGE

from services.router.adapters import AdapterTable
from services.router.app import Router
from services.router.capture import Capture
from services.router.server import HttpServer
from services.router.settings import RouterSettings
from shared import metrics
from shared.bus import Bus
from shared.registry import REGISTRY_BUCKET, ChampionRecord, Registry
from shared.service import ServiceTable
from shared.settings import CommonSettings, secret_value
from shared.specialists import specialists
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, get_dir
from shared.vllm import LoraClient

log = logging.getLogger("ouro.router")
RETRIES = 5  # loading a new champion: 2 + 4 + 8 + 16 s of retries, then wait for the next change


class RouterService:
    def __init__(self, bus: Bus, registry: Registry, common: CommonSettings, settings: RouterSettings) -> None:
        self.bus, self.registry, self.common, self.settings = bus, registry, common, settings
        backend_key = secret_value(settings.backend_api_key, settings.backend_api_key_file)
        self.table = AdapterTable(LoraClient(settings.backend_url, settings.request_timeout, backend_key),
                                  drain_timeout=settings.drain_timeout)
        self.capture = Capture(bus.publish, enabled=settings.capture)
        self.router = Router(self.table, backend_url=settings.backend_url, base_model=settings.base_model_name,
                             capture=self.capture, timeout=settings.request_timeout,
                             api_key=secret_value(settings.api_key, settings.api_key_file), backend_api_key=backend_key)
        self.http = HttpServer(self.router.handle)
        self.ready = asyncio.Event()  # the champions at start are loaded

    async def adapter_dir(self, record: ChampionRecord, name: str) -> Path:
        """The champion's adapter on local disk under its versioned name (fetched once)."""
        target = (self.common.data_dir / "serving" / name).resolve()
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            store = NatsArtifactStore(await self.bus.object_store(ARTIFACT_BUCKET))
            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                await get_dir(store, record.adapter, Path(tmp) / "adapter")
                (Path(tmp) / "adapter").rename(target)  # atomic: a crash never leaves half an adapter
        return target

    async def apply(self, key: str, value: bytes | None, revision: int) -> None:
        specialist = key.removeprefix("champion.")
        if specialist not in specialists():
            log.warning("ignoring %s: %s is not a loaded specialist", key, specialist)
            return
        if not value:  # deleted or purged: no champion, the base model serves
            await self.table.promote(specialist, None)
            metrics.ROUTER_SWAPS.labels(specialist).inc()
            return
        record = ChampionRecord.model_validate_json(value)
        name = f"{specialist}-v{revision}"  # immutable, as the promoter names it: never an in-place reload
        await self.table.promote(specialist, name, await self.adapter_dir(record, name), record.checkpoint_id)
        metrics.ROUTER_SWAPS.labels(specialist).inc()

    async def watch_champions(self) -> None:
        watcher = await self.registry.kv.watch("champion.*")
        async for entry in watcher:
            if entry is None:  # the end of the current values
                self.ready.set()
                continue
            deleted = entry.operation in (KV_DEL, KV_PURGE) or not entry.value
            for attempt in range(1, RETRIES + 1):
                try:
                    await self.apply(entry.key, None if deleted else entry.value, entry.revision)
                    break
                except Exception:  # noqa: BLE001 - keep serving the previous champion; the log says why
                    log.exception("could not serve %s revision %d (attempt %d of %d); the previous adapter "
                                  "keeps serving", entry.key, entry.revision, attempt, RETRIES)
                    if attempt < RETRIES:
                        await asyncio.sleep(2.0 ** attempt)  # the backend restarting, the store slow

    async def serve_http(self) -> None:
        await self.ready.wait()
        await self.http.start(self.settings.host, self.settings.port)
        log.info("router listening on %s:%d, backend %s", self.settings.host, self.http.port,
                 self.settings.backend_url)
        try:
            await asyncio.Event().wait()
        finally:
            # cancelled at stop: finish what is in flight, then the captured sessions
            await self.http.stop(self.settings.shutdown_grace)
            await self.capture.flush()
            await self.router.close()


async def setup(bus: Bus, common: CommonSettings | None = None,
                settings: RouterSettings | None = None) -> ServiceTable:
    settings = settings or RouterSettings()
    r = RouterService(bus, Registry(await bus.kv(REGISTRY_BUCKET)), common or CommonSettings(), settings)
    return ServiceTable(consumers=[], background=[r.watch_champions, r.serve_http])
