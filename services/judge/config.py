"""The judge's knobs, as one plain model with defaults (the bus adapter fills it from env settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from shared.specialists import specialists
from shared.suites import SUITES_DIR, shipped_suites


class JudgeConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # input
    max_bytes: int = 262_144  # one example larger than this is "too_large": nobody trains on a log dump
    # length (None: the specialist profile's min_tokens / max_tokens)
    min_tokens: int | None = None
    max_tokens: int | None = None
    # repetition: the mission's rule plus Gopher's top n-gram character share
    max_bigram_repeat: float = 0.4
    gopher_repetition: bool = True
    top_ngram_share: dict[int, float] = Field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    # noise: drop when less than this share of the response survives stripping
    min_clean_share: float = 0.5
    # coherence (all-MiniLM-L6-v2 cosine of prompt and response)
    coherence: bool = True
    coherence_threshold: float = 0.1
    coherence_max_tokens: int = 128
    coherence_int8: bool = True  # CPU only: int8 dynamic quantization, ~2.6x faster (filters/coherence.py)
    # a static table distilled from MiniLM decides pairs far from their threshold; False: MiniLM scores all
    coherence_cascade: bool = True
    coherence_thresholds: dict[str, float] = Field(
        # short or structured answers sit far from their prompt in embedding space
        default_factory=lambda: {"conciseness": 0.02, "tool_use": 0.02, "intent_classification": 0.02}
    )
    # dedup
    dedup_threshold: float = 0.8
    num_perm: int = 128
    shingle_size: int = 5
    # decontamination
    decontaminate: bool = True
    builtin_benchmarks: bool = True
    # the evaluation suites no example may overlap; None: the suite of every loaded specialist
    suites: tuple[Path, ...] | None = None
    extra_benchmark_files: tuple[Path, ...] = ()
    decontam_ngram: int = 13
    decontam_fallback_ngram: int = 8
    decontam_overlap: float = 0.5
    cache_dir: Path | None = None  # None: $XDG_CACHE_HOME/ouroboros/judge
    # balance
    per_category_cap: int = 600
    max_examples: int | None = None  # None: the sum of the per-category caps
    generator_weights: dict[str, float] = Field(default_factory=lambda: {"teacher": 1.3})

    def fingerprint(self) -> dict[str, object]:
        """What decides the dataset's content (part of the dataset id); where caches live does not."""
        # Source paths are left out (they differ per checkout); the decontamination index's
        # content hash stands in for them in the dataset id.
        return self.model_dump(mode="json", exclude={"cache_dir", "suites", "extra_benchmark_files"})

    def suite_dirs(self) -> tuple[Path, ...]:
        """The configured suites, else every loaded specialist's suite and every shipped suite
        (the general held-out set among them)."""
        if self.suites is not None:
            return self.suites
        dirs = [p.suite_dir for p in specialists().profiles.values()]
        dirs += [SUITES_DIR / name for name in shipped_suites()]
        return tuple(dict.fromkeys(d.resolve() for d in dirs))
