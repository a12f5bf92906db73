"""The sandbox holds: each limit is tried by code written to break it, and the caller goes on."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from shared.sandbox import Limits, available, run_python

pytestmark = pytest.mark.skipif(available() is not None, reason=f"sandbox unavailable here: {available()}")


def test_plain_code_runs_and_reports() -> None:
    r = run_python({"main.py": "import sys; print(sum(range(10))); sys.exit(3)"}, "main.py")
    assert r.stdout.strip() == "45" and r.returncode == 3 and not r.timed_out


def test_no_network_even_to_a_server_on_loopback() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept(), daemon=True).start()
    code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')"
    r = run_python({"main.py": code}, "main.py")
    server.close()
    assert "connected" not in r.stdout and r.returncode != 0
    assert "unreachable" in r.stderr.lower() or "refused" in r.stderr.lower()


def test_writes_outside_its_directory_fail(tmp_path: Path) -> None:
    target = tmp_path / "escape.txt"
    code = (f"import os\nopen('inside.txt', 'w').write('ok')\n"
            f"for p in ['{target}', '/tmp/escape.txt', '/root/escape.txt', '/etc/escape.txt']:\n"
            "    try:\n        open(p, 'w').write('x'); print('WROTE', p)\n"
            "    except OSError as e:\n        print('refused', p, e.errno)\n")
    r = run_python({"main.py": code}, "main.py")
    assert r.returncode == 0 and "WROTE" not in r.stdout and r.stdout.count("refused") == 4
    assert not target.exists()


@pytest.mark.parametrize(("name", "code"), [
    ("infinite loop", "while True:\n    pass\n"),
    ("memory bomb", "x = []\nwhile True:\n    x.append(bytearray(50 * 1024 * 1024))\n"),
    ("fork bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"),
    ("huge file", "open('big', 'wb').write(b'0' * (64 * 1024 * 1024))\n"),
])
def test_each_bomb_is_stopped_and_the_caller_goes_on(name: str, code: str) -> None:
    r = run_python({"main.py": code}, "main.py", timeout_s=4, limits=Limits(cpu_s=3))
    assert not r.ok, name
    assert r.duration_s < 15, name
    # the next run is unaffected
    assert run_python({"main.py": "print('next')"}, "main.py").stdout.strip() == "next"
