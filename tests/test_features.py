"""What ingest makes of each review: the features it derives (word count and length bucket, which
the curated schema, the Evaluator's slices and the report all name) and the split it goes to."""
import os

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from components.imdb_example_gen import _HashPartition, output_config, to_example
from components.imdb_reader import Review
from trainer import features

SCHEMA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "schemas", "schema.pbtxt")


def test_length_buckets_cover_every_word_count():
    assert [features.length_bucket(n) for n in (1, 99, 100, 199, 200, 399, 400, 10_000)] == \
        ["0-99", "0-99", "100-199", "100-199", "200-399", "200-399", "400+", "400+"]
    assert features.length_buckets() == ["0-99", "100-199", "200-399", "400+"]


def test_schema_domain_lists_exactly_the_buckets_ingest_writes():
    schema = text_format.Parse(open(SCHEMA).read(), schema_pb2.Schema())
    domain = next(d for d in schema.string_domain if d.name == features.LENGTH_BUCKET_KEY)
    assert list(domain.value) == features.length_buckets()
    names = {f.name for f in schema.feature}
    assert {features.WORD_COUNT_KEY, features.LENGTH_BUCKET_KEY} <= names
    assert set(features.EVAL_SLICE_KEYS) <= names


def test_example_carries_word_count_and_length_bucket():
    text = " ".join(["word"] * 150)
    example = to_example(Review(split="train", label=1, rating=8, text=text,
                                key="train/pos/1_8.txt", undecodable_bytes=0))
    feature = example.features.feature
    assert feature[features.WORD_COUNT_KEY].int64_list.value == [150]
    assert feature[features.LENGTH_BUCKET_KEY].bytes_list.value == [b"100-199"]
    assert feature[features.REVIEW_KEY].bytes_list.value == [text.encode()]


def test_holdout_keeps_each_film_on_one_side_and_falls_back_to_the_review():
    partition = _HashPartition(output_config(holdout_percent=30).split_config)
    names = partition.names + ["test"]  # the executor appends the official test split

    def side(review_id, film, split="train"):
        review = Review(split=split, label=1, rating=8, text="fine", film=film,
                        key=f"{split}/pos/{review_id}_8.txt", undecodable_bytes=0)
        return names[partition(review, len(names))]

    sides_by_film = {film: {side(review_id, film) for review_id in range(20)}
                     for film in (f"tt{n:07d}" for n in range(40))}
    assert all(len(sides) == 1 for sides in sides_by_film.values())
    assert set.union(*sides_by_film.values()) == {"train", "eval"}
    assert {side(review_id, film=None) for review_id in range(40)} == {"train", "eval"}
    assert side(0, "tt0000001", split="test") == "test"
