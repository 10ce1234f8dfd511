"""The IMDB LSTM pipeline: `create_pipeline` reads like the DAG.

    data and validation   ImdbExampleGen (or SpanExampleGen: a window of review spans)
                          -> StatisticsGen -> ExampleValidator (curated schema) -> AnomaliesGate
    Transform             vocabulary on train, token ids for train and eval
    Tuner, optional       a random search of the variant's hyperparameters, scored on eval
    base model, optional  UnlabelledImdbExampleGen -> Pretrainer (a language model), or
                          PretrainedModelImporter (an earlier Pretrainer's model)
    Trainer               the configured LSTM variant, from the base model's embedding if any
    evaluation and push   Evaluator (test split, against the last blessed model) -> Pusher;
                          on spans SpanEvaluator, which also judges both on the newest
                          span's held-out reviews
    report                SlicedEvaluator (the candidate per slice of the test split, once
                          the Pusher is done) -> EvaluationReport

What differs between platforms (where the data is, how user code is found, ML Metadata, which
nodes the orchestrator can run) is a `Platform`, resolved by each runner before the call:
pipeline/local_runner.py and kubeflow/runner.py.
"""
import dataclasses
import os
from typing import Dict, Optional, Union

from tfx import v1 as tfx
from tfx.proto import transform_pb2
from tfx.types import artifact_utils, channel_utils

from components.anomalies_gate import AnomaliesGate
from components.drift_gate import DriftGate
from components.evaluation_report import EvaluationReport
from components.imdb_example_gen import (TEST_SPLIT, ImdbExampleGen,
                                         UnlabelledImdbExampleGen)
from components.pusher import VersionedPusher
from components.sliced_evaluator import SlicedEvaluator
from components.span_evaluator import SpanEvaluator
from components.span_example_gen import SpanExampleGen
from pipeline.config import PipelineConfig
from pipeline.evaluation import eval_config, slice_eval_config, span_eval_config
from pipeline.version import code_version

_TRAINER_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "trainer")
PRETRAINER_ID = "Pretrainer"
PRETRAINED_MODEL_IMPORTER_ID = "PretrainedModelImporter"
BASELINE_RESOLVER_ID = "latest_blessed_model_resolver"
# Unlabelled reviews held out to measure the language model's perplexity: 1,000 of IMDB's 50,000.
PRETRAINING_HOLDOUT_PERCENT = 2

InputBase = Union[str, tfx.dsl.experimental.RuntimeParameter]


@dataclasses.dataclass(frozen=True)
class UserCode:
    """How Transform, the Tuner, the Trainer and the Pretrainer find the project's functions: each
    a dict of those components' arguments (`module_file`, or `preprocessing_fn` / `tuner_fn` /
    `run_fn`)."""
    transform: Dict[str, str]
    tuner: Dict[str, str]
    trainer: Dict[str, str]
    pretrainer: Dict[str, str]


# Locally: module files. TFX packages every .py file of trainer/ into a wheel whose version is a
# hash of their contents, so any change to the model code re-runs Transform and Trainer.
MODULE_FILES = UserCode(
    transform={"module_file": os.path.join(_TRAINER_DIR, "tfx_module.py")},
    tuner={"module_file": os.path.join(_TRAINER_DIR, "tfx_module.py")},
    trainer={"module_file": os.path.join(_TRAINER_DIR, "tfx_module.py")},
    pretrainer={"module_file": os.path.join(_TRAINER_DIR, "tfx_pretrainer_module.py")})
# In an image that has the project installed: module paths.
MODULE_PATHS = UserCode(
    transform={"preprocessing_fn": "trainer.preprocessing.preprocessing_fn"},
    tuner={"tuner_fn": "trainer.tfx_module.tuner_fn"},
    trainer={"run_fn": "trainer.tfx_module.run_fn"},
    pretrainer={"run_fn": "trainer.tfx_pretrainer_module.run_fn"})


@dataclasses.dataclass(frozen=True)
class ReviewSource:
    """Where an ExampleGen reads: a base directory (or a runtime parameter naming one) and the
    source pattern under it."""
    input_base: InputBase
    pattern: str


@dataclasses.dataclass(frozen=True)
class SpanSource:
    """Continuous training's input: a landing location of review spans, the newest span to read
    (0: the newest complete one; a runtime parameter on Kubeflow), and the fixed evaluation set
    (None: the newest span's held-out reviews)."""
    landing: str
    span: Union[int, tfx.dsl.experimental.RuntimeParameter]
    test: Optional[ReviewSource]


@dataclasses.dataclass(frozen=True)
class Platform:
    """What the runner resolved for where the pipeline runs."""
    labelled: Optional[ReviewSource]  # None when the pipeline reads spans
    unlabelled: Optional[ReviewSource]  # pretraining's reviews; None: the labelled source's
    user_code: UserCode
    # None: the orchestrator's own (Kubeflow).
    metadata_connection_config: Optional[object]
    # The latest-blessed-model resolver, which open-source KFP cannot execute; without it the
    # gate is the lower bounds alone.
    with_baseline: bool = True
    # The language model also reads the labelled training reviews. TFX's KFP v2 compiler takes
    # one channel per input ("Only single Channel is supported"), so on Kubeflow it cannot.
    pretrain_on_labelled_reviews: bool = True
    spans: Optional[SpanSource] = None


@dataclasses.dataclass
class DataNodes:
    example_gen: Union[ImdbExampleGen, SpanExampleGen]
    statistics_gen: tfx.components.StatisticsGen
    schema_gen: tfx.components.ImportSchemaGen
    example_validator: tfx.components.ExampleValidator
    anomalies_gate: AnomaliesGate
    drift_gate: Optional[DriftGate] = None  # on spans: the newest against the one before

    @property
    def gates(self) -> list:
        """What must pass before anything trains."""
        return [self.anomalies_gate] + ([self.drift_gate] if self.drift_gate else [])

    @property
    def nodes(self) -> list:
        return [self.example_gen, self.statistics_gen, self.schema_gen, self.example_validator,
                *self.gates]


def example_gen(config: PipelineConfig, platform: Platform):
    """The labelled reviews: a window of spans, or one aclImdb source."""
    if platform.spans:
        test = platform.spans.test
        return SpanExampleGen(
            landing=platform.spans.landing, span=platform.spans.span, window=config.window,
            holdout_percent=config.holdout_percent,
            test_data_base=test.input_base if test else None,
            test_data_pattern=test.pattern if test else None)
    return ImdbExampleGen(input_base=platform.labelled.input_base,
                          source_pattern=platform.labelled.pattern,
                          holdout_percent=config.holdout_percent)


def drift_gate(config: PipelineConfig, examples: tfx.dsl.Channel) -> DriftGate:
    return DriftGate(
        examples=examples,
        max_label_balance=config.max_drift_label_balance, max_rating=config.max_drift_rating,
        max_review_length=config.max_drift_review_length,
        max_vocabulary=config.max_drift_vocabulary, vocabulary_size=config.trainer.vocab_size)


def data_and_validation(config: PipelineConfig, platform: Platform) -> DataNodes:
    """Reviews in, statistics, checked against the curated schema; anomalies stop the run, and
    so, on spans, does drift from the previous span."""
    reviews = example_gen(config, platform)
    statistics_gen = tfx.components.StatisticsGen(examples=reviews.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema_path)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    anomalies_gate = AnomaliesGate(anomalies=example_validator.outputs["anomalies"])
    drift = drift_gate(config, reviews.outputs["examples"]) if platform.spans else None
    return DataNodes(reviews, statistics_gen, schema_gen, example_validator, anomalies_gate,
                     drift)


def transform(config: PipelineConfig, platform: Platform,
              data: DataNodes) -> tfx.components.Transform:
    """The vocabulary is analyzed on train only; train and eval become token ids."""
    component = tfx.components.Transform(
        examples=data.example_gen.outputs["examples"],
        schema=data.schema_gen.outputs["schema"],
        splits_config=transform_pb2.SplitsConfig(analyze=["train"], transform=["train", "eval"]),
        custom_config=config.transform_custom_config(),
        **platform.user_code.transform)
    for gate in data.gates:
        component.add_upstream_node(gate)
    return component


@dataclasses.dataclass
class BaseModel:
    """The Trainer's `base_model`, a language model whose embedding it starts from (None: from
    scratch), and the nodes that make it."""
    nodes: list
    model: Optional[tfx.dsl.Channel]


def imported_language_model(model_dir: str) -> BaseModel:
    importer = tfx.dsl.Importer(
        source_uri=model_dir, artifact_type=tfx.types.standard_artifacts.Model,
        # Without it TFX takes the Model for one of TFX < 0.26 and hands the Trainer
        # serving_model_dir/ instead of Format-Serving/.
        custom_properties={artifact_utils.ARTIFACT_TFX_VERSION_CUSTOM_PROPERTY_KEY:
                           tfx.__version__},
    ).with_id(PRETRAINED_MODEL_IMPORTER_ID)
    return BaseModel([importer], importer.outputs["result"])


def pretrained_language_model(config: PipelineConfig, platform: Platform, data: DataNodes,
                              transform_graph: tfx.dsl.Channel) -> BaseModel:
    """A language model on the unlabelled reviews (and, where the platform allows, the labelled
    training reviews: train and eval splits, never test), on Transform's vocabulary."""
    source = platform.unlabelled or platform.labelled
    unlabelled_gen = UnlabelledImdbExampleGen(
        input_base=source.input_base, source_pattern=source.pattern,
        holdout_percent=PRETRAINING_HOLDOUT_PERCENT)
    examples = unlabelled_gen.outputs["examples"]
    if platform.pretrain_on_labelled_reviews:
        examples = channel_utils.union([examples, data.example_gen.outputs["examples"]])
    pretrainer = tfx.components.Trainer(
        examples=examples,
        transform_graph=transform_graph,
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]),
        custom_config=config.pretrainer_custom_config(),
        **platform.user_code.pretrainer).with_id(PRETRAINER_ID)
    return BaseModel([unlabelled_gen, pretrainer], pretrainer.outputs["model"])


def base_model(config: PipelineConfig, platform: Platform, data: DataNodes,
               transform_graph: tfx.dsl.Channel) -> BaseModel:
    if config.pretrained_model:
        return imported_language_model(config.pretrained_model)
    if config.trainer.pretrain_epochs:
        return pretrained_language_model(config, platform, data, transform_graph)
    return BaseModel([], None)


def tuner(config: PipelineConfig, platform: Platform,
          transform_outputs) -> Optional[tfx.components.Tuner]:
    """With tune_trials: the variant's hyperparameters searched on a sample of train, scored on
    eval (never on test)."""
    if not config.tune_trials:
        return None
    return tfx.components.Tuner(
        examples=transform_outputs["transformed_examples"],
        transform_graph=transform_outputs["transform_graph"],
        train_args=tfx.proto.TrainArgs(splits=["train"], num_steps=config.tune_steps),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]),
        custom_config=config.tuner_custom_config(),
        **platform.user_code.tuner)


def trainer(config: PipelineConfig, platform: Platform, transform_outputs, base: BaseModel,
            search: Optional[tfx.components.Tuner]) -> tfx.components.Trainer:
    return tfx.components.Trainer(
        examples=transform_outputs["transformed_examples"],
        transform_graph=transform_outputs["transform_graph"],
        base_model=base.model,
        hyperparameters=search.outputs["best_hyperparameters"] if search else None,
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]),
        custom_config=config.trainer_custom_config(),
        **platform.user_code.trainer)


@dataclasses.dataclass
class EvaluationNodes:
    baseline_resolver: Optional[tfx.dsl.Resolver]
    evaluator: Union[tfx.components.Evaluator, SpanEvaluator]
    pusher: VersionedPusher

    @property
    def nodes(self) -> list:
        return [self.baseline_resolver, self.evaluator, self.pusher] if self.baseline_resolver \
            else [self.evaluator, self.pusher]

    @property
    def baseline_model(self) -> Optional[tfx.dsl.Channel]:
        return self.baseline_resolver.outputs["model"] if self.baseline_resolver else None


def latest_blessed_model() -> tfx.dsl.Resolver:
    return tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id(BASELINE_RESOLVER_ID)


def evaluator(config: PipelineConfig, platform: Platform, data: DataNodes,
              model: tfx.dsl.Channel, baseline: Optional[tfx.dsl.Channel]):
    """TFMA on the official test reviews; on spans also on the newest span's held-out ones."""
    examples = data.example_gen.outputs["examples"]
    if platform.spans:
        return SpanEvaluator(examples=examples, model=model, baseline_model=baseline,
                             eval_config=eval_config(config),
                             span_eval_config=span_eval_config(config))
    return tfx.components.Evaluator(examples=examples, example_splits=[TEST_SPLIT], model=model,
                                    baseline_model=baseline, eval_config=eval_config(config))


def evaluation_and_push(config: PipelineConfig, platform: Platform, data: DataNodes,
                        model: tfx.dsl.Channel) -> EvaluationNodes:
    """The candidate judged against the last blessed model; a blessed model is pushed to the
    serving directory as a new version."""
    resolver = latest_blessed_model() if platform.with_baseline else None
    evaluator_node = evaluator(config, platform, data, model,
                               resolver.outputs["model"] if resolver else None)
    pusher = VersionedPusher(
        model=model,
        model_blessing=evaluator_node.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_dir)))
    return EvaluationNodes(resolver, evaluator_node, pusher)


def sliced_evaluator(data: DataNodes, model: tfx.dsl.Channel,
                     evaluation: EvaluationNodes) -> SlicedEvaluator:
    """The report's per-slice metrics, computed once the model is served (or refused)."""
    component = SlicedEvaluator(examples=data.example_gen.outputs["examples"], model=model,
                                split=TEST_SPLIT, eval_config=slice_eval_config())
    component.add_upstream_node(evaluation.pusher)
    return component


def evaluation_report(config: PipelineConfig, data: DataNodes, transform_outputs,
                      trainer_outputs, evaluation: EvaluationNodes,
                      slices: SlicedEvaluator) -> EvaluationReport:
    return EvaluationReport(
        pipeline_config=config.to_dict(), code_version=code_version(),
        data_source=config.landing or config.data,
        statistics=data.statistics_gen.outputs["statistics"],
        anomalies=data.example_validator.outputs["anomalies"],
        **({"drift": data.drift_gate.outputs["drift"]} if data.drift_gate else {}),
        transform_graph=transform_outputs["transform_graph"],
        transformed_examples=transform_outputs["transformed_examples"],
        model=trainer_outputs["model"],
        model_run=trainer_outputs["model_run"],
        evaluation=evaluation.evaluator.outputs["evaluation"],
        **({"span_evaluation": evaluation.evaluator.outputs["span_evaluation"]}
           if isinstance(evaluation.evaluator, SpanEvaluator) else {}),
        blessing=evaluation.evaluator.outputs["blessing"],
        sliced_evaluation=slices.outputs["sliced_evaluation"],
        baseline_model=evaluation.baseline_model,
        pushed_model=evaluation.pusher.outputs["pushed_model"])


def create_pipeline(config: PipelineConfig, platform: Platform) -> tfx.dsl.Pipeline:
    data = data_and_validation(config, platform)
    tokens = transform(config, platform, data)
    base = base_model(config, platform, data, tokens.outputs["transform_graph"])
    search = tuner(config, platform, tokens.outputs)
    training = trainer(config, platform, tokens.outputs, base, search)
    evaluation = evaluation_and_push(config, platform, data, training.outputs["model"])
    slices = sliced_evaluator(data, training.outputs["model"], evaluation)
    report = evaluation_report(config, data, tokens.outputs, training.outputs, evaluation,
                               slices)
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=[*data.nodes, tokens, *base.nodes, *([search] if search else []), training,
                    *evaluation.nodes, slices, report],
        enable_cache=config.enable_cache,
        metadata_connection_config=platform.metadata_connection_config,
        beam_pipeline_args=config.beam_pipeline_args,
    )
