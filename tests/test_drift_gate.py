"""DriftGate on its own: its distances on constructed spans with known answers, each bound
tripping alone, and what its executor writes, where KFP's launcher leaves it to."""
import json
import os

import pytest
from tfx.types import standard_artifacts

from components.drift_gate import DRIFT_FILE, DriftGate, SpanDrift, distances, verdict

BOUNDS = dict(max_label_balance=0.1, max_rating=0.1, max_review_length=0.1, max_vocabulary=0.05)


def test_the_first_span_passes_and_the_verdict_lands_in_a_directory_not_made_yet(tmp_path):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    os.makedirs(tmp_path / "examples" / "Split-span")  # span 1: no previous span to drift from
    drift = SpanDrift()
    drift.uri = str(tmp_path / "run" / "DriftGate" / "drift")  # as KFP's launcher leaves it
    DriftGate.test_call(examples=examples, drift=drift, vocabulary_size=100, **BOUNDS)
    with open(os.path.join(drift.uri, DRIFT_FILE)) as f:
        assert json.load(f) == {"distances": None, "drifted": [],
                                "bounds": {"label_balance": 0.1, "rating": 0.1,
                                           "review_length": 0.1, "vocabulary": 0.05}}


def test_the_verdict_names_each_distance_over_its_bound():
    bounds = {"label_balance": 0.1, "rating": 0.1}
    assert verdict({"label_balance": 0.3, "rating": 0.05}, bounds) == [
        "label_balance: 0.300 > 0.100"]
    assert verdict(None, bounds) == []


def review(text: str, rating: int, bucket: str = "0-99") -> dict:
    """A review as DriftGate reads it from a span's examples."""
    return {"review": text.encode(), "rating": rating, "label": int(rating >= 7),
            "review_length_bucket": bucket.encode()}


# Ten reviews: five positive (ratings 7-10, 10), five negative (1-4, 1), all short, words a-e.
PREVIOUS = [review("a b c d", rating) for rating in (7, 8, 9, 10, 10, 1, 2, 3, 4, 1)]


def test_identical_spans_are_at_distance_zero():
    assert distances(PREVIOUS, PREVIOUS, vocabulary_size=10) == {
        "label_balance": 0.0, "rating": 0.0, "review_length": 0.0, "vocabulary": 0.0}


@pytest.mark.parametrize("newest, feature, expected", [
    # Two negatives turned positive: 7/10 positive against 5/10, while no rating's share moves
    # by more than 0.1 (1 -> 9, 2 -> 10: at the rating bound, not over it).
    ([review("a b c d", r) for r in (7, 8, 9, 10, 10, 9, 10, 3, 4, 1)], "label_balance", 0.2),
    # The same labels, other ratings: 10 -> 7 twice (7: 1/10 -> 3/10) and 1 -> 4 once.
    ([review("a b c d", r) for r in (7, 8, 9, 7, 7, 1, 2, 3, 4, 4)], "rating", 0.2),
    # Three reviews long: the share of "0-99" falls from 1.0 to 0.7.
    ([review("a b c d", r, "100-199" if i < 3 else "0-99") for i, r in
      enumerate((7, 8, 9, 10, 10, 1, 2, 3, 4, 1))], "review_length", 0.3),
    # Half the words of every review new: OOV rate 0.5 against the previous span's 0.
    ([review("a b x y", r) for r in (7, 8, 9, 10, 10, 1, 2, 3, 4, 1)], "vocabulary", 0.5),
])
def test_each_distance_trips_its_bound_alone(newest, feature, expected):
    found = distances(newest, PREVIOUS, vocabulary_size=10)
    assert found[feature] == pytest.approx(expected)
    bounds = {"label_balance": 0.1, "rating": 0.1, "review_length": 0.1, "vocabulary": 0.05}
    assert verdict(found, bounds) == [f"{feature}: {expected:.3f} > {bounds[feature]:.3f}"]


def test_the_vocabulary_distance_counts_words_outside_the_previous_spans_top_words():
    previous = [review("a a a b b c", 8), review("a b d", 2)]  # top 2 words: a, b
    newest = [review("a b c d", 8)]  # c and d fall outside: 2 of 4 words, against 2 of 9
    assert distances(newest, previous, vocabulary_size=2)["vocabulary"] == pytest.approx(
        2 / 4 - 2 / 9)
