"""The micro-batcher (``service.model_holder.RecommendationBatcher``): who computes a
batch, what a batch holds, and that every request gets its own answer or error."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from service.answers import head, ranked, ranked_by_worker
from service.model_holder import LoadedModel, RecommendationBatcher


class ToyModel:
    """``recommend`` answers per the model contract on a toy catalogue (worker ``Wn``
    gets vacancies ``Vn.1`` .. ``Vn.k``); ``recommend_many`` records who called it and
    with which ids, and can be made slow (``gate``) or fail."""

    lang = "zh"

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.calls: list[tuple[int, list[str], int]] = []  # (thread, ids, k)

    def recommend(self, worker_id: str, k: int = 10) -> pd.DataFrame:
        if not worker_id.startswith("W"):
            raise KeyError(worker_id)
        n = int(worker_id[1:]) % 5 + 2  # some workers get fewer than k rows
        rows = [
            {
                "worker_id": worker_id,
                "rank": r,
                "vacancy_id": f"V{worker_id[1:]}.{r}",
                "score": 1.0 / (r + 1),
                "reasons": [f"reason {r}"],
                "warnings": [] if r % 2 else ["far"],
            }
            for r in range(1, min(n, k) + 1)
        ]
        return pd.DataFrame(
            rows, columns=["worker_id", "rank", "vacancy_id", "score", "reasons", "warnings"]
        )

    def recommend_many(self, worker_ids, k: int = 10) -> pd.DataFrame:
        self.calls.append((threading.get_ident(), list(worker_ids), k))
        if self.gate is not None:
            self.gate.wait(30)
        return pd.concat([self.recommend(w, k) for w in worker_ids], ignore_index=True)


def loaded(model: ToyModel) -> LoadedModel:
    return LoadedModel(model=model, version="v1", path=Path("."))


def _until(done, what: str, seconds: float = 30.0) -> None:
    """Wait (bounded) until ``done()``; fail naming ``what`` rather than hang."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


def _behind_first_batch(
    batcher: RecommendationBatcher,
    model: ToyModel,
    gate: threading.Event,
    ask,
    first: tuple,
    rest: list[tuple],
) -> None:
    """``ask(*first)`` leads and computes (held by ``gate``); ``ask(*r)`` for each of
    ``rest`` queues behind it; then the gate opens and every request is answered."""
    lead = threading.Thread(target=ask, args=first)
    lead.start()
    _until(lambda: bool(model.calls), "the first request computes")
    others = [threading.Thread(target=ask, args=r) for r in rest]
    for t in others:
        t.start()
    _until(lambda: batcher.waiting == len(others), "all queue behind the first batch")
    gate.set()
    for t in [lead, *others]:
        t.join(30)


def test_an_idle_batcher_answers_in_the_callers_thread():
    model = ToyModel()
    batcher = RecommendationBatcher()
    got = batcher.recommend_ranked(loaded(model), "W1", 3)
    assert got == ranked(model.recommend("W1", 3), model)
    assert model.calls == [(threading.get_ident(), ["W1"], 3)]
    # and again: no thread was left leading
    assert batcher.recommend_ranked(loaded(model), "W2", 4) == ranked(
        model.recommend("W2", 4), model
    )


def test_requests_arriving_during_a_batch_are_answered_together_next():
    gate = threading.Event()
    model = ToyModel(gate)
    lm = loaded(model)
    batcher = RecommendationBatcher()
    out: dict[str, object] = {}

    def ask(worker_id: str, k: int) -> None:
        out[worker_id] = batcher.recommend_ranked(lm, worker_id, k)

    _behind_first_batch(
        batcher, model, gate, ask, ("W0", 5), [(f"W{i}", 2 + i % 6) for i in range(1, 12)]
    )
    assert [ids for _, ids, _ in model.calls] == [["W0"], [f"W{i}" for i in range(1, 12)]]
    assert model.calls[1][2] == 7  # the largest k asked in the batch
    for i in range(12):
        k = 5 if i == 0 else 2 + i % 6
        assert out[f"W{i}"] == ranked(model.recommend(f"W{i}", k), model)
    assert batcher.batches == 2 and batcher.requests == 12


def _queued_batch(
    asks: list[tuple[str, int]], max_batch: int = 32
) -> tuple[ToyModel, RecommendationBatcher, dict[str, object]]:
    """``("W9", 3)`` leads; ``asks`` (worker, k) queue behind it. Each worker's answer,
    or the ``KeyError`` it got."""
    gate = threading.Event()
    model = ToyModel(gate)
    lm = loaded(model)
    batcher = RecommendationBatcher(max_batch=max_batch)
    out: dict[str, object] = {}

    def ask(worker_id: str, k: int) -> None:
        try:
            out[worker_id] = batcher.recommend_ranked(lm, worker_id, k)
        except KeyError as exc:
            out[worker_id] = exc

    _behind_first_batch(batcher, model, gate, ask, ("W9", 3), asks)
    return model, batcher, out


def test_a_bad_id_in_a_batch_fails_alone():
    model, _, out = _queued_batch([("W1", 4), ("BAD", 4), ("W2", 6), ("W3", 2)])
    assert isinstance(out["BAD"], KeyError)
    for worker, k in (("W1", 4), ("W2", 6), ("W3", 2), ("W9", 3)):
        assert out[worker] == ranked(model.recommend(worker, k), model)


def test_a_batchs_requests_share_one_model_call():
    """Without a bad id the batch is answered from one ``recommend_many`` call, each
    request its own cut of it."""
    model, _, out = _queued_batch([("W1", 4), ("W2", 6), ("W3", 2), ("W4", 3)])
    assert [ids for _, ids, _ in model.calls] == [["W9"], ["W1", "W2", "W3", "W4"]]
    for worker, k in (("W1", 4), ("W2", 6), ("W3", 2), ("W4", 3)):
        assert out[worker] == ranked(model.recommend(worker, k), model)
    # a literal answer, not only the answer module's own reading of the frame
    w4 = out["W4"]
    assert w4.vacancy_ids == ("V4.1", "V4.2", "V4.3")
    assert w4.warnings == ((), ("far",), ())


def test_a_capped_batch_hands_the_lead_on_until_every_request_is_answered():
    """With ``max_batch`` 2, five requests queued behind the first are answered in
    batches of 2, 2, 1, each led by the first request left in the queue."""
    asks = [(f"W{i}", 2 + i) for i in range(1, 6)]
    model, batcher, out = _queued_batch(asks, max_batch=2)
    assert [len(ids) for _, ids, _ in model.calls] == [1, 2, 2, 1]
    assert sorted(w for _, ids, _ in model.calls[1:] for w in ids) == [w for w, _ in asks]
    for worker, k in [("W9", 3), *asks]:
        assert out[worker] == ranked(model.recommend(worker, k), model)
    assert batcher.batches == 4 and batcher.requests == 6 and batcher.waiting == 0
    # the lead was given up: the next request computes at once, in its own thread
    assert batcher.recommend_ranked(loaded(model), "W7", 2) == ranked(
        model.recommend("W7", 2), model
    )
    assert model.calls[-1][0] == threading.get_ident()


def test_a_batch_holds_at_least_one_request():
    with pytest.raises(ValueError, match="max_batch"):
        RecommendationBatcher(max_batch=0)


def test_a_batch_that_dies_answers_every_request_and_frees_the_lead():
    class Dying(ToyModel):
        def recommend_many(self, worker_ids, k: int = 10) -> pd.DataFrame:
            raise SystemExit("the model died")  # not an Exception: no per-worker retry

    batcher = RecommendationBatcher()
    with pytest.raises(SystemExit):
        batcher.recommend_ranked(loaded(Dying()), "W1", 3)
    model = ToyModel()
    assert batcher.recommend_ranked(loaded(model), "W1", 3) == ranked(
        model.recommend("W1", 3), model
    )


def test_ranked_by_worker_equals_each_workers_own_frame_and_head_cuts_by_rank():
    model = ToyModel()
    ids = ["W3", "W1", "W7"]
    frame = model.recommend_many(ids, 6)
    by_worker = ranked_by_worker(frame, model)
    assert list(by_worker) == ids
    for w in ids:
        assert by_worker[w] == ranked(model.recommend(w, 6), model)
        for k in (1, 3, 6, 10):
            assert head(by_worker[w], k) == ranked(model.recommend(w, k), model)
