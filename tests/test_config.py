"""One config object: defaults < YAML < IMDB_LSTM_* environment < CLI flags."""
import pytest

from cli import arguments, main
from pipeline import config as pipeline_config
from trainer.config import CUSTOM_CONFIG_KEY, WARM_START_KEY, TrainerConfig


def test_precedence_defaults_yaml_environment_flags(tmp_path):
    yaml_file = tmp_path / "settings.yaml"
    yaml_file.write_text("data: /from/yaml\nmin_accuracy: 0.7\n"
                         "trainer:\n  epochs: 3\n  lstm_units: 16\n  batch_size: 32\n")
    environ = {"IMDB_LSTM_MIN_ACCURACY": "0.75", "IMDB_LSTM_TRAINER_EPOCHS": "4"}
    args = arguments.build_parser().parse_args(["run", "--epochs", "6", "--output-dir", "/out"])
    config = pipeline_config.load(str(yaml_file), arguments.overrides_from_args(args), environ)
    assert config.data == "/from/yaml"
    assert config.min_accuracy == 0.75
    assert config.output_dir == "/out"
    assert config.trainer.epochs == 6
    assert config.trainer.lstm_units == 16 and config.trainer.batch_size == 32
    assert config.trainer.embedding_dim == TrainerConfig().embedding_dim


@pytest.mark.parametrize("args, environ, variant, learning_rate", [
    ([], {}, "basic", 0.0005),
    (["--variant", "attention"], {}, "attention", 0.001),
    ([], {"IMDB_LSTM_TRAINER_VARIANT": "attention"}, "attention", 0.001),
    (["--variant", "attention", "--learning-rate", "0.01"], {}, "attention", 0.01),
])
def test_per_variant_settings_apply_to_the_chosen_variant_only(tmp_path, args, environ, variant,
                                                                learning_rate):
    yaml_file = tmp_path / "settings.yaml"
    yaml_file.write_text("trainer:\n  learning_rate: 0.0005\n  epochs: 3\n"
                         "per_variant:\n  attention:\n    learning_rate: 0.001\n")
    parsed = arguments.build_parser().parse_args(["run"] + args)
    config = pipeline_config.load(str(yaml_file), arguments.overrides_from_args(parsed), environ)
    assert config.trainer.variant == variant
    assert config.trainer.learning_rate == learning_rate
    assert config.trainer.epochs == 3


@pytest.mark.parametrize("per_variant, message", [
    ("transformer:\n    epochs: 2", r"per_variant.transformer: trainer.variant must be one of"),
    ("attention:\n    epoch: 2", r"per_variant.attention: unknown trainer setting\(s\) \['epoch'\]"),
    ("stacked:\n    dropout: 2", r"per_variant.stacked: trainer.dropout must be in"),
])
def test_per_variant_settings_are_checked_whichever_variant_runs(tmp_path, per_variant, message):
    yaml_file = tmp_path / "settings.yaml"
    yaml_file.write_text(f"per_variant:\n  {per_variant}\n")
    with pytest.raises(ValueError, match=message):
        pipeline_config.load(str(yaml_file), environ={})


@pytest.mark.parametrize("flag, expected", [("0.5", 0.5), ("none", None)])
def test_optional_numeric_flag(flag, expected):
    args = arguments.build_parser().parse_args(["run", "--clipnorm", flag])
    config = pipeline_config.load(overrides=arguments.overrides_from_args(args), environ={})
    assert config.trainer.clipnorm == expected


@pytest.mark.parametrize("flag, expected", [("false", False), ("No", False), ("true", True)])
def test_boolean_flag(flag, expected):
    args = arguments.build_parser().parse_args(["run", "--calibrate-threshold", flag])
    config = pipeline_config.load(overrides=arguments.overrides_from_args(args), environ={})
    assert config.trainer.calibrate_threshold is expected


def test_config_file_from_environment(tmp_path):
    yaml_file = tmp_path / "settings.yaml"
    yaml_file.write_text("pipeline_name: from-env-file\n")
    config = pipeline_config.load(environ={"IMDB_LSTM_CONFIG": str(yaml_file)})
    assert config.pipeline_name == "from-env-file"


def test_trainer_settings_travel_through_custom_config():
    config = pipeline_config.load(overrides={"trainer": {
        "epochs": 2, "sequence_length": 50, "learning_rate": 0.0005}}, environ={})
    custom_config = config.trainer_custom_config()
    assert TrainerConfig.from_custom_config(custom_config) == config.trainer
    assert custom_config[CUSTOM_CONFIG_KEY]["epochs"] == 2
    # Transform sees only what preprocessing reads, so its cache survives training changes.
    transform_config = TrainerConfig.from_custom_config(config.transform_custom_config())
    assert transform_config.sequence_length == config.trainer.sequence_length
    assert "epochs" not in config.transform_custom_config()[CUSTOM_CONFIG_KEY]
    # Nor does the Pretrainer see the classifier's settings: another variant reuses its model.
    pretraining = config.pretrainer_custom_config()[CUSTOM_CONFIG_KEY]
    assert TrainerConfig.from_dict(pretraining).sequence_length == 50
    assert not {"variant", "epochs", "dropout", "learning_rate"} & set(pretraining)
    assert pretraining["pretrain_learning_rate"] == TrainerConfig().pretrain_learning_rate


@pytest.mark.parametrize("flags, starts_from_serving", [
    ([], True), (["--warm-start", "false"], False)])
def test_watch_hands_the_trainer_its_serving_model_unless_told_not_to(tmp_path, flags,
                                                                      starts_from_serving):
    args = arguments.build_parser().parse_args(
        ["watch", "--landing", str(tmp_path), "--output-dir", str(tmp_path / "out"), *flags])
    config = pipeline_config.load(overrides=arguments.overrides_from_args(args), environ={})
    custom_config = config.trainer_custom_config()
    assert (custom_config.get(WARM_START_KEY) == config.serving_dir) is starts_from_serving
    assert (WARM_START_KEY in custom_config) is starts_from_serving


def test_outputs_default_outside_the_source_tree():
    config = pipeline_config.load(environ={})
    assert not config.output_dir.startswith(pipeline_config.PROJECT_ROOT)
    for path in (config.pipeline_root, config.metadata_path, config.serving_dir):
        assert path.startswith(config.output_dir)


@pytest.mark.parametrize("overrides, message", [
    ({"epochs_typo": 3}, "unknown setting"),
    ({"trainer": {"lstm_unit": 3}}, "unknown trainer setting"),
    ({"trainer": {"dropout": 1.5}}, "dropout must be in"),
    ({"trainer": {"embedding_dropout": -0.1}}, r"embedding_dropout must be in \[0, 1\)"),
    ({"holdout_percent": 0}, "holdout_percent"),
    ({"min_auc": 1.01}, r"min_auc must be in \[0, 1\]"),
    ({"trainer": {"variant": "transformer"}}, r"variant must be one of \['attention', 'basic'"),
    ({"trainer": {"strategy": "gpu"}}, "strategy must be one of"),
    ({"trainer": {"pretrain_epochs": -1}}, "pretrain_epochs must be >= 0"),
    ({"trainer": {"pretrain_learning_rate": 0}}, "pretrain_learning_rate must be > 0"),
    ({"pretrained_model": "/runs/Pretrainer/model/9", "trainer": {"pretrain_epochs": 2}},
     "pretrained_model and trainer.pretrain_epochs exclude each other"),
    ({"trainer": {"shuffle_buffer": 0}}, "shuffle_buffer must be >= 1"),
    ({"trainer": {"early_stopping_metric": "auc"}}, "early_stopping_metric must be one of"),
    ({"trainer": {"calibrate_threshold": "off"}},
     "^trainer.calibrate_threshold: expected true or false, got 'off'$"),
    ({"trainer": {"batch_size": "five"}}, "^trainer.batch_size: expected an integer, got 'five'$"),
    ({"trainer": {"batch_size": 2.5}}, "^trainer.batch_size: expected an integer, got 2.5$"),
    ({"trainer": {"learning_rate": float("nan")}},
     "^trainer.learning_rate: expected a finite number, got nan$"),
    ({"trainer": {"clipnorm": "high"}},
     "^trainer.clipnorm: expected a finite number or null, got 'high'$"),
    ({"min_auc": float("inf")}, "^min_auc: expected a finite number, got inf$"),
    ({"beam_pipeline_args": "--runner=DirectRunner"},
     "^beam_pipeline_args: expected a list of text, got '--runner=DirectRunner'$"),
    ({"trainer": [1, 2]}, r"^trainer: expected a mapping of settings, got \[1, 2\]$"),
    ({"trainer": {"weight_averaging": 1.0}}, r"weight_averaging must be in \(0, 1\) or null"),
])
def test_bad_settings_are_rejected_by_name(overrides, message):
    with pytest.raises(ValueError, match=message):
        pipeline_config.load(overrides=overrides, environ={})


def test_cli_rejects_a_bad_setting_without_running(capsys):
    assert main.main(["run", "--dropout", "2"]) == 2
    assert "dropout must be in [0, 1)" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("trainer:\n  batch_size: [1\n", "not valid YAML at line 3, column 1: expected ',' or ']'"),
    ("- a\n- b\n", "expected a mapping of settings at the top level, got a list"),
    ("trainer:\n  batch_size: five\n", "trainer.batch_size: expected an integer, got 'five'"),
])
def test_a_bad_config_file_is_one_sentence_naming_the_file(tmp_path, text, message):
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        pipeline_config.load(str(path), environ={})
    assert str(error.value).startswith(f"{path}: {message}")


def test_an_output_dir_under_a_file_is_refused_before_anything_runs(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ValueError, match=f"^output_dir: {tmp_path}/a-file/runs cannot be a "
                                         f"directory: {tmp_path}/a-file is a file$"):
        pipeline_config.load(overrides={"output_dir": str(tmp_path / "a-file" / "runs")},
                             environ={})
