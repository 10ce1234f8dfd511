"""The optional Tuner (`--tune-trials N`): a KerasTuner random search in the pipeline, whose
best hyperparameters reach the Trainer, read back from ML Metadata and the exported model."""
import json
import os

import keras_tuner
import pytest

from pipeline_runs import FAST_TRAINING, NO_VALUE_GATES, imdb_lstm, latest

pytestmark = pytest.mark.e2e


def test_the_tuner_searches_on_eval_and_the_trainer_trains_with_the_best(data, tmp_path):
    output_dir = str(tmp_path / "out")
    process = imdb_lstm("--data", data, "--output-dir", output_dir, *FAST_TRAINING,
                        *NO_VALUE_GATES, "--tune-trials", "3", "--tune-steps", "3",
                        "--tune-epochs", "1")
    assert process.returncode == 0, process.stderr
    run = latest(output_dir)
    assert run.component_states["Tuner"] == "COMPLETE"
    with open(os.path.join(run.output_uris["best_hyperparameters"],
                           "best_hyperparameters.txt")) as f:
        best = keras_tuner.HyperParameters.from_config(json.load(f)).values
    with open(os.path.join(run.output_uris["tuner_results"], "tuner_results.json")) as f:
        trials = json.load(f)
    assert len(trials) == 3
    assert {name: trials[0][name] for name in best} == best  # the best-scored trial's values
    assert set(best) == {"learning_rate", "lstm_units", "dropout", "embedding_dropout"}
    with open(os.path.join(run.output_uris["model"], "Format-Serving", "assets.extra",
                           "trainer_config.json")) as f:
        trained_with = json.load(f)
    assert {name: trained_with[name] for name in best} == best
    assert "training with the Tuner's best hyperparameters" in process.stderr
