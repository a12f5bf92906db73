"""The judge: filters → dedup → decontamination → balance → a versioned dataset.

Pure core (no bus): `filter_batch` runs in any number of workers, `assemble` in one.
"""

from services.judge.batch import BatchVerdicts, Rejected, filter_batch
from services.judge.config import JudgeConfig
from services.judge.core import JudgedDataset, JudgeReport, assemble, build_filters, judge
from services.judge.dataset import write_dataset
from services.judge.dedup import DedupHistory
from services.judge.verdict import BatchFilter, Filter, Verdict

__all__ = [
    "BatchFilter", "BatchVerdicts", "DedupHistory", "Filter", "JudgeConfig", "JudgeReport", "JudgedDataset",
    "Rejected", "Verdict", "assemble", "build_filters", "filter_batch", "judge", "write_dataset",
]
