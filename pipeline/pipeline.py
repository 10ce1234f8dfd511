"""The IMDB LSTM pipeline: one `create_pipeline` that reads like the DAG.

ImdbExampleGen -> StatisticsGen -> ExampleValidator (curated schema) -> AnomaliesGate ->
Transform -> Trainer -> Evaluator (vs. the last blessed model) -> Pusher -> EvaluationReport;
with pretraining, UnlabelledImdbExampleGen (+ the labelled training reviews) -> Pretrainer (a
language model, on Transform's vocabulary) -> the Trainer's base model; or, given an earlier
Pretrainer's model, PretrainedModelImporter -> the Trainer's base model.
"""
import json
import os

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx
from tfx.proto import transform_pb2
from tfx.types import artifact_utils, channel_utils
from tfx.utils import path_utils

from components.anomalies_gate import AnomaliesGate
from components.data_source import remote_archive, resolve
from components.evaluation_report import EvaluationReport
from components.imdb_example_gen import ImdbExampleGen, UnlabelledImdbExampleGen
from components.pusher import VersionedPusher
from pipeline.config import PipelineConfig
from pipeline.version import code_version
from trainer import config as trainer_config

_TRAINER_DIR = os.path.dirname(trainer_config.__file__)
TRAINER_MODULE_FILE = os.path.join(_TRAINER_DIR, "tfx_module.py")
PRETRAINER_MODULE_FILE = os.path.join(_TRAINER_DIR, "tfx_pretrainer_module.py")
# The same functions by module path, for images that have this project installed.
PREPROCESSING_FN = "trainer.preprocessing.preprocessing_fn"
RUN_FN = "trainer.tfx_module.run_fn"
PRETRAINER_RUN_FN = "trainer.tfx_pretrainer_module.run_fn"
PRETRAINER_ID = "Pretrainer"
PRETRAINED_MODEL_IMPORTER_ID = "PretrainedModelImporter"
# Unlabelled reviews held out to measure the language model's perplexity: 1,000 of IMDB's 50,000.
PRETRAINING_HOLDOUT_PERCENT = 2
DATA_ROOT_PARAMETER = "data_root"
DECISION_THRESHOLD = 0.5
BASELINE_RESOLVER_ID = "latest_blessed_model_resolver"


def check_pretrained_model(model_dir: str) -> None:
    """Fails before anything runs unless `model_dir` holds a Pretrainer's output."""
    for name in (trainer_config.PRETRAINED_ENCODER_FILE, trainer_config.PRETRAINED_VOCABULARY_FILE):
        path = os.path.join(path_utils.serving_model_dir(model_dir), name)
        if not os.path.isfile(path):
            raise ValueError(f"pretrained_model {model_dir}: no {path}; expected the model "
                             f"directory of a Pretrainer run, e.g. <output_dir>/pipelines/<name>/"
                             f"{PRETRAINER_ID}/model/<id>")


def eval_config(config: PipelineConfig) -> tfma.EvalConfig:
    def lower_bound(value: float) -> tfma.GenericValueThreshold:
        return tfma.GenericValueThreshold(lower_bound={"value": value})

    def on_the_whole_test_split(threshold: tfma.MetricThreshold):
        # MetricConfig.threshold would apply to every slice: one rating could refuse a model.
        return [tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()],
                                             threshold=threshold)]

    accuracy_gate = on_the_whole_test_split(tfma.MetricThreshold(
        value_threshold=lower_bound(config.min_accuracy),
        # Ignored by TFMA when there is no blessed baseline yet (the first run).
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -config.max_accuracy_regression})))
    auc_gate = on_the_whole_test_split(tfma.MetricThreshold(
        value_threshold=lower_bound(config.min_auc)))
    metric = tfma.MetricConfig
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name="serving_default",
            label_key=trainer_config.LABEL_KEY,
            prediction_key=trainer_config.PREDICTION_KEY,
            # The export is a plain SavedModel; saying so spares TFMA reloading it as Keras.
            model_type=tfma.TF_GENERIC)],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[feature])
                                              for feature in trainer_config.EVAL_SLICE_KEYS],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            metric(class_name="ExampleCount"),
            metric(class_name="BinaryAccuracy", per_slice_thresholds=accuracy_gate),
            metric(class_name="AUC", per_slice_thresholds=auc_gate),
            metric(class_name="AUCPrecisionRecall"),
            metric(class_name="Precision"),
            metric(class_name="Recall"),
            metric(class_name="BinaryCrossEntropy"),
            metric(class_name="MeanLabel"),
            metric(class_name="MeanPrediction"),
            metric(class_name="Calibration"),
            metric(class_name="ConfusionMatrixAtThresholds",
                   config=json.dumps({"thresholds": [DECISION_THRESHOLD]})),
            metric(class_name="ConfusionMatrixPlot"),
            metric(class_name="CalibrationPlot"),
        ])],
    )


def create_pipeline(config: PipelineConfig, on_kubeflow: bool = False,
                    with_baseline: bool = True) -> tfx.dsl.Pipeline:
    """The DAG. `on_kubeflow`: the data is an archive URI the pods read (nothing is checked
    here), the project's code is in the image (user functions by module path), and ML Metadata
    is the cluster's. `with_baseline=False` drops the latest-blessed-model resolver, which
    open-source KFP cannot execute: the gate is then the lower bounds alone."""
    if on_kubeflow:
        source = remote_archive(config.data)
        # A runtime parameter, so each run on the cluster can read a newer copy of the data.
        input_base = tfx.dsl.experimental.RuntimeParameter(
            name=DATA_ROOT_PARAMETER, ptype=str, default=source.input_base)
        user_code = {"transform": {"preprocessing_fn": PREPROCESSING_FN},
                     "trainer": {"run_fn": RUN_FN},
                     "pretrainer": {"run_fn": PRETRAINER_RUN_FN}}
    else:
        source = resolve(config.data, config.download_cache_dir, config.data_sha256)
        input_base = source.input_base
        user_code = {"transform": {"module_file": TRAINER_MODULE_FILE},
                     "trainer": {"module_file": TRAINER_MODULE_FILE},
                     "pretrainer": {"module_file": PRETRAINER_MODULE_FILE}}

    example_gen = ImdbExampleGen(input_base=input_base, source_pattern=source.pattern,
                                 holdout_percent=config.holdout_percent)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema_path)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    anomalies_gate = AnomaliesGate(anomalies=example_validator.outputs["anomalies"])

    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        splits_config=transform_pb2.SplitsConfig(analyze=["train"], transform=["train", "eval"]),
        custom_config=config.transform_custom_config(),
        **user_code["transform"])
    transform.add_upstream_node(anomalies_gate)

    unlabelled_gen = pretrainer = pretrained_model = base_model = None
    if config.pretrained_model:
        if not on_kubeflow:
            check_pretrained_model(config.pretrained_model)
        pretrained_model = tfx.dsl.Importer(
            source_uri=config.pretrained_model, artifact_type=tfx.types.standard_artifacts.Model,
            # Without it TFX takes the Model for one of TFX < 0.26 and hands the Trainer
            # serving_model_dir/ instead of Format-Serving/.
            custom_properties={artifact_utils.ARTIFACT_TFX_VERSION_CUSTOM_PROPERTY_KEY:
                               tfx.__version__},
        ).with_id(PRETRAINED_MODEL_IMPORTER_ID)
        base_model = pretrained_model.outputs["result"]
    elif config.trainer.pretrain_epochs:
        if config.unlabelled_data is None:
            unlabelled_base, unlabelled_pattern = input_base, source.pattern
        else:
            unlabelled = (remote_archive(config.unlabelled_data) if on_kubeflow else
                          resolve(config.unlabelled_data, config.download_cache_dir,
                                  unlabelled=True))
            unlabelled_base, unlabelled_pattern = unlabelled.input_base, unlabelled.pattern
        unlabelled_gen = UnlabelledImdbExampleGen(
            input_base=unlabelled_base, source_pattern=unlabelled_pattern,
            holdout_percent=PRETRAINING_HOLDOUT_PERCENT)
        # The language model reads every review it may: the unlabelled ones and the labelled
        # training reviews (their train and eval splits; never the test split). TFX's KFP v2
        # compiler takes one channel per input ("Only single Channel is supported"), so on
        # Kubeflow it reads the unlabelled ones only.
        pretraining_examples = unlabelled_gen.outputs["examples"] if on_kubeflow else \
            channel_utils.union([unlabelled_gen.outputs["examples"],
                                 example_gen.outputs["examples"]])
        pretrainer = tfx.components.Trainer(
            examples=pretraining_examples,
            transform_graph=transform.outputs["transform_graph"],
            train_args=tfx.proto.TrainArgs(splits=["train"]),
            eval_args=tfx.proto.EvalArgs(splits=["eval"]),
            custom_config=config.pretrainer_custom_config(),
            **user_code["pretrainer"]).with_id(PRETRAINER_ID)
        base_model = pretrainer.outputs["model"]

    trainer = tfx.components.Trainer(
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        base_model=base_model,
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]),
        custom_config=config.trainer_custom_config(),
        **user_code["trainer"])

    baseline_resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id(BASELINE_RESOLVER_ID) if with_baseline else None
    baseline_model = baseline_resolver.outputs["model"] if baseline_resolver else None

    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        example_splits=["test"],
        model=trainer.outputs["model"],
        baseline_model=baseline_model,
        eval_config=eval_config(config))

    pusher = VersionedPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_dir)))

    report = EvaluationReport(
        pipeline_config=config.to_dict(), code_version=code_version(), data_source=config.data,
        statistics=statistics_gen.outputs["statistics"],
        anomalies=example_validator.outputs["anomalies"],
        transform_graph=transform.outputs["transform_graph"],
        transformed_examples=transform.outputs["transformed_examples"],
        model=trainer.outputs["model"],
        model_run=trainer.outputs["model_run"],
        evaluation=evaluator.outputs["evaluation"],
        blessing=evaluator.outputs["blessing"],
        baseline_model=baseline_model,
        pushed_model=pusher.outputs["pushed_model"])

    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=[node for node in (
            example_gen, statistics_gen, schema_gen, example_validator, anomalies_gate,
            transform, unlabelled_gen, pretrainer, pretrained_model, trainer, baseline_resolver,
            evaluator, pusher, report) if node],
        enable_cache=config.enable_cache,
        metadata_connection_config=None if on_kubeflow else
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path),
        beam_pipeline_args=config.beam_pipeline_args,
    )
