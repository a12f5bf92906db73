"""`ouro up` supervises: a service killed under it is started again within seconds (counted in
supervisor.json, which `ouro status` shows) and the cycle after it completes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import git
from prometheus_client import REGISTRY

from ouro.cycle import run_cycle
from ouro.stack import Stack
from ouro.supervisor import Supervisor
from shared.bus import Bus
from shared.events import HarvestRequested, new_id
from shared.nats_server import free_port


async def test_a_killed_service_is_restarted_and_the_cycle_completes(tiny_model_dir: Path, tmp_path: Path) -> None:
    repo = git.Repo.init(tmp_path / "repo")
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    (tmp_path / "repo" / "jobs.py").write_text(
        '"""Jobs."""\n\n\ndef retry(job: str, times: int) -> list[str]:\n'
        '    """Run the job up to `times` times and return the attempts made, oldest first."""\n'
        '    return [f"{job}#{i}" for i in range(times)]\n')
    repo.index.add(["jobs.py"])
    repo.index.commit("feat: retry jobs")
    env = {"OURO_BASE_MODEL": str(tiny_model_dir), "OURO_TRAINER_MAX_STEPS": "2", "OURO_TRAINER_MAX_LENGTH": "256",
           "OURO_EVALUATOR_MAX_NEW_TOKENS": "8", "OURO_JUDGE_COHERENCE": "false", "OMP_NUM_THREADS": "1",
           "OURO_PROMOTER_MIN_OVERALL": "0", "OURO_PROMOTER_MIN_CATEGORY": "0",
           "OURO_PROMOTER_MUST_BEAT_CHAMPION": "false", "OURO_HARVESTER_TOOL_SPECS": "[]"}
    with Stack(tmp_path / "ouro", env=env, port=free_port()) as stack:
        supervisor = Supervisor(stack, max_backoff=2.0)
        victim = stack.procs["trainer"]
        victim.kill()  # SIGKILL, as a crash
        victim.wait()
        deadline = time.monotonic() + 10
        while not supervisor.tick() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert stack.procs["trainer"] is not victim and stack.procs["trainer"].poll() is None
        assert supervisor.restarts()["trainer"] == 1
        assert json.loads((tmp_path / "ouro" / "supervisor.json").read_text())["trainer"]["restarts"] == 1
        assert REGISTRY.get_sample_value("ouro_service_restarts_total", {"service": "trainer"}) >= 1

        bus = await Bus.connect(stack.url, "test-supervisor", attempts=10, auth=stack.auth("operator"))
        try:
            outcome = await run_cycle(bus, HarvestRequested(cycle_id=new_id(), specialist="coder",
                                                            repo=str(tmp_path / "repo")), timeout=300)
        finally:
            await bus.close()
        assert outcome.decision == "promoted", (outcome.reasons, stack.log_text("trainer")[-2000:])
