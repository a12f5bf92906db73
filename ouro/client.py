"""How the CLI finds and reaches the loop, and how it fails: one clear line, never a traceback.

A running `ouro up` records its URL in `<data_dir>/loop.json`; a client command connects to
`--nats-url`, else `OURO_NATS_URL`, else that recorded loop, else the default, and gives up
within seconds with "no loop at URL: start it with `ouro up`" instead of retrying for minutes.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from shared.bus import Bus
from shared.settings import CommonSettings

LOOP_FILE = "loop.json"


class CliError(Exception):
    """A failure the person can act on: printed as one line, exit status 2."""


def record_loop(data_dir: Path, url: str) -> Path:
    path = Path(data_dir) / LOOP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"nats_url": url, "pid": os.getpid()}))
    return path


def clear_loop(data_dir: Path) -> None:
    (Path(data_dir) / LOOP_FILE).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def loop_url(flag: str | None) -> str:
    if flag:
        return flag
    if os.environ.get("OURO_NATS_URL"):
        return os.environ["OURO_NATS_URL"]
    settings = CommonSettings()
    path = settings.data_dir / LOOP_FILE
    if path.exists():
        try:
            loop = json.loads(path.read_text())
            if _alive(int(loop["pid"])):
                return str(loop["nats_url"])
        except (ValueError, KeyError, OSError):
            pass
    return settings.nats_url


async def connect(url: str, *, timeout: float = 5.0) -> Bus:
    """The CLI's connection: one attempt, a few seconds at most."""
    try:
        return await asyncio.wait_for(Bus.connect(url, "ouro-cli", attempts=1), timeout=timeout)
    except (ConnectionError, TimeoutError, OSError) as err:
        why = f" ({err.__cause__})" if isinstance(err, ConnectionError) and err.__cause__ else ""
        raise CliError(f"no loop at {url}{why}: start it with `ouro up`, or pass --nats-url URL") from None
