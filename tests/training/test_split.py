"""The time split: every rule of training/split.py on the toy market, and the error states."""

from __future__ import annotations

import pandas as pd
import pytest
from toy_market import CUTOFF, UNTIL, build, day, toy_frames

from matcher.evaluation.baselines import PopularityRecommender
from training.split import TrainingDataError, as_of, check_trainable, default_until, time_split


def test_split_rules_on_toy(toy):
    s = time_split(toy, until=UNTIL, test_weeks=2)
    assert s.cutoff == CUTOFF
    # test pairs: w2-v2 (hired 2), w4-v6 (applied 1), w5-v6 (applied 1), w6-v3 (retained 3)
    got = sorted(map(tuple, s.test.values.tolist()))
    assert got == [("w2", "v2", 2), ("w4", "v6", 1), ("w5", "v6", 1), ("w6", "v3", 3)]
    assert s.dropped == {
        "pairs_in_window": 6,
        "new_vacancies": 1,  # w3-v4: v4 posted after the cutoff
        "unknown_workers": 0,
        "pursued_before_cutoff": 1,  # w1-v1 applied and hired before, retained after
    }
    assert list(s.warm_workers) == ["w2", "w6"]  # w2 only viewed, but that is history
    # w4 registered long ago without history; w5 registered during the test weeks
    assert list(s.cold_workers) == ["w4", "w5"]
    # the serving snapshot adds w5's profile, nothing else
    assert s.serving.n_workers == s.train.n_workers + 1
    assert s.serving.events.equals(s.train.events)
    assert s.serving.vacancies.equals(s.train.vacancies)
    # open at the cutoff: v2 was stored "filled" (today) but had no hire before the cutoff;
    # v5 closed on day 5; v4 not yet posted
    assert sorted(s.candidates) == ["v1", "v2", "v3", "v6"]


def test_train_snapshot_has_no_future(toy):
    s = time_split(toy, until=UNTIL, test_weeks=2)
    tr = s.train
    assert (tr.events["occurred_at"] < CUTOFF).all()
    assert "w5" not in set(tr.workers["worker_id"])
    assert "v4" not in set(tr.vacancies["vacancy_id"])
    status = dict(zip(tr.vacancies["vacancy_id"], tr.vacancies["status"], strict=True))
    assert status == {"v1": "open", "v2": "open", "v3": "open", "v5": "closed", "v6": "open"}


def test_planted_future_event_does_not_leak(toy):
    """A future hire that would change training statistics changes nothing before the cutoff."""
    frames = toy_frames()
    planted = pd.DataFrame(
        [
            ("w3", "v6", "applied", day(29)),
            ("w3", "v6", "hired", day(30)),
            ("w2", "v6", "retained_3m", day(38)),
        ],
        columns=["worker_id", "vacancy_id", "event", "occurred_at"],
    )
    # the store as it would be after that hire: one seat fewer on v6 (seats are "still open")
    vac = frames["vacancies"].copy()
    vac.loc[vac["vacancy_id"] == "v6", "headcount"] -= 1
    frames_planted = dict(frames, events=pd.concat([frames["events"], planted]), vacancies=vac)
    a = time_split(build(frames), until=UNTIL, test_weeks=2)
    b = time_split(build(frames_planted), until=UNTIL, test_weeks=2)
    # the train snapshot is byte-identical; only the test set and the source differ
    assert a.train.fingerprint() == b.train.fingerprint()
    assert a.source_fingerprint != b.source_fingerprint
    # w3-v6 is new, and w2-v6 counts too: only viewed (grade 0) before the cutoff
    assert len(b.test) == len(a.test) + 2
    # a fitted statistic (popularity of v6) is the same with or without the planted future
    pa = PopularityRecommender(filter="location").fit(a.train)
    pb = PopularityRecommender(filter="location").fit(b.train)
    assert (pa.popularity_ == pb.popularity_).all()
    # ...but would differ if the model had been fitted on the whole snapshot (the leak)
    full_a = PopularityRecommender(filter="location").fit(build(frames))
    full_b = PopularityRecommender(filter="location").fit(build(frames_planted))
    assert (full_a.popularity_ != full_b.popularity_).any()


def test_as_of_restores_seats_open_at_the_cutoff():
    frames = toy_frames()
    v = frames["vacancies"]
    # stored: v2 has no seat left now (w2 was hired on day 31)
    v.loc[v["vacancy_id"] == "v2", ["headcount", "status"]] = [0, "filled"]
    ds = build(frames)

    def seats(snap):
        return snap.vacancies.set_index("vacancy_id")["headcount"].to_dict()

    def status(snap):
        return snap.vacancies.set_index("vacancy_id")["status"].to_dict()

    before, after = as_of(ds, pd.Timestamp(day(28))), as_of(ds, pd.Timestamp(day(32)))
    assert seats(before)["v2"] == 1 and status(before)["v2"] == "open"
    assert seats(after)["v2"] == 0 and status(after)["v2"] == "filled"
    # v1: 5 seats now, w1 hired on day 3 (before both cutoffs): unchanged
    assert seats(before)["v1"] == 5 and seats(after)["v1"] == 5


def test_default_until_is_end_of_last_event_day(toy):
    assert default_until(toy) == pd.Timestamp(day(41)).normalize()


# ---------------------------------------------------------------------- errors


def test_empty_store():
    frames = toy_frames()
    empty = {k: f.iloc[0:0] for k, f in frames.items()}
    with pytest.raises(TrainingDataError, match="store is empty.*jobmatch import"):
        check_trainable(build(empty))


def test_no_events():
    frames = toy_frames()
    frames["events"] = frames["events"].iloc[0:0]
    with pytest.raises(TrainingDataError, match="no events"):
        time_split(build(frames), until=UNTIL, test_weeks=2)


def test_one_kind_of_outcome():
    frames = toy_frames()
    frames["events"] = frames["events"].assign(event="applied")
    with pytest.raises(TrainingDataError, match="only one kind of outcome \\(applied\\)"):
        time_split(build(frames), until=UNTIL, test_weeks=2)


def test_no_positive_outcomes_is_refused():
    frames = toy_frames()
    ev = frames["events"]
    frames["events"] = ev.assign(
        event=["viewed", "rejected"] * (len(ev) // 2) + ["viewed"] * (len(ev) % 2)
    )
    with pytest.raises(TrainingDataError, match="no application, hire or retention"):
        time_split(build(frames), until=UNTIL, test_weeks=2)


def test_too_little_data_for_split(toy):
    # the whole history falls in the test window: nothing to train on
    with pytest.raises(TrainingDataError, match="no events before the cutoff.*--test-weeks"):
        time_split(toy, until=UNTIL, test_weeks=10)
    # a window after the data: nothing to test on
    with pytest.raises(TrainingDataError, match="no applications, hires or retentions"):
        time_split(toy, until=pd.Timestamp(day(80)), test_weeks=2)
    with pytest.raises(TrainingDataError, match="positive"):
        time_split(toy, until=UNTIL, test_weeks=0)


def test_only_unusable_test_pairs():
    frames = toy_frames()
    ev = frames["events"]
    late = pd.to_datetime(ev["occurred_at"]) >= CUTOFF
    keep = ~late | ev["vacancy_id"].eq("v4")  # only outcomes on a vacancy posted later
    frames["events"] = ev[keep]
    with pytest.raises(TrainingDataError, match="none is on a vacancy open at the cutoff"):
        time_split(build(frames), until=UNTIL, test_weeks=2)


def test_sampled_evaluation_workers_are_reproducible(toy):
    full = time_split(toy, until=UNTIL, test_weeks=2)
    a = time_split(toy, until=UNTIL, test_weeks=2, max_workers=2, sample_seed=1)
    b = time_split(toy, until=UNTIL, test_weeks=2, max_workers=2, sample_seed=1)
    assert len(a.test_workers) == 2 and list(a.test_workers.sort_values()) == list(
        b.test_workers.sort_values()
    )
    assert set(a.test["worker_id"]) == set(a.test_workers)
    assert set(a.test_workers) <= set(full.test_workers)
    assert a.dropped["workers_not_sampled"] == 2
    assert a.identity() != full.identity()  # a sampled split is a different split
    # below the cap nothing changes
    assert time_split(toy, until=UNTIL, test_weeks=2, max_workers=10).test.equals(full.test)
