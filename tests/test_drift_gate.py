"""DriftGate's executor on its own: what it writes, where KFP's launcher leaves it to."""
import json
import os

from tfx.types import standard_artifacts

from components.drift_gate import DRIFT_FILE, DriftGate, SpanDrift, verdict

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
