"""SpanEvaluator's one blessing (components/span_evaluator.py): each evaluation's verdict is taken
out of the blessing before the next, and the one written last says BLESSED only if both passed."""
import os

from tfx.types import standard_artifacts

from components import span_evaluator


def _blessing(tmp_path):
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    return blessing


def _files(blessing):
    return sorted(os.listdir(blessing.uri))


def test_each_verdict_is_taken_out_before_the_next_evaluation(tmp_path):
    blessing = _blessing(tmp_path)
    span_evaluator.write_verdict(blessing, False)
    assert _files(blessing) == ["NOT_BLESSED"]
    assert span_evaluator._take_verdict(blessing) is False and _files(blessing) == []
    span_evaluator.write_verdict(blessing, True)
    assert span_evaluator._take_verdict(blessing) is True and _files(blessing) == []
    # An evaluation without thresholds writes neither file: nothing it could refuse.
    assert span_evaluator._take_verdict(blessing) is None


def test_the_blessing_is_written_as_tfx_evaluator_writes_it(tmp_path):
    for blessed, name in ((True, "BLESSED"), (False, "NOT_BLESSED")):
        blessing = _blessing(tmp_path / name)
        span_evaluator.write_verdict(blessing, blessed)
        assert _files(blessing) == [name]
        assert blessing.get_int_custom_property("blessed") == int(blessed)
