"""Content hashes: the same payload gives the same id on every machine."""

from __future__ import annotations

import hashlib
import json


def content_hash(payload: object) -> str:
    data = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
