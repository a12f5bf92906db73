"""The corpus: grows by content hash, retires what no longer holds (kept for audit), replays
earlier examples in every training snapshot, and the curator's rules for when to train."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.judge.corpus import Corpus, aged_out, snapshot, stale
from services.judge.curator import InFlight, decide, overdue
from shared.events import Example, Provenance
from shared.specialists import profile

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def ex(n: int, *, generator: str = "ast_code", path: str | None = "pkg/a.py", lines: tuple[int, int] | None = (1, 5),
       category: str = "instruction", session: str | None = None) -> Example:
    return Example.build(specialist="coder", category=category, generator=generator,
                         messages=[("user", f"What does f{n} do?"), ("assistant", f"f{n} adds {n} to its argument.")],
                         provenance=Provenance(source="repo", path=path, lines=lines, session_id=session))


def test_add_is_keyed_by_content_and_versioned() -> None:
    c = Corpus(specialist="coder").add([ex(1), ex(2)], cycle_id="c1", now=T0)
    c2 = c.add([ex(2), ex(3)], cycle_id="c2", now=T0 + timedelta(hours=1))
    assert (c.version, c2.version) == (1, 2) and len(c2.entries) == 3
    assert c2.entries[ex(2).id].cycle_id == "c1"  # the same text mined again is the same example
    assert c2.counts() == {"live": 3, "retired": 0, "new_since_training": 3}
    assert Corpus.loads(c2.dumps()) == c2  # what the store holds reads back the same


def test_stale_sources_retire_and_stay_for_audit() -> None:
    kept, rewritten, other = ex(1), ex(2), ex(3, path="pkg/b.py")
    graph = ex(4, lines=None)  # a file-level example (who imports a module): only a deleted file retires it
    doc = ex(5, generator="docs", path="README.md")
    c = Corpus(specialist="coder").add([kept, rewritten, other, graph, doc], cycle_id="c1", now=T0)
    # an incremental harvest re-read pkg/a.py (changed) and produced `kept` again, not `rewritten`;
    # README.md was deleted
    reasons = stale(c, {"ast_code": ("pkg/a.py",)}, full_scan=(), gone=("README.md",), seen_ids={kept.id})
    assert reasons == {rewritten.id: "source_changed:pkg/a.py", doc.id: "source_gone:README.md"}
    c2 = c.retire(reasons, now=T0)
    assert c2.counts()["live"] == 3 and c2.entries[rewritten.id].retired == "source_changed:pkg/a.py"
    assert c2.entries[rewritten.id].example == rewritten  # still there, for audit
    # a full scan that no longer reads pkg/b.py: the file is gone
    assert stale(c2, {"ast_code": ("pkg/a.py",)}, full_scan=("ast_code",), gone=(), seen_ids={kept.id, graph.id}) \
        == {other.id: "source_gone:pkg/b.py"}


def test_session_examples_age_out() -> None:
    old = ex(1, generator="sessions", path=None, session="s-1")
    c = Corpus(specialist="coder").add([old], cycle_id="c1", now=T0).add([ex(2)], cycle_id="c2", now=T0)
    assert aged_out(c, horizon_s=86400, now=T0 + timedelta(days=2)) == {old.id: "aged_out"}
    assert aged_out(c, horizon_s=86400 * 3, now=T0 + timedelta(days=2)) == {}


def test_a_snapshot_replays_earlier_examples_and_prefers_new_ones() -> None:
    first = [ex(i) for i in range(6)]
    c = Corpus(specialist="coder").add(first, cycle_id="c1", now=T0).mark_trained()
    c = c.add([ex(10), ex(11)], cycle_id="c2", now=T0)
    snap = snapshot(c, profile("coder"), cap=100, max_examples=None, generator_weights={})
    assert (snap.new, snap.replayed, len(snap.examples)) == (2, 6, 8)
    assert snap.corpus_version == 2
    # under a tight cap the new examples are kept first
    tight = snapshot(c, profile("coder"), cap=3, max_examples=None, generator_weights={})
    assert {e.id for e in tight.examples} >= {ex(10).id, ex(11).id} and tight.new == 2 and tight.cut == 5


def test_when_to_train() -> None:
    running = InFlight(cycle_id="c" * 32, since=T0)
    assert decide("manual", 0, 100, running).train  # a person asked
    assert decide("feedback", 0, 100, None).train
    d = decide("commit", 99, 100, None)
    assert not d.train and not d.coalesce and "99 new" in d.why
    assert decide("commit", 100, 100, None).train
    d = decide("commit", 150, 100, running)
    assert not d.train and d.coalesce  # one next run, once the running one is decided
    assert not decide("schedule", 0, 100, None).train and decide("schedule", 1, 100, None).train
    assert decide("coalesced", 1, 100, None).train
    assert running.expired(T0 + timedelta(hours=7), 6 * 3600) and not running.expired(T0, 6 * 3600)


def test_each_stage_has_its_own_deadline() -> None:
    deadlines = {"training": 6 * 3600, "evaluation": 600, "decision": 60}
    running = InFlight(cycle_id="c" * 32, since=T0, ready="{}")
    # training for 5 h is in time; the evaluation's 10 min start when the checkpoint arrives
    assert overdue(running, T0 + timedelta(hours=5), deadlines) is None
    evaluating = running.advanced("evaluation", T0 + timedelta(hours=5))
    assert evaluating.stage == "evaluation"
    assert overdue(evaluating, T0 + timedelta(hours=5, minutes=9), deadlines) is None
    assert overdue(evaluating, T0 + timedelta(hours=5, minutes=11), deadlines) == "rerun"
    # a stage never goes back: a redelivered checkpoint.ready after eval.completed changes nothing
    deciding = evaluating.advanced("decision", T0 + timedelta(hours=6))
    assert deciding.advanced("evaluation", T0 + timedelta(hours=7)) is deciding
    assert overdue(deciding.model_copy(update={"attempts": 2}), T0 + timedelta(hours=6, minutes=2), deadlines) == "fail"
