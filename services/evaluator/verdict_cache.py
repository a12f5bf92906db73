"""Judge verdicts, cached on disk: the same judge asked the same thing answers from the cache.

    cache = VerdictCache(data_dir / "judge" / "verdicts.sqlite")
    judge = CachedJudge(OpenAIBackend(url, "judge-model"), "judge-model", cache)

The key is (judge model, the whole judge prompt, max tokens); the prompt holds the question and
the answer(s) being judged, so a verdict is reused exactly when the judge, the prompt and both
outputs are the same. A greedy judge gives the same verdict to the same prompt, so a re-evaluation
(a redelivered checkpoint, the champion's answers judged again next cycle) costs no judge calls.
The raw text is stored, not the parsed verdict: a parser fixed later reads the old verdicts too.
SQLite, because several evaluator workers may share one data dir.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from services.evaluator.backends import Backend, Chat
from shared.hashing import content_hash


class VerdictCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, judge TEXT, verdict TEXT)")
        self._db.commit()

    @staticmethod
    def key(judge: str, prompt: Chat, max_new_tokens: int) -> str:
        return content_hash([judge, prompt, max_new_tokens])

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def put(self, key: str, judge: str, verdict: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?)", (key, judge, verdict))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    def close(self) -> None:
        self._db.close()


class CachedJudge:
    """A judge backend that asks only for the prompts it has no verdict for, in one batch."""

    def __init__(self, backend: Backend, name: str, cache: VerdictCache) -> None:
        self.backend, self.name, self.cache = backend, name, cache
        self.hits = 0
        self.misses = 0

    def generate(self, prompts: list[Chat], max_new_tokens: int) -> list[str]:
        keys = [VerdictCache.key(self.name, p, max_new_tokens) for p in prompts]
        out: list[str | None] = [self.cache.get(k) for k in keys]
        todo = [i for i, v in enumerate(out) if v is None]
        self.hits += len(prompts) - len(todo)
        self.misses += len(todo)
        if todo:
            fresh = self.backend.generate([prompts[i] for i in todo], max_new_tokens)
            for i, verdict in zip(todo, fresh, strict=True):
                self.cache.put(keys[i], self.name, verdict)
                out[i] = verdict
        return [v or "" for v in out]
