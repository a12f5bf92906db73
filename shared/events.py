"""The event contract of the loop: every message on the bus is one of these models.

Subjects live in one enum and carry their schema version; no subject string is written
anywhere else. Events are frozen and reject unknown fields, so a producer and a consumer
that disagree on the schema fail loudly (the consumer dead-letters the message) instead
of silently dropping data.

Large payloads (datasets, adapters) never ride in events: they go to the artifact store
and the event carries an `ArtifactRef` with the content's SHA-256.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from shared.hashing import content_hash
from shared.specialists import SpecialistName
from shared.stats import EvalStats, Paired

STREAM_NAME = "OURO"
SUBJECT_PREFIX = "ouro."


class Subject(StrEnum):
    COMMITS_NEW = "ouro.commits.new.v1"
    SESSIONS_NEW = "ouro.sessions.new.v1"
    HARVEST_REQUESTED = "ouro.harvest.requested.v1"
    EXAMPLES_HARVESTED = "ouro.examples.harvested.v1"
    HARVEST_COMPLETED = "ouro.harvest.completed.v1"
    DATASET_READY = "ouro.dataset.ready.v1"
    CHECKPOINT_READY = "ouro.checkpoint.ready.v1"
    EVAL_COMPLETED = "ouro.eval.completed.v1"
    MODEL_PROMOTED = "ouro.model.promoted.v1"
    MODEL_REJECTED = "ouro.model.rejected.v1"
    CORPUS_UPDATED = "ouro.corpus.updated.v1"
    TRAIN_REQUESTED = "ouro.train.requested.v1"
    DLQ = "ouro.dlq.v1"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def derived_id(*parts: str) -> str:
    """A deterministic event id for an event derived from earlier work.

    A handler that is redelivered (crash before ack) republishes the same id, so JetStream's
    `Nats-Msg-Id` dedup drops the copy: one checkpoint gets one eval.completed.
    """
    return uuid.uuid5(uuid.NAMESPACE_URL, "ouro:" + ":".join(parts)).hex


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- payload pieces


class ToolFunction(Model):
    name: str
    arguments: str = "{}"  # JSON text, as the OpenAI API carries it


class ToolCall(Model):
    """One call an assistant message made, in OpenAI's shape."""

    id: str
    type: Literal["function"] = "function"
    function: ToolFunction


class ChatMessage(Model):
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    # Multi-turn examples keep what the assistant actually called and what came back (OpenAI's
    # shape). Absent on plain messages, and left out of their dump, so the ids and stored rows
    # of examples without tools are what they were before these fields existed.
    tool_calls: tuple[ToolCall, ...] | None = None
    tool_call_id: str | None = None  # on a `tool` message: the call it answers

    @model_serializer(mode="wrap")
    def _without_unset_tool_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        for key in ("tool_calls", "tool_call_id"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class Provenance(Model):
    source: str = Field(description="where the example came from: a repo path, a session file, a spec")
    commit: str | None = None
    path: str | None = None
    lines: tuple[int, int] | None = None
    session_id: str | None = None


ExampleFormat = Literal["chat", "fim", "think"]


class Example(Model):
    """One training example in OpenAI chat format, with where it came from."""

    id: str
    specialist: SpecialistName
    category: str
    generator: str
    messages: tuple[ChatMessage, ...]
    format: ExampleFormat = "chat"
    provenance: Provenance
    scores: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        specialist: str,
        category: str,
        generator: str,
        messages: list[tuple[str, str]] | list[ChatMessage],
        provenance: Provenance,
        format: ExampleFormat = "chat",
    ) -> Example:
        msgs = tuple(m if isinstance(m, ChatMessage) else ChatMessage(role=m[0], content=m[1]) for m in messages)
        # The id is the hash of what is trained on, so the same text mined twice is one example.
        ident = content_hash([str(specialist), category, format, [m.model_dump() for m in msgs]])
        return cls(
            id=ident,
            specialist=specialist,
            category=category,
            generator=generator,
            messages=msgs,
            format=format,
            provenance=provenance,
        )

    @property
    def prompt(self) -> str:
        return "\n".join(m.content for m in self.messages if m.role != "assistant")

    @property
    def response(self) -> str:
        return "\n".join(m.content for m in self.messages if m.role == "assistant")


class ArtifactRef(Model):
    """A pointer into the artifact store; `sha256` is of the stored bytes."""

    name: str
    sha256: str
    size: int
    kind: Literal["file", "dir"] = "file"


class TrainMetrics(Model):
    method: Literal["lora", "qlora"]
    device: str
    examples: int
    steps: int
    epochs: float
    train_loss: float
    first_loss: float | None = None
    tokens: int
    duration_s: float


# ---------------------------------------------------------------- events


class Event(Model):
    event_id: str = Field(default_factory=new_id)
    occurred_at: datetime = Field(default_factory=utcnow)
    cycle_id: str


class CommitsNew(Event):
    repo: str
    sha: str
    branch: str


class SessionsNew(Event):
    session_id: str
    format: Literal["openai", "sharegpt", "agent"] = "openai"
    messages: tuple[ChatMessage, ...] = ()
    ref: str | None = Field(default=None, description="path of a session log file instead of inline messages")
    # Set by the router: the specialist it routed the conversation to and the effort it estimated,
    # so the harvested intent examples learn the routing that actually happened.
    specialist: SpecialistName | None = None
    effort: int | None = Field(default=None, ge=1, le=10)


# Why a harvest or a training happens. manual and feedback harvests train at once; commit, session
# and scheduled harvests grow the corpus and train when enough is new (the specialist's cadence).
Reason = Literal["manual", "schedule", "feedback", "commit", "session", "coalesced"]


class HarvestRequested(Event):
    specialist: SpecialistName
    reason: Reason = "manual"
    weak_categories: tuple[str, ...] = ()
    repo: str | None = None
    sessions: str | None = None
    feedback_round: int = 0


class ExamplesHarvested(Event):
    specialist: SpecialistName
    batch_index: int
    examples: tuple[Example, ...]


class HarvestCompleted(Event):
    specialist: SpecialistName
    batch_count: int
    example_count: int
    by_generator: dict[str, int] = Field(default_factory=dict)
    skipped: dict[str, int] = Field(default_factory=dict)
    commit_classes: dict[str, int] = Field(default_factory=dict, description="bugfix|refactor|feature|test|docs|other")
    weak_categories: tuple[str, ...] = ()
    reason: Reason = "manual"
    # what this harvest read of the repository, so the corpus can retire what no longer holds:
    # per generator the paths it read again, and the generators that read the whole tree
    refreshed: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    full_scan: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()  # repository files deleted since the watermark


class DatasetReady(Event):
    specialist: SpecialistName
    dataset_id: str
    ref: ArtifactRef
    kept: int
    dropped: dict[str, int] = Field(default_factory=dict)
    mix: dict[str, int] = Field(default_factory=dict)
    corpus_version: int = 0  # the corpus snapshot this dataset is
    new: int = 0  # examples new since the last training
    replayed: int = 0  # examples from earlier trainings, replayed
    reason: Reason = "manual"


class CorpusUpdated(Event):
    """A judged harvest went into the specialist's corpus; says whether it started a training."""

    specialist: SpecialistName
    corpus_version: int
    added: int
    retired: dict[str, int] = Field(default_factory=dict)  # reason kind -> count, this update
    live: int
    new_since_training: int
    training: bool
    why: str


class TrainRequested(Event):
    """Train now on a snapshot of the corpus (the schedule, or a coalesced trigger)."""

    specialist: SpecialistName
    reason: Reason = "schedule"


class CheckpointReady(Event):
    specialist: SpecialistName
    checkpoint_id: str
    adapter: ArtifactRef
    base_model: str
    dataset_id: str
    metrics: TrainMetrics
    parent: str | None = Field(None, description="the champion checkpoint this one continued; None: from the base")


class EvalCompleted(Event):
    specialist: SpecialistName
    checkpoint_id: str
    suite: str
    prompts: int
    suite_version: str = Field("", description="content hash of the suite: scores compare within one version")
    candidate: dict[str, float]
    candidate_overall: float
    champion_id: str | None = Field(description="None: the champion is the bare base model")
    champion: dict[str, float]
    champion_overall: float
    # intervals per category for both models and the paired candidate − champion comparison
    stats: EvalStats | None = None
    # the general held-out set (forgetting): candidate − champion, paired; None when not run
    general: Paired | None = None
    # the bare base model on the same prompts (the relative gate, forgetting vs the base): its
    # overall on the suite, candidate − base paired there and on the general set; None: not run
    base_overall: float | None = None
    vs_base: Paired | None = None
    general_base: Paired | None = None
    report: ArtifactRef | None = Field(None, description="per-prompt outputs and scores of both models")
    unscored: dict[str, int] = Field(default_factory=dict, description="candidate items not scored, by reason")


class ModelPromoted(Event):
    specialist: SpecialistName
    checkpoint_id: str
    previous_champion: str | None
    overall: float
    categories: dict[str, float]
    reasons: tuple[str, ...] = ()


class ModelRejected(Event):
    specialist: SpecialistName
    checkpoint_id: str
    overall: float
    categories: dict[str, float]
    reasons: tuple[str, ...]
    weak_categories: tuple[str, ...] = ()
    inconclusive: bool = False  # not shown better with confidence, nor worse: the suite cannot tell yet


class DeadLetter(Event):
    service: str
    original_subject: str
    reason: str
    payload: str = Field(description="the original bytes, decoded as UTF-8 with replacement")
    deliveries: int


EVENT_TYPES: dict[Subject, type[Event]] = {
    Subject.COMMITS_NEW: CommitsNew,
    Subject.SESSIONS_NEW: SessionsNew,
    Subject.HARVEST_REQUESTED: HarvestRequested,
    Subject.EXAMPLES_HARVESTED: ExamplesHarvested,
    Subject.HARVEST_COMPLETED: HarvestCompleted,
    Subject.DATASET_READY: DatasetReady,
    Subject.CHECKPOINT_READY: CheckpointReady,
    Subject.EVAL_COMPLETED: EvalCompleted,
    Subject.MODEL_PROMOTED: ModelPromoted,
    Subject.MODEL_REJECTED: ModelRejected,
    Subject.CORPUS_UPDATED: CorpusUpdated,
    Subject.TRAIN_REQUESTED: TrainRequested,
    Subject.DLQ: DeadLetter,
}
SUBJECT_OF: dict[type[Event], Subject] = {v: k for k, v in EVENT_TYPES.items()}


def subject_of(event: Event) -> Subject:
    return SUBJECT_OF[type(event)]


def decode(subject: str, data: bytes) -> Event:
    """Parse bytes from `subject` into its event model; raises ValueError naming what is wrong."""
    try:
        kind = EVENT_TYPES[Subject(subject)]
    except ValueError:
        raise ValueError(f"unknown subject {subject!r}") from None
    return kind.model_validate_json(data)


# ---------------------------------------------------------------- live progress (not in the stream)

# Progress is for a person watching, not part of the chronicle: it is published with plain NATS on
# a subject outside the stream (`ouro.>`), so nothing stores it and a late reader simply sees the
# next one. Producers send at most one every few seconds (shared/progress.py).
PROGRESS_SUBJECT = "live.progress.v1"


class Progress(Event):
    """How far a long stage of a cycle is: training steps, or prompts evaluated."""

    specialist: SpecialistName
    stage: Literal["train", "evaluate"]
    step: int = Field(ge=0, description="training steps done, or prompts scored")
    total: int = Field(ge=0)
    what: str = Field("", description="e.g. 'candidate' or 'champion' while evaluating")
    loss: float | None = None
    tokens_per_s: float | None = None
    eta_s: float | None = None
