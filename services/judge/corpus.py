"""The corpus of one specialist: every example the judge ever kept, keyed by content hash, with
when and from which cycle it entered, and — once it no longer holds — when and why it retired.

Pure data and functions; the bus adapter stores each version as one gzipped JSONL file in the
artifact store (`corpus/<specialist>/<version>.jsonl.gz`, immutable, so every version stays
auditable) and the pointer to the current one in KV (`CorpusManifest`).

    corpus = corpus.add(kept, cycle_id=..., now=...)          # grows on every judged harvest
    corpus = corpus.retire_stale(sources, seen_ids, now=...)  # the code it described changed
    rows, why = snapshot(corpus, profile, cap=600)             # what one training run sees

Training reads a snapshot: the examples new since the last training first, then replay of the
earlier ones, balanced to the specialist's mix under the per-category cap. So a cycle whose
harvest added 2 examples still trains on everything learned so far, not on those 2.
"""

from __future__ import annotations

import gzip
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from services.judge.balance import MixEntry, balance
from shared.events import ArtifactRef, Example

# Generators whose examples describe a file of the repository at HEAD: when that file changes,
# the examples that are not mined again from the new text no longer hold.
SOURCE_GENERATORS = frozenset({"ast_code", "docs"})


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CorpusEntry(_Model):
    example: Example
    added_at: datetime
    cycle_id: str
    version: int  # the corpus version it entered in
    retired: str | None = None  # why it left: source_changed:<path>, source_gone:<path>, aged_out, contaminated:<item>
    retired_at: datetime | None = None

    @property
    def live(self) -> bool:
        return self.retired is None


class CorpusManifest(_Model):
    """The KV pointer to a specialist's current corpus version."""

    specialist: str
    version: int
    ref: ArtifactRef | None  # None: empty (version 0)
    live: int
    retired: int
    trained_version: int = 0  # the version the last training snapshot was taken at
    decontamination_index: str | None = None  # the index the live entries were last checked against
    updated_at: datetime


class Corpus(_Model):
    specialist: str
    version: int = 0
    entries: dict[str, CorpusEntry] = Field(default_factory=dict)
    trained_version: int = 0
    decontamination_index: str | None = None

    # ------------------------------------------------------------------ reading

    def live(self) -> list[CorpusEntry]:
        return [e for e in self.entries.values() if e.live]

    def new_since_training(self) -> list[CorpusEntry]:
        return [e for e in self.live() if e.version > self.trained_version]

    def counts(self) -> dict[str, int]:
        live = self.live()
        return {"live": len(live), "retired": len(self.entries) - len(live),
                "new_since_training": len(self.new_since_training())}

    # ------------------------------------------------------------------ changing (each returns a new version)

    def add(self, examples: Iterable[Example], *, cycle_id: str, now: datetime) -> Corpus:
        version = self.version + 1
        entries = dict(self.entries)
        for e in examples:
            old = entries.get(e.id)
            if old is None or not old.live:  # a retired example mined again (the code came back) lives again
                entries[e.id] = CorpusEntry(example=e, added_at=now, cycle_id=cycle_id, version=version)
        return self.model_copy(update={"version": version, "entries": entries})

    def retire(self, reasons: Mapping[str, str], *, now: datetime) -> Corpus:
        """Retire the live entries named (id -> reason); retired entries stay, for audit."""
        if not reasons:
            return self
        entries = dict(self.entries)
        for ident, reason in reasons.items():
            if ident in entries and entries[ident].live:
                entries[ident] = entries[ident].model_copy(update={"retired": reason, "retired_at": now})
        return self.model_copy(update={"version": self.version + 1, "entries": entries})

    def mark_trained(self) -> Corpus:
        return self.model_copy(update={"trained_version": self.version})

    # ------------------------------------------------------------------ storage

    def dumps(self) -> bytes:
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            header = {"specialist": self.specialist, "version": self.version, "trained_version": self.trained_version,
                      "decontamination_index": self.decontamination_index}
            gz.write((_Header(**header).model_dump_json() + "\n").encode())
            for ident in sorted(self.entries):
                gz.write((self.entries[ident].model_dump_json() + "\n").encode())
        return buf.getvalue()

    @classmethod
    def loads(cls, data: bytes) -> Corpus:
        lines = gzip.decompress(data).decode("utf-8").splitlines()
        header = _Header.model_validate_json(lines[0])
        entries = [CorpusEntry.model_validate_json(line) for line in lines[1:] if line.strip()]
        return cls(**header.model_dump(), entries={e.example.id: e for e in entries})

    def save(self, path: Path) -> Path:
        path.write_bytes(self.dumps())
        return path

    def manifest(self, ref: ArtifactRef | None, now: datetime) -> CorpusManifest:
        c = self.counts()
        return CorpusManifest(specialist=self.specialist, version=self.version, ref=ref, live=c["live"],
                              retired=c["retired"], trained_version=self.trained_version,
                              decontamination_index=self.decontamination_index, updated_at=now)


class _Header(_Model):
    specialist: str
    version: int
    trained_version: int
    decontamination_index: str | None


# ---------------------------------------------------------------------- freshness


def stale(corpus: Corpus, refreshed: Mapping[str, Sequence[str]], full_scan: Sequence[str], gone: Sequence[str],
          seen_ids: set[str]) -> dict[str, str]:
    """Live entries whose source changed or went away, with the reason.

    `refreshed`: per generator, the repository paths it read again in this harvest (all of them
    on a full scan, the changed ones on an incremental harvest). An entry about a span of such a
    file (it has line numbers: a function, a class, a doc section) that this harvest did not
    produce again describes text that is no longer there. `gone`: files deleted since the
    watermark. `full_scan`: generators that read the whole tree: a path they did not read is gone.
    File-level entries (who imports a module) are only mined on full scans, so only a deleted
    file retires them.
    """
    gone_paths = set(gone)
    out: dict[str, str] = {}
    for ident, entry in corpus.entries.items():
        ex = entry.example
        path = ex.provenance.path
        if not entry.live or ex.generator not in SOURCE_GENERATORS or not path:
            continue
        paths = set(refreshed.get(ex.generator, ()))
        if path in gone_paths or (ex.generator in full_scan and path not in paths):
            out[ident] = f"source_gone:{path}"
        elif path in paths and ex.provenance.lines is not None and ident not in seen_ids:
            out[ident] = f"source_changed:{path}"
    return out


def aged_out(corpus: Corpus, horizon_s: float, now: datetime) -> dict[str, str]:
    """Session examples older than the horizon: what operators asked a year ago may not hold."""
    limit = now - timedelta(seconds=horizon_s)
    return {i: "aged_out" for i, e in corpus.entries.items()
            if e.live and e.example.provenance.session_id is not None and e.added_at < limit}


# ---------------------------------------------------------------------- what training sees


class Snapshot(_Model):
    corpus_version: int
    examples: list[Example]
    new: int  # of which entered since the last training
    replayed: int
    cut: int  # live examples the balance left out
    mix: dict[str, MixEntry]
    by_generator: dict[str, int]


def snapshot(corpus: Corpus, profile, *, cap: int, max_examples: int | None,  # noqa: ANN001 - a Profile
             generator_weights: dict[str, float]) -> Snapshot:
    """New examples first, then replay of earlier ones, balanced to the mix under the cap."""
    live = sorted(corpus.live(), key=lambda e: e.example.id)
    new_ids = frozenset(e.example.id for e in live if e.version > corpus.trained_version)
    kept, cut, mix = balance([e.example for e in live], profile=profile, cap=cap, max_examples=max_examples,
                             generator_weights=generator_weights, prefer=new_ids)
    kept.sort(key=lambda e: (e.category, e.id))
    new = sum(e.id in new_ids for e in kept)
    return Snapshot(corpus_version=corpus.version, examples=kept, new=new, replayed=len(kept) - new, cut=len(cut),
                    mix=mix, by_generator=dict(sorted(Counter(e.generator for e in kept).items())))
