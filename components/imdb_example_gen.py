"""ImdbExampleGen: a FileBasedExampleGen for the aclImdb layout.

It keeps TFX's ExampleGen contract (input_base + input_config pattern with optional {SPAN} /
{YYYY}{MM}{DD} placeholders, fingerprinted inputs for caching, output_config hash buckets), so a
directory of dated spans plugs in through `range_config` and patterns. The one input split names
the source (an archive, or a glob over an extracted tree). Official `train` reviews are partitioned
by `output_config` hash buckets (by default train 90 / eval 10, the eval split for early stopping);
official `test` reviews become the `test` split, which only the Evaluator reads.

The buckets hash a review's film (from the source's `urls_*.txt`), so every review of a film lands
on the same side. The official test set shares almost no films with the training set (1 of
3,581); an eval split that did (a random 10% of the reviews, when 97% of the training reviews
share their film with another) would reward remembering films, and early stopping would pick
epochs for the wrong split. Reviews without a film are hashed one by one.

UnlabelledImdbExampleGen reads the unlabelled reviews (`train/unsup`) of such a source into
`train` and `eval` splits by the same hash buckets, for pretraining: their tf.Examples carry no
label and no rating.
"""
import hashlib
import itertools
from typing import Any, Dict, List

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components import imdb_reader
from trainer import features

TEST_SPLIT = "test"
SOURCE_SPLIT = "aclImdb"


def output_config(holdout_percent: int) -> example_gen_pb2.Output:
    if not 0 < holdout_percent < 100:
        raise ValueError(f"holdout_percent must be in 1..99, got {holdout_percent}")
    return example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
        example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=100 - holdout_percent),
        example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=holdout_percent),
    ]))


def to_example(review: imdb_reader.Review) -> tf.train.Example:
    def int64(value):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    def text(value):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode("utf-8")]))

    word_count = len(review.text.split())
    feature = {
        features.REVIEW_KEY: text(review.text),
        features.WORD_COUNT_KEY: int64(word_count),
        features.LENGTH_BUCKET_KEY: text(features.length_bucket(word_count)),
    }
    if review.label is not None:
        feature[features.LABEL_KEY] = int64(review.label)
        feature[features.RATING_KEY] = int64(review.rating)
    return tf.train.Example(features=tf.train.Features(feature=feature))


class ReadReviews(beam.DoFn):
    """Source pattern -> the reviews of that kind (labelled, or unlabelled) under input_base."""

    def __init__(self, input_base: str, unlabelled: bool):
        super().__init__()
        self._input_base = input_base
        self._unlabelled = unlabelled
        self._undecodable = beam.metrics.Metrics.counter("imdb_ingest", "non_utf8_reviews")
        self._reviews = beam.metrics.Metrics.counter("imdb_ingest", "reviews")

    def process(self, pattern: str):
        for review in imdb_reader.read_source(self._input_base, pattern, fileio.glob,
                                              lambda path: fileio.open(path, "rb"),
                                              self._unlabelled):
            self._reviews.inc()
            if review.undecodable_bytes:
                self._undecodable.inc()
            yield review


class _HashPartition:
    """Assigns official-train reviews to output splits by a stable hash of their film (their key
    when they have none)."""

    def __init__(self, split_config: example_gen_pb2.SplitConfig):
        self.names = [split.name for split in split_config.splits]
        self._bounds = list(itertools.accumulate(s.hash_buckets for s in split_config.splits))
        self._total = self._bounds[-1]

    def __call__(self, review: imdb_reader.Review, num_partitions: int) -> int:
        if review.split == TEST_SPLIT:
            return num_partitions - 1
        group = review.film or review.key
        bucket = int(hashlib.sha256(group.encode("utf-8")).hexdigest(), 16) % self._total
        return next(i for i, bound in enumerate(self._bounds) if bucket < bound)


def _parse_configs(exec_properties: Dict[str, Any]):
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                              input_config)
    out_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                              out_config)
    return input_config, out_config


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Labelled reviews; the official test reviews become the extra `test` split."""

    unlabelled = False

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        raise NotImplementedError("ImdbExampleGen generates its splits in GenerateExamplesByBeam")

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                               exec_properties: Dict[str, Any]) -> Dict[str, beam.PCollection]:
        input_config, out_config = _parse_configs(exec_properties)
        if len(input_config.splits) != 1:
            raise ValueError("ImdbExampleGen reads one source; input_config has "
                             f"{len(input_config.splits)} splits")
        partition = _HashPartition(out_config.split_config)
        if TEST_SPLIT in partition.names:
            raise ValueError(f"output_config may not name a '{TEST_SPLIT}' split: it is the "
                             "official test set")
        names = partition.names + ([] if self.unlabelled else [TEST_SPLIT])
        self._examples.split_names = artifact_utils.encode_split_names(names)
        parts = (
            pipeline
            | "SourcePattern" >> beam.Create([input_config.splits[0].pattern])
            | "ReadReviews" >> beam.ParDo(
                ReadReviews(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                             self.unlabelled))
            | "Partition" >> beam.Partition(partition, len(names)))
        return {name: part | f"ToExample[{name}]" >> beam.Map(to_example)
                for name, part in zip(names, parts)}

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        # The base class names the output splits after output_config alone, then calls
        # GenerateExamplesByBeam, which adds the official test split (if any) to the names.
        self._examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY])
        super().Do(input_dict, output_dict, exec_properties)


class ImdbExampleGen(FileBasedExampleGen):
    """Reads IMDB reviews from `input_base`/`source_pattern`; see the module docstring."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, input_base: str, source_pattern: str, holdout_percent: int = 10,
                 range_config=None):
        super().__init__(
            input_base=input_base,
            input_config=example_gen_pb2.Input(splits=[
                example_gen_pb2.Input.Split(name=SOURCE_SPLIT, pattern=source_pattern)]),
            output_config=output_config(holdout_percent),
            range_config=range_config,
        )


class UnlabelledExecutor(Executor):
    """Unlabelled reviews (train/unsup), hash-partitioned like the official training reviews."""

    unlabelled = True


class UnlabelledImdbExampleGen(ImdbExampleGen):
    """Reads the unlabelled IMDB reviews of `input_base`/`source_pattern`; see the module
    docstring."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(UnlabelledExecutor)
