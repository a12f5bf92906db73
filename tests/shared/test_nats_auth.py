"""Least privilege on the bus, against the real nats-server with the config `ouro up` generates:
each identity can do its job and is refused, with a permissions error, what it must not do."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig

from shared.bus import Bus
from shared.emit import emit
from shared.events import STREAM_NAME, CommitsNew, HarvestRequested, ModelPromoted, new_id
from shared.nats_auth import IDENTITIES, ClientAuth, ensure_credentials, read_auth
from shared.nats_server import EmbeddedNats
from shared.registry import REGISTRY_BUCKET


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedNats, Path]]:
    root = tmp_path_factory.mktemp("nats-auth")
    config = ensure_credentials(root / "auth")
    with EmbeddedNats(root / "store", config=config, log_file=root / "nats.log") as server:
        yield server, root / "auth"


class Client:
    """A connection as one identity that keeps the errors the server sends it."""

    def __init__(self, nc: NATS, errors: list[Exception]) -> None:
        self.nc, self.errors = nc, errors
        self.js = nc.jetstream(timeout=1.5)

    async def refused(self, subject: str, attempt: asyncio.Future | object) -> None:
        """`attempt` fails, and the server said why: a permissions violation naming `subject`."""
        with pytest.raises(Exception):  # noqa: B017 - nats-py times out the request the server dropped
            await attempt  # type: ignore[misc]
        want = f'permissions violation for {"subscription" if subject.startswith("sub:") else "publish"}'
        subject = subject.removeprefix("sub:").lower()
        for _ in range(50):
            if any(want in str(e).lower() and subject in str(e).lower() for e in self.errors):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no permissions violation for {subject}; errors: {self.errors}")


async def _connect(url: str, auth: ClientAuth) -> Client:
    errors: list[Exception] = []

    async def keep(err: Exception) -> None:
        errors.append(err)

    nc = await nats.connect(url, error_cb=keep, allow_reconnect=False, **auth.options())
    return Client(nc, errors)


@pytest.fixture
async def as_(secured: tuple[EmbeddedNats, Path]) -> AsyncIterator:
    server, auth_dir = secured
    opened: list[Client] = []
    # The stream exists as it would in a running loop (any service creates it at start).
    admin = await Bus.connect(server.url, "admin", attempts=3, auth=read_auth(auth_dir, "admin"))

    async def connect(identity: str) -> Client:
        client = await _connect(server.url, read_auth(auth_dir, identity))
        opened.append(client)
        return client

    yield connect
    for client in opened:
        await client.nc.close()
    await admin.close()


def test_credentials_are_private_and_reused(tmp_path: Path) -> None:
    config = ensure_credentials(tmp_path / "auth")
    first = {n: (tmp_path / "auth" / f"{n}.password").read_text() for n in IDENTITIES}
    ensure_credentials(tmp_path / "auth")
    assert {n: (tmp_path / "auth" / f"{n}.password").read_text() for n in IDENTITIES} == first
    assert len(set(first.values())) == len(IDENTITIES)
    for path in (tmp_path / "auth").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert all(p in config.read_text() for p in first.values())


async def test_anonymous_and_wrong_passwords_are_refused(secured: tuple[EmbeddedNats, Path]) -> None:
    server, auth_dir = secured
    for auth in ({}, {"user": "promoter", "password": "guess"}):
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(server.url, allow_reconnect=False, max_reconnect_attempts=1, **auth)


async def test_emitter_publishes_commits_and_nothing_else(secured, as_, tmp_path, monkeypatch) -> None:
    server, auth_dir = secured
    monkeypatch.setenv("OURO_NATS_USER", "emitter")
    monkeypatch.setenv("OURO_NATS_PASSWORD_FILE", str(auth_dir / "emitter.password"))
    commit = CommitsNew(cycle_id=new_id(), repo="/r", sha="a" * 40, branch="main")
    assert emit(commit, nats_url=server.url, spool_dir=tmp_path / "spool", timeout=2.0)

    emitter = await as_("emitter")
    promoted = ModelPromoted(cycle_id=new_id(), specialist="orchestrator", checkpoint_id="forged",
                             previous_champion=None, overall=1.0, categories={})
    await emitter.refused("ouro.model.promoted.v1",
                          emitter.js.publish("ouro.model.promoted.v1", promoted.model_dump_json().encode()))
    await emitter.refused("$JS.API.STREAM.INFO.OURO", emitter.js.stream_info(STREAM_NAME))
    await emitter.refused("sub:ouro.>", _subscribe_and_flush(emitter, "ouro.>"))


async def test_harvester_cannot_write_the_registry_or_announce_a_model(as_) -> None:
    harvester = await as_("harvester")
    kv = await (await as_("promoter")).js.create_key_value(bucket=REGISTRY_BUCKET, history=10)
    reader = await harvester.js.key_value(REGISTRY_BUCKET)  # it reads the champions (its self-description) ...
    await harvester.refused("$KV.ouro-registry.champion.orchestrator", reader.put("champion.orchestrator", b"{}"))
    await harvester.refused("$KV.ouro-registry.champion.orchestrator",
                            harvester.js.publish("$KV.ouro-registry.champion.orchestrator", b"{}"))
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv.get("champion.orchestrator")
    await harvester.refused("ouro.model.promoted.v1", harvester.js.publish("ouro.model.promoted.v1", b"{}"))


async def test_only_the_promoter_moves_the_champion(as_) -> None:
    promoter, trainer, evaluator = await as_("promoter"), await as_("trainer"), await as_("evaluator")
    await promoter.js.create_key_value(bucket=REGISTRY_BUCKET, history=10)
    for client in (trainer, evaluator):
        kv = await client.js.key_value(REGISTRY_BUCKET)  # they read it ...
        await client.refused("$KV.ouro-registry.champion.coder", kv.put("champion.coder", b"{}"))  # ... not this
    await (await trainer.js.key_value(REGISTRY_BUCKET)).put("checkpoint.c1", b"{}")  # their own keys
    await (await evaluator.js.key_value(REGISTRY_BUCKET)).put("done.eval.c1", b"{}")
    await (await promoter.js.key_value(REGISTRY_BUCKET)).put("champion.coder", b"{}")
    assert (await (await trainer.js.key_value(REGISTRY_BUCKET)).get("champion.coder")).value == b"{}"


async def test_judge_cannot_delete_or_rewrite_the_stream(as_) -> None:
    judge = await as_("judge")
    await judge.refused("$JS.API.STREAM.DELETE.OURO", judge.js.delete_stream(STREAM_NAME))
    await judge.refused("$JS.API.STREAM.PURGE.OURO", judge.js.purge_stream(STREAM_NAME))
    info = await (await as_("operator")).js.stream_info(STREAM_NAME)
    await judge.refused("$JS.API.STREAM.UPDATE.OURO", judge.js.update_stream(info.config))
    assert (await (await as_("operator")).js.stream_info(STREAM_NAME)).config.name == STREAM_NAME


async def test_a_service_drives_only_its_own_durable_and_reads_only_its_own_replies(as_) -> None:
    harvester = await as_("harvester")
    config = ConsumerConfig(name="promoter", durable_name="promoter", filter_subjects=["ouro.>"])
    await harvester.refused("$JS.API.CONSUMER.CREATE.OURO.promoter", harvester.js.add_consumer(STREAM_NAME, config))
    await harvester.refused("$JS.API.CONSUMER.MSG.NEXT.OURO.promoter",
                            harvester.nc.request("$JS.API.CONSUMER.MSG.NEXT.OURO.promoter", b"1", timeout=1))
    await harvester.refused("sub:_INBOX_promoter.>", _subscribe_and_flush(harvester, "_INBOX_promoter.>"))


async def test_operator_starts_a_cycle_but_cannot_announce_its_result(as_) -> None:
    operator = await as_("operator")
    request = HarvestRequested(cycle_id=new_id(), specialist="orchestrator", repo="/r")
    ack = await operator.js.publish("ouro.harvest.requested.v1", request.model_dump_json().encode())
    assert ack.stream == STREAM_NAME
    await operator.refused("ouro.model.promoted.v1", operator.js.publish("ouro.model.promoted.v1", b"{}"))


async def _subscribe_and_flush(client: Client, subject: str) -> None:
    """A refused subscription is reported asynchronously: subscribe, round-trip, then fail if refused."""
    await client.nc.subscribe(subject)
    await client.nc.flush()
    await asyncio.sleep(0.3)
    if any("permissions violation" in str(e).lower() for e in client.errors):
        raise PermissionError(subject)


async def test_git_hook_emits_as_the_emitter(secured, as_, tmp_path, monkeypatch) -> None:
    import git

    from services.harvester.hooks import install
    from tests.busutil import read_stream

    server, auth_dir = secured
    monkeypatch.delenv("OURO_NATS_USER", raising=False)
    repo = git.Repo.init(tmp_path / "repo")
    installed = install(tmp_path / "repo", nats_url=server.url, data_dir=auth_dir.parent)
    assert (auth_dir / "emitter.password").read_text() not in installed.hook.read_text()  # only the path
    (tmp_path / "repo" / "a.py").write_text("x = 1\n")
    repo.index.add(["a.py"])
    sha = repo.index.commit("add a").hexsha
    import subprocess

    subprocess.run(["sh", str(installed.hook)], cwd=tmp_path / "repo", check=True)
    bus = await Bus.connect(server.url, "admin", attempts=3, auth=read_auth(auth_dir, "admin"))
    try:
        for _ in range(100):
            got = await read_stream(bus, "ouro.commits.new.v1", lambda e: getattr(e, "sha", None) == sha, idle=0.2)
            if got:
                break
            await asyncio.sleep(0.1)
        assert got, (installed.git_dir / "ouro" / "hook.log").read_text()
    finally:
        await bus.close()
