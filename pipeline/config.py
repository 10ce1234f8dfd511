"""PipelineConfig: the one object that flows from the CLI / a YAML file / the environment into
`create_pipeline`, and (its `trainer` part) through `custom_config` into Transform and Trainer.

Precedence, lowest first: defaults, YAML file (its `per_variant` section for the chosen variant
over its `trainer` section), IMDB_LSTM_* environment variables, CLI flags.
Environment variables exist for the `tfx` CLI, which runs cli/tfx_cli_pipeline.py with no
arguments: IMDB_LSTM_DATA, IMDB_LSTM_OUTPUT_DIR, IMDB_LSTM_TRAINER_EPOCHS, ... (values in YAML
syntax), and IMDB_LSTM_CONFIG names a YAML file.
"""
import dataclasses
import os
from typing import Any, Dict, List, Mapping, Optional

import yaml

from trainer import typed_fields
from trainer.config import (CUSTOM_CONFIG_KEY, PRETRAINING_SETTINGS, TRANSFORM_SETTINGS,
                            TUNING_KEY, WARM_START_KEY, TrainerConfig)

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV_PREFIX = "IMDB_LSTM_"
CONFIG_FILE_ENV = ENV_PREFIX + "CONFIG"
# A YAML file's trainer settings for one variant only: {variant: {setting: value}}.
PER_VARIANT_KEY = "per_variant"
STANFORD_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "imdb-lstm-tfx")


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    pipeline_name: str = "imdb-lstm"
    # A directory in the aclImdb layout, a .tar.gz of it, or an http(s) URL of such an archive.
    data: str = STANFORD_URL
    data_sha256: Optional[str] = None
    # Unlabelled reviews for pretraining (trainer.pretrain_epochs > 0): the train/unsup folder of
    # a directory, .tar.gz or URL in the aclImdb layout. None: those of `data` (the Stanford
    # archive has them).
    unlabelled_data: Optional[str] = None
    # Instead of pretraining in this run (trainer.pretrain_epochs): the model directory of an
    # earlier run's Pretrainer (<output_dir>/pipelines/<name>/Pretrainer/model/<id>), whose
    # embedding the Trainer then starts from: pretraining takes over an hour on 2 CPUs, and TFX's
    # cache reuses a Pretrainer only for the same seed (a Pretrainer setting) and while the data
    # files' mtimes stay the same (part of ExampleGen's input fingerprint).
    pretrained_model: Optional[str] = None
    # Continuous training (README, "Continuous training"): a landing location of review spans
    # (components/spans.py). Set, the pipeline reads the window of `window` spans ending at `span`
    # (0: the newest complete one) instead of `data`, and gates on the newest span's held-out
    # reviews (components/span_example_gen.py) and on `eval_data`'s official test reviews (an
    # aclImdb source like `data`; None: those held-out reviews again).
    landing: Optional[str] = None
    span: int = 0
    window: int = 3
    eval_data: Optional[str] = None
    # Bounds of the drift gate between a run's newest span and the one before
    # (components/drift_gate.py): share of positives, L-infinity of the rating and length-bucket
    # distributions, and the rise of the OOV rate against the previous span's vocabulary.
    max_drift_label_balance: float = 0.1
    max_drift_rating: float = 0.1
    max_drift_review_length: float = 0.1
    max_drift_vocabulary: float = 0.05
    # On spans, the Trainer starts from the weights of the model serving now, if there is one.
    warm_start: bool = True
    # How often `imdb-lstm watch` looks for newly complete spans.
    poll_seconds: float = 30.0
    # The Beam streaming jobs (streaming/): `stream ingest` cuts the feed into fixed event-time
    # windows of stream_window_seconds and writes each as a span once the clock has passed its
    # end plus stream_allowed_lateness_seconds; `score` looks for a newer serving model every
    # model_poll_seconds.
    stream_window_seconds: float = 300.0
    stream_allowed_lateness_seconds: float = 60.0
    model_poll_seconds: float = 10.0
    # Everything the pipeline writes goes under here, outside the source tree.
    output_dir: str = os.path.join(os.path.expanduser("~"), "imdb-lstm-tfx")
    download_cache_dir: str = DEFAULT_CACHE_DIR
    schema_path: str = os.path.join(PROJECT_ROOT, "schemas", "schema.pbtxt")
    holdout_percent: int = 10
    # Gates on the official test split: the candidate's accuracy and ROC AUC must reach these
    # bounds, and its accuracy may not fall more than max_accuracy_regression below the last
    # blessed model's.
    min_accuracy: float = 0.85
    min_auc: float = 0.90
    max_accuracy_regression: float = 0.01
    # On spans, the same for the newest span's held-out reviews (a few hundred: noisier).
    max_span_accuracy_regression: float = 0.01
    # Hyperparameter search before training (a TFX Tuner: KerasTuner's random search,
    # trainer/tuning.py): tune_trials trials, each tune_epochs epochs of tune_steps batches of
    # train, scored on eval; the Trainer then trains with the best. 0: no search.
    tune_trials: int = 0
    tune_steps: int = 100
    tune_epochs: int = 2
    enable_cache: bool = True
    # FnApiRunner is what Beam's default runner falls back to after trying to download Prism.
    beam_pipeline_args: List[str] = dataclasses.field(
        default_factory=lambda: ["--runner=FnApiRunner", "--direct_num_workers=1"])
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)

    def __post_init__(self):
        typed_fields.check(self)
        for name in ("output_dir", "download_cache_dir"):
            _check_can_be_directory(name, getattr(self, name))
        if not 0 < self.holdout_percent < 100:
            raise ValueError(f"holdout_percent must be in 1..99, got {self.holdout_percent}")
        for name in ("min_accuracy", "min_auc"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("max_accuracy_regression", "max_span_accuracy_regression"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.landing and self.holdout_percent > 50:
            raise ValueError("holdout_percent must be at most 50 on spans: the newest span holds "
                             f"out twice as many (eval and span_holdout), got "
                             f"{self.holdout_percent}")
        if self.span < 0 or self.window < 1 or self.poll_seconds <= 0:
            raise ValueError(f"span must be >= 0 (0: the newest), window >= 1 and poll_seconds "
                             f"> 0; got {self.span}, {self.window}, {self.poll_seconds}")
        if (self.stream_window_seconds <= 0 or self.stream_allowed_lateness_seconds < 0
                or self.model_poll_seconds <= 0):
            raise ValueError("stream_window_seconds and model_poll_seconds must be > 0 and "
                             "stream_allowed_lateness_seconds >= 0; got "
                             f"{self.stream_window_seconds}, {self.model_poll_seconds}, "
                             f"{self.stream_allowed_lateness_seconds}")
        if self.landing and self.trainer.pretrain_epochs and not self.unlabelled_data:
            raise ValueError("pretraining on spans needs unlabelled_data: spans hold rated "
                             "reviews only")
        if self.tune_trials < 0 or self.tune_steps < 1 or self.tune_epochs < 1:
            raise ValueError(f"tune_trials must be >= 0 (0: no search), tune_steps and "
                             f"tune_epochs >= 1; got {self.tune_trials}, {self.tune_steps}, "
                             f"{self.tune_epochs}")
        if self.pretrained_model and self.trainer.pretrain_epochs:
            raise ValueError("pretrained_model and trainer.pretrain_epochs exclude each other: "
                             "start from an earlier Pretrainer's model, or pretrain in this run")

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output_dir, "pipelines", self.pipeline_name)

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output_dir, "metadata", self.pipeline_name, "metadata.db")

    @property
    def serving_dir(self) -> str:
        return os.path.join(self.output_dir, "serving", self.pipeline_name)

    @property
    def log_dir(self) -> str:
        return os.path.join(self.output_dir, "logs", self.pipeline_name)

    def trainer_custom_config(self) -> Dict[str, Any]:
        custom_config = {CUSTOM_CONFIG_KEY: self.trainer.to_dict()}
        if self.landing and self.warm_start:
            custom_config[WARM_START_KEY] = self.serving_dir
        return custom_config

    def tuner_custom_config(self) -> Dict[str, Any]:
        return {CUSTOM_CONFIG_KEY: self.trainer.to_dict(),
                TUNING_KEY: {"trials": self.tune_trials, "epochs": self.tune_epochs}}

    def transform_custom_config(self) -> Dict[str, Any]:
        return self._trainer_settings(TRANSFORM_SETTINGS)

    def pretrainer_custom_config(self) -> Dict[str, Any]:
        return self._trainer_settings(PRETRAINING_SETTINGS)

    def _trainer_settings(self, names) -> Dict[str, Any]:
        trainer = self.trainer.to_dict()
        return {CUSTOM_CONFIG_KEY: {name: trainer[name] for name in names}}

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "PipelineConfig":
        if not isinstance(values, Mapping):
            raise ValueError(f"expected a mapping of settings at the top level, got {values!r}")
        values = dict(values)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; known: {sorted(known)}")
        trainer = TrainerConfig.from_dict(values.pop("trainer", None) or {})
        return cls(trainer=trainer, **values)


def _check_can_be_directory(name: str, path: str) -> None:
    """A local path under a regular file can never be a directory: say so now, not mid-run."""
    if "://" in path:
        return
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"{name}: {path} cannot be a directory: {parent} is a file")


def _merge(base: Dict[str, Any], overrides: Mapping[str, Any]) -> Dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _environment_overrides(environ: Mapping[str, str]) -> Dict[str, Any]:
    overrides: Dict[str, Any] = {}
    trainer_fields = {f.name for f in dataclasses.fields(TrainerConfig)}
    for field in dataclasses.fields(PipelineConfig):
        if field.name == "trainer":
            continue
        name = ENV_PREFIX + field.name.upper()
        if name in environ:
            overrides[field.name] = yaml.safe_load(environ[name])
    for field in trainer_fields:
        name = f"{ENV_PREFIX}TRAINER_{field.upper()}"
        if name in environ:
            overrides.setdefault("trainer", {})[field] = yaml.safe_load(environ[name])
    return overrides


def _read_yaml(config_file: str) -> Dict[str, Any]:
    try:
        with open(config_file) as f:
            values = yaml.safe_load(f)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        raise ValueError(f"{config_file}: not valid YAML at line {mark.line + 1}, column "
                         f"{mark.column + 1}: {e.problem}") from e
    except yaml.YAMLError as e:
        raise ValueError(f"{config_file}: not valid YAML: {e}") from e
    if values is not None and not isinstance(values, dict):
        raise ValueError(f"{config_file}: expected a mapping of settings at the top level, got "
                         f"a {type(values).__name__}")
    return values or {}


def load(config_file: Optional[str] = None, overrides: Optional[Mapping[str, Any]] = None,
         environ: Mapping[str, str] = os.environ) -> PipelineConfig:
    """Resolves the config; `overrides` (e.g. from CLI flags) nest trainer settings under
    'trainer'. A file's settings are checked on their own first, so an error names the file."""
    file_values: Dict[str, Any] = {}
    config_file = config_file or environ.get(CONFIG_FILE_ENV)
    if config_file:
        file_values = _read_yaml(config_file)
    try:
        per_variant = _per_variant_settings(file_values.pop(PER_VARIANT_KEY, None) or {})
        values = _merge(PipelineConfig().to_dict(), file_values)
        if config_file:
            PipelineConfig.from_dict(values)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{config_file}: {e}" if config_file else str(e)) from e
    environment_and_flags = _merge(_environment_overrides(environ), overrides or {})
    trainer = _merge(values, environment_and_flags)["trainer"]
    # Not a mapping: from_dict below says so.
    variant = trainer.get("variant") if isinstance(trainer, Mapping) else None
    values = _merge(values, {"trainer": per_variant.get(variant, {})})
    return PipelineConfig.from_dict(_merge(values, environment_and_flags))


def _per_variant_settings(per_variant: Mapping[str, Any]) -> Mapping[str, Any]:
    """Checks every variant's settings by name and value, whichever variant runs."""
    for variant, settings in per_variant.items():
        try:
            TrainerConfig.from_dict({**(settings or {}), "variant": variant})
        except ValueError as e:
            raise ValueError(f"{PER_VARIANT_KEY}.{variant}: {e}") from e
    return {variant: settings or {} for variant, settings in per_variant.items()}
